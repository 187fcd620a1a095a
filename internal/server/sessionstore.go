package server

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// sessionStore is the scs store: pgxstore, plus a read that fetches the
// session and its user in one round trip once this process knows whose
// token it is, and the session cache (sessioncache.go) in front of that
// read. The cache is coherent across instances, so a sign-out, a password
// change or an expiry on any instance counts on the very next request
// everywhere. The token's user id is only a hint for which user row to
// join; authenticate checks it against the session's own data.
type sessionStore struct {
	*pgxstore.PostgresStore
	db    *postgres.DB
	hints *bounded[string, int64]
	cache *sessionCache
	// picks keeps header pickers, access users' access to accounts (both
	// set by New).
	picks  *pickerCache
	access *accessCache
}

func newSessionStore(db *postgres.DB, cache *sessionCache) *sessionStore {
	return &sessionStore{PostgresStore: pgxstore.NewWithCleanupInterval(db.Pool, 0), db: db,
		hints: newBounded[string, int64](100_000), cache: cache}
}

// sessionPrefetch carries, for one request, what the store read along with
// the session for authenticate, and for loadAccount on a page of an
// account.
type sessionPrefetch struct {
	token  string
	prefix string                // the account of the page (GET only), or ""
	userID int64                 // the user the joined read asked for
	read   *postgres.SessionRead // nil unless the joined read ran or the cache answered
	gen    uint64                // the cache's generation before the read
	cached bool                  // read came from the cache
}

// pageAccount is the tech prefix of the account whose page a GET asks for
// ("" for any other request): its access and picker are read with the
// session.
func pageAccount(r *http.Request) string {
	if r.Method != http.MethodGet {
		return ""
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/accounts/")
	if !ok {
		return ""
	}
	prefix, _, _ := strings.Cut(rest, "/")
	return prefix
}

type prefetchKey struct{}

// FindCtx is scs's read of a session.
func (st *sessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	pf, _ := ctx.Value(prefetchKey{}).(*sessionPrefetch)
	if pf == nil {
		return st.PostgresStore.Find(token)
	}
	pf.token = token
	if sess, u, ok := st.cache.get(postgres.SessionCacheKey(token), time.Now()); ok {
		user := u.user
		sr := &postgres.SessionRead{Found: true, Data: sess.data, Expiry: sess.expiry, User: &user, LastAccountID: u.lastAccountID}
		if portal.ValidTechPrefix(pf.prefix) {
			ar, err := st.accountRead(ctx, sess.userID, pf.prefix)
			if err != nil {
				return nil, false, err
			}
			sr.Account = ar
		}
		pf.userID, pf.read, pf.cached = sess.userID, sr, true
		st.cache.hits.Add(1)
		return sess.data, true, nil
	}
	pf.gen = st.cache.generation()
	uid, ok := st.hints.get(token)
	if !ok {
		return st.PostgresStore.Find(token)
	}
	sr, err := st.db.SessionWithUser(ctx, token, uid, pf.prefix)
	if err != nil {
		return nil, false, err
	}
	pf.userID, pf.read = uid, sr
	return sr.Data, sr.Found, nil
}

// accountRead is the user's access to the account and the header picker
// there, for a known session: each from memory when it is kept, so that a
// page of an account may need no round trip; what is not kept is read in
// one round trip, and kept.
func (st *sessionStore) accountRead(ctx context.Context, userID int64, prefix string) (*postgres.AccountRead, error) {
	h, hgen, hkept := st.picks.header(userID, prefix)
	aa, agen, akept := st.access.get(userID, prefix)
	if hkept && akept {
		return &postgres.AccountRead{TechPrefix: prefix, Access: &postgres.AccessResult{AccountAccess: aa}, Picker: h}, nil
	}
	ar, err := st.db.AccountRead(ctx, userID, prefix, !hkept)
	if err != nil {
		return nil, err
	}
	if hkept {
		ar.Picker = h
	} else {
		st.picks.putHeader(hgen, userID, prefix, ar.Picker)
	}
	if ar.Access.Err == nil {
		st.access.put(agen, userID, prefix, ar.Access.AccountAccess)
	}
	return ar, nil
}

// CommitCtx is scs's write of a session; this instance forgets its copy at
// once (every instance does when the write is announced).
func (st *sessionStore) CommitCtx(_ context.Context, token string, b []byte, expiry time.Time) error {
	err := st.PostgresStore.Commit(token, b, expiry)
	st.cache.dropSession(token)
	return err
}

// DeleteCtx forgets the token along with the session.
func (st *sessionStore) DeleteCtx(_ context.Context, token string) error {
	st.hints.del(token)
	err := st.PostgresStore.Delete(token)
	st.cache.dropSession(token)
	return err
}

// loadSession is the customer realm's session chain: load the session
// (with its user, in one read, when possible), then authenticate.
func (s *Server) loadSession(next http.Handler) http.Handler {
	h := s.sessions.LoadAndSave(s.authenticate(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), prefetchKey{}, &sessionPrefetch{prefix: pageAccount(r)})))
	})
}

