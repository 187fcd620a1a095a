package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

// A revocation, a restore and a role change made on instance A bite on
// instance B on the very next request: B caches nothing about who may do
// what.
func TestRevocationAcrossInstances(t *testing.T) {
	dbURL := postgres.NewTestDB(t)
	a, b := startTestApp(t, dbURL, nil), startTestApp(t, dbURL, nil)
	ctx := context.Background()
	if _, err := a.db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	// Pat is a Power user of Acme who also works for Initech, so a
	// revocation in Acme leaves the session alive, on Initech's accounts.
	if _, err := a.pool.Exec(ctx, `WITH u AS (INSERT INTO users (email, full_name, password_hash, email_verified_at)
		SELECT 'pat@acme.test', 'Pat Power', password_hash, now() FROM users WHERE email = 'power@acme.test' RETURNING id)
		INSERT INTO memberships (user_id, account_id, role)
		SELECT u.id, a.id, CASE a.tech_prefix WHEN '16180300' THEN 'general' ELSE 'power' END
		FROM u, accounts a WHERE a.tech_prefix IN ('31415900', '31415901', '16180300')`); err != nil {
		t.Fatal(err)
	}
	paula := a.demoLogin("principal@acme.test") // on A
	onB := func(email string) *client {
		c := b.client()
		c.login(email, postgres.DemoPassword)
		return c
	}
	pat, pete := onB("pat@acme.test"), onB("power@acme.test")
	acme := map[string]int{"/accounts/31415900": 200, "/accounts/31415900/api-keys": 200, "/accounts/31415901/billing/info": 200}
	reach := func(c *client, want map[string]int) {
		t.Helper()
		for path, status := range want {
			if r := c.get(path); r.StatusCode != status {
				t.Errorf("GET %s on B: status %d, want %d", path, r.StatusCode, status)
			}
		}
	}
	reach(pat, acme)
	reach(pete, acme)

	for _, who := range []string{"pat@acme.test", "power@acme.test"} {
		if r := paula.post(usersURL+"/"+a.userID(who)+"/revoke", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke %s on A: %d %s", who, r.StatusCode, excerpt(r.body))
		}
	}
	// Pat's session on B lives on, but Acme is gone at once, for reading
	// and for writing alike.
	reach(pat, map[string]int{"/accounts/31415900": 404, "/accounts/31415900/api-keys": 404, "/accounts/31415901/billing/info": 404,
		"/accounts/16180300": 200})
	if r := pat.post("/accounts/31415900/api-keys", url.Values{"name": {"after revocation"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("POST on B after the revocation: %d, want 404", r.StatusCode)
	}
	if n := a.count(`SELECT count(*) FROM api_keys WHERE name = 'after revocation'`); n != 0 {
		t.Errorf("a revoked user created %d API keys", n)
	}
	// Pete has nothing else: B signs him out and says why.
	r := pete.get("/accounts/31415900")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("Pete's next request on B: %d → %q, want the sign-in page", r.StatusCode, r.Header.Get("Location"))
	}
	if page := pete.follow(r); !strings.Contains(page.body, "Your access has been revoked") {
		t.Errorf("the sign-in page on B lacks the reason: %s", excerpt(page.body))
	}

	for _, who := range []string{"pat@acme.test", "power@acme.test"} {
		if r := paula.post(usersURL+"/"+a.userID(who)+"/restore", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("restore %s on A: %d", who, r.StatusCode)
		}
	}
	// Pat's same session on B works on Acme again; Pete signs in again.
	reach(pat, acme)
	reach(onB("power@acme.test"), acme)

	// A role change on A is the role on B at the next request.
	roles := acmeRoles("general", "general", "none", "none")
	if r := paula.post(usersURL+"/"+a.userID("pat@acme.test"), roles); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("role change on A: %d %s", r.StatusCode, excerpt(r.body))
	}
	reach(pat, map[string]int{"/accounts/31415900": 200, "/accounts/31415900/api-keys": 403, "/accounts/31415901/billing/info": 200})
}
