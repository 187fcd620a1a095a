package server

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// accountSearchLimit bounds the lookup's result list.
const accountSearchLimit = 50

// staffAccounts looks accounts up by tech prefix, company, alias or email.
func (s *Server) staffAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	p := web.StaffAccountsProps{Query: formFrom(map[string]string{"q": q}, nil).V("q")}
	clean, err := portal.CleanText("q", "Search", q, false, 200)
	if err == nil && clean != "" {
		rows, err := s.db.FindAccounts(r.Context(), clean, accountSearchLimit+1)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.Searched = true
		if len(rows) > accountSearchLimit {
			rows, p.Limited = rows[:accountSearchLimit], true
		}
		for _, a := range rows {
			p.Rows = append(p.Rows, staffAccountItem(a, 0))
		}
	} else if q != "" {
		p.Searched = true
	}
	s.render(w, r, http.StatusOK, web.StaffAccountsPage(s.staffChrome(r, "Accounts"), p))
}

func staffAccountItem(a postgres.StaffAccountRow, current int64) web.StaffAccountItem {
	it := web.StaffAccountItem{TechPrefix: a.TechPrefix, Company: a.Company, Alias: a.Alias, ContactEmail: a.ContactEmail,
		Status: a.Status, Created: dateText(a.CreatedAt), URL: "/staff/accounts/" + a.TechPrefix, Current: a.ID == current}
	if a.ParentPrefix != "" {
		it.Parent = a.ParentCompany + " (" + a.ParentPrefix + ")"
	}
	return it
}

// staffAccount shows one account, read-only.
func (s *Server) staffAccount(w http.ResponseWriter, r *http.Request) {
	v, err := s.db.StaffAccount(r.Context(), chi.URLParam(r, "prefix"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p := web.StaffAccountProps{Account: staffAccountItem(v.Account, 0)}
	for _, a := range v.Family {
		p.Family = append(p.Family, staffAccountItem(a, v.Account.ID))
	}
	for _, st := range v.Features.States {
		f := web.StaffFeatureItem{Key: string(st.Feature), Name: st.Feature.Label(), Status: "not_enabled"}
		if st.Enabled {
			f.Status, f.Since = "enabled", dateText(*st.EnabledAt)
		}
		p.Features = append(p.Features, f)
	}
	for _, fr := range v.Requests {
		p.Requests = append(p.Requests, staffRequest(fr))
	}
	for _, m := range v.Members {
		role, _ := portal.ParseRole(m.Role)
		it := web.StaffMemberItem{Name: m.Name, Email: m.Email, Role: role.Label(), Via: m.Via, Verified: m.Verified, Revoked: m.Revoked, LastLogin: "never"}
		if m.LastLogin != nil {
			it.LastLogin = dateTimeText(*m.LastLogin)
		}
		p.Members = append(p.Members, it)
	}
	for _, e := range v.Events {
		actor := e.Actor
		if e.IsStaff {
			actor += " (staff)"
		}
		p.Events = append(p.Events, web.StaffEventItem{At: e.At.Local().Format(time.DateTime), Actor: actor, Action: e.Action,
			Target: e.Target, Outcome: e.Outcome, IP: e.IP, Details: e.Details})
	}
	s.render(w, r, http.StatusOK, web.StaffAccountPage(s.staffChrome(r, v.Account.Company), p))
}
