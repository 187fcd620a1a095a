package server

import (
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"carrierportal/internal/config"
	"carrierportal/internal/portal"
)

// Session keys. The session holds only these: who, when, and the epoch that
// lets a password change end every other session.
const (
	keyUserID  = "uid"
	keyLoginAt = "login_at" // absolute timeout counts from here
	keyAuthAt  = "auth_at"  // last password proof, for re-authentication
	keySeenAt  = "seen_ms"  // idle timeout (unix ms), refreshed at most every seenEvery
	keyEpoch   = "epoch"
	keyStaffID = "staff_id"
)

// seenEvery bounds how often a plain GET writes to the session store to keep
// the idle timer fresh: at most every two minutes, and often enough that an
// active user never hits the idle timeout.
func (s *Server) seenInterval() time.Duration {
	return min(seenEvery, s.cfg.IdleTimeout/4)
}

// seenEvery is the longest interval between idle-timer refreshes.
const seenEvery = 2 * time.Minute

func newSessionManager(cfg *config.Config, store scs.Store, name, path string) *scs.SessionManager {
	m := scs.New()
	m.Store = store
	m.Codec = newGobCodec()
	// The store's expiry is the absolute lifetime; idle expiry is enforced
	// by authenticate without a write on every request.
	m.Lifetime = cfg.SessionLifetime
	m.IdleTimeout = 0
	m.Cookie.Name = name
	if cfg.Production() {
		if path == "/" {
			m.Cookie.Name = "__Host-" + name
		} else {
			m.Cookie.Name = "__Secure-" + name
		}
	}
	m.Cookie.Path = path
	m.Cookie.Domain = ""
	m.Cookie.HttpOnly = true
	m.Cookie.Secure = cfg.CookieSecure
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Persist = false
	return m
}

type ctxKey int

const (
	ctxUser ctxKey = iota
	ctxAccess
	ctxRequestID
	ctxStaff
	ctxInfo
)

func userFrom(ctx context.Context) *portal.User {
	u, _ := ctx.Value(ctxUser).(*portal.User)
	return u
}

func staffFrom(ctx context.Context) *portal.Staff {
	u, _ := ctx.Value(ctxStaff).(*portal.Staff)
	return u
}

// authenticate loads the signed-in user, if any, checking the session epoch
// and both timeouts against the database on every request.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		uid := s.sessions.GetInt64(ctx, keyUserID)
		if uid == 0 {
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		loginAt := time.Unix(s.sessions.GetInt64(ctx, keyLoginAt), 0)
		seenAt := time.UnixMilli(s.sessions.GetInt64(ctx, keySeenAt))
		if now.Sub(loginAt) > s.cfg.SessionLifetime || now.Sub(seenAt) > s.cfg.IdleTimeout {
			s.endSession(ctx)
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.sessionUser(ctx, uid)
		if portal.ErrorCode(err) == portal.ENOTFOUND || (err == nil && u.SessionEpoch != s.sessions.GetInt64(ctx, keyEpoch)) {
			s.endSession(ctx)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if now.Sub(seenAt) > s.seenInterval() {
			s.sessions.Put(ctx, keySeenAt, now.UnixMilli())
		}
		if info, ok := ctx.Value(ctxInfo).(*reqInfo); ok {
			info.userID = u.ID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxUser, u)))
	})
}

func (s *Server) endSession(ctx context.Context) {
	_ = s.sessions.Destroy(ctx)
}

// startSession signs a user in: a new session token (the pre-login one
// becomes useless), and the login time, epoch and idle clock.
func (s *Server) startSession(ctx context.Context, u *portal.User) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	now := time.Now().Unix()
	s.sessions.Put(ctx, keyUserID, u.ID)
	s.sessions.Put(ctx, keyLoginAt, now)
	s.sessions.Put(ctx, keyAuthAt, now)
	s.sessions.Put(ctx, keySeenAt, time.Now().UnixMilli())
	s.sessions.Put(ctx, keyEpoch, u.SessionEpoch)
	return nil
}

// refreshSession renews the token after a privilege or credential change and
// records the user's new epoch, keeping this session while others end.
func (s *Server) refreshSession(ctx context.Context, u *portal.User) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, keyEpoch, u.SessionEpoch)
	s.sessions.Put(ctx, keyAuthAt, time.Now().Unix())
	return nil
}

// requireUser sends signed-out visitors to the sign-in page.
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request) bool {
	if userFrom(r.Context()) != nil {
		return true
	}
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + urlQueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return false
}

// recentlyAuthenticated reports whether the user proved the password within
// the re-authentication window.
func (s *Server) recentlyAuthenticated(ctx context.Context) bool {
	at := time.Unix(s.sessions.GetInt64(ctx, keyAuthAt), 0)
	return time.Since(at) <= s.cfg.ReauthAfter
}
