package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// Limits of the sub-account forms. A link request is counted per client,
// per requesting account and per tech prefix asked for, so neither one user
// nor many can flood an account's contact address with requests.
var (
	limitLinkIP      = limit{"link_ip", 20, time.Hour}
	limitLinkAccount = limit{"link_account", 10, time.Hour}
	limitLinkTarget  = limit{"link_target", 3, time.Hour}
	limitNewAccount  = limit{"new_account", 30, time.Hour}
)

// settingsPageSize is how many sub-accounts Advanced Settings lists a page.
const settingsPageSize = 25

// pageNumber reads a 1-based page number from the query.
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 || n > 100000 {
		return 1
	}
	return n
}

// searchText reads the q parameter of a search form; anything unusable
// searches for nothing.
func searchText(r *http.Request) string {
	q, err := portal.CleanText("q", "Search", r.URL.Query().Get("q"), false, portal.MaxNameRunes)
	if err != nil {
		return ""
	}
	return q
}

// settings is Advanced Settings: the root's sub-accounts.
func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	q, page := searchText(r), pageNumber(r)
	rows, total, err := s.db.SubAccounts(r.Context(), aa.Account.ID, q, (page-1)*settingsPageSize, settingsPageSize)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.SettingsProps{Base: acctURL(aa, ""), Q: q, Total: total, Tabs: settingsTabs(r, aa)}
	for _, sa := range rows {
		row := web.SubAccountRow{Company: sa.CompanyName, Alias: sa.CompanyAlias, Prefix: sa.TechPrefix, Status: sa.Status,
			Created: dateText(sa.CreatedAt), Balance: sa.Balance, OpenURL: "/accounts/" + sa.TechPrefix,
			UnlinkURL: acctURL(aa, "settings/subaccounts/"+sa.TechPrefix+"/unlink")}
		if sa.LinkedAt != nil {
			row.Linked = dateText(*sa.LinkedAt)
		}
		if sa.Status == portal.StatusPendingActivation {
			row.ResendURL = acctURL(aa, "settings/subaccounts/"+sa.TechPrefix+"/resend")
		}
		p.Rows = append(p.Rows, row)
	}
	p.From, p.To = (page-1)*settingsPageSize+1, (page-1)*settingsPageSize+len(rows)
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return acctURL(aa, "settings") + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if p.To < total {
		p.NextURL = link(page + 1)
	}
	s.render(w, r, http.StatusOK, web.SettingsPage(s.chrome(r, "Advanced Settings"), p))
}

func (s *Server) linkForm(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	s.render(w, r, http.StatusOK, web.LinkPage(s.chrome(r, "Link Account"),
		web.LinkProps{Base: acctURL(aa, ""), Company: aa.Account.CompanyName, Form: web.NewForm()}))
}

// linkAcks are the acknowledgements the Link Account form requires.
var linkAcks = []string{"ack_access", "ack_unlink", "ack_billing"}

// linkAccount asks for a link. The page after it reads the same whether or
// not the details matched an account that can be linked.
func (s *Server) linkAccount(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	in, ok := parseForm(w, r, "tech_prefix", "email", "ack_access", "ack_unlink", "ack_billing", "replace")
	if !ok {
		return
	}
	errs := portal.FieldErrors{}
	prefix := strings.ReplaceAll(strings.TrimSpace(in["tech_prefix"]), " ", "")
	if !portal.ValidTechPrefix(prefix) {
		errs.Add("tech_prefix", "Enter the account's tech prefix: 8 digits.")
	}
	email, err := portal.CleanEmail("email", in["email"])
	errs.AddErr("email", err)
	for _, k := range linkAcks {
		if in[k] == "" {
			errs.Add(k, "Please confirm this to continue.")
		}
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, web.LinkPage(s.chrome(r, "Link Account"),
			web.LinkProps{Base: acctURL(aa, ""), Company: aa.Account.CompanyName, Form: formFrom(in, errs)}))
		return
	}
	if !s.allow(w, r, limitLinkIP, s.clientIP(r)) || !s.allow(w, r, limitLinkAccount, strconv.FormatInt(aa.Account.ID, 10)) ||
		!s.allow(w, r, limitLinkTarget, prefix) {
		return
	}
	err = s.db.RequestLink(r.Context(), s.actor(r), aa.Account.ID, postgres.LinkRequest{TechPrefix: prefix, Email: email, Replace: in["replace"] != ""})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.LinkSentPage(s.chrome(r, "Check the account's email"), acctURL(aa, "")))
}

