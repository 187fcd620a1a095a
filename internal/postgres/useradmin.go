package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// UserScope is the set of accounts a Principal manages from one account
// page: the whole family from its root, only the sub-account itself from a
// sub-account.
type UserScope struct {
	RootID      int64
	RootCompany string
	// AccountID is the managing account: the one in the URL.
	AccountID int64
	Accounts  []ScopeAccount
	// pos maps account ids to their index in Accounts, once needed.
	pos map[int64]int
}

// positions maps the scope's account ids to their index in Accounts.
func (s *UserScope) positions() map[int64]int {
	if len(s.pos) != len(s.Accounts) {
		s.pos = make(map[int64]int, len(s.Accounts))
		for i, a := range s.Accounts {
			s.pos[a.ID] = i
		}
	}
	return s.pos
}

// ScopeAccount is one account of a UserScope.
type ScopeAccount struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	Status       string
	IsRoot       bool
}

// IDs lists the ids of the scope's accounts.
func (s *UserScope) IDs() []int64 {
	ids := make([]int64, len(s.Accounts))
	for i, a := range s.Accounts {
		ids[i] = a.ID
	}
	return ids
}

// Account returns the scope's account with this id.
func (s *UserScope) Account(id int64) (ScopeAccount, bool) {
	for _, a := range s.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return ScopeAccount{}, false
}

// ByPrefix returns the scope's account with this tech prefix.
func (s *UserScope) ByPrefix(prefix string) (ScopeAccount, bool) {
	for _, a := range s.Accounts {
		if a.TechPrefix == prefix {
			return a, true
		}
	}
	return ScopeAccount{}, false
}

// ManagedScope returns the accounts managed from acct. A Principal of a
// root manages the family; a Principal of a sub-account only that account.
func (db *DB) ManagedScope(ctx context.Context, acct portal.Account) (*UserScope, error) {
	s := &UserScope{RootID: acct.RootID(), AccountID: acct.ID}
	rows, err := db.Pool.Query(ctx, `SELECT id, tech_prefix, company_name, company_alias, status, parent_id IS NULL
		FROM accounts WHERE (id = $1 OR ($2 AND parent_id = $1)) AND status <> 'closed'
		ORDER BY parent_id NULLS FIRST, lower(company_name), id`, acct.ID, acct.ParentID == nil)
	if err != nil {
		return nil, mapErr(err, "managed scope")
	}
	s.Accounts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ScopeAccount, error) {
		var a ScopeAccount
		err := row.Scan(&a.ID, &a.TechPrefix, &a.CompanyName, &a.CompanyAlias, &a.Status, &a.IsRoot)
		return a, err
	})
	if err != nil {
		return nil, mapErr(err, "managed scope")
	}
	if len(s.Accounts) == 0 {
		return nil, portal.ErrNotFound
	}
	if err := db.Pool.QueryRow(ctx, `SELECT company_name FROM accounts WHERE id = $1`, s.RootID).Scan(&s.RootCompany); err != nil {
		return nil, mapErr(err, "managed scope root")
	}
	return s, nil
}

// AccountRole is a user's role on one account.
type AccountRole struct {
	AccountID   int64
	TechPrefix  string
	CompanyName string
	Role        portal.Role
}

// Statuses of a row of User Management.
const (
	UserActive    = "active"
	UserRevoked   = "revoked"
	InvitePending = "pending"
	InviteExpired = "expired"
)

// ManagedUser is one row of User Management: a user with roles in the
// scope, or a pending invitation (InvitationID set, UserID zero).
type ManagedUser struct {
	UserID       int64
	InvitationID int64
	Name         string
	Email        string
	Status       string
	// Roles are the roles within the scope, in the scope's order.
	Roles       []AccountRole
	LastLoginAt *time.Time
	InvitedBy   string
	SentAt      *time.Time
	ExpiresAt   *time.Time
	// Manageable is false when the user (or the invitation) also reaches
	// accounts of the family outside the scope: revoking, resending or
	// cancelling is then for a Principal of the family root.
	Manageable bool
}

