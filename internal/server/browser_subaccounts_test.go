package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"carrierportal/internal/postgres"
)

// saBrowserApp is the portal with the demo data, its email links pointing
// at itself, and a browser signed in as a demo user.
func saBrowserApp(t *testing.T, email string) (*testApp, *browser) {
	t.Helper()
	a := saDemo(t, map[string]string{"PORTAL_BASE_URL": "self"})
	b := newBrowser(t)
	saSignIn(b, a, email, postgres.DemoPassword)
	return a, b
}

func saSignIn(b *browser, a *testApp, email, password string) {
	b.t.Helper()
	b.visit(a.srv.URL + "/login")
	b.fill(`[data-testid="login-form"] #f-email`, email)
	b.fill(`[data-testid="login-form"] #f-password`, password)
	b.click(`[data-testid="login-form"] button[type=submit]`)
	b.waitVisible(`main [data-testid="dashboard-heading"]`)
}

// openMail follows the action link of the newest email to addr from the
// development mailbox, as a person reading it would.
func openMail(b *browser, a *testApp, addr string) {
	b.t.Helper()
	a.waitMail(addr)
	b.visit(a.srv.URL + "/dev/mailbox")
	b.click(mailTo(addr))
	b.click(`a[data-testid="mail-action"][href*="/verify/"]`)
	b.waitVisible(`[data-testid="confirm-heading"]`)
}

// openPicker opens the header picker and waits for its list.
func openPicker(b *browser) {
	b.t.Helper()
	b.clickInPlace(`[data-testid="picker-toggle"]`)
	b.waitVisible(`[data-testid="picker-results"] [data-testid="picker-entry"], [data-testid="picker-results"] [data-testid="picker-none"]`)
}

func (b *browser) headerAccount() string {
	b.t.Helper()
	return b.text(`[data-testid="account-name"] .acct-name`)
}

// (a) A root with the feature and no sub-accounts creates one; its new owner
// activates it from the email; the parent then finds it in the picker.
func TestBrowserCreateSubAccount(t *testing.T) {
	a := saDemo(t, map[string]string{"PORTAL_BASE_URL": "self"})
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO account_features (account_id, feature)
		SELECT id, 'sub_accounts' FROM accounts WHERE tech_prefix = '16180300'`); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	saSignIn(b, a, "owner@initech.test", postgres.DemoPassword)
	b.waitVisible(`[data-testid="picker-create"]`)
	b.screenshot("01-create-a-sub-account")
	b.click(`[data-testid="picker-create"]`)
	b.waitVisible(`[data-testid="subaccounts-empty"]`)
	b.screenshot("02-advanced-settings-empty")

	b.click(`[data-testid="add-account"]`)
	for sel, v := range map[string]string{"#f-company_name": "Initech Labs", "#f-company_alias": "Skunkworks", "#f-contact_name": "Milton Waddams",
		"#f-email": "milton@initech.test", "#f-address_line1": "4120 Freidrich Lane", "#f-city": "Austin", "#f-region": "TX",
		"#f-postal_code": "78744", "#f-country": "US"} {
		b.fill(sel, v)
	}
	b.screenshot("03-add-new-account")
	b.click(`[data-testid="new-account-submit"]`)
	if got := b.text(`[data-testid="flash"]`); !strings.Contains(got, "milton@initech.test") {
		t.Errorf("after creating: flash %q", got)
	}
	b.waitVisible(`[data-testid="subaccount-row"] [data-testid="badge-pending"]`)
	b.screenshot("04-pending-sub-account")
	prefix := a.prefixOf("Initech Labs")

	openMail(b, a, "milton@initech.test")
	b.fill(`#f-full_name`, "Milton Waddams")
	b.fill(`#f-password`, "red stapler 1999")
	b.screenshot("05-activate")
	b.click(`[data-testid="confirm-button"]`)
	b.waitVisible(`main [data-testid="dashboard-heading"]`)
	if got := b.headerAccount(); got != "Initech Labs" {
		t.Errorf("after activating: header account %q, want Initech Labs", got)
	}
	b.screenshot("06-new-owner-dashboard")

	b.click(`[data-testid="logout"]`)
	saSignIn(b, a, "owner@initech.test", postgres.DemoPassword)
	if got := b.headerAccount(); got != "Initech Voice" {
		t.Errorf("the parent lands on %q, want Initech Voice", got)
	}
	openPicker(b)
	entry := `[data-testid="picker-results"] [data-prefix="` + prefix + `"]`
	b.waitVisible(entry)
	b.screenshot("07-picker-lists-new-account")
	b.click(entry)
	b.waitVisible(`main [data-testid="dashboard-heading"]`)
	if loc := b.location(); !strings.HasSuffix(loc, "/accounts/"+prefix) {
		t.Errorf("after switching: at %s, want the new account", loc)
	}
	if got := b.headerAccount(); got != "Initech Labs" {
		t.Errorf("after switching: header account %q", got)
	}
	b.screenshot("08-switched")
}

