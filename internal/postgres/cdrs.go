package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CDR is one call detail record.
type CDR struct {
	ID           int64
	StartedAt    time.Time
	Direction    string
	From         string
	To           string
	Disposition  string
	DurationSecs int
	BilledSecs   int
	RateMicros   int64
	ChargeMicros int64
	CallID       string
}

// CDR directions and dispositions, as stored.
var (
	CDRDirections   = []string{"inbound", "outbound"}
	CDRDispositions = []string{"answered", "no_answer", "busy", "failed"}
)

// CDRFilter selects call records. From and To are UTC midnights (To is
// exclusive), so whole days can be answered from the daily rollup.
type CDRFilter struct {
	From, To    time.Time
	Direction   string
	Disposition string
	// Digits matches any part of the calling or called number.
	Digits string
}

// wholeDays reports whether the date range falls on UTC day boundaries.
func (f CDRFilter) wholeDays() bool {
	day := func(t time.Time) bool { return t.Equal(t.UTC().Truncate(24 * time.Hour)) }
	return day(f.From) && day(f.To)
}

// CDRCursor is a position in the newest-first order of an account's calls.
type CDRCursor struct {
	StartedAt time.Time
	ID        int64
}

// String encodes the cursor for a URL: microseconds and id.
func (c CDRCursor) String() string {
	return strconv.FormatInt(c.StartedAt.UnixMicro(), 10) + "-" + strconv.FormatInt(c.ID, 10)
}

// ParseCDRCursor reads a cursor from a URL; anything malformed is refused.
func ParseCDRCursor(s string) (CDRCursor, bool) {
	t, id, ok := strings.Cut(s, "-")
	if !ok || t == "" || id == "" || len(t) > 19 || len(id) > 19 {
		return CDRCursor{}, false
	}
	for _, part := range []string{t, id} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return CDRCursor{}, false
			}
		}
	}
	us, err1 := strconv.ParseInt(t, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 || us > 253402300799999999 {
		return CDRCursor{}, false
	}
	return CDRCursor{StartedAt: time.UnixMicro(us).UTC(), ID: n}, true
}

// CDRPage is one page of calls, newest first. Newer and Older are cursors
// for the pages around it (nil at either end).
type CDRPage struct {
	Items        []CDR
	Newer, Older *CDRCursor
}

// CDRTotals sums the calls of a filter.
type CDRTotals struct {
	Calls        int64
	Answered     int64
	DurationSecs int64
	BilledSecs   int64
	ChargeMicros int64
}

const cdrCols = `id, started_at, direction, from_number, to_number, disposition, duration_secs, billed_secs, rate_micros, charge_micros, call_id`

func scanCDR(row pgx.Row) (CDR, error) {
	var c CDR
	err := row.Scan(&c.ID, &c.StartedAt, &c.Direction, &c.From, &c.To, &c.Disposition, &c.DurationSecs, &c.BilledSecs,
		&c.RateMicros, &c.ChargeMicros, &c.CallID)
	return c, err
}

// cdrWhere is the filter shared by pages, totals and exports; $1..$6 are
// account, from, to, direction, disposition and the number pattern.
const cdrWhere = `account_id = $1 AND started_at >= $2 AND started_at < $3
	AND ($4 = '' OR direction = $4) AND ($5 = '' OR disposition = $5)
	AND ($6 = '' OR from_number LIKE $6 OR to_number LIKE $6)`

func cdrArgs(accountID int64, f CDRFilter) []any {
	pattern := ""
	if f.Digits != "" {
		pattern = "%" + likeEscape(f.Digits) + "%"
	}
	return []any{accountID, f.From, f.To, f.Direction, f.Disposition, pattern}
}

// cdrPageQuery is the statement of one page of the filtered calls, newest
// first, walking the (account_id, started_at DESC, id DESC) index from a
// cursor: the cost of a page does not grow with how deep into millions of
// rows it is. It reads one row more than the page, to know whether another
// follows; backward says the rows come oldest first.
func cdrPageQuery(accountID int64, f CDRFilter, older, newer *CDRCursor, limit int) (sql string, args []any, backward bool) {
	args = cdrArgs(accountID, f)
	sql = `SELECT ` + cdrCols + ` FROM cdrs WHERE ` + cdrWhere
	backward = newer != nil && older == nil
	switch {
	case backward:
		sql += ` AND (started_at, id) > ($7, $8) ORDER BY started_at, id LIMIT $9`
		args = append(args, newer.StartedAt, newer.ID, limit+1)
	case older != nil:
		sql += ` AND (started_at, id) < ($7, $8) ORDER BY started_at DESC, id DESC LIMIT $9`
		args = append(args, older.StartedAt, older.ID, limit+1)
	default:
		sql += ` ORDER BY started_at DESC, id DESC LIMIT $7`
		args = append(args, limit+1)
	}
	return sql, args, backward
}

