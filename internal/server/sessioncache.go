package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// sessionCache keeps the signed-in sessions this instance has read, and
// their users, so that a request of a known session needs no round trip to
// the database before its handler runs. It is coherent with the database
// through postgres.CacheSync: an entry is used only while the listener's
// lease holds, every change to a session or a user drops the entries it
// touches on every instance, and requests that change something wait
// (barrier) until every instance has dropped them before they answer. So a
// sign-out, a password change or an expiry counts on the very next request
// everywhere, as it does without the cache. Roles and access are kept
// apart, by the access cache (accesscache.go), with the same guarantees.
type sessionCache struct {
	sync *postgres.CacheSync

	mu       sync.Mutex
	gen      uint64 // counts drops: a read that saw an older one is not kept
	sessions map[string]cachedSession
	users    map[int64]cachedUser

	hits atomic.Int64 // requests answered from the cache
}

type cachedSession struct {
	data   []byte
	expiry time.Time
	userID int64
}

type cachedUser struct {
	user          portal.User
	lastAccountID int64
}

// maxCached bounds each map; a full map starts over.
const maxCached = 100_000

func newSessionCache(cs *postgres.CacheSync) *sessionCache {
	return &sessionCache{sync: cs, sessions: map[string]cachedSession{}, users: map[int64]cachedUser{}}
}

// generation is read before the database: put keeps a read only if nothing
// was dropped since.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the session and its user while both are kept, the session
// has not expired, and the listener's lease holds.
func (c *sessionCache) get(key string, now time.Time) (cachedSession, cachedUser, bool) {
	if !c.sync.Valid() {
		return cachedSession{}, cachedUser{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[key]
	if !ok || !now.Before(s.expiry) {
		return cachedSession{}, cachedUser{}, false
	}
	u, ok := c.users[s.userID]
	return s, u, ok
}

// put keeps a session and its user as read from the database after gen.
func (c *sessionCache) put(gen uint64, key string, s cachedSession, u cachedUser) {
	if !c.sync.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.sessions) >= maxCached {
		clear(c.sessions)
	}
	if len(c.users) >= maxCached {
		clear(c.users)
	}
	c.sessions[key] = s
	// Passwords are checked against the user's row (freshPasswordHash),
	// never against a copy: the copy keeps no hash, so a check that used
	// it would fail closed.
	u.user.PasswordHash = ""
	c.users[u.user.ID] = u
}

// invalidate drops what one announcement names (a session or a user); it
// ignores those of migration 0013 (the picker's and the access cache's),
// and any other key, "" included, drops everything.
func (c *sessionCache) invalidate(key string) {
	if _, _, ok := postgres.ParseCacheKey(key); ok {
		return // the picker's and the access cache's
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if strings.HasPrefix(key, "s") {
		delete(c.sessions, key)
		return
	}
	if k, ok := strings.CutPrefix(key, "u"); ok {
		if id, err := strconv.ParseInt(k, 10, 64); err == nil {
			delete(c.users, id)
			return
		}
	}
	clear(c.sessions)
	clear(c.users)
}

func (c *sessionCache) reset() { c.invalidate("") }

// dropUser forgets a user at once on this instance (the announcement
// follows).
func (c *sessionCache) dropUser(id int64) { c.invalidate(postgres.UserCacheKey(id)) }

// dropSession forgets a session at once on this instance.
func (c *sessionCache) dropSession(token string) { c.invalidate(postgres.SessionCacheKey(token)) }

// barrier is the middleware that makes a request which may have changed
// something wait, before its answer leaves, until every instance has
// dropped what the change made stale. Reads (GET, HEAD) do not wait: the
// writes a GET can make (the last opened account, the idle timer) are
// announced too, a moment later.
func (s *Server) barrier(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		bw := &barrierWriter{ResponseWriter: w, wait: func() {
			// The change is made: the barrier runs even if the client has
			// gone, but not for ever when the database does not answer.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), barrierTimeout)
			defer cancel()
			if err := s.cacheSync.Barrier(ctx); err != nil {
				s.log.Error("cache barrier", "request_id", requestIDFrom(r.Context()), "err", err)
			}
		}}
		next.ServeHTTP(bw, r)
		bw.once.Do(bw.wait)
	})
}

// barrierTimeout bounds a barrier: longer than its own worst case (waiting
// for this instance's listener, then for the others, then out a silent
// one's lease), short of a client's patience.
const barrierTimeout = 10 * time.Second

// barrierWriter runs wait once, before the first byte of the answer.
type barrierWriter struct {
	http.ResponseWriter
	once sync.Once
	wait func()
}

func (w *barrierWriter) WriteHeader(code int) {
	w.once.Do(w.wait)
	w.ResponseWriter.WriteHeader(code)
}

func (w *barrierWriter) Write(b []byte) (int, error) {
	w.once.Do(w.wait)
	return w.ResponseWriter.Write(b)
}

func (w *barrierWriter) Flush() {
	w.once.Do(w.wait)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *barrierWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
