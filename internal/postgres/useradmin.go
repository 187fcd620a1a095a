package postgres

import (
	"context"
	"strconv"
	"strings"
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
	// UserList leaves it empty for a root: a family may hold ten
	// thousand accounts and the user list needs only their number.
	Accounts []ScopeAccount
	// Size is how many accounts the scope holds.
	Size int
	// index maps an account id to its place in Accounts (ManagedScope
	// builds it): checks of many ids against a family of thousands stay
	// linear.
	index map[int64]int
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
	if s.index != nil {
		if i, ok := s.index[id]; ok && i < len(s.Accounts) && s.Accounts[i].ID == id {
			return s.Accounts[i], true
		}
		return ScopeAccount{}, false
	}
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
	s.index = make(map[int64]int, len(s.Accounts))
	for i, a := range s.Accounts {
		s.index[a.ID] = i
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

// Match returns the accounts of the scope that text names: the one with
// that tech prefix, else those whose company name or alias is text, in any
// case. More than one means the name is ambiguous.
func (s *UserScope) Match(text string) []ScopeAccount {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return nil
	}
	var out []ScopeAccount
	if portal.ValidTechPrefix(text) {
		for _, a := range s.Accounts {
			if a.TechPrefix == text {
				return []ScopeAccount{a}
			}
		}
		return nil
	}
	for _, a := range s.Accounts {
		if strings.EqualFold(a.CompanyName, text) || a.CompanyAlias != "" && strings.EqualFold(a.CompanyAlias, text) {
			out = append(out, a)
		}
	}
	return out
}

// ScopeSearch finds accounts managed from acct (by ManagedScope's rule: the
// open family from a root, only itself from a sub-account) whose company
// name or alias contains q, or whose tech prefix starts with it; at most
// limit of them in name order, and whether there are more. An empty q finds
// nothing. It reads only what it returns, not the whole scope.
func (db *DB) ScopeSearch(ctx context.Context, acct portal.Account, q string, limit int) ([]ScopeAccount, bool, error) {
	where, args := searchFilter(q, 3)
	if where == "" || limit <= 0 {
		return nil, false, nil
	}
	// The root and its sub-accounts are read apart, so that each half
	// uses an index (the family's in name order) and stops at the limit.
	n := strconv.Itoa(limit + 1)
	rows, err := db.Pool.Query(ctx, `SELECT id, tech_prefix, company_name, company_alias, status, is_root FROM (
		(SELECT a.id, a.tech_prefix, a.company_name, a.company_alias, a.status, a.parent_id IS NULL AS is_root, lower(a.company_name) AS k
		 FROM accounts a WHERE a.id = $1 AND a.status <> 'closed'`+where+`)
		UNION ALL
		(SELECT a.id, a.tech_prefix, a.company_name, a.company_alias, a.status, false, lower(a.company_name)
		 FROM accounts a WHERE $2 AND a.parent_id = $1 AND a.status <> 'closed'`+where+`
		 ORDER BY lower(a.company_name), a.id LIMIT `+n+`)
		) x ORDER BY k, id LIMIT `+n, append([]any{acct.ID, acct.ParentID == nil}, args...)...)
	if err != nil {
		return nil, false, mapErr(err, "scope search")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ScopeAccount, error) {
		var a ScopeAccount
		err := row.Scan(&a.ID, &a.TechPrefix, &a.CompanyName, &a.CompanyAlias, &a.Status, &a.IsRoot)
		return a, err
	})
	if err != nil {
		return nil, false, mapErr(err, "scope search")
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	return list, more, nil
}
