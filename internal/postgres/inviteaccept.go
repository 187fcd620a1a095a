package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// loadInvitation reads an invitation, its roles and its sender, optionally
// locking it.
func loadInvitation(ctx context.Context, q querier, id int64, lock bool) (*InvitationView, error) {
	sql := `SELECT i.id, i.account_id, coalesce(a.parent_id, a.id), a.company_name, a.tech_prefix, i.full_name, i.email,
		i.invited_by, iu.full_name, iu.email, coalesce((SELECT u.id FROM users u WHERE lower(u.email) = lower(i.email)), 0)
		FROM invitations i JOIN accounts a ON a.id = i.account_id JOIN users iu ON iu.id = i.invited_by
		WHERE i.id = $1 AND i.status = 'pending' AND i.expires_at > now()`
	if lock {
		sql += ` FOR UPDATE OF i`
	}
	var v InvitationView
	err := q.QueryRow(ctx, sql, id).Scan(&v.ID, &v.AccountID, &v.RootID, &v.Company, &v.TechPrefix, &v.Name, &v.Email,
		&v.InviterID, &v.InviterName, &v.InviterEmail, &v.ExistingUserID)
	if err != nil {
		return nil, mapErr(err, "invitation")
	}
	rows, err := q.Query(ctx, `SELECT r.account_id, a.tech_prefix, a.company_name, r.role
		FROM invitation_roles r JOIN accounts a ON a.id = r.account_id
		WHERE r.invitation_id = $1 ORDER BY a.parent_id NULLS FIRST, lower(a.company_name), a.id`, id)
	if err != nil {
		return nil, mapErr(err, "invitation roles")
	}
	v.Roles, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AccountRole, error) {
		var ar AccountRole
		var role string
		err := row.Scan(&ar.AccountID, &ar.TechPrefix, &ar.CompanyName, &role)
		ar.Role, _ = portal.ParseRole(role)
		return ar, err
	})
	return &v, mapErr(err, "invitation roles")
}

