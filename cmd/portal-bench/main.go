// Command portal-bench measures the portal against baselines on the same
// stack, on the large data set (portal seed --large), and prints one table.
//
// It starts a server process (itself, with -serve) that runs the real
// portal handler and a tiny baseline server side by side on one pool: B0
// (a constant string from chi), B1 (Fortunes: chi, pgxpool, templ) and B2
// (B1 behind the portal's own session and sign-in middleware). It signs in
// as the large family's Principal and drives every route in a closed loop
// with 32 connections, all routes in turn, for three rounds, and reports
// the median round. Ratios are against B1 in the same round, so drift on a
// shared machine cancels out. Then R8 (EXPLAIN ANALYZE of a month's billing
// on the rollups against the raw calls) and the CSV export's speed and the
// server's peak memory.
//
//	DATABASE_URL=… portal-bench [-duration 5s] [-rounds 3] [-conns 32] [-json .data/bench.json]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"carrierportal/internal/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		err = serve(ctx)
	} else {
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal-bench:", err)
		os.Exit(1)
	}
}

// options are the harness's flags.
type options struct {
	duration, warmup time.Duration
	rounds, conns    int
	jsonPath         string
	serverLog        string
	only             string
	pprof            string
	pageCache        bool
}

// route is one measured page and its target.
type route struct {
	ID, Name string
	// Target is the least ratio to B1 (0: none); p99 and errors always count.
	Target   float64
	Baseline bool
	urls     []string
	auth     bool
	// htmx marks a request the page's script makes (HX-Request: true).
	htmx bool
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("portal-bench", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measurement (one route, one round)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load on each route before the first round")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the median is reported")
	fs.IntVar(&o.conns, "conns", 32, "concurrent connections (closed loop)")
	fs.StringVar(&o.jsonPath, "json", ".data/bench.json", "where to write the results as JSON")
	fs.StringVar(&o.serverLog, "server-log", ".data/bench-server.log", "the server process's warnings and errors")
	fs.StringVar(&o.only, "only", "", "comma-separated route ids to run (B1 is always run)")
	fs.StringVar(&o.pprof, "pprof", "", "serve the server process's pprof on this address (e.g. 127.0.0.1:6060)")
	fs.BoolVar(&o.pageCache, "page-cache", true, "run the server with its page, access and picker caches (PORTAL_PAGE_CACHE); false measures every page read from the database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set (make bench sets it)")
	}
	// The harness's own connections keep Postgres's settings (the portal's
	// pool turns parallel plans off): R8 compares both queries as the
	// server runs them by default.
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := &postgres.DB{Pool: pool}
	info, err := db.LargeSet(ctx)
	if err != nil {
		return fmt.Errorf("no large data set in %s (run `portal seed --large` first): %w", redact(dbURL), err)
	}

	child, err := startServer(ctx, dbURL, o.serverLog, o.pprof, o.pageCache)
	if err != nil {
		return err
	}
	defer child.stop()
	fmt.Fprintf(os.Stderr, "server pid %d: portal on %s, baselines on %s\n", child.cmd.Process.Pid, child.portal, child.base)

	cookie, err := signIn(child.portal, postgres.LargePrincipalEmail, postgres.DemoPassword)
	if err != nil {
		return err
	}
	month := reportMonth(info)
	routes := plan(child, info, month)
	if o.only != "" {
		routes = filterRoutes(routes, o.only)
	}
	header := http.Header{"Cookie": {cookie}}
	res := &results{Started: time.Now().UTC(), Rounds: o.rounds, Conns: o.conns, Seconds: o.duration.Seconds(), PageCache: o.pageCache,
		Data: dataInfo(info, month), Routes: map[string]*routeResult{}}
	for _, r := range routes {
		rr := &routeResult{ID: r.ID, Name: r.Name, Path: pathOf(r.urls[0]), Target: r.Target, Baseline: r.Baseline}
		rr.Status = probe(r, header)
		res.Routes[r.ID] = rr
		res.Order = append(res.Order, r.ID)
	}
	for _, r := range routes {
		if res.Routes[r.ID].Status == "ok" && o.warmup > 0 {
			attack(r.urls, headerFor(r, header), o.conns, o.warmup)
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, r := range routes {
			rr := res.Routes[r.ID]
			if rr.Status != "ok" {
				continue
			}
			s := attack(r.urls, headerFor(r, header), o.conns, o.duration)
			rr.Samples = append(rr.Samples, s)
			fmt.Fprintf(os.Stderr, "round %d  %-4s %-34s %8.0f rps  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
				round, r.ID, r.Name, s.RPS, s.P50, s.P99, s.Errors)
		}
	}
	res.summarize()

	if res.R8, err = explainBilling(ctx, pool, info.RootID, month); err != nil {
		fmt.Fprintln(os.Stderr, "R8:", err)
		res.R8 = &r8Result{Error: err.Error()}
	}
	loadPeak, before := child.memory()
	child.resetPeak()
	res.Export = measureExport(child, header, month)
	res.Export.PeakRSSMB, _ = child.memory()
	res.Export.LoadPeakRSSMB, res.Export.RSSMB = loadPeak, before

	res.print(os.Stdout)
	return res.write(o.jsonPath)
}

