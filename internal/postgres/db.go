// Package postgres is the portal's storage: the connection pool, the
// migration runner and every SQL statement, written by hand next to the
// method that runs it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"carrierportal/internal/portal"
)

// Outbox enqueues an email in the caller's transaction, so a committed action
// never loses its email and a rolled-back one never sends it.
type Outbox interface {
	EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error
}

// DB is the portal's store.
type DB struct {
	Pool   *pgxpool.Pool
	Outbox Outbox
	// BaseURL is where email links point; never taken from a request.
	BaseURL string
}

// Open connects a pool sized for the machine and checks the connection.
// The pool drops its connections when the server restarts (resetOnShutdown).
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Page requests are many small queries at once: a parallel plan's
	// worker processes cost more than they save, and on a small machine
	// they take the cores the other requests need.
	if _, ok := cfg.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"]; !ok {
		cfg.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	reset := &resetOnShutdown{}
	cfg.ConnConfig.Tracer = reset
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	reset.pool.Store(pool)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return pool, nil
}

// resetOnShutdown empties the pool when a query learns that the server ended
// its session (a restart or a crash ends every session, not just the one
// that noticed). The pool pings only connections idle for over a second, so
// without this the requests right after a restart would get connections to
// the old server and fail.
type resetOnShutdown struct{ pool atomic.Pointer[pgxpool.Pool] }

// TraceQueryStart is part of pgx.QueryTracer.
func (*resetOnShutdown) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd resets the pool on admin_shutdown (57P01) and
// crash_shutdown (57P02); connections in use are closed when released.
func (r *resetOnShutdown) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	var pgErr *pgconn.PgError
	if !errors.As(data.Err, &pgErr) || (pgErr.Code != "57P01" && pgErr.Code != "57P02") {
		return
	}
	if pool := r.pool.Load(); pool != nil {
		pool.Reset()
	}
}

// tx runs fn in a transaction.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, fn)
}

// mapErr turns driver errors into domain errors at the store boundary.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var pe *portal.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return portal.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &portal.Error{Code: portal.ECONFLICT, Message: "That already exists.", Err: err}
		case "23514":
			return &portal.Error{Code: portal.ECONFLICT, Message: "That change is not allowed.", Err: err}
		}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// isUniqueViolation reports a unique-constraint failure, optionally of one
// named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}
