package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The family summaries show the accounts a user may see there: those where
// the user's role is Power or Principal (Principal of a root covers all its
// sub-accounts), in families with Sub-Accounts enabled, never in a family
// the user is revoked in, never closed accounts. visibleSQL is that set for
// user $1; searchFilter narrows it.
const visibleSQL = `SELECT a.id, a.tech_prefix, a.company_name, a.company_alias, a.status, a.parent_id, a.balance_micros
	FROM accounts a
	WHERE (a.id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1 AND m.role IN ('principal', 'power'))
	       OR a.parent_id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1 AND m.role = 'principal'))
	  AND ` + reachableSQL + `
	  AND EXISTS (SELECT 1 FROM account_features f WHERE f.account_id = coalesce(a.parent_id, a.id) AND f.feature = 'sub_accounts')`

// SummaryRow is one account of the All Accounts summary.
type SummaryRow struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	Status       string
	Balance      int64
	Numbers      int64
	Calls        int64
	BilledSecs   int64
	Charges      int64
}

// SummaryTotals adds up every account that matched, not only one page.
type SummaryTotals struct {
	Accounts   int
	Balance    int64
	Numbers    int64
	Calls      int64
	BilledSecs int64
	Charges    int64
}

// SummaryQuery selects and orders the rows of a summary page.
type SummaryQuery struct {
	Q      string
	Sort   string
	Desc   bool
	Month  time.Time
	Offset int
	Limit  int
}

// summarySorts are the orders the All Accounts summary offers; anything
// else sorts by company.
var summarySorts = map[string]string{
	"company": "lower(company_name)",
	"prefix":  "tech_prefix",
	"status":  "status",
	"balance": "balance_micros",
	"numbers": "numbers",
	"minutes": "billed_secs",
	"charges": "charges",
}

// ValidSummarySort reports whether s is a sort key of the All Accounts
// summary.
func ValidSummarySort(s string) bool { _, ok := summarySorts[s]; return ok }

// orderBy builds a whitelisted ORDER BY with the id as a tiebreaker, so
// pages never overlap.
func orderBy(sorts map[string]string, key string, desc bool) string {
	col, ok := sorts[key]
	if !ok {
		col = "lower(company_name)"
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	return " ORDER BY " + col + dir + ", lower(company_name), id"
}

// baseSorts are the sort keys that are columns of the account itself: a
// page is cut before anything is added up for it.
var baseSorts = map[string]bool{"company": true, "prefix": true, "status": true, "balance": true}

// pageSQL orders and cuts the visible accounts (vis) to one page, or, when
// the order needs figures of every account, passes them all through.
func pageSQL(sorts map[string]string, q SummaryQuery, base bool) string {
	if !base {
		return `SELECT * FROM vis`
	}
	return `SELECT * FROM vis` + orderBy(sorts, q.Sort, q.Desc) + limitSQL(q)
}

func limitSQL(q SummaryQuery) string {
	return ` LIMIT ` + strconv.Itoa(q.Limit) + ` OFFSET ` + strconv.Itoa(max(0, q.Offset))
}

// AccountsSummary loads one page of the All Accounts summary and the totals
// of every matching account, in one round trip. This month's figures come
// from the monthly rollups; the page is cut before its figures are looked
// up unless it is sorted by them.
func (db *DB) AccountsSummary(ctx context.Context, userID int64, q SummaryQuery) ([]SummaryRow, SummaryTotals, error) {
	month := MonthStart(q.Month)
	where, args := searchFilter(q.Q, 3)
	args = append([]any{userID, month}, args...)
	base := baseSorts[q.Sort] || !ValidSummarySort(q.Sort)
	sql := `WITH vis AS (` + visibleSQL + where + `), page AS (` + pageSQL(summarySorts, q, base) + `),
		rows AS (SELECT v.*,
			coalesce((SELECT n.held FROM did_counts n WHERE n.account_id = v.id), 0) AS numbers,
			coalesce(cm.calls, 0) AS calls, coalesce(cm.billed_secs, 0) AS billed_secs,
			(SELECT coalesce(sum(c.amount_micros), 0) FROM charge_monthly c WHERE c.account_id = v.id AND c.month = $2) AS charges
			FROM page v LEFT JOIN cdr_monthly cm ON cm.account_id = v.id AND cm.month = $2)
		SELECT id, tech_prefix, company_name, company_alias, status, balance_micros, numbers, calls, billed_secs, charges
		FROM rows` + orderBy(summarySorts, q.Sort, q.Desc)
	if !base {
		sql += limitSQL(q)
	}
	var rows []SummaryRow
	var t SummaryTotals
	b := &pgx.Batch{}
	b.Queue(sql, args...).Query(func(r pgx.Rows) (err error) {
		rows, err = scanAll(r, func(row pgx.Row) (SummaryRow, error) {
			var s SummaryRow
			return s, row.Scan(&s.ID, &s.TechPrefix, &s.CompanyName, &s.CompanyAlias, &s.Status, &s.Balance, &s.Numbers, &s.Calls, &s.BilledSecs, &s.Charges)
		})
		return err
	})
	charges := `(SELECT coalesce(sum(amount_micros), 0) FROM charge_monthly WHERE month = $2 AND account_id IN (SELECT id FROM vis))`
	if where == "" {
		charges = `0` // added from the family rollups below
	}
	b.Queue(`WITH vis AS (`+visibleSQL+where+`),
		mon AS (SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(billed_secs), 0) AS secs
		        FROM cdr_monthly WHERE month = $2 AND account_id IN (SELECT id FROM vis))
		SELECT (SELECT count(*) FROM vis), (SELECT coalesce(sum(balance_micros), 0) FROM vis),
			(SELECT coalesce(sum(n.held), 0) FROM did_counts n WHERE n.account_id IN (SELECT id FROM vis)),
			mon.calls, mon.secs, `+charges+` FROM mon`, args...).
		QueryRow(func(row pgx.Row) error {
			return row.Scan(&t.Accounts, &t.Balance, &t.Numbers, &t.Calls, &t.BilledSecs, &t.Charges)
		})
	var fam map[time.Time][]int64
	if where == "" {
		fam = queueFamilyCharges(b, userID, month, month)
	}
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, SummaryTotals{}, mapErr(err, "accounts summary")
	}
	for _, a := range fam[month] {
		t.Charges += a
	}
	return rows, t, nil
}

// SummaryVisible reports whether the user may see any account in a family
// summary at all.
func (db *DB) SummaryVisible(ctx context.Context, userID int64) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (`+visibleSQL+`)`, userID).Scan(&ok)
	return ok, mapErr(err, "summary visible")
}
