package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// invitationExpiryLag bounds how long a kept page of the list may show an
// invitation as pending after it expired: expiry is the one change to the
// list that comes with the time rather than with a write.
const invitationExpiryLag = time.Minute

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
	content, err := s.cachedView(r.Context(), viewKey(r, aa.Role), aa.Stamp, invitationExpiryLag, func() (templ.Component, error) {
		return s.usersContent(r, aa, f, types, page)
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Page(s.chrome(r, "User Management"), content))
}

// usersContent reads and builds one page of the list.
func (s *Server) usersContent(r *http.Request, aa *postgres.AccountAccess, f postgres.UserFilter, types []web.Option, page int) (templ.Component, error) {
	q := r.URL.Query()
	scope, users, total, err := s.db.UserList(r.Context(), aa.Account, f)
	if err != nil {
		return nil, err
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
	return web.UsersContent(p), nil
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