func (s *Server) newAccountForm(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	s.render(w, r, http.StatusOK, web.NewAccountPage(s.chrome(r, "Add new Account"),
		web.NewAccountProps{Base: acctURL(aa, ""), Company: aa.Account.CompanyName, Form: web.NewForm()}))
}

// newAccountFields are the customer information of Add new Account, with
// their labels and limits; company, contact name and email are required.
var newAccountFields = []struct {
	name, label string
	max         int
}{
	{"company_alias", "Company alias", portal.MaxNameRunes},
	{"address_line1", "Address", 100},
	{"address_line2", "Address line 2", 100},
	{"city", "City", 100},
	{"region", "State or region", 100},
	{"postal_code", "Postal code", 20},
	{"country", "Country", 100},
}

// newAccount creates a sub-account pending activation and sends the
// activation link to its contact.
func (s *Server) newAccount(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	in, ok := parseForm(w, r, "company_name", "company_alias", "contact_name", "email", "address_line1", "address_line2",
		"city", "region", "postal_code", "country")
	if !ok {
		return
	}
	errs := portal.FieldErrors{}
	company, err := portal.CleanName("company_name", "Company", in["company_name"])
	errs.AddErr("company_name", err)
	contact, err := portal.CleanName("contact_name", "Contact name", in["contact_name"])
	errs.AddErr("contact_name", err)
	email, err := portal.CleanEmail("email", in["email"])
	errs.AddErr("email", err)
	clean := map[string]string{}
	for _, f := range newAccountFields {
		v, err := portal.CleanText(f.name, f.label, in[f.name], false, f.max)
		if !errs.AddErr(f.name, err) && strings.ContainsAny(v, "<>") {
			errs.Add(f.name, f.label+" cannot contain < or >.")
		}
		clean[f.name] = v
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, web.NewAccountPage(s.chrome(r, "Add new Account"),
			web.NewAccountProps{Base: acctURL(aa, ""), Company: aa.Account.CompanyName, Form: formFrom(in, errs)}))
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) ||
		!s.allow(w, r, limitNewAccount, strconv.FormatInt(aa.Account.ID, 10)) {
		return
	}
	acct, err := s.db.CreateSubAccount(r.Context(), s.actor(r), aa.Account.ID, postgres.NewAccount{
		CompanyName: company, CompanyAlias: clean["company_alias"], ContactName: contact, ContactEmail: email,
		Address1: clean["address_line1"], Address2: clean["address_line2"], City: clean["city"], Region: clean["region"],
		PostalCode: clean["postal_code"], Country: clean["country"]})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", company+" ("+acct.TechPrefix+") was created. We have sent an activation link to "+email+".")
	redirect(w, r, acctURL(aa, "settings"))
}

// childOf loads the sub-account named in the URL; any other account is not
// found.
func (s *Server) childOf(w http.ResponseWriter, r *http.Request) (*postgres.SubAccount, bool) {
	child, err := s.db.SubAccountOf(r.Context(), accessFrom(r.Context()).Account.ID, chi.URLParam(r, "child"))
	if err != nil {
		s.renderError(w, r, err)
		return nil, false
	}
	return child, true
}

func (s *Server) unlinkForm(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	child, ok := s.childOf(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, web.UnlinkPage(s.chrome(r, "Unlink "+child.CompanyName), web.UnlinkProps{
		Base: acctURL(aa, ""), ParentCompany: aa.Account.CompanyName, Company: child.CompanyName, Alias: child.CompanyAlias,
		Prefix: child.TechPrefix, Status: child.Status, Balance: child.Balance, Action: r.URL.Path}))
}

func (s *Server) unlink(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	if _, ok := parseForm(w, r); !ok {
		return
	}
	child, err := s.db.Unlink(r.Context(), s.actor(r), aa.Account.ID, chi.URLParam(r, "child"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", child.CompanyName+" is no longer a sub-account of "+aa.Account.CompanyName+".")
	redirect(w, r, acctURL(aa, "settings"))
}

// resendActivation sends a pending sub-account's activation link again.
func (s *Server) resendActivation(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	if _, ok := parseForm(w, r); !ok {
		return
	}
	child, ok := s.childOf(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, child.ContactEmail) {
		return
	}
	if _, err := s.db.ResendActivation(r.Context(), s.actor(r), aa.Account.ID, child.TechPrefix); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "We have sent a new activation link for "+child.CompanyName+" to "+child.ContactEmail+".")
	redirect(w, r, acctURL(aa, "settings"))
}
