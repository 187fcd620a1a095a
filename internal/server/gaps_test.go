package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

// Email-link tokens never reach the logs: not the request log, not an
// error's, whatever is done with the link.
func TestTokensStayOutOfLogs(t *testing.T) {
	a := newTestApp(t, nil)
	logs := &lockedBuffer{}
	// A second instance on the same database, whose logs the test reads.
	logged := *a
	logged.app = New(a.cfg, a.db, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	logged.srv = httptest.NewServer(logged.app)
	t.Cleanup(logged.srv.Close)
	b := &logged

	var tokens []string
	use := func(link string) {
		tokens = append(tokens, strings.TrimPrefix(strings.TrimPrefix(link, "/verify/"), "/password/reset/"))
		c := b.client()
		c.get(link)
		c.get(strings.Replace(link, "/verify/", "/password/reset/", 1))
		c.post(link, url.Values{"password": {"a brand new password"}})
		c.post(link, nil) // again: spent
	}
	use(b.signUp(b.client(), "Log Co", "Lou", "lou@example.test", pw))
	n := b.mailCount("lou@example.test")
	b.client().post("/password/forgot", url.Values{"email": {"lou@example.test"}})
	use(linkPath(t, b.waitMailCount("lou@example.test", n+1)))
	unknown, _ := postgres.NewTokenString()
	use("/verify/" + unknown)

	out := logs.String()
	if !strings.Contains(out, "path=/verify/") {
		t.Fatalf("no request was logged: %q", out)
	}
	for _, tok := range tokens {
		if strings.Contains(out, tok) {
			t.Errorf("token %s… is in the logs", tok[:6])
		}
	}
}

// A revoked user with the right password gets the same answer as an
// unknown address and a wrong password: the page, status and cookies do not
// tell them apart.
func TestLoginAnswersRevokedLikeAnyFailure(t *testing.T) {
	a := demoApp(t, nil)
	var first *response
	var firstBody string
	for _, at := range []struct{ name, email, password string }{
		{"unknown email", "nobody@acme.test", postgres.DemoPassword},
		{"wrong password", "general@acme.test", "not the password"},
		{"revoked, right password", "revoked@acme.test", postgres.DemoPassword},
	} {
		r := a.client().post("/login", url.Values{"email": {at.email}, "password": {at.password}})
		body := stripRequestID(strings.ReplaceAll(r.body, at.email, "EMAIL"))
		if first == nil {
			first, firstBody = r, body
			continue
		}
		if r.StatusCode != first.StatusCode || body != firstBody || len(r.Cookies()) != len(first.Cookies()) {
			t.Errorf("%s: status %d, %d cookies, same body %v; want as for %d, %d cookies", at.name, r.StatusCode, len(r.Cookies()),
				body == firstBody, first.StatusCode, len(first.Cookies()))
		}
	}
}

// A password change renews this session's token (the old value is dead)
// and ends the others; a reset through the email link ends every session.
func TestCredentialChangesEndSessions(t *testing.T) {
	a := newTestApp(t, nil)
	c, _ := a.newCustomer("Renew Co", "renew@example.test")
	other := a.client()
	other.login("renew@example.test", pw)
	before := c.cookie("portal_session").Value
	if r := c.post("/me/password", url.Values{"current_password": {pw}, "new_password": {"second password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", r.StatusCode)
	}
	if after := c.cookie("portal_session").Value; after == before {
		t.Error("the session token did not change with the password")
	}
	if r := a.withCookie("portal_session", before, "/").get("/me"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the pre-change token still works: %d", r.StatusCode)
	}

	second := a.client()
	second.login("renew@example.test", "second password")
	n := a.mailCount("renew@example.test")
	a.client().post("/password/forgot", url.Values{"email": {"renew@example.test"}})
	link := linkPath(t, a.waitMailCount("renew@example.test", n+1))
	if r := a.client().post(link, url.Values{"password": {"third password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d %s", r.StatusCode, excerpt(r.body))
	}
	for name, s := range map[string]*client{"the changing session": c, "another session": second} {
		if r := s.get("/me"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("%s after the reset: %d, want the sign-in page", name, r.StatusCode)
		}
	}
}

// When the permission lookup itself fails, the answer is a generic error
// page with a request id, never the page or the change.
func TestPermissionErrorsFailClosed(t *testing.T) {
	a := demoApp(t, nil)
	c := a.demoLogin("principal@acme.test")
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := a.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	keys := a.count(`SELECT count(*) FROM api_keys`)
	exec(`ALTER TABLE account_features RENAME TO account_features_away`)
	for _, r := range []*response{c.get("/accounts/31415900/api-keys"), c.post("/accounts/31415900/api-keys", url.Values{"name": {"Fail open"}})} {
		if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.body, `data-testid="request-id"`) {
			t.Errorf("%s %s with the lookup failing: %d, want the 500 page with a request id", r.Request.Method, r.Request.URL.Path, r.StatusCode)
		}
		if strings.Contains(r.body, "account_features") || strings.Contains(r.body, "SQLSTATE") || strings.Contains(r.body, "api-keys-table") {
			t.Errorf("%s: the error page shows more than it should: %s", r.Request.URL.Path, excerpt(r.body))
		}
	}
	exec(`ALTER TABLE account_features_away RENAME TO account_features`)
	if n := a.count(`SELECT count(*) FROM api_keys`); n != keys {
		t.Errorf("API keys %d → %d while the check was failing", keys, n)
	}
	if r := c.get("/accounts/31415900/api-keys"); r.StatusCode != http.StatusOK {
		t.Errorf("after recovery: %d", r.StatusCode)
	}
}

// New accounts and links are in the audit log of the accounts concerned.
func TestAuditRecordsAccountsAndLinks(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	a.signUp(a.client(), "Audited Co", "Aud", "aud@example.test", pw)
	r := paula.post("/accounts/31415900/settings/new-account", url.Values{"company_name": {"Audited Sub"}, "contact_name": {"Sue"},
		"email": {"sue@example.test"}, "country": {"US"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("new account: %d %s", r.StatusCode, excerpt(r.body))
	}
	req := url.Values{"tech_prefix": {"27182800"}, "email": {"noc@globex.test"}, "ack_access": {"1"}, "ack_unlink": {"1"}, "ack_billing": {"1"}}
	if r := paula.post("/accounts/31415900/settings/link", req); r.StatusCode != http.StatusOK {
		t.Fatalf("link request: %d", r.StatusCode)
	}
	if r := a.client().post(linkPath(t, a.waitMail("noc@globex.test")), nil); r.StatusCode != http.StatusOK {
		t.Fatalf("link confirmation: %d", r.StatusCode)
	}
	for action, account := range map[string]string{
		"account.signup":                "(SELECT a.id FROM accounts a WHERE a.company_name = 'Audited Co')",
		"subaccount.created":            "(SELECT id FROM accounts WHERE tech_prefix = '31415900')",
		"account.created":               "(SELECT a.id FROM accounts a WHERE a.company_name = 'Audited Sub')",
		"subaccount.link_requested":     "(SELECT id FROM accounts WHERE tech_prefix = '31415900')",
		"account.link_request_received": "(SELECT id FROM accounts WHERE tech_prefix = '27182800')",
		"subaccount.linked":             "(SELECT id FROM accounts WHERE tech_prefix = '31415900')",
		"account.linked":                "(SELECT id FROM accounts WHERE tech_prefix = '27182800')",
	} {
		if n := a.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND account_id = `+account, action); n != 1 {
			t.Errorf("%s events on the account: %d, want 1", action, n)
		}
	}
}

// Asking for a confirmation email again, and inviting someone, answer the
// same whether or not the address has a login.
func TestResendAndInviteAnswerAlike(t *testing.T) {
	a := demoApp(t, nil)
	a.signUp(a.client(), "Pending Co", "Pam", "pending@example.test", pw)
	same := func(what string, bodies map[string]*response) {
		t.Helper()
		var first, firstEmail string
		var status int
		for email, r := range bodies {
			b := stripRequestID(strings.ReplaceAll(r.body, email, "EMAIL"))
			if first == "" {
				first, firstEmail, status = b, email, r.StatusCode
				continue
			}
			if r.StatusCode != status || b != first {
				t.Errorf("%s: %s answers %d, %s %d; the pages differ: %v", what, email, r.StatusCode, firstEmail, status, b != first)
			}
		}
	}
	resend := map[string]*response{}
	for _, email := range []string{"pending@example.test", "general@acme.test", "ghost@example.test"} {
		resend[email] = a.client().post("/verify/resend", url.Values{"email": {email}})
	}
	same("resend", resend)

	paula := a.demoLogin("principal@acme.test")
	invite := map[string]*response{}
	for _, email := range []string{"owner@initech.test", "brand-new@example.test"} {
		r := paula.post(usersURL+"/new", url.Values{"full_name": {"Ina Invitee"}, "email": {email}, "role_31415901": {"general"}})
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != usersURL {
			t.Fatalf("invite %s: %d → %q", email, r.StatusCode, r.Header.Get("Location"))
		}
		page := paula.follow(r)
		i := strings.Index(page.body, `data-testid="flash"`)
		if i < 0 {
			t.Fatalf("invite %s: no message", email)
		}
		flash := page.body[i:]
		flash = flash[:strings.Index(flash, "</div>")]
		invite[email] = &response{Response: page.Response, body: flash}
	}
	same("invite", invite)
}

// Every sensitive action asks for the password again once the login is
// old, and does nothing until it is given.
func TestSensitiveActionsNeedARecentLogin(t *testing.T) {
	a := demoApp(t, map[string]string{"PORTAL_REAUTH_AFTER": "1ms"})
	paula := a.demoLogin("principal@acme.test")
	key := a.count(`INSERT INTO api_keys (account_id, name, prefix, secret_hash) SELECT id, 'Old', 'cpk_old', 'old-hash'::bytea
		FROM accounts WHERE tech_prefix = '31415900' RETURNING id`)
	fx := newMatrixFixtures(t, a, "31415900")
	for path, form := range map[string]url.Values{
		"/accounts/31415900/api-keys":                             {"name": {"Needs a password"}},
		"/accounts/31415900/api-keys/" + itoa(key) + "/rotate":    nil,
		"/accounts/31415900/settings/link":                        {"tech_prefix": {"27182800"}, "email": {"noc@globex.test"}, "ack_access": {"1"}, "ack_unlink": {"1"}, "ack_billing": {"1"}},
		"/accounts/31415900/settings/subaccounts/31415901/unlink": nil,
		usersURL + "/new":                                         {"full_name": {"Ned"}, "email": {"ned@example.test"}, "role_31415901": {"general"}},
		usersURL + "/" + a.userID("general@acme.test"):            acmeRoles("none", "power", "none", "none"),
	} {
		before := fx.fingerprint(t)
		r := paula.post(path, form)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="reauth-form"`) {
			t.Errorf("POST %s with an old login: %d, want the password prompt", path, r.StatusCode)
		}
		if after := fx.fingerprint(t); after != before {
			t.Errorf("POST %s acted before the password was given:\n%s", path, diffLines(before, after))
		}
	}
}
