package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BillingRow is one account of the Billing Summary: its charges in a month
// by category (in ChargeCategories order) and in total.
type BillingRow struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	Status       string
	ByCategory   []int64
	Total        int64
}

// MonthAmount is the charges of one month.
type MonthAmount struct {
	Month  time.Time
	Amount int64
}

// BillingSummary is one page of the Billing Summary.
type BillingSummary struct {
	Rows []BillingRow
	// Accounts is how many accounts matched; Totals and Total add up all
	// of them, not only this page.
	Accounts int
	Totals   []int64
	Total    int64
	// Chart is every visible account's charges per month, oldest first,
	// for the twelve months ending with the current one.
	Chart []MonthAmount
}

var billingSorts = map[string]string{
	"company": "lower(company_name)",
	"prefix":  "tech_prefix",
	"total":   "total",
}

// ValidBillingSort reports whether s is a sort key of the Billing Summary.
func ValidBillingSort(s string) bool { _, ok := billingSorts[s]; return ok }

// byCategorySQL pivots charge_monthly rows (as c) into one column per
// category, in ChargeCategories order, and their total.
const byCategorySQL = `coalesce(sum(c.amount_micros) FILTER (WHERE c.category = 'usage'), 0) AS usage,
		coalesce(sum(c.amount_micros) FILTER (WHERE c.category = 'number_rental'), 0) AS number_rental,
		coalesce(sum(c.amount_micros) FILTER (WHERE c.category = 'messaging'), 0) AS messaging,
		coalesce(sum(c.amount_micros) FILTER (WHERE c.category = 'taxes'), 0) AS taxes,
		coalesce(sum(c.amount_micros), 0) AS total`

// billingRowsSQL pivots the monthly rollup ($2) of the accounts of page.
const billingRowsSQL = `SELECT v.id, v.tech_prefix, v.company_name, v.company_alias, v.status, ` + byCategorySQL + `
	FROM page v LEFT JOIN charge_monthly c ON c.account_id = v.id AND c.month = $2
	GROUP BY v.id, v.tech_prefix, v.company_name, v.company_alias, v.status`

func scanBillingRow(row pgx.Row) (BillingRow, error) {
	r := BillingRow{ByCategory: make([]int64, len(ChargeCategories))}
	err := row.Scan(&r.ID, &r.TechPrefix, &r.CompanyName, &r.CompanyAlias, &r.Status,
		&r.ByCategory[0], &r.ByCategory[1], &r.ByCategory[2], &r.ByCategory[3], &r.Total)
	return r, err
}

// billingSQL selects the Billing Summary rows of q; a page sorted by company
// or prefix is cut before its charges are looked up.
func billingSQL(sc *SummaryScope, q SummaryQuery, where string, page bool) string {
	base := q.Sort != "total"
	sql := `WITH ` + userParamSQL + `, vis AS (` + sc.visSQL(where) + `), page AS (` + pageSQL(sc, billingSorts, q, base && page, where) + `),
		rows AS (` + billingRowsSQL + `) SELECT * FROM rows` + orderBy(billingSorts, q.Sort, q.Desc)
	if page && !base {
		sql += limitSQL(q)
	}
	return sql
}

