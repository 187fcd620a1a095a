package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// NewInvitation is what the Add New User form collects: who, and a role per
// account of the scope (RoleNone for no access).
type NewInvitation struct {
	Name  string
	Email string
	Roles map[int64]portal.Role
}

// InvitationView is an invitation as its confirmation page shows it.
type InvitationView struct {
	ID           int64
	AccountID    int64
	RootID       int64
	Name         string
	Email        string
	InviterID    int64
	InviterName  string
	InviterEmail string
	// Company is the account the invitation was sent from.
	Company    string
	TechPrefix string
	Roles      []AccountRole
	// ExistingUserID is the login that already uses the address, if any.
	ExistingUserID int64
}

// RolesText describes the roles for people: "Acme West (31415901) as General".
func (v *InvitationView) RolesText() string { return rolesText(v.Roles) }

func rolesText(roles []AccountRole) string {
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = r.CompanyName + " (" + r.TechPrefix + ") as " + r.Role.Label()
	}
	return strings.Join(parts, ", ")
}

// ErrInvitationInvalid is returned for an invitation whose sender can no
// longer add users to its accounts (revoked, or no longer a Principal).
var ErrInvitationInvalid = portal.Errorf(portal.EINVALID,
	"This invitation is no longer valid: the person who sent it can no longer add users to these accounts. Ask a Principal user of the account for a new invitation.")

// errInviteeRevoked is returned when the invitee is revoked in the family.
var errInviteeRevoked = portal.Errorf(portal.EINVALID,
	"Your access to this account family has been revoked. Ask one of its Principal users to restore it.")

func invitationSubject(id int64) string { return "invitation:" + strconv.FormatInt(id, 10) }

// grants keeps the roles that grant something, in the scope's order.
func grants(scope *UserScope, roles map[int64]portal.Role) ([]AccountRole, error) {
	var out []AccountRole
	for id := range roles {
		if _, ok := scope.Account(id); !ok {
			return nil, errNotManager
		}
	}
	for _, a := range scope.Accounts {
		if r := roles[a.ID]; r != portal.RoleNone {
			out = append(out, AccountRole{AccountID: a.ID, TechPrefix: a.TechPrefix, CompanyName: a.CompanyName, Role: r})
		}
	}
	if len(out) == 0 {
		return nil, portal.FieldError("roles", "Give them access to at least one account.")
	}
	return out, nil
}

func roleIDs(roles []AccountRole) []int64 {
	ids := make([]int64, len(roles))
	for i, r := range roles {
		ids[i] = r.AccountID
	}
	return ids
}

func rolesMap(roles []AccountRole) map[string]string {
	out := map[string]string{}
	for _, r := range roles {
		out[r.TechPrefix] = r.Role.String()
	}
	return out
}

// Invite saves a pending invitation and emails its link. No membership
// exists until the invitee accepts.
func (db *DB) Invite(ctx context.Context, actor portal.Actor, scope *UserScope, in NewInvitation) (int64, error) {
	roles, err := grants(scope, in.Roles)
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		own, err := requireManager(ctx, tx, actor, scope.RootID, roleIDs(roles))
		if err != nil {
			return err
		}
		for _, r := range roles {
			if err := checkGrant(own[r.AccountID], r.Role); err != nil {
				return err
			}
		}
		if err := inviteeFree(ctx, tx, scope, in.Email); err != nil {
			return err
		}
		if err := supersedeExpired(ctx, tx, actor, scope.AccountID, in.Email); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO invitations (account_id, email, full_name, invited_by, expires_at)
			VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING id`,
			scope.AccountID, in.Email, in.Name, actor.UserID, portal.InviteTTL.String()).Scan(&id)
		if isUniqueViolation(err, "invitations_one_pending") {
			return portal.Errorf(portal.ECONFLICT, "An invitation to %s is already pending. Resend or cancel it instead.", in.Email)
		}
		if err != nil {
			return mapErr(err, "insert invitation")
		}
		for _, r := range roles {
			if _, err := tx.Exec(ctx, `INSERT INTO invitation_roles (invitation_id, account_id, role) VALUES ($1, $2, $3)`,
				id, r.AccountID, r.Role.String()); err != nil {
				return mapErr(err, "insert invitation role")
			}
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "invite.sent", AccountID: scope.AccountID, Target: in.Email,
			Details: map[string]any{"invitation_id": id, "name": in.Name, "roles": rolesMap(roles)}}); err != nil {
			return err
		}
		return db.sendInvitation(ctx, tx, actor, scope, id, in.Name, in.Email, roles)
	})
	return id, err
}

// inviteeFree refuses to invite someone who is already a user of the
// scope (their page is where roles change) or revoked in the family.
func inviteeFree(ctx context.Context, tx pgx.Tx, scope *UserScope, email string) error {
	var member, revoked bool
	err := tx.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.account_id = ANY($2)),
		EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = u.id AND r.root_id = $3)
		FROM users u WHERE lower(u.email) = lower($1)`, email, scope.IDs(), scope.RootID).Scan(&member, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return mapErr(err, "invitee")
	}
	if revoked {
		return portal.Errorf(portal.ECONFLICT, "%s is a revoked user of %s. Restore them instead of inviting them again.", email, scope.RootCompany)
	}
	if member {
		return portal.Errorf(portal.ECONFLICT, "%s is already a user here. Change their user types on their page instead.", email)
	}
	return nil
}

