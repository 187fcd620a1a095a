package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// saDemo is the portal on a database with the demo data.
func saDemo(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	a := newTestApp(t, env)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return a
}

// saLogin signs a demo user in on a new client.
func (a *testApp) saLogin(email string) *client {
	a.t.Helper()
	c := a.client()
	c.login(email, postgres.DemoPassword)
	return c
}

var rowPrefixRE = regexp.MustCompile(`data-testid="([a-z-]+)" data-prefix="([0-9]{8})"`)

// saPrefixes lists the tech prefixes of the elements with a test id, sorted.
func saPrefixes(body, testid string) []string {
	out := []string{}
	for _, m := range rowPrefixRE.FindAllStringSubmatch(body, -1) {
		if m[1] == testid {
			out = append(out, m[2])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func saStatus(t *testing.T, r *response, want int, what string) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode, want, excerpt(r.body))
	}
}

// TestSubAccountVisibility: the picker, the summaries and the URLs show each
// user exactly the accounts the contract gives them.
func TestSubAccountVisibility(t *testing.T) {
	a := saDemo(t, nil)
	all := []string{"31415900", "31415901", "31415902", "31415903"}
	tests := []struct {
		email        string
		home         string
		summary      []string // nil: /summary is not found
		picker       []string
		hidden       []string // accounts whose every URL is not found
		pickerInHead bool
	}{
		{"principal@acme.test", "31415900", all, all, []string{"27182800", "16180300"}, true},
		{"power@acme.test", "31415900", []string{"31415900", "31415901"}, []string{"31415900", "31415901", "31415902"}, []string{"31415903", "27182800"}, true},
		{"east-owner@acme.test", "31415902", []string{"31415902"}, []string{"31415902"}, []string{"31415900", "31415901", "31415903"}, false},
		{"general@acme.test", "31415901", nil, []string{"31415901"}, []string{"31415900", "31415902"}, false},
		{"owner@globex.test", "27182800", nil, []string{"27182800"}, all, false},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			c := a.saLogin(tc.email)
			home := c.get("/accounts/" + tc.home)
			saStatus(t, home, http.StatusOK, "home")
			if got := strings.Contains(home.body, `data-testid="picker"`); got != tc.pickerInHead {
				t.Errorf("picker in the header: %v, want %v", got, tc.pickerInHead)
			}
			for _, path := range []string{"/summary", "/summary/billing", "/summary/billing.csv"} {
				r := c.get(path)
				if tc.summary == nil {
					saStatus(t, r, http.StatusNotFound, path)
					continue
				}
				saStatus(t, r, http.StatusOK, path)
				var got []string
				switch path {
				case "/summary":
					got = saPrefixes(r.body, "summary-row")
				case "/summary/billing":
					got = saPrefixes(r.body, "billing-row")
				default:
					got = csvPrefixes(t, r.body)
				}
				if !slices.Equal(got, tc.summary) {
					t.Errorf("%s lists %v, want %v", path, got, tc.summary)
				}
			}
			r := c.get("/picker?q=")
			saStatus(t, r, http.StatusOK, "/picker")
			if got := saPrefixes(r.body, "picker-entry"); !slices.Equal(got, tc.picker) {
				t.Errorf("picker lists %v, want %v", got, tc.picker)
			}
			for _, p := range tc.hidden {
				for _, path := range []string{"/accounts/" + p, "/accounts/" + p + "/billing", "/accounts/" + p + "/settings", "/switch?to=" + p} {
					saStatus(t, c.get(path), http.StatusNotFound, path)
				}
			}
		})
	}
}

func csvPrefixes(t *testing.T, body string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Company,") {
		t.Fatalf("CSV without its header: %q", body)
	}
	out := []string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		out = append(out, f[2])
	}
	slices.Sort(out)
	return out
}

