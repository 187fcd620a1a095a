package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// lockFamily serializes every change to a family's users on its root row,
// so checks such as "one active Principal remains" hold under concurrency.
func lockFamily(ctx context.Context, tx pgx.Tx, rootID int64) error {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, rootID).Scan(&id)
	return mapErr(err, "lock family")
}

// effectiveRoles reads a user's effective role on each account, as Access
// does: nothing while revoked in the account's family, and Principal
// inherited from the root. Accounts outside the family have no role.
func effectiveRoles(ctx context.Context, q querier, userID, rootID int64, accountIDs []int64) (map[int64]portal.Role, error) {
	rows, err := q.Query(ctx, `SELECT a.id,
		(SELECT m.role FROM memberships m WHERE m.user_id = $1 AND m.account_id = a.id),
		(SELECT m.role FROM memberships m WHERE m.user_id = $1 AND m.account_id = a.parent_id),
		EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = $2)
		FROM accounts a WHERE a.id = ANY($3) AND coalesce(a.parent_id, a.id) = $2 AND a.status <> 'closed'`,
		userID, rootID, accountIDs)
	if err != nil {
		return nil, mapErr(err, "effective roles")
	}
	defer rows.Close()
	out := map[int64]portal.Role{}
	for rows.Next() {
		var id int64
		var own, inherited *string
		var revoked bool
		if err := rows.Scan(&id, &own, &inherited, &revoked); err != nil {
			return nil, mapErr(err, "effective roles")
		}
		out[id] = effectiveRole(own, inherited, revoked)
	}
	return out, mapErr(rows.Err(), "effective roles")
}

// errNotManager is the answer when the actor may not manage users on an
// account: the guard hides such pages, so reaching this is a stale page or
// a forged request.
var errNotManager = portal.Errorf(portal.EFORBIDDEN, "Only a Principal user of an account can manage its users.")

// requireManager checks, inside the locked transaction, that the actor is
// an active Principal on every account, in a family with Multi-User. It
// returns the actor's roles, against which grants are checked.
func requireManager(ctx context.Context, tx pgx.Tx, actor portal.Actor, rootID int64, accountIDs []int64) (map[int64]portal.Role, error) {
	if actor.UserID == 0 {
		return nil, errNotManager
	}
	var enabled bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM account_features WHERE account_id = $1 AND feature = $2)`,
		rootID, string(portal.FeatureMultiUser)).Scan(&enabled); err != nil {
		return nil, mapErr(err, "multi-user feature")
	}
	if !enabled {
		return nil, errNotManager
	}
	roles, err := effectiveRoles(ctx, tx, actor.UserID, rootID, accountIDs)
	if err != nil {
		return nil, err
	}
	for _, id := range accountIDs {
		if roles[id] < portal.RolePrincipal {
			return nil, errNotManager
		}
	}
	return roles, nil
}

// checkGrant enforces that nobody grants a role above their own.
func checkGrant(own, want portal.Role) error {
	if want > own {
		return portal.Errorf(portal.EFORBIDDEN, "You cannot give anyone a user type above your own.")
	}
	return nil
}

// requirePrincipalLeft refuses a change that would leave the family
// without an active Principal on its root. It runs after the change, in the
// transaction that holds the family lock.
func requirePrincipalLeft(ctx context.Context, tx pgx.Tx, rootID int64) error {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships m
		WHERE m.account_id = $1 AND m.role = 'principal'
		AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = m.user_id AND r.root_id = $1)`, rootID).Scan(&n)
	if err != nil {
		return mapErr(err, "count principals")
	}
	if n == 0 {
		return portal.Errorf(portal.ECONFLICT, "That would leave the account without an active Principal user. Make someone else a Principal of it first.")
	}
	return nil
}

// familyMemberships returns a user's memberships in the family, by account.
func familyMemberships(ctx context.Context, tx pgx.Tx, userID, rootID int64) (map[int64]AccountRole, error) {
	rows, err := tx.Query(ctx, `SELECT m.account_id, a.tech_prefix, a.company_name, m.role
		FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.user_id = $1 AND coalesce(a.parent_id, a.id) = $2`, userID, rootID)
	if err != nil {
		return nil, mapErr(err, "family memberships")
	}
	defer rows.Close()
	out := map[int64]AccountRole{}
	for rows.Next() {
		var ar AccountRole
		var role string
		if err := rows.Scan(&ar.AccountID, &ar.TechPrefix, &ar.CompanyName, &role); err != nil {
			return nil, mapErr(err, "family memberships")
		}
		ar.Role, _ = portal.ParseRole(role)
		out[ar.AccountID] = ar
	}
	return out, mapErr(rows.Err(), "family memberships")
}

// rolesDetail describes roles for the audit log, by tech prefix.
func rolesDetail(m map[int64]AccountRole) map[string]string {
	out := map[string]string{}
	for _, ar := range m {
		out[ar.TechPrefix] = ar.Role.String()
	}
	return out
}

// userContact returns a user's name and email.
func userContact(ctx context.Context, q querier, userID int64) (name, email string, err error) {
	err = q.QueryRow(ctx, `SELECT full_name, email FROM users WHERE id = $1`, userID).Scan(&name, &email)
	return name, email, mapErr(err, "user")
}

// ErrSelf refuses changes to one's own access that belong to another
// Principal.
var ErrSelf = portal.Errorf(portal.EINVALID, "You cannot revoke your own access. Ask another Principal user.")

