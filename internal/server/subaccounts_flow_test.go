package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func newAccountForm(company, email string) url.Values {
	return url.Values{"company_name": {company}, "company_alias": {"Nova"}, "contact_name": {"Nora New"}, "email": {email},
		"address_line1": {"1 Harbor Way"}, "city": {"Portland"}, "region": {"OR"}, "postal_code": {"97201"}, "country": {"US"}}
}

// prefixOf is the tech prefix of the account with this company name.
func (a *testApp) prefixOf(company string) string {
	a.t.Helper()
	var p string
	if err := a.pool.QueryRow(context.Background(), `SELECT tech_prefix FROM accounts WHERE company_name = $1`, company).Scan(&p); err != nil {
		a.t.Fatalf("account %s: %v", company, err)
	}
	return p
}

func TestAddNewAccountNewLogin(t *testing.T) {
	a := saDemo(t, nil)
	paula := a.saLogin("principal@acme.test")
	r := paula.post("/accounts/31415900/settings/new-account", url.Values{"company_name": {""}, "email": {"bad"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-company_name"`) {
		t.Fatalf("invalid form: status %d", r.StatusCode)
	}
	r = paula.post("/accounts/31415900/settings/new-account", newAccountForm("Nova Voice", "nora@nova.test"))
	saStatus(t, r, http.StatusSeeOther, "create")
	prefix := a.prefixOf("Nova Voice")
	// The parent manages the new account at once, before it is activated.
	page := paula.get("/accounts/31415900/settings")
	if !strings.Contains(page.body, `data-prefix="`+prefix+`"`) || !strings.Contains(page.body, `data-testid="badge-pending"`) {
		t.Errorf("Advanced Settings does not list the new pending account")
	}
	saStatus(t, paula.get("/accounts/"+prefix), http.StatusOK, "the new account as the parent's Principal")

	link := linkPath(t, a.waitMail("nora@nova.test"))
	nora := a.client()
	r = nora.get(link)
	saStatus(t, r, http.StatusOK, "activation page")
	if !strings.Contains(r.body, `name="full_name"`) || !strings.Contains(r.body, `name="password"`) {
		t.Errorf("activation page for a new person does not ask for a name and password")
	}
	saStatus(t, nora.post(link, url.Values{"full_name": {"Nora New"}, "password": {"short"}}), http.StatusUnprocessableEntity, "short password")
	r = nora.post(link, url.Values{"full_name": {"Nora New"}, "password": {"nova voice secret"}})
	saStatus(t, r, http.StatusSeeOther, "activate")
	if loc := r.Header.Get("Location"); loc != "/accounts/"+prefix {
		t.Errorf("after activation: redirect to %s, want the account", loc)
	}
	r = nora.get("/accounts/" + prefix)
	saStatus(t, r, http.StatusOK, "the new owner on the account")
	if !strings.Contains(r.body, "Principal") {
		t.Error("the new owner is not shown as Principal")
	}
	saStatus(t, nora.get("/accounts/31415900"), http.StatusNotFound, "the new owner on the parent")
	if n := a.count(`SELECT count(*) FROM accounts WHERE tech_prefix = $1 AND status = 'active'`, prefix); n != 1 {
		t.Error("the account is not active")
	}
	saStatus(t, nora.post(link, url.Values{"full_name": {"X"}, "password": {"another secret"}}), http.StatusGone, "the link again")
}

func TestAddNewAccountExistingLogin(t *testing.T) {
	a := saDemo(t, nil)
	paula := a.saLogin("principal@acme.test")
	saStatus(t, paula.post("/accounts/31415900/settings/new-account", newAccountForm("Ivy Two", "owner@initech.test")), http.StatusSeeOther, "create")
	link := linkPath(t, a.waitMail("owner@initech.test"))
	prefix := a.prefixOf("Ivy Two")

	// Someone else signed in opens the link: they must sign in as its owner.
	other := a.saLogin("general@acme.test")
	r := other.get(link)
	if !strings.Contains(r.body, "already has a Carrier Portal login") {
		t.Errorf("activation page for an existing login: %s", excerpt(r.body))
	}
	r = other.post(link, nil)
	saStatus(t, r, http.StatusOK, "first step")
	if !strings.Contains(r.body, `data-testid="activate-signin-form"`) || !strings.Contains(r.body, "You are signed in as general@acme.test") {
		t.Errorf("first POST should ask for the existing login's password: %s", excerpt(r.body))
	}
	saStatus(t, other.post(link, url.Values{"signin": {"1"}, "password": {"wrong password"}}), http.StatusUnprocessableEntity, "wrong password")
	if n := a.count(`SELECT count(*) FROM accounts WHERE tech_prefix = $1 AND status = 'active'`, prefix); n != 0 {
		t.Fatal("a wrong password activated the account")
	}
	r = other.post(link, url.Values{"signin": {"1"}, "password": {"demo-password-2026"}})
	saStatus(t, r, http.StatusSeeOther, "sign in and accept")
	r = other.get("/accounts/" + prefix)
	saStatus(t, r, http.StatusOK, "the account, now signed in as its owner")
	if !strings.Contains(r.body, "owner@initech.test") {
		t.Error("the session did not switch to the addressed login")
	}
	saStatus(t, other.get("/accounts/31415901"), http.StatusNotFound, "the previous user's account after switching")

	// The addressed login, already signed in, just accepts.
	saStatus(t, paula.post("/accounts/31415900/settings/new-account", newAccountForm("Gary Two", "owner@globex.test")), http.StatusSeeOther, "create")
	link = linkPath(t, a.waitMail("owner@globex.test"))
	gary := a.saLogin("owner@globex.test")
	if r := gary.get(link); !strings.Contains(r.body, "Accept to become its Principal user") {
		t.Errorf("activation page for the signed-in owner: %s", excerpt(r.body))
	}
	saStatus(t, gary.post(link, nil), http.StatusSeeOther, "accept")
	saStatus(t, gary.get("/accounts/"+a.prefixOf("Gary Two")), http.StatusOK, "the accepted account")
}

func TestUnlinkTakesEffectAtOnce(t *testing.T) {
	a := saDemo(t, nil)
	paula, paula2 := a.saLogin("principal@acme.test"), a.saLogin("principal@acme.test")
	pete, erin := a.saLogin("power@acme.test"), a.saLogin("east-owner@acme.test")
	for _, c := range []*client{paula2, pete, erin} {
		saStatus(t, c.get("/accounts/31415902"), http.StatusOK, "East before the unlink")
	}
	r := paula.get("/accounts/31415900/settings/subaccounts/31415902/unlink")
	saStatus(t, r, http.StatusOK, "unlink page")
	if !strings.Contains(r.body, "Unlink Acme East?") {
		t.Errorf("unlink page: %s", excerpt(r.body))
	}
	saStatus(t, paula.get("/accounts/31415900/settings/subaccounts/27182800/unlink"), http.StatusNotFound, "another family's account")
	r = paula.post("/accounts/31415900/settings/subaccounts/31415902/unlink", nil)
	saStatus(t, r, http.StatusSeeOther, "unlink")
	// Every other session of the parent's users loses it on the next request.
	saStatus(t, paula2.get("/accounts/31415902"), http.StatusNotFound, "East for the parent's Principal")
	saStatus(t, pete.get("/accounts/31415902/billing"), http.StatusNotFound, "East for the parent's Power user")
	saStatus(t, erin.get("/accounts/31415902"), http.StatusOK, "East for its own Principal")
	for _, to := range []string{"principal@acme.test", "east-owner@acme.test"} {
		if m := a.waitMail(to); !strings.Contains(m.Subject, "unlinked") {
			t.Errorf("newest email to %s is %q, want the unlinked notice", to, m.Subject)
		}
	}
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'subaccount.unlinked' AND target = '31415902'`); n != 1 {
		t.Errorf("unlink audit events = %d, want 1", n)
	}
	saStatus(t, paula.post("/accounts/31415900/settings/subaccounts/31415902/unlink", nil), http.StatusNotFound, "unlinking again")
	// East's Principal sees no picker now: it is a standalone account
	// without the feature.
	if r := erin.get("/accounts/31415902"); strings.Contains(r.body, `data-testid="account-picker"`) {
		t.Error("East still shows the family picker")
	}
}

func TestSwitchKeepsThePage(t *testing.T) {
	a := saDemo(t, nil)
	paula := a.saLogin("principal@acme.test")
	tests := []struct{ page, want string }{
		{"billing", "/accounts/31415901/billing"},
		{"cdrs", "/accounts/31415901/cdrs"},
		{"dids/+12065550100", "/accounts/31415901/dids"},
		{"settings", "/accounts/31415901"}, // a sub-account has no Advanced Settings
		{"settings/subaccounts/31415902/unlink", "/accounts/31415901"},
		{"no-such-page", "/accounts/31415901"},
		{"../../summary", "/accounts/31415901"},
		{"", "/accounts/31415901"},
	}
	for _, tc := range tests {
		r := paula.get("/switch?to=31415901&page=" + url.QueryEscape(tc.page))
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tc.want {
			t.Errorf("switch from page %q: status %d, to %q; want %s", tc.page, r.StatusCode, r.Header.Get("Location"), tc.want)
		}
	}
	saStatus(t, paula.get("/switch?to=27182800&page=billing"), http.StatusNotFound, "switch to another family")
	// The switch is remembered: West is now among the recent accounts.
	r := paula.get("/accounts/31415900")
	if got := saPrefixes(r.body, "picker-entry"); len(got) != 1 || got[0] != "31415901" {
		t.Errorf("recent accounts in the picker = %v, want [31415901]", got)
	}
	if !strings.Contains(r.body, `href="/switch?to=31415901"`) {
		t.Error("recent entries on the dashboard do not keep the dashboard")
	}
}

func TestPickerStates(t *testing.T) {
	a := saDemo(t, nil)
	paula := a.saLogin("principal@acme.test")
	r := paula.get("/accounts/31415900/billing")
	if !strings.Contains(r.body, `data-testid="picker-all"`) || !strings.Contains(r.body, `name="page" value="billing"`) {
		t.Errorf("picker on the billing page lacks All Accounts or the page to keep")
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/picker?q=east&page=billing", nil)
	req.Header.Set("HX-Request", "true")
	r = paula.do(req)
	saStatus(t, r, http.StatusOK, "htmx search")
	if strings.Contains(r.body, "<html") || !strings.Contains(r.body, `href="/switch?to=31415902&amp;page=billing"`) {
		t.Errorf("htmx answer is not a fragment of matching entries: %s", r.body)
	}
	r = paula.get("/picker?q=east&page=billing")
	if !strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="picker-page-heading"`) {
		t.Error("without htmx the search is not a full page")
	}

	// A root Principal with the feature and no sub-accounts is offered to
	// create one; without the feature there is nothing.
	c, prefix := a.newCustomer("Solo Telecom", "solo@solo.test")
	if r := c.get("/accounts/" + prefix); strings.Contains(r.body, `data-testid="account-picker"`) {
		t.Error("picker shown without the feature")
	}
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO account_features (account_id, feature)
		SELECT id, 'sub_accounts' FROM accounts WHERE tech_prefix = $1`, prefix); err != nil {
		t.Fatal(err)
	}
	r = c.get("/accounts/" + prefix)
	if !strings.Contains(r.body, `data-testid="picker-create" href="/accounts/`+prefix+`/settings"`) && !strings.Contains(r.body, `href="/accounts/`+prefix+`/settings" data-testid="picker-create"`) {
		t.Errorf("no Create a Sub-Account button to Advanced Settings")
	}
	saStatus(t, c.get("/accounts/"+prefix+"/settings"), http.StatusOK, "Advanced Settings")
}
