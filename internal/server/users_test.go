package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

// demoApp is a test app loaded with the demo family.
func demoApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	a := newTestApp(t, env)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return a
}

// demoLogin signs a demo user in on a new client.
func (a *testApp) demoLogin(email string) *client {
	a.t.Helper()
	c := a.client()
	c.login(email, postgres.DemoPassword)
	return c
}

func (a *testApp) userID(email string) string {
	a.t.Helper()
	return fmt.Sprint(a.count(`SELECT id FROM users WHERE lower(email) = lower($1)`, email))
}

// acmeRoles is a role form for the four demo accounts of Acme's family.
func acmeRoles(acme, west, east, labs string) url.Values {
	return url.Values{"role_31415900": {acme}, "role_31415901": {west}, "role_31415902": {east}, "role_31415903": {labs}}
}

const usersURL = "/accounts/31415900/settings/users"

func TestUserManagementAccess(t *testing.T) {
	a := demoApp(t, nil)
	paula, pete, gina := a.demoLogin("principal@acme.test"), a.demoLogin("power@acme.test"), a.demoLogin("general@acme.test")
	erin, gary, ivy := a.demoLogin("east-owner@acme.test"), a.demoLogin("owner@globex.test"), a.demoLogin("owner@initech.test")
	cases := []struct {
		who  string
		c    *client
		path string
		want int
	}{
		{"root Principal", paula, usersURL, 200},
		{"root Principal, new user", paula, usersURL + "/new", 200},
		{"root Principal, a user", paula, usersURL + "/" + a.userID("general@acme.test"), 200},
		{"root Principal, audit", paula, "/accounts/31415900/settings/audit", 200},
		{"root Principal, audit CSV", paula, "/accounts/31415900/settings/audit.csv", 200},
		{"root Principal on a sub-account", paula, "/accounts/31415902/settings/users", 200},
		{"Power", pete, usersURL, 403},
		{"Power, audit", pete, "/accounts/31415900/settings/audit", 403},
		{"General", gina, "/accounts/31415901/settings/users", 403},
		{"sub-account Principal", erin, "/accounts/31415902/settings/users", 200},
		{"sub-account Principal, its user", erin, "/accounts/31415902/settings/users/" + a.userID("power@acme.test"), 200},
		{"sub-account Principal, a West user", erin, "/accounts/31415902/settings/users/" + a.userID("general@acme.test"), 404},
		{"sub-account Principal, the root Principal", erin, "/accounts/31415902/settings/users/" + a.userID("principal@acme.test"), 404},
		{"sub-account Principal, the parent", erin, usersURL, 404},
		{"other family", gary, usersURL, 404},
		{"other family, audit", gary, "/accounts/31415900/settings/audit", 404},
		{"no Multi-User feature", ivy, "/accounts/16180300/settings/users", 404},
		{"no Multi-User feature, audit", ivy, "/accounts/16180300/settings/audit", 200},
		{"not a number", paula, usersURL + "/abc", 404},
		{"a user of another family", paula, usersURL + "/" + a.userID("owner@globex.test"), 404},
	}
	for _, c := range cases {
		if r := c.c.get(c.path); r.StatusCode != c.want {
			t.Errorf("%s: GET %s = %d, want %d", c.who, c.path, r.StatusCode, c.want)
		}
	}
	// Menus show only what leads somewhere.
	menus := []struct {
		c          *client
		path       string
		users, log bool
	}{
		{paula, "/accounts/31415900", true, true},
		{erin, "/accounts/31415902", true, true},
		{pete, "/accounts/31415900", false, false},
		{gina, "/accounts/31415901", false, false},
		{ivy, "/accounts/16180300", false, true},
	}
	for _, m := range menus {
		body := m.c.get(m.path).body
		if got := strings.Contains(body, `data-testid="nav-user-management"`); got != m.users {
			t.Errorf("%s: User Management in the menu = %v, want %v", m.path, got, m.users)
		}
		if got := strings.Contains(body, `data-testid="nav-audit-log"`); got != m.log {
			t.Errorf("%s: Audit Log in the menu = %v, want %v", m.path, got, m.log)
		}
	}
}

