package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// roleTableMax is the largest scope whose user forms give every account a
// select of its own. A family of thousands would make a page of thousands
// of selects and a form past parseForm's field limit, so a larger scope
// lists only the managing account and the user's own accounts, and gives
// access to others through a few rows naming an account.
const roleTableMax = 25

// grantRowCount is how many "Give access" rows a form for a large scope has.
const grantRowCount = 5

// rolesPerPage is how many of a user's accounts the Edit page of a large
// scope lists at once.
const rolesPerPage = 50

// Limits of the account search of the user forms: as-you-type suggestions,
// and the page for browsers without JavaScript.
const (
	suggestLimit = 10
	lookupLimit  = 50
)

func grantAccountField(i int) string { return "grant_account_" + strconv.Itoa(i) }
func grantRoleField(i int) string    { return "grant_role_" + strconv.Itoa(i) }

// accessForm is how a user form asks for access: a select per account of a
// small scope; for a large one, a select per listed account (the managing
// account and the user's) and the "Give access" rows.
type accessForm struct {
	scope *postgres.UserScope
	large bool
	// listed are the accounts a large form may show a select for.
	listed []postgres.ScopeAccount
}

// newAccessForm describes the form of a scope; u is the user being edited
// (nil on Add New User).
func newAccessForm(scope *postgres.UserScope, u *postgres.ManagedUser) accessForm {
	af := accessForm{scope: scope, large: len(scope.Accounts) > roleTableMax}
	if !af.large {
		return af
	}
	if own, ok := scope.Account(scope.AccountID); ok {
		af.listed = append(af.listed, own)
	}
	if u != nil {
		for _, ro := range u.Roles {
			if a, ok := scope.Account(ro.AccountID); ok && a.ID != scope.AccountID {
				af.listed = append(af.listed, a)
			}
		}
	}
	return af
}

// fields is the form's allowlist.
func (af accessForm) fields(extra ...string) []string {
	if !af.large {
		return roleFormFields(af.scope, extra...)
	}
	for _, a := range af.listed {
		extra = append(extra, roleField(a))
	}
	for i := range grantRowCount {
		extra = append(extra, grantAccountField(i), grantRoleField(i))
	}
	return extra
}

// parse reads the roles a form asks for. For a small scope that is every
// account's; for a large one only those the form names: a listed account
// whose select was posted, and the accounts of the "Give access" rows. An
// account the form does not name keeps its role, so a page of the user's
// accounts changes only what it shows.
func (af accessForm) parse(in map[string]string, errs portal.FieldErrors) map[int64]portal.Role {
	if !af.large {
		return parseRoles(af.scope, in, errs)
	}
	roles := map[int64]portal.Role{}
	for _, a := range af.listed {
		v := in[roleField(a)]
		if v == "" {
			continue
		}
		role, ok := portal.ParseRole(v)
		if !ok {
			errs.Add("roles", "Choose a user type for each account.")
			continue
		}
		roles[a.ID] = role
	}
	inRow := map[int64]bool{}
	for i := range grantRowCount {
		field := grantAccountField(i)
		text, err := portal.CleanText(field, "Account", in[field], false, 100)
		if errs.AddErr(field, err) || text == "" {
			continue
		}
		a, msg := resolveAccount(af.scope, text)
		switch _, listed := roles[a.ID]; {
		case msg != "":
		case inRow[a.ID]:
			msg = accountLabel(a) + " is already in another row."
		case listed:
			msg = accountLabel(a) + " is already listed above: choose its user type there."
		}
		if msg != "" {
			errs.Add(field, msg)
			continue
		}
		role, ok := portal.ParseRole(in[grantRoleField(i)])
		if !ok || role == portal.RoleNone {
			errs.Add(field, "Choose a user type for "+accountLabel(a)+".")
			continue
		}
		inRow[a.ID] = true
		roles[a.ID] = role
	}
	return roles
}

// resolveAccount finds the account of the scope that typed text names, or
// says why there is none. An account outside the scope reads as unknown,
// so the answer tells nothing of other families.
func resolveAccount(scope *postgres.UserScope, text string) (postgres.ScopeAccount, string) {
	switch m := scope.Match(text); len(m) {
	case 1:
		return m[0], ""
	case 0:
		if portal.ValidTechPrefix(text) {
			return postgres.ScopeAccount{}, "No account you manage here has the tech prefix " + text + "."
		}
		return postgres.ScopeAccount{}, "No account you manage here is called “" + text + "”. Type its tech prefix, or its company name or alias as written."
	default:
		return postgres.ScopeAccount{}, fmt.Sprintf("%d accounts are called “%s”. Type the tech prefix of the one you mean.", len(m), text)
	}
}

func accountLabel(a postgres.ScopeAccount) string { return a.CompanyName + " (" + a.TechPrefix + ")" }

// accountHint names the account a "Give access" row holds, under its field.
func accountHint(a postgres.ScopeAccount) string {
	if a.CompanyAlias == "" {
		return a.CompanyName
	}
	return a.CompanyName + " · " + a.CompanyAlias
}

