package server

import (
	"net/http"
	"strconv"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// The Add New User and Edit user forms: one role per account of the scope
// (or, for large scopes, the short form of users_access.go).

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
