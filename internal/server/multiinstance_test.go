package server

import (
	"net/http"
	"net/url"
	"testing"

	"carrierportal/internal/postgres"
)

// Two instances on one database behave as one portal.
func TestTwoInstances(t *testing.T) {
	dbURL := postgres.NewTestDB(t)
	a := startTestApp(t, dbURL, nil)
	b := startTestApp(t, dbURL, nil)

	ca, prefix := a.newCustomer("Twin Co", "twin@example.test")
	// The same cookie jar used against instance B: the session works there.
	cb := &client{t: t, app: b, hc: &http.Client{Jar: ca.hc.Jar, CheckRedirect: ca.hc.CheckRedirect}}
	copyCookies(t, a, b, ca)
	if r := cb.get("/accounts/" + prefix); r.StatusCode != http.StatusOK {
		t.Fatalf("session from A on B: status %d", r.StatusCode)
	}
	// Logout on B ends the session on A.
	if r := cb.post("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout on B: %d", r.StatusCode)
	}
	old := ca.cookie("portal_session")
	replay := a.client()
	u, _ := url.Parse(a.srv.URL)
	if old != nil {
		replay.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: old.Value}})
	}
	if r := replay.get("/accounts/" + prefix); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session on A after logout on B: status %d, want redirect", r.StatusCode)
	}

	// Each email job runs once although both instances run workers.
	n := a.mailCount("twin@example.test")
	a.client().post("/password/forgot", url.Values{"email": {"twin@example.test"}})
	a.waitMailCount("twin@example.test", n+1)
	sleepBriefly()
	sleepBriefly()
	if got := a.mailCount("twin@example.test"); got != n+1 {
		t.Fatalf("emails after one request = %d, want %d", got, n+1)
	}

	// Login rate limits count across both instances.
	limited := false
	for i := 0; i < limitLoginEmail.n+2 && !limited; i++ {
		app := a
		if i%2 == 1 {
			app = b
		}
		r := app.client().post("/login", url.Values{"email": {"twin@example.test"}, "password": {"wrong password!"}})
		limited = r.StatusCode == http.StatusTooManyRequests
		if limited && i < limitLoginEmail.n {
			t.Fatalf("limited after %d attempts, want %d", i, limitLoginEmail.n)
		}
	}
	if !limited {
		t.Fatal("login attempts split over two instances were never limited")
	}
}

// copyCookies makes the cookies the jar holds for A valid for B's address.
func copyCookies(t *testing.T, a, b *testApp, c *client) {
	t.Helper()
	ua, _ := url.Parse(a.srv.URL)
	ub, _ := url.Parse(b.srv.URL)
	c.hc.Jar.SetCookies(ub, c.hc.Jar.Cookies(ua))
}

func TestSpoofedForwardedForDoesNotResetLimits(t *testing.T) {
	a := newTestApp(t, nil)
	limited := false
	for i := 0; i < limitLoginIP.n+2; i++ {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/login",
			stringsReader(url.Values{"email": {"user" + itoa(i) + "@example.test"}, "password": {"wrong password!"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113."+itoa(i))
		if r := a.client().do(req); r.StatusCode == http.StatusTooManyRequests {
			limited = true
			if r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
	}
	if !limited {
		t.Fatal("a spoofed X-Forwarded-For escaped the per-IP login limit")
	}
}
