package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A database connection killed in the middle of a request: a clean 5xx page,
// nothing half-written, and the next request works.
func TestDatabaseConnectionKilledMidRequest(t *testing.T) {
	a := newTestApp(t, nil)
	ctx := context.Background()
	// Slow down user inserts so the request is inside its transaction when
	// the connection dies.
	_, err := a.pool.Exec(ctx, `
		CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(3); RETURN NEW; END; $$;
		CREATE TRIGGER slow_users BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION slow_insert();`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *response, 1)
	c := a.client()
	go func() {
		done <- c.post("/signup", url.Values{"company_name": {"Fault Co"}, "full_name": {"Fay"}, "email": {"fay@example.test"}, "password": {pw}})
	}()
	// Wait for the insert to be sleeping, then kill that backend.
	deadline := time.Now().Add(5 * time.Second)
	killed := false
	for time.Now().Before(deadline) && !killed {
		var n int
		if err := a.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'INSERT INTO users%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		killed = n > 0
		time.Sleep(20 * time.Millisecond)
	}
	if !killed {
		t.Fatal("never saw the request's insert running")
	}
	r := <-done
	if r.StatusCode < 500 || !strings.Contains(r.body, `data-testid="request-id"`) {
		t.Fatalf("status %d; want a 5xx error page with a request id", r.StatusCode)
	}
	if strings.Contains(r.body, "SQLSTATE") || strings.Contains(r.body, "terminating connection") {
		t.Fatal("error page leaks database details")
	}
	if n := a.count(`SELECT count(*) FROM accounts WHERE company_name = 'Fault Co'`); n != 0 {
		t.Fatalf("half-written sign-up: %d accounts", n)
	}
	if _, err := a.pool.Exec(ctx, `DROP TRIGGER slow_users ON users`); err != nil {
		t.Fatal(err)
	}
	// The pool recovers: the next request succeeds.
	a.signUp(a.client(), "Fault Co", "Fay", "fay@example.test", pw)
}
