package postgres

import (
	"context"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

func TestChargesRollUpAsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	lines := []NewCharge{
		{march.Add(2 * time.Hour), "usage", "Voice", 1_234_567},
		{march.Add(3 * time.Hour), "usage", "Voice", 1},
		{march.Add(-time.Second), "usage", "Feb voice", 5_000_000}, // last second of February
		{march, "number_rental", "Rent", 24_000_000},
		{march.AddDate(0, 0, 20), "taxes", "Tax", 2_000_001},
		{march.AddDate(0, 0, 21), "messaging", "Credit", -500_000},
	}
	var total int64
	for _, c := range lines {
		if _, err := f.db.RecordCharge(ctx, f.actorA, f.a, c); err != nil {
			t.Fatalf("RecordCharge: %v", err)
		}
		total += c.Amount
	}
	bl, err := f.db.Billing(ctx, f.a, march.AddDate(0, 0, 15))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"usage": 1_234_568, "number_rental": 24_000_000, "messaging": -500_000, "taxes": 2_000_001}
	var monthTotal int64
	for _, c := range bl.Categories {
		if c.Amount != want[c.Category] {
			t.Errorf("March %s = %d, want %d", c.Category, c.Amount, want[c.Category])
		}
		monthTotal += want[c.Category]
	}
	if bl.MonthTotal != monthTotal || len(bl.Charges) != 5 || !bl.Month.Equal(march) {
		t.Errorf("March total %d with %d lines, want %d with 5", bl.MonthTotal, len(bl.Charges), monthTotal)
	}
	if bl.Balance != -total {
		t.Errorf("balance = %d, want %d", bl.Balance, -total)
	}
	if len(bl.Months) != 2 || !bl.Months[0].Equal(march) {
		t.Errorf("months = %v, want March and February", bl.Months)
	}
	checkRollups(t, f)
	if other, err := f.db.Billing(ctx, f.b, march); err != nil || other.MonthTotal != 0 || other.Balance != 0 || len(other.Charges) != 0 {
		t.Errorf("account B sees %+v, %v; want nothing of A's", other, err)
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE charges SET amount_micros = 0`); err == nil {
		t.Error("a charge was changed; the ledger is append-only")
	}
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM charges`); err == nil {
		t.Error("a charge was deleted; the ledger is append-only")
	}
}

func TestPaymentLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	id, err := f.db.StartPayment(ctx, f.actorA, f.a, 50_000_000, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.StartPayment(ctx, f.actorA, f.a, 50_000_000, "k1"); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("same idempotency key twice: %v, want conflict", err)
	}
	if b, _ := f.db.Balance(ctx, f.a); b != 0 {
		t.Errorf("balance with a pending payment = %d, want 0", b)
	}
	// Settling through another account finds nothing.
	receipt := &portal.Receipt{Ref: "ch_1", Card: portal.CardOnFile{Brand: "Visa", Last4: "4242"}}
	if err := f.db.FinishPayment(ctx, f.actorA, f.b, id, receipt, ""); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("settling through another account: %v, want not found", err)
	}
	if err := f.db.FinishPayment(ctx, f.actorA, f.a, id, receipt, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.db.FinishPayment(ctx, f.actorA, f.a, id, receipt, ""); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("settling twice: %v, want not found", err)
	}
	if b, _ := f.db.Balance(ctx, f.a); b != 50_000_000 {
		t.Errorf("balance = %d, want 50 dollars", b)
	}
	failed, err := f.db.StartPayment(ctx, f.actorA, f.a, 7_000_000, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.FinishPayment(ctx, f.actorA, f.a, failed, nil, "The card was declined."); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.db.Balance(ctx, f.a); b != 50_000_000 {
		t.Errorf("balance after a declined payment = %d, want unchanged", b)
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE payments SET status = 'pending' WHERE id = $1`, id); err == nil {
		t.Error("a settled payment was changed")
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE action = 'billing.funds_added' AND account_id = $1`, f.a); n != 2 {
		t.Errorf("funds audit events = %d, want 2 (success and failure)", n)
	}
}

func TestBillingInfo(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	bi, err := f.db.BillingInfo(ctx, f.a)
	if err != nil || bi.Saved || bi.ContactEmail != "noc@alpha.test" || bi.Card.Masked() != "" {
		t.Fatalf("billing info before saving = %+v, %v; want the account contact prefilled and no card", bi, err)
	}
	card := &portal.CardOnFile{Brand: "Visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, Ref: "card_dev_x"}
	if err := f.db.SaveBillingInfo(ctx, f.actorA, f.a, BillingInfo{ContactName: "Pay Desk", ContactEmail: "ap@alpha.test", Country: "US"}, card); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SaveBillingInfo(ctx, f.actorA, f.a, BillingInfo{ContactName: "Pay Desk 2", ContactEmail: "ap@alpha.test"}, nil); err != nil {
		t.Fatal(err)
	}
	bi, err = f.db.BillingInfo(ctx, f.a)
	if err != nil || !bi.Saved || bi.ContactName != "Pay Desk 2" || bi.Card.Masked() != "Visa •••• 4242" || bi.Card.Ref != "card_dev_x" {
		t.Errorf("billing info = %+v, %v; want the second contact and the first card kept", bi, err)
	}
	if other, _ := f.db.BillingInfo(ctx, f.b); other.Saved || other.Card.Last4 != "" {
		t.Errorf("account B billing info = %+v; want its own (empty)", other)
	}
}
