package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// RecordStaffLogin notes a staff sign-in.
func (db *DB) RecordStaffLogin(ctx context.Context, actor portal.Actor, staffID int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET last_login_at = now() WHERE id = $1`, staffID); err != nil {
			return mapErr(err, "record staff login")
		}
		actor.StaffID = staffID
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "staff.login"})
	})
}

// QueueFilter selects rows of the staff review queue; empty fields match
// everything.
type QueueFilter struct {
	Status  string
	Feature string
	Limit   int
	Offset  int
}

// QueueRow is one feature request in the review queue, with its account.
type QueueRow struct {
	FeatureRequest
	TechPrefix       string
	Company          string
	Alias            string
	AccountStatus    string
	AccountCreatedAt time.Time
}

// FeatureQueue lists feature requests for review: pending first, oldest
// first. It returns the page of rows and the number of rows in all pages.
func (db *DB) FeatureQueue(ctx context.Context, f QueueFilter) ([]QueueRow, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+requestColumns+`,
			a.tech_prefix, a.company_name, a.company_alias, a.status, a.created_at, count(*) OVER ()
		`+requestJoins+`
		JOIN accounts a ON a.id = r.account_id
		WHERE ($1 = '' OR r.status = $1) AND ($2 = '' OR r.feature = $2)
		ORDER BY (r.status = 'pending') DESC, r.requested_at, r.id
		LIMIT $3 OFFSET $4`, f.Status, f.Feature, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, mapErr(err, "feature queue")
	}
	defer rows.Close()
	var out []QueueRow
	total := 0
	for rows.Next() {
		var q QueueRow
		if err := scanRequest(rows, &q.FeatureRequest, &q.TechPrefix, &q.Company, &q.Alias, &q.AccountStatus,
			&q.AccountCreatedAt, &total); err != nil {
			return nil, 0, mapErr(err, "scan queue row")
		}
		out = append(out, q)
	}
	return out, total, mapErr(rows.Err(), "feature queue")
}

// PendingRequestCount counts requests waiting for review.
func (db *DB) PendingRequestCount(ctx context.Context) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM feature_requests WHERE status = 'pending'`).Scan(&n)
	return n, mapErr(err, "pending requests")
}

// StaffAccountRow is an account as the staff lookup lists it.
type StaffAccountRow struct {
	ID            int64
	TechPrefix    string
	Company       string
	Alias         string
	ContactEmail  string
	Status        string
	CreatedAt     time.Time
	ParentPrefix  string
	ParentCompany string
}

const staffAccountColumns = `a.id, a.tech_prefix, a.company_name, a.company_alias, a.contact_email, a.status, a.created_at,
	coalesce(p.tech_prefix, ''), coalesce(p.company_name, '')`

