package server

import (
	"net/http"

	"carrierportal/internal/portal"
)

// RequireSignedIn wraps h in the customer realm's session and sign-in
// chain, exactly as every signed-in portal page runs behind it: the scs
// session loaded from its Postgres store, authenticate (both timeouts and
// the session epoch checked against the database), and the signed-in
// guard, which sends a caller without a valid session to the sign-in page.
// It lets a handler outside the portal's router (the benchmark's baseline)
// pay what a portal page pays for sessions and authentication, no more.
func (s *Server) RequireSignedIn(h http.Handler) http.Handler {
	return s.loadSession(guard{s: s, action: portal.ActionSignedIn, h: h.ServeHTTP})
}