// (b) Link Account with another demo account's prefix and contact email,
// confirmed from the mailbox.
func TestBrowserLinkAccount(t *testing.T) {
	a, b := saBrowserApp(t, "principal@acme.test")
	b.click(`[data-testid="nav-advanced-settings"]`)
	b.waitVisible(`[data-testid="settings-heading"]`)
	b.screenshot("01-advanced-settings")
	b.click(`[data-testid="link-account"]`)
	b.fill(`#f-tech_prefix`, "27182800")
	b.fill(`#f-email`, "noc@globex.test")
	for _, ack := range linkAcks {
		b.clickInPlace(`[data-testid="` + ack + `"]`)
	}
	b.screenshot("02-link-form")
	b.click(`[data-testid="link-submit"]`)
	b.waitVisible(`[data-testid="link-sent"]`)
	b.screenshot("03-link-sent")

	openMail(b, a, "noc@globex.test")
	if got := b.text(`[data-testid="confirm-heading"]`); got != "Link Globex Networks to Acme Telecom?" {
		t.Errorf("confirmation heading %q", got)
	}
	b.screenshot("04-confirm-link")
	b.click(`[data-testid="confirm-button"]`)
	b.waitVisible(`[data-testid="link-done"]`)
	b.screenshot("05-linked")

	b.visit(a.srv.URL + "/accounts/31415900/settings")
	b.waitVisible(`[data-testid="subaccount-row"][data-prefix="27182800"]`)
	b.screenshot("06-globex-is-a-sub-account")
}

// (c) The picker filters by company alias as the user types, and switching
// keeps the page.
func TestBrowserPickerFilter(t *testing.T) {
	a, b := saBrowserApp(t, "principal@acme.test")
	b.click(`[data-testid="nav-billing"]`)
	openPicker(b)
	if n := b.count(`[data-testid="picker-results"] [data-testid="picker-entry"]`); n != 4 {
		t.Errorf("the open picker lists %d accounts, want Acme's 4", n)
	}
	b.screenshot("01-picker-open")
	b.fill(`[data-testid="picker-search"]`, "Pacif")
	b.step("wait for the filtered list", chromedp.Poll[chromedp.Void](
		`document.querySelectorAll('[data-testid="picker-results"] [data-testid="picker-entry"]').length === 1`))
	if got := b.text(`[data-testid="picker-results"] [data-testid="picker-entry"]`); !strings.Contains(got, "Acme West") {
		t.Errorf("filtering by the alias Pacific shows %q, want Acme West", got)
	}
	b.screenshot("02-filtered-by-alias")
	b.click(`[data-testid="picker-results"] [data-prefix="31415901"]`)
	if loc, want := b.location(), a.srv.URL+"/accounts/31415901/billing"; loc != want {
		t.Errorf("after choosing: at %s, want %s (the same page)", loc, want)
	}
	if got := b.headerAccount(); got != "Acme West" {
		t.Errorf("header account %q, want Acme West", got)
	}
	b.screenshot("03-west-billing")
	if log := b.shared.console.String(); strings.Contains(log, "Content Security Policy") || strings.Contains(log, "htmx") {
		t.Errorf("the page logged errors:\n%s", log)
	}
}

// (d) All Accounts, then Billing, then an account from the drop-down.
func TestBrowserSummaries(t *testing.T) {
	a, b := saBrowserApp(t, "principal@acme.test")
	b.clickInPlace(`[data-testid="picker-toggle"]`)
	b.click(`[data-testid="picker-all"]`)
	b.waitVisible(`[data-testid="summary-heading"]`)
	if n := b.count(`[data-testid="summary-row"]`); n != 4 {
		t.Errorf("All Accounts lists %d accounts, want 4", n)
	}
	if got := b.headerAccount(); got != "All Accounts" {
		t.Errorf("header %q, want All Accounts", got)
	}
	b.screenshot("01-all-accounts")
	b.click(`[data-testid="nav-summary-billing"]`)
	b.waitVisible(`[data-testid="chart"]`)
	if n := b.count(`[data-testid="chart-bar"]`); n != 12 {
		t.Errorf("chart has %d bars, want 12", n)
	}
	b.screenshot("02-billing-summary")
	b.step("choose Acme East", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="account-select"]').value = '31415902'`))
	if got := b.click(`[data-testid="account-open"]`); got != http.StatusOK {
		t.Errorf("opening the account's billing: status %d", got)
	}
	if loc, want := b.location(), a.srv.URL+"/accounts/31415902/billing"; loc != want {
		t.Errorf("the drop-down opened %s, want %s", loc, want)
	}
	b.screenshot("03-east-billing")
}

// (e) Unlink a sub-account from Advanced Settings.
func TestBrowserUnlink(t *testing.T) {
	a, b := saBrowserApp(t, "principal@acme.test")
	b.visit(a.srv.URL + "/accounts/31415900/settings")
	b.click(`[data-testid="subaccount-row"][data-prefix="31415902"] [data-testid="unlink"]`)
	b.waitVisible(`[data-testid="unlink-heading"]`)
	b.screenshot("01-unlink-confirm")
	b.click(`[data-testid="unlink-confirm"]`)
	if got := b.text(`[data-testid="flash"]`); !strings.Contains(got, "Acme East is no longer a sub-account") {
		t.Errorf("after unlinking: flash %q", got)
	}
	if b.exists(`[data-testid="subaccount-row"][data-prefix="31415902"]`) {
		t.Error("East is still listed")
	}
	b.screenshot("02-unlinked")
	if got := b.visit(a.srv.URL + "/accounts/31415902"); got != http.StatusNotFound {
		t.Errorf("East after unlinking: status %d, want 404", got)
	}
	b.screenshot("03-east-not-found")
}