// supersedeExpired cancels an expired invitation to the same address from
// the same account, so a new one can take its place.
func supersedeExpired(ctx context.Context, tx pgx.Tx, actor portal.Actor, accountID int64, email string) error {
	var old int64
	err := tx.QueryRow(ctx, `UPDATE invitations SET status = 'cancelled', cancelled_at = now(), cancelled_by = $3
		WHERE account_id = $1 AND lower(email) = lower($2) AND status = 'pending' AND expires_at <= now()
		RETURNING id`, accountID, email, actor.UserID).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return mapErr(err, "supersede invitation")
	}
	return CancelTokensTx(ctx, tx, portal.PurposeAcceptInvite, invitationSubject(old))
}

// sendInvitation issues the invitation's link (superseding any earlier one)
// and enqueues the email, in tx. The link names the family it was sent in,
// which acceptance checks the accounts still belong to.
func (db *DB) sendInvitation(ctx context.Context, tx pgx.Tx, actor portal.Actor, scope *UserScope, id int64, name, email string, roles []AccountRole) error {
	inviter, _, err := userContact(ctx, tx, actor.UserID)
	if err != nil {
		return err
	}
	acct, _ := scope.Account(scope.AccountID)
	return db.IssueTokenTx(ctx, tx, portal.PurposeAcceptInvite, invitationSubject(id), email,
		map[string]any{"invitation_id": id, "root_id": scope.RootID}, portal.InviteTTL,
		portal.Email{Template: portal.MailInvite, To: email, Vars: map[string]string{
			"name": name, "inviter": inviter, "company": acct.CompanyName, "accounts": rolesText(roles)}})
}

// pendingInvitation locks a pending invitation of the scope and returns it
// with its roles. An invitation that reaches beyond the scope is for a
// Principal of the family root.
func pendingInvitation(ctx context.Context, tx pgx.Tx, scope *UserScope, id int64) (*InvitationView, error) {
	v, err := loadInvitation(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if v.RootID != scope.RootID {
		return nil, portal.ErrNotFound
	}
	inScope := 0
	for _, r := range v.Roles {
		if _, ok := scope.Account(r.AccountID); ok {
			inScope++
		}
	}
	if inScope == 0 {
		return nil, portal.ErrNotFound
	}
	if inScope < len(v.Roles) {
		return nil, portal.Errorf(portal.EFORBIDDEN, "This invitation also grants access to other accounts of %s; a Principal user of %s can change it.",
			scope.RootCompany, scope.RootCompany)
	}
	return v, nil
}

// ResendInvitation sends a pending invitation again with a new link; the
// old link stops working and the invitation runs for another seven days,
// now sent by the actor. It returns the invitee's address.
func (db *DB) ResendInvitation(ctx context.Context, actor portal.Actor, scope *UserScope, id int64) (string, error) {
	var email string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		v, err := pendingInvitation(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		email = v.Email
		own, err := requireManager(ctx, tx, actor, scope.RootID, roleIDs(v.Roles))
		if err != nil {
			return err
		}
		for _, r := range v.Roles {
			if err := checkGrant(own[r.AccountID], r.Role); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE invitations SET invited_by = $2, sent_at = now(), expires_at = now() + $3::interval
			WHERE id = $1`, id, actor.UserID, portal.InviteTTL.String()); err != nil {
			return mapErr(err, "resend invitation")
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "invite.resent", AccountID: scope.AccountID, Target: v.Email,
			Details: map[string]any{"invitation_id": id}}); err != nil {
			return err
		}
		return db.sendInvitation(ctx, tx, actor, scope, id, v.Name, v.Email, v.Roles)
	})
	return email, err
}

// CancelInvitation withdraws a pending invitation; its link stops working.
// It returns the invitee's address.
func (db *DB) CancelInvitation(ctx context.Context, actor portal.Actor, scope *UserScope, id int64) (string, error) {
	var email string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, scope.RootID); err != nil {
			return err
		}
		v, err := pendingInvitation(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		email = v.Email
		if _, err := requireManager(ctx, tx, actor, scope.RootID, roleIDs(v.Roles)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2
			WHERE id = $1`, id, actor.UserID); err != nil {
			return mapErr(err, "cancel invitation")
		}
		if err := CancelTokensTx(ctx, tx, portal.PurposeAcceptInvite, invitationSubject(id)); err != nil {
			return err
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "invite.cancelled", AccountID: scope.AccountID, Target: v.Email,
			Details: map[string]any{"invitation_id": id}})
	})
	return email, err
}
