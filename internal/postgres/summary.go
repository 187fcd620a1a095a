package postgres

import (
	"context"
	"strconv"
	"strings"
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

// famRootsSQL lists the roots whose whole family user $1 sees in the
// summaries: Principal of the root, not revoked there, Sub-Accounts on.
const famRootsSQL = `SELECT m.account_id FROM memberships m JOIN accounts a ON a.id = m.account_id
	WHERE m.user_id = $1 AND m.role = 'principal' AND a.parent_id IS NULL
	  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = a.id)
	  AND EXISTS (SELECT 1 FROM account_features f WHERE f.account_id = a.id AND f.feature = 'sub_accounts')`

// SummaryScope is what the family summaries of one user cover, as
// visibleSQL describes it, split so that a whole family is read in company
// order from the accounts_family_open index and its totals from the family
// rollups: two branches per family the user is Principal of (its root, its
// sub-accounts), and one for the accounts seen one by one (memberships)
// outside those families.
type SummaryScope struct {
	UserID int64
	// Visible says whether the user may see any account in a summary.
	Visible bool
	fams    []int64
	// direct: the user may hold Power or Principal on accounts outside the
	// whole families; without any, their branch is left out of every query.
	direct bool
	// Stamp names the versions of every family the user holds a role in
	// when the scope was read (migration 0013): a summary page kept from a
	// read under the same stamp still shows what those families hold.
	Stamp string
}

// Families lists the families the stamp names: every family the user holds
// a role in when the scope was read.
func (sc *SummaryScope) Families() []int64 {
	var out []int64
	for _, part := range strings.Split(sc.Stamp, ",") {
		root, _, _ := strings.Cut(part, ":")
		if id, err := strconv.ParseInt(root, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// SummaryFrame loads the user's summary scope and, if asked (picker), the
// header picker of a page outside any account, in one round trip.
func (db *DB) SummaryFrame(ctx context.Context, userID int64, picker bool) (*SummaryScope, *PickerHeader, error) {
	b := &pgx.Batch{}
	sc := queueSummaryScope(b, userID)
	var p *PickerHeader
	if picker {
		p = queuePicker(b, userID, "")
	}
	if err := db.sendGeneric(ctx, b); err != nil {
		return nil, nil, mapErr(err, "summary scope")
	}
	return sc, p, nil
}

// SummaryScopeOf loads the user's summary scope alone.
func (db *DB) SummaryScopeOf(ctx context.Context, userID int64) (*SummaryScope, error) {
	b := &pgx.Batch{}
	sc := queueSummaryScope(b, userID)
	if err := db.sendGeneric(ctx, b); err != nil {
		return nil, mapErr(err, "summary scope")
	}
	return sc, nil
}

func queueSummaryScope(b *pgx.Batch, userID int64) *SummaryScope {
	sc := &SummaryScope{UserID: userID}
	b.Queue(`WITH f AS (`+famRootsSQL+`)
		SELECT ARRAY(SELECT account_id FROM f ORDER BY 1), EXISTS (`+visibleSQL+`),
			EXISTS (SELECT 1 FROM memberships m JOIN accounts a ON a.id = m.account_id
			        WHERE m.user_id = $1 AND m.role IN ('principal', 'power')
			          AND coalesce(a.parent_id, a.id) NOT IN (SELECT account_id FROM f)),
			(SELECT coalesce(string_agg(u.root_id || ':' || coalesce(v.version, 0), ',' ORDER BY u.root_id), '')
			 FROM family_users u LEFT JOIN family_versions v ON v.root_id = u.root_id WHERE u.user_id = $1)`, userID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&sc.fams, &sc.Visible, &sc.direct, &sc.Stamp)
	})
	return sc
}

// famList is the families' root ids as an SQL list (ids from the database).
func (sc *SummaryScope) famList() string {
	out := "0"
	for _, id := range sc.fams {
		out += "," + strconv.FormatInt(id, 10)
	}
	return out
}

// directSQL is the accounts seen one by one (where matches too), outside
// the whole families.
func (sc *SummaryScope) directSQL(where string) string {
	return `SELECT ` + summaryCols + ` FROM accounts a
	WHERE a.id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1 AND m.role IN ('principal', 'power'))
	  AND coalesce(a.parent_id, a.id) NOT IN (` + sc.famList() + `)
	  AND ` + reachableSQL + `
	  AND EXISTS (SELECT 1 FROM account_features f WHERE f.account_id = coalesce(a.parent_id, a.id) AND f.feature = 'sub_accounts')` + where
}

// union joins the branches of the visible accounts: the accounts seen one
// by one (direct, left out when the user has none) and, for each whole
// family, what fam gives for its root id; none matches nothing.
func (sc *SummaryScope) union(direct string, fam func(id string) string, none string) string {
	var parts []string
	if sc.direct {
		parts = append(parts, direct)
	}
	for _, id := range sc.fams {
		parts = append(parts, fam(strconv.FormatInt(id, 10)))
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, "\n\tUNION ALL ")
}

// visSQL is every visible account matching where: the same rows as
// visibleSQL + where.
func (sc *SummaryScope) visSQL(where string) string {
	return sc.union(sc.directSQL(where), func(id string) string {
		return sc.rootSQL(id, where) + ` UNION ALL SELECT ` + summaryCols + ` FROM accounts a WHERE a.parent_id = ` + id +
			` AND a.status <> 'closed'` + where
	}, noAccountsSQL)
}

// userParamSQL names the user parameter ($1) in a statement whose branches
// may all leave it out (a user who sees only whole families).
const userParamSQL = `p AS (SELECT $1::bigint)`

// noAccountsSQL has the columns of vis and no rows.
const noAccountsSQL = `SELECT ` + summaryCols + ` FROM accounts a WHERE false`

// rootSQL is the branch of a whole family's root: visible unless closed.
func (sc *SummaryScope) rootSQL(id, where string) string {
	return `SELECT ` + summaryCols + ` FROM accounts a WHERE a.id = ` + id + ` AND a.status <> 'closed'` + where
}

// summaryCols are the columns of vis; lname is the company order, named so
// that a page ordered by it can be merged from branches already in order.
const summaryCols = `a.id, a.tech_prefix, a.company_name, a.company_alias, a.status, a.parent_id, a.balance_micros,
	lower(a.company_name) AS lname`

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
	dir := dirSQL(desc)
	if col == "lower(company_name)" {
		// Both keys one way: a family's page is read straight from the
		// accounts_family_open index, backwards for descending.
		return " ORDER BY lower(company_name)" + dir + ", id" + dir
	}
	return " ORDER BY " + col + dir + ", lower(company_name), id"
}

// figureSorts are the sort keys that are figures of the month: the page is
// cut after joining only the figure it is sorted by.
var figureSorts = map[string]struct{ join, key string }{
	"numbers": {`LEFT JOIN did_counts n ON n.account_id = v.id`, `coalesce(n.held, 0)`},
	"minutes": {`LEFT JOIN cdr_monthly cm ON cm.account_id = v.id AND cm.month = $2`, `coalesce(cm.billed_secs, 0)`},
	"charges": {`LEFT JOIN account_month_charges ch ON ch.account_id = v.id AND ch.month = $2`, `coalesce(ch.amount_micros, 0)`},
}

// pageSQL orders and cuts the visible accounts (vis) to one page, or, when
// the order needs figures the caller adds up itself, passes them all
// through. In company order each whole family contributes only the
// accounts up to the end of the page, read from the accounts_family_open
// index.
func pageSQL(sc *SummaryScope, sorts map[string]string, q SummaryQuery, base bool, where string) string {
	dir := dirSQL(q.Desc)
	if f, ok := figureSorts[q.Sort]; ok && sorts[q.Sort] != "" {
		if q.Sort == "charges" && q.Desc && where == "" && !sc.direct && len(sc.fams) == 1 {
			return topChargesSQL(sc.fams[0], q, figurePageSQL(sc, f.join, f.key, q))
		}
		if where != "" {
			return `SELECT v.* FROM vis v ` + f.join + ` ORDER BY ` + f.key + dir + `, v.lname, v.id` + limitSQL(q)
		}
		return figurePageSQL(sc, f.join, f.key, q)
	}
	if !base {
		return `SELECT * FROM vis`
	}
	order := strings.ReplaceAll(orderBy(sorts, q.Sort, q.Desc), "lower(company_name)", "lname")
	if _, ok := sorts[q.Sort]; ok && q.Sort != "company" {
		return `SELECT * FROM vis` + order + limitSQL(q)
	}
	end := strconv.Itoa(max(0, q.Offset) + q.Limit)
	return `SELECT * FROM (` + sc.union(sc.directSQL(where), func(id string) string {
		return sc.rootSQL(id, where) + ` UNION ALL (SELECT ` + summaryCols + ` FROM accounts a
			WHERE a.parent_id = ` + id + ` AND a.status <> 'closed'` + where + `
			ORDER BY lower(a.company_name)` + dir + `, a.id` + dir + ` LIMIT ` + end + `)`
	}, noAccountsSQL) + `) v` + order + limitSQL(q)
}

// figurePageSQL is a page in the order of one figure without a search: a
// family's ids and company order come from the accounts_family_open index
// alone, and only the page's accounts are read.
func figurePageSQL(sc *SummaryScope, join, key string, q SummaryQuery) string {
	dir := dirSQL(q.Desc)
	keys := sc.union(`SELECT id, lname FROM (`+sc.directSQL("")+`) d`, func(id string) string {
		return `SELECT a.id, lower(a.company_name) FROM accounts a WHERE a.id = ` + id + ` AND a.status <> 'closed'
			UNION ALL SELECT a.id, lower(a.company_name) FROM accounts a WHERE a.parent_id = ` + id + ` AND a.status <> 'closed'`
	}, `SELECT 0::bigint, ''::text WHERE false`)
	return `SELECT ` + summaryCols + ` FROM (SELECT v.id, v.lname FROM (` + keys + `) v(id, lname) ` + join + `
		ORDER BY ` + key + dir + `, v.lname, v.id` + limitSQL(q) + `) p JOIN accounts a ON a.id = p.id`
}

// topChargesSQL is a page of one family by charges, highest first, read
// from the account_month_charges rank index: the accounts that were charged
// more than nothing this month, up to the end of the page, in order. When
// fewer than that were charged, the page reaches the accounts charged
// nothing (or credited), and general, the page built the general way, is
// used instead (Postgres runs only the branch whose condition holds).
func topChargesSQL(root int64, q SummaryQuery, general string) string {
	id := strconv.FormatInt(root, 10)
	end := strconv.Itoa(max(0, q.Offset) + q.Limit)
	top := `SELECT ` + summaryCols + ` FROM account_month_charges c JOIN accounts a ON a.id = c.account_id
		WHERE c.month = $2 AND c.amount_micros > 0 AND a.status <> 'closed' AND (a.parent_id = ` + id + ` OR a.id = ` + id + `)
		ORDER BY c.amount_micros DESC, lower(a.company_name), a.id LIMIT ` + end
	return `WITH top AS MATERIALIZED (` + top + `)
		SELECT * FROM (SELECT * FROM top` + limitSQL(q) + `) t WHERE (SELECT count(*) FROM top) = ` + end + `
		UNION ALL
		SELECT * FROM (` + general + `) g WHERE (SELECT count(*) FROM top) < ` + end
}

// dirSQL is the direction of an ORDER BY key.
func dirSQL(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

func limitSQL(q SummaryQuery) string {
	return ` LIMIT ` + strconv.Itoa(q.Limit) + ` OFFSET ` + strconv.Itoa(max(0, q.Offset))
}

// AccountsSummary loads one page of the All Accounts summary and the totals
// of every matching account, in one round trip. This month's figures come
// from the monthly rollups; the page is cut before its figures are looked
// up unless it is sorted by them. Without a search, the totals of whole
// families come from the family rollups.
func (db *DB) AccountsSummary(ctx context.Context, sc *SummaryScope, q SummaryQuery) ([]SummaryRow, SummaryTotals, error) {
	month := MonthStart(q.Month)
	where, args := searchFilter(q.Q, 3)
	args = append([]any{sc.UserID, month}, args...)
	sql := `WITH ` + userParamSQL + `, vis AS (` + sc.visSQL(where) + `), page AS (` + pageSQL(sc, summarySorts, q, true, where) + `),
		rows AS (SELECT v.*,
			coalesce((SELECT n.held FROM did_counts n WHERE n.account_id = v.id), 0) AS numbers,
			coalesce(cm.calls, 0) AS calls, coalesce(cm.billed_secs, 0) AS billed_secs,
			coalesce((SELECT c.amount_micros FROM account_month_charges c WHERE c.account_id = v.id AND c.month = $2), 0) AS charges
			FROM page v
			-- One look-up per row of the page (LIMIT keeps the planner from
			-- hashing the whole month instead when it misjudges the page).
			LEFT JOIN LATERAL (SELECT calls, billed_secs FROM cdr_monthly
				WHERE account_id = v.id AND month = $2 LIMIT 1) cm ON true)
		SELECT id, tech_prefix, company_name, company_alias, status, balance_micros, numbers, calls, billed_secs, charges
		FROM rows` + orderBy(summarySorts, q.Sort, q.Desc)
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
	if where == "" {
		b.Queue(totalsSQL(sc), sc.UserID, month).QueryRow(func(row pgx.Row) error {
			return row.Scan(&t.Accounts, &t.Balance, &t.Numbers, &t.Calls, &t.BilledSecs)
		})
	} else {
		// A search: one pass over the matching accounts joined to their
		// rollup rows.
		b.Queue(`WITH `+userParamSQL+`, vis AS (`+sc.visSQL(where)+`)
			SELECT count(*), coalesce(sum(v.balance_micros), 0), coalesce(sum(n.held), 0),
				coalesce(sum(cm.calls), 0), coalesce(sum(cm.billed_secs), 0),
				(SELECT coalesce(sum(amount_micros), 0) FROM charge_monthly WHERE month = $2 AND account_id IN (SELECT id FROM vis))
			FROM vis v LEFT JOIN did_counts n ON n.account_id = v.id
			LEFT JOIN cdr_monthly cm ON cm.account_id = v.id AND cm.month = $2`, args...).
			QueryRow(func(row pgx.Row) error {
				return row.Scan(&t.Accounts, &t.Balance, &t.Numbers, &t.Calls, &t.BilledSecs, &t.Charges)
			})
	}
	var fam map[time.Time][]int64
	if where == "" {
		fam = queueFamilyCharges(b, sc, month, month)
	}
	if err := db.sendPage(ctx, b, where == ""); err != nil {
		return nil, SummaryTotals{}, mapErr(err, "accounts summary")
	}
	for _, a := range fam[month] {
		t.Charges += a
	}
	return rows, t, nil
}

// totalsSQL adds up every visible account (user $1) and its calls in month
// $2 without a search: whole families from their rollups (open accounts
// only), the accounts seen one by one from their own rows.
func totalsSQL(sc *SummaryScope) string {
	var parts []string
	if len(sc.fams) > 0 {
		fams := sc.famList()
		parts = append(parts, `SELECT accounts AS n, balance_micros AS bal, numbers AS held, 0 AS calls, 0 AS billed
			FROM family_totals WHERE root_id IN (`+fams+`)`,
			`SELECT 0, 0, 0, calls, billed_secs FROM family_cdr_monthly WHERE root_id IN (`+fams+`) AND month = $2`)
	}
	if sc.direct {
		parts = append(parts, `SELECT 1, v.balance_micros, coalesce(n.held, 0), coalesce(cm.calls, 0), coalesce(cm.billed_secs, 0)
			FROM (`+sc.directSQL("")+`) v LEFT JOIN did_counts n ON n.account_id = v.id
			LEFT JOIN cdr_monthly cm ON cm.account_id = v.id AND cm.month = $2`)
	}
	if len(parts) == 0 {
		parts = append(parts, `SELECT 0, 0, 0, 0, 0 WHERE $2::date IS NULL`)
	}
	return `WITH ` + userParamSQL + ` SELECT coalesce(sum(n), 0), coalesce(sum(bal), 0), coalesce(sum(held), 0), coalesce(sum(calls), 0), coalesce(sum(billed), 0)
		FROM (` + strings.Join(parts, "\n\t\tUNION ALL ") + `) t(n, bal, held, calls, billed)`
}
