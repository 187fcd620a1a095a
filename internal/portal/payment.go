package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Card is a payment card as typed into a form. It is handed to the payment
// processor and then forgotten: the portal stores only the brand and the
// last four digits.
type Card struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
}

// CardOnFile is what the portal keeps of a card: enough to show it masked
// and for the processor to charge it again.
type CardOnFile struct {
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
	// Ref is the processor's reference to the stored card.
	Ref string
}

// Masked shows a card as "Visa •••• 4242".
func (c CardOnFile) Masked() string {
	if c.Last4 == "" {
		return ""
	}
	return c.Brand + " •••• " + c.Last4
}

// ChargeRequest asks the processor to take an amount. Exactly one of Card
// and CardRef is set. IdempotencyKey makes a retried request charge once.
type ChargeRequest struct {
	AccountID      int64
	Amount         int64
	Card           *Card
	CardRef        string
	IdempotencyKey string
}

// Receipt is a successful charge.
type Receipt struct {
	Ref  string
	Card CardOnFile
}

// PaymentProcessor is where a real card processor plugs in. Errors of code
// EINVALID carry a message fit for the user (declined, expired, wrong
// number) and the form field it is about.
type PaymentProcessor interface {
	// SaveCard checks a card and returns a reference to charge it later.
	SaveCard(ctx context.Context, accountID int64, c Card) (CardOnFile, error)
	// Charge takes an amount from a new or stored card.
	Charge(ctx context.Context, req ChargeRequest) (Receipt, error)
}

// DevProcessor is the development and test processor. It charges nothing
// and accepts only the well-known test card numbers; 4000 0000 0000 0002 is
// always declined.
type DevProcessor struct {
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
}

// testCards are the card numbers DevProcessor accepts, by brand.
var testCards = map[string]string{
	"4242424242424242": "Visa",
	"4000056655665556": "Visa",
	"5555555555554444": "Mastercard",
	"2223003122003222": "Mastercard",
	"378282246310005":  "American Express",
	"6011111111111117": "Discover",
	"4000000000000002": "Visa",
}

const declinedCard = "4000000000000002"

// CleanCardNumber strips the spaces and dashes people type in card numbers
// and checks the length and the Luhn checksum.
func CleanCardNumber(field, s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", FieldError(field, "Enter the card number using digits only.")
		}
		if b.Len() > 19 {
			return "", FieldError(field, "That is not a valid card number.")
		}
	}
	n := b.String()
	if len(n) < 12 || !luhn(n) {
		return "", FieldError(field, "That is not a valid card number.")
	}
	return n, nil
}

func luhn(n string) bool {
	sum := 0
	double := false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ParseExpiry reads a card expiry typed as MM/YY or MM/YYYY.
func ParseExpiry(field, s string) (month, year int, err error) {
	m, y, ok := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), "/")
	if !ok || len(m) < 1 || len(m) > 2 || (len(y) != 2 && len(y) != 4) || !allDigits(m) || !allDigits(y) {
		return 0, 0, FieldError(field, "Enter the expiry date as MM/YY.")
	}
	month, _ = strconv.Atoi(m)
	year, _ = strconv.Atoi(y)
	if len(y) == 2 {
		year += 2000
	}
	if month < 1 || month > 12 {
		return 0, 0, FieldError(field, "Enter the expiry date as MM/YY.")
	}
	return month, year, nil
}

// CleanCVC checks a card security code.
func CleanCVC(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if (len(s) != 3 && len(s) != 4) || !allDigits(s) {
		return "", FieldError(field, "Enter the 3 or 4 digit security code.")
	}
	return s, nil
}

func (p DevProcessor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p DevProcessor) check(c Card) (CardOnFile, error) {
	brand, ok := testCards[c.Number]
	if !ok {
		return CardOnFile{}, FieldError("card_number", "This is a test system: use the test card 4242 4242 4242 4242.")
	}
	now := p.now().UTC()
	if c.ExpYear < now.Year() || c.ExpYear == now.Year() && c.ExpMonth < int(now.Month()) {
		return CardOnFile{}, FieldError("card_exp", "The card has expired.")
	}
	if c.Number == declinedCard {
		return CardOnFile{}, FieldError("card_number", "The card was declined.")
	}
	// The reference is random: anything derived from the number would let
	// the number be recovered from it.
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return CardOnFile{Brand: brand, Last4: c.Number[len(c.Number)-4:], ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Ref: "card_dev_" + hex.EncodeToString(b)}, nil
}

// SaveCard implements PaymentProcessor.
func (p DevProcessor) SaveCard(_ context.Context, _ int64, c Card) (CardOnFile, error) {
	return p.check(c)
}

// Charge implements PaymentProcessor.
func (p DevProcessor) Charge(_ context.Context, req ChargeRequest) (Receipt, error) {
	if req.Amount <= 0 {
		return Receipt{}, FieldError("amount", "The amount must be more than zero.")
	}
	var card CardOnFile
	switch {
	case req.Card != nil:
		c, err := p.check(*req.Card)
		if err != nil {
			return Receipt{}, err
		}
		card = c
	case strings.HasPrefix(req.CardRef, "card_dev_"):
		card.Ref = req.CardRef
	default:
		return Receipt{}, FieldError("card_number", "Enter a card to pay with.")
	}
	sum := sha256.Sum256([]byte(req.IdempotencyKey))
	return Receipt{Ref: "ch_dev_" + hex.EncodeToString(sum[:10]), Card: card}, nil
}
