package server

import (
	"context"
	"net/http"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

func (s *Server) meProps(r *http.Request) web.MeProps {
	u := userFrom(r.Context())
	p := web.MeProps{Name: u.FullName, Email: u.Email, NameForm: web.NewForm(), Email2: web.NewForm(), Password: web.NewForm()}
	p.NameForm.Values["full_name"] = u.FullName
	return p
}

func (s *Server) meForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.MePage(s.chrome(r, "Your profile"), s.meProps(r)))
}

func (s *Server) meName(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "full_name")
	if !ok {
		return
	}
	name, err := portal.CleanName("full_name", "Name", in["full_name"])
	if err != nil {
		p := s.meProps(r)
		p.NameForm = formFrom(in, portal.FieldErrors{"full_name": portal.ErrorMessage(err)})
		s.render(w, r, http.StatusUnprocessableEntity, web.MePage(s.chrome(r, "Your profile"), p))
		return
	}
	if err := s.db.UpdateUserName(r.Context(), s.actor(r), name); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Your name has been saved.")
	redirect(w, r, "/me")
}

// meEmail starts an email change; it needs the current password.
func (s *Server) meEmail(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "email", "current_password")
	if !ok {
		return
	}
	u := userFrom(r.Context())
	errs := portal.FieldErrors{}
	email, err := portal.CleanEmail("email", in["email"])
	errs.AddErr("email", err)
	if len(errs) == 0 && !s.currentPassword(w, r, u, in, errs) {
		return
	}
	if len(errs) > 0 {
		p := s.meProps(r)
		p.Email2 = formFrom(in, errs)
		s.render(w, r, http.StatusUnprocessableEntity, web.MePage(s.chrome(r, "Your profile"), p))
		return
	}
	if !s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, email) {
		return
	}
	if err := s.db.RequestEmailChange(r.Context(), s.actor(r), email); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "info", "We have sent a confirmation link to "+email+". Your address changes when you open it.")
	redirect(w, r, "/me")
}

// mePassword changes the password; other sessions end, this one is renewed.
func (s *Server) mePassword(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "current_password", "new_password")
	if !ok {
		return
	}
	u := userFrom(r.Context())
	errs := portal.FieldErrors{}
	errs.AddErr("new_password", portal.CheckPassword("new_password", in["new_password"]))
	if len(errs) == 0 && !s.currentPassword(w, r, u, in, errs) {
		return
	}
	if len(errs) > 0 {
		p := s.meProps(r)
		p.Password = formFrom(in, errs)
		s.render(w, r, http.StatusUnprocessableEntity, web.MePage(s.chrome(r, "Your profile"), p))
		return
	}
	hash, err := portal.HashPassword(in["new_password"])
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	nu, err := s.db.ChangePassword(r.Context(), s.actor(r), hash)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.refreshSession(r.Context(), nu); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Your password has been changed. Other sessions have been signed out.")
	redirect(w, r, "/me")
}

// currentPassword checks the current password of a form whose other fields
// are valid, adding an error when it is wrong. It is a password guess like
// a sign-in and counts against the same limit; a form with other errors
// never gets this far, so it cannot be used to guess for free. It reports
// false when it has answered (429).
func (s *Server) currentPassword(w http.ResponseWriter, r *http.Request, u *portal.User, in map[string]string, errs portal.FieldErrors) bool {
	if !s.allow(w, r, limitLoginEmail, u.Email) {
		return false
	}
	hash, err := s.freshPasswordHash(r.Context(), u)
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if !portal.CheckPasswordHash(hash, in["current_password"]) {
		errs.Add("current_password", "That is not your current password.")
	}
	return true
}

// freshPasswordHash is the signed-in user's password hash as the database
// holds it now: a password is checked against the row itself, never
// against the copy the session cache keeps.
func (s *Server) freshPasswordHash(ctx context.Context, u *portal.User) (string, error) {
	fresh, err := s.db.UserByID(ctx, u.ID)
	if err != nil {
		return "", err
	}
	return fresh.PasswordHash, nil
}
