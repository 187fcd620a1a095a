package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// usersPerPage is the length of a User Management page.
const usersPerPage = 100

// rolesPerRow is how many of a user's accounts a row of the list names; a
// user with grants on hundreds of sub-accounts has them all on their page.
const rolesPerRow = 10

// settingsTab is one tab of the gray Advanced Settings header.
type settingsTab struct {
	label, page string
	action      portal.Action
}

var settingsTabList = []settingsTab{
	{"Sub-Accounts", "settings", portal.ActionManageSubAccounts},
	{"User Management", "settings/users", portal.ActionManageUsers},
	{"Audit Log", "settings/audit", portal.ActionViewAudit},
}

// settingsTabs builds the gray header of the Advanced Settings pages: only
// the tabs the caller may open.
func settingsTabs(r *http.Request, aa *postgres.AccountAccess) []web.SettingsTab {
	var tabs []web.SettingsTab
	for _, t := range settingsTabList {
		if !aa.Can(t.action) {
			continue
		}
		href := acctURL(aa, t.page)
		active := r.URL.Path == href || (t.page != "settings" && strings.HasPrefix(r.URL.Path, href+"/"))
		tabs = append(tabs, web.SettingsTab{Label: t.label, Href: href, Active: active,
			TestID: "tab-" + strings.ReplaceAll(strings.ToLower(t.label), " ", "-")})
	}
	return tabs
}

// userScope loads the accounts managed from the request's account.
func (s *Server) userScope(w http.ResponseWriter, r *http.Request) (*postgres.AccountAccess, *postgres.UserScope, bool) {
	aa := accessFrom(r.Context())
	scope, err := s.db.ManagedScope(r.Context(), aa.Account)
	if err != nil {
		s.renderError(w, r, err)
		return nil, nil, false
	}
	return aa, scope, true
}

// scopeNote says whose users the page manages.
func scopeNote(scope *postgres.UserScope) string {
	if len(scope.Accounts) == 1 && !scope.Accounts[0].IsRoot {
		return fmt.Sprintf("Users of %s. Principal users of the parent account, %s, also have access to it and manage the rest of the family.",
			scope.Accounts[0].CompanyName, scope.RootCompany)
	}
	if n := scope.Size - 1; n > 0 {
		return fmt.Sprintf("Users of %s and its %d sub-account%s. A Principal of %s is also Principal of every sub-account.",
			scope.RootCompany, n, plural(n), scope.RootCompany)
	}
	return "Users of " + scope.RootCompany + "."
}

