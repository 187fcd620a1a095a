package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func profileForm(company, email string) url.Values {
	return url.Values{"company_name": {company}, "company_alias": {"West"}, "contact_name": {"Wes West"}, "contact_email": {email},
		"address_line1": {"1 Pier"}, "city": {"San Francisco"}, "region": {"CA"}, "postal_code": {"94105"}, "country": {"US"}}
}

func TestCustomerInfo(t *testing.T) {
	d := newResDemo(t)
	g := d.as("general@acme.test")
	r := mustGet(t, g, "/accounts/31415901/profile", http.StatusOK)
	if strings.Contains(r.body, "profile-form") || !strings.Contains(r.body, `data-testid="profile-company">Acme West<`) {
		t.Error("General sees a form, or not the information")
	}
	p := d.as("power@acme.test")
	r = mustGet(t, p, "/accounts/31415901/profile", http.StatusOK)
	if !strings.Contains(r.body, `data-testid="profile-form"`) || !strings.Contains(r.body, `value="west@acme.test"`) {
		t.Fatal("Power has no form with the current values")
	}
	if r := p.post("/accounts/31415901/profile", profileForm("Acme West Coast", "west@acme.test")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if n := d.count(`SELECT count(*) FROM accounts WHERE id = $1 AND company_name = 'Acme West Coast' AND city = 'San Francisco'`, d.westID); n != 1 {
		t.Error("customer info not saved")
	}
	if n := d.count(`SELECT count(*) FROM verification_tokens WHERE purpose = 'contact_email'`); n != 0 {
		t.Error("an unchanged contact email was sent a link")
	}
	for name, form := range map[string]url.Values{
		"empty company": profileForm("", "west@acme.test"),
		"html company":  profileForm("<b>West</b>", "west@acme.test"),
		"bad email":     profileForm("West", "west@acme"),
		"bidi":          profileForm("West\u202Etxt.exe", "west@acme.test"),
	} {
		if r := p.post("/accounts/31415901/profile", form); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", name, r.StatusCode)
		}
	}

	// A new contact email changes only when the new address confirms it.
	if r := p.post("/accounts/31415901/profile", profileForm("Acme West Coast", "noc@west.example")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save with new email: status %d", r.StatusCode)
	}
	if n := d.count(`SELECT count(*) FROM accounts WHERE id = $1 AND contact_email = 'west@acme.test'`, d.westID); n != 1 {
		t.Fatal("the contact email changed before confirmation")
	}
	if r := mustGet(t, p, "/accounts/31415901/profile", http.StatusOK); !strings.Contains(r.body, `data-testid="pending-contact-email"`) {
		t.Error("the pending change is not shown")
	}
	link := linkPath(t, d.waitMail("noc@west.example"))
	anon := d.client()
	if r := mustGet(t, anon, link, http.StatusOK); !strings.Contains(r.body, "noc@west.example") || !strings.Contains(r.body, "Acme West Coast") {
		t.Error("the confirmation page does not say what will happen")
	}
	if r := anon.post(link, nil); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Contact email confirmed") {
		t.Fatalf("confirm: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if n := d.count(`SELECT count(*) FROM accounts WHERE id = $1 AND contact_email = 'noc@west.example'`, d.westID); n != 1 {
		t.Error("the contact email did not change after confirmation")
	}
	if m := d.waitMail("west@acme.test"); !strings.Contains(m.Subject, "was changed") {
		t.Errorf("old address told %q", m.Subject)
	}
	if r := anon.post(link, nil); r.StatusCode != http.StatusGone {
		t.Errorf("second use of the link: status %d, want 410", r.StatusCode)
	}
	if n := d.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND action IN
		('account.profile_updated', 'account.contact_email_change_requested', 'account.contact_email_changed')`, d.westID); n != 4 {
		t.Errorf("customer info audit events = %d, want 4", n)
	}
}
