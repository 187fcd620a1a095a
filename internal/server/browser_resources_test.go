package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// The demo family's Acme West, where Gina General and Pete Power both work.
const (
	resWest     = "31415901"
	resWestPath = "/accounts/" + resWest
)

// resApp starts the portal on the demo family.
func resApp(t *testing.T) *testApp {
	t.Helper()
	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return a
}

// resTexts is the visible text of every element matching sel.
func resTexts(b *browser, sel string) []string {
	b.t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%s), e => e.innerText.trim())`, jsString(sel))
	return browserRun(b, "texts of "+sel, chromedp.Evaluate[[]string](js))
}

// resAnyContains reports whether one of the texts contains want.
func resAnyContains(texts []string, want string) bool {
	return slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, want) })
}

// resMoney reads an amount as the portal shows it ("-$1,234.56").
func resMoney(t *testing.T, what, s string) int64 {
	t.Helper()
	m, err := portal.ParseMoney("amount", s, portal.MoneyOptions{AllowNegative: true})
	if err != nil {
		t.Fatalf("%s %q is not an amount: %v", what, s, err)
	}
	return m
}

// resFlash checks the message shown after a change.
func resFlash(t *testing.T, b *browser, step, want string) {
	t.Helper()
	if got := b.text(`[data-testid="flash"]`); !strings.Contains(got, want) {
		t.Errorf("%s: flash %q, want %q", step, got, want)
	}
}

// resOpen follows a menu item and checks where it leads.
func resOpen(t *testing.T, b *browser, item, wantPath, heading string) {
	t.Helper()
	if got := b.click(`[data-testid="nav-` + item + `"]`); got != http.StatusOK {
		t.Fatalf("menu %s: status %d", item, got)
	}
	if loc := b.location(); !strings.HasSuffix(loc, wantPath) {
		t.Errorf("menu %s leads to %s, want …%s", item, loc, wantPath)
	}
	b.waitVisible(`[data-testid="` + heading + `"]`)
}

// resSeesReports opens Billing and CDRs from the menu and checks that both
// show the seeded months, then screenshots them.
func resSeesReports(t *testing.T, b *browser, shot string) {
	t.Helper()
	resOpen(t, b, "billing", resWestPath+"/billing", "billing-heading")
	if n := b.count(`[data-testid="category-row"]`); n == 0 {
		t.Error("billing: no charge categories for the current month")
	}
	if n := b.count(`[data-testid="payment-row"]`); n == 0 {
		t.Error("billing: no payments")
	}
	if got := b.text(`[data-testid="balance"]`); !strings.HasPrefix(strings.TrimPrefix(got, "-"), "$") {
		t.Errorf("billing: balance %q is not shown in dollars", got)
	}
	b.screenshot(shot + "-billing")

	resOpen(t, b, "cdrs", resWestPath+"/cdrs", "cdrs-heading")
	if n := b.count(`[data-testid="cdr-row"]`); n == 0 {
		t.Error("CDRs: no call rows")
	}
	if got := b.text(`[data-testid="total-calls"]`); got == "0" {
		t.Error("CDRs: the totals count no calls")
	}
	if !b.exists(`[data-testid="cdr-export"]`) {
		t.Error("CDRs: no CSV export")
	}
	b.screenshot(shot + "-cdrs")
}

// resEditsDID changes a number's label and picks another route from the
// list, and checks the list shows both.
func resEditsDID(t *testing.T, a *testApp, b *browser, number, label, shot string) {
	t.Helper()
	resOpen(t, b, "dids", resWestPath+"/dids", "dids-heading")
	if n := b.count(`[data-testid="did-row"]`); n == 0 {
		t.Fatal("DIDs: no numbers listed")
	}
	b.screenshot(shot + "-dids")
	row := `[data-testid="did-row"][data-number="` + number + `"]`
	b.click(row + ` [data-testid="did-open"]`)
	b.waitVisible(`[data-testid="did-form"]`)
	sel := `[data-testid="select-route_id"]`
	current := b.value(sel)
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%s), o => [o.value, o.textContent])`, jsString(sel+" option"))
	options := browserRun(b, "route options", chromedp.Evaluate[[][2]string](js))
	var pick, pickName string
	for _, o := range options {
		if o[0] != "" && o[0] != current {
			pick, pickName = o[0], strings.TrimSpace(strings.SplitN(o[1], " — ", 2)[0])
			break
		}
	}
	if pick == "" {
		t.Fatalf("DID edit: no other route to choose among %v (current %q)", options, current)
	}
	b.choose(sel, pick)
	b.fill("#f-label", label)
	b.screenshot(shot + "-did-edit")
	if got := b.click(`[data-testid="did-save"]`); got != http.StatusOK {
		t.Fatalf("DID save: status %d", got)
	}
	resFlash(t, b, "DID save", "Saved")
	got := b.text(row)
	if !strings.Contains(got, label) || !strings.Contains(got, pickName) {
		t.Errorf("DID row after saving: %q, want the label %q and the route %q", got, label, pickName)
	}
	if n := a.count(`SELECT count(*) FROM dids d JOIN accounts a ON a.id = d.account_id
		WHERE a.tech_prefix = $1 AND d.number = $2 AND d.label = $3 AND d.route_id::text = $4`, resWest, number, label, pick); n != 1 {
		t.Errorf("DID in the database after saving: %d rows with the new label and route, want 1", n)
	}
}

