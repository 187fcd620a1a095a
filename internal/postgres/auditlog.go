package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditFilter narrows the audit log of a scope. Pages are keyset-based on
// the event id, newest first.
type AuditFilter struct {
	// UserID keeps events the user did, or that were done to the user.
	UserID int64
	// Prefixes keeps actions starting with any of these ("user.", "auth.").
	Prefixes []string
	// From and To bound the time (To exclusive); zero means open.
	From, To time.Time
	// Before keeps events older than this id; After newer ones. At most one
	// is set.
	Before, After int64
	Limit         int
}

// AuditEntry is one event as the audit log page shows it.
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorName  string
	ActorEmail string
	// ActorStaff marks carrier staff, whose names customers do not see.
	ActorStaff bool
	TechPrefix string
	Action     string
	Target     string
	Outcome    string
	IP         string
	RequestID  string
	Details    map[string]any
}

// auditQuery builds the scope's audit query: events on the scope's
// accounts, and the sign-ins (which carry no account) of its members. newest
// orders newest first; limit 0 means no limit.
func auditQuery(scope *UserScope, f AuditFilter, newest bool, limit int) (string, []any) {
	args := []any{scope.IDs()}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var b strings.Builder
	b.WriteString(`SELECT e.id, e.at, coalesce(u.full_name, ''), coalesce(u.email, ''), e.actor_staff_id IS NOT NULL,
		coalesce(a.tech_prefix, ''), e.action, e.target, e.outcome, e.ip, e.request_id, e.details
		FROM audit_events e
		LEFT JOIN users u ON u.id = e.actor_user_id
		LEFT JOIN accounts a ON a.id = e.account_id
		WHERE (e.account_id = ANY($1) OR (e.account_id IS NULL AND e.action LIKE 'auth.%'
			AND e.actor_user_id IN (SELECT m.user_id FROM memberships m WHERE m.account_id = ANY($1))))`)
	if f.UserID != 0 {
		p := arg(f.UserID)
		b.WriteString(` AND (e.actor_user_id = ` + p + ` OR e.details->>'user_id' = ` + p + `::text)`)
	}
	if len(f.Prefixes) > 0 {
		likes := make([]string, len(f.Prefixes))
		for i, p := range f.Prefixes {
			likes[i] = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p) + "%"
		}
		b.WriteString(` AND e.action LIKE ANY(` + arg(likes) + `)`)
	}
	if !f.From.IsZero() {
		b.WriteString(` AND e.at >= ` + arg(f.From))
	}
	if !f.To.IsZero() {
		b.WriteString(` AND e.at < ` + arg(f.To))
	}
	if f.Before != 0 {
		b.WriteString(` AND e.id < ` + arg(f.Before))
	}
	if f.After != 0 {
		b.WriteString(` AND e.id > ` + arg(f.After))
	}
	if newest {
		b.WriteString(` ORDER BY e.id DESC`)
	} else {
		b.WriteString(` ORDER BY e.id ASC`)
	}
	if limit > 0 {
		b.WriteString(` LIMIT ` + arg(limit))
	}
	return b.String(), args
}

func scanAuditEntry(row pgx.Row) (AuditEntry, error) {
	var e AuditEntry
	err := row.Scan(&e.ID, &e.At, &e.ActorName, &e.ActorEmail, &e.ActorStaff, &e.TechPrefix, &e.Action, &e.Target,
		&e.Outcome, &e.IP, &e.RequestID, &e.Details)
	if e.ActorStaff {
		e.ActorName, e.ActorEmail = "", ""
	}
	return e, err
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []AuditEntry
	// Older and Newer are the ids to page on with, zero at either end.
	Older, Newer int64
}

// AuditLog returns one page of the scope's audit log, newest first.
func (db *DB) AuditLog(ctx context.Context, scope *UserScope, f AuditFilter) (*AuditPage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	backwards := f.After != 0
	sql, args := auditQuery(scope, f, !backwards, f.Limit+1)
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapErr(err, "audit log")
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) { return scanAuditEntry(row) })
	if err != nil {
		return nil, mapErr(err, "audit log")
	}
	more := len(entries) > f.Limit
	if more {
		entries = entries[:f.Limit]
	}
	if backwards {
		for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
			entries[i], entries[j] = entries[j], entries[i]
		}
	}
	p := &AuditPage{Entries: entries}
	if len(entries) == 0 {
		return p, nil
	}
	first, last := entries[0].ID, entries[len(entries)-1].ID
	// The extra row tells whether more lie in the paging direction; the
	// other side is probed.
	olderExists, newerExists := more, false
	if backwards {
		newerExists = more
		olderExists, err = db.auditExists(ctx, scope, f, AuditFilter{Before: last})
	} else if f.Before != 0 {
		newerExists, err = db.auditExists(ctx, scope, f, AuditFilter{After: first})
	}
	if err != nil {
		return nil, err
	}
	if olderExists {
		p.Older = last
	}
	if newerExists {
		p.Newer = first
	}
	return p, nil
}

// auditExists probes for one more event beyond a page edge.
func (db *DB) auditExists(ctx context.Context, scope *UserScope, f, edge AuditFilter) (bool, error) {
	f.Before, f.After = edge.Before, edge.After
	sql, args := auditQuery(scope, f, true, 1)
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return false, mapErr(err, "audit probe")
	}
	defer rows.Close()
	found := rows.Next()
	return found, mapErr(rows.Err(), "audit probe")
}

// AuditExport streams every event of the filter, newest first, to fn.
func (db *DB) AuditExport(ctx context.Context, scope *UserScope, f AuditFilter, fn func(AuditEntry) error) error {
	f.Before, f.After = 0, 0
	sql, args := auditQuery(scope, f, true, 0)
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return mapErr(err, "audit export")
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return mapErr(err, "audit export")
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return mapErr(rows.Err(), "audit export")
}
