package server

import (
	"net/http"
	"testing"
	"time"
)

func TestIdleTimeout(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_SESSION_IDLE": "1200ms"})
	c, _ := a.newCustomer("Idle Co", "idle@example.test")
	// Activity keeps the session alive past the idle timeout...
	for i := 0; i < 6; i++ {
		if r := c.get("/me"); r.StatusCode != http.StatusOK {
			t.Fatalf("active session request %d: status %d", i, r.StatusCode)
		}
		time.Sleep(400 * time.Millisecond)
	}
	// ...and inactivity ends it.
	time.Sleep(1500 * time.Millisecond)
	if r := c.get("/me"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("idle session: status %d, want redirect to sign-in", r.StatusCode)
	}
}

func TestAbsoluteTimeoutCountsFromLogin(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_SESSION_LIFETIME": "2s", "PORTAL_SESSION_IDLE": "1h"})
	c, _ := a.newCustomer("Absolute Co", "absolute@example.test")
	deadline := time.Now().Add(2500 * time.Millisecond)
	ended := false
	for time.Now().Before(deadline.Add(time.Second)) {
		// A privilege change renews the token, which must not extend the lifetime.
		r := c.get("/me")
		if r.StatusCode == http.StatusSeeOther {
			ended = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !ended {
		t.Fatal("session outlived its absolute lifetime despite activity")
	}
	if time.Now().Before(deadline.Add(-1500 * time.Millisecond)) {
		t.Fatal("session ended long before its lifetime")
	}
}

// A plain GET does not write to the session store.
func TestNoSessionWriteOnGet(t *testing.T) {
	a := newTestApp(t, nil)
	c, prefix := a.newCustomer("Quiet Co", "quiet@example.test")
	snapshot := func() string {
		var s string
		if err := a.pool.QueryRow(t.Context(), `SELECT string_agg(token || md5(data) || expiry::text, ',' ORDER BY token) FROM sessions`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	_ = c.get("/accounts/" + prefix)
	before := snapshot()
	for _, p := range []string{"/accounts/" + prefix, "/me", "/accounts/" + prefix} {
		if r := c.get(p); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, r.StatusCode)
		}
	}
	if after := snapshot(); after != before {
		t.Fatal("a plain GET wrote to the session store")
	}
}
