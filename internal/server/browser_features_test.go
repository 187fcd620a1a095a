package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"carrierportal/internal/postgres"
)

// optInAttr is an attribute of the first element matching sel, or "" when the
// element or the attribute is missing.
func optInAttr(b *browser, sel, name string) string {
	b.t.Helper()
	js := fmt.Sprintf(`document.querySelector(%s)?.getAttribute(%s) ?? ""`, jsString(sel), jsString(name))
	return browserRun(b, "attribute "+name+" of "+sel, chromedp.Evaluate[string](js))
}

// wantFeature checks the badge of a feature on the Features page: its
// machine status and the words the customer reads.
func wantFeature(t *testing.T, b *browser, feature, status, label string) {
	t.Helper()
	sel := `[data-testid="feature-status-` + feature + `"]`
	if got := b.text(sel); got != label {
		t.Errorf("%s: badge %q, want %q", feature, got, label)
	}
	if got := optInAttr(b, sel, "data-status"); got != status {
		t.Errorf("%s: status %q, want %q", feature, got, status)
	}
}

// optInSignIn fills a sign-in form and submits it like a user.
func optInSignIn(b *browser, form, email, password string) {
	b.t.Helper()
	b.fill(`[data-testid="`+form+`"] #f-email`, email)
	b.fill(`[data-testid="`+form+`"] #f-password`, password)
	b.click(`[data-testid="` + form + `"] button[type=submit]`)
}

// menuLists reports whether the account menu has an entry with this label.
func menuLists(label string) bool {
	return slices.ContainsFunc(menu, func(e navEntry) bool { return e.label == label })
}