func TestUsersListFilters(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"principal@acme.test", "power@acme.test", "general@acme.test", "revoked@acme.test", "east-owner@acme.test", "newhire@acme.test", "late@acme.test"}},
		{"type=revoked", []string{"revoked@acme.test"}},
		{"type=invited", []string{"newhire@acme.test", "late@acme.test"}},
		{"type=principal", []string{"principal@acme.test", "east-owner@acme.test"}},
		{"type=general", []string{"general@acme.test", "newhire@acme.test"}},
		{"q=PETE", []string{"power@acme.test"}},
		{"account=31415902", []string{"power@acme.test", "revoked@acme.test", "east-owner@acme.test", "late@acme.test"}},
		{"q=nobody-here", nil},
		{"account=atlan", []string{"power@acme.test", "revoked@acme.test", "east-owner@acme.test", "late@acme.test"}},
		{"account=acme+e", []string{"power@acme.test", "revoked@acme.test", "east-owner@acme.test", "late@acme.test"}},
		{"account=99999999", nil},
		{"type=bogus", []string{"principal@acme.test", "power@acme.test", "general@acme.test", "revoked@acme.test", "east-owner@acme.test", "newhire@acme.test", "late@acme.test"}},
	}
	for _, c := range cases {
		r := paula.get(usersURL + "?" + c.query)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", c.query, r.StatusCode)
		}
		got := attrValues(r.body, "data-email")
		if !sameSet(got, c.want) {
			t.Errorf("?%s: got %v, want %v", c.query, got, c.want)
		}
	}
	// Statuses as the page shows them.
	body := paula.get(usersURL).body
	for email, status := range map[string]string{"revoked@acme.test": "revoked", "newhire@acme.test": "pending", "late@acme.test": "expired", "power@acme.test": "active"} {
		if !strings.Contains(body, `data-email="`+email+`" data-status="`+status+`"`) {
			t.Errorf("%s: want status %s", email, status)
		}
	}
}

// attrValues returns every value of an attribute in a page.
func attrValues(body, attr string) []string {
	var out []string
	for _, part := range strings.Split(body, attr+`="`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

// TestRevocationTakesEffectOnTheNextRequest: a Power user with an open
// session is revoked; the very next request with the same cookie is denied
// and signs them out; after restore they have the same access as before.
func TestRevocationTakesEffectOnTheNextRequest(t *testing.T) {
	a := demoApp(t, nil)
	paula, pete := a.demoLogin("principal@acme.test"), a.demoLogin("power@acme.test")
	access := func(c *client) map[string]int {
		out := map[string]int{}
		for _, p := range []string{"/accounts/31415900", "/accounts/31415900/api-keys", "/accounts/31415901/billing", "/accounts/31415902/api-keys"} {
			out[p] = c.get(p).StatusCode
		}
		return out
	}
	before := access(pete)
	if want := map[string]int{"/accounts/31415900": 200, "/accounts/31415900/api-keys": 200, "/accounts/31415901/billing": 200, "/accounts/31415902/api-keys": 403}; fmt.Sprint(before) != fmt.Sprint(want) {
		t.Fatalf("access before: got %v, want %v", before, want)
	}
	id := a.userID("power@acme.test")
	if r := paula.post(usersURL+"/"+id+"/revoke", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.StatusCode, excerpt(r.body))
	}
	r := pete.get("/accounts/31415901/billing")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("next request: %d → %q, want a redirect to /login", r.StatusCode, r.Header.Get("Location"))
	}
	if page := pete.follow(r); !strings.Contains(page.body, "Your access has been revoked") {
		t.Errorf("sign-in page after revocation lacks the message: %s", excerpt(page.body))
	}
	if r := pete.get("/accounts/31415900"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("after sign-out: %d → %q, want the sign-in page", r.StatusCode, r.Header.Get("Location"))
	}
	if r := pete.post("/login", url.Values{"email": {"power@acme.test"}, "password": {postgres.DemoPassword}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("sign-in while revoked: %d, want 422", r.StatusCode)
	}
	if m := a.waitMail("power@acme.test"); m.Subject != "Your access was revoked" {
		t.Errorf("email: %q", m.Subject)
	}

	if r := paula.post(usersURL+"/"+id+"/restore", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("restore: %d", r.StatusCode)
	}
	pete = a.demoLogin("power@acme.test")
	if after := access(pete); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("access after restore: got %v, want %v", after, before)
	}
	if m := a.waitMailCount("power@acme.test", 2); m.Subject != "Your access was restored" {
		t.Errorf("email: %q", m.Subject)
	}
}

