package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dashboard is an account's start page at a glance.
type Dashboard struct {
	Balance      int64
	Numbers      int
	Routes       int
	Hosts        int
	MonthCalls   int64
	MonthSecs    int64
	MonthCharges int64
	RecentCalls  []CDR
	// RecentPayments are the latest payments into the account.
	RecentPayments []Payment
}

// Dashboard loads the start page in one round trip. This month's figures
// come from the rollups, so the page costs the same for an account with a
// hundred calls as for one with millions.
func (db *DB) Dashboard(ctx context.Context, accountID int64, now time.Time) (*Dashboard, error) {
	month := MonthStart(now)
	var d Dashboard
	b := &pgx.Batch{}
	b.Queue(`SELECT a.balance_micros,
			coalesce((SELECT held FROM did_counts WHERE account_id = a.id), 0),
			(SELECT count(*) FROM inbound_routes WHERE account_id = a.id),
			(SELECT count(*) FROM sip_hosts WHERE account_id = a.id),
			coalesce((SELECT amount_micros FROM account_month_charges WHERE account_id = a.id AND month = $2), 0)
		FROM accounts a WHERE a.id = $1`, accountID, month).QueryRow(func(row pgx.Row) error {
		return row.Scan(&d.Balance, &d.Numbers, &d.Routes, &d.Hosts, &d.MonthCharges)
	})
	b.Queue(`SELECT coalesce(sum(calls), 0), coalesce(sum(billed_secs), 0) FROM cdr_daily
		WHERE account_id = $1 AND day >= $2::date`, accountID, month).QueryRow(func(row pgx.Row) error {
		return row.Scan(&d.MonthCalls, &d.MonthSecs)
	})
	b.Queue(`SELECT `+cdrCols+` FROM cdrs WHERE account_id = $1 ORDER BY started_at DESC, id DESC LIMIT 5`, accountID).Query(func(rows pgx.Rows) (err error) {
		d.RecentCalls, err = scanAll(rows, scanCDR)
		return err
	})
	b.Queue(`SELECT `+paymentCols+` FROM payments p LEFT JOIN users u ON u.id = p.created_by
		WHERE p.account_id = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT 5`, accountID).Query(func(rows pgx.Rows) (err error) {
		d.RecentPayments, err = scanAll(rows, scanPayment)
		return err
	})
	// Generic plans: Postgres kept planning the month's calls and the
	// latest calls afresh on every view, though one plan (an index range
	// of the account) serves every account.
	if err := db.sendGeneric(ctx, b); err != nil {
		return nil, mapErr(err, "dashboard")
	}
	return &d, nil
}
