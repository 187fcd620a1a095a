package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"carrierportal/internal/config"
	"carrierportal/internal/mail"
	"carrierportal/internal/postgres"
)

// testApp is the real portal over httptest on a fresh database, with the
// email worker delivering into the development mailbox.
type testApp struct {
	t    testing.TB
	srv  *httptest.Server
	app  *Server
	db   *postgres.DB
	pool *pgxpool.Pool
	cfg  *config.Config
}

// testBaseURL is where email links point in tests: deliberately not the
// httptest address, to show links never come from the request's Host.
const testBaseURL = "https://portal.example.test"

func newTestApp(t testing.TB, env map[string]string) *testApp {
	t.Helper()
	return startTestApp(t, postgres.NewTestDB(t), env)
}

// startTestApp starts an instance of the portal on an existing database;
// several instances on one database stand for a scaled-out deployment.
func startTestApp(t testing.TB, dbURL string, env map[string]string) *testApp {
	t.Helper()
	return startTestAppWith(t, dbURL, env, testAppOptions{})
}

// testAppOptions changes how a test app is built; the zero value is the
// usual app.
type testAppOptions struct {
	// logs, if set, receives every line the server, the email worker and
	// the development mailer log, at every level, as text.
	logs io.Writer
	// cacheDelay, if set, slows the instance's handling of each cache
	// announcement, as a busy instance would be.
	cacheDelay time.Duration
}

// startTestAppWith is startTestApp with options.
func startTestAppWith(t testing.TB, dbURL string, env map[string]string, opts testAppOptions) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	vars := map[string]string{"DATABASE_URL": dbURL, "PORTAL_ENV": "test", "PORTAL_BASE_URL": testBaseURL}
	for k, v := range env {
		vars[k] = v
	}
	// Browser tests follow email links, so they point them at the server.
	if vars["PORTAL_BASE_URL"] == "self" {
		vars["PORTAL_BASE_URL"] = "http://" + srv.Listener.Addr().String()
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, dbURL, 20)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(pool.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.logs != nil {
		logger = slog.New(slog.NewTextHandler(opts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	db := &postgres.DB{Pool: pool, BaseURL: cfg.BaseURL}
	key := mail.KeyFromSecret(cfg.Secret)
	client, err := mail.NewClient(pool, mail.NewWorker(pool, mail.NewDevSender(db, cfg.BaseURL, logger), key, logger), 2)
	if err != nil {
		t.Fatalf("river: %v", err)
	}
	db.Outbox = mail.NewQueue(client, key)
	if err := client.Start(ctx); err != nil {
		t.Fatalf("river start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})
	app := New(cfg, db, logger)
	if d := opts.cacheDelay; d > 0 {
		drop := app.cacheSync.Invalidate
		app.cacheSync.Invalidate = func(key string) { time.Sleep(d); drop(key) }
	}
	cacheCtx, stopCache := context.WithCancel(context.Background())
	cacheDone := make(chan struct{})
	go func() { app.RunCacheSync(cacheCtx); close(cacheDone) }()
	t.Cleanup(func() { stopCache(); <-cacheDone })
	for deadline := time.Now().Add(10 * time.Second); !app.cacheSync.Valid(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("session cache listener did not start")
		}
	}
	srv.Config.Handler = app
	srv.Start()
	t.Cleanup(srv.Close)
	return &testApp{t: t, srv: srv, app: app, db: db, pool: pool, cfg: cfg}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is a browser-like HTTP client with its own cookie jar that does not
// follow redirects, so tests see each response.
type client struct {
	t   testing.TB
	app *testApp
	hc  *http.Client
}

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, app: a, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// response is a read response.
type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(b)}
}

func (c *client) get(path string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.app.srv.URL+path, nil)
	return c.do(req)
}

// post submits a form as a same-origin browser would.
func (c *client) post(path string, form url.Values) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// follow GETs the Location of a redirect.
func (c *client) follow(r *response) *response {
	c.t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		c.t.Fatalf("no redirect: status %d", r.StatusCode)
	}
	return c.get(loc)
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.app.srv.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// login signs in and fails the test if it does not work.
func (c *client) login(email, password string) {
	c.t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d, want 303; body: %s", email, r.StatusCode, excerpt(r.body))
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, "<main>"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 600 {
		s = s[:600]
	}
	return s
}

var emailLinkRE = regexp.MustCompile(`(https?://[^/\s]+)(/(?:verify|password/reset)/[A-Za-z0-9_-]{43})`)

// waitMail waits for the newest message to `to` in the development mailbox
// and returns it.
func (a *testApp) waitMail(to string) postgres.DevMail {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var m postgres.DevMail
		err := a.pool.QueryRow(context.Background(), `SELECT id, created_at, to_addr, subject, text_body, html_body
			FROM dev_mail WHERE lower(to_addr) = lower($1) ORDER BY id DESC LIMIT 1`, to).
			Scan(&m.ID, &m.CreatedAt, &m.To, &m.Subject, &m.Text, &m.HTML)
		if err == nil {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("no email to %s", to)
	return postgres.DevMail{}
}

// mailCount counts messages delivered to an address.
func (a *testApp) mailCount(to string) int {
	var n int
	_ = a.pool.QueryRow(context.Background(), `SELECT count(*) FROM dev_mail WHERE lower(to_addr) = lower($1)`, to).Scan(&n)
	return n
}

// linkPath extracts the email link's path, checking it points to the
// configured base URL.
func linkPath(t testing.TB, m postgres.DevMail) string {
	t.Helper()
	found := emailLinkRE.FindStringSubmatch(m.Text)
	if found == nil {
		t.Fatalf("no link in email %q: %s", m.Subject, m.Text)
	}
	return found[2]
}

// signUp registers a customer through the real form and returns the
// verification link path.
func (a *testApp) signUp(c *client, company, name, email, password string) string {
	a.t.Helper()
	r := c.post("/signup", url.Values{"company_name": {company}, "full_name": {name}, "email": {email}, "password": {password}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		a.t.Fatalf("signup: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	return linkPath(a.t, a.waitMail(email))
}

// newCustomer signs up and verifies a customer and returns a signed-in
// client and the account's tech prefix.
func (a *testApp) newCustomer(company, email string) (*client, string) {
	a.t.Helper()
	c := a.client()
	link := a.signUp(c, company, "Test User", email, "correct horse battery")
	r := c.post(link, nil)
	if r.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("verify: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	var prefix string
	if err := a.pool.QueryRow(context.Background(), `SELECT a.tech_prefix FROM accounts a JOIN memberships m ON m.account_id = a.id
		JOIN users u ON u.id = m.user_id WHERE lower(u.email) = lower($1)`, email).Scan(&prefix); err != nil {
		a.t.Fatalf("prefix: %v", err)
	}
	return c, prefix
}

// count runs a count query.
func (a *testApp) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		a.t.Fatalf("count %q: %v", sql, err)
	}
	return n
}