// TestSummaryTotalsMatchRows reads the totals row of both summaries and
// checks it against the rows shown, for a Power user (a part of the family).
func TestSummaryTotalsMatchRows(t *testing.T) {
	a := saDemo(t, nil)
	ctx := context.Background()
	uid := a.count(`SELECT id FROM users WHERE email = 'power@acme.test'`)
	sc, err := a.db.SummaryScopeOf(ctx, int64(uid))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := a.db.BillingSummaryPage(ctx, sc, postgres.SummaryQuery{Month: time.Now(), Limit: 100}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range bs.Rows {
		sum += r.Total
	}
	var raw int64
	if err := a.pool.QueryRow(ctx, `SELECT coalesce(sum(amount_micros), 0) FROM charges c JOIN accounts a ON a.id = c.account_id
		WHERE a.tech_prefix IN ('31415900', '31415901') AND c.occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if sum != raw || raw == 0 {
		t.Fatalf("rows add up to %d, raw charges of the Power accounts %d (want equal, not zero)", sum, raw)
	}
	c := a.saLogin("power@acme.test")
	r := c.get("/summary/billing")
	if want := `data-testid="billing-total">` + portal.FormatMoney(raw) + `<`; !strings.Contains(r.body, want) {
		t.Errorf("Billing Summary total is not %s", portal.FormatMoney(raw))
	}
	r = c.get("/summary")
	if want := `data-testid="total-charges">` + portal.FormatMoney(raw) + `<`; !strings.Contains(r.body, want) {
		t.Errorf("All Accounts charges total is not %s", portal.FormatMoney(raw))
	}
}

// TestLinkRequestEnumeration: every link request answers with the same
// page, matched or not; only an eligible account gets an email.
func TestLinkRequestEnumeration(t *testing.T) {
	a := saDemo(t, nil)
	c := a.saLogin("principal@acme.test")
	acks := url.Values{"ack_access": {"1"}, "ack_unlink": {"1"}, "ack_billing": {"1"}}
	send := func(prefix, email string) *response {
		f := url.Values{"tech_prefix": {prefix}, "email": {email}}
		for k, v := range acks {
			f[k] = v
		}
		return c.post("/accounts/31415900/settings/link", f)
	}
	good := send("27182800", "noc@globex.test")
	saStatus(t, good, http.StatusOK, "eligible request")
	a.waitMail("noc@globex.test")
	cases := []struct{ name, prefix, email string }{
		{"wrong email", "16180300", "someone@initech.test"},
		{"unknown prefix", "99999999", "noc@globex.test"},
		{"already a sub-account here", "31415901", "west@acme.test"},
		{"itself", "31415900", "billing@acme.test"},
		{"pending activation", "31415903", "labs@acme.test"},
	}
	for _, tc := range cases {
		r := send(tc.prefix, tc.email)
		if r.StatusCode != good.StatusCode || stripRequestID(r.body) != stripRequestID(good.body) {
			t.Errorf("%s: status %d and body differ from an eligible request's", tc.name, r.StatusCode)
		}
	}
	sleepBriefly()
	if n := a.count(`SELECT count(*) FROM dev_mail WHERE subject ILIKE '%link%'`); n != 1 {
		t.Errorf("link emails sent = %d, want 1 (to the eligible account only)", n)
	}
	// Asking about one account again and again is cut off.
	for i := 0; i < 2; i++ {
		send("16180300", "it@initech.test")
	}
	if r := send("16180300", "it@initech.test"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("fourth request for one tech prefix: status %d, want 429", r.StatusCode)
	}
	// The acknowledgements are required.
	r := c.post("/accounts/31415900/settings/link", url.Values{"tech_prefix": {"27182800"}, "email": {"noc@globex.test"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-ack_billing"`) {
		t.Errorf("without acknowledgements: status %d, want 422 with the field errors", r.StatusCode)
	}
}

func TestLinkConfirmation(t *testing.T) {
	a := saDemo(t, nil)
	paula := a.saLogin("principal@acme.test")
	req := url.Values{"tech_prefix": {"27182800"}, "email": {"NOC@globex.test"}, "ack_access": {"1"}, "ack_unlink": {"1"}, "ack_billing": {"1"}}
	saStatus(t, paula.post("/accounts/31415900/settings/link", req), http.StatusOK, "request")
	link := linkPath(t, a.waitMail("noc@globex.test"))
	saStatus(t, paula.get("/accounts/27182800"), http.StatusNotFound, "Globex before the link")

	visitor := a.client()
	r := visitor.get(link)
	saStatus(t, r, http.StatusOK, "confirmation page")
	if !strings.Contains(r.body, "Link Globex Networks to Acme Telecom?") {
		t.Errorf("confirmation page does not say what it links: %s", excerpt(r.body))
	}
	saStatus(t, visitor.get(link), http.StatusOK, "confirmation page again (a scanner)")
	r = visitor.post(link, nil)
	saStatus(t, r, http.StatusOK, "confirm")
	if !strings.Contains(r.body, `data-testid="link-done"`) {
		t.Errorf("after confirming: %s", excerpt(r.body))
	}
	saStatus(t, paula.get("/accounts/27182800"), http.StatusOK, "Globex after the link")
	for _, to := range []string{"principal@acme.test", "owner@globex.test"} {
		if m := a.waitMail(to); !strings.Contains(m.Subject, "linked") {
			t.Errorf("newest email to %s is %q, want the linked notice", to, m.Subject)
		}
	}
	saStatus(t, visitor.post(link, nil), http.StatusGone, "the same link again")

	// A link for an account that can no longer be linked explains why.
	req.Set("tech_prefix", "16180300")
	req.Set("email", "it@initech.test")
	saStatus(t, paula.post("/accounts/31415900/settings/link", req), http.StatusOK, "request")
	link = linkPath(t, a.waitMail("it@initech.test"))
	if _, err := a.pool.Exec(context.Background(), `UPDATE accounts SET status = 'suspended' WHERE tech_prefix = '16180300'`); err != nil {
		t.Fatal(err)
	}
	r = visitor.get(link)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "is not active, so it cannot be linked") {
		t.Errorf("link for a suspended account: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	saStatus(t, visitor.post(link, nil), http.StatusUnprocessableEntity, "confirming it")
	if n := a.count(`SELECT count(*) FROM accounts WHERE tech_prefix = '16180300' AND parent_id IS NOT NULL`); n != 0 {
		t.Error("the suspended account was linked")
	}
}

func TestSummarySearchSortAndExport(t *testing.T) {
	a := saDemo(t, nil)
	if _, err := a.pool.Exec(context.Background(), `UPDATE accounts SET company_name = '=HYPERLINK("http://x")' WHERE tech_prefix = '31415903'`); err != nil {
		t.Fatal(err)
	}
	c := a.saLogin("principal@acme.test")
	if got := saPrefixes(c.get("/summary?q=pacific").body, "summary-row"); !slices.Equal(got, []string{"31415901"}) {
		t.Errorf("search by alias lists %v, want West", got)
	}
	// Largest balance first: East, then West, Acme, Labs in the demo.
	r := c.get("/summary?sort=balance&dir=desc")
	var order []string
	for _, m := range rowPrefixRE.FindAllStringSubmatch(r.body, -1) {
		if m[1] == "summary-row" {
			order = append(order, m[2])
		}
	}
	sc, err := a.db.SummaryScopeOf(context.Background(), int64(a.count(`SELECT id FROM users WHERE email = 'principal@acme.test'`)))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := a.db.AccountsSummary(context.Background(), sc,
		postgres.SummaryQuery{Sort: "balance", Desc: true, Month: time.Now(), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i-1].Balance < rows[i].Balance {
			t.Fatalf("store rows not by balance: %+v", rows)
		}
	}
	if len(order) != 4 || order[0] != rows[0].TechPrefix || order[3] != rows[3].TechPrefix {
		t.Errorf("sorted by balance, descending: %v", order)
	}
	// Unknown sort keys fall back to company order rather than reaching SQL.
	saStatus(t, c.get("/summary?sort=balance_micros;DROP&dir=desc"), http.StatusOK, "bad sort key")

	r = c.get("/summary/billing.csv")
	saStatus(t, r, http.StatusOK, "export")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %q", ct)
	}
	if !strings.Contains(r.body, `"'=HYPERLINK(""http://x"")"`) {
		t.Errorf("a formula in a company name is not neutralized:\n%s", r.body)
	}
}
