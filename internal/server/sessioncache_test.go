package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/postgres"
)

// warm makes c's session a cache hit on its instance and fails if it does
// not become one.
func warm(t *testing.T, c *client, path string) {
	t.Helper()
	before := c.app.app.store.cache.hits.Load()
	for i := 0; c.app.app.store.cache.hits.Load() == before; i++ {
		if i == 20 {
			t.Fatalf("GET %s was never answered from the session cache", path)
		}
		if r := c.get(path); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s on warm-up: %d", path, r.StatusCode)
		}
		time.Sleep(time.Duration(i) * 5 * time.Millisecond)
	}
}

// onOther is a client of app b holding c's session cookie in a jar of its
// own (a cookie jar does not tell ports apart, and a sign-out must not
// clear the other client's copy).
func onOther(t *testing.T, b *testApp, c *client) *client {
	t.Helper()
	ck := c.cookie("portal_session")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	return b.withCookie("portal_session", ck.Value, "/")
}

func signedOut(r *response) bool {
	return r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login")
}

// Sessions and users served from memory on one instance stop working there
// the moment a request on another instance ends them: the other instance's
// answer waits until every instance has dropped its copy.
func TestSessionCacheAcrossInstances(t *testing.T) {
	dbURL := postgres.NewTestDB(t)
	// Both instances are slow to take in announcements: only the barrier
	// makes the other instance's next request see a change.
	slow := testAppOptions{cacheDelay: 30 * time.Millisecond}
	a := startTestAppWith(t, dbURL, nil, slow)
	b := startTestAppWith(t, dbURL, nil, slow)
	ca, prefix := a.newCustomer("Cache Co", "cache@example.test")
	page := "/accounts/" + prefix
	password := "correct horse battery"

	// Sign-out on A, next request on B (and the other way round), with
	// both copies warm each time.
	for i := range 6 { // sign-ins are limited to 10 per account and quarter hour
		c := a.client()
		c.login("cache@example.test", password)
		c = onOther(t, a, c) // its own jar, too
		cb := onOther(t, b, c)
		warm(t, c, page)
		warm(t, cb, "/me")
		from, to := c, cb
		if i%2 == 1 {
			from, to = cb, c
		}
		if r := from.post("/logout", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("round %d: logout: %d", i, r.StatusCode)
		}
		if r := to.get("/me"); !signedOut(r) {
			t.Fatalf("round %d: the signed-out session still works on the other instance: %d", i, r.StatusCode)
		}
	}

	// A password change on A ends every other session on B at once.
	other := a.client()
	other.login("cache@example.test", password)
	ob := onOther(t, b, other)
	warm(t, ob, page)
	warm(t, ca, page)
	if r := ca.post("/me/password", url.Values{"current_password": {password}, "new_password": {"second password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d", r.StatusCode)
	}
	if r := ob.get(page); !signedOut(r) {
		t.Fatalf("another session after the password change, on the other instance: %d", r.StatusCode)
	}
	// The changing session itself carries on, on both instances.
	if r := ca.get(page); r.StatusCode != http.StatusOK {
		t.Fatalf("the changing session: %d", r.StatusCode)
	}
	if r := onOther(t, b, ca).get(page); r.StatusCode != http.StatusOK {
		t.Fatalf("the changing session on the other instance: %d", r.StatusCode)
	}

	// A change made outside any instance (an operator's SQL) reaches B's
	// cache too; a barrier from A waits for it.
	third := a.client()
	third.login("cache@example.test", "second password")
	tb := onOther(t, b, third)
	warm(t, tb, page)
	if _, err := a.pool.Exec(context.Background(), `UPDATE users SET session_epoch = session_epoch + 1 WHERE lower(email) = 'cache@example.test'`); err != nil {
		t.Fatal(err)
	}
	if err := a.app.cacheSync.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := tb.get(page); !signedOut(r) {
		t.Fatalf("after the epoch changed in the database: %d", r.StatusCode)
	}
}
