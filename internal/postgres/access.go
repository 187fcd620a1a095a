package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// AccountAccess is an account together with the caller's standing on it.
type AccountAccess struct {
	Account portal.Account
	portal.AccountAccess
	// Stamp names the version of the account's family when the access was
	// read (migration 0013): a page of the account kept from a read under
	// the same stamp still shows what the family holds.
	Stamp string
}

// accessSQL resolves an account and the user's effective role on it in one
// query: the explicit membership, or Principal inherited from the family
// root; nothing while the user is revoked in the family. Closed accounts are
// invisible.
const accessSQL = `
SELECT a.id, a.tech_prefix, a.company_name, a.company_alias, a.contact_email, a.status, a.parent_id, a.created_at,
       (SELECT m.role FROM memberships m WHERE m.user_id = $1 AND m.account_id = a.id),
       (SELECT m.role FROM memberships m WHERE m.user_id = $1 AND m.account_id = a.parent_id),
       EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = coalesce(a.parent_id, a.id)),
       ARRAY(SELECT f.feature FROM account_features f WHERE f.account_id = coalesce(a.parent_id, a.id)),
       coalesce(a.parent_id, a.id) || ':' || coalesce((SELECT v.version FROM family_versions v WHERE v.root_id = coalesce(a.parent_id, a.id)), 0)
FROM accounts a
WHERE a.tech_prefix = $2 AND a.status <> 'closed'`

// Access loads the account with this tech prefix and the user's effective
// role on it. An account the user cannot reach is reported as not found.
func (db *DB) Access(ctx context.Context, userID int64, techPrefix string) (*AccountAccess, error) {
	if !portal.ValidTechPrefix(techPrefix) {
		return nil, portal.ErrNotFound
	}
	b := &pgx.Batch{}
	res := queueAccess(b, userID, techPrefix)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "access")
	}
	return res.AccountAccess, res.Err
}

// AccessResult is the outcome of a queued Access: the account and role, or
// Err (portal.ErrNotFound for an account the user cannot reach).
type AccessResult struct {
	*AccountAccess
	Err error
}

// queueAccess queues the access query for a valid tech prefix; the result
// is filled in once the batch has run.
func queueAccess(b *pgx.Batch, userID int64, techPrefix string) *AccessResult {
	res := &AccessResult{Err: portal.ErrNotFound}
	b.Queue(accessSQL, userID, techPrefix).QueryRow(func(row pgx.Row) error {
		var aa AccountAccess
		var own, inherited *string
		var revoked bool
		var features []string
		a := &aa.Account
		err := row.Scan(&a.ID, &a.TechPrefix, &a.CompanyName, &a.CompanyAlias,
			&a.ContactEmail, &a.Status, &a.ParentID, &a.CreatedAt, &own, &inherited, &revoked, &features, &aa.Stamp)
		if err != nil {
			if portal.ErrorCode(mapErr(err, "")) == portal.ENOTFOUND {
				return nil // not found: the batch goes on
			}
			res.Err = mapErr(err, "access")
			return err
		}
		aa.Role = effectiveRole(own, inherited, revoked)
		if aa.Role == portal.RoleNone {
			return nil
		}
		aa.IsRoot = a.ParentID == nil
		aa.Features = map[portal.Feature]bool{}
		for _, f := range features {
			aa.Features[portal.Feature(f)] = true
		}
		res.AccountAccess, res.Err = &aa, nil
		return nil
	})
	return res
}

func effectiveRole(own, inherited *string, revoked bool) portal.Role {
	if revoked {
		return portal.RoleNone
	}
	var r portal.Role
	if own != nil {
		r, _ = portal.ParseRole(*own)
	}
	if inherited != nil && *inherited == "principal" {
		r = portal.RolePrincipal
	}
	return r
}

// AccountSummary is one account in a list of accounts a user can reach.
type AccountSummary struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	Status       string
	ParentID     *int64
}

// HomeAccount returns the account a signed-in user lands on: the last one
// used if still reachable, else the first reachable one.
func (db *DB) HomeAccount(ctx context.Context, userID int64) (*AccountSummary, error) {
	var s AccountSummary
	err := db.Pool.QueryRow(ctx, `
		WITH reach AS (
			SELECT a.id, a.tech_prefix, a.company_name, a.company_alias, a.status, a.parent_id
			FROM memberships m JOIN accounts a ON a.id = m.account_id
			WHERE m.user_id = $1 AND a.status <> 'closed'
			  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = coalesce(a.parent_id, a.id))
		)
		SELECT id, tech_prefix, company_name, company_alias, status, parent_id FROM reach
		ORDER BY (id = (SELECT last_account_id FROM users WHERE id = $1)) DESC NULLS LAST, parent_id NULLS FIRST, id
		LIMIT 1`, userID).Scan(&s.ID, &s.TechPrefix, &s.CompanyName, &s.CompanyAlias, &s.Status, &s.ParentID)
	if err != nil {
		return nil, mapErr(err, "home account")
	}
	return &s, nil
}

// RememberAccount records the account a user last opened (at most one write
// per change, not per request).
func (db *DB) RememberAccount(ctx context.Context, userID, accountID int64) error {
	_, err := db.Pool.Exec(ctx, `UPDATE users SET last_account_id = $2 WHERE id = $1 AND last_account_id IS DISTINCT FROM $2`, userID, accountID)
	return mapErr(err, "remember account")
}