// TestBrowserFeatureOptIn is the opt-in loop from both sides: a Principal
// requests Sub-Accounts, staff approve it with a note and the customer sees
// it approved; then Multi-User is requested, denied with a note, and the
// customer sees why. The requester is emailed each decision.
func TestBrowserFeatureOptIn(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	const (
		owner      = "owner@initech.test"
		prefix     = "16180300"
		company    = "Initech Voice"
		approveMsg = "Welcome aboard: link your accounts from Advanced Settings."
		denyMsg    = "Multi-User is limited to accounts with a signed reseller agreement; please contact your account manager."
	)
	features := a.srv.URL + "/accounts/" + prefix + "/preferences/features"
	mailsBefore := a.mailCount(owner)

	// The Principal signs in and opens Preferences → Features.
	cust := newBrowser(t)
	cust.visit(a.srv.URL + "/login")
	optInSignIn(cust, "login-form", owner, postgres.DemoPassword)
	cust.waitVisible(`main [data-testid="dashboard-heading"]`)
	cust.click(`[data-testid="nav-features"]`)
	if loc := cust.location(); loc != features {
		t.Fatalf("the Features menu item leads to %s, want %s", loc, features)
	}
	cust.waitVisible(`[data-testid="features-heading"]`)
	wantFeature(t, cust, "sub_accounts", "not_requested", "Not requested")
	wantFeature(t, cust, "multi_user", "not_requested", "Not requested")
	if cust.exists(`[data-testid="nav-advanced-settings"]`) {
		t.Errorf("Advanced Settings is in the menu of a family without features")
	}
	cust.screenshot("01-features-before")

	cust.click(`[data-testid="request-sub_accounts"]`)
	wantFeature(t, cust, "sub_accounts", "pending", "Pending review")
	if got := cust.text(`[data-testid="flash"]`); !strings.Contains(got, "Reviews can take up to a week") {
		t.Errorf("after requesting: flash %q, want the thanks and the review time", got)
	}
	if cust.exists(`[data-testid="request-sub_accounts"]`) {
		t.Errorf("a pending feature still offers Request access")
	}
	cust.screenshot("02-sub-accounts-pending")

	// A staff user, on another computer, finds the request and approves it.
	staff := cust.newPerson()
	staff.visit(a.srv.URL + "/staff/login")
	optInSignIn(staff, "staff-login-form", postgres.DemoStaffEmail, postgres.DemoPassword)
	staff.waitVisible(`[data-testid="queue-heading"]`)
	id := a.requestID(prefix, "sub_accounts")
	row := fmt.Sprintf(`[data-testid="request-row-%d"]`, id)
	if got := staff.text(row); !strings.Contains(got, company) || !strings.Contains(got, "Sub-Accounts") || !strings.Contains(got, owner) {
		t.Errorf("queue row %q, want the company %q, the feature and the requester", got, company)
	}
	if got := staff.text(fmt.Sprintf(`[data-testid="status-%d"]`, id)); got != "Pending" {
		t.Errorf("queue status %q, want Pending", got)
	}
	staff.fill(fmt.Sprintf(`[data-testid="note-%d"]`, id), approveMsg)
	staff.screenshot("03-queue-before-approval")
	staff.click(fmt.Sprintf(`[data-testid="approve-%d"]`, id))
	if got := staff.text(fmt.Sprintf(`[data-testid="status-%d"]`, id)); got != "Approved" {
		t.Errorf("after approving: queue status %q, want Approved", got)
	}
	if got := staff.text(fmt.Sprintf(`[data-testid="decision-note-%d"]`, id)); !strings.Contains(got, approveMsg) {
		t.Errorf("after approving: decision note %q, want %q", got, approveMsg)
	}
	staff.screenshot("04-queue-approved")

	// The customer reloads the page and sees the decision.
	cust.visit(features)
	wantFeature(t, cust, "sub_accounts", "approved", "Approved")
	wantFeature(t, cust, "multi_user", "not_requested", "Not requested")
	if got := cust.text(`[data-testid="feature-note-sub_accounts"]`); !strings.Contains(got, approveMsg) {
		t.Errorf("approval note on the Features page %q, want %q", got, approveMsg)
	}
	// Advanced Settings is the Sub-Accounts page; it is checked once the
	// account menu lists it, and until then the approval above is what the
	// customer can see.
	switch {
	case !menuLists("Advanced Settings"):
		t.Log("the account menu has no Advanced Settings entry yet; its appearance is not checked")
	case !cust.exists(`[data-testid="nav-advanced-settings"]`):
		t.Errorf("after approval: no Advanced Settings in the menu")
	}
	cust.screenshot("05-sub-accounts-approved")

	// Multi-User is requested and denied with a note.
	cust.click(`[data-testid="request-multi_user"]`)
	wantFeature(t, cust, "multi_user", "pending", "Pending review")
	cust.screenshot("06-multi-user-pending")

	staff.visit(a.srv.URL + "/staff/feature-requests")
	id2 := a.requestID(prefix, "multi_user")
	if id2 == id {
		t.Fatalf("the Multi-User request has the id of the Sub-Accounts one")
	}
	// Denying without a note is refused next to the row, and nothing changes.
	if got := staff.click(fmt.Sprintf(`[data-testid="deny-%d"]`, id2)); got != http.StatusUnprocessableEntity {
		t.Errorf("deny without a note: status %d, want 422", got)
	}
	if got := staff.text(fmt.Sprintf(`[data-testid="error-note-%d"]`, id2)); !strings.Contains(got, "note") {
		t.Errorf("deny without a note: error %q, want one asking for a note", got)
	}
	if got := staff.text(fmt.Sprintf(`[data-testid="status-%d"]`, id2)); got != "Pending" {
		t.Errorf("deny without a note: status %q, want still Pending", got)
	}
	staff.screenshot("07-deny-needs-note")
	staff.fill(fmt.Sprintf(`[data-testid="note-%d"]`, id2), denyMsg)
	staff.click(fmt.Sprintf(`[data-testid="deny-%d"]`, id2))
	if got := staff.text(fmt.Sprintf(`[data-testid="status-%d"]`, id2)); got != "Denied" {
		t.Errorf("after denying: queue status %q, want Denied", got)
	}
	staff.screenshot("08-queue-denied")

	cust.visit(features)
	wantFeature(t, cust, "multi_user", "denied", "Denied")
	wantFeature(t, cust, "sub_accounts", "approved", "Approved")
	if got := cust.text(`[data-testid="feature-note-multi_user"]`); !strings.Contains(got, denyMsg) {
		t.Errorf("denial note on the Features page %q, want %q", got, denyMsg)
	}
	if got := cust.text(`[data-testid="request-multi_user"]`); got != "Request access again" {
		t.Errorf("after a denial: button %q, want Request access again", got)
	}
	cust.screenshot("09-multi-user-denied")

	// The requester was emailed both decisions, with the notes.
	a.waitMailCount(owner, mailsBefore+2)
	for _, tc := range []struct{ subject, note string }{
		{"Your Sub-Accounts request was approved", approveMsg},
		{"Your Multi-User request was denied", denyMsg},
	} {
		var text string
		err := a.pool.QueryRow(context.Background(), `SELECT text_body FROM dev_mail WHERE lower(to_addr) = $1 AND subject = $2`,
			owner, tc.subject).Scan(&text)
		if err != nil {
			t.Errorf("email %q to %s: %v", tc.subject, owner, err)
			continue
		}
		if !strings.Contains(strings.Join(strings.Fields(text), " "), tc.note) {
			t.Errorf("email %q does not carry the note %q: %s", tc.subject, tc.note, text)
		}
	}
	cust.visit(a.srv.URL + "/dev/mailbox")
	cust.click(mailTo(owner))
	if got, want := cust.text(`[data-testid="mail-subject"]`), "Your Multi-User request was denied"; got != want {
		t.Errorf("newest email to %s: subject %q, want %q", owner, got, want)
	}
	cust.screenshot("10-denial-email")
}