// checkInvitation confirms the sender may still grant every role of the
// invitation (an active Principal on each account, in the same family) and
// that the invitee is not revoked there.
func checkInvitation(ctx context.Context, q querier, v *InvitationView, inviteeID int64) error {
	own, err := effectiveRoles(ctx, q, v.InviterID, v.RootID, roleIDs(v.Roles))
	if err != nil {
		return err
	}
	for _, r := range v.Roles {
		if own[r.AccountID] < portal.RolePrincipal || r.Role > own[r.AccountID] {
			return ErrInvitationInvalid
		}
	}
	if inviteeID == 0 {
		return nil
	}
	var revoked bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE user_id = $1 AND root_id = $2)`,
		inviteeID, v.RootID).Scan(&revoked); err != nil {
		return mapErr(err, "invitee revoked")
	}
	if revoked {
		return errInviteeRevoked
	}
	return nil
}

// sentInFamily refuses an invitation whose accounts have left the family it
// was sent in (an unlink, or a link elsewhere): the sender's authority was
// over that family only, even if the sender still manages an account that
// left it. Links issued before the family was recorded carry none.
func sentInFamily(t *portal.Token, v *InvitationView) error {
	if root := PayloadInt(t, "root_id"); root != 0 && root != v.RootID {
		return ErrInvitationInvalid
	}
	return nil
}

// InvitationForToken returns the invitation a valid accept_invite token is
// for, checked as acceptance would check it.
func (db *DB) InvitationForToken(ctx context.Context, t *portal.Token) (*InvitationView, error) {
	v, err := loadInvitation(ctx, db.Pool, PayloadInt(t, "invitation_id"), false)
	if portal.ErrorCode(err) == portal.ENOTFOUND || (err == nil && !strings.EqualFold(v.Email, t.Email)) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if err := sentInFamily(t, v); err != nil {
		return nil, err
	}
	return v, checkInvitation(ctx, db.Pool, v, v.ExistingUserID)
}

// Acceptance is who accepts an invitation: an existing login that proved
// itself (UserID), or a new person's name and password hash.
type Acceptance struct {
	UserID       int64
	Name         string
	PasswordHash string
}

// AcceptInvitation spends an invitation link and makes its memberships
// active: for the signed-in (or just signed-in) owner of the address, or for
// a new login created with it. The sender is told.
func (db *DB) AcceptInvitation(ctx context.Context, actor portal.Actor, raw string, acc Acceptance) (*portal.User, *InvitationView, error) {
	var v *InvitationView
	var userID int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeAcceptInvite, raw)
		if err != nil {
			return err
		}
		invID := PayloadInt(t, "invitation_id")
		var rootID int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(a.parent_id, a.id) FROM invitations i JOIN accounts a ON a.id = i.account_id
			WHERE i.id = $1`, invID).Scan(&rootID); err != nil {
			return mapErr(err, "invitation family")
		}
		if err := lockFamily(ctx, tx, rootID); err != nil {
			return err
		}
		v, err = loadInvitation(ctx, tx, invID, true)
		if portal.ErrorCode(err) == portal.ENOTFOUND || (err == nil && !strings.EqualFold(v.Email, t.Email)) {
			return ErrTokenInvalid
		}
		if err != nil {
			return err
		}
		if err := sentInFamily(t, v); err != nil {
			return err
		}
		if userID, err = acceptingUser(ctx, tx, v, acc); err != nil {
			return err
		}
		if err := checkInvitation(ctx, tx, v, userID); err != nil {
			return err
		}
		for _, r := range v.Roles {
			if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role, granted_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (user_id, account_id) DO NOTHING`, userID, r.AccountID, r.Role.String(), v.InviterID); err != nil {
				return mapErr(err, "accept membership")
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'accepted', accepted_at = now(), accepted_user_id = $2 WHERE id = $1`,
			v.ID, userID); err != nil {
			return mapErr(err, "accept invitation")
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET last_account_id = $2, email_verified_at = coalesce(email_verified_at, now()),
			updated_at = now() WHERE id = $1`, userID, v.Roles[0].AccountID); err != nil {
			return mapErr(err, "accept user")
		}
		actor.UserID = userID
		name, email, err := userContact(ctx, tx, userID)
		if err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "invite.accepted", AccountID: v.AccountID, Target: email,
			Details: map[string]any{"invitation_id": v.ID, "user_id": userID, "roles": rolesMap(v.Roles)}}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailInviteAccepted, To: v.InviterEmail,
			Vars: map[string]string{"inviter": v.InviterName, "name": name, "company": v.Company},
			Link: db.BaseURL + "/accounts/" + v.TechPrefix + "/settings/users"})
	})
	if err != nil {
		return nil, nil, err
	}
	u, err := db.UserByID(ctx, userID)
	return u, v, err
}

// acceptingUser resolves who accepts: the proven owner of the invited
// address, or a new login for it.
func acceptingUser(ctx context.Context, tx pgx.Tx, v *InvitationView, acc Acceptance) (int64, error) {
	if acc.UserID != 0 {
		var email string
		if err := tx.QueryRow(ctx, `SELECT email FROM users WHERE id = $1 FOR UPDATE`, acc.UserID).Scan(&email); err != nil {
			return 0, mapErr(err, "accepting user")
		}
		if !strings.EqualFold(email, v.Email) {
			return 0, portal.Errorf(portal.EFORBIDDEN, "This invitation is for %s. Sign in with that address to accept it.", v.Email)
		}
		return acc.UserID, nil
	}
	if acc.PasswordHash == "" {
		return 0, portal.Errorf(portal.EINVALID, "Choose a password to accept the invitation.")
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO users (email, full_name, password_hash, email_verified_at) VALUES ($1, $2, $3, now())
		RETURNING id`, v.Email, acc.Name, acc.PasswordHash).Scan(&id)
	if isUniqueViolation(err, "") {
		return 0, portal.Errorf(portal.ECONFLICT, "%s already has a login. Sign in with it to accept the invitation.", v.Email)
	}
	return id, mapErr(err, "invited user")
}