func timeText(t *time.Time) string {
	if t == nil {
		return "Never"
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

// userTypes are the choices of the user type filter.
var userTypes = []web.Option{{Value: "", Label: "All types"}, {Value: "principal", Label: "Principal"}, {Value: "power", Label: "Power"},
	{Value: "general", Label: "General"}, {Value: "revoked", Label: "Revoked"}, {Value: "invited", Label: "Invitation pending"}}

// usersPage lists the scope's users a page at a time. It never loads the
// scope's accounts: a family may have ten thousand, so the account filter
// is text matched in the database rather than a choice among all of them.
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	q := r.URL.Query()
	f := postgres.UserFilter{Limit: usersPerPage, MaxRoles: rolesPerRow}
	f.Query, _ = portal.CleanText("q", "Search", q.Get("q"), false, 100)
	types := make([]web.Option, len(userTypes))
	for i, o := range userTypes {
		o.Selected = o.Value == q.Get("type")
		if o.Selected {
			f.Type = o.Value
		}
		types[i] = o
	}
	f.Account, _ = portal.CleanText("account", "Account", q.Get("account"), false, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(1, min(page, 100000))
	f.Offset = (page - 1) * usersPerPage
	scope, users, total, err := s.db.UserList(r.Context(), aa.Account, f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	base := acctURL(aa, "settings/users")
	p := web.UsersProps{Tabs: settingsTabs(r, aa), ScopeNote: scopeNote(scope), NewURL: base + "/new", Query: f.Query,
		Types: types, Account: f.Account, AccountFilter: scope.Size > 1, Total: total,
		Filtered: f.Query != "" || f.Type != "" || f.Account != ""}
	for _, u := range users {
		p.Rows = append(p.Rows, userRow(base, u))
	}
	pages := (total + usersPerPage - 1) / usersPerPage
	p.PageText = fmt.Sprintf("%d user%s and invitation%s", total, plural(total), plural(total))
	if pages > 1 {
		p.PageText = fmt.Sprintf("Page %d of %d · %s", page, pages, p.PageText)
	}
	pageURL := func(n int) string {
		v := url.Values{}
		for _, k := range []string{"q", "type", "account"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("page", strconv.Itoa(n))
		return base + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = pageURL(page - 1)
	}
	if page < pages {
		p.NextURL = pageURL(page + 1)
	}
	s.render(w, r, http.StatusOK, web.UsersPage(s.chrome(r, "User Management"), p))
}

func userRow(base string, u postgres.ManagedUser) web.UserRow {
	row := web.UserRow{Name: u.Name, Email: u.Email, Type: u.TypeLabel(), Status: u.Status, LastLogin: timeText(u.LastLoginAt)}
	if u.MoreRoles > 0 {
		row.MoreRoles = fmt.Sprintf("and %d more account%s", u.MoreRoles, plural(u.MoreRoles))
	}
	for _, r := range u.Roles {
		row.Roles = append(row.Roles, web.RoleCell{Account: r.CompanyName, Prefix: r.TechPrefix, Role: r.Role.Label()})
	}
	if u.InvitationID == 0 {
		row.TestID = "user-row"
		row.EditURL = base + "/" + strconv.FormatInt(u.UserID, 10)
		return row
	}
	row.TestID = "invite-row"
	row.LastLogin = "—"
	if u.ExpiresAt != nil {
		if u.Status == postgres.InviteExpired {
			row.Note = "Sent by " + u.InvitedBy + "; expired " + u.ExpiresAt.Local().Format("2 Jan 2006") + "."
		} else {
			row.Note = "Sent by " + u.InvitedBy + "; valid until " + u.ExpiresAt.Local().Format("2 Jan 2006") + "."
		}
	}
	if u.Manageable {
		id := strconv.FormatInt(u.InvitationID, 10)
		row.ResendURL = base + "/" + id + "/resend"
		row.CancelURL = base + "/" + id + "/cancel"
	}
	return row
}

// roleField is the form field of the role on one account.
func roleField(a postgres.ScopeAccount) string { return "role_" + a.TechPrefix }

func roleFields(scope *postgres.UserScope, values map[string]string) []web.RoleField {
	return roleFieldsOf(scope, scope.Accounts, values)
}

// roleFieldsOf is the select of each of these accounts of the scope.
func roleFieldsOf(scope *postgres.UserScope, accounts []postgres.ScopeAccount, values map[string]string) []web.RoleField {
	out := make([]web.RoleField, len(accounts))
	for i, a := range accounts {
		v := values[roleField(a)]
		if v == "" {
			v = "none"
		}
		label := a.CompanyName
		if a.IsRoot && len(scope.Accounts) > 1 {
			label += " (parent)"
		}
		if a.Status != portal.StatusActive {
			label += " · " + portal.StatusLabel(a.Status)
		}
		out[i] = web.RoleField{Field: roleField(a), Account: label, Prefix: a.TechPrefix, Value: v}
	}
	return out
}

// roleFormFields is the allowlist of a user form.
func roleFormFields(scope *postgres.UserScope, extra ...string) []string {
	for _, a := range scope.Accounts {
		extra = append(extra, roleField(a))
	}
	return extra
}

// parseRoles reads the role of every account of the scope from a form.
func parseRoles(scope *postgres.UserScope, in map[string]string, errs portal.FieldErrors) map[int64]portal.Role {
	roles := map[int64]portal.Role{}
	for _, a := range scope.Accounts {
		role, ok := portal.ParseRole(in[roleField(a)])
		if !ok {
			errs.Add("roles", "Choose a user type for each account.")
			continue
		}
		roles[a.ID] = role
	}
	return roles
}

func (s *Server) userNewForm(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	values := map[string]string{}
	if len(scope.Accounts) == 1 {
		values[roleField(scope.Accounts[0])] = "general"
	}
	s.renderUserNew(w, r, aa, scope, http.StatusOK, formFrom(values, nil))
}

func (s *Server) renderUserNew(w http.ResponseWriter, r *http.Request, aa *postgres.AccountAccess, scope *postgres.UserScope, status int, f web.Form) {
	base := acctURL(aa, "settings/users")
	c := s.chrome(r, "Add New User")
	p := web.UserFormProps{Tabs: settingsTabs(r, aa), ScopeNote: scopeNote(scope), Form: f, Action: base + "/new", BackURL: base}
	if af := newAccessForm(scope, nil); af.large {
		p.Roles = roleFieldsOf(scope, af.listed, f.Values)
		p.Grants = grantProps(aa, scope, f)
		// The header's picker loads htmx on every page of a family this size.
		p.Grants.LoadHTMX = c.Picker == nil
	} else {
		p.Roles = roleFields(scope, f.Values)
	}
	s.render(w, r, status, web.UserNewPage(c, p))
}

// userCreate saves an invitation and sends its email. The page answers the
// same whether or not the address already has a login elsewhere.
func (s *Server) userCreate(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	af := newAccessForm(scope, nil)
	in, ok := parseForm(w, r, af.fields("full_name", "email")...)
	if !ok {
		return
	}
	errs := portal.FieldErrors{}
	name, err := portal.CleanName("full_name", "Name", in["full_name"])
	errs.AddErr("full_name", err)
	email, err := portal.CleanEmail("email", in["email"])
	errs.AddErr("email", err)
	roles := af.parse(in, errs)
	if len(errs) == 0 && !grantsAny(roles) {
		errs.Add("roles", "Give them access to at least one account.")
	}
	if len(errs) > 0 {
		s.renderUserNew(w, r, aa, scope, http.StatusUnprocessableEntity, formFrom(in, errs))
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) ||
		!s.allow(w, r, limitInvitations, strconv.FormatInt(aa.Account.RootID(), 10)) {
		return
	}
	_, err = s.db.Invite(r.Context(), s.actor(r), scope, postgres.NewInvitation{Name: name, Email: email, Roles: roles})
	if c := portal.ErrorCode(err); c == portal.EINVALID || c == portal.ECONFLICT {
		errs.AddErr("_form", err)
		s.renderUserNew(w, r, aa, scope, http.StatusUnprocessableEntity, formFrom(in, errs))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Invitation sent to "+email+". Their access starts when they accept it.")
	redirect(w, r, acctURL(aa, "settings/users"))
}

func grantsAny(roles map[int64]portal.Role) bool {
	for _, r := range roles {
		if r != portal.RoleNone {
			return true
		}
	}
	return false
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	u, err := s.db.ManagedUser(r.Context(), scope, idParam(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	values := map[string]string{}
	for _, ro := range u.Roles {
		if a, ok := scope.Account(ro.AccountID); ok {
			values[roleField(a)] = ro.Role.String()
		}
	}
	s.renderUserEdit(w, r, aa, scope, u, http.StatusOK, formFrom(values, nil))
}

func (s *Server) renderUserEdit(w http.ResponseWriter, r *http.Request, aa *postgres.AccountAccess, scope *postgres.UserScope,
	u *postgres.ManagedUser, status int, f web.Form) {
	base := acctURL(aa, "settings/users")
	self := u.UserID == userFrom(r.Context()).ID
	c := s.chrome(r, u.Name)
	p := web.UserEditProps{Tabs: settingsTabs(r, aa), Name: u.Name, Email: u.Email, Type: u.TypeLabel(), Status: u.Status,
		LastLogin: timeText(u.LastLoginAt), Form: f, BackURL: base, Self: self}
	p.Action = base + "/" + strconv.FormatInt(u.UserID, 10)
	if af := newAccessForm(scope, u); af.large {
		p.Roles, p.Grants = af.editRoles(r, p.Action, f.Values)
		g := grantProps(aa, scope, f)
		p.Grants.Rows, p.Grants.LookupURL, p.Grants.LoadHTMX = g.Rows, g.LookupURL, c.Picker == nil
	} else {
		p.Roles = roleFields(scope, f.Values)
	}
	if u.Status == postgres.UserRevoked {
		var kept []web.RoleField
		for _, rf := range p.Roles {
			if rf.Value != "none" {
				kept = append(kept, rf)
			}
		}
		p.Roles = kept
	}
	switch {
	case !u.Manageable:
		p.Note = "This user also works on other accounts of " + scope.RootCompany + ". You can change their access here; revoking or restoring them is for a Principal user of " + scope.RootCompany + "."
	case self:
		p.Note = "This is you. Another Principal user can revoke your access; you cannot."
	case u.Status == postgres.UserRevoked:
		p.RestoreURL = p.Action + "/restore"
	default:
		p.RevokeURL = p.Action + "/revoke"
	}
	if p.Grants != nil {
		p.Action += pageQuery(r)
	}
	s.render(w, r, status, web.UserEditPage(c, p))
}

// userUpdate saves a user's types per account.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	u, err := s.db.ManagedUser(r.Context(), scope, idParam(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	af := newAccessForm(scope, u)
	in, ok := parseForm(w, r, af.fields()...)
	if !ok {
		return
	}
	errs := portal.FieldErrors{}
	roles := af.parse(in, errs)
	if len(errs) == 0 {
		var n int
		n, err = s.db.SetUserRoles(r.Context(), s.actor(r), scope, u.UserID, roles)
		switch c := portal.ErrorCode(err); {
		case c == portal.EINVALID || c == portal.ECONFLICT:
			errs.AddErr("_form", err)
		case err != nil:
			s.renderError(w, r, err)
			return
		case n == 0:
			s.setFlash(w, "info", "Nothing changed.")
			redirect(w, r, acctURL(aa, "settings/users/"+strconv.FormatInt(u.UserID, 10)))
			return
		}
	}
	if len(errs) > 0 {
		s.renderUserEdit(w, r, aa, scope, u, http.StatusUnprocessableEntity, formFrom(in, errs))
		return
	}
	s.setFlash(w, "ok", "Saved the user types of "+u.Name+".")
	if u.UserID == userFrom(r.Context()).ID {
		// Stepping down may have ended one's own right to this page.
		redirect(w, r, acctURL(aa, ""))
		return
	}
	stays := grantsAny(roles)
	if af.large {
		// The form named only some accounts: whether any role is left is
		// the database's to say.
		_, err := s.db.ManagedUser(r.Context(), scope, u.UserID)
		stays = err == nil
	}
	if stays {
		redirect(w, r, acctURL(aa, "settings/users/"+strconv.FormatInt(u.UserID, 10)))
		return
	}
	redirect(w, r, acctURL(aa, "settings/users"))
}

// userAction runs a revoke or restore and returns to the user's page.
func (s *Server) userAction(w http.ResponseWriter, r *http.Request, do func(portal.Actor, *postgres.UserScope, int64) error, done string) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	u, err := s.db.ManagedUser(r.Context(), scope, idParam(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	back := acctURL(aa, "settings/users/"+strconv.FormatInt(u.UserID, 10))
	err = do(s.actor(r), scope, u.UserID)
	switch c := portal.ErrorCode(err); {
	case c == portal.EINVALID || c == portal.ECONFLICT:
		s.setFlash(w, "error", portal.ErrorMessage(err))
	case err != nil:
		s.renderError(w, r, err)
		return
	default:
		s.setFlash(w, "ok", fmt.Sprintf(done, u.Name))
	}
	redirect(w, r, back)
}

func (s *Server) userRevoke(w http.ResponseWriter, r *http.Request) {
	s.userAction(w, r, func(a portal.Actor, sc *postgres.UserScope, id int64) error {
		return s.db.RevokeUser(r.Context(), a, sc, id)
	}, "%s is now Revoked. Their user types are kept, and their open sessions have stopped working.")
}

func (s *Server) userRestore(w http.ResponseWriter, r *http.Request) {
	s.userAction(w, r, func(a portal.Actor, sc *postgres.UserScope, id int64) error {
		return s.db.RestoreUser(r.Context(), a, sc, id)
	}, "Restored %s with the same user types as before.")
}

// idParam is the {id} of the path, or 0 (which no row has).
func idParam(r *http.Request) int64 {
	id, _ := pathID(r, "id")
	return id
}
