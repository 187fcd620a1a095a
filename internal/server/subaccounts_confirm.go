package server

import (
	"net/http"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// showLink describes a link request to whoever opened the email sent to the
// account's contact address; a link that can no longer be made says why.
func (s *Server) showLink(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
	p, err := s.db.PreviewLink(r.Context(), t)
	if err != nil {
		return web.ConfirmProps{}, err
	}
	msg := p.ParentCompany + " (" + p.ParentPrefix + ") asked to link " + p.ChildCompany + " (" + p.ChildPrefix + ") to it as a sub-account. " +
		"Once linked, the Principal users of " + p.ParentCompany + " can see and manage " + p.ChildCompany +
		", including its numbers, settings and billing, and it appears in their account summaries. " +
		p.ChildCompany + " keeps its own users and data, and " + p.ParentCompany + " can remove the link later."
	if p.OldParentCompany != "" {
		msg += " It stops being a sub-account of " + p.OldParentCompany + ", who will be told."
	}
	return web.ConfirmProps{Heading: "Link " + p.ChildCompany + " to " + p.ParentCompany + "?", Message: msg, Button: "Link account"}, nil
}

func (s *Server) redeemLink(w http.ResponseWriter, r *http.Request, raw string, _ web.ConfirmProps) {
	if _, ok := parseForm(w, r); !ok {
		return
	}
	p, err := s.db.ConfirmLink(r.Context(), s.actor(r), raw)
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.LinkDonePage(s.chrome(r, "Accounts linked"), "Accounts linked",
		p.ChildCompany+" is now a sub-account of "+p.ParentCompany+". The Principal users of both accounts have been told by email."))
}

func activationSummary(a *postgres.Activation) string {
	by := "Your carrier"
	if a.ParentCompany != "" {
		by = a.ParentCompany
	}
	return by + " created the account " + a.CompanyName + " (tech prefix " + a.TechPrefix + ") for you."
}

// showActivate offers one of three ways in: a new person sets up a login;
// the owner of an existing login accepts while signed in as it, or signs in
// with it first (ClaimSignInPage).
func (s *Server) showActivate(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
	a, err := s.db.ActivationInfo(r.Context(), t)
	if err != nil {
		return web.ConfirmProps{}, err
	}
	p := web.ConfirmProps{Heading: "Activate " + a.CompanyName, Button: "Accept and open the account"}
	u := userFrom(r.Context())
	switch {
	case a.ExistingUserID == 0:
		p.Message = activationSummary(a) + " Enter your name and choose a password for your login (" + a.Email + "); you become the account's Principal user."
		p.NeedsName, p.NeedsPassword = true, true
		p.Button = "Activate account"
	case u != nil && u.ID == a.ExistingUserID:
		p.Message = activationSummary(a) + " Accept to become its Principal user; it joins the accounts of your login."
	default:
		p.Message = activationSummary(a) + " " + a.Email + " already has a Carrier Portal login: sign in with it to accept."
		p.Button = "Sign in to accept"
	}
	return p, nil
}

func (s *Server) redeemActivate(w http.ResponseWriter, r *http.Request, raw string, p web.ConfirmProps) {
	ctx := r.Context()
	in, ok := parseForm(w, r, "full_name", "password", "signin")
	if !ok {
		return
	}
	t, state, err := s.db.PeekToken(ctx, raw)
	if err != nil || state != postgres.TokenValid {
		s.redeemFailed(w, r, postgres.ErrTokenInvalid)
		return
	}
	a, err := s.db.ActivationInfo(ctx, t)
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	who, ok := s.claimant(w, r, raw, in, p, offer{kind: "activate", email: a.Email, existingID: a.ExistingUserID, summary: activationSummary(a)})
	if !ok {
		return
	}
	user, acct, err := s.db.ActivateAccount(ctx, s.actor(r), raw,
		postgres.ActivationLogin{UserID: who.userID, FullName: who.name, PasswordHash: who.passwordHash})
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	if !s.finishClaim(w, r, user) {
		return
	}
	s.setFlash(w, "ok", "Welcome! "+acct.CompanyName+" is active and you are its Principal user.")
	redirect(w, r, "/accounts/"+acct.TechPrefix)
}
