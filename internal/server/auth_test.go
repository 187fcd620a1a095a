package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

const pw = "correct horse battery"

func TestSignupVerifyLoginLogout(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client()
	link := a.signUp(c, "Zeta Telecom", "Zoe Zeta", "zoe@zeta.test", pw)

	var status string
	if err := a.pool.QueryRow(context.Background(), `SELECT status FROM accounts WHERE company_name = 'Zeta Telecom'`).Scan(&status); err != nil || status != "pending_activation" {
		t.Fatalf("account status before verify = %q, %v; want pending_activation", status, err)
	}
	// Signing in before confirming fails like any other failure.
	if r := c.post("/login", url.Values{"email": {"zoe@zeta.test"}, "password": {pw}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("login before verify: status %d, want 422", r.StatusCode)
	}
	// GET shows a confirmation page and spends nothing.
	if r := c.get(link); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Confirm your email address") {
		t.Fatalf("GET link: status %d", r.StatusCode)
	}
	if r := c.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("second GET of link: status %d, want 200 (GET must not spend the token)", r.StatusCode)
	}
	r := c.post(link, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST link: status %d", r.StatusCode)
	}
	home := c.follow(r)
	if home.StatusCode != http.StatusSeeOther || !strings.HasPrefix(home.Header.Get("Location"), "/accounts/") {
		t.Fatalf("home: status %d location %q", home.StatusCode, home.Header.Get("Location"))
	}
	dash := c.follow(home)
	if dash.StatusCode != http.StatusOK || !strings.Contains(dash.body, "Zeta Telecom") {
		t.Fatalf("dashboard: status %d", dash.StatusCode)
	}
	if err := a.pool.QueryRow(context.Background(), `SELECT status FROM accounts WHERE company_name = 'Zeta Telecom'`).Scan(&status); err != nil || status != "active" {
		t.Fatalf("account status after verify = %q; want active", status)
	}
	// The link works once.
	if r := c.post(link, nil); r.StatusCode != http.StatusGone {
		t.Fatalf("replayed link: status %d, want 410", r.StatusCode)
	}

	old := c.cookie("portal_session")
	if r := c.post("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	// Replaying the old cookie gets the login page.
	replay := a.client()
	u, _ := url.Parse(a.srv.URL)
	replay.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: old.Value}})
	if r := replay.get(dash.Request.URL.Path); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("old cookie after logout: status %d location %q; want redirect to /login", r.StatusCode, r.Header.Get("Location"))
	}
	c.login("zoe@zeta.test", pw)
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND outcome = 'success'`); n != 2 {
		t.Errorf("successful login audit events = %d, want 2", n)
	}
}

func TestArgon2idHashFormat(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Hash Co", "hash@example.test")
	var h string
	if err := a.pool.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE email = 'hash@example.test'`).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q, want argon2id with m=19456,t=2,p=1", h)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Alike Co", "known@example.test")
	c := a.client()
	a.signUp(c, "Unverified Co", "Una", "unverified@example.test", pw)

	type attempt struct{ name, email, password string }
	attempts := []attempt{
		{"unknown email", "nobody@example.test", pw},
		{"wrong password", "known@example.test", "wrong password!"},
		{"unverified", "unverified@example.test", pw},
	}
	var first *response
	for _, at := range attempts {
		r := a.client().post("/login", url.Values{"email": {at.email}, "password": {at.password}})
		// Bodies differ only by the echoed email, so compare with it removed.
		body := strings.ReplaceAll(r.body, at.email, "EMAIL")
		body = stripRequestID(body)
		if first == nil {
			first = &response{Response: r.Response, body: body}
			continue
		}
		if r.StatusCode != first.StatusCode {
			t.Errorf("%s: status %d, want %d", at.name, r.StatusCode, first.StatusCode)
		}
		if body != first.body {
			t.Errorf("%s: body differs from the first failure", at.name)
		}
		if got, want := len(r.Cookies()), len(first.Cookies()); got != want {
			t.Errorf("%s: %d cookies set, want %d", at.name, got, want)
		}
	}
}

func stripRequestID(s string) string {
	i := strings.Index(s, `data-testid="request-id">`)
	if i < 0 {
		return s
	}
	j := strings.Index(s[i:], "<")
	return s[:i] + s[i+j:]
}

func TestCrossSitePostRejected(t *testing.T) {
	a := newTestApp(t, nil)
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/signup", strings.NewReader(url.Values{
			"company_name": {"Evil"}, "full_name": {"Eve"}, "email": {"eve@example.test"}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		r := a.client().do(req)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %v: status %d, want 403", h, r.StatusCode)
		}
	}
	if n := a.count(`SELECT count(*) FROM users`); n != 0 {
		t.Errorf("cross-site sign-up created %d users", n)
	}
}