func collectStaffAccounts(rows pgx.Rows, what string) ([]StaffAccountRow, error) {
	defer rows.Close()
	var out []StaffAccountRow
	for rows.Next() {
		var a StaffAccountRow
		if err := rows.Scan(&a.ID, &a.TechPrefix, &a.Company, &a.Alias, &a.ContactEmail, &a.Status, &a.CreatedAt,
			&a.ParentPrefix, &a.ParentCompany); err != nil {
			return nil, mapErr(err, what)
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err(), what)
}

// FindAccounts looks accounts up for staff by tech prefix (a leading part
// of it), company name or alias (any part), or email address (the contact
// address or a user's login, whole).
func (db *DB) FindAccounts(ctx context.Context, q string, limit int) ([]StaffAccountRow, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	digits := ""
	if strings.Trim(q, "0123456789") == "" && len(q) <= 8 {
		digits = q
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+staffAccountColumns+`
		FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_id
		WHERE ($1 <> '' AND a.tech_prefix LIKE $1 || '%')
		   OR lower(a.company_name) LIKE '%' || $2 || '%'
		   OR lower(a.company_alias) LIKE '%' || $2 || '%'
		   OR lower(a.contact_email) = $3
		   OR a.id IN (SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE lower(u.email) = $3)
		ORDER BY (a.tech_prefix = $1) DESC, lower(a.company_name), a.id
		LIMIT $4`, digits, likeEscape(strings.ToLower(q)), strings.ToLower(q), limit)
	if err != nil {
		return nil, mapErr(err, "find accounts")
	}
	return collectStaffAccounts(rows, "find accounts")
}

// StaffMember is a user with a role on an account, as staff see it.
type StaffMember struct {
	Name      string
	Email     string
	Role      string
	Via       string // the tech prefix the role comes from when inherited
	Verified  bool
	Revoked   bool
	LastLogin *time.Time
}

// AuditRow is one audit event as staff see it.
type AuditRow struct {
	At      time.Time
	Actor   string
	IsStaff bool
	Action  string
	Target  string
	Outcome string
	IP      string
	Details string
}

// StaffAccountView is everything the staff account page shows.
type StaffAccountView struct {
	Account  StaffAccountRow
	Family   []StaffAccountRow
	Features *FamilyFeatures
	Requests []FeatureRequest
	Members  []StaffMember
	Events   []AuditRow
}

// StaffAccount loads one account for the read-only staff view: details,
// family, features and request history of the family, users and the most
// recent audit events.
func (db *DB) StaffAccount(ctx context.Context, techPrefix string) (*StaffAccountView, error) {
	if !portal.ValidTechPrefix(techPrefix) {
		return nil, portal.ErrNotFound
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+staffAccountColumns+`
		FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_id WHERE a.tech_prefix = $1`, techPrefix)
	if err != nil {
		return nil, mapErr(err, "staff account")
	}
	found, err := collectStaffAccounts(rows, "staff account")
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, portal.ErrNotFound
	}
	v := &StaffAccountView{Account: found[0]}
	var rootID int64
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(parent_id, id) FROM accounts WHERE id = $1`, v.Account.ID).Scan(&rootID); err != nil {
		return nil, mapErr(err, "staff account root")
	}
	if rows, err = db.Pool.Query(ctx, `SELECT `+staffAccountColumns+`
		FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_id
		WHERE a.id = $1 OR a.parent_id = $1 ORDER BY a.parent_id NULLS FIRST, lower(a.company_name), a.id`, rootID); err != nil {
		return nil, mapErr(err, "staff family")
	}
	if v.Family, err = collectStaffAccounts(rows, "staff family"); err != nil {
		return nil, err
	}
	if v.Features, err = db.FamilyFeatures(ctx, rootID); err != nil {
		return nil, err
	}
	if v.Requests, err = db.familyRequests(ctx, rootID); err != nil {
		return nil, err
	}
	if v.Members, err = db.staffMembers(ctx, v.Account.ID, rootID); err != nil {
		return nil, err
	}
	if v.Events, err = db.recentEvents(ctx, v.Account.ID, 50); err != nil {
		return nil, err
	}
	return v, nil
}

func (db *DB) familyRequests(ctx context.Context, rootID int64) ([]FeatureRequest, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+requestColumns+` `+requestJoins+`
		WHERE r.account_id = $1 ORDER BY r.requested_at DESC, r.id DESC LIMIT 50`, rootID)
	if err != nil {
		return nil, mapErr(err, "family requests")
	}
	defer rows.Close()
	var out []FeatureRequest
	for rows.Next() {
		var fr FeatureRequest
		if err := scanRequest(rows, &fr); err != nil {
			return nil, mapErr(err, "scan request")
		}
		out = append(out, fr)
	}
	return out, mapErr(rows.Err(), "family requests")
}

// staffMembers lists the users with a role on the account: their own
// memberships, and the root's Principals, who are Principals of every
// sub-account.
func (db *DB) staffMembers(ctx context.Context, accountID, rootID int64) ([]StaffMember, error) {
	rows, err := db.Pool.Query(ctx, `SELECT u.full_name, u.email, m.role, CASE WHEN m.account_id = $1 THEN '' ELSE a.tech_prefix END,
			u.email_verified_at IS NOT NULL,
			EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = u.id AND r.root_id = $2), u.last_login_at
		FROM memberships m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = m.account_id
		WHERE m.account_id = $1 OR (m.account_id = $2 AND $2 <> $1 AND m.role = 'principal')
		ORDER BY CASE m.role WHEN 'principal' THEN 0 WHEN 'power' THEN 1 ELSE 2 END, lower(u.email)`, accountID, rootID)
	if err != nil {
		return nil, mapErr(err, "staff members")
	}
	defer rows.Close()
	var out []StaffMember
	for rows.Next() {
		var m StaffMember
		if err := rows.Scan(&m.Name, &m.Email, &m.Role, &m.Via, &m.Verified, &m.Revoked, &m.LastLogin); err != nil {
			return nil, mapErr(err, "scan member")
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), "staff members")
}

// recentEvents returns the newest audit events of an account.
func (db *DB) recentEvents(ctx context.Context, accountID int64, limit int) ([]AuditRow, error) {
	rows, err := db.Pool.Query(ctx, `SELECT e.at, coalesce(u.email, s.email, ''), e.actor_staff_id IS NOT NULL,
			e.action, e.target, e.outcome, e.ip, e.details::text
		FROM audit_events e
		LEFT JOIN users u ON u.id = e.actor_user_id
		LEFT JOIN staff_users s ON s.id = e.actor_staff_id
		WHERE e.account_id = $1 ORDER BY e.id DESC LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, mapErr(err, "recent events")
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		var e AuditRow
		if err := rows.Scan(&e.At, &e.Actor, &e.IsStaff, &e.Action, &e.Target, &e.Outcome, &e.IP, &e.Details); err != nil {
			return nil, mapErr(err, "scan event")
		}
		if e.Details == "{}" {
			e.Details = ""
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err(), "recent events")
}