// BillingSummaryPage loads one page of the Billing Summary for a month, the
// totals of every matching account by category, and the twelve-month chart
// of every visible account, in one round trip, from the rollups only.
func (db *DB) BillingSummaryPage(ctx context.Context, sc *SummaryScope, q SummaryQuery, now time.Time) (*BillingSummary, error) {
	month := MonthStart(q.Month)
	last := MonthStart(now)
	first := last.AddDate(0, -11, 0)
	where, args := searchFilter(q.Q, 3)
	args = append([]any{sc.UserID, month}, args...)
	bs := &BillingSummary{Totals: make([]int64, len(ChargeCategories))}
	b := &pgx.Batch{}
	b.Queue(billingSQL(sc, q, where, true), args...).Query(func(r pgx.Rows) (err error) {
		bs.Rows, err = scanAll(r, scanBillingRow)
		return err
	})
	// Without a search, the month's totals are the chart's bar for it and
	// the number of accounts comes from the family rollups.
	fromChart := where == "" && !month.Before(first) && !month.After(last)
	if where == "" {
		b.Queue(`SELECT n FROM (`+totalsSQL(sc)+`) t(n, bal, held, calls, billed)`, sc.UserID, month).
			QueryRow(func(row pgx.Row) error { return row.Scan(&bs.Accounts) })
	}
	var sums []int64
	if !fromChart {
		b.Queue(`WITH `+userParamSQL+`, vis AS (`+sc.visSQL(where)+`) SELECT (SELECT count(*) FROM vis),
			(SELECT ARRAY[usage, number_rental, messaging, taxes, total] FROM (SELECT `+byCategorySQL+`
			FROM charge_monthly c WHERE c.month = $2 AND c.account_id IN (SELECT id FROM vis)) t)`, args...).
			QueryRow(func(row pgx.Row) error { return row.Scan(&bs.Accounts, &sums) })
	}
	chart := queueFamilyCharges(b, sc, first, last)
	if err := db.sendPage(ctx, b, where == ""); err != nil {
		return nil, mapErr(err, "billing summary")
	}
	if fromChart {
		sums = make([]int64, len(ChargeCategories)+1)
		for i, a := range chart[month] {
			sums[i] = a
			sums[len(sums)-1] += a
		}
	}
	copy(bs.Totals, sums)
	bs.Total = sums[len(ChargeCategories)]
	for m := first; !m.After(last); m = m.AddDate(0, 1, 0) {
		var total int64
		for _, a := range chart[m] {
			total += a
		}
		bs.Chart = append(bs.Chart, MonthAmount{Month: m, Amount: total})
	}
	return bs, nil
}

// familyChargesSQL adds up the visible accounts' charges per month and
// category between $2 and $3. Whole families (the user is Principal of the
// root) are read from the family rollup, which leaves closed accounts out;
// accounts seen one by one (as Power) from their own rollups. The result
// equals summing every visible account's rollup, at a cost that does not
// grow with the family.
func familyChargesSQL(sc *SummaryScope) string {
	var parts []string
	if len(sc.fams) > 0 {
		parts = append(parts, `SELECT month, category, amount_micros FROM family_charge_monthly
			WHERE root_id IN (`+sc.famList()+`) AND month BETWEEN $2 AND $3`)
	}
	if sc.direct {
		parts = append(parts, `SELECT c.month, c.category, c.amount_micros FROM (`+sc.directSQL("")+`) v
			JOIN charge_monthly c ON c.account_id = v.id AND c.month BETWEEN $2 AND $3`)
	}
	if len(parts) == 0 {
		parts = append(parts, `SELECT $2::date, '', 0::bigint WHERE $3::date IS NULL`)
	}
	return `WITH ` + userParamSQL + ` SELECT month, category, sum(amount) FROM (` + strings.Join(parts, "\n\t\tUNION ALL ") + `) x(month, category, amount)
		GROUP BY month, category`
}

// queueFamilyCharges queues familyChargesSQL; once the batch has run, the
// map holds each month's amounts by category (ChargeCategories order).
func queueFamilyCharges(b *pgx.Batch, sc *SummaryScope, first, last time.Time) map[time.Time][]int64 {
	out := map[time.Time][]int64{}
	b.Queue(familyChargesSQL(sc), sc.UserID, first, last).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var m time.Time
			var cat string
			var amount int64
			if err := rows.Scan(&m, &cat, &amount); err != nil {
				return err
			}
			m = MonthStart(m)
			if out[m] == nil {
				out[m] = make([]int64, len(ChargeCategories))
			}
			for i, c := range ChargeCategories {
				if c == cat {
					out[m][i] += amount
				}
			}
		}
		return rows.Err()
	})
	return out
}

// StreamBillingSummary calls fn with every matching account of the Billing
// Summary for a month, in the order asked for, straight from the database
// rows.
func (db *DB) StreamBillingSummary(ctx context.Context, sc *SummaryScope, q SummaryQuery, fn func(*BillingRow) error) error {
	where, args := searchFilter(q.Q, 3)
	args = append([]any{sc.UserID, MonthStart(q.Month)}, args...)
	rows, err := db.Pool.Query(ctx, billingSQL(sc, q, where, false), args...)
	if err != nil {
		return mapErr(err, "billing export")
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanBillingRow(rows)
		if err != nil {
			return mapErr(err, "billing export")
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return mapErr(rows.Err(), "billing export")
}
