package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

func fundsForm(amount, key string) url.Values {
	return url.Values{"amount": {amount}, "pay_with": {"new"}, "card_number": {"4242 4242 4242 4242"}, "card_exp": {"12/40"},
		"card_cvc": {"123"}, "idempotency_key": {key}}
}

func TestAddFunds(t *testing.T) {
	d := newResDemo(t)
	c := d.as("power@acme.test")
	page := mustGet(t, c, "/accounts/31415901/billing", http.StatusOK)
	key := between(page.body, `name="idempotency_key" value="`, `"`)
	if len(key) != 32 {
		t.Fatalf("the funds form carries no idempotency key (%q)", key)
	}
	balance := func() int64 {
		var b int64
		if err := d.pool.QueryRow(t.Context(), `SELECT balance_micros FROM accounts WHERE id = $1`, d.westID).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	before := balance()
	payments := d.count(`SELECT count(*) FROM payments`)
	for _, amount := range []string{"-0.01", "NaN", "1e309", "0", "4.99", "10000.01", "25.0000001", "1,00", "$", "25 dollars"} {
		r := c.post("/accounts/31415901/billing/funds", fundsForm(amount, key))
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-amount"`) {
			t.Errorf("amount %q: status %d, want 422 with a message on the amount", amount, r.StatusCode)
		}
	}
	if d.count(`SELECT count(*) FROM payments`) != payments || balance() != before {
		t.Fatal("a refused amount recorded a payment or moved the balance")
	}
	// A declined card is recorded as failed and changes no balance.
	declined := fundsForm("50", key)
	declined.Set("card_number", "4000 0000 0000 0002")
	if r := c.post("/accounts/31415901/billing/funds", declined); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "declined") {
		t.Errorf("declined card: status %d", r.StatusCode)
	}
	if n := d.count(`SELECT count(*) FROM payments WHERE account_id = $1 AND status = 'failed'`, d.westID); n != 1 || balance() != before {
		t.Errorf("declined: %d failed payments, balance moved %d", n, balance()-before)
	}
	good := fundsForm("$1,234.57", newIdempotencyKey())
	r := c.post("/accounts/31415901/billing/funds", good)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add funds: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if got := balance() - before; got != 1_234_570_000 {
		t.Errorf("balance rose by %d, want exactly 1,234.57 dollars", got)
	}
	// The same form submitted twice pays once.
	if r := c.post("/accounts/31415901/billing/funds", good); r.StatusCode != http.StatusSeeOther {
		t.Errorf("resubmitted form: status %d", r.StatusCode)
	}
	if got := balance() - before; got != 1_234_570_000 {
		t.Errorf("after a resubmit the balance rose by %d, want one payment", got)
	}
	var brand, last4 string
	if err := d.pool.QueryRow(t.Context(), `SELECT card_brand, card_last4 FROM payments WHERE account_id = $1 AND status = 'succeeded'
		ORDER BY id DESC LIMIT 1`, d.westID).Scan(&brand, &last4); err != nil || brand != "Visa" || last4 != "4242" {
		t.Errorf("payment card = %q %q, %v", brand, last4, err)
	}
	if n := d.count(`SELECT count(*) FROM payments p, billing_info b, audit_events e
		WHERE p::text LIKE '%4242424242424242%' OR b::text LIKE '%4242424242424242%' OR e.details::text LIKE '%4242424242424242%'`); n != 0 {
		t.Error("the card number was stored")
	}
	if n := d.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND action = 'billing.funds_added' AND outcome = 'success'`, d.westID); n != 1 {
		t.Errorf("funds audit events = %d, want 1", n)
	}
	// Paying with the card on file works without typing a card.
	saved := url.Values{"amount": {"20"}, "pay_with": {"saved"}, "idempotency_key": {newIdempotencyKey()}}
	if r := c.post("/accounts/31415901/billing/funds", saved); r.StatusCode != http.StatusSeeOther {
		t.Errorf("pay with the card on file: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	r = mustGet(t, c, "/accounts/31415901/billing", http.StatusOK)
	if !strings.Contains(r.body, portal.FormatMoney(balance())) || !strings.Contains(r.body, "Visa •••• 4242") {
		t.Error("the billing page does not show the new balance and the card on file")
	}
}

func TestBillingPageByRole(t *testing.T) {
	d := newResDemo(t)
	g := d.as("general@acme.test")
	r := mustGet(t, g, "/accounts/31415901/billing", http.StatusOK)
	for _, want := range []string{`data-testid="balance"`, `data-testid="categories-table"`, `data-testid="payment-row"`, "Number rental", "Usage"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("General's billing page lacks %s", want)
		}
	}
	if strings.Contains(r.body, "funds-form") {
		t.Error("General is offered Add funds")
	}
	r = mustGet(t, g, "/accounts/31415901/billing/info", http.StatusOK)
	if strings.Contains(r.body, "billing-info-form") || !strings.Contains(r.body, `data-testid="card-masked">Visa •••• 4242<`) {
		t.Error("General's billing info is editable, or hides the masked card")
	}
	// A past month shows its own totals from the rollups.
	last := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")
	r = mustGet(t, g, "/accounts/31415901/billing?month="+last, http.StatusOK)
	want := d.count(`SELECT coalesce(sum(amount_micros), 0) FROM charges WHERE account_id = $1 AND to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') = $2`, d.westID, last)
	if got := between(r.body, `data-testid="categories-total">`, "<"); got != portal.FormatMoney(int64(want)) {
		t.Errorf("month %s total %q, want %s", last, got, portal.FormatMoney(int64(want)))
	}
}

func TestBillingInfo(t *testing.T) {
	d := newResDemo(t)
	c := d.as("power@acme.test")
	form := url.Values{"contact_name": {"West Payables"}, "contact_email": {"ap@west.example"}, "address_line1": {"1 Pier"}, "city": {"San Francisco"},
		"region": {"CA"}, "postal_code": {"94105"}, "country": {"us"}, "card_number": {"5555 5555 5555 4444"}, "card_exp": {"01/41"}, "card_cvc": {"321"}}
	if r := c.post("/accounts/31415901/billing/info", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	r := mustGet(t, c, "/accounts/31415901/billing/info", http.StatusOK)
	if !strings.Contains(r.body, "Mastercard •••• 4444") || !strings.Contains(r.body, "ap@west.example") || strings.Contains(r.body, "5555555555554444") {
		t.Error("billing info not saved, or the card shown unmasked")
	}
	if n := d.count(`SELECT count(*) FROM billing_info WHERE account_id = $1 AND country = 'US' AND card_last4 = '4444'`, d.westID); n != 1 {
		t.Error("country or card not stored")
	}
	for name, bad := range map[string]url.Values{
		"bad email":   {"contact_name": {"X"}, "contact_email": {"not-an-email"}},
		"bad country": {"contact_name": {"X"}, "contact_email": {"a@b.example"}, "country": {"ZZ"}},
		"bad card":    {"contact_name": {"X"}, "contact_email": {"a@b.example"}, "card_number": {"4242 4242 4242 4241"}, "card_exp": {"01/41"}, "card_cvc": {"1"}},
	} {
		if r := c.post("/accounts/31415901/billing/info", bad); r.StatusCode != http.StatusUnprocessableEntity || strings.Contains(r.body, "4242 4242 4242 4241") {
			t.Errorf("%s: status %d, want 422 without echoing the card", name, r.StatusCode)
		}
	}
}