func TestSessionCookie(t *testing.T) {
	a := newTestApp(t, nil)
	c, _ := a.newCustomer("Cookie Co", "cookie@example.test")
	_ = c.post("/logout", nil)
	// A pre-login session value is useless after login: the token changes.
	_ = c.get("/login")
	before := c.cookie("portal_session")
	r := c.post("/login", url.Values{"email": {"cookie@example.test"}, "password": {pw}})
	var sc *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == "portal_session" {
			sc = ck
		}
	}
	if sc == nil {
		t.Fatal("login set no session cookie")
	}
	if before != nil && before.Value == sc.Value {
		t.Error("session token did not change on login")
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Errorf("cookie = %+v; want HttpOnly, SameSite=Lax, Path=/, no Domain", sc)
	}
	// In production the cookie is Secure and __Host- prefixed.
	cfg := a.cfg
	cfg2 := *cfg
	cfg2.Env = "production"
	cfg2.CookieSecure = true
	m := newSessionManager(&cfg2, a.app.store, "portal_session", "/")
	if m.Cookie.Name != "__Host-portal_session" || !m.Cookie.Secure {
		t.Errorf("production cookie = %q secure=%v", m.Cookie.Name, m.Cookie.Secure)
	}
}

func TestForgotPasswordEnumerationSafe(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Forgot Co", "forgot@example.test")
	n := a.mailCount("forgot@example.test")
	known := a.client().post("/password/forgot", url.Values{"email": {"forgot@example.test"}})
	unknown := a.client().post("/password/forgot", url.Values{"email": {"ghost@example.test"}})
	kb := strings.ReplaceAll(stripRequestID(known.body), "forgot@example.test", "X")
	ub := strings.ReplaceAll(stripRequestID(unknown.body), "ghost@example.test", "X")
	if known.StatusCode != unknown.StatusCode || kb != ub {
		t.Fatalf("forgot-password answers differ: %d vs %d", known.StatusCode, unknown.StatusCode)
	}
	m := a.waitMailCount("forgot@example.test", n+1)
	if !strings.Contains(m.Text, testBaseURL+"/verify/") {
		t.Errorf("reset link does not use the configured base URL: %s", m.Text)
	}
	link := linkPath(t, m)
	c := a.client()
	if r := c.get(link); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "New password") {
		t.Fatalf("reset page: %d", r.StatusCode)
	}
	if r := c.post(link, url.Values{"password": {"short"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", r.StatusCode)
	}
	// An old session ends when the password is reset.
	other := a.client()
	other.login("forgot@example.test", pw)
	if r := c.post(link, url.Values{"password": {"a brand new password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d %s", r.StatusCode, excerpt(r.body))
	}
	if r := other.get("/me"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("old session after reset: status %d, want redirect to login", r.StatusCode)
	}
	c.login("forgot@example.test", "a brand new password")
	if a.mailCount("ghost@example.test") != 0 {
		t.Error("an email was sent to an unknown address")
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	a := newTestApp(t, nil)
	c, _ := a.newCustomer("Change Co", "change@example.test")
	other := a.client()
	other.login("change@example.test", pw)
	if r := c.post("/me/password", url.Values{"current_password": {"wrong one!"}, "new_password": {"another password"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("wrong current password: %d", r.StatusCode)
	}
	if r := c.post("/me/password", url.Values{"current_password": {pw}, "new_password": {"another password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", r.StatusCode)
	}
	if r := c.get("/me"); r.StatusCode != http.StatusOK {
		t.Errorf("own session after change: %d, want 200", r.StatusCode)
	}
	if r := other.get("/me"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("other session after change: %d, want redirect", r.StatusCode)
	}
}

func TestEmailChange(t *testing.T) {
	a := newTestApp(t, nil)
	c, _ := a.newCustomer("Mail Co", "old@example.test")
	if r := c.post("/me/email", url.Values{"email": {"new@example.test"}, "current_password": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d %s", r.StatusCode, excerpt(r.body))
	}
	link := linkPath(t, a.waitMail("new@example.test"))
	if r := c.post(link, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.StatusCode)
	}
	if a.count(`SELECT count(*) FROM users WHERE email = 'new@example.test' AND email_verified_at IS NOT NULL`) != 1 {
		t.Fatal("email not changed")
	}
	a.waitMail("old@example.test") // the old address is told
	a.client().login("new@example.test", pw)
}

func TestTokens(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client()
	link := a.signUp(c, "Token Co", "Tom", "tom@example.test", pw)
	raw := strings.TrimPrefix(link, "/verify/")

	t.Run("tampered", func(t *testing.T) {
		bad := []byte(raw)
		bad[5] ^= 1
		if bad[5] == '-' || bad[5] == '_' {
			bad[5] = 'A'
		}
		if r := a.client().get("/verify/" + string(bad)); r.StatusCode != http.StatusNotFound {
			t.Errorf("tampered token: %d, want 404", r.StatusCode)
		}
		if r := a.client().get("/verify/abc"); r.StatusCode != http.StatusNotFound {
			t.Errorf("short token: %d, want 404", r.StatusCode)
		}
	})
	t.Run("hash only", func(t *testing.T) {
		if n := a.count(`SELECT count(*) FROM verification_tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`, raw); n != 0 {
			t.Error("raw token stored")
		}
		if n := a.count(`SELECT count(*) FROM river_job WHERE args::text LIKE '%' || $1 || '%'`, raw); n != 0 {
			t.Error("raw token stored in the job queue")
		}
	})
	t.Run("concurrent redemptions", func(t *testing.T) {
		ctx := context.Background()
		results := make(chan error, 20)
		for i := 0; i < 20; i++ {
			go func() {
				_, err := a.db.VerifyEmail(ctx, a.app.actor(httptestRequest()), raw)
				results <- err
			}()
		}
		ok := 0
		for i := 0; i < 20; i++ {
			if err := <-results; err == nil {
				ok++
			} else if err != postgres.ErrTokenInvalid {
				t.Errorf("redemption error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d redemptions succeeded, want exactly 1", ok)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if r := c.post("/verify/resend", url.Values{"email": {"tom@example.test"}}); r.StatusCode != http.StatusOK {
			t.Fatalf("resend: %d", r.StatusCode)
		}
		// Tom is verified now, so no new verification; use a reset link.
		n := a.mailCount("tom@example.test")
		if r := c.post("/password/forgot", url.Values{"email": {"tom@example.test"}}); r.StatusCode != http.StatusOK {
			t.Fatalf("forgot: %d", r.StatusCode)
		}
		link := linkPath(t, a.waitMailCount("tom@example.test", n+1))
		if _, err := a.pool.Exec(context.Background(), `UPDATE verification_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'reset_password'`); err != nil {
			t.Fatal(err)
		}
		r := c.get(link)
		if r.StatusCode != http.StatusGone || !strings.Contains(r.body, "expired") {
			t.Errorf("expired link: %d", r.StatusCode)
		}
	})
	t.Run("superseded", func(t *testing.T) {
		n := a.mailCount("tom@example.test")
		c.post("/password/forgot", url.Values{"email": {"tom@example.test"}})
		first := linkPath(t, a.waitMailCount("tom@example.test", n+1))
		c.post("/password/forgot", url.Values{"email": {"tom@example.test"}})
		second := linkPath(t, a.waitMailCount("tom@example.test", n+2))
		if r := c.get(first); r.StatusCode != http.StatusGone {
			t.Errorf("superseded link: %d, want 410", r.StatusCode)
		}
		if r := c.get(second); r.StatusCode != http.StatusOK {
			t.Errorf("newest link: %d, want 200", r.StatusCode)
		}
	})
}

// waitMailCount waits until `to` has n messages and returns the newest.
func (a *testApp) waitMailCount(to string, n int) postgres.DevMail {
	a.t.Helper()
	for i := 0; i < 300 && a.mailCount(to) < n; i++ {
		sleepBriefly()
	}
	if a.mailCount(to) < n {
		a.t.Fatalf("%s has %d emails, want %d", to, a.mailCount(to), n)
	}
	return a.waitMail(to)
}

// Links come from the configured base URL, never from the request's Host.
func TestLinksIgnoreHostHeader(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Host Co", "host@example.test")
	n := a.mailCount("host@example.test")
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/password/forgot", strings.NewReader("email=host%40example.test"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	if r := a.client().do(req); r.StatusCode != http.StatusOK {
		t.Fatalf("forgot with a foreign Host: %d", r.StatusCode)
	}
	m := a.waitMailCount("host@example.test", n+1)
	if strings.Contains(m.Text, "evil.example") || !strings.Contains(m.Text, testBaseURL+"/verify/") {
		t.Fatalf("link not built from the base URL: %s", m.Text)
	}
}

// An unknown address costs the same password work as a known one, so the
// response time does not tell them apart (SECURITY.md 3).
func TestLoginComputesAHashForUnknownEmails(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Work Co", "work@example.test")
	work := func(email string) int64 {
		before := portal.PasswordChecks()
		r := a.client().post("/login", url.Values{"email": {email}, "password": {"wrong password!"}})
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("login %s: status %d", email, r.StatusCode)
		}
		return portal.PasswordChecks() - before
	}
	known, unknown := work("work@example.test"), work("nobody-here@example.test")
	if known < 1 || unknown != known {
		t.Fatalf("password hashes computed: known address %d, unknown address %d; want the same, at least 1", known, unknown)
	}
}