// scopedFamilyRoles loads the target's memberships in the family and checks
// the scope covers all of them: revocation is per family, so a Principal of
// a sub-account may revoke only users who work on nothing else.
func scopedFamilyRoles(ctx context.Context, tx pgx.Tx, scope *UserScope, userID int64) (map[int64]AccountRole, error) {
	fam, err := familyMemberships(ctx, tx, userID, scope.RootID)
	if err != nil {
		return nil, err
	}
	inScope := 0
	for id := range fam {
		if _, ok := scope.Account(id); ok {
			inScope++
		}
	}
	if inScope == 0 {
		return nil, portal.ErrNotFound
	}
	if inScope < len(fam) {
		return nil, portal.Errorf(portal.EFORBIDDEN, "This user also works on other accounts of %s; a Principal user of %s can revoke or restore them.",
			scope.RootCompany, scope.RootCompany)
	}
	return fam, nil
}

func accountIDs(m map[int64]AccountRole) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}

// RevokeUser moves a user to Revoked in the scope's family: every
// membership is kept but ignored, sessions stop working on their next
// request, and the user is told by email.
func (db *DB) RevokeUser(ctx context.Context, actor portal.Actor, scope *UserScope, userID int64) error {
	if userID == actor.UserID {
		return ErrSelf
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		fam, err := scopedFamilyRoles(ctx, tx, scope, userID)
		if err != nil {
			return err
		}
		if _, err := requireManager(ctx, tx, actor, scope.RootID, accountIDs(fam)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO revocations (user_id, root_id, revoked_by) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, root_id) DO NOTHING`, userID, scope.RootID, actor.UserID)
		if err != nil {
			return mapErr(err, "revoke")
		}
		if tag.RowsAffected() == 0 {
			return portal.Errorf(portal.ECONFLICT, "This user is already revoked.")
		}
		if err := requirePrincipalLeft(ctx, tx, scope.RootID); err != nil {
			return err
		}
		name, email, err := userContact(ctx, tx, userID)
		if err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.revoked", AccountID: scope.AccountID, Target: email,
			Details: map[string]any{"user_id": userID, "roles": rolesDetail(fam)}}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailRevoked, To: email,
			Vars: map[string]string{"name": name, "company": scope.RootCompany}, Link: db.BaseURL + "/"})
	})
}

// RestoreUser ends a revocation: the memberships kept since then work again,
// exactly as they were.
func (db *DB) RestoreUser(ctx context.Context, actor portal.Actor, scope *UserScope, userID int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		fam, err := scopedFamilyRoles(ctx, tx, scope, userID)
		if err != nil {
			return err
		}
		if _, err := requireManager(ctx, tx, actor, scope.RootID, accountIDs(fam)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM revocations WHERE user_id = $1 AND root_id = $2`, userID, scope.RootID)
		if err != nil {
			return mapErr(err, "restore")
		}
		if tag.RowsAffected() == 0 {
			return portal.Errorf(portal.ECONFLICT, "This user is not revoked.")
		}
		name, email, err := userContact(ctx, tx, userID)
		if err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.restored", AccountID: scope.AccountID, Target: email,
			Details: map[string]any{"user_id": userID, "roles": rolesDetail(fam)}}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailRestored, To: email,
			Vars: map[string]string{"name": name, "company": scope.RootCompany}, Link: db.BaseURL + "/login"})
	})
}

// SetUserRoles applies a user's roles on accounts of the scope (RoleNone
// removes access) and returns how many changed. Each change is checked
// against the actor's own role and audited; a revoked user's roles are
// frozen until restored, so that restoring brings back exactly what was
// revoked.
func (db *DB) SetUserRoles(ctx context.Context, actor portal.Actor, scope *UserScope, userID int64, want map[int64]portal.Role) (int, error) {
	changed := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		changed = 0
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		fam, err := familyMemberships(ctx, tx, userID, scope.RootID)
		if err != nil {
			return err
		}
		inScope := false
		for id := range fam {
			if _, ok := scope.Account(id); ok {
				inScope = true
			}
		}
		if !inScope {
			return portal.ErrNotFound
		}
		var revoked bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE user_id = $1 AND root_id = $2)`,
			userID, scope.RootID).Scan(&revoked); err != nil {
			return mapErr(err, "revoked")
		}
		if revoked {
			return portal.Errorf(portal.EINVALID, "This user is revoked. Restore them before changing their user types.")
		}
		var ids []int64
		for id, role := range want {
			if _, ok := scope.Account(id); !ok {
				return errNotManager
			}
			if fam[id].Role != role {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		slices.Sort(ids)
		own, err := requireManager(ctx, tx, actor, scope.RootID, ids)
		if err != nil {
			return err
		}
		_, email, err := userContact(ctx, tx, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			to, from := want[id], fam[id].Role
			if err := checkGrant(own[id], to); err != nil {
				return err
			}
			if to == portal.RoleNone {
				_, err = tx.Exec(ctx, `DELETE FROM memberships WHERE user_id = $1 AND account_id = $2`, userID, id)
			} else {
				_, err = tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role, granted_by) VALUES ($1, $2, $3, $4)
					ON CONFLICT (user_id, account_id) DO UPDATE SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by, granted_at = now()`,
					userID, id, to.String(), actor.UserID)
			}
			if err != nil {
				return mapErr(err, "set role")
			}
			acct, _ := scope.Account(id)
			if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.role_changed", AccountID: id, Target: email,
				Details: map[string]any{"user_id": userID, "account": acct.TechPrefix, "from": from.String(), "to": to.String()}}); err != nil {
				return err
			}
			changed++
		}
		return requirePrincipalLeft(ctx, tx, scope.RootID)
	})
	return changed, err
}