// TopRole is the highest role the row holds or would grant.
func (u *ManagedUser) TopRole() portal.Role {
	var top portal.Role
	for _, r := range u.Roles {
		top = max(top, r.Role)
	}
	return top
}

// TypeLabel is the user type the page shows: Revoked, or the highest role.
func (u *ManagedUser) TypeLabel() string {
	if u.Status == UserRevoked {
		return "Revoked"
	}
	return u.TopRole().Label()
}

// UserFilter narrows the User Management list.
type UserFilter struct {
	// Query matches name or email, case-insensitively.
	Query string
	// Type is principal, power, general, revoked or invited; "" for all.
	Type string
	// AccountID keeps rows with a role on this account of the scope.
	AccountID int64
	// UserID keeps one user (for the user's own page).
	UserID int64
	Limit  int
	Offset int
}

// inScopeSQL says whether account s is in the scope managed from account
// $1 ($9: $1 is a root, which manages its whole family), as ManagedScope
// lists it. A scope is described by its account rather than passed as a
// list of its ids: for a family of ten thousand accounts a list made the
// planner spend tens of milliseconds on every call, and its generic plan
// over a second.
const inScopeSQL = `(s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed'`

// managedUsersSQL lists the scope's users and pending invitations in one
// pass, so filters and pagination apply to both. $1 the managing account,
// $2 family root, $9 whether $1 is the root.
const managedUsersSQL = `
WITH mem AS (
    SELECT u.id AS user_id, 0::bigint AS invitation_id, u.full_name, u.email, u.last_login_at,
           EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = u.id AND r.root_id = $2) AS revoked,
           NULL::timestamptz AS sent_at, NULL::timestamptz AS expires_at, ''::text AS invited_by,
           array_agg(m.account_id ORDER BY m.account_id) AS account_ids,
           array_agg(m.role ORDER BY m.account_id) AS roles,
           NOT EXISTS (SELECT 1 FROM memberships o JOIN accounts oa ON oa.id = o.account_id
                       WHERE o.user_id = u.id AND coalesce(oa.parent_id, oa.id) = $2
                         AND NOT EXISTS (SELECT 1 FROM accounts s WHERE s.id = o.account_id AND ` + inScopeSQL + `)) AS manageable
    FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE EXISTS (SELECT 1 FROM accounts s WHERE s.id = m.account_id AND ` + inScopeSQL + `) AND ($7::bigint = 0 OR u.id = $7::bigint)
    GROUP BY u.id
), inv AS (
    SELECT 0::bigint, i.id, i.full_name, i.email, NULL::timestamptz, false, i.sent_at, i.expires_at, iu.full_name,
           array_agg(ir.account_id ORDER BY ir.account_id), array_agg(ir.role ORDER BY ir.account_id),
           NOT EXISTS (SELECT 1 FROM invitation_roles x WHERE x.invitation_id = i.id AND NOT EXISTS (SELECT 1 FROM accounts s WHERE s.id = x.account_id AND ` + inScopeSQL + `))
    FROM invitations i
    JOIN invitation_roles ir ON ir.invitation_id = i.id AND EXISTS (SELECT 1 FROM accounts s WHERE s.id = ir.account_id AND ` + inScopeSQL + `)
    JOIN users iu ON iu.id = i.invited_by
    WHERE i.status = 'pending' AND $7::bigint = 0
    GROUP BY i.id, iu.full_name
), rows AS (
    SELECT x.*,
           CASE WHEN x.revoked THEN 'revoked'
                WHEN x.invitation_id <> 0 AND x.expires_at <= now() THEN 'expired'
                WHEN x.invitation_id <> 0 THEN 'pending'
                ELSE 'active' END AS status,
           (SELECT max(CASE r WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END) FROM unnest(x.roles) r) AS top
    FROM (SELECT * FROM mem UNION ALL SELECT * FROM inv) x
)
SELECT user_id, invitation_id, full_name, email, last_login_at, sent_at, expires_at, invited_by,
       account_ids, roles, manageable, status, count(*) OVER ()
FROM rows
WHERE ($3::text = '' OR strpos(lower(full_name), lower($3)) > 0 OR strpos(lower(email), lower($3)) > 0)
  AND ($4::bigint = 0 OR $4::bigint = ANY(account_ids))
  AND CASE $5::text
      WHEN '' THEN true
      WHEN 'revoked' THEN status = 'revoked'
      WHEN 'invited' THEN invitation_id <> 0
      WHEN 'principal' THEN status <> 'revoked' AND top = 3
      WHEN 'power' THEN status <> 'revoked' AND top = 2
      WHEN 'general' THEN status <> 'revoked' AND top = 1
      ELSE false END
ORDER BY lower(full_name), lower(email), invitation_id
LIMIT $6 OFFSET $8`

