package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"carrierportal/internal/postgres"
)

// choose picks an option of a select, as a user would from the list.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	b.step("choose "+value+" in "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s;
			s.dispatchEvent(new Event("change", {bubbles: true})); })()`, jsString(sel), jsString(value))))
	if got := b.value(sel); got != value {
		b.t.Fatalf("choose %s in %s: value is %q", value, sel, got)
	}
}

// signIn fills and sends the sign-in form.
func (b *browser) signIn(base, email, password string) {
	b.t.Helper()
	if !strings.Contains(b.location(), "/login") {
		b.visit(base + "/login")
	}
	b.fill("#f-email", email)
	b.fill("#f-password", password)
	b.click(`[data-testid="login-form"] button[type=submit]`)
}

// TestBrowserMultiUser is the Multi-User guide in a browser: the Principal
// adds a General user with access to one sub-account; the invitee accepts
// from the mailbox, sets a password and sees only that account; the
// Principal revokes them and their next click lands on the sign-in page;
// after restore they have the same access again.
func TestBrowserMultiUser(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	const (
		name     = "Gwen General"
		email    = "gwen@example.test"
		password = "gwen's own passphrase"
	)
	base := a.srv.URL

	// The Principal opens User Management and adds Gwen to Acme West.
	paula := newBrowser(t)
	paula.signIn(base, "principal@acme.test", postgres.DemoPassword)
	paula.visit(base + "/accounts/31415900")
	paula.click(`[data-testid="nav-user-management"]`)
	if got := paula.text(`[data-testid="users-heading"]`); got != "User Management" {
		t.Fatalf("heading %q", got)
	}
	if !paula.exists(`[data-testid="settings-tabs"] a.active[data-testid="tab-user-management"]`) {
		t.Error("the gray Advanced Settings header does not show User Management as the current tab")
	}
	paula.screenshot("01-user-management")
	paula.click(`[data-testid="add-user"]`)
	paula.fill("#f-full_name", name)
	paula.fill("#f-email", email)
	paula.choose(`[data-testid="role-31415901"]`, "general")
	paula.screenshot("02-add-new-user")
	if got := paula.click(`[data-testid="send-invite"]`); got != http.StatusOK {
		t.Fatalf("send invitation: status %d", got)
	}
	if got := paula.text(`[data-testid="flash"]`); !strings.Contains(got, "Invitation sent to "+email) {
		t.Errorf("flash %q", got)
	}
	row := `tr[data-email="` + email + `"]`
	if got := paula.text(row + ` td:nth-child(4)`); !strings.Contains(got, "Invitation pending") {
		t.Errorf("new row status %q, want Invitation pending", got)
	}
	paula.screenshot("03-invitation-pending")

	// Gwen, in her own browser, opens the mailbox and the invitation.
	a.waitMail(email)
	gwen := paula.newPerson()
	gwen.visit(base + "/dev/mailbox")
	gwen.click(mailTo(email))
	if got := gwen.text(`[data-testid="mail-subject"]`); got != "You are invited to Carrier Portal" {
		t.Errorf("subject %q", got)
	}
	gwen.screenshot("04-invitation-email")
	gwen.click(`a[data-testid="mail-action"][href*="/verify/"]`)
	if got := gwen.text(".card"); !strings.Contains(got, "Paula Principal") || !strings.Contains(got, "Acme West (31415901) as General") {
		t.Errorf("invitation page does not say who invited her to what: %q", got)
	}
	gwen.fill("#f-full_name", name)
	gwen.fill("#f-password", password)
	gwen.screenshot("05-accept-invitation")
	gwen.click(`[data-testid="confirm-button"]`)
	gwen.waitVisible(`main [data-testid="dashboard-heading"]`)
	if loc := gwen.location(); !strings.HasSuffix(loc, "/accounts/31415901") {
		t.Errorf("after accepting: at %s, want Acme West", loc)
	}
	if got := gwen.text(`[data-testid="account-name"] .acct-name`); got != "Acme West" {
		t.Errorf("header %q, want Acme West", got)
	}
	// Only what a General user may use is offered; the rest is out of reach.
	for _, sel := range []string{"nav-api-keys", "nav-user-management", "nav-audit-log"} {
		if gwen.exists(`[data-testid="` + sel + `"]`) {
			t.Errorf("a General user's menu offers %s", sel)
		}
	}
	gwen.screenshot("06-general-user-dashboard")
	gwen.click(`[data-testid="nav-billing"]`)
	if gwen.exists(`form[action$="/billing/funds"]`) {
		t.Error("a General user is offered to add funds")
	}
	gwen.screenshot("07-general-user-billing")
	for path, want := range map[string]int{"/accounts/31415901/api-keys": 403, "/accounts/31415900": 404, "/accounts/31415902": 404} {
		if got := gwen.visit(base + path); got != want {
			t.Errorf("Gwen opens %s: status %d, want %d", path, got, want)
		}
	}
	gwen.visit(base + "/accounts/31415901")

	// The Principal revokes her.
	paula.visit(base + "/accounts/31415900/settings/users")
	if got := paula.text(row + ` td:nth-child(4)`); !strings.Contains(got, "Active") {
		t.Errorf("Gwen's status after accepting: %q", got)
	}
	paula.click(row + ` [data-testid="edit-user"]`)
	paula.screenshot("08-edit-user")
	paula.click(`[data-testid="revoke-user"]`)
	if got := paula.text(`[data-testid="user-type"]`); got != "Revoked" {
		t.Errorf("type after revoking: %q", got)
	}
	paula.screenshot("09-revoked")

	// Her next click lands on the sign-in page, with a clear message.
	gwen.click(`[data-testid="nav-billing"]`)
	if loc := gwen.location(); !strings.HasSuffix(loc, "/login") {
		t.Errorf("Gwen's next click: at %s, want the sign-in page", loc)
	}
	if got := gwen.text(`[data-testid="flash"]`); !strings.Contains(got, "Your access has been revoked") {
		t.Errorf("flash %q", got)
	}
	gwen.screenshot("10-next-click-after-revoke")
	gwen.signIn(base, email, password)
	if !gwen.exists(`[data-testid="form-error"]`) {
		t.Error("a revoked user could sign in")
	}

	// Restored: the same access again.
	paula.click(`[data-testid="restore-user"]`)
	if got := paula.text(`[data-testid="user-type"]`); got != "General" {
		t.Errorf("type after restoring: %q", got)
	}
	gwen.signIn(base, email, password)
	gwen.waitVisible(`main [data-testid="dashboard-heading"]`)
	if loc := gwen.location(); !strings.HasSuffix(loc, "/accounts/31415901") {
		t.Errorf("after restore: at %s, want Acme West", loc)
	}
	for path, want := range map[string]int{"/accounts/31415901/billing": 200, "/accounts/31415901/api-keys": 403, "/accounts/31415900": 404} {
		if got := gwen.visit(base + path); got != want {
			t.Errorf("after restore, Gwen opens %s: status %d, want %d", path, got, want)
		}
	}
	gwen.visit(base + "/accounts/31415901")
	gwen.screenshot("11-restored")

	// The audit log tells the story.
	paula.click(`[data-testid="nav-audit-log"]`)
	for _, action := range []string{"invite.sent", "invite.accepted", "user.revoked", "user.restored"} {
		if !paula.exists(`[data-testid="audit-row"][data-action="` + action + `"]`) {
			t.Errorf("audit log lacks %s", action)
		}
	}
	paula.screenshot("12-audit-log")
}