// sessionUser returns the signed-in user uid: from the store's joined read
// when it read that user, else from the database (and the store learns the
// token's user for the next request).
func (s *Server) sessionUser(ctx context.Context, uid int64) (*portal.User, error) {
	pf, _ := ctx.Value(prefetchKey{}).(*sessionPrefetch)
	if pf != nil && pf.read != nil && pf.userID == uid {
		if pf.read.User == nil {
			return nil, portal.ErrNotFound
		}
		if !pf.cached && pf.read.Found {
			// The joined read of a session that names this user: keep both.
			s.store.cache.put(pf.gen, postgres.SessionCacheKey(pf.token), cachedSession{data: pf.read.Data, expiry: pf.read.Expiry, userID: uid},
				cachedUser{user: *pf.read.User, lastAccountID: pf.read.LastAccountID})
		}
		return pf.read.User, nil
	}
	u, err := s.db.UserByID(ctx, uid)
	if err == nil && pf != nil && pf.token != "" {
		s.store.hints.put(pf.token, uid)
	}
	return u, err
}

// prefetchedAccount is what the session read found about the account with
// this tech prefix for user uid, or nil when it did not read it for them.
// The read was made for the user the token was last seen with; it counts
// only when that is the signed-in user.
func prefetchedAccount(ctx context.Context, uid int64, prefix string) *postgres.AccountRead {
	pf, _ := ctx.Value(prefetchKey{}).(*sessionPrefetch)
	if pf == nil || pf.read == nil || pf.userID != uid || pf.read.User == nil || pf.read.Account == nil ||
		pf.read.Account.TechPrefix != prefix {
		return nil
	}
	return pf.read.Account
}

// lastAccountIs reports whether the read made for this request found that
// the user's last opened account already is id (so nothing to record).
func lastAccountIs(ctx context.Context, id int64) bool {
	pf, _ := ctx.Value(prefetchKey{}).(*sessionPrefetch)
	return pf != nil && pf.read != nil && pf.read.User != nil && pf.read.LastAccountID == id
}

// gobCodec is scs's gob codec with the decoded values remembered by the
// exact bytes they came from. gob compiles a decoder for every session it
// reads, which cost more than the rest of the session check; the same
// bytes always decode to the same values, so this changes nothing else
// (the stored format stays scs's).
type gobCodec struct {
	scs.GobCodec
	decoded *bounded[string, decodedSession]
}

type decodedSession struct {
	deadline time.Time
	values   map[string]any
}

func newGobCodec() *gobCodec { return &gobCodec{decoded: newBounded[string, decodedSession](10_000)} }

// Decode returns a fresh copy of the values: scs changes them in place.
func (c *gobCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if d, ok := c.decoded.get(string(b)); ok {
		return d.deadline, maps.Clone(d.values), nil
	}
	deadline, values, err := c.GobCodec.Decode(b)
	if err != nil {
		return deadline, values, err
	}
	c.decoded.put(string(b), decodedSession{deadline, maps.Clone(values)})
	return deadline, values, nil
}

// bounded is a concurrent map that starts over when it holds n entries: a
// cache of hints that may be lost at any time.
type bounded[K comparable, V any] struct {
	mu sync.RWMutex
	n  int
	m  map[K]V
}

func newBounded[K comparable, V any](n int) *bounded[K, V] {
	return &bounded[K, V]{n: n, m: make(map[K]V)}
}

func (b *bounded[K, V]) get(k K) (V, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *bounded[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) >= b.n {
		clear(b.m)
	}
	b.m[k] = v
}

func (b *bounded[K, V]) del(k K) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}
