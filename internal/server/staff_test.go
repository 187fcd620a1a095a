package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

const staffPW = "staff password 2026"

// staffClient creates a staff user and returns a client signed in to the
// staff console as that user.
func (a *testApp) staffClient(email string) *client {
	a.t.Helper()
	hash, err := portal.HashPassword(staffPW)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.db.CreateStaff(context.Background(), email, "Sam Staff", hash); err != nil {
		a.t.Fatalf("create staff: %v", err)
	}
	c := a.client()
	r := c.post("/staff/login", url.Values{"email": {email}, "password": {staffPW}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/staff/feature-requests" {
		a.t.Fatalf("staff login: status %d location %q: %s", r.StatusCode, r.Header.Get("Location"), excerpt(r.body))
	}
	return c
}

// cookieAt returns the cookie a browser would send to path.
func (c *client) cookieAt(path, name string) *http.Cookie {
	u, _ := url.Parse(c.app.srv.URL + path)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// withCookie returns a fresh client holding only one cookie, for path.
func (a *testApp) withCookie(name, value, path string) *client {
	c := a.client()
	u, _ := url.Parse(a.srv.URL + path)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
	return c
}

// walked is one route of the router and the action it declares.
type walked struct {
	method, pattern string
	action          portal.Action
}

func walkRoutes(t *testing.T, a *testApp) []walked {
	t.Helper()
	var out []walked
	err := chi.Walk(a.app.router, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		g, ok := h.(guard)
		if !ok {
			return fmt.Errorf("%s %s is not behind a guard", method, route)
		}
		out = append(out, walked{method, route, g.action})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var routeParam = regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`)

// fill turns a route pattern into a path, with values for its parameters.
func fill(pattern string, values map[string]string) string {
	p := routeParam.ReplaceAllStringFunc(pattern, func(m string) string {
		name := routeParam.FindStringSubmatch(m)[1]
		if v, ok := values[name]; ok {
			return v
		}
		return "1"
	})
	return strings.ReplaceAll(p, "*", "api/jobs")
}

// send issues method on path as a same-origin browser would.
func (c *client) send(method, path string, form url.Values) *response {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// The two realms never cross: a customer session reaches no staff route, a
// staff session no customer route, whatever cookie name the token travels
// under. Every route is tried, found by walking the router.
func TestRealmsDoNotCross(t *testing.T) {
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	pendingID := fmt.Sprint(a.count(`SELECT id FROM feature_requests WHERE status = 'pending'`))
	values := map[string]string{"acct": "31415900", "child": "31415901", "feature": "multi_user", "id": pendingID, "prefix": "31415900"}
	form := url.Values{"note": {"walked"}}

	customer := a.client()
	customer.login("principal@acme.test", postgres.DemoPassword)
	customerToken := customer.cookie("portal_session").Value
	staff := a.staffClient("walker@carrier.test")
	staffToken := staff.cookieAt("/staff/", "portal_staff").Value

	routes := walkRoutes(t, a)
	var staffRoutes, customerRoutes int
	for _, rt := range routes {
		path := fill(rt.pattern, values)
		switch {
		case strings.HasPrefix(rt.pattern, "/staff"):
			if rt.action == portal.ActionPublic {
				continue // the sign-in form and sign-out are open to anyone
			}
			if rt.action != portal.ActionStaff {
				t.Errorf("%s %s declares %q, want staff", rt.method, rt.pattern, rt.action)
			}
			staffRoutes++
			for name, c := range map[string]*client{
				"customer session":               customer,
				"customer token as staff cookie": a.withCookie("portal_staff", customerToken, "/staff"),
			} {
				r := c.send(rt.method, path, form)
				if r.StatusCode == http.StatusNotFound {
					continue
				}
				if loc := r.Header.Get("Location"); r.StatusCode/100 != 3 || loc != "/staff/login" {
					t.Errorf("%s: %s %s answered %d (location %q), want a redirect to /staff/login or 404", name, rt.method, path, r.StatusCode, loc)
				}
			}
		case rt.action != portal.ActionPublic:
			customerRoutes++
			for name, c := range map[string]*client{
				"staff session":                  staff,
				"staff token as customer cookie": a.withCookie("portal_session", staffToken, "/"),
			} {
				r := c.send(rt.method, path, form)
				if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
					t.Errorf("%s: %s %s answered %d (location %q), want a redirect to /login", name, rt.method, path, r.StatusCode, loc)
				}
			}
		}
	}
	if staffRoutes < 8 || customerRoutes < 3 {
		t.Fatalf("walked %d staff and %d customer routes; the walk missed routes", staffRoutes, customerRoutes)
	}
	if n := a.count(`SELECT count(*) FROM feature_requests WHERE status = 'pending'`); n != 1 {
		t.Errorf("pending requests after the walk = %d, want 1 (nothing decided)", n)
	}
	if n := a.count(`SELECT count(*) FROM feature_requests WHERE account_id = (SELECT id FROM accounts WHERE tech_prefix = '31415900') AND status = 'pending'`); n != 0 {
		t.Errorf("the staff session filed %d feature requests for Acme", n)
	}
	// Both sessions still work in their own realm.
	if r := customer.get("/accounts/31415900"); r.StatusCode != http.StatusOK {
		t.Errorf("customer dashboard: %d", r.StatusCode)
	}
	if r := staff.get("/staff/feature-requests"); r.StatusCode != http.StatusOK {
		t.Errorf("staff queue: %d", r.StatusCode)
	}
}

func TestStaffLogin(t *testing.T) {
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.staffClient("known@carrier.test")

	// Every failure looks the same, customer credentials included.
	attempts := []struct{ name, email, password string }{
		{"unknown email", "nobody@carrier.test", staffPW},
		{"wrong password", "known@carrier.test", "wrong password!"},
		{"customer login", "principal@acme.test", postgres.DemoPassword},
		{"malformed email", "not-an-email", staffPW},
	}
	var firstBody string
	var firstStatus, firstCookies int
	for i, at := range attempts {
		r := a.client().post("/staff/login", url.Values{"email": {at.email}, "password": {at.password}})
		body := stripRequestID(strings.ReplaceAll(r.body, at.email, "EMAIL"))
		if i == 0 {
			firstBody, firstStatus, firstCookies = body, r.StatusCode, len(r.Cookies())
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422", at.name, r.StatusCode)
			}
			continue
		}
		if r.StatusCode != firstStatus || body != firstBody || len(r.Cookies()) != firstCookies {
			t.Errorf("%s: status %d, %d cookies, body same %v; want it to look like the first failure",
				at.name, r.StatusCode, len(r.Cookies()), body == firstBody)
		}
	}
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'staff.login' AND outcome = 'failure'`); n != len(attempts) {
		t.Errorf("failed staff login audit events = %d, want %d", n, len(attempts))
	}

	// The token is renewed on sign-in, and sign-out ends the session.
	c := a.withCookie("portal_staff", "planted-before-login", "/staff")
	if r := c.post("/staff/login", url.Values{"email": {"known@carrier.test"}, "password": {staffPW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	ck := c.cookieAt("/staff/", "portal_staff")
	if ck == nil || ck.Value == "planted-before-login" {
		t.Fatalf("staff cookie after login = %+v, want a new token", ck)
	}
	if c.cookie("portal_session") != nil {
		t.Errorf("staff login set a customer session cookie")
	}
	if r := c.get("/staff"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/staff/feature-requests" {
		t.Errorf("/staff: %d %q, want a redirect to the queue", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get("/staff/login"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("login form when signed in: %d, want a redirect", r.StatusCode)
	}
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'staff.login' AND outcome = 'success' AND actor_staff_id IS NOT NULL`); n != 2 {
		t.Errorf("successful staff login audit events = %d, want 2", n)
	}
	if r := c.post("/staff/logout", nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/staff/login" {
		t.Fatalf("logout: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	replay := a.withCookie("portal_staff", ck.Value, "/staff")
	if r := replay.get("/staff/feature-requests"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/staff/login" {
		t.Errorf("old cookie after logout: %d %q, want a redirect to /staff/login", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestStaffLoginRateLimited(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client()
	var last *response
	for i := 0; i <= limitStaffLoginEmail.n; i++ {
		last = c.post("/staff/login", url.Values{"email": {"target@carrier.test"}, "password": {"guess number " + fmt.Sprint(i)}})
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("attempt %d: status %d, want 429 with Retry-After", limitStaffLoginEmail.n+1, last.StatusCode)
	}
}

func TestStaffAccountLookup(t *testing.T) {
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := a.staffClient("lookup@carrier.test")
	tests := []struct {
		q         string
		want, not []string
	}{
		{"3141590", []string{"account-row-31415900", "account-row-31415901", "account-row-31415903"}, []string{"account-row-27182800"}},
		{"globex", []string{"account-row-27182800"}, []string{"account-row-31415900"}},
		{"West", []string{"account-row-31415901"}, []string{"account-row-31415902"}},
		{"owner@initech.test", []string{"account-row-16180300"}, []string{"account-row-27182800"}},
		{"no such thing", []string{"accounts-empty"}, nil},
	}
	for _, tc := range tests {
		r := c.get("/staff/accounts?q=" + url.QueryEscape(tc.q))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("q=%q: %d", tc.q, r.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, `data-testid="`+w+`"`) {
				t.Errorf("q=%q: missing %s", tc.q, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, `data-testid="`+n+`"`) {
				t.Errorf("q=%q: unexpected %s", tc.q, n)
			}
		}
	}
	r := c.get("/staff/accounts/31415901")
	for _, want := range []string{"Acme West", "31415900", "Acme East", "power@acme.test", "principal@acme.test", `data-testid="staff-feature-sub_accounts"`, "Enabled"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("account page: missing %q", want)
		}
	}
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, "<form method=\"post\" action=\"/staff/accounts") {
		t.Errorf("account page: status %d, or it has a form that changes something", r.StatusCode)
	}
	if r := c.get("/staff/accounts/99999999"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown account: %d, want 404", r.StatusCode)
	}
}

func TestStaffJobsUI(t *testing.T) {
	a := newTestApp(t, nil)
	a.newCustomer("Jobs Co", "jobs@example.test") // leaves a delivered email job behind
	c := a.staffClient("jobs@carrier.test")
	r := c.get("/staff/jobs/")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="root"`) {
		t.Fatalf("jobs UI: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if csp := r.Header.Get("Content-Security-Policy"); csp != jobsCSP {
		t.Errorf("jobs UI CSP = %q, want %q", csp, jobsCSP)
	}
	for i := 0; i < 100 && a.count(`SELECT count(*) FROM river_job WHERE state = 'completed'`) == 0; i++ {
		sleepBriefly()
	}
	api := c.get("/staff/jobs/api/jobs?state=completed&limit=20")
	if api.StatusCode != http.StatusOK || !strings.Contains(api.body, `"kind":"email"`) {
		t.Errorf("jobs API: status %d body %.300s, want the completed email job", api.StatusCode, api.body)
	}
	if r := a.client().get("/staff/jobs/api/jobs?state=completed"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("jobs API without staff session: %d, want a redirect", r.StatusCode)
	}
}
