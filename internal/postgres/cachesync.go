package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CacheSync keeps an instance's in-memory copies of database rows coherent
// with the database and with every other instance.
//
// Triggers announce every change to a stored session or a user on the
// portal_cache channel when its transaction commits (migration 0011), and
// every change to a family, to an account's names, status or family, to a
// user's roles and to a user's recent accounts (migration 0013). Run
// listens on a connection of its own and hands each announcement to
// Invalidate. Copies may be used only while Valid: the listener is
// connected and has proved so within the lease. An instance whose listener
// falls silent stops using its copies within the lease, and drops them all
// (Reset) before it uses any again.
//
// Announcements arrive a moment after the commit. Barrier closes that gap:
// a request that changed something calls it before it answers, and it
// returns once every instance listening on the database has dealt with
// every announcement committed before it (Postgres delivers notifications
// in commit order, so an instance that has seen the barrier has seen them
// all). An instance that does not answer in time has its listener
// connection ended, and Barrier waits out its lease. So once a request that
// signed out, changed a password or revoked a session has answered, no
// instance serves the old session or user from memory.
type CacheSync struct {
	pool *pgxpool.Pool
	id   string // this instance, as its listener's application_name shows it

	// Invalidate is called, on the listener's goroutine, with the key of
	// each announcement (SessionCacheKey, UserCacheKey, ParseCacheKey's);
	// Reset when every
	// copy must go (the listener connected or lost its
	// connection). Both must be set before Run.
	Invalidate func(key string)
	Reset      func()
	// OnError, if set, hears why the listener stopped (it reconnects).
	OnError func(error)

	// Ping is how often the listener proves its connection; Lease how long
	// a proof lasts; AckTimeout how long Barrier waits for the others.
	Ping, Lease, AckTimeout time.Duration

	leaseUntil atomic.Int64 // monotonic nanoseconds since start; 0: not valid
	start      time.Time

	seq     atomic.Uint64
	mu      sync.Mutex
	waiting map[uint64]*barrierWait
}

type barrierWait struct {
	listed  bool            // pending is known
	pending map[string]bool // instance ids still to answer, once listed
	early   map[string]bool // answers that came before the list
	done    chan struct{}
}

const (
	cacheChannel      = "portal_cache"
	cacheAckPrefix    = "portal_cache_ack_"
	cacheListenerName = "portal-cache "
)

// SessionCacheKey is how announcements name a stored session: "s" and the
// SHA-256 of its token in hex (migration 0011), never the token itself.
func SessionCacheKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "s" + hex.EncodeToString(sum[:])
}

// UserCacheKey is how announcements name a user: "u" and the user's id.
func UserCacheKey(id int64) string { return "u" + strconv.FormatInt(id, 10) }

// The announcements of migration 0013, each a letter and an id: an
// account's name, prefix, status or family changed ("a" and the family's
// root), a user's roles or revocations ("m" and the user), a user's recent
// accounts ("r" and the user), anything of a family ("f" and its root, at
// the commit that raised its version).
const (
	AccountChanged = 'a'
	RolesChanged   = 'm'
	RecentChanged  = 'r'
	FamilyChanged  = 'f'
)

// ParseCacheKey splits an announcement of migration 0013 into its letter
// and id; ok is false for any other.
func ParseCacheKey(key string) (kind byte, id int64, ok bool) {
	if len(key) < 2 || strings.IndexByte("amrf", key[0]) < 0 {
		return 0, 0, false
	}
	id, err := strconv.ParseInt(key[1:], 10, 64)
	if err != nil || id < 0 {
		return 0, 0, false
	}
	return key[0], id, true
}

// FamilyCacheKey is how announcements name a family: "f" and its root id.
func FamilyCacheKey(root int64) string { return "f" + strconv.FormatInt(root, 10) }

// NewCacheSync makes the synchronisation for one instance; Run starts it.
func NewCacheSync(pool *pgxpool.Pool) *CacheSync {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &CacheSync{
		pool: pool, id: hex.EncodeToString(b[:]), start: time.Now(),
		Ping: 250 * time.Millisecond, Lease: time.Second, AckTimeout: 2 * time.Second,
		waiting: make(map[uint64]*barrierWait),
	}
}

// ID names this instance.
func (cs *CacheSync) ID() string { return cs.id }

func (cs *CacheSync) now() int64 { return int64(time.Since(cs.start)) }

// Valid reports whether copies may be used now.
func (cs *CacheSync) Valid() bool {
	return cs != nil && cs.now() < cs.leaseUntil.Load()
}

