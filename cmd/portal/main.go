// Command portal is the Carrier Portal: the web server, the email worker and
// the operator commands, in one binary.
//
//	portal serve                 run the web server and email worker
//	portal migrate               apply database migrations
//	portal seed --demo           load the demo data (idempotent)
//	portal seed --large          load the benchmark data set (once)
//	portal staff create --email  add a carrier staff user
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"carrierportal/internal/config"
	"carrierportal/internal/mail"
	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/internal/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

const usage = `usage: portal <command>

commands:
  serve                       run the web server and the email worker
  migrate                     apply database migrations
  seed --demo                 load the demo data (idempotent)
  seed --large [--scale F]    load the benchmark data set into DATABASE_URL, once
                              (--cdrs, --accounts, --users, --dids, --months, --anchor YYYY-MM-DD)
  staff create --email EMAIL  add a staff user (password from PORTAL_STAFF_PASSWORD or a prompt)
`

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, logger)
	case "migrate":
		return migrate(ctx, cfg, logger)
	case "seed":
		fs := flag.NewFlagSet("seed", flag.ContinueOnError)
		demo := fs.Bool("demo", false, "load the demo data")
		large := fs.Bool("large", false, "load the benchmark data set")
		lo := largeFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		switch {
		case *demo && !*large:
			return seedDemo(ctx, cfg, logger)
		case *large && !*demo:
			o, err := lo()
			if err != nil {
				return err
			}
			return seedLarge(ctx, cfg, logger, o)
		}
		return errors.New("seed: say which data set: --demo or --large")
	case "staff":
		if len(args) < 2 || args[1] != "create" {
			return errors.New("usage: portal staff create --email EMAIL [--name NAME]")
		}
		fs := flag.NewFlagSet("staff create", flag.ContinueOnError)
		email := fs.String("email", "", "staff email address")
		name := fs.String("name", "", "staff full name")
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		return staffCreate(ctx, cfg, *email, *name)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func openDB(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	return postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
}

func migrate(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	logger.Info("migrations applied", "count", len(applied), "versions", strings.Join(applied, ","))
	return nil
}

// newStore wires the store with an outbox on an insert-only job client.
func newStore(pool *pgxpool.Pool, cfg *config.Config) (*postgres.DB, error) {
	client, err := mail.NewClient(pool, nil, 0)
	if err != nil {
		return nil, err
	}
	return &postgres.DB{Pool: pool, Outbox: mail.NewQueue(client, mail.KeyFromSecret(cfg.Secret)), BaseURL: cfg.BaseURL}, nil
}

func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.Development() {
		if _, err := postgres.Migrate(ctx, pool); err != nil {
			return err
		}
	}
	db := &postgres.DB{Pool: pool, BaseURL: cfg.BaseURL}
	var sender mail.Sender
	if cfg.SMTPURL != "" {
		if sender, err = mail.NewSMTPSender(cfg.SMTPURL, cfg.MailFrom); err != nil {
			return err
		}
	} else if cfg.Development() {
		sender = mail.NewDevSender(db, cfg.BaseURL, logger)
	} else {
		return errors.New("SMTP_URL is required outside development")
	}
	key := mail.KeyFromSecret(cfg.Secret)
	client, err := mail.NewClient(pool, mail.NewWorker(pool, sender, key, logger), cfg.EmailWorkers)
	if err != nil {
		return err
	}
	db.Outbox = mail.NewQueue(client, key)
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start email worker: %w", err)
	}

	app := server.New(cfg, db, logger)
	// The cache listener outlives the HTTP server: requests still running
	// during the shutdown need it to answer their barriers.
	cacheCtx, stopCache := context.WithCancel(context.Background())
	defer stopCache()
	go app.RunCacheSync(cacheCtx)
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("serving", "addr", cfg.Addr, "base_url", cfg.BaseURL, "env", cfg.Env)
	if cfg.Development() {
		fmt.Fprintf(os.Stderr, "\n  Carrier Portal is running at %s\n  Development mailbox: %s/dev/mailbox\n\n", cfg.BaseURL, cfg.BaseURL)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if serr := client.Stop(shutCtx); serr != nil && err == nil {
		err = serr
	}
	return err
}

