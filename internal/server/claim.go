package server

import (
	"net/http"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

// offer is an emailed offer made to an address — an invitation or a new
// account's activation — as far as the shared steps of taking it up need.
type offer struct {
	kind       string // "invite" or "activate": test ids and audit detail
	email      string
	existingID int64 // the login that already has the address, if any
	summary    string
}

// claim is who takes an offer up: the owner of an existing login, or a new
// person with a name and a password hash.
type claim struct {
	userID       int64
	name         string
	passwordHash string
}

// claimant works out who accepts an offer: a new person gives a name and a
// password; the owner of an existing login accepts while signed in as it,
// or signs in first. It reports false when it has already answered (a form
// error, or the sign-in step).
func (s *Server) claimant(w http.ResponseWriter, r *http.Request, raw string, in map[string]string, p web.ConfirmProps, o offer) (claim, bool) {
	if o.existingID == 0 {
		errs := portal.FieldErrors{}
		name, err := portal.CleanName("full_name", "Your name", in["full_name"])
		errs.AddErr("full_name", err)
		errs.AddErr("password", portal.CheckPassword("password", in["password"]))
		if len(errs) > 0 {
			p.Form = formFrom(in, errs)
			s.render(w, r, http.StatusUnprocessableEntity, web.ConfirmPage(s.chrome(r, p.Heading), p))
			return claim{}, false
		}
		hash, err := portal.HashPassword(in["password"])
		if err != nil {
			s.serverError(w, r, err)
			return claim{}, false
		}
		return claim{name: name, passwordHash: hash}, true
	}
	if u := userFrom(r.Context()); u != nil && u.ID == o.existingID {
		return claim{userID: u.ID}, true
	}
	if !s.claimSignIn(w, r, raw, o, in) {
		return claim{}, false
	}
	return claim{userID: o.existingID}, true
}

// claimSignIn is the sign-in step for an offer to an address that already
// has a login: the password proves the recipient. The first POST shows the
// form. It reports whether the password was right; otherwise it has
// answered.
func (s *Server) claimSignIn(w http.ResponseWriter, r *http.Request, raw string, o offer, in map[string]string) bool {
	p := web.ClaimSignInProps{Kind: o.kind, Token: raw, Email: o.email, Summary: o.summary, Form: web.NewForm()}
	if u := userFrom(r.Context()); u != nil {
		p.SignedInAs = u.Email
	}
	if in["signin"] == "" {
		s.render(w, r, http.StatusOK, web.ClaimSignInPage(s.chrome(r, "Sign in to accept"), p))
		return false
	}
	if !s.allow(w, r, limitLoginIP, s.clientIP(r)) || !s.allow(w, r, limitLoginEmail, o.email) {
		return false
	}
	u, err := s.db.UserByID(r.Context(), o.existingID)
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if portal.CheckPassword("password", in["password"]) != nil || !portal.CheckPasswordHash(u.PasswordHash, in["password"]) {
		via := map[string]string{"invite": "invitation", "activate": "activation"}[o.kind]
		_ = s.db.Audit(r.Context(), s.actor(r), portal.AuditEvent{Action: "auth.login", Outcome: "failure", Target: safeLogText(o.email),
			Details: map[string]any{"via": via}})
		p.Form = formFrom(nil, portal.FieldErrors{"password": "That password is not right."})
		s.render(w, r, http.StatusUnprocessableEntity, web.ClaimSignInPage(s.chrome(r, "Sign in to accept"), p))
		return false
	}
	return true
}

// finishClaim signs in whoever accepted an offer. Gaining a role is a
// privilege change, so the session token is renewed even when the user was
// already signed in. It reports false when it has answered with an error.
func (s *Server) finishClaim(w http.ResponseWriter, r *http.Request, user *portal.User) bool {
	ctx := r.Context()
	var err error
	if u := userFrom(ctx); u != nil && u.ID == user.ID {
		err = s.refreshSession(ctx, user)
	} else if err = s.startSession(ctx, user); err == nil {
		err = s.db.RecordLogin(ctx, s.actor(r), user.ID)
	}
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	return true
}
