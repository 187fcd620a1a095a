package server

import (
	"net/http"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// loginFailed is the one answer to every failed sign-in: unknown address,
// wrong password, unconfirmed address or no usable account look the same.
const loginFailed = "Incorrect email or password. If you have just signed up, confirm your email address first."

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if userFrom(r.Context()) != nil {
		redirect(w, r, "/")
		return
	}
	s.render(w, r, http.StatusOK, web.LoginPage(s.chrome(r, "Sign in"), web.NewForm()))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "email", "password")
	if !ok {
		return
	}
	if !s.allow(w, r, limitLoginIP, s.clientIP(r)) || !s.allow(w, r, limitLoginEmail, in["email"]) {
		return
	}
	ctx := r.Context()
	fail := func() {
		_ = s.db.Audit(ctx, s.actor(r), portal.AuditEvent{Action: "auth.login", Outcome: "failure", Target: safeLogText(in["email"])})
		f := formFrom(map[string]string{"email": in["email"]}, portal.FieldErrors{"_form": loginFailed})
		s.render(w, r, http.StatusUnprocessableEntity, web.LoginPage(s.chrome(r, "Sign in"), f))
	}
	email, err := portal.CleanEmail("email", in["email"])
	if err != nil || portal.CheckPassword("password", in["password"]) != nil {
		portal.DummyPasswordCheck(in["password"])
		fail()
		return
	}
	u, err := s.db.UserByEmail(ctx, email)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		portal.DummyPasswordCheck(in["password"])
		fail()
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !portal.CheckPasswordHash(u.PasswordHash, in["password"]) || !u.Verified() {
		fail()
		return
	}
	n, err := s.db.UsableAccountCount(ctx, u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if n == 0 {
		fail()
		return
	}
	if err := s.startSession(ctx, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.db.RecordLogin(ctx, s.actor(r), u.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, safeNext(r.URL.Query().Get("next")))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "info", "You have been signed out.")
	redirect(w, r, "/login")
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.SignupPage(s.chrome(r, "Sign up"), web.NewForm()))
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "company_name", "full_name", "email", "password")
	if !ok {
		return
	}
	errs := portal.FieldErrors{}
	company, err := portal.CleanName("company_name", "Company", in["company_name"])
	errs.AddErr("company_name", err)
	name, err := portal.CleanName("full_name", "Name", in["full_name"])
	errs.AddErr("full_name", err)
	email, err := portal.CleanEmail("email", in["email"])
	errs.AddErr("email", err)
	errs.AddErr("password", portal.CheckPassword("password", in["password"]))
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, web.SignupPage(s.chrome(r, "Sign up"), formFrom(in, errs)))
		return
	}
	if !s.allow(w, r, limitSignupIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) {
		return
	}
	hash, err := portal.HashPassword(in["password"])
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	err = s.db.SignUp(r.Context(), s.actor(r), postgres.Signup{CompanyName: company, FullName: name, Email: email, PasswordHash: hash})
	if err != nil && portal.ErrorCode(err) != portal.ECONFLICT {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CheckEmailPage(s.chrome(r, "Check your email"), "Check your email",
		"We have sent a link to "+email+". Open it to confirm your address and activate your account. The link is valid for 48 hours."))
}

func (s *Server) resendForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.ResendPage(s.chrome(r, "Resend confirmation"), web.NewForm()))
}

func (s *Server) resend(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "email")
	if !ok {
		return
	}
	email, err := portal.CleanEmail("email", in["email"])
	if err != nil {
		s.render(w, r, http.StatusUnprocessableEntity, web.ResendPage(s.chrome(r, "Resend confirmation"), formFrom(in, portal.FieldErrors{"email": portal.ErrorMessage(err)})))
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) {
		return
	}
	if err := s.db.ResendVerification(r.Context(), email); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CheckEmailPage(s.chrome(r, "Check your email"), "Check your email",
		"If "+email+" belongs to an account that still needs confirming, we have sent a new link to it."))
}

func (s *Server) forgotForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.ForgotPage(s.chrome(r, "Reset password"), web.NewForm()))
}

func (s *Server) forgot(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "email")
	if !ok {
		return
	}
	email, err := portal.CleanEmail("email", in["email"])
	if err != nil {
		s.render(w, r, http.StatusUnprocessableEntity, web.ForgotPage(s.chrome(r, "Reset password"), formFrom(in, portal.FieldErrors{"email": portal.ErrorMessage(err)})))
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) {
		return
	}
	if err := s.db.RequestPasswordReset(r.Context(), s.actor(r), email); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CheckEmailPage(s.chrome(r, "Check your email"), "Check your email",
		"If "+email+" has a login, we have sent it a link to choose a new password. The link is valid for one hour."))
}

// safeLogText keeps user-typed text short and printable for logs.
func safeLogText(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}