// resEditsHosts is refused a private address, adds a public one and edits
// an existing host's description.
func resEditsHosts(t *testing.T, b *browser, address, desc, shot string) {
	t.Helper()
	resOpen(t, b, "interconnection", resWestPath+"/interconnection", "interconnection-heading")
	form := `[data-testid="host-add-form"]`
	b.fill(form+` #f-address`, "192.168.1.10")
	b.fill(form+` #f-description`, desc)
	if got := b.click(form + ` [data-testid="host-add"]`); got != http.StatusUnprocessableEntity {
		t.Errorf("adding a private address: status %d, want 422", got)
	}
	if !b.exists(form + ` [data-testid="error-address"]`) {
		t.Error("adding a private address: no message next to the address")
	}
	b.screenshot(shot + "-host-private-refused")
	b.fill(form+` #f-address`, address)
	b.fill(form+` #f-description`, desc)
	if got := b.click(form + ` [data-testid="host-add"]`); got != http.StatusOK {
		t.Fatalf("add host: status %d", got)
	}
	resFlash(t, b, "add host", address)
	if rows := resTexts(b, `[data-testid="host-row"]`); !resAnyContains(rows, address) || !resAnyContains(rows, desc) {
		t.Errorf("hosts after adding %s: %q", address, rows)
	}
	b.screenshot(shot + "-interconnection")

	// Edit the host just added.
	js := fmt.Sprintf(`Array.from(document.querySelectorAll('[data-testid="host-row"]')).find(r => r.innerText.includes(%s))?.dataset.id ?? ""`, jsString(address))
	id := browserRun(b, "id of the new host", chromedp.Evaluate[string](js))
	if id == "" {
		t.Fatalf("no host row for %s", address)
	}
	b.click(`[data-testid="host-row"][data-id="` + id + `"] [data-testid="host-edit"]`)
	b.waitVisible(`[data-testid="ic-edit-form-hosts"]`)
	edited := desc + " (edited)"
	b.fill(`[data-testid="ic-edit-form-hosts"] #f-description`, edited)
	b.screenshot(shot + "-host-edit")
	if got := b.click(`[data-testid="ic-save"]`); got != http.StatusOK {
		t.Fatalf("edit host: status %d", got)
	}
	if rows := resTexts(b, `[data-testid="host-row"]`); !resAnyContains(rows, edited) {
		t.Errorf("hosts after editing a description: %q, want one %q", rows, edited)
	}
}

// resSignIn signs in through the form and opens Acme West.
func resSignIn(t *testing.T, a *testApp, b *browser, email, role string) {
	t.Helper()
	b.visit(a.srv.URL + "/login")
	b.signIn(a.srv.URL, email, postgres.DemoPassword)
	b.waitVisible(`main [data-testid="dashboard-heading"]`)
	if !strings.HasSuffix(b.location(), resWestPath) {
		b.visit(a.srv.URL + resWestPath)
	}
	if got := b.text(`[data-testid="account-name"] .acct-name`); got != "Acme West" {
		t.Errorf("header %q, want Acme West", got)
	}
	if got := b.text(`[data-testid="role"]`); got != role {
		t.Errorf("dashboard user type %q, want %s", got, role)
	}
}

