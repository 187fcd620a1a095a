package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carrierportal/internal/postgres"
)

// waitValue waits until a field holds want (htmx fills it after a request).
func (b *browser) waitValue(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(browserStepTimeout)
	got := ""
	// Read in one evaluation: htmx may replace the element between two.
	read := chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%s) || {value: ''}).value", jsString(sel)))
	for time.Now().Before(deadline) {
		if got = browserRun(b, "value of "+sel, read); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s holds %q, want %q (on %s)", sel, got, want, b.where())
}

// waitSuggestion waits for a suggestion to be on the page and ready: htmx
// wires up what it swapped in only once it has settled, and a click before
// that would do nothing.
func (b *browser) waitSuggestion(sel string) {
	b.t.Helper()
	b.waitVisible(sel)
	idle := chromedp.Evaluate[bool](`document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling') === null`)
	deadline := time.Now().Add(browserStepTimeout)
	for !browserRun(b, "htmx settled", idle) {
		if time.Now().After(deadline) {
			b.t.Fatalf("htmx did not settle (on %s)", b.where())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserUsersLargeFamily: in a family too large for a select per
// account, the Principal gives a new user access by typing part of a name
// and choosing from the suggestions; a name that fits two accounts is
// refused next to its row with everything typed kept; on a user's page, a
// suggestion adds one more account. A sub-account's Principal still gets
// the table of every account.
func TestBrowserUsersLargeFamily(t *testing.T) {
	a := largeAcmeApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	base := a.srv.URL
	paula := newBrowser(t)
	paula.signIn(base, "principal@acme.test", postgres.DemoPassword)
	paula.visit(base + usersURL)
	paula.click(`[data-testid="add-user"]`)
	if n := paula.count(`[data-testid="role-table"] select`); n != 1 {
		t.Errorf("the large family's form has %d role selects, want the managing account's only", n)
	}
	paula.screenshot("01-add-user-large")

	paula.fill("#f-full_name", "Lena Large")
	paula.fill("#f-email", "lena@example.test")
	paula.choose("#f-grant_role_0", "power")
	paula.fill("#f-grant_account_0", "carrier 4")
	item := `#grant-0 [data-testid="suggest-item"][data-prefix="` + bulkPrefix(42) + `"]`
	paula.waitSuggestion(item)
	if n := paula.count(`#grant-0 [data-testid="suggest-item"]`); n != 10 {
		t.Errorf("%d suggestions for “carrier 4”, want 10", n)
	}
	paula.screenshot("02-suggestions")
	paula.clickInPlace(item)
	paula.waitValue("#f-grant_account_0", bulkPrefix(42))
	if got := paula.value("#f-grant_role_0"); got != "power" {
		t.Errorf("choosing an account reset the row's user type to %q", got)
	}
	if got := paula.text(`#grant-0 [data-testid="grant-hint"]`); !strings.Contains(got, "Bulk Carrier 42") {
		t.Errorf("row hint %q", got)
	}

	// Typed without choosing: a name two accounts share.
	paula.fill("#f-grant_account_1", "Twin Telecom")
	if got := paula.click(`[data-testid="send-invite"]`); got != http.StatusUnprocessableEntity {
		t.Fatalf("ambiguous name: status %d, want 422", got)
	}
	if got := paula.text(`[data-testid="error-grant_account_1"]`); !strings.Contains(got, "2 accounts are called") {
		t.Errorf("row error %q", got)
	}
	if paula.value("#f-grant_account_0") != bulkPrefix(42) || paula.value("#f-full_name") != "Lena Large" || paula.value("#f-grant_role_0") != "power" {
		t.Error("the refused form lost what was typed")
	}
	paula.screenshot("03-ambiguous-name")
	paula.fill("#f-grant_account_1", "twin")
	twin := `#grant-1 [data-testid="suggest-item"][data-prefix="42429999"]`
	paula.waitSuggestion(twin)
	paula.clickInPlace(twin)
	paula.waitValue("#f-grant_account_1", "42429999")
	if got := paula.click(`[data-testid="send-invite"]`); got != http.StatusOK {
		t.Fatalf("send invitation: status %d", got)
	}
	if got := paula.text(`[data-testid="flash"]`); !strings.Contains(got, "Invitation sent to lena@example.test") {
		t.Errorf("flash %q", got)
	}
	want := fmt.Sprintf("%s:power 42429999:general", bulkPrefix(42))
	if got := inviteRoles(t, a, "lena@example.test"); got != want {
		t.Errorf("invitation roles %q, want %q", got, want)
	}

	// A user's page: their accounts, and one more from a suggestion.
	paula.visit(base + usersURL + "/" + a.userID("power@acme.test"))
	paula.screenshot("04-edit-user-large")
	paula.fill("#f-grant_account_0", "bc07")
	bc07 := `#grant-0 [data-testid="suggest-item"][data-prefix="` + bulkPrefix(7) + `"]`
	paula.waitSuggestion(bc07)
	paula.clickInPlace(bc07)
	paula.waitValue("#f-grant_account_0", bulkPrefix(7))
	paula.click(`[data-testid="save-roles"]`)
	if got := paula.text(`[data-testid="flash"]`); !strings.Contains(got, "Saved the user types") {
		t.Errorf("flash %q", got)
	}
	if !paula.exists(`[data-testid="role-` + bulkPrefix(7) + `"]`) {
		t.Error("the new account is not listed on the user's page")
	}
	if n := a.count(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id JOIN accounts x ON x.id = m.account_id
		WHERE u.email = 'power@acme.test' AND x.tech_prefix = $1 AND m.role = 'general'`, bulkPrefix(7)); n != 1 {
		t.Error("the membership was not saved")
	}
	paula.screenshot("05-edit-user-large-saved")

	// A user with more accounts than a page lists; the look-up page.
	gina := a.userID("general@acme.test")
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO memberships (user_id, account_id, role)
		SELECT $1, id, 'general' FROM accounts WHERE tech_prefix LIKE '424200%'`, gina); err != nil {
		t.Fatal(err)
	}
	paula.visit(base + usersURL + "/" + gina + "?page=2")
	if got := paula.text(`[data-testid="roles-pager"]`); !strings.Contains(got, "Accounts 51–61 of the 61") {
		t.Errorf("pager %q", got)
	}
	paula.screenshot("08-edit-user-page-2")
	paula.visit(base + "/accounts/31415900/settings/users/accounts?q=twin")
	if n := paula.count(`[data-testid="lookup-table"] tbody tr`); n != 2 {
		t.Errorf("look-up page lists %d accounts, want 2", n)
	}
	paula.screenshot("09-lookup-page")

	// A sub-account's Principal manages one account: the table as before.
	erin := paula.newPerson()
	erin.signIn(base, "east-owner@acme.test", postgres.DemoPassword)
	erin.visit(base + "/accounts/31415902/settings/users/new")
	if erin.exists(`[data-testid="grant-rows"]`) || !erin.exists(`[data-testid="role-31415902"]`) {
		t.Error("a one-account scope should keep the table of accounts")
	}
	erin.screenshot("06-add-user-small")
	erin.visit(base + "/accounts/31415902/settings/users/" + a.userID("power@acme.test"))
	erin.screenshot("07-edit-user-small")
}

// inviteRoles lists an invitation's roles as "prefix:role", by prefix.
func inviteRoles(t *testing.T, a *testApp, email string) string {
	t.Helper()
	var s string
	err := a.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(x.tech_prefix || ':' || ir.role, ' ' ORDER BY x.tech_prefix), '')
		FROM invitation_roles ir JOIN invitations i ON i.id = ir.invitation_id JOIN accounts x ON x.id = ir.account_id
		WHERE i.email = $1`, email).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
