package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"carrierportal/web"
)

// limit is one rate limit: at most n events per window for a key.
type limit struct {
	name   string
	n      int
	window time.Duration
}

// The rate limits, per client IP and per target (email or account).
var (
	limitLoginIP     = limit{"login_ip", 30, 15 * time.Minute}
	limitLoginEmail  = limit{"login_email", 10, 15 * time.Minute}
	limitMailIP      = limit{"mail_ip", 20, time.Hour}
	limitMailAddress = limit{"mail_addr", 5, time.Hour}
	limitSignupIP    = limit{"signup_ip", 10, time.Hour}
	// Feature requests, per family: a family cannot flood the staff queue.
	limitFeatureRequest = limit{"feature_request", 6, time.Hour}
	// Invitations sent or sent again, per family, on top of the per-address
	// limit: a family cannot use the portal to mail a list of strangers.
	limitInvitations = limit{"invitations", 30, time.Hour}
	// Staff sign-in has its own counters, apart from the customers'.
	limitStaffLoginIP    = limit{"staff_login_ip", 30, 15 * time.Minute}
	limitStaffLoginEmail = limit{"staff_login_email", 10, 15 * time.Minute}
)

// allow counts one event against l for key (shared by every instance through
// Postgres) and answers 429 when over the limit. It fails closed.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, l limit, key string) bool {
	ok, retry, err := s.db.Hit(r.Context(), l.name+":"+limitKey(key), l.n, l.window)
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if ok {
		return true
	}
	secs := int(retry.Seconds()) + 1
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	mins := (secs + 59) / 60
	msg := fmt.Sprintf("You have made too many attempts. Please try again in %d minute%s.", mins, plural(mins))
	s.render(w, r, http.StatusTooManyRequests, web.ErrorPage(s.chrome(r, "Too many requests"), 429, "Too many requests", msg))
	return false
}

// limitKey is how a key is counted: case-insensitively, and hashed when it
// is not short, clean text, since keys come straight from the form and
// Postgres text refuses NUL bytes and invalid UTF-8.
func limitKey(key string) string {
	if utf8.ValidString(key) && !strings.ContainsRune(key, 0) {
		if key = strings.ToLower(key); len(key) <= 200 {
			return key
		}
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
