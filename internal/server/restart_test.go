//go:build linux

package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/postgres"
)

// PostgreSQL restarted while a request is inside its transaction: the
// request ends in a clean 5xx page (so do requests while it is down),
// nothing it wrote survives, and the same
// server, on the same pool, serves the next requests.
func TestPostgresRestartMidRequest(t *testing.T) {
	pg := startPrivateCluster(t)
	ctx := context.Background()
	a := startTestApp(t, pg.url, nil)
	c, prefix := a.newCustomer("Restart Co", "restart@example.test")
	hosts := "/accounts/" + prefix + "/interconnection/hosts"
	form := url.Values{"address": {"203.0.113.29"}, "description": {"Restart office"}}
	written := func(conn *pgx.Conn) (hostRows, auditRows int) {
		t.Helper()
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM sip_hosts WHERE address = '203.0.113.29/32'),
			(SELECT count(*) FROM audit_events WHERE action = 'sip_host.created')`).Scan(&hostRows, &auditRows)
		if err != nil {
			t.Fatalf("count what the request wrote: %v", err)
		}
		return hostRows, auditRows
	}

	// Adding a host writes the host and then its audit event in one
	// transaction; a trigger holds the request between the two. (A table
	// lock would not do: the restart ends the lock holder too, and the
	// request may commit in the moment before its own session is ended.)
	setup := pg.connect(t)
	_, err := setup.Exec(ctx, `
		CREATE FUNCTION hold_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.action = 'sip_host.created' THEN PERFORM pg_sleep(60); END IF; RETURN NEW; END; $$;
		CREATE TRIGGER hold_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION hold_audit();`)
	if err != nil {
		t.Fatal(err)
	}
	// Ends the held request before the server's cleanup waits for it.
	t.Cleanup(func() {
		_, _ = setup.Exec(context.Background(), `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)
		_ = setup.Close(context.Background())
	})
	done := make(chan *response, 1)
	go func() { done <- c.post(hosts, form) }()

	halfWritten := false
	for deadline := time.Now().Add(10 * time.Second); !halfWritten; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached its audit insert after inserting the host")
		}
		err := setup.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity s JOIN pg_locks l ON l.pid = s.pid
			WHERE s.wait_event = 'PgSleep' AND s.query LIKE 'INSERT INTO audit_events%'
			AND l.relation = 'sip_hosts'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted)`).Scan(&halfWritten)
		if err != nil {
			t.Fatal(err)
		}
	}

	// Other traffic leaves connections just used, which the pool hands out
	// again without a ping.
	page := "/accounts/" + prefix + "/interconnection"
	if r := c.get(page); r.StatusCode != http.StatusOK {
		t.Fatalf("interconnection page: status %d", r.StatusCode)
	}
	pg.stopFast(t)

	var r *response
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the request did not end after the restart")
	}
	wantErrorPage(t, "interrupted request", r)
	// While the database is down, a signed-in page cannot even load its
	// session: the same clean page.
	wantErrorPage(t, "request while the database is down", c.get(page))
	pg.start(t)
	check := pg.connect(t)
	defer check.Close(ctx)
	if h, ev := written(check); h != 0 || ev != 0 {
		t.Fatalf("after the restart: %d host rows, %d audit events; want neither", h, ev)
	}
	if _, err := check.Exec(ctx, `DROP TRIGGER hold_audit ON audit_events`); err != nil {
		t.Fatal(err)
	}

	// The next requests go through the app's pool, which held connections to
	// the old server.
	if r := c.get(page); r.StatusCode != http.StatusOK {
		t.Fatalf("first request after the restart: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if r := c.post(hosts, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the same form again: status %d, want 303: %s", r.StatusCode, excerpt(r.body))
	}
	if h, ev := written(check); h != 1 || ev != 1 {
		t.Errorf("after the retry: %d host rows, %d audit events; want one of each", h, ev)
	}
}

// pgCluster is a PostgreSQL server of one test's own, which it may stop
// and restart without disturbing the shared test database.
type pgCluster struct {
	bin, data, log string
	url, admin     string
	pid            int // the postmaster's, for the last-resort cleanup
}

// startPrivateCluster initialises and starts a throwaway cluster listening
// only on a free TCP port of 127.0.0.1, migrated for the portal. It is
// stopped, and its folder removed, when the test ends.
func startPrivateCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	dir := clusterDir(t)
	pg := &pgCluster{bin: bin, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "server.log")}
	if out, err := pg.run("initdb", "-D", pg.data, "--auth=trust", "--username=postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n"+
		"max_connections = 60\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n", port)
	f, err := os.OpenFile(filepath.Join(pg.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		f.Close()
	}
	if err != nil {
		t.Fatalf("configure cluster: %v", err)
	}
	t.Cleanup(func() { pg.stop(t) })
	pg.start(t)

	pg.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	pg.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/portal?sslmode=disable", port)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.admin)
	if err != nil {
		t.Fatalf("connect to the private cluster: %v", err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE portal")
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, pg.url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate the private cluster: %v", err)
	}
	return pg
}

// postgresBin finds the server binaries as .ci/postgres.sh does: version 15,
// else the newest installed.
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, d := range append([]string{"/usr/lib/postgresql/15/bin"}, dirs...) {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

// pgVersion orders /usr/lib/postgresql/<version>/bin: 16 after 15 after 9.6.
func pgVersion(dir string) int {
	v := filepath.Base(filepath.Dir(dir))
	major, minor, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	m, _ := strconv.Atoi(minor)
	return n*100 + m
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// clusterDir is the folder for the cluster. As root the server runs as the
// postgres user, which owns the folder and must be able to reach it: the
// test's own temporary folders are private to root.
func clusterDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return t.TempDir()
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root needs the postgres system user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(parent, "portal-pg-restart-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		if exec.Command("runuser", "-u", "postgres", "--", "test", "-w", dir).Run() == nil {
			return dir
		}
	}
	t.Fatal("no temporary folder the postgres user can reach")
	return ""
}

// run runs one of the server's programs, as the postgres user when root.
func (pg *pgCluster) run(prog string, args ...string) (string, error) {
	argv := append([]string{filepath.Join(pg.bin, prog)}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/" // the postgres user may not be able to enter ours
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The server writes to its log file, but never let a descendant holding
	// our output hang the test.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.String(), err
}

func (pg *pgCluster) start(t *testing.T) {
	t.Helper()
	if out, err := pg.run("pg_ctl", "start", "-D", pg.data, "-l", pg.log, "-w", "-t", "30"); err != nil {
		logs, _ := os.ReadFile(pg.log)
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, logs)
	}
	b, err := os.ReadFile(filepath.Join(pg.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pg.pid, err = strconv.Atoi(strings.TrimSpace(first)); err != nil {
		t.Fatalf("postmaster.pid: %q", first)
	}
}

// stopFast stops the server the way an operator's restart does (fast:
// sessions are terminated, open transactions rolled back); start brings it
// back on the same port and data.
func (pg *pgCluster) stopFast(t *testing.T) {
	t.Helper()
	if out, err := pg.run("pg_ctl", "stop", "-D", pg.data, "-m", "fast", "-w", "-t", "30"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// wantErrorPage checks r is a whole 5xx HTML error page with a request id
// that shows nothing of the failure's insides.
func wantErrorPage(t *testing.T, what string, r *response) {
	t.Helper()
	if r.StatusCode < 500 || r.StatusCode > 599 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.body, `data-testid="request-id"`) || !strings.Contains(r.body, "</html>") {
		t.Fatalf("%s: status %d, type %q; want a whole 5xx error page with a request id: %s",
			what, r.StatusCode, r.Header.Get("Content-Type"), excerpt(r.body))
	}
	for _, leak := range []string{"SQLSTATE", "terminating connection", "connection refused", "goroutine", "panic", "pgx", "audit_events"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("%s: error page shows %q", what, leak)
		}
	}
}

// stop ends the server at once; if pg_ctl cannot, the postmaster is killed,
// and its children follow it out.
func (pg *pgCluster) stop(t *testing.T) {
	if out, err := pg.run("pg_ctl", "stop", "-D", pg.data, "-m", "immediate", "-w", "-t", "10"); err != nil {
		t.Logf("pg_ctl stop: %v: %s", err, out)
	}
	if pg.pid == 0 {
		return
	}
	for i := 0; i < 100 && pg.running(); i++ {
		if i == 50 {
			t.Logf("killing postmaster %d", pg.pid)
			_ = syscall.Kill(pg.pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether the postmaster still runs: its pid, not reused by
// another program and not a zombie (whose command line is empty).
func (pg *pgCluster) running() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pg.pid))
	return err == nil && bytes.Contains(b, []byte(pg.data))
}

// connect opens a connection of the test's own (not the app's pool).
func (pg *pgCluster) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return conn
}
