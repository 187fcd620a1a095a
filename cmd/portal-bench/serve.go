package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"carrierportal/internal/config"
	"carrierportal/internal/mail"
	"carrierportal/internal/postgres"
	"carrierportal/internal/server"
)

// fortune is one row of the Fortunes baseline.
type fortune struct {
	id      int
	message string
}

// fortuneRows are TechEmpower's twelve fortunes, markup and all: the page
// must escape them.
var fortuneRows = []string{
	"fortune: No such file or directory",
	"A computer scientist is someone who fixes things that aren't broken.",
	"After enough decimal places, nobody gives a damn.",
	"A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
	"A computer program does what you tell it to do, not what you want it to do.",
	"Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
	"Any program that runs right is obsolete.",
	"A list is only as strong as its weakest link. — Donald Knuth",
	"Feature: A bug with seniority.",
	"Computers make very fast, very accurate mistakes.",
	`<script>alert("This should not be displayed in a browser alert box.");</script>`,
	"フレームワークのベンチマーク",
}

// ensureFortunes creates the baseline's table in the benchmark database.
func ensureFortunes(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS fortune (id integer PRIMARY KEY, message text NOT NULL)`); err != nil {
			return err
		}
		for i, m := range fortuneRows {
			if _, err := tx.Exec(ctx, `INSERT INTO fortune (id, message) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET message = EXCLUDED.message`,
				i+1, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// fortunesHandler is B1: read every fortune, add one, sort by message and
// render an escaped HTML table with templ.
func fortunesHandler(pool *pgxpool.Pool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rows, err := pool.Query(r.Context(), `SELECT id, message FROM fortune`)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list := make([]fortune, 0, 16)
		var f fortune
		_, err = pgx.ForEachRow(rows, []any{&f.id, &f.message}, func() error { list = append(list, f); return nil })
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list = append(list, fortune{0, "Additional fortune added at request time."})
		slices.SortFunc(list, func(a, b fortune) int { return strings.Compare(a.message, b.message) })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = FortunesPage(list).Render(r.Context(), w)
	}
}

// baselines is the small server of B0, B1 and B2 on the portal's stack.
func baselines(pool *pgxpool.Pool, portal *server.Server) http.Handler {
	r := chi.NewRouter()
	r.Get("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Hello, World!")
	})
	r.Get("/fortunes", fortunesHandler(pool))
	r.Method(http.MethodGet, "/fortunes-session", portal.RequireSignedIn(fortunesHandler(pool)))
	return r
}

// serve is the child process: the real portal server and the baselines,
// side by side in one process on one pool, until stdin closes (the parent
// is gone) or the context ends. It prints "ready PORTAL BASELINES".
func serve(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return err
	}
	if err := ensureFortunes(ctx, pool); err != nil {
		return fmt.Errorf("fortune table: %w", err)
	}
	client, err := mail.NewClient(pool, nil, 0)
	if err != nil {
		return err
	}
	db := &postgres.DB{Pool: pool, Outbox: mail.NewQueue(client, mail.KeyFromSecret(cfg.Secret)), BaseURL: cfg.BaseURL}
	portal := server.New(cfg, db, logger)
	go portal.RunCacheSync(ctx)
	errc := make(chan error, 2)
	var addrs []string
	for _, h := range []http.Handler{portal, baselines(pool, portal)} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go func() { errc <- srv.Serve(ln) }()
	}
	if addr := os.Getenv("PORTAL_BENCH_PPROF"); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { errc <- http.ListenAndServe(addr, mux) }()
	}
	fmt.Printf("ready %s %s\n", addrs[0], addrs[1])
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		errc <- nil
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
}