// grantProps builds the "Give access" rows from a form's values, each with
// the account its text names.
func grantProps(aa *postgres.AccountAccess, scope *postgres.UserScope, f web.Form) *web.GrantProps {
	lookup := acctURL(aa, "settings/users/accounts")
	g := &web.GrantProps{LookupURL: lookup}
	for i := range grantRowCount {
		g.Rows = append(g.Rows, grantRow(lookup, i, f.V(grantAccountField(i)), f.V(grantRoleField(i)), f.E(grantAccountField(i)), scope))
	}
	return g
}

func grantRow(lookup string, i int, account, role, msg string, scope *postgres.UserScope) web.GrantRow {
	if r, ok := portal.ParseRole(role); !ok || r == portal.RoleNone {
		role = "general"
	}
	row := web.GrantRow{ID: "grant-" + strconv.Itoa(i), AccountField: grantAccountField(i), RoleField: grantRoleField(i),
		Account: account, Role: role, Error: msg, SuggestURL: lookup + "?row=" + strconv.Itoa(i), First: i == 0}
	if scope != nil && account != "" {
		if m := scope.Match(account); len(m) == 1 {
			row.Hint = accountHint(m[0])
		}
	}
	return row
}

// editRoles lists what the Edit page of a large scope shows: the managing
// account, then one page of the user's other accounts.
func (af accessForm) editRoles(r *http.Request, base string, values map[string]string) ([]web.RoleField, *web.GrantProps) {
	others := af.listed
	var own []postgres.ScopeAccount
	if len(others) > 0 && others[0].ID == af.scope.AccountID {
		own, others = others[:1], others[1:]
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (len(others)+rolesPerPage-1)/rolesPerPage)
	page = max(1, min(page, pages))
	from, to := (page-1)*rolesPerPage, min(page*rolesPerPage, len(others))
	g := &web.GrantProps{}
	if pages > 1 {
		g.RolesNote = fmt.Sprintf("Accounts %d–%d of the %d this user has besides this one", from+1, to, len(others))
		if page > 1 {
			g.PrevURL = base + "?page=" + strconv.Itoa(page-1)
		}
		if page < pages {
			g.NextURL = base + "?page=" + strconv.Itoa(page+1)
		}
	}
	shown := append(own, others[from:to]...)
	return roleFieldsOf(af.scope, shown, values), g
}

// pageQuery keeps the Edit page's page of accounts on its form's action.
func pageQuery(r *http.Request) string {
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 1 && p <= 100000 {
		return "?page=" + strconv.Itoa(p)
	}
	return ""
}

// userAccountSearch finds accounts of the managed scope by company name,
// alias or tech prefix: the suggestions under a "Give access" row (htmx),
// the row filled in with a chosen account, or a page of its own for
// browsers without JavaScript.
func (s *Server) userAccountSearch(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	q := r.URL.Query()
	lookup := acctURL(aa, "settings/users/accounts")
	row, err := strconv.Atoi(q.Get("row"))
	inRow := err == nil && row >= 0 && row < grantRowCount && r.Header.Get("HX-Request") == "true"
	w.Header().Set("Vary", "HX-Request")
	if inRow && q.Has("pick") {
		s.fillGrantRow(w, r, lookup, row)
		return
	}
	text := q.Get("q")
	if inRow && text == "" {
		text = q.Get(grantAccountField(row))
	}
	text, err = portal.CleanText("q", "Search", text, false, 100)
	if err != nil {
		text = ""
	}
	limit := lookupLimit
	if inRow {
		limit = suggestLimit
	}
	list, more, err := s.db.ScopeSearch(r.Context(), aa.Account, text, limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	items := make([]web.AccountSuggestion, len(list))
	for i, a := range list {
		items[i] = web.AccountSuggestion{Company: a.CompanyName, Alias: a.CompanyAlias, Prefix: a.TechPrefix, Status: a.Status,
			PickURL: lookup + "?" + url.Values{"row": {strconv.Itoa(row)}, "pick": {a.TechPrefix}}.Encode()}
	}
	if inRow {
		s.render(w, r, http.StatusOK, web.AccountSuggestions(web.AccountSuggestionsProps{Q: text, RowID: "grant-" + strconv.Itoa(row),
			RoleField: grantRoleField(row), Items: items, More: more}))
		return
	}
	s.render(w, r, http.StatusOK, web.AccountLookupPage(s.chrome(r, "Look up an account"), web.AccountLookupProps{Tabs: settingsTabs(r, aa),
		BackURL: acctURL(aa, "settings/users"), Q: text, Items: items, More: more}))
}

// fillGrantRow answers a chosen suggestion with its row filled in, keeping
// the user type chosen there. Only an account of the scope fills it.
func (s *Server) fillGrantRow(w http.ResponseWriter, r *http.Request, lookup string, row int) {
	aa := accessFrom(r.Context())
	q := r.URL.Query()
	gr := grantRow(lookup, row, "", q.Get(grantRoleField(row)), "", nil)
	if prefix := q.Get("pick"); portal.ValidTechPrefix(prefix) {
		list, _, err := s.db.ScopeSearch(r.Context(), aa.Account, prefix, suggestLimit)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		for _, a := range list {
			if a.TechPrefix == prefix {
				gr.Account, gr.Hint = a.TechPrefix, accountHint(a)
			}
		}
	}
	s.render(w, r, http.StatusOK, web.GrantRowField(gr))
}
