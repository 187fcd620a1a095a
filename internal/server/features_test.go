package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// featureStatus reads the status a Features page shows for a feature.
func featureStatus(t *testing.T, body, feature string) string {
	t.Helper()
	marker := `data-testid="feature-status-` + feature + `" data-status="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no status for %s on the page: %s", feature, excerpt(body))
	}
	rest := body[i+len(marker):]
	return rest[:strings.Index(rest, `"`)]
}

// requestID returns the id of the family's newest request for a feature.
func (a *testApp) requestID(prefix, feature string) int64 {
	a.t.Helper()
	var id int64
	if err := a.pool.QueryRow(context.Background(), `SELECT r.id FROM feature_requests r JOIN accounts a ON a.id = r.account_id
		WHERE a.tech_prefix = $1 AND r.feature = $2 ORDER BY r.id DESC LIMIT 1`, prefix, feature).Scan(&id); err != nil {
		a.t.Fatalf("request id: %v", err)
	}
	return id
}

// parallel runs n same-origin POSTs at once and returns their statuses.
func (c *client) parallel(n int, path string, form url.Values) []int {
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			<-start
			resp, err := c.hc.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

func TestFeatureOptInLoop(t *testing.T) {
	a := newTestApp(t, nil)
	cust, prefix := a.newCustomer("Opt Co", "opt@example.test")
	page := "/accounts/" + prefix + "/preferences/features"
	staff := a.staffClient("reviewer@carrier.test")

	r := cust.get(page)
	if r.StatusCode != http.StatusOK || featureStatus(t, r.body, "sub_accounts") != "not_requested" ||
		!strings.Contains(r.body, `data-testid="request-sub_accounts"`) || !strings.Contains(r.body, `data-testid="nav-features"`) {
		t.Fatalf("features page before: status %d: %s", r.StatusCode, excerpt(r.body))
	}

	r = cust.post(page+"/sub_accounts/request", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page {
		t.Fatalf("request: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = cust.follow(r)
	if got := featureStatus(t, r.body, "sub_accounts"); got != "pending" || !strings.Contains(r.body, "up to a week") ||
		!strings.Contains(r.body, time.Now().Format("2 Jan 2006")) || strings.Contains(r.body, `data-testid="request-sub_accounts"`) {
		t.Fatalf("after request: status %q, want pending with the date, the review time and no button", got)
	}
	id := a.requestID(prefix, "sub_accounts")
	queue := staff.get("/staff/feature-requests")
	if !strings.Contains(queue.body, fmt.Sprintf(`data-testid="approve-%d"`, id)) || !strings.Contains(queue.body, "Opt Co") {
		t.Fatalf("queue does not offer the request: %s", excerpt(queue.body))
	}

	// Denying needs a note; without one nothing changes.
	deny := fmt.Sprintf("/staff/feature-requests/%d/deny", id)
	r = staff.post(deny, url.Values{"note": {"  "}, "back": {"/staff/feature-requests?status=pending"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, fmt.Sprintf(`data-testid="error-note-%d"`, id)) {
		t.Fatalf("deny without note: %d, want 422 with the error by the row", r.StatusCode)
	}
	r = staff.post(deny, url.Values{"note": {"Please tell us about your resellers first."}, "back": {"/staff/feature-requests?status=pending"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/staff/feature-requests?status=pending" {
		t.Fatalf("deny: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if m := a.waitMailCount("opt@example.test", 2); !strings.Contains(m.Subject, "denied") || !strings.Contains(m.Text, "resellers") {
		t.Errorf("denial email: %q %q", m.Subject, m.Text)
	}
	r = cust.get(page)
	if featureStatus(t, r.body, "sub_accounts") != "denied" || !strings.Contains(r.body, "Please tell us about your resellers first.") ||
		!strings.Contains(r.body, `data-testid="request-sub_accounts"`) {
		t.Fatalf("after denial: want denied with the note and a button: %s", excerpt(r.body))
	}

	// A denied family may ask again; this time it is approved.
	if r := cust.post(page+"/sub_accounts/request", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("request again: %d", r.StatusCode)
	}
	id2 := a.requestID(prefix, "sub_accounts")
	if id2 == id || featureStatus(t, cust.get(page).body, "sub_accounts") != "pending" {
		t.Fatalf("request again: want a new pending request")
	}
	if r := staff.post(fmt.Sprintf("/staff/feature-requests/%d/approve", id2), url.Values{"note": {""}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", r.StatusCode)
	}
	r = cust.get(page)
	if featureStatus(t, r.body, "sub_accounts") != "approved" || featureStatus(t, r.body, "multi_user") != "not_requested" {
		t.Errorf("after approval: sub_accounts %q multi_user %q, want approved and not_requested",
			featureStatus(t, r.body, "sub_accounts"), featureStatus(t, r.body, "multi_user"))
	}
	var uid int64
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'opt@example.test'`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	aa, err := a.db.Access(context.Background(), uid, prefix)
	if err != nil || !aa.Features[portal.FeatureSubAccounts] || aa.Features[portal.FeatureMultiUser] {
		t.Errorf("access after approval: %+v, %v; want sub_accounts only", aa, err)
	}
	if m := a.waitMailCount("opt@example.test", 3); !strings.Contains(m.Subject, "approved") {
		t.Errorf("approval email subject %q", m.Subject)
	}
	for _, action := range []string{"feature.requested", "feature.denied", "feature.approved"} {
		if n := a.count(`SELECT count(*) FROM audit_events WHERE action = $1`, action); n == 0 {
			t.Errorf("no %s audit event", action)
		}
	}
	// An enabled feature cannot be requested again.
	if r := cust.post(page+"/sub_accounts/request", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("request of an enabled feature: %d, want a redirect with a message", r.StatusCode)
	}
	if n := a.count(`SELECT count(*) FROM feature_requests WHERE status = 'pending'`); n != 0 {
		t.Errorf("pending requests after requesting an enabled feature: %d, want 0", n)
	}
}

func TestFeatureRequestDoubleSubmit(t *testing.T) {
	a := newTestApp(t, nil)
	cust, prefix := a.newCustomer("Double Co", "double@example.test")
	for _, st := range cust.parallel(limitFeatureRequest.n, "/accounts/"+prefix+"/preferences/features/multi_user/request", nil) {
		if st != http.StatusSeeOther {
			t.Errorf("concurrent request answered %d, want 303", st)
		}
	}
	if n := a.count(`SELECT count(*) FROM feature_requests WHERE status = 'pending'`); n != 1 {
		t.Errorf("pending rows = %d, want 1", n)
	}
}

func TestFeatureDoubleApproveSendsOneEmail(t *testing.T) {
	a := newTestApp(t, nil)
	cust, prefix := a.newCustomer("Twice Co", "twice@example.test")
	before := a.mailCount("twice@example.test")
	cust.post("/accounts/"+prefix+"/preferences/features/sub_accounts/request", nil)
	id := a.requestID(prefix, "sub_accounts")
	one, two := a.staffClient("one@carrier.test"), a.staffClient("two@carrier.test")
	path := fmt.Sprintf("/staff/feature-requests/%d/approve", id)
	var wg sync.WaitGroup
	for _, c := range []*client{one, two} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, st := range c.parallel(4, path, url.Values{"note": {"ok"}}) {
				if st != http.StatusSeeOther {
					t.Errorf("concurrent approve answered %d, want 303", st)
				}
			}
		}()
	}
	wg.Wait()
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'feature.approved'`); n != 1 {
		t.Errorf("decisions = %d, want 1", n)
	}
	if n := a.count(`SELECT count(*) FROM account_features`); n != 1 {
		t.Errorf("enabled feature rows = %d, want 1", n)
	}
	a.waitMailCount("twice@example.test", before+1)
	time.Sleep(1500 * time.Millisecond) // a second email would arrive meanwhile
	if n := a.mailCount("twice@example.test") - before; n != 1 {
		t.Errorf("decision emails = %d, want 1", n)
	}
	if r := one.get("/staff/feature-requests"); !strings.Contains(r.body, fmt.Sprintf(`data-testid="status-%d"`, id)) ||
		strings.Contains(r.body, fmt.Sprintf(`data-testid="approve-%d"`, id)) {
		t.Errorf("queue still offers a decision on the decided request")
	}
}

func TestFeatureRequestRateLimited(t *testing.T) {
	a := newTestApp(t, nil)
	cust, prefix := a.newCustomer("Flood Co", "flood@example.test")
	path := "/accounts/" + prefix + "/preferences/features/sub_accounts/request"
	for i := 0; i < limitFeatureRequest.n; i++ {
		if r := cust.post(path, nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("request %d: %d", i+1, r.StatusCode)
		}
	}
	r := cust.post(path, nil)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("request %d: %d, want 429 with Retry-After", limitFeatureRequest.n+1, r.StatusCode)
	}
	if n := a.count(`SELECT count(*) FROM feature_requests`); n != 1 {
		t.Errorf("requests filed = %d, want 1", n)
	}
}

// Who sees what on the Features page, by user type and account.
func TestFeaturesPageByRole(t *testing.T) {
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, acct string
		status            int
		sub               string // status shown for sub_accounts
		button, family    bool
		postStatus        int
	}{
		{"principal without features", "owner@initech.test", "16180300", 200, "not_requested", true, false, 303},
		{"principal with a pending request", "owner@globex.test", "27182800", 200, "pending", false, false, 303},
		{"power on the root", "power@acme.test", "31415900", 200, "approved", false, false, 303},
		{"general on a sub-account", "general@acme.test", "31415901", 200, "approved", false, true, 403},
		{"power on a sub-account", "power@acme.test", "31415901", 200, "approved", false, true, 303},
		{"other family", "owner@globex.test", "31415900", 404, "", false, false, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := a.client()
			c.login(tc.email, postgres.DemoPassword)
			page := "/accounts/" + tc.acct + "/preferences/features"
			g := c.get(page)
			if g.StatusCode != tc.status {
				t.Fatalf("GET: %d, want %d", g.StatusCode, tc.status)
			}
			if tc.status == 200 {
				if got := featureStatus(t, g.body, "sub_accounts"); got != tc.sub {
					t.Errorf("sub_accounts status %q, want %q", got, tc.sub)
				}
				if got := strings.Contains(g.body, `data-testid="request-sub_accounts"`); got != tc.button {
					t.Errorf("request button shown = %v, want %v", got, tc.button)
				}
				if got := strings.Contains(g.body, `data-testid="features-family"`); got != tc.family {
					t.Errorf("family note shown = %v, want %v", got, tc.family)
				}
			}
			if p := c.post(page+"/multi_user/request", nil); p.StatusCode != tc.postStatus {
				t.Errorf("POST request: %d, want %d", p.StatusCode, tc.postStatus)
			}
		})
	}
	if r := a.client().get("/accounts/16180300/preferences/features"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out: %d, want a redirect to sign in", r.StatusCode)
	}
	c := a.client()
	c.login("owner@initech.test", postgres.DemoPassword)
	if r := c.post("/accounts/16180300/preferences/features/teleport/request", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown feature: %d, want 404", r.StatusCode)
	}
}