// Run listens until ctx ends, reconnecting after a failure.
func (cs *CacheSync) Run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := cs.listen(ctx)
		if cs.leaseUntil.Load() != 0 {
			backoff = 50 * time.Millisecond // it was up: start over quickly
		}
		cs.leaseUntil.Store(0)
		cs.Reset()
		if ctx.Err() != nil {
			return
		}
		if cs.OnError != nil {
			cs.OnError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (cs *CacheSync) listen(ctx context.Context) error {
	cfg := cs.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+cacheChannel+`; LISTEN `+cacheAckPrefix+cs.id); err != nil {
		return err
	}
	// Listening from here on: drop what was kept, then show up for the
	// barriers of the others.
	cs.Reset()
	if _, err := conn.Exec(ctx, `SELECT set_config('application_name', $1, false)`, cacheListenerName+cs.id); err != nil {
		return err
	}
	lastPing := time.Time{}
	for {
		if since := time.Since(lastPing); since >= cs.Ping {
			started := cs.now()
			if err := conn.PgConn().Ping(ctx); err != nil {
				return err
			}
			cs.leaseUntil.Store(started + int64(cs.Lease))
			lastPing = time.Now()
		}
		wctx, cancel := context.WithTimeout(ctx, cs.Ping-time.Since(lastPing))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return err
		}
		if err := cs.handle(ctx, conn, n.Channel, n.Payload); err != nil {
			return err
		}
	}
}

func (cs *CacheSync) handle(ctx context.Context, conn *pgx.Conn, channel, payload string) error {
	if channel != cacheChannel {
		// An answer to one of our barriers: "<seq> <instance>".
		seqText, who, _ := strings.Cut(payload, " ")
		seq, _ := strconv.ParseUint(seqText, 10, 64)
		cs.mu.Lock()
		if w := cs.waiting[seq]; w != nil {
			if !w.listed {
				w.early[who] = true
			} else if w.pending[who] {
				delete(w.pending, who)
				if len(w.pending) == 0 {
					close(w.done)
				}
			}
		}
		cs.mu.Unlock()
		return nil
	}
	if rest, ok := strings.CutPrefix(payload, "b"); ok {
		// A barrier "b<instance> <seq>": everything committed before it has
		// been dealt with; answer it.
		origin, seq, _ := strings.Cut(rest, " ")
		_, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, cacheAckPrefix+origin, seq+" "+cs.id)
		return err
	}
	cs.Invalidate(payload)
	return nil
}

// Barrier returns once every instance listening on this database has dealt
// with every change committed before the call, ending the listener of any
// instance that does not answer within AckTimeout and waiting out its
// lease.
func (cs *CacheSync) Barrier(ctx context.Context) error {
	// The answers come to this instance's listener: give it the time it
	// would give the others to come up.
	for deadline := time.Now().Add(cs.AckTimeout); !cs.Valid() && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	seq := cs.seq.Add(1)
	w := &barrierWait{pending: map[string]bool{}, early: map[string]bool{}, done: make(chan struct{})}
	cs.mu.Lock()
	cs.waiting[seq] = w
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		delete(cs.waiting, seq)
		cs.mu.Unlock()
	}()
	// The listeners are read in the statement that sends the barrier: any
	// listener not among them started listening after, and keeps nothing
	// read before.
	var pids []int32
	var names []string
	err := cs.pool.QueryRow(ctx, `SELECT pg_notify($1, $2),
			coalesce(array_agg(pid ORDER BY pid), '{}'), coalesce(array_agg(application_name ORDER BY pid), '{}')
		FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE $3`,
		cacheChannel, "b"+cs.id+" "+strconv.FormatUint(seq, 10), cacheListenerName+"%").Scan(nil, &pids, &names)
	if err != nil {
		return fmt.Errorf("cache barrier: %w", err)
	}
	byID := map[string]int32{}
	cs.mu.Lock()
	for i, name := range names {
		id := strings.TrimPrefix(name, cacheListenerName)
		byID[id] = pids[i]
		if !w.early[id] {
			w.pending[id] = true
		}
	}
	w.listed = true
	if len(w.pending) == 0 {
		close(w.done)
	}
	cs.mu.Unlock()
	timer := time.NewTimer(cs.AckTimeout)
	defer timer.Stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	// Silent instances: end their listeners, then wait until whatever lease
	// they last proved has run out.
	cs.mu.Lock()
	var silent []int32
	for id := range w.pending {
		silent = append(silent, byID[id])
	}
	cs.mu.Unlock()
	if len(silent) == 0 {
		return nil
	}
	if _, err := cs.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid`, silent); err != nil {
		return fmt.Errorf("cache barrier: %w", err)
	}
	select {
	case <-time.After(cs.Lease + 50*time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
