package postgres

import (
	"context"
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
	// Accounts lists the scope in its order (root first, then by company).
	// ManagedScopeHead leaves it empty for a root: a family may hold ten
	// thousand accounts and the user list needs only their number.
	Accounts []ScopeAccount
	// Size is how many accounts the scope holds.
	Size int
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
	s.Size = len(s.Accounts)
	if err := db.Pool.QueryRow(ctx, `SELECT company_name FROM accounts WHERE id = $1`, s.RootID).Scan(&s.RootCompany); err != nil {
		return nil, mapErr(err, "managed scope root")
	}
	return s, nil
}

// ManagedScopeHead is ManagedScope without the accounts of a root's
// family: its root, its size and the managing account. A sub-account's
// scope is that one account and is loaded whole.
func (db *DB) ManagedScopeHead(ctx context.Context, acct portal.Account) (*UserScope, error) {
	if acct.ParentID != nil || acct.Status == portal.StatusClosed {
		return db.ManagedScope(ctx, acct)
	}
	s := &UserScope{RootID: acct.ID, AccountID: acct.ID}
	err := db.Pool.QueryRow(ctx, `SELECT a.company_name,
		1 + (SELECT count(*) FROM accounts c WHERE c.parent_id = a.id AND c.status <> 'closed')
		FROM accounts a WHERE a.id = $1`, acct.ID).Scan(&s.RootCompany, &s.Size)
	return s, mapErr(err, "managed scope")
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
	// Roles are the roles within the scope, in the scope's order; the
	// first UserFilter.MaxRoles of them when that is set.
	Roles []AccountRole
	// MoreRoles is how many roles a MaxRoles cut left out.
	MoreRoles int
	// top is the highest role in the scope, counting those cut.
	top         portal.Role
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
	top := u.top
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
	// Account keeps rows with a role on an account of the scope whose
	// tech prefix, company name or alias starts with it (case-insensitive).
	Account string
	// UserID keeps one user (for the user's own page).
	UserID int64
	// MaxRoles cuts each row's roles to the first ones; 0 keeps all.
	MaxRoles int
	Limit    int
	Offset   int
}

// topRoles maps the ranks managedUsersSQL computes to roles.
var topRoles = map[int]portal.Role{3: portal.RolePrincipal, 2: portal.RolePower, 1: portal.RoleGeneral}

// inScopeSQL says whether account s is in the scope managed from account
// $1 ($9: $1 is a root, which manages its whole family), as ManagedScope
// lists it. A scope is described by its account rather than passed as a
// list of its ids: for a family of ten thousand accounts a list made the
// planner spend tens of milliseconds on every call, and its generic plan
// over a second.
const inScopeSQL = `(s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed'`

