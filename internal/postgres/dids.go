package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// DID is a phone number held by an account.
type DID struct {
	ID            int64
	Number        string
	Label         string
	RouteID       *int64
	RouteName     string
	MonthlyMicros int64
	AcquiredAt    time.Time
}

// DIDQuery selects a page of an account's numbers, ordered by number.
type DIDQuery struct {
	// Search matches a part of the number (digits, however written) or of
	// the label.
	Search string
	// After and Before are keyset cursors: the last number of the previous
	// page, or the first number of the next one.
	After, Before string
	Limit         int
}

// DIDPage is one page of numbers; Next and Prev are cursors for the pages
// around it ("" at either end).
type DIDPage struct {
	Items      []DID
	Total      int
	Next, Prev string
}

const didCols = `d.id, d.number, d.label, d.route_id, coalesce(r.name, ''), d.monthly_micros, d.acquired_at`

func scanDID(row pgx.Row) (DID, error) {
	var d DID
	err := row.Scan(&d.ID, &d.Number, &d.Label, &d.RouteID, &d.RouteName, &d.MonthlyMicros, &d.AcquiredAt)
	return d, err
}

// likeEscape makes user text literal inside a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// didFilter is the WHERE clause shared by the page and its count: $1 the
// account, $2 the label pattern, $3 the digits pattern ("" for none).
const didFilter = `d.account_id = $1 AND d.released_at IS NULL
	AND ($2 = '' OR d.label ILIKE $2 ESCAPE '\' OR ($3 <> '' AND d.number LIKE $3))`

// DIDs returns a page of the account's numbers.
func (db *DB) DIDs(ctx context.Context, accountID int64, q DIDQuery) (*DIDPage, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	label, digits := "", ""
	if s := strings.TrimSpace(q.Search); s != "" {
		label = "%" + likeEscape(s) + "%"
		if d, ok := portal.PhoneSearch(s); ok {
			digits = "%" + d + "%"
		}
	}
	backward := q.Before != "" && q.After == ""
	sql := `SELECT ` + didCols + ` FROM dids d LEFT JOIN inbound_routes r ON r.account_id = d.account_id AND r.id = d.route_id
		WHERE ` + didFilter
	args := []any{accountID, label, digits}
	switch {
	case backward:
		sql += ` AND d.number < $4 ORDER BY d.number DESC LIMIT $5`
		args = append(args, q.Before, q.Limit+1)
	default:
		sql += ` AND d.number > $4 ORDER BY d.number LIMIT $5`
		args = append(args, q.After, q.Limit+1)
	}
	page := &DIDPage{}
	b := &pgx.Batch{}
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
		page.Items, err = scanAll(rows, scanDID)
		return err
	})
	b.Queue(`SELECT count(*) FROM dids d WHERE `+didFilter, accountID, label, digits).QueryRow(func(row pgx.Row) error {
		return row.Scan(&page.Total)
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "dids")
	}
	more := len(page.Items) > q.Limit
	if more {
		page.Items = page.Items[:q.Limit]
	}
	if backward {
		for i, j := 0, len(page.Items)-1; i < j; i, j = i+1, j-1 {
			page.Items[i], page.Items[j] = page.Items[j], page.Items[i]
		}
	}
	// Going backward there is always a next page (we came from it); going
	// forward there is a previous one unless this is the first page.
	if n := len(page.Items); n > 0 {
		first, last := page.Items[0].Number, page.Items[n-1].Number
		switch {
		case backward:
			page.Next = last
			if more {
				page.Prev = first
			}
		default:
			if more {
				page.Next = last
			}
			if q.After != "" {
				page.Prev = first
			}
		}
	}
	return page, nil
}

// DID returns one number of the account.
func (db *DB) DID(ctx context.Context, accountID int64, number string) (*DID, error) {
	d, err := scanDID(db.Pool.QueryRow(ctx, `SELECT `+didCols+` FROM dids d
		LEFT JOIN inbound_routes r ON r.account_id = d.account_id AND r.id = d.route_id
		WHERE d.account_id = $1 AND d.number = $2 AND d.released_at IS NULL`, accountID, number))
	if err != nil {
		return nil, mapErr(err, "did")
	}
	return &d, nil
}

// UpdateDID sets a number's label and route. The route must be one of the
// account's own: anything else is reported as not found.
func (db *DB) UpdateDID(ctx context.Context, actor portal.Actor, accountID int64, number, label string, routeID *int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		var oldLabel string
		var oldRoute *int64
		err := tx.QueryRow(ctx, `SELECT id, label, route_id FROM dids WHERE account_id = $1 AND number = $2 AND released_at IS NULL FOR UPDATE`,
			accountID, number).Scan(&id, &oldLabel, &oldRoute)
		if err != nil {
			return mapErr(err, "did")
		}
		if routeID != nil {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbound_routes WHERE account_id = $1 AND id = $2)`, accountID, *routeID).Scan(&ok); err != nil {
				return mapErr(err, "route check")
			}
			if !ok {
				return portal.ErrNotFound
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE dids SET label = $3, route_id = $4, updated_at = now() WHERE account_id = $1 AND id = $2`,
			accountID, id, label, routeID); err != nil {
			return mapErr(err, "update did")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "did.updated", AccountID: accountID, Target: "did:" + number,
			Details: map[string]any{"label": label, "old_label": oldLabel, "route_id": routeID, "old_route_id": oldRoute}})
	})
}

// ReleaseDID gives a number back to the carrier: it leaves the account's
// list at once; its call records stay.
func (db *DB) ReleaseDID(ctx context.Context, actor portal.Actor, accountID int64, number string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var label string
		err := tx.QueryRow(ctx, `UPDATE dids SET released_at = now(), route_id = NULL, updated_at = now()
			WHERE account_id = $1 AND number = $2 AND released_at IS NULL RETURNING label`, accountID, number).Scan(&label)
		if err != nil {
			return mapErr(err, "release did")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "did.released", AccountID: accountID, Target: "did:" + number,
			Details: map[string]any{"label": label}})
	})
}

// scanAll reads every row of rows with scan.
func scanAll[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// lockAccountTx serializes writes of one kind on one account until tx ends,
// so a count-then-insert limit holds under concurrent requests.
func lockAccountTx(ctx context.Context, tx pgx.Tx, kind string, accountID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, kind, accountID)
	return mapErr(err, "lock "+kind)
}

// checkLimitTx fails with a conflict when the account already has max rows
// in table. table is one of our constant names, never user input.
func checkLimitTx(ctx context.Context, tx pgx.Tx, table, what string, accountID int64, max int) error {
	if err := lockAccountTx(ctx, tx, table, accountID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE account_id = $1`, accountID).Scan(&n); err != nil {
		return mapErr(err, "count "+table)
	}
	if n >= max {
		return portal.Errorf(portal.ECONFLICT, "An account can have at most %d %s.", max, what)
	}
	return nil
}

// sPlural is the plural ending for a count.
func sPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