// TestBrowserGeneralUser: a General user reads billing and CDRs, edits a
// number and a SIP host, and finds no way to change customer info, billing
// info, funds or API keys: not in the menu, not as a button, not by URL.
func TestBrowserGeneralUser(t *testing.T) {
	a := resApp(t)
	b := newBrowser(t)
	resSignIn(t, a, b, "general@acme.test", "General")
	if b.exists(`[data-testid="nav-api-keys"]`) {
		t.Error("the menu offers API Keys to a General user")
	}
	for _, item := range []string{"dids", "interconnection", "cdrs", "billing", "customer-info"} {
		if !b.exists(`[data-testid="nav-` + item + `"]`) {
			t.Errorf("the menu lacks %s", item)
		}
	}
	b.screenshot("01-dashboard")

	resSeesReports(t, b, "02")
	b.click(`[data-testid="nav-billing"]`)
	if b.exists(`[data-testid="funds-form"]`) || b.exists(`form[action$="/billing/funds"]`) {
		t.Error("billing: a General user is offered Add funds")
	}
	b.click(`[data-testid="billing-info-link"]`)
	b.waitVisible(`[data-testid="billing-info-heading"]`)
	if b.exists(`[data-testid="billing-info-form"]`) || b.exists(`[data-testid="billing-info-save"]`) || b.exists(`form[action$="/billing/info"]`) {
		t.Error("billing info: a General user is offered to edit it")
	}
	if !b.exists(`[data-testid="billing-contact"]`) {
		t.Error("billing info: the contact is not shown read-only")
	}
	b.screenshot("03-billing-info")

	resEditsDID(t, a, b, "+14155550101", "Sales desk", "04")
	resEditsHosts(t, b, "203.0.113.10", "Branch office", "05")

	resOpen(t, b, "customer-info", resWestPath+"/profile", "profile-heading")
	if b.exists(`[data-testid="profile-form"]`) || b.count(`main input:not([type=hidden]), main button[type=submit]`) > 0 {
		t.Error("customer info: a General user is offered a form")
	}
	if got := b.text(`[data-testid="profile-company"]`); got != "Acme West" {
		t.Errorf("customer info: company %q, want Acme West", got)
	}
	b.screenshot("06-customer-info")

	// Typed by hand, the API keys page is refused.
	if got := b.visit(a.srv.URL + resWestPath + "/api-keys"); got != http.StatusForbidden && got != http.StatusNotFound {
		t.Errorf("a General user opens the API keys page: status %d, want 403 or 404", got)
	}
	if b.exists(`[data-testid="apikey-create"]`) {
		t.Error("the refused API keys page still offers Create key")
	}
	b.screenshot("07-api-keys-refused")
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'permission.denied' AND target = $1`, string(portal.ActionManageAPIKeys)); n == 0 {
		t.Error("the refused API keys page left no permission.denied audit event")
	}
}

// TestBrowserPowerUser: on Acme West a Power user does what a General user
// does, and also adds funds, edits billing info, creates an API key (its
// secret shown once) and edits the customer info.
func TestBrowserPowerUser(t *testing.T) {
	a := resApp(t)
	b := newBrowser(t)
	resSignIn(t, a, b, "power@acme.test", "Power")
	if !b.exists(`[data-testid="nav-api-keys"]`) {
		t.Error("the menu lacks API Keys for a Power user")
	}
	b.screenshot("01-dashboard")

	resSeesReports(t, b, "02")
	resEditsDID(t, a, b, "+14155550102", "Support – West coast", "03")
	resEditsHosts(t, b, "203.0.113.11", "Remote office", "04")

	// Add funds with the test card, not the card on file.
	resOpen(t, b, "billing", resWestPath+"/billing", "billing-heading")
	before := resMoney(t, "balance", b.text(`[data-testid="balance"]`))
	form := `[data-testid="funds-form"]`
	b.fill(form+` #f-amount`, "25.50")
	if b.exists(`[data-testid="pay-new"]`) {
		b.clickInPlace(`[data-testid="pay-new"]`)
	}
	b.fill(form+` #f-card_number`, "4242 4242 4242 4242")
	b.fill(form+` #f-card_exp`, fmt.Sprintf("12/%02d", time.Now().Year()%100+3))
	b.fill(form+` #f-card_cvc`, "123")
	b.screenshot("05-add-funds")
	if got := b.click(`[data-testid="funds-submit"]`); got != http.StatusOK {
		t.Fatalf("add funds: status %d", got)
	}
	resFlash(t, b, "add funds", "$25.50 was added")
	after := resMoney(t, "balance", b.text(`[data-testid="balance"]`))
	if after-before != 25_500_000 {
		t.Errorf("balance went from %s to %s, want +$25.50", portal.FormatMoney(before), portal.FormatMoney(after))
	}
	if got := b.text(`[data-testid="payment-row"]`); !strings.Contains(got, "$25.50") || !strings.Contains(got, "4242") {
		t.Errorf("latest payment %q, want $25.50 by the card ending 4242", got)
	}
	b.screenshot("06-billing-after-funds")

	// Billing info.
	b.click(`[data-testid="billing-info-link"]`)
	b.waitVisible(`[data-testid="billing-info-form"]`)
	b.fill(`#f-contact_name`, "Wanda Accounts")
	b.fill(`#f-contact_email`, "ap-west@acme.test")
	b.fill(`#f-city`, "San Francisco")
	b.fill(`#f-region`, "CA")
	b.fill(`#f-postal_code`, "94105")
	b.screenshot("07-billing-info")
	if got := b.click(`[data-testid="billing-info-save"]`); got != http.StatusOK {
		t.Fatalf("save billing info: status %d", got)
	}
	resFlash(t, b, "billing info", "Billing info saved")
	for field, want := range map[string]string{"#f-contact_name": "Wanda Accounts", "#f-contact_email": "ap-west@acme.test", "#f-city": "San Francisco"} {
		if got := b.value(field); got != want {
			t.Errorf("billing info %s after saving: %q, want %q", field, got, want)
		}
	}

	// An API key: the secret once, then only its prefix.
	resOpen(t, b, "api-keys", resWestPath+"/api-keys", "apikeys-heading")
	b.screenshot("08-api-keys")
	b.fill(`[data-testid="apikey-create-form"] #f-name`, "Nightly CDR sync")
	if got := b.click(`[data-testid="apikey-create"]`); got != http.StatusOK {
		t.Fatalf("create API key: status %d", got)
	}
	secret := b.text(`[data-testid="secret-value"]`)
	if len(secret) < 24 {
		t.Errorf("API key secret %q looks too short", secret)
	}
	b.screenshot("09-api-key-secret")
	b.click(`[data-testid="secret-done"]`)
	if rows := resTexts(b, `[data-testid="apikey-row"]`); !resAnyContains(rows, "Nightly CDR sync") || !resAnyContains(rows, "Pete Power") {
		t.Errorf("API keys after creating one: %q, want Nightly CDR sync by Pete Power", rows)
	}
	html := browserRun(b, "page source", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if secret != "" && strings.Contains(html, secret) {
		t.Error("the API keys list shows the secret again")
	}
	b.screenshot("10-api-keys-after-create")

	// Customer info: the company alias.
	resOpen(t, b, "customer-info", resWestPath+"/profile", "profile-heading")
	b.waitVisible(`[data-testid="profile-form"]`)
	b.fill(`#f-company_alias`, "Acme SF")
	b.screenshot("11-customer-info")
	if got := b.click(`[data-testid="profile-save"]`); got != http.StatusOK {
		t.Fatalf("save customer info: status %d", got)
	}
	resFlash(t, b, "customer info", "Customer information saved")
	if got := b.value(`#f-company_alias`); got != "Acme SF" {
		t.Errorf("company alias after saving: %q, want Acme SF", got)
	}
	if got := b.text(`[data-testid="account-name"]`); !strings.Contains(got, "Acme SF") {
		t.Errorf("header after saving the alias: %q, want it to show Acme SF", got)
	}
	b.screenshot("12-customer-info-saved")
}