func seedDemo(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return err
	}
	db, err := newStore(pool, cfg)
	if err != nil {
		return err
	}
	created, err := db.SeedDemo(ctx)
	if err != nil {
		return err
	}
	if created {
		logger.Info("demo data loaded")
	} else {
		logger.Info("demo data already present")
	}
	fmt.Println(postgres.DemoLogins(cfg.BaseURL))
	return nil
}

// largeFlags declares the sizes of the large data set; the function it
// returns reads them once the flags are parsed.
func largeFlags(fs *flag.FlagSet) func() (postgres.LargeOptions, error) {
	d := postgres.DefaultLargeOptions()
	scale := fs.Float64("scale", 1, "multiply every default count by this")
	cdrs := fs.Int("cdrs", 0, fmt.Sprintf("call records (default %d × scale)", d.CDRs))
	accounts := fs.Int("accounts", 0, fmt.Sprintf("sub-accounts (default %d × scale)", d.SubAccounts))
	users := fs.Int("users", 0, fmt.Sprintf("users (default %d × scale)", d.Users))
	dids := fs.Int("dids", 0, fmt.Sprintf("phone numbers (default %d × scale)", d.DIDs))
	months := fs.Int("months", d.Months, "calendar months of calls, ending with the anchor's")
	anchor := fs.String("anchor", "", "last day with calls, YYYY-MM-DD (default today, UTC)")
	return func() (postgres.LargeOptions, error) {
		if *scale <= 0 {
			return d, errors.New("seed: --scale must be positive")
		}
		o := d.Scaled(*scale)
		for _, f := range []struct{ v, dst *int }{{cdrs, &o.CDRs}, {accounts, &o.SubAccounts}, {users, &o.Users}, {dids, &o.DIDs}} {
			if *f.v > 0 {
				*f.dst = *f.v
			}
		}
		o.Months = *months
		if *anchor != "" {
			t, err := time.Parse(time.DateOnly, *anchor)
			if err != nil {
				return d, errors.New("seed: --anchor must be a date like 2026-12-04")
			}
			o.Anchor = t
		}
		return o, nil
	}
}

// seedLarge loads the benchmark data set, unless the database has it.
func seedLarge(ctx context.Context, cfg *config.Config, logger *slog.Logger, o postgres.LargeOptions) error {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return err
	}
	db := &postgres.DB{Pool: pool, BaseURL: cfg.BaseURL}
	bar := newProgressBar(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	o.Progress = bar.update
	start := time.Now()
	created, err := db.SeedLarge(ctx, o)
	bar.finish()
	if err != nil {
		return err
	}
	info, err := db.LargeSet(ctx)
	if err != nil {
		return err
	}
	msg := "large data set already present"
	if created {
		msg = "large data set loaded"
	}
	logger.Info(msg, "sub_accounts", info.SubAccounts, "cdrs", info.CDRs, "first_day", info.First.Format(time.DateOnly),
		"last_day", info.Last.Format(time.DateOnly), "seconds", int(time.Since(start).Seconds()))
	fmt.Printf("Large family: root %s, principal %s (password %s)\n", postgres.LargeRootPrefix, postgres.LargePrincipalEmail, postgres.DemoPassword)
	return nil
}

func staffCreate(ctx context.Context, cfg *config.Config, email, name string) error {
	email, err := portal.CleanEmail("email", email)
	if err != nil {
		return errors.New("staff create: --email must be a valid email address")
	}
	if name == "" {
		name = strings.Split(email, "@")[0]
	}
	password := os.Getenv("PORTAL_STAFF_PASSWORD")
	if password == "" {
		if password, err = readPassword(os.Stdin); err != nil {
			return err
		}
	}
	if err := portal.CheckPassword("password", password); err != nil {
		return errors.New("staff create: " + portal.ErrorMessage(err))
	}
	hash, err := portal.HashPassword(password)
	if err != nil {
		return err
	}
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := &postgres.DB{Pool: pool}
	id, err := db.CreateStaff(ctx, email, name, hash)
	if err != nil {
		return err
	}
	fmt.Printf("staff user %s ready (id %d)\n", email, id)
	return nil
}

// readPassword prompts on a terminal without echo, or reads one line from a
// pipe.
func readPassword(in *os.File) (string, error) {
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
