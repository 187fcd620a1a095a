package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// ChargeCategories are the lines of a bill, in display order.
var ChargeCategories = []string{"usage", "number_rental", "messaging", "taxes"}

// CategoryLabel is the wording users see for a charge category.
func CategoryLabel(c string) string {
	switch c {
	case "usage":
		return "Usage"
	case "number_rental":
		return "Number rental"
	case "messaging":
		return "Messaging"
	case "taxes":
		return "Taxes and fees"
	}
	return c
}

// Charge is one line of the charges ledger.
type Charge struct {
	ID          int64
	OccurredAt  time.Time
	Category    string
	Description string
	Amount      int64
}

// CategoryTotal is the sum of one category in a month.
type CategoryTotal struct {
	Category string
	Amount   int64
	Lines    int64
}

// Payment is money paid into an account.
type Payment struct {
	ID        int64
	Amount    int64
	Status    string
	Method    string
	CardBrand string
	CardLast4 string
	Failure   string
	CreatedBy string
	CreatedAt time.Time
}

// MethodLabel describes how a payment was made.
func (p Payment) MethodLabel() string {
	if p.Method == "card" && p.CardLast4 != "" {
		return p.CardBrand + " •••• " + p.CardLast4
	}
	if p.Method == "bank_transfer" {
		return "Bank transfer"
	}
	return p.Method
}

// Billing is an account's billing page for one month.
type Billing struct {
	Balance    int64
	Month      time.Time
	Categories []CategoryTotal
	MonthTotal int64
	// Months lists the months with charges, newest first, for the picker.
	Months   []time.Time
	Charges  []Charge
	Payments []Payment
}

// MonthStart returns the first instant of t's month in UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

const paymentCols = `p.id, p.amount_micros, p.status, p.method, p.card_brand, p.card_last4, p.failure,
	coalesce(u.full_name, ''), p.created_at`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.Amount, &p.Status, &p.Method, &p.CardBrand, &p.CardLast4, &p.Failure, &p.CreatedBy, &p.CreatedAt)
	return p, err
}

func scanCharge(row pgx.Row) (Charge, error) {
	var c Charge
	err := row.Scan(&c.ID, &c.OccurredAt, &c.Category, &c.Description, &c.Amount)
	return c, err
}

// Billing loads the balance, the month's totals by category (from the
// monthly rollup), the month's charge lines and the latest payments, in one
// round trip.
func (db *DB) Billing(ctx context.Context, accountID int64, month time.Time) (*Billing, error) {
	month = MonthStart(month)
	next := month.AddDate(0, 1, 0)
	bl := &Billing{Month: month}
	byCat := map[string]CategoryTotal{}
	b := &pgx.Batch{}
	b.Queue(`SELECT balance_micros FROM accounts WHERE id = $1`, accountID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&bl.Balance)
	})
	b.Queue(`SELECT category, amount_micros, lines FROM charge_monthly WHERE account_id = $1 AND month = $2`, accountID, month).Query(func(rows pgx.Rows) error {
		cats, err := scanAll(rows, func(r pgx.Row) (CategoryTotal, error) {
			var c CategoryTotal
			return c, r.Scan(&c.Category, &c.Amount, &c.Lines)
		})
		for _, c := range cats {
			byCat[c.Category] = c
		}
		return err
	})
	b.Queue(`SELECT month FROM charge_monthly WHERE account_id = $1 GROUP BY month ORDER BY month DESC LIMIT 36`, accountID).Query(func(rows pgx.Rows) (err error) {
		bl.Months, err = scanAll(rows, func(r pgx.Row) (time.Time, error) {
			var t time.Time
			return t, r.Scan(&t)
		})
		return err
	})
	b.Queue(`SELECT id, occurred_at, category, description, amount_micros FROM charges
		WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC, id DESC LIMIT 500`,
		accountID, month, next).Query(func(rows pgx.Rows) (err error) {
		bl.Charges, err = scanAll(rows, scanCharge)
		return err
	})
	b.Queue(`SELECT `+paymentCols+` FROM payments p LEFT JOIN users u ON u.id = p.created_by
		WHERE p.account_id = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT 25`, accountID).Query(func(rows pgx.Rows) (err error) {
		bl.Payments, err = scanAll(rows, scanPayment)
		return err
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "billing")
	}
	for _, c := range ChargeCategories {
		ct := byCat[c]
		ct.Category = c
		bl.Categories = append(bl.Categories, ct)
		bl.MonthTotal += ct.Amount
	}
	for i := range bl.Months {
		bl.Months[i] = MonthStart(bl.Months[i])
	}
	return bl, nil
}

