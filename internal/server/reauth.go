package server

import (
	"net/http"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

// fresh wraps a sensitive POST handler: when the last password proof is older
// than the re-authentication window, it first asks for the password, carrying
// everything the user typed through hidden fields, and then completes the
// original request.
func (s *Server) fresh(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.recentlyAuthenticated(r.Context()) {
			h(w, r)
			return
		}
		if _, ok := parseForm(w, r); !ok {
			return
		}
		carried := map[string][]string{}
		for k, vs := range r.PostForm {
			if k != "reauth_password" {
				carried[k] = vs
			}
		}
		u := userFrom(r.Context())
		if u == nil {
			s.requireUser(w, r)
			return
		}
		pw, tried := r.PostForm["reauth_password"]
		if !tried {
			s.render(w, r, http.StatusOK, web.ReauthPage(s.chrome(r, "Confirm it's you"), web.NewForm(), r.URL.Path, carried))
			return
		}
		if !s.allow(w, r, limitLoginEmail, u.Email) {
			return
		}
		hash, err := s.freshPasswordHash(r.Context(), u)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !portal.CheckPasswordHash(hash, pw[0]) {
			f := formFrom(nil, portal.FieldErrors{"reauth_password": "That is not your password."})
			s.render(w, r, http.StatusUnprocessableEntity, web.ReauthPage(s.chrome(r, "Confirm it's you"), f, r.URL.Path, carried))
			return
		}
		s.sessions.Put(r.Context(), keyAuthAt, time.Now().Unix())
		r.PostForm.Del("reauth_password")
		r.Form.Del("reauth_password")
		h(w, r)
	}
}
