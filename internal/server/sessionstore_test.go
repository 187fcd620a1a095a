package server

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Once the store reads a session together with its user (and keeps them in
// the session cache), a change made straight in the database, outside any
// request of the portal, still counts: every instance drops its copy when
// the change is announced at commit, and a request that starts after the
// barrier (every instance has dealt with the announcement) sees the change.
// A change made through the portal waits for that barrier before it
// answers (TestSessionCacheAcrossInstances); one made by SQL counts a moment
// after its commit rather than on a request already on its way.
func TestSessionReadStaysCurrent(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name, sql string
	}{
		{"password changed elsewhere", `UPDATE users SET session_epoch = session_epoch + 1 WHERE email = 'current@example.test'`},
		{"signed out elsewhere", `DELETE FROM sessions`},
		{"session expired", `UPDATE sessions SET expiry = now() - interval '1 second'`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a := newTestApp(t, nil)
			c, prefix := a.newCustomer("Current Co", "current@example.test")
			// The first requests teach the store whose token it is, then
			// the session is answered from the cache.
			warm(t, c, "/accounts/"+prefix)
			if _, err := a.pool.Exec(ctx, s.sql); err != nil {
				t.Fatal(err)
			}
			if err := a.app.cacheSync.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
			if r := c.get("/accounts/" + prefix); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("after %s: status %d, want a redirect to sign in", s.name, r.StatusCode)
			}
		})
	}
}

// A wrong hint about whose token it is never signs the caller in as
// someone else: the session's own user id decides.
func TestSessionHintIsOnlyAHint(t *testing.T) {
	a := newTestApp(t, nil)
	c, prefix := a.newCustomer("Hint Co", "hint@example.test")
	_, other := a.newCustomer("Other Co", "other@example.test")
	if r := c.get("/accounts/" + prefix); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	var otherID int64
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'other@example.test'`).Scan(&otherID); err != nil {
		t.Fatal(err)
	}
	token := c.cookie("portal_session").Value
	a.app.store.hints.put(token, otherID)
	if r := c.get("/accounts/" + prefix); r.StatusCode != http.StatusOK {
		t.Fatalf("own account with a wrong hint: status %d", r.StatusCode)
	}
	if r := c.get("/accounts/" + other); r.StatusCode != http.StatusNotFound {
		t.Fatalf("other user's account with a wrong hint: status %d, want 404", r.StatusCode)
	}
}

// Decoded sessions are shared by their bytes, so each caller must get its
// own copy of the values.
func TestGobCodecCopies(t *testing.T) {
	c := newGobCodec()
	deadline := time.Now().Add(time.Hour).Round(0)
	b, err := c.Encode(deadline, map[string]any{keyUserID: int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	_, v1, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	v1[keyUserID] = int64(8)
	d2, v2, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := v2[keyUserID]; got != int64(7) {
		t.Errorf("second decode sees %v, want 7", got)
	}
	if !d2.Equal(deadline) {
		t.Errorf("deadline %v, want %v", d2, deadline)
	}
}