// NewCharge is a charge to record.
type NewCharge struct {
	OccurredAt  time.Time
	Category    string
	Description string
	Amount      int64
}

// RecordChargeTx adds a line to the ledger in tx. The charges_rollup
// trigger updates the daily and monthly rollups and the balance in the same
// statement, so they can never disagree with the ledger.
func RecordChargeTx(ctx context.Context, tx pgx.Tx, accountID int64, c NewCharge) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO charges (account_id, occurred_at, category, description, amount_micros)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, accountID, c.OccurredAt, c.Category, c.Description, c.Amount).Scan(&id)
	return id, mapErr(err, "record charge")
}

// RecordCharge adds a line to the ledger, with its audit event.
func (db *DB) RecordCharge(ctx context.Context, actor portal.Actor, accountID int64, c NewCharge) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if id, err = RecordChargeTx(ctx, tx, accountID, c); err != nil {
			return err
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "charge.recorded", AccountID: accountID,
			Target: "charge:" + strconv.FormatInt(id, 10), Details: map[string]any{"category": c.Category, "amount_micros": c.Amount}})
	})
	return id, err
}

// StartPayment records a card payment as pending before the processor is
// asked. A second request with the same idempotency key is a conflict: the
// form was submitted twice.
func (db *DB) StartPayment(ctx context.Context, actor portal.Actor, accountID, amount int64, key string) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO payments (account_id, amount_micros, method, idempotency_key, created_by)
			VALUES ($1, $2, 'card', $3, $4) RETURNING id`, accountID, amount, key, nullID(actor.UserID)).Scan(&id)
		if isUniqueViolation(err, "") {
			return portal.Errorf(portal.ECONFLICT, "This payment was already submitted.")
		}
		if err != nil {
			return mapErr(err, "start payment")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "payment.started", AccountID: accountID,
			Target: "payment:" + strconv.FormatInt(id, 10), Details: map[string]any{"amount_micros": amount}})
	})
	return id, err
}

// FinishPayment settles a pending payment: with a receipt it succeeds and
// the balance rises (payments_balance trigger); with a failure message it
// fails and nothing else changes.
func (db *DB) FinishPayment(ctx context.Context, actor portal.Actor, accountID, paymentID int64, r *portal.Receipt, failure string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var amount int64
		var err error
		if r != nil {
			err = tx.QueryRow(ctx, `UPDATE payments SET status = 'succeeded', card_brand = $3, card_last4 = $4, processor_ref = $5, completed_at = now()
				WHERE account_id = $1 AND id = $2 AND status = 'pending' RETURNING amount_micros`,
				accountID, paymentID, r.Card.Brand, r.Card.Last4, r.Ref).Scan(&amount)
		} else {
			err = tx.QueryRow(ctx, `UPDATE payments SET status = 'failed', failure = $3, completed_at = now()
				WHERE account_id = $1 AND id = $2 AND status = 'pending' RETURNING amount_micros`,
				accountID, paymentID, failure).Scan(&amount)
		}
		if err != nil {
			return mapErr(err, "finish payment")
		}
		ev := portal.AuditEvent{Action: "billing.funds_added", AccountID: accountID, Target: "payment:" + strconv.FormatInt(paymentID, 10),
			Details: map[string]any{"amount_micros": amount}}
		if r == nil {
			ev.Outcome, ev.Details["failure"] = "failure", failure
		} else {
			ev.Details["card"] = r.Card.Masked()
		}
		return AuditTx(ctx, tx, actor, ev)
	})
}

// Balance returns an account's balance.
func (db *DB) Balance(ctx context.Context, accountID int64) (int64, error) {
	var b int64
	err := db.Pool.QueryRow(ctx, `SELECT balance_micros FROM accounts WHERE id = $1`, accountID).Scan(&b)
	return b, mapErr(err, "balance")
}

// BillingInfo is the billing contact and the card on file of an account.
type BillingInfo struct {
	ContactName  string
	ContactEmail string
	Address1     string
	Address2     string
	City         string
	Region       string
	PostalCode   string
	Country      string
	TaxID        string
	Card         portal.CardOnFile
	// Saved is false until billing info was saved once; until then the
	// fields are prefilled from the customer information.
	Saved bool
}

// BillingInfo returns an account's billing info.
func (db *DB) BillingInfo(ctx context.Context, accountID int64) (*BillingInfo, error) {
	var bi BillingInfo
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(b.contact_name, a.contact_name), coalesce(b.contact_email, a.contact_email),
		coalesce(b.address_line1, a.address_line1), coalesce(b.address_line2, a.address_line2), coalesce(b.city, a.city),
		coalesce(b.region, a.region), coalesce(b.postal_code, a.postal_code), coalesce(b.country, a.country),
		coalesce(b.tax_id, ''), coalesce(b.card_brand, ''), coalesce(b.card_last4, ''), coalesce(b.card_exp_month, 0),
		coalesce(b.card_exp_year, 0), coalesce(b.card_ref, ''), b.account_id IS NOT NULL
		FROM accounts a LEFT JOIN billing_info b ON b.account_id = a.id WHERE a.id = $1`, accountID).Scan(
		&bi.ContactName, &bi.ContactEmail, &bi.Address1, &bi.Address2, &bi.City, &bi.Region, &bi.PostalCode, &bi.Country,
		&bi.TaxID, &bi.Card.Brand, &bi.Card.Last4, &bi.Card.ExpMonth, &bi.Card.ExpYear, &bi.Card.Ref, &bi.Saved)
	if err != nil {
		return nil, mapErr(err, "billing info")
	}
	return &bi, nil
}

