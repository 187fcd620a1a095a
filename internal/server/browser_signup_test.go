package server

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// signupFields are the sign-up form's inputs, in the order a user fills them.
var signupFields = []struct{ name, sel string }{
	{"company", "#f-company_name"},
	{"name", "#f-full_name"},
	{"email", "#f-email"},
	{"password", "#f-password"},
}

var dashboardPath = regexp.MustCompile(`/accounts/[0-9]{8}/?$`)

// mailTo selects the newest message to addr in the development mailbox,
// which lists the newest first.
func mailTo(addr string) string {
	return `a[data-testid="mail-link"][data-to=` + strconv.Quote(addr) + `]`
}

// TestBrowserSignupFlow is a new customer's first visit: sign up, confirm
// the address from the email, land signed in on the dashboard; then sign
// out and back in through the form.
func TestBrowserSignupFlow(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	b := newBrowser(t)
	const (
		company  = "Orbit Telecom Ltd"
		name     = "Ada Lovelace"
		email    = "ada@orbit.test"
		password = "correct horse battery"
	)

	if got := b.visit(a.srv.URL + "/signup"); got != http.StatusOK {
		t.Fatalf("GET /signup: status %d, want 200", got)
	}
	for i, v := range []string{company, name, email, password} {
		b.fill(signupFields[i].sel, v)
	}
	b.screenshot("01-signup-form")
	if got := b.click(`[data-testid="signup-form"] button[type=submit]`); got != http.StatusOK {
		t.Fatalf("sign up: status %d, want 200", got)
	}
	if got, want := b.text(`[data-testid="check-email"]`), "Check your email"; got != want {
		t.Fatalf("after sign-up: heading %q, want %q", got, want)
	}
	if got := b.text(".card"); !strings.Contains(got, email) {
		t.Errorf("check-email page %q does not name %s", got, email)
	}
	b.screenshot("02-check-email")

	// The email worker delivers in the background.
	a.waitMail(email)
	b.visit(a.srv.URL + "/dev/mailbox")
	b.waitVisible(mailTo(email))
	b.screenshot("03-mailbox")
	b.click(mailTo(email))
	b.click(`a[data-testid="mail-action"][href*="/verify/"]`)
	if got, want := b.text(`[data-testid="confirm-heading"]`), "Confirm your email address"; got != want {
		t.Fatalf("email link: heading %q, want %q", got, want)
	}
	b.screenshot("04-confirm")
	b.click(`[data-testid="confirm-button"]`)

	b.waitVisible(`main [data-testid="dashboard-heading"]`)
	if loc := b.location(); !dashboardPath.MatchString(loc) {
		t.Errorf("after confirming: at %s, want the account dashboard", loc)
	}
	if n := b.count(`[data-testid="dashboard-heading"]`); n != 1 {
		t.Errorf("dashboard shows its heading %d times, want once (page content leaking into the header?)", n)
	}
	if got := b.text(`[data-testid="account-name"] .acct-name`); got != company {
		t.Errorf("header account name %q, want %q", got, company)
	}
	if !b.exists(`[data-testid="logout"]`) {
		t.Errorf("dashboard has no sign-out button: not signed in?")
	}
	b.screenshot("05-dashboard")
	dashboard := b.location()

	// The session is the browser's: a second tab is signed in, someone
	// else's browser is sent to sign in and brought back afterwards.
	tab := b.newTab()
	tab.visit(a.srv.URL + "/")
	tab.waitVisible(`main [data-testid="dashboard-heading"]`)
	other := b.newPerson()
	other.visit(dashboard)
	if loc := other.location(); !strings.Contains(loc, "/login?next=") {
		t.Fatalf("a stranger opening %s: at %s, want the sign-in page", dashboard, loc)
	}
	other.fill("#f-email", email)
	other.fill("#f-password", password)
	other.click(`[data-testid="login-form"] button[type=submit]`)
	if loc := other.location(); loc != dashboard {
		t.Errorf("signing in from the stranger's browser: at %s, want back at %s", loc, dashboard)
	}

	b.click(`[data-testid="logout"]`)
	if loc := b.location(); !strings.HasSuffix(loc, "/login") {
		t.Errorf("after sign-out: at %s, want /login", loc)
	}
	b.waitVisible(`[data-testid="login-form"]`)
	if got, want := b.text(`[data-testid="flash"]`), "You have been signed out."; got != want {
		t.Errorf("after sign-out: flash %q, want %q", got, want)
	}
	if b.exists(`[data-testid="account-name"]`) || b.exists(`[data-testid="logout"]`) {
		t.Errorf("signed-out page still shows the account or a sign-out button")
	}
	b.screenshot("06-signed-out")
	tab.visit(dashboard)
	if loc := tab.location(); !strings.Contains(loc, "/login") {
		t.Errorf("second tab after sign-out: at %s, want the sign-in page", loc)
	}

	b.fill("#f-email", email)
	b.fill("#f-password", password)
	b.click(`[data-testid="login-form"] button[type=submit]`)
	b.waitVisible(`main [data-testid="dashboard-heading"]`)
	if loc := b.location(); !dashboardPath.MatchString(loc) {
		t.Errorf("after sign-in: at %s, want the account dashboard", loc)
	}
	if got := b.text(`[data-testid="account-name"] .acct-name`); got != company {
		t.Errorf("after sign-in: header account name %q, want %q", got, company)
	}
	b.screenshot("07-signed-in-again")
}

