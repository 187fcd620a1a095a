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
	r.Use(requestID, s.logRequests, s.securityHeaders, keepWriter)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { s.renderStatus(w, r, http.StatusMethodNotAllowed) })

	s.get(r, "/healthz", portal.ActionPublic, s.healthz)
	s.get(r, "/readyz", portal.ActionPublic, s.readyz)
	r.Method(http.MethodGet, "/static/*", guard{s: s, action: portal.ActionPublic, h: web.StaticHandler().ServeHTTP})

	// The customer realm.
	r.Group(func(r chi.Router) {
		r.Use(s.sessions.LoadAndSave, s.authenticate)
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
		})
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