// SaveBillingInfo stores the billing contact; card, when not nil, replaces
// the card on file (as the processor's reference, brand and last four).
func (db *DB) SaveBillingInfo(ctx context.Context, actor portal.Actor, accountID int64, bi BillingInfo, card *portal.CardOnFile) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO billing_info (account_id, contact_name, contact_email, address_line1, address_line2,
			city, region, postal_code, country, tax_id, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (account_id) DO UPDATE SET contact_name = EXCLUDED.contact_name, contact_email = EXCLUDED.contact_email,
			address_line1 = EXCLUDED.address_line1, address_line2 = EXCLUDED.address_line2, city = EXCLUDED.city,
			region = EXCLUDED.region, postal_code = EXCLUDED.postal_code, country = EXCLUDED.country, tax_id = EXCLUDED.tax_id,
			updated_by = EXCLUDED.updated_by, updated_at = now()`,
			accountID, bi.ContactName, bi.ContactEmail, bi.Address1, bi.Address2, bi.City, bi.Region, bi.PostalCode, bi.Country,
			bi.TaxID, nullID(actor.UserID))
		if err != nil {
			return mapErr(err, "save billing info")
		}
		details := map[string]any{"contact_email": bi.ContactEmail, "country": bi.Country}
		if card != nil {
			if _, err := tx.Exec(ctx, `UPDATE billing_info SET card_brand = $2, card_last4 = $3, card_exp_month = $4, card_exp_year = $5,
				card_ref = $6 WHERE account_id = $1`, accountID, card.Brand, card.Last4, card.ExpMonth, card.ExpYear, card.Ref); err != nil {
				return mapErr(err, "save card")
			}
			details["card"] = card.Masked()
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "billing.info_updated", AccountID: accountID, Details: details})
	})
}
