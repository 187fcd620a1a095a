package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

var tokenLinkRE = regexp.MustCompile(`/verify/([A-Za-z0-9_-]{43})`)

func TestProfileAndContactEmailChange(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	p := Profile{CompanyName: "Alpha Voice", CompanyAlias: "AV", ContactName: "Ann", ContactEmail: "noc@alpha.test", City: "Oslo", Country: "NO"}
	sent, err := f.db.UpdateProfile(ctx, f.actorA, f.a, p)
	if err != nil || sent {
		t.Fatalf("UpdateProfile with the same contact email = %v, %v; want saved, no link", sent, err)
	}
	p.ContactEmail = "ops@alpha.test"
	if sent, err = f.db.UpdateProfile(ctx, f.actorA, f.a, p); err != nil || !sent {
		t.Fatalf("UpdateProfile with a new contact email = %v, %v; want a link sent", sent, err)
	}
	got, err := f.db.Profile(ctx, f.a)
	if err != nil || got.CompanyName != "Alpha Voice" || got.ContactEmail != "noc@alpha.test" || got.PendingContactEmail != "ops@alpha.test" {
		t.Fatalf("Profile = %+v, %v; want the old contact email kept until confirmed", got, err)
	}
	var body string
	if err := f.db.Pool.QueryRow(ctx, `SELECT text_body FROM dev_mail WHERE to_addr = 'ops@alpha.test'`).Scan(&body); err != nil {
		t.Fatalf("no email to the new address: %v", err)
	}
	m := tokenLinkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in %q", body)
	}
	tok, state, err := f.db.PeekToken(ctx, m[1])
	if err != nil || state != TokenValid {
		t.Fatal(state, err)
	}
	if company, prefix, err := f.db.ContactEmailChange(ctx, tok); err != nil || company != "Alpha Voice" || prefix != f.prefixA {
		t.Errorf("ContactEmailChange = %q, %q, %v", company, prefix, err)
	}
	prefix, err := f.db.ConfirmContactEmail(ctx, portal.Actor{IP: "192.0.2.9"}, m[1])
	if err != nil || prefix != f.prefixA {
		t.Fatalf("ConfirmContactEmail = %q, %v", prefix, err)
	}
	if got, _ := f.db.Profile(ctx, f.a); got.ContactEmail != "ops@alpha.test" || got.PendingContactEmail != "" {
		t.Errorf("after confirming: %+v", got)
	}
	if _, err := f.db.ConfirmContactEmail(ctx, portal.Actor{}, m[1]); err != ErrTokenInvalid {
		t.Errorf("second use of the link: %v, want invalid", err)
	}
	// A change asked for and then withdrawn (the current address saved
	// again) can no longer be confirmed.
	p.ContactEmail = "later@alpha.test"
	if _, err := f.db.UpdateProfile(ctx, f.actorA, f.a, p); err != nil {
		t.Fatal(err)
	}
	p.ContactEmail = "ops@alpha.test"
	if _, err := f.db.UpdateProfile(ctx, f.actorA, f.a, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.Profile(ctx, f.a); got.PendingContactEmail != "" {
		t.Errorf("withdrawn change still pending: %q", got.PendingContactEmail)
	}
	var notice string
	if err := f.db.Pool.QueryRow(ctx, `SELECT subject FROM dev_mail WHERE to_addr = 'noc@alpha.test' ORDER BY id LIMIT 1`).Scan(&notice); err != nil || !strings.Contains(notice, "was changed") {
		t.Errorf("old address told: %q, %v", notice, err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE account_id = $1 AND action LIKE 'account.%'`, f.a); n != 7 {
		t.Errorf("account audit events = %d, want 7 (4 saves, 2 requests, 1 change)", n)
	}
	if other, _ := f.db.Profile(ctx, f.b); other.CompanyName != "Bravo" {
		t.Errorf("account B changed: %+v", other)
	}
}

func TestDashboard(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	now := time.Now().UTC()
	insertCalls(t, f, f.a, 30, MonthStart(now))
	insertCalls(t, f, f.a, 30, MonthStart(now).AddDate(0, -1, 0))
	if _, err := f.db.RecordCharge(ctx, f.actorA, f.a, NewCharge{MonthStart(now), "number_rental", "Rent", 3_000_000}); err != nil {
		t.Fatal(err)
	}
	d, err := f.db.Dashboard(ctx, f.a, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Numbers != 1 || d.Routes != 1 || d.MonthCalls != 30 || d.MonthCharges != 3_000_000 || d.Balance != -3_000_000 || len(d.RecentCalls) != 5 {
		t.Errorf("Dashboard = %+v", d)
	}
	if d, _ := f.db.Dashboard(ctx, f.b, now); d.MonthCalls != 0 || len(d.RecentCalls) != 0 || d.Balance != 0 {
		t.Errorf("account B's dashboard shows A's data: %+v", d)
	}
}
