package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

func accessFrom(ctx context.Context) *postgres.AccountAccess {
	aa, _ := ctx.Value(ctxAccess).(*postgres.AccountAccess)
	return aa
}

// actor describes the caller for store calls and the audit log.
func (s *Server) actor(r *http.Request) portal.Actor {
	a := portal.Actor{IP: s.clientIP(r), RequestID: requestIDFrom(r.Context())}
	if u := userFrom(r.Context()); u != nil {
		a.UserID = u.ID
	}
	if st := staffFrom(r.Context()); st != nil {
		a.StaffID = st.ID
	}
	return a
}

// loadAccount resolves {acct} and the caller's effective role on it in one
// query, or takes what the session read found for a GET. An account the
// caller cannot reach answers 404, as if it did not exist.
func (s *Server) loadAccount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if u == nil {
			s.requireUser(w, r)
			return
		}
		prefix := chi.URLParam(r, "acct")
		var aa *postgres.AccountAccess
		var err error
		if pre := prefetchedAccount(r.Context(), u.ID, prefix); pre != nil {
			aa, err = pre.Access.AccountAccess, pre.Access.Err
		} else {
			aa, err = s.db.Access(r.Context(), u.ID, prefix)
		}
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			s.noAccess(w, r, u)
			return
		}
		if err != nil {
			s.serverError(w, r, err) // fail closed
			return
		}
		if r.Method == http.MethodGet && !lastAccountIs(r.Context(), aa.Account.ID) {
			_ = s.db.RememberAccount(r.Context(), u.ID, aa.Account.ID)
			s.store.cache.dropUser(u.ID)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxAccess, aa)))
	})
}

// auditDenied records a permission denial.
func (s *Server) auditDenied(r *http.Request, aa *postgres.AccountAccess, action portal.Action) {
	err := s.db.Audit(r.Context(), s.actor(r), portal.AuditEvent{Action: "permission.denied", AccountID: aa.Account.ID,
		Target: string(action), Outcome: "denied", Details: map[string]any{"path": r.URL.Path, "method": r.Method}})
	if err != nil {
		s.log.Error("audit", "err", err)
	}
}

// acctURL is the URL of a page of the active account.
func acctURL(aa *postgres.AccountAccess, page string) string {
	u := "/accounts/" + aa.Account.TechPrefix
	if page != "" {
		u += "/" + page
	}
	return u
}

// navEntry is one left-hand menu item and the action it needs.
type navEntry struct {
	label, page string
	action      portal.Action
}

// menu lists the left-hand menu; an item shows only where the caller's role
// and the family's features allow the page behind it.
var menu = []navEntry{
	{"Dashboard", "", portal.ActionViewAccount},
	{"DIDs", "dids", portal.ActionViewAccount},
	{"Interconnection", "interconnection", portal.ActionViewAccount},
	{"CDRs", "cdrs", portal.ActionViewAccount},
	{"Billing", "billing", portal.ActionViewAccount},
	{"API Keys", "api-keys", portal.ActionManageAPIKeys},
	{"Customer info", "profile", portal.ActionViewAccount},
	{"Features", "preferences/features", portal.ActionViewAccount},
	{"Advanced Settings", "settings", portal.ActionManageSubAccounts},
	{"User Management", "settings/users", portal.ActionManageUsers},
	{"Audit Log", "settings/audit", portal.ActionViewAudit},
}

// nav builds the menu for the current account.
func (s *Server) nav(r *http.Request, aa *postgres.AccountAccess) []web.NavItem {
	var items []web.NavItem
	for _, e := range menu {
		if !aa.Can(e.action) {
			continue
		}
		href := acctURL(aa, e.page)
		active := r.URL.Path == href || (e.page != "" && strings.HasPrefix(r.URL.Path, href+"/"))
		if e.page == "" {
			active = r.URL.Path == href || r.URL.Path == href+"/"
		}
		items = append(items, web.NavItem{Label: e.label, Href: href, Active: active, TestID: "nav-" + strings.ReplaceAll(strings.ToLower(e.label), " ", "-")})
	}
	// Pages nest (settings, settings/users): only the closest entry is active.
	best := -1
	for i, it := range items {
		if it.Active && (best < 0 || len(it.Href) > len(items[best].Href)) {
			best = i
		}
	}
	for i := range items {
		items[i].Active = i == best
	}
	return items
}

// home sends a signed-in user to the account last used.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	acct, err := s.db.HomeAccount(r.Context(), userFrom(r.Context()).ID)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		// Every account of the login was revoked, unlinked away or closed:
		// the session has nothing left to reach.
		s.endSession(r.Context())
		s.setFlash(w, "error", "Your login has no active accounts right now, so you have been signed out. If you think this is a mistake, contact the Principal user of your account.")
		redirect(w, r, "/login")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, "/accounts/"+acct.TechPrefix)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 only when the database is reachable and migrated.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, err := postgres.MigrationsCurrent(r.Context(), s.db.Pool)
	if err != nil || !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
