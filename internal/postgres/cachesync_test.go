package postgres

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// recorder is an instance's cache as CacheSync sees it: the keys it was told
// to drop, and how often it was told to drop everything.
type recorder struct {
	mu     sync.Mutex
	keys   []string
	resets int
	block  chan struct{} // if set, Invalidate waits on it (a stuck instance)
	delay  time.Duration // a slow instance
}

func (r *recorder) invalidate(k string) {
	if r.block != nil {
		<-r.block
	}
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, k)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
}

func (r *recorder) has(k string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.keys, k)
}

// startSync runs a CacheSync on pool until the test ends and waits until
// its listener holds a lease.
func startSync(t *testing.T, pool *pgxpool.Pool, rec *recorder, tune func(*CacheSync)) *CacheSync {
	t.Helper()
	cs := NewCacheSync(pool)
	cs.Invalidate, cs.Reset = rec.invalidate, rec.reset
	if tune != nil {
		tune(cs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cs.Run(ctx); close(done) }()
	t.Cleanup(func() {
		if rec.block != nil {
			select {
			case <-rec.block:
			default:
				close(rec.block)
			}
		}
		cancel()
		<-done
	})
	waitFor(t, "listener up", cs.Valid)
	return cs
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestCacheSyncAnnouncesSessionAndUserChanges(t *testing.T) {
	pool := NewTestPool(t)
	ctx := context.Background()
	rec := &recorder{}
	startSync(t, pool, rec, nil)
	var uid int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, full_name) VALUES ('c@example.test', 'C') RETURNING id`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	const token = "token-of-a-session"
	for _, sql := range []string{
		`INSERT INTO sessions (token, data, expiry) VALUES ('` + token + `', '\x00', now() + interval '1 hour')`,
		`INSERT INTO sessions (token, data, expiry) VALUES ('other', '\x00', now() + interval '1 hour')`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		sql, key string
	}{
		{`UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ` + itoa64(uid), UserCacheKey(uid)},
		{`UPDATE sessions SET data = '\x01' WHERE token = '` + token + `'`, SessionCacheKey(token)},
		// scs writes with an upsert: the conflict is an update.
		{`INSERT INTO sessions (token, data, expiry) VALUES ('other', '\x02', now() + interval '1 hour')
			ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data`, SessionCacheKey("other")},
		{`DELETE FROM sessions WHERE token = '` + token + `'`, SessionCacheKey(token)},
	}
	for _, st := range steps {
		if _, err := pool.Exec(ctx, st.sql); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st.key, func() bool { return rec.has(st.key) })
	}
	for _, k := range rec.keys {
		if len(k) > 1 && k[0] == 's' && (k[1:] == token || k[1:] == "other") {
			t.Fatalf("a session token was announced in the clear: %q", k)
		}
	}
}

// Once Barrier returns on one instance, every other instance has dropped
// what was changed before it: no waiting, no polling.
func TestCacheSyncBarrierWaitsForEveryInstance(t *testing.T) {
	url := NewTestDB(t)
	ctx := context.Background()
	open := func() *pgxpool.Pool {
		p, err := Open(ctx, url, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	pa, pb, pc := open(), open(), open()
	a := startSync(t, pa, &recorder{}, nil)
	// B and C take their time over each announcement.
	recB, recC := &recorder{delay: 20 * time.Millisecond}, &recorder{delay: 5 * time.Millisecond}
	startSync(t, pb, recB, nil)
	startSync(t, pc, recC, nil)
	// Each round changes a user never changed before, so the announcement
	// B and C must have seen can only come from that round's change.
	for i := range 30 {
		var uid int64
		if err := pa.QueryRow(ctx, `INSERT INTO users (email, full_name) VALUES ($1, 'B') RETURNING id`,
			"b"+itoa64(int64(i))+"@example.test").Scan(&uid); err != nil {
			t.Fatal(err)
		}
		if _, err := pa.Exec(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1`, uid); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := a.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		if !recB.has(UserCacheKey(uid)) || !recC.has(UserCacheKey(uid)) {
			t.Fatalf("round %d: barrier returned before every instance dropped the user", i)
		}
		if d := time.Since(start); d >= a.AckTimeout {
			t.Fatalf("round %d: barrier took %v: an instance did not answer", i, d)
		}
	}
}

// An instance that does not answer loses its listener, and Barrier returns
// only once that instance has stopped using its copies.
func TestCacheSyncBarrierOutlastsASilentInstance(t *testing.T) {
	url := NewTestDB(t)
	ctx := context.Background()
	open := func() *pgxpool.Pool {
		p, err := Open(ctx, url, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	fast := func(cs *CacheSync) {
		cs.Ping, cs.Lease, cs.AckTimeout = 50*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	}
	pa, pb := open(), open()
	a := startSync(t, pa, &recorder{}, fast)
	stuck := &recorder{block: make(chan struct{})}
	b := startSync(t, pb, stuck, fast)
	var uid int64
	if err := pa.QueryRow(ctx, `INSERT INTO users (email, full_name) VALUES ('s@example.test', 'S') RETURNING id`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	// B's listener takes the announcement and then hangs on it.
	if _, err := pa.Exec(ctx, `UPDATE users SET full_name = 'T' WHERE id = $1`, uid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Valid() {
		t.Fatal("barrier returned while the silent instance may still use its copies")
	}
	if d := time.Since(start); d < a.AckTimeout {
		t.Fatalf("barrier returned after %v, before the silent instance could have answered", d)
	}
	// Its listener connection was ended.
	var n int
	if err := pa.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, cacheListenerName+b.ID()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the silent instance still has %d listener connections", n)
	}
	// Once it wakes up it starts over: drops everything, listens again.
	resets := func() int { stuck.mu.Lock(); defer stuck.mu.Unlock(); return stuck.resets }()
	close(stuck.block)
	waitFor(t, "reconnect", func() bool {
		stuck.mu.Lock()
		defer stuck.mu.Unlock()
		return stuck.resets > resets && b.Valid()
	})
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
