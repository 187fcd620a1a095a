package server

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// inviteAction resends or cancels a pending invitation ({id} is the
// invitation's id) and returns to the list.
func (s *Server) inviteAction(w http.ResponseWriter, r *http.Request, resend bool) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	var email string
	var err error
	if resend {
		if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitInvitations, strconv.FormatInt(aa.Account.RootID(), 10)) {
			return
		}
		email, err = s.db.ResendInvitation(r.Context(), s.actor(r), scope, idParam(r))
	} else {
		email, err = s.db.CancelInvitation(r.Context(), s.actor(r), scope, idParam(r))
	}
	switch c := portal.ErrorCode(err); {
	case c == portal.EINVALID || c == portal.ECONFLICT:
		s.setFlash(w, "error", portal.ErrorMessage(err))
	case err != nil:
		s.renderError(w, r, err)
		return
	case resend:
		s.setFlash(w, "ok", "Sent the invitation to "+email+" again. The earlier link no longer works.")
	default:
		s.setFlash(w, "ok", "Cancelled the invitation to "+email+". Its link no longer works.")
	}
	redirect(w, r, acctURL(aa, "settings/users"))
}

func (s *Server) inviteResend(w http.ResponseWriter, r *http.Request) { s.inviteAction(w, r, true) }
func (s *Server) inviteCancel(w http.ResponseWriter, r *http.Request) { s.inviteAction(w, r, false) }

// noAccess answers a request for an account the user cannot reach. A user
// revoked in that family who has no other usable account is signed out and
// told why on the sign-in page; anyone else gets the usual 404. Errors deny.
func (s *Server) noAccess(w http.ResponseWriter, r *http.Request, u *portal.User) {
	revoked, err := s.db.RevokedIn(r.Context(), u.ID, chi.URLParam(r, "acct"))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !revoked {
		s.notFound(w, r)
		return
	}
	n, err := s.db.UsableAccountCount(r.Context(), u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if n > 0 {
		s.notFound(w, r)
		return
	}
	s.endSession(r.Context())
	s.setFlash(w, "error", "Your access has been revoked by a Principal user of the account, so you have been signed out. If you think this is a mistake, contact them.")
	redirect(w, r, "/login")
}

// inviteSummary says who invited whom to what, for the invitation's page.
func inviteSummary(v *postgres.InvitationView) string {
	return v.InviterName + " (" + v.InviterEmail + ") invited you, " + v.Email + ", to Carrier Portal with access to " +
		v.RolesText() + "."
}

// showInvite is the page an invitation link opens: who invited them to
// which accounts, and what accepting takes.
func (s *Server) showInvite(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
	v, err := s.db.InvitationForToken(r.Context(), t)
	if err != nil {
		return web.ConfirmProps{}, err
	}
	p := web.ConfirmProps{Heading: "Accept your invitation", Button: "Accept invitation"}
	u := userFrom(r.Context())
	switch {
	case v.ExistingUserID == 0:
		p.Message = inviteSummary(v) + " Enter your name and choose a password to accept."
		p.NeedsName, p.NeedsPassword = true, true
		p.Button = "Accept and create my login"
	case u != nil && u.ID == v.ExistingUserID:
		p.Message = inviteSummary(v) + " Accept to add these accounts to your login."
	default:
		p.Message = inviteSummary(v) + " " + v.Email + " already has a Carrier Portal login: sign in with it to accept."
		p.Button = "Sign in to accept"
	}
	return p, nil
}

// redeemInvite accepts an invitation: a new person creates a login, the
// owner of an existing login accepts while signed in as it (or signs in
// first). Only then do the memberships exist.
func (s *Server) redeemInvite(w http.ResponseWriter, r *http.Request, raw string, p web.ConfirmProps) {
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
	v, err := s.db.InvitationForToken(ctx, t)
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	who, ok := s.claimant(w, r, raw, in, p, offer{kind: "invite", email: v.Email, existingID: v.ExistingUserID, summary: inviteSummary(v)})
	if !ok {
		return
	}
	user, v, err := s.db.AcceptInvitation(ctx, s.actor(r), raw,
		postgres.Acceptance{UserID: who.userID, Name: who.name, PasswordHash: who.passwordHash})
	if err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	if !s.finishClaim(w, r, user) {
		return
	}
	s.setFlash(w, "ok", "Welcome! You now have access to "+v.RolesText()+".")
	redirect(w, r, "/accounts/"+v.Roles[0].TechPrefix)
}