// A user revoked in one family keeps the session for another family's
// accounts; restore works again with the very same cookie.
func TestRevocationKeepsOtherFamilies(t *testing.T) {
	a := demoApp(t, nil)
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO memberships (user_id, account_id, role)
		SELECT u.id, a.id, 'general' FROM users u, accounts a WHERE u.email = 'power@acme.test' AND a.tech_prefix = '27182800'`); err != nil {
		t.Fatal(err)
	}
	paula, pete := a.demoLogin("principal@acme.test"), a.demoLogin("power@acme.test")
	id := a.userID("power@acme.test")
	paula.post(usersURL+"/"+id+"/revoke", nil)
	for path, want := range map[string]int{"/accounts/31415900": 404, "/accounts/31415901/billing": 404, "/accounts/27182800": 200} {
		if r := pete.get(path); r.StatusCode != want {
			t.Errorf("while revoked: GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
	paula.post(usersURL+"/"+id+"/restore", nil)
	for path, want := range map[string]int{"/accounts/31415900/api-keys": 200, "/accounts/31415902/api-keys": 403, "/accounts/27182800": 200} {
		if r := pete.get(path); r.StatusCode != want {
			t.Errorf("after restore, same cookie: GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
}

// TestRoleChangedMidSession: a demotion bites on the user's next request.
func TestRoleChangedMidSession(t *testing.T) {
	a := demoApp(t, nil)
	paula, pete := a.demoLogin("principal@acme.test"), a.demoLogin("power@acme.test")
	if r := pete.get("/accounts/31415900/api-keys"); r.StatusCode != http.StatusOK {
		t.Fatalf("api keys as Power: %d", r.StatusCode)
	}
	id := a.userID("power@acme.test")
	r := paula.post(usersURL+"/"+id, acmeRoles("general", "power", "general", "none"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change roles: %d %s", r.StatusCode, excerpt(r.body))
	}
	if r := pete.get("/accounts/31415900/api-keys"); r.StatusCode != http.StatusForbidden {
		t.Errorf("api keys after demotion: %d, want 403", r.StatusCode)
	}
	if body := pete.get("/accounts/31415900").body; strings.Contains(body, `data-testid="nav-api-keys"`) {
		t.Error("the menu still offers API Keys to a General user")
	}
	if r := pete.get("/accounts/31415901/api-keys"); r.StatusCode != http.StatusOK {
		t.Errorf("api keys on West, still Power: %d, want 200", r.StatusCode)
	}
	// The family's last Principal cannot step down.
	r = paula.post(usersURL+"/"+a.userID("principal@acme.test"), acmeRoles("power", "none", "none", "none"))
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "without an active Principal") {
		t.Errorf("demote the last Principal: %d %s", r.StatusCode, excerpt(r.body))
	}
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'user.role_changed' AND details->>'user_id' = $1`, id); n != 1 {
		t.Errorf("role change audit events: got %d, want 1", n)
	}
}

// Inviting and changing roles ask for the password again after a while,
// then complete what was asked.
func TestUserChangesNeedARecentLogin(t *testing.T) {
	a := demoApp(t, map[string]string{"PORTAL_REAUTH_AFTER": "1ms"})
	paula := a.demoLogin("principal@acme.test")
	invite := url.Values{"full_name": {"Rea Auth"}, "email": {"rea@example.test"}, "role_31415901": {"general"}}
	cases := []struct {
		path string
		form url.Values
	}{
		{usersURL + "/new", invite},
		{usersURL + "/" + a.userID("general@acme.test"), acmeRoles("none", "power", "none", "none")},
	}
	for _, c := range cases {
		r := paula.post(c.path, c.form)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="reauth-form"`) {
			t.Fatalf("POST %s with a stale login: %d, want the password prompt", c.path, r.StatusCode)
		}
		form := url.Values{"reauth_password": {postgres.DemoPassword}}
		for k, v := range c.form {
			form[k] = v
		}
		if r := paula.post(c.path, form); r.StatusCode != http.StatusSeeOther {
			t.Errorf("POST %s after the password: %d %s", c.path, r.StatusCode, excerpt(r.body))
		}
	}
	if n := a.count(`SELECT count(*) FROM invitations WHERE email = 'rea@example.test'`); n != 1 {
		t.Errorf("invitations: %d, want 1", n)
	}
	if n := a.count(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id JOIN accounts x ON x.id = m.account_id
		WHERE u.email = 'general@acme.test' AND x.tech_prefix = '31415901' AND m.role = 'power'`); n != 1 {
		t.Error("the role change did not complete after the password")
	}
}