// managedUsersSQL lists the scope's users and pending invitations in one
// pass, so filters and pagination apply to both. $1 the managing account,
// $2 family root, $9 whether $1 is the root. The accounts of each role are
// looked up for the page's rows only, in the scope's order, so the caller
// needs no list of the scope's accounts.
const managedUsersSQL = `
WITH fam AS (
    -- Every membership of the user in the family, marked in or out of the
    -- scope: one pass gives both the scope's roles and whether the user
    -- reaches accounts outside it.
    SELECT m.user_id, m.account_id, m.role,
           (s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed' AS in_scope
    FROM memberships m JOIN accounts s ON s.id = m.account_id
    WHERE (s.id = $2 OR s.parent_id = $2)
      AND ($7::bigint = 0 OR m.user_id = $7::bigint)
      AND ($9 OR m.user_id IN (SELECT o.user_id FROM memberships o WHERE o.account_id = $1))
), mem AS (
    SELECT u.id AS user_id, 0::bigint AS invitation_id, u.full_name, u.email, u.last_login_at,
           EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = u.id AND r.root_id = $2) AS revoked,
           NULL::timestamptz AS sent_at, NULL::timestamptz AS expires_at, ''::text AS invited_by,
           g.account_ids, g.roles, g.manageable
    FROM (SELECT user_id, array_agg(account_id) FILTER (WHERE in_scope) AS account_ids,
                 array_agg(role) FILTER (WHERE in_scope) AS roles, bool_and(in_scope) AS manageable
          FROM fam GROUP BY user_id HAVING bool_or(in_scope)) g
    JOIN users u ON u.id = g.user_id
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
SELECT p.user_id, p.invitation_id, p.full_name, p.email, p.last_login_at, p.sent_at, p.expires_at, p.invited_by,
       r.ids, r.prefixes, r.companies, r.roles, cardinality(p.account_ids), coalesce(p.top, 0), p.manageable, p.status, p.total
FROM (
    SELECT *, count(*) OVER () AS total
    FROM rows
    WHERE ($3::text = '' OR strpos(lower(full_name), lower($3)) > 0 OR strpos(lower(email), lower($3)) > 0)
      AND ($4::bigint = 0 OR $4::bigint = ANY(account_ids))
      AND ($10::text = '' OR EXISTS (SELECT 1 FROM accounts f WHERE f.id = ANY(account_ids)
           AND (starts_with(f.tech_prefix, $10) OR starts_with(lower(f.company_name), lower($10))
                OR starts_with(lower(f.company_alias), lower($10)))))
      AND CASE $5::text
          WHEN '' THEN true
          WHEN 'revoked' THEN status = 'revoked'
          WHEN 'invited' THEN invitation_id <> 0
          WHEN 'principal' THEN status <> 'revoked' AND top = 3
          WHEN 'power' THEN status <> 'revoked' AND top = 2
          WHEN 'general' THEN status <> 'revoked' AND top = 1
          ELSE false END
    ORDER BY lower(full_name), lower(email), invitation_id
    LIMIT $6 OFFSET $8
) p
CROSS JOIN LATERAL (
    -- With a cut, the highest roles are named first; the accounts are
    -- looked up for the roles named only.
    SELECT array_agg(a.id ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS ids,
           array_agg(a.tech_prefix ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS prefixes,
           array_agg(a.company_name ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS companies,
           array_agg(x.role ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS roles
    FROM (SELECT x.id, x.role::text AS role FROM unnest(p.account_ids, p.roles) x(id, role)
          ORDER BY CASE x.role::text WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END DESC, x.id
          LIMIT nullif($11::int, 0)) x
    JOIN accounts a ON a.id = x.id
) r
ORDER BY lower(p.full_name), lower(p.email), p.invitation_id`

// ManagedUsers lists the users and pending invitations of the scope, and
// how many match in all.
func (db *DB) ManagedUsers(ctx context.Context, scope *UserScope, f UserFilter) ([]ManagedUser, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Pool.Query(ctx, managedUsersSQL, scope.AccountID, scope.RootID, f.Query, f.AccountID, f.Type, f.Limit, f.UserID, f.Offset,
		scope.AccountID == scope.RootID, f.Account, f.MaxRoles)
	if err != nil {
		return nil, 0, mapErr(err, "managed users")
	}
	defer rows.Close()
	var out []ManagedUser
	total := 0
	for rows.Next() {
		var u ManagedUser
		var ids []int64
		var prefixes, companies, roles []string
		var n, top int
		if err := rows.Scan(&u.UserID, &u.InvitationID, &u.Name, &u.Email, &u.LastLoginAt, &u.SentAt, &u.ExpiresAt,
			&u.InvitedBy, &ids, &prefixes, &companies, &roles, &n, &top, &u.Manageable, &u.Status, &total); err != nil {
			return nil, 0, mapErr(err, "managed users")
		}
		for i, id := range ids {
			role, _ := portal.ParseRole(roles[i])
			u.Roles = append(u.Roles, AccountRole{AccountID: id, TechPrefix: prefixes[i], CompanyName: companies[i], Role: role})
		}
		u.MoreRoles = n - len(u.Roles)
		u.top = topRoles[top]
		out = append(out, u)
	}
	return out, total, mapErr(rows.Err(), "managed users")
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
