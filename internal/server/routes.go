package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

// routes is every route of the portal, top to bottom. Each one names the
// action it performs; guard enforces it, and a route cannot be added any
// other way (a test walks the router to make sure).
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.logRequests, s.securityHeaders, s.barrier, keepWriter)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { s.renderStatus(w, r, http.StatusMethodNotAllowed) })

	s.get(r, "/healthz", portal.ActionPublic, s.healthz)
	s.get(r, "/readyz", portal.ActionPublic, s.readyz)
	r.Method(http.MethodGet, "/static/*", guard{s: s, action: portal.ActionPublic, h: web.StaticHandler().ServeHTTP})

	// The customer realm.
	r.Group(func(r chi.Router) {
		r.Use(s.loadSession)
		s.get(r, "/", portal.ActionSignedIn, s.home)
		s.get(r, "/login", portal.ActionPublic, s.loginForm)
		s.post(r, "/login", portal.ActionPublic, s.login)
		s.post(r, "/logout", portal.ActionPublic, s.logout)
		s.get(r, "/signup", portal.ActionPublic, s.signupForm)
		s.post(r, "/signup", portal.ActionPublic, s.signup)
		s.get(r, "/password/forgot", portal.ActionPublic, s.forgotForm)
		s.post(r, "/password/forgot", portal.ActionPublic, s.forgot)
		s.get(r, "/password/reset/{token}", portal.ActionPublic, s.confirmForm)
		s.post(r, "/password/reset/{token}", portal.ActionPublic, s.confirm)
		s.get(r, "/verify/resend", portal.ActionPublic, s.resendForm)
		s.post(r, "/verify/resend", portal.ActionPublic, s.resend)
		s.get(r, "/verify/{token}", portal.ActionPublic, s.confirmForm)
		s.post(r, "/verify/{token}", portal.ActionPublic, s.confirm)

		// Sub-Accounts outside any one account: what each user may see is
		// decided in the store from the user's own roles.
		s.get(r, "/picker", portal.ActionSignedIn, s.picker)
		s.get(r, "/switch", portal.ActionSignedIn, s.switchAccount)
		s.get(r, "/summary", portal.ActionSignedIn, s.summary)
		s.get(r, "/summary/billing", portal.ActionSignedIn, s.billingSummary)
		s.get(r, "/summary/billing.csv", portal.ActionSignedIn, s.billingSummaryCSV)

		s.get(r, "/me", portal.ActionSignedIn, s.meForm)
		s.post(r, "/me/name", portal.ActionSignedIn, s.meName)
		s.post(r, "/me/email", portal.ActionSignedIn, s.meEmail)
		s.post(r, "/me/password", portal.ActionSignedIn, s.mePassword)

		if s.cfg.Development() {
			s.get(r, "/dev/mailbox", portal.ActionPublic, s.devMailbox)
			s.get(r, "/dev/mailbox/{id}", portal.ActionPublic, s.devMail)
		}

		r.Route("/accounts/{acct}", func(r chi.Router) {
			r.Use(s.loadAccount)
			s.get(r, "/", portal.ActionViewAccount, s.dashboard)
			s.get(r, "/dids", portal.ActionViewAccount, s.didsPage)
			s.get(r, "/dids/{number}", portal.ActionViewAccount, s.didPage)
			s.post(r, "/dids/{number}", portal.ActionManageDIDs, s.didUpdate)
			s.get(r, "/dids/{number}/release", portal.ActionManageDIDs, s.didReleaseForm)
			s.post(r, "/dids/{number}/release", portal.ActionManageDIDs, s.didRelease)
			s.get(r, "/interconnection", portal.ActionViewAccount, s.interconnectionPage)
			s.post(r, "/interconnection/hosts", portal.ActionEditInterconnection, s.hostAdd)
			s.get(r, "/interconnection/hosts/{id}", portal.ActionEditInterconnection, s.icEditPage("hosts"))
			s.post(r, "/interconnection/hosts/{id}", portal.ActionEditInterconnection, s.hostUpdate)
			s.post(r, "/interconnection/hosts/{id}/delete", portal.ActionEditInterconnection, s.hostDelete)
			s.post(r, "/interconnection/credentials", portal.ActionEditInterconnection, s.credentialAdd)
			s.get(r, "/interconnection/credentials/{id}", portal.ActionEditInterconnection, s.icEditPage("credentials"))
			s.post(r, "/interconnection/credentials/{id}", portal.ActionEditInterconnection, s.credentialUpdate)
			s.post(r, "/interconnection/credentials/{id}/reset", portal.ActionEditInterconnection, s.credentialReset)
			s.post(r, "/interconnection/credentials/{id}/delete", portal.ActionEditInterconnection, s.credentialDelete)
			s.post(r, "/interconnection/routes", portal.ActionEditInterconnection, s.routeAdd)
			s.get(r, "/interconnection/routes/{id}", portal.ActionEditInterconnection, s.icEditPage("routes"))
			s.post(r, "/interconnection/routes/{id}", portal.ActionEditInterconnection, s.routeUpdate)
			s.post(r, "/interconnection/routes/{id}/delete", portal.ActionEditInterconnection, s.routeDelete)
			s.get(r, "/cdrs", portal.ActionViewAccount, s.cdrsPage)
			s.get(r, "/cdrs.csv", portal.ActionViewAccount, s.cdrsCSV)
			s.get(r, "/billing", portal.ActionViewAccount, s.billingPage)
			s.post(r, "/billing/funds", portal.ActionEditBilling, s.addFunds)
			s.get(r, "/billing/info", portal.ActionViewAccount, s.billingInfoPage)
			s.post(r, "/billing/info", portal.ActionEditBilling, s.saveBillingInfo)
			s.get(r, "/api-keys", portal.ActionManageAPIKeys, s.apiKeysPage)
			s.post(r, "/api-keys", portal.ActionManageAPIKeys, s.fresh(s.createAPIKey))
			s.post(r, "/api-keys/{id}/rotate", portal.ActionManageAPIKeys, s.fresh(s.rotateAPIKey))
			s.post(r, "/api-keys/{id}/revoke", portal.ActionManageAPIKeys, s.revokeAPIKey)
			s.get(r, "/profile", portal.ActionViewAccount, s.profilePage)
			s.post(r, "/profile", portal.ActionEditCustomerInfo, s.saveProfile)
			s.get(r, "/preferences/features", portal.ActionViewAccount, s.featuresPage)
			s.post(r, "/preferences/features/{feature}/request", portal.ActionRequestFeature, s.requestFeature)
			// Advanced Settings: the root's sub-accounts. {child} is a
			// sub-account's tech prefix.
			s.get(r, "/settings", portal.ActionManageSubAccounts, s.settings)
			s.get(r, "/settings/link", portal.ActionManageSubAccounts, s.linkForm)
			s.post(r, "/settings/link", portal.ActionManageSubAccounts, s.fresh(s.linkAccount))
			s.get(r, "/settings/new-account", portal.ActionManageSubAccounts, s.newAccountForm)
			s.post(r, "/settings/new-account", portal.ActionManageSubAccounts, s.newAccount)
			s.get(r, "/settings/subaccounts/{child}/unlink", portal.ActionManageSubAccounts, s.unlinkForm)
			s.post(r, "/settings/subaccounts/{child}/unlink", portal.ActionManageSubAccounts, s.fresh(s.unlink))
			s.post(r, "/settings/subaccounts/{child}/resend", portal.ActionManageSubAccounts, s.resendActivation)
			// User Management: {id} is a user, except under resend and cancel,
			// where it is a pending invitation.
			s.get(r, "/settings/users", portal.ActionManageUsers, s.usersPage)
			s.get(r, "/settings/users/new", portal.ActionManageUsers, s.userNewForm)
			s.get(r, "/settings/users/accounts", portal.ActionManageUsers, s.userAccountSearch)
			s.post(r, "/settings/users/new", portal.ActionManageUsers, s.fresh(s.userCreate))
			s.get(r, "/settings/users/{id}", portal.ActionManageUsers, s.userPage)
			s.post(r, "/settings/users/{id}", portal.ActionManageUsers, s.fresh(s.userUpdate))
			s.post(r, "/settings/users/{id}/revoke", portal.ActionManageUsers, s.userRevoke)
			s.post(r, "/settings/users/{id}/restore", portal.ActionManageUsers, s.userRestore)
			s.post(r, "/settings/users/{id}/resend", portal.ActionManageUsers, s.inviteResend)
			s.post(r, "/settings/users/{id}/cancel", portal.ActionManageUsers, s.inviteCancel)
			s.get(r, "/settings/audit", portal.ActionViewAudit, s.auditPage)
			s.get(r, "/settings/audit.csv", portal.ActionViewAudit, s.auditCSV)
		})
	})

	// The staff realm: its own session cookie (path /staff), session key and
	// middleware. It is a sibling of the customer group, so a customer
	// session means nothing here and a staff session nothing there.
	r.Route("/staff", func(r chi.Router) {
		r.Use(s.staff.LoadAndSave, s.authenticateStaff)
		s.get(r, "/", portal.ActionStaff, s.staffHome)
		s.get(r, "/login", portal.ActionPublic, s.staffLoginForm)
		s.post(r, "/login", portal.ActionPublic, s.staffLogin)
		s.post(r, "/logout", portal.ActionPublic, s.staffLogout)
		s.get(r, "/feature-requests", portal.ActionStaff, s.staffQueue)
		s.post(r, "/feature-requests/{id}/approve", portal.ActionStaff, s.approveRequest)
		s.post(r, "/feature-requests/{id}/deny", portal.ActionStaff, s.denyRequest)
		s.get(r, "/accounts", portal.ActionStaff, s.staffAccounts)
		s.get(r, "/accounts/{prefix}", portal.ActionStaff, s.staffAccount)
		jobs := s.jobsUI()
		s.mount(r, "/jobs", portal.ActionStaff, jobs)
		s.mount(r, "/jobs/*", portal.ActionStaff, jobs)
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderStatus(w, r, http.StatusForbidden)
	}))
	s.router = r
	return cop.Handler(r)
}

