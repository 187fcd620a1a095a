package portal

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCleanCardNumber(t *testing.T) {
	for in, want := range map[string]string{
		"4242 4242 4242 4242": "4242424242424242",
		"4242-4242-4242-4242": "4242424242424242",
		"378282246310005":     "378282246310005",
		"4242 4242 4242 4241": "", // checksum
		"4242":                "",
		"4242 4242 4242 424x": "",
		"４２４２４２４２４２４２４２４２":      "",
		strings.Repeat("4", 25): "",
	} {
		got, err := CleanCardNumber("card_number", in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("CleanCardNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	for _, c := range []struct {
		in          string
		month, year int
	}{{"12/29", 12, 2029}, {"1/2031", 1, 2031}, {" 03 / 30 ", 3, 2030}, {"13/29", 0, 0}, {"0/29", 0, 0}, {"1229", 0, 0}, {"12/2", 0, 0}} {
		m, y, err := ParseExpiry("card_exp", c.in)
		if m != c.month || y != c.year || (c.month == 0) != (err != nil) {
			t.Errorf("ParseExpiry(%q) = %d/%d, %v; want %d/%d", c.in, m, y, err, c.month, c.year)
		}
	}
}

func TestDevProcessor(t *testing.T) {
	p := DevProcessor{Now: func() time.Time { return time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC) }}
	ctx := context.Background()
	good := Card{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2026, CVC: "123"}
	r, err := p.Charge(ctx, ChargeRequest{AccountID: 1, Amount: 25_000_000, Card: &good, IdempotencyKey: "k"})
	if err != nil || r.Card.Masked() != "Visa •••• 4242" || !strings.HasPrefix(r.Ref, "ch_dev_") {
		t.Fatalf("Charge = %+v, %v", r, err)
	}
	if again, _ := p.Charge(ctx, ChargeRequest{AccountID: 1, Amount: 25_000_000, Card: &good, IdempotencyKey: "k"}); again.Ref != r.Ref {
		t.Error("the same idempotency key gave a different charge")
	}
	saved, err := p.SaveCard(ctx, 1, good)
	if err != nil || !strings.HasPrefix(saved.Ref, "card_dev_") || strings.Contains(saved.Ref, "4242") {
		t.Fatalf("SaveCard = %+v, %v", saved, err)
	}
	if _, err := p.Charge(ctx, ChargeRequest{Amount: 1, CardRef: saved.Ref}); err != nil {
		t.Errorf("charging the saved card: %v", err)
	}
	for name, c := range map[string]Card{
		"declined": {Number: "4000000000000002", ExpMonth: 12, ExpYear: 2030},
		"expired":  {Number: "4242424242424242", ExpMonth: 2, ExpYear: 2026},
		"real":     {Number: "4111111111111111", ExpMonth: 12, ExpYear: 2030},
	} {
		if _, err := p.Charge(ctx, ChargeRequest{Amount: 1, Card: &c}); ErrorCode(err) != EINVALID {
			t.Errorf("%s card: %v, want a message for the user", name, err)
		}
	}
	if _, err := p.Charge(ctx, ChargeRequest{Amount: -1, Card: &good}); err == nil {
		t.Error("a negative charge was taken")
	}
}