// ManagedUsers lists the users and pending invitations of the scope, and
// how many match in all.
func (db *DB) ManagedUsers(ctx context.Context, scope *UserScope, f UserFilter) ([]ManagedUser, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Pool.Query(ctx, managedUsersSQL, scope.AccountID, scope.RootID, f.Query, f.AccountID, f.Type, f.Limit, f.UserID, f.Offset,
		scope.AccountID == scope.RootID)
	if err != nil {
		return nil, 0, mapErr(err, "managed users")
	}
	defer rows.Close()
	var out []ManagedUser
	total := 0
	for rows.Next() {
		var u ManagedUser
		var ids []int64
		var roles []string
		if err := rows.Scan(&u.UserID, &u.InvitationID, &u.Name, &u.Email, &u.LastLoginAt, &u.SentAt, &u.ExpiresAt,
			&u.InvitedBy, &ids, &roles, &u.Manageable, &u.Status, &total); err != nil {
			return nil, 0, mapErr(err, "managed users")
		}
		u.Roles = scopeRoles(scope, ids, roles)
		out = append(out, u)
	}
	return out, total, mapErr(rows.Err(), "managed users")
}

// scopeRoles pairs account ids with roles, in the scope's order. It looks
// each id up rather than walking the scope, which may hold ten thousand
// accounts, for every user.
func scopeRoles(scope *UserScope, ids []int64, roles []string) []AccountRole {
	pos := scope.positions()
	at := make([]int, 0, len(ids))
	byPos := make(map[int]string, len(ids))
	for i, id := range ids {
		if p, ok := pos[id]; ok {
			at = append(at, p)
			byPos[p] = roles[i]
		}
	}
	slices.Sort(at)
	var out []AccountRole
	for _, p := range at {
		a := scope.Accounts[p]
		role, _ := portal.ParseRole(byPos[p])
		out = append(out, AccountRole{AccountID: a.ID, TechPrefix: a.TechPrefix, CompanyName: a.CompanyName, Role: role})
	}
	return out
}

// ManagedUser returns one user with roles in the scope; anyone else is not
// found.
func (db *DB) ManagedUser(ctx context.Context, scope *UserScope, userID int64) (*ManagedUser, error) {
	if userID <= 0 {
		return nil, portal.ErrNotFound
	}
	users, _, err := db.ManagedUsers(ctx, scope, UserFilter{UserID: userID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, portal.ErrNotFound
	}
	return &users[0], nil
}

// RevokedIn reports whether the user is revoked in the family of the
// account with this tech prefix.
func (db *DB) RevokedIn(ctx context.Context, userID int64, techPrefix string) (bool, error) {
	if !portal.ValidTechPrefix(techPrefix) {
		return false, nil
	}
	var revoked bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts a JOIN revocations r
		ON r.root_id = coalesce(a.parent_id, a.id) AND r.user_id = $1 WHERE a.tech_prefix = $2)`, userID, techPrefix).Scan(&revoked)
	return revoked, mapErr(err, "revoked in")
}
