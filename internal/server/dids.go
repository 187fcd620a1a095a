package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// didNumber reads {number} from the path: the E.164 digits without the plus
// (a leading plus is tolerated). Anything that is not a valid number cannot
// be one of the account's, so it is simply not found.
func didNumber(r *http.Request) (string, bool) {
	n := strings.TrimPrefix(chi.URLParam(r, "number"), "+")
	if len(n) < 7 || len(n) > 15 || n[0] == '0' {
		return "", false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return "", false
		}
	}
	e164, err := portal.ParseE164("number", "+"+n)
	return e164, err == nil
}

// validCursorNumber accepts a DID page cursor: a stored E.164 number.
func validCursorNumber(s string) bool {
	if !strings.HasPrefix(s, "+") {
		return false
	}
	_, ok := portal.PhoneSearch(s)
	return ok
}

func (s *Server) didsPage(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	q := r.URL.Query()
	search, err := portal.CleanText("q", "Search", q.Get("q"), false, 100)
	if err != nil {
		search = ""
	}
	dq := postgres.DIDQuery{Search: search, Limit: 50}
	if v := q.Get("after"); validCursorNumber(v) {
		dq.After = v
	} else if v := q.Get("before"); validCursorNumber(v) {
		dq.Before = v
	}
	page, err := s.db.DIDs(r.Context(), aa.Account.ID, dq)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	base := acctURL(aa, "")
	p := web.DIDsProps{Base: base, Total: page.Total, Search: search, CanManage: aa.Can(portal.ActionManageDIDs)}
	for _, d := range page.Items {
		p.Rows = append(p.Rows, web.DIDRow{Number: d.Number, Label: d.Label, RouteName: d.RouteName, Monthly: d.MonthlyMicros, AcquiredAt: d.AcquiredAt})
	}
	link := func(key, cursor string) string {
		v := url.Values{}
		if search != "" {
			v.Set("q", search)
		}
		v.Set(key, cursor)
		return base + "/dids?" + v.Encode()
	}
	if page.Next != "" {
		p.NextURL = link("after", page.Next)
	}
	if page.Prev != "" {
		p.PrevURL = link("before", page.Prev)
	}
	s.render(w, r, http.StatusOK, web.DIDsPage(s.chrome(r, "Phone numbers"), p))
}

// didProps loads a number and the routes it can use.
func (s *Server) didProps(r *http.Request, number string) (web.DIDEditProps, error) {
	aa := accessFrom(r.Context())
	d, err := s.db.DID(r.Context(), aa.Account.ID, number)
	if err != nil {
		return web.DIDEditProps{}, err
	}
	routes, err := s.db.InboundRoutes(r.Context(), aa.Account.ID)
	if err != nil {
		return web.DIDEditProps{}, err
	}
	p := web.DIDEditProps{Base: acctURL(aa, ""), Number: d.Number, Label: d.Label, RouteName: d.RouteName, Monthly: d.MonthlyMicros,
		AcquiredAt: d.AcquiredAt, Form: web.NewForm(), CanManage: aa.Can(portal.ActionManageDIDs)}
	for _, rt := range routes {
		p.Routes = append(p.Routes, web.RouteOption{ID: rt.ID, Name: rt.Name, Target: rt.Target})
	}
	p.Form.Values["label"] = d.Label
	if d.RouteID != nil {
		p.Form.Values["route_id"] = strconv.FormatInt(*d.RouteID, 10)
	}
	return p, nil
}

func (s *Server) didPage(w http.ResponseWriter, r *http.Request) {
	number, ok := didNumber(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	p, err := s.didProps(r, number)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.DIDEditPage(s.chrome(r, phoneTitle(number)), p))
}

func phoneTitle(number string) string { return portal.FormatPhone(number) }

func (s *Server) didUpdate(w http.ResponseWriter, r *http.Request) {
	number, ok := didNumber(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	in, ok := parseForm(w, r, "label", "route_id")
	if !ok {
		return
	}
	aa := accessFrom(r.Context())
	errs := portal.FieldErrors{}
	label, err := portal.CleanText("label", "Label", in["label"], false, 100)
	errs.AddErr("label", err)
	var routeID *int64
	if v := strings.TrimSpace(in["route_id"]); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			errs.Add("route_id", "Choose one of the routes in the list.")
		} else {
			routeID = &id
		}
	}
	if len(errs) > 0 {
		p, err := s.didProps(r, number)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		p.Form = formFrom(in, errs)
		s.render(w, r, http.StatusUnprocessableEntity, web.DIDEditPage(s.chrome(r, phoneTitle(number)), p))
		return
	}
	if err := s.db.UpdateDID(r.Context(), s.actor(r), aa.Account.ID, number, label, routeID); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Saved "+phoneTitle(number)+".")
	redirect(w, r, acctURL(aa, "dids"))
}

func (s *Server) didReleaseForm(w http.ResponseWriter, r *http.Request) {
	number, ok := didNumber(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	p, err := s.didProps(r, number)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.DIDReleasePage(s.chrome(r, "Release "+phoneTitle(number)), p))
}

func (s *Server) didRelease(w http.ResponseWriter, r *http.Request) {
	number, ok := didNumber(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	aa := accessFrom(r.Context())
	if err := s.db.ReleaseDID(r.Context(), s.actor(r), aa.Account.ID, number); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", phoneTitle(number)+" was released.")
	redirect(w, r, acctURL(aa, "dids"))
}