// TestBrowserSignupErrors sends a sign-up the server must refuse: each
// problem is shown under its field, what was typed stays (except the
// password), and nothing is created.
func TestBrowserSignupErrors(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
	b := newBrowser(t)
	const company, name = "Orbit Telecom Ltd", "Ada Lovelace"

	b.visit(a.srv.URL + "/signup")
	for i, v := range []string{company, name, "ada-at-orbit", "short"} {
		b.fill(signupFields[i].sel, v)
	}
	// Pressed like a user, the browser stops the form itself and puts the
	// cursor in the first bad field (type=email, minlength)…
	b.clickInPlace(`[data-testid="signup-form"] button[type=submit]`)
	b.waitVisible("#f-email:focus")
	// …so submit past its checks to see what the server says.
	if got := b.submit(`[data-testid="signup-form"]`); got != http.StatusUnprocessableEntity {
		t.Fatalf("bad sign-up: status %d, want 422", got)
	}
	b.screenshot("signup-errors")

	for _, tc := range []struct{ field, want string }{
		{"email", "Enter a valid email address."},
		{"password", "Password must be at least 8 characters."},
	} {
		sel := "#f-" + tc.field + ` ~ [data-testid="error-` + tc.field + `"]`
		if !b.exists(sel) {
			t.Errorf("no error next to the %s field (%s)", tc.field, sel)
			continue
		}
		if got := b.text(sel); got != tc.want {
			t.Errorf("%s error %q, want %q", tc.field, got, tc.want)
		}
		if !b.exists(`.field.invalid #f-` + tc.field + `[aria-invalid]`) {
			t.Errorf("%s field is not marked invalid", tc.field)
		}
	}
	for _, f := range []string{"company_name", "full_name"} {
		if b.exists(`[data-testid="error-` + f + `"]`) {
			t.Errorf("unexpected error on the valid %s field", f)
		}
	}
	for _, tc := range []struct{ sel, want string }{
		{"#f-company_name", company},
		{"#f-full_name", name},
		{"#f-email", "ada-at-orbit"},
		{"#f-password", ""},
	} {
		if got := b.value(tc.sel); got != tc.want {
			t.Errorf("%s after the error: value %q, want %q", tc.sel, got, tc.want)
		}
	}
	if n := a.count(`SELECT count(*) FROM users`) + a.count(`SELECT count(*) FROM accounts`); n != 0 {
		t.Errorf("a refused sign-up wrote %d users/accounts, want 0", n)
	}
}