// plan lists the routes in the order each round runs them.
func plan(c *child, info *postgres.LargeInfo, month time.Time) []route {
	p, b := "http://"+c.portal, "http://"+c.base
	acct := p + "/accounts/" + postgres.LargeRootPrefix
	end := month.AddDate(0, 1, -1)
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	week := end.AddDate(0, 0, -6)
	var picker []string
	for _, q := range []string{"seattle", "harbor", "dental", "5000", "oak", "tulsa pine", "sea-0", "zzz"} {
		picker = append(picker, p+"/picker?q="+url.QueryEscape(q))
	}
	return []route{
		{ID: "B0", Name: "plain (chi)", Baseline: true, urls: []string{b + "/plain"}},
		{ID: "B1", Name: "fortunes (chi+pgx+templ)", Baseline: true, urls: []string{b + "/fortunes"}},
		{ID: "B2", Name: "fortunes + session (R1)", Target: 0.85, Baseline: true, auth: true, urls: []string{b + "/fortunes-session"}},
		{ID: "R2", Name: "dashboard, header, picker", Target: 0.50, auth: true, urls: []string{acct + "/"}},
		{ID: "R3", Name: "picker search (htmx fragment)", Target: 0.70, auth: true, urls: picker, htmx: true},
		{ID: "R4", Name: "All Accounts summary, 100 rows", Target: 0.40, auth: true,
			urls: []string{p + "/summary", p + "/summary?page=7", p + "/summary?sort=charges&dir=desc"}},
		{ID: "R5", Name: "Billing Summary, month, 100 rows", Target: 0.35, auth: true,
			urls: []string{p + "/summary/billing?month=" + month.Format("2006-01"), p + "/summary/billing?month=" + month.Format("2006-01") + "&page=3"}},
		{ID: "R6", Name: "CDR report, 50 rows, date range", Target: 0.40, auth: true,
			urls: []string{acct + "/cdrs?from=" + day(month) + "&to=" + day(end), acct + "/cdrs?from=" + day(week) + "&to=" + day(end)}},
		{ID: "R7", Name: "User Management, 100 rows", Target: 0.50, auth: true, urls: []string{acct + "/settings/users"}},
	}
}

func filterRoutes(all []route, only string) []route {
	keep := map[string]bool{"B1": true}
	for _, id := range strings.Split(only, ",") {
		keep[strings.ToUpper(strings.TrimSpace(id))] = true
	}
	var out []route
	for _, r := range all {
		if keep[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

func headerFor(r route, h http.Header) http.Header {
	out := http.Header{}
	if r.auth {
		out = h.Clone()
	}
	if r.htmx {
		out.Set("HX-Request", "true")
	}
	return out
}

// probe fetches each of a route's URLs once: "missing" when the portal
// does not have it (404), "status N" for any other answer than 2xx, else ok.
func probe(r route, h http.Header) string {
	c := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range r.urls {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for k, v := range headerFor(r, h) {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			return "error: " + err.Error()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return "missing"
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			fmt.Fprintf(os.Stderr, "%s: %s answers %d; measuring anyway (every answer counts as an error)\n", r.ID, pathOf(u), resp.StatusCode)
		}
	}
	return "ok"
}

// signIn posts the sign-in form and returns the session cookie.
func signIn(portal, email, password string) (string, error) {
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm("http://"+portal+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if strings.HasSuffix(ck.Name, "portal_session") && ck.Value != "" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in as %s failed: %s", email, resp.Status)
}

// reportMonth is the last whole month with calls (the anchor's month when
// it is the only one).
func reportMonth(info *postgres.LargeInfo) time.Time {
	m := postgres.MonthStart(info.Last)
	if prev := m.AddDate(0, -1, 0); !prev.Before(postgres.MonthStart(info.First)) && info.Last.AddDate(0, 0, 1).Month() == info.Last.Month() {
		return prev
	}
	return m
}

func pathOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.RequestURI()
	}
	return u
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "the database"
}

// child is the server process.
type child struct {
	cmd          *exec.Cmd
	stdin        io.WriteCloser
	portal, base string
}

// startServer starts this program with -serve and waits for its addresses.
func startServer(ctx context.Context, dbURL, logPath, pprofAddr string, pageCache bool) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PORTAL_ENV=development", "PORT=8080", "PORTAL_BENCH_PPROF="+pprofAddr,
		"PORTAL_PAGE_CACHE="+strconv.FormatBool(pageCache))
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(out).ReadString('\n')
	if _, scanErr := fmt.Sscanf(line, "ready %s %s", &c.portal, &c.base); err != nil || scanErr != nil {
		c.stop()
		return nil, fmt.Errorf("server did not start (see %s): %q", logPath, line)
	}
	return c, nil
}

// stop ends the server process: closing its stdin asks it to leave.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