func (s *Server) get(r chi.Router, pattern string, a portal.Action, h http.HandlerFunc) {
	r.Method(http.MethodGet, pattern, guard{s: s, action: a, h: h})
}

func (s *Server) post(r chi.Router, pattern string, a portal.Action, h http.HandlerFunc) {
	r.Method(http.MethodPost, pattern, guard{s: s, action: a, h: h})
}

// mount serves a self-contained application (one with its own sub-routes,
// such as River's UI) under pattern, for each method it uses, behind the
// same guard as every other route.
func (s *Server) mount(r chi.Router, pattern string, a portal.Action, h http.Handler) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch} {
		r.Method(m, pattern, guard{s: s, action: a, h: h.ServeHTTP})
	}
}

// guard is the only way a handler is reached: it checks the route's action
// before calling it, and denies what it does not know.
type guard struct {
	s      *Server
	action portal.Action
	h      http.HandlerFunc
}

func (g guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch g.action {
	case portal.ActionPublic:
		g.h(w, r)
		return
	case portal.ActionSignedIn:
		if g.s.requireUser(w, r) {
			g.h(w, r)
		}
		return
	case portal.ActionStaff:
		if staffFrom(r.Context()) == nil {
			redirect(w, r, "/staff/login")
			return
		}
		g.h(w, r)
		return
	}
	if !g.s.requireUser(w, r) {
		return
	}
	aa := accessFrom(r.Context())
	if aa == nil {
		g.s.notFound(w, r)
		return
	}
	switch portal.Authorize(g.action, aa.AccountAccess) {
	case portal.Allow:
		g.h(w, r)
	case portal.DenyHidden:
		g.s.notFound(w, r)
	default:
		g.s.log.Info("permission denied", "request_id", requestIDFrom(r.Context()), "action", g.action,
			"account", aa.Account.TechPrefix, "role", aa.Role.String())
		g.s.auditDenied(r, aa, g.action)
		g.s.renderStatus(w, r, http.StatusForbidden)
	}
}
