package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// confirmer handles the email links of one token purpose: show describes
// what confirming will do (GET), redeem spends the token (POST).
type confirmer struct {
	show   func(r *http.Request, t *portal.Token) (web.ConfirmProps, error)
	redeem func(w http.ResponseWriter, r *http.Request, raw string, p web.ConfirmProps)
}

func (s *Server) newConfirmers() map[string]confirmer {
	return map[string]confirmer{
		portal.PurposeVerifyEmail: {
			show: func(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
				return web.ConfirmProps{Heading: "Confirm your email address",
					Message: "Confirm " + t.Email + " to activate your account and sign in.", Button: "Confirm and sign in"}, nil
			},
			redeem: s.redeemVerifyEmail,
		},
		portal.PurposeResetPassword: {
			show: func(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
				return web.ConfirmProps{Heading: "Choose a new password",
					Message: "Set a new password for " + t.Email + ". You will be signed out everywhere else.", Button: "Set password", NeedsPassword: true}, nil
			},
			redeem: s.redeemResetPassword,
		},
		portal.PurposeChangeEmail: {
			show: func(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
				return web.ConfirmProps{Heading: "Confirm your new email address",
					Message: "Use " + t.Email + " as your sign-in address from now on.", Button: "Confirm new address"}, nil
			},
			redeem: s.redeemChangeEmail,
		},
		portal.PurposeContactEmail:    {show: s.showContactEmail, redeem: s.redeemContactEmail},
		portal.PurposeAcceptInvite:    {show: s.showInvite, redeem: s.redeemInvite},
		portal.PurposeLinkAccount:     {show: s.showLink, redeem: s.redeemLink},
		portal.PurposeActivateAccount: {show: s.showActivate, redeem: s.redeemActivate},
	}
}

// linkProblem explains an unusable email link.
func (s *Server) linkProblem(w http.ResponseWriter, r *http.Request, state postgres.TokenState) {
	heading, msg, status := "This link is not valid", "The link is incomplete or was never issued. Copy the whole link from the email, or ask for a new one.", http.StatusNotFound
	switch state {
	case postgres.TokenUsed:
		heading, msg, status = "This link was already used", "Each link works once, and a newer link replaces older ones. If you still need to do this, ask for a new link.", http.StatusGone
	case postgres.TokenExpired:
		heading, msg, status = "This link has expired", "For your security links expire. Ask for a new one and use it soon.", http.StatusGone
	}
	s.render(w, r, status, web.LinkProblemPage(s.chrome(r, heading), heading, msg))
}

// lookupLink finds the confirmer of a valid token, or answers the problem.
func (s *Server) lookupLink(w http.ResponseWriter, r *http.Request) (string, *portal.Token, confirmer, bool) {
	raw := chi.URLParam(r, "token")
	t, state, err := s.db.PeekToken(r.Context(), raw)
	if err != nil {
		s.serverError(w, r, err)
		return "", nil, confirmer{}, false
	}
	c, ok := confirmer{}, false
	if state == postgres.TokenValid {
		c, ok = s.confirmers[t.Purpose]
	}
	if !ok {
		if state == postgres.TokenValid {
			state = postgres.TokenUnknown
		}
		s.linkProblem(w, r, state)
		return "", nil, confirmer{}, false
	}
	return raw, t, c, true
}

// confirmForm shows what an email link will do; it never spends the token,
// so mail scanners that prefetch links do no harm.
func (s *Server) confirmForm(w http.ResponseWriter, r *http.Request) {
	raw, t, c, ok := s.lookupLink(w, r)
	if !ok {
		return
	}
	p, err := c.show(r, t)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p.Token = raw
	p.Form = web.NewForm()
	s.render(w, r, http.StatusOK, web.ConfirmPage(s.chrome(r, p.Heading), p))
}

// confirm spends an email link's token. The body is read (and bounded)
// first, whether or not the link's purpose takes any fields.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseForm(w, r); !ok {
		return
	}
	raw, t, c, ok := s.lookupLink(w, r)
	if !ok {
		return
	}
	p, err := c.show(r, t)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p.Token = raw
	p.Form = web.NewForm()
	c.redeem(w, r, raw, p)
}

// redeemFailed answers a redemption that lost a race or found the token
// spent in the meantime.
func (s *Server) redeemFailed(w http.ResponseWriter, r *http.Request, err error) {
	if err == postgres.ErrTokenInvalid {
		s.linkProblem(w, r, postgres.TokenUsed)
		return
	}
	s.renderError(w, r, err)
}

func (s *Server) redeemVerifyEmail(w http.ResponseWriter, r *http.Request, raw string, _ web.ConfirmProps) {
	u, err := s.db.VerifyEmail(r.Context(), s.actor(r), raw)
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	if err := s.startSession(r.Context(), u); err != nil {
		s.serverError(w, r, err)
		return
	}
	_ = s.db.RecordLogin(r.Context(), s.actor(r), u.ID)
	s.setFlash(w, "ok", "Your email address is confirmed and your account is active. Welcome!")
	redirect(w, r, "/")
}

func (s *Server) redeemResetPassword(w http.ResponseWriter, r *http.Request, raw string, p web.ConfirmProps) {
	in, ok := parseForm(w, r, "password")
	if !ok {
		return
	}
	if err := portal.CheckPassword("password", in["password"]); err != nil {
		p.Form = formFrom(nil, portal.FieldErrors{"password": portal.ErrorMessage(err)})
		s.render(w, r, http.StatusUnprocessableEntity, web.ConfirmPage(s.chrome(r, p.Heading), p))
		return
	}
	hash, err := portal.HashPassword(in["password"])
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if _, err := s.db.ResetPassword(r.Context(), s.actor(r), raw, hash); err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	_ = s.sessions.Destroy(r.Context())
	s.setFlash(w, "ok", "Your password has been changed. Sign in with your new password.")
	redirect(w, r, "/login")
}

func (s *Server) redeemChangeEmail(w http.ResponseWriter, r *http.Request, raw string, _ web.ConfirmProps) {
	if _, err := s.db.ConfirmEmailChange(r.Context(), s.actor(r), raw); err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	_ = s.sessions.Destroy(r.Context())
	s.setFlash(w, "ok", "Your email address has been changed. Sign in with the new address.")
	redirect(w, r, "/login")
}