// cdrPage makes a page of the rows cdrPageQuery read, with the cursors
// around it.
func cdrPage(items []CDR, limit int, older *CDRCursor, backward bool) *CDRPage {
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	if backward {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	page := &CDRPage{Items: items}
	if n := len(items); n > 0 {
		first := &CDRCursor{StartedAt: items[0].StartedAt, ID: items[0].ID}
		last := &CDRCursor{StartedAt: items[n-1].StartedAt, ID: items[n-1].ID}
		switch {
		case backward:
			page.Older = last
			if more {
				page.Newer = first
			}
		default:
			if more {
				page.Older = last
			}
			if older != nil {
				page.Newer = first
			}
		}
	}
	return page
}

func cdrLimit(limit int) int {
	if limit <= 0 || limit > 500 {
		return 50
	}
	return limit
}

// cdrTotalsQuery is the statement that sums the filtered calls. Filters of
// whole days without a number are answered from the daily rollup, whatever
// the number of calls.
func cdrTotalsQuery(accountID int64, f CDRFilter) (string, []any) {
	if f.Digits == "" && f.wholeDays() {
		return `SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE disposition = 'answered'), 0),
			coalesce(sum(duration_secs), 0), coalesce(sum(billed_secs), 0), coalesce(sum(charge_micros), 0)
			FROM cdr_daily WHERE account_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date
			AND ($4 = '' OR direction = $4) AND ($5 = '' OR disposition = $5)`,
			[]any{accountID, f.From, f.To, f.Direction, f.Disposition}
	}
	return `SELECT count(*), count(*) FILTER (WHERE disposition = 'answered'),
			coalesce(sum(duration_secs), 0), coalesce(sum(billed_secs), 0), coalesce(sum(charge_micros), 0)
			FROM cdrs WHERE ` + cdrWhere, cdrArgs(accountID, f)
}

func (t *CDRTotals) scan(row pgx.Row) error {
	return row.Scan(&t.Calls, &t.Answered, &t.DurationSecs, &t.BilledSecs, &t.ChargeMicros)
}

// CDRReport reads one page of the filtered calls, newest first, and the
// totals of the whole filter, in one round trip.
func (db *DB) CDRReport(ctx context.Context, accountID int64, f CDRFilter, older, newer *CDRCursor, limit int) (*CDRPage, CDRTotals, error) {
	limit = cdrLimit(limit)
	var items []CDR
	var t CDRTotals
	b := &pgx.Batch{}
	sql, args, backward := cdrPageQuery(accountID, f, older, newer, limit)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
		items, err = scanAll(rows, scanCDR)
		return err
	})
	sql, args = cdrTotalsQuery(accountID, f)
	b.Queue(sql, args...).QueryRow(t.scan)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, CDRTotals{}, mapErr(err, "cdr report")
	}
	return cdrPage(items, limit, older, backward), t, nil
}

// StreamCDRs calls fn for every filtered call, newest first, reading rows
// from the database as fn consumes them: an export of millions of calls
// never sits in memory. fn must not keep c.
func (db *DB) StreamCDRs(ctx context.Context, accountID int64, f CDRFilter, fn func(c *CDR) error) error {
	rows, err := db.Pool.Query(ctx, `SELECT `+cdrCols+` FROM cdrs WHERE `+cdrWhere+` ORDER BY started_at DESC, id DESC`, cdrArgs(accountID, f)...)
	if err != nil {
		return mapErr(err, "export cdrs")
	}
	defer rows.Close()
	var c CDR
	for rows.Next() {
		if err := rows.Scan(&c.ID, &c.StartedAt, &c.Direction, &c.From, &c.To, &c.Disposition, &c.DurationSecs, &c.BilledSecs,
			&c.RateMicros, &c.ChargeMicros, &c.CallID); err != nil {
			return mapErr(err, "export cdrs")
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	return mapErr(rows.Err(), "export cdrs")
}

// ValidCDRDirection reports whether s is a direction filter ("" for any).
func ValidCDRDirection(s string) bool { return s == "" || slices.Contains(CDRDirections, s) }

// ValidCDRDisposition reports whether s is a disposition filter ("" for any).
func ValidCDRDisposition(s string) bool { return s == "" || slices.Contains(CDRDispositions, s) }
