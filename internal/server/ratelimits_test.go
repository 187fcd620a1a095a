package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// twin is one signed-in (or anonymous) browser used against two instances
// of the portal on one database: one cookie jar, either server.
type twin [2]*client

func twinOf(t *testing.T, a, b *testApp, c *client) twin {
	t.Helper()
	copyCookies(t, a, b, c)
	return twin{c, {t: t, app: b, hc: &http.Client{Jar: c.hc.Jar, CheckRedirect: c.hc.CheckRedirect}}}
}

// limitCase is one rate limit: the request that counts against it (the
// i-th of a run), who sends it, and what a request does, which the refused
// one must not do.
type limitCase struct {
	name    string
	l       limit
	as      string // a demo login, or "" for anonymous
	req     func(i int) (string, url.Values)
	effects string
	// ip is the client address of request i (the instances trust the
	// test's proxy); a per-account limit spreads them so no per-IP limit
	// interferes.
	ip func(i int) string
}

var demoEmails = []string{"general@acme.test", "power@acme.test", "principal@acme.test", "east-owner@acme.test", "owner@globex.test"}

func sameIP(int) string     { return "203.0.113.1" }
func spreadIP(i int) string { return fmt.Sprintf("198.51.100.%d", i%250+1) }

// TestRateLimitsAcrossInstances drives every rate-limited action the
// issue lists, alternating between two instances on one database: the
// request after the limit answers 429 with a page that says when to retry,
// Retry-After, and no effect, however the requests were spread.
func TestRateLimitsAcrossInstances(t *testing.T) {
	dbURL := postgres.NewTestDB(t)
	env := map[string]string{"PORTAL_TRUSTED_PROXIES": "127.0.0.1/32, ::1/128"}
	a, b := startTestApp(t, dbURL, env), startTestApp(t, dbURL, env)
	ctx := context.Background()
	if _, err := a.db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.db.SignUp(ctx, portal.Actor{}, postgres.Signup{CompanyName: "Unconfirmed Co", FullName: "Una",
		Email: "unconfirmed@example.test", PasswordHash: "$argon2id$unused"}); err != nil {
		t.Fatal(err)
	}
	invitation := a.count(`SELECT id FROM invitations WHERE email = 'newhire@acme.test'`)
	pw := postgres.DemoPassword
	link := func(prefix string) url.Values {
		return url.Values{"tech_prefix": {prefix}, "email": {"it@initech.test"}, "ack_access": {"on"}, "ack_unlink": {"on"}, "ack_billing": {"on"}}
	}
	invite := func(email string) url.Values {
		return url.Values{"full_name": {"Ivan Invitee"}, "email": {email}, "role_31415901": {"general"}}
	}
	cases := []limitCase{
		{name: "password reset, per address", l: limitMailAddress, ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'reset_password'`,
			req: func(int) (string, url.Values) { return "/password/forgot", url.Values{"email": {"general@acme.test"}} }},
		{name: "password reset, per client IP", l: limitMailIP, ip: sameIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'reset_password'`,
			req: func(i int) (string, url.Values) {
				// Five addresses: none reaches its own limit first.
				return "/password/forgot", url.Values{"email": {demoEmails[i%len(demoEmails)]}}
			}},
		{name: "confirmation resend, per address", l: limitMailAddress, ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'verify_email'`,
			req: func(int) (string, url.Values) {
				return "/verify/resend", url.Values{"email": {"unconfirmed@example.test"}}
			}},
		{name: "confirmation resend, per client IP", l: limitMailIP, ip: sameIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'verify_email'`,
			req: func(i int) (string, url.Values) {
				return "/verify/resend", url.Values{"email": {fmt.Sprintf("nobody%d@example.test", i)}}
			}},
		{name: "invitation, per address", l: limitMailAddress, as: "principal@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'accept_invite'`,
			req: func(int) (string, url.Values) { return usersURL + "/new", invite("twice@example.test") }},
		{name: "invitations, per family", l: limitInvitations, as: "principal@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM invitations`,
			req: func(i int) (string, url.Values) {
				return usersURL + "/new", invite(fmt.Sprintf("invitee%d@example.test", i))
			}},
		{name: "invitation sent again, per client IP", l: limitMailIP, as: "principal@acme.test", ip: sameIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'accept_invite'`,
			req: func(int) (string, url.Values) { return fmt.Sprintf("%s/%d/resend", usersURL, invitation), nil }},
		{name: "new invitations, per client IP", l: limitMailIP, as: "principal@acme.test", ip: sameIP, effects: `SELECT count(*) FROM invitations`,
			req: func(i int) (string, url.Values) {
				return usersURL + "/new", invite(fmt.Sprintf("from-one-ip%d@example.test", i))
			}},
		{name: "link request, per tech prefix", l: limitLinkTarget, as: "principal@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'link_account'`,
			req: func(int) (string, url.Values) { return "/accounts/31415900/settings/link", link("16180300") }},
		{name: "link requests, per account", l: limitLinkAccount, as: "principal@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens WHERE purpose = 'link_account'`,
			req: func(i int) (string, url.Values) {
				return "/accounts/31415900/settings/link", link(fmt.Sprintf("5%07d", i))
			}},
		{name: "feature requests, per family", l: limitFeatureRequest, as: "owner@globex.test", ip: spreadIP, effects: `SELECT count(*) FROM feature_requests`,
			req: func(int) (string, url.Values) {
				return "/accounts/27182800/preferences/features/multi_user/request", nil
			}},
		{name: "funds, per account", l: limitFunds, as: "principal@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM payments`,
			req: func(i int) (string, url.Values) {
				return "/accounts/31415900/billing/funds", fundsForm("5", fmt.Sprintf("%032x", i+1))
			}},
		{name: "current password guesses, per login", l: limitLoginEmail, as: "general@acme.test", ip: spreadIP, effects: `SELECT count(*) FROM verification_tokens`,
			req: func(i int) (string, url.Values) {
				if i%2 == 0 {
					return "/me/password", url.Values{"current_password": {fmt.Sprintf("guess number %d", i)}, "new_password": {pw}}
				}
				return "/me/email", url.Values{"current_password": {fmt.Sprintf("guess number %d", i)}, "email": {"new@example.test"}}
			}},
	}
	for _, lc := range cases {
		t.Run(lc.name, func(t *testing.T) {
			if _, err := a.pool.Exec(ctx, `DELETE FROM rate_limits`); err != nil {
				t.Fatal(err)
			}
			c := a.client()
			if lc.as != "" {
				c.login(lc.as, pw)
				// Signing in counts against the login limits; start afresh.
				if _, err := a.pool.Exec(ctx, `DELETE FROM rate_limits`); err != nil {
					t.Fatal(err)
				}
			}
			both := twinOf(t, a, b, c)
			for i := 0; i <= lc.l.n; i++ {
				path, form := lc.req(i)
				before := a.count(lc.effects)
				r := both[i%2].postFrom(lc.ip(i), path, form)
				if i < lc.l.n {
					if r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500 {
						t.Fatalf("request %d of %d (instance %c): status %d", i+1, lc.l.n, 'A'+i%2, r.StatusCode)
					}
					continue
				}
				if r.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("request %d, over the limit of %d spread over two instances: status %d, want 429", i+1, lc.l.n, r.StatusCode)
				}
				retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
				if err != nil || retry < 1 || retry > int(lc.l.window.Seconds())+1 {
					t.Errorf("Retry-After %q, want seconds within the %s window", r.Header.Get("Retry-After"), lc.l.window)
				}
				if !strings.Contains(r.body, `data-testid="error-heading"`) || !strings.Contains(r.body, "Please try again in") {
					t.Errorf("the 429 page does not say when to retry: %s", excerpt(r.body))
				}
				if after := a.count(lc.effects); after != before {
					t.Errorf("the refused request had an effect: %q went %d → %d", lc.effects, before, after)
				}
			}
		})
	}
}

// postFrom posts a form as a browser behind the trusted proxy at ip.
func (c *client) postFrom(ip, path string, form url.Values) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-Forwarded-For", ip)
	return c.do(req)
}
