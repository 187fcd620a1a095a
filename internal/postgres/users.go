package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

const userColumns = `id, email, full_name, password_hash, email_verified_at, session_epoch, last_login_at, created_at`

func scanUser(row pgx.Row) (*portal.User, error) {
	var u portal.User
	err := row.Scan(&u.ID, &u.Email, &u.FullName, &u.PasswordHash, &u.EmailVerifiedAt, &u.SessionEpoch, &u.LastLoginAt, &u.CreatedAt)
	if err != nil {
		return nil, mapErr(err, "scan user")
	}
	return &u, nil
}

// UserByID returns a user.
func (db *DB) UserByID(ctx context.Context, id int64) (*portal.User, error) {
	return scanUser(db.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// UserByEmail returns the user with this address, case-insensitively.
func (db *DB) UserByEmail(ctx context.Context, email string) (*portal.User, error) {
	return scanUser(db.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, email))
}

// newTechPrefix returns eight random digits (the first not zero, so it reads
// as a number).
func newTechPrefix() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
	if err != nil {
		return "", fmt.Errorf("postgres: tech prefix: %w", err)
	}
	return strconv.FormatInt(n.Int64()+10_000_000, 10), nil
}

// NewAccount is the customer information of an account being created.
type NewAccount struct {
	CompanyName  string
	CompanyAlias string
	ContactName  string
	ContactEmail string
	Address1     string
	Address2     string
	City         string
	Region       string
	PostalCode   string
	Country      string
	ParentID     *int64
}

// InsertAccountTx creates an account in pending activation with a fresh
// random tech prefix.
func InsertAccountTx(ctx context.Context, tx pgx.Tx, a NewAccount) (*portal.Account, error) {
	for attempt := 0; attempt < 8; attempt++ {
		prefix, err := newTechPrefix()
		if err != nil {
			return nil, err
		}
		var acct portal.Account
		// A savepoint lets a rare prefix collision retry without aborting tx.
		err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			return sp.QueryRow(ctx, `INSERT INTO accounts
				(tech_prefix, company_name, company_alias, contact_name, contact_email,
				 address_line1, address_line2, city, region, postal_code, country, parent_id, linked_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12, CASE WHEN $12::bigint IS NULL THEN NULL ELSE now() END)
				RETURNING id, tech_prefix, company_name, company_alias, contact_email, status, parent_id, created_at`,
				prefix, a.CompanyName, a.CompanyAlias, a.ContactName, a.ContactEmail,
				a.Address1, a.Address2, a.City, a.Region, a.PostalCode, a.Country, a.ParentID).
				Scan(&acct.ID, &acct.TechPrefix, &acct.CompanyName, &acct.CompanyAlias, &acct.ContactEmail, &acct.Status, &acct.ParentID, &acct.CreatedAt)
		})
		if isUniqueViolation(err, "accounts_tech_prefix_key") {
			continue
		}
		if err != nil {
			return nil, mapErr(err, "insert account")
		}
		return &acct, nil
	}
	return nil, fmt.Errorf("postgres: no free tech prefix after 8 attempts")
}

// Signup is what the sign-up form collects.
type Signup struct {
	CompanyName  string
	FullName     string
	Email        string
	PasswordHash string
}

// SignUp creates an account in pending activation with the signer as its
// first Principal, and sends the verification email. When the address
// already has a login, nothing is created and the owner of the address is
// told instead, so the page cannot reveal which addresses exist.
func (db *DB) SignUp(ctx context.Context, actor portal.Actor, s Signup) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var existing int64
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE lower(email) = lower($1)`, s.Email).Scan(&existing)
		if err == nil {
			return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailSignupExists, To: s.Email,
				Link: db.BaseURL + "/password/forgot"})
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return mapErr(err, "signup lookup")
		}
		acct, err := InsertAccountTx(ctx, tx, NewAccount{CompanyName: s.CompanyName, ContactName: s.FullName, ContactEmail: s.Email})
		if err != nil {
			return err
		}
		var userID int64
		err = tx.QueryRow(ctx, `INSERT INTO users (email, full_name, password_hash, last_account_id)
			VALUES ($1, $2, $3, $4) RETURNING id`, s.Email, s.FullName, s.PasswordHash, acct.ID).Scan(&userID)
		if isUniqueViolation(err, "") {
			// A concurrent sign-up took the address: answer as above.
			return portal.Errorf(portal.ECONFLICT, "signup race")
		}
		if err != nil {
			return mapErr(err, "insert user")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'principal')`, userID, acct.ID); err != nil {
			return mapErr(err, "insert membership")
		}
		actor.UserID = userID
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.signup", AccountID: acct.ID, Target: s.Email}); err != nil {
			return err
		}
		return db.IssueTokenTx(ctx, tx, portal.PurposeVerifyEmail, "user:"+strconv.FormatInt(userID, 10), s.Email,
			map[string]any{"user_id": userID, "account_id": acct.ID}, portal.VerifyEmailTTL,
			portal.Email{Template: portal.MailVerifyEmail, To: s.Email, Vars: map[string]string{
				"name": s.FullName, "company": s.CompanyName, "tech_prefix": acct.TechPrefix}})
	})
}

// ResendVerification issues a new verification link to an unverified user;
// for any other address it does nothing, silently.
func (db *DB) ResendVerification(ctx context.Context, email string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var u portal.User
		var acctID *int64
		err := tx.QueryRow(ctx, `SELECT id, email, full_name, last_account_id FROM users
			WHERE lower(email) = lower($1) AND email_verified_at IS NULL`, email).Scan(&u.ID, &u.Email, &u.FullName, &acctID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return mapErr(err, "resend lookup")
		}
		payload := map[string]any{"user_id": u.ID}
		if acctID != nil {
			payload["account_id"] = *acctID
		}
		return db.IssueTokenTx(ctx, tx, portal.PurposeVerifyEmail, "user:"+strconv.FormatInt(u.ID, 10), u.Email,
			payload, portal.VerifyEmailTTL, portal.Email{Template: portal.MailVerifyEmail, To: u.Email, Vars: map[string]string{"name": u.FullName}})
	})
}

// VerifyEmail redeems a verification token: the user's address is confirmed
// and the account the user signed up with becomes active.
func (db *DB) VerifyEmail(ctx context.Context, actor portal.Actor, raw string) (*portal.User, error) {
	var userID int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeVerifyEmail, raw)
		if err != nil {
			return err
		}
		userID = PayloadInt(t, "user_id")
		if _, err := tx.Exec(ctx, `UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
			WHERE id = $1 AND lower(email) = lower($2)`, userID, t.Email); err != nil {
			return mapErr(err, "verify user")
		}
		acctID := PayloadInt(t, "account_id")
		if acctID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE accounts SET status = 'active', activated_at = now(), updated_at = now()
				WHERE id = $1 AND status = 'pending_activation'`, acctID); err != nil {
				return mapErr(err, "activate account")
			}
		}
		actor.UserID = userID
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.email_verified", AccountID: acctID, Target: t.Email})
	})
	if err != nil {
		return nil, err
	}
	return db.UserByID(ctx, userID)
}

// UsableAccountCount counts the accounts the user can act on: memberships
// (and, for Principals of a root, its sub-accounts) in families where the
// user is not revoked. A user with none cannot sign in.
func (db *DB) UsableAccountCount(ctx context.Context, userID int64) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM memberships m
		JOIN accounts a ON a.id = m.account_id
		WHERE m.user_id = $1 AND a.status <> 'closed'
		AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = m.user_id AND r.root_id = coalesce(a.parent_id, a.id))`,
		userID).Scan(&n)
	return n, mapErr(err, "usable accounts")
}

// RecordLogin notes a successful sign-in.
func (db *DB) RecordLogin(ctx context.Context, actor portal.Actor, userID int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, userID); err != nil {
			return mapErr(err, "record login")
		}
		actor.UserID = userID
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "auth.login"})
	})
}

// RequestPasswordReset sends a reset link when the address has a login; it
// does nothing visible otherwise.
func (db *DB) RequestPasswordReset(ctx context.Context, actor portal.Actor, email string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		var addr, name string
		err := tx.QueryRow(ctx, `SELECT id, email, full_name FROM users WHERE lower(email) = lower($1)`, email).Scan(&id, &addr, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return mapErr(err, "reset lookup")
		}
		actor.UserID = id
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "auth.password_reset_requested"}); err != nil {
			return err
		}
		return db.IssueTokenTx(ctx, tx, portal.PurposeResetPassword, "user:"+strconv.FormatInt(id, 10), addr,
			map[string]any{"user_id": id}, portal.ResetPasswordTTL,
			portal.Email{Template: portal.MailResetPassword, To: addr, Vars: map[string]string{"name": name}})
	})
}

// ResetPassword redeems a reset token and sets the new password. The session
// epoch moves on, so every existing session of the user ends. Following the
// link also proves the address, so it counts as verified.
func (db *DB) ResetPassword(ctx context.Context, actor portal.Actor, raw, passwordHash string) (*portal.User, error) {
	var userID int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeResetPassword, raw)
		if err != nil {
			return err
		}
		userID = PayloadInt(t, "user_id")
		var email, name string
		err = tx.QueryRow(ctx, `UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1,
			email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
			WHERE id = $1 AND lower(email) = lower($3) RETURNING email, full_name`, userID, passwordHash, t.Email).Scan(&email, &name)
		if err != nil {
			return mapErr(err, "reset password")
		}
		actor.UserID = userID
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "auth.password_reset"}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailPasswordChanged, To: email, Vars: map[string]string{"name": name}})
	})
	if err != nil {
		return nil, err
	}
	return db.UserByID(ctx, userID)
}

// ChangePassword sets a new password for a signed-in user who proved the
// current one. Other sessions end (epoch); the caller renews its own.
func (db *DB) ChangePassword(ctx context.Context, actor portal.Actor, passwordHash string) (*portal.User, error) {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var email, name string
		err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, updated_at = now()
			WHERE id = $1 RETURNING email, full_name`, actor.UserID, passwordHash).Scan(&email, &name)
		if err != nil {
			return mapErr(err, "change password")
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "auth.password_changed"}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailPasswordChanged, To: email, Vars: map[string]string{"name": name}})
	})
	if err != nil {
		return nil, err
	}
	return db.UserByID(ctx, actor.UserID)
}

// RequestEmailChange sends a confirmation link to the new address. If the
// address already belongs to a login the request quietly does nothing, so
// the form cannot be used to probe for addresses.
func (db *DB) RequestEmailChange(ctx context.Context, actor portal.Actor, newEmail string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))`, newEmail).Scan(&taken); err != nil {
			return mapErr(err, "email change lookup")
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.email_change_requested", Target: newEmail}); err != nil {
			return err
		}
		if taken {
			return nil
		}
		var name string
		if err := tx.QueryRow(ctx, `SELECT full_name FROM users WHERE id = $1`, actor.UserID).Scan(&name); err != nil {
			return mapErr(err, "email change user")
		}
		return db.IssueTokenTx(ctx, tx, portal.PurposeChangeEmail, "user:"+strconv.FormatInt(actor.UserID, 10), newEmail,
			map[string]any{"user_id": actor.UserID}, portal.VerifyEmailTTL,
			portal.Email{Template: portal.MailChangeEmail, To: newEmail, Vars: map[string]string{"name": name}})
	})
}

// ConfirmEmailChange redeems an email-change token: the new address becomes
// the login, the old address is told, and every session of the user ends.
func (db *DB) ConfirmEmailChange(ctx context.Context, actor portal.Actor, raw string) (*portal.User, error) {
	var userID int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeChangeEmail, raw)
		if err != nil {
			return err
		}
		userID = PayloadInt(t, "user_id")
		var old, name string
		if err := tx.QueryRow(ctx, `SELECT email, full_name FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&old, &name); err != nil {
			return mapErr(err, "email change user")
		}
		_, err = tx.Exec(ctx, `UPDATE users SET email = $2, email_verified_at = now(), session_epoch = session_epoch + 1, updated_at = now()
			WHERE id = $1`, userID, t.Email)
		if isUniqueViolation(err, "") {
			return portal.Errorf(portal.ECONFLICT, "That email address is already in use.")
		}
		if err != nil {
			return mapErr(err, "change email")
		}
		actor.UserID = userID
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "user.email_changed", Target: t.Email, Details: map[string]any{"old": old}}); err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailEmailChanged, To: old,
			Vars: map[string]string{"name": name, "new_email": t.Email}})
	})
	if err != nil {
		return nil, err
	}
	return db.UserByID(ctx, userID)
}

// UpdateUserName changes the user's display name.
func (db *DB) UpdateUserName(ctx context.Context, actor portal.Actor, name string) error {
	_, err := db.Pool.Exec(ctx, `UPDATE users SET full_name = $2, updated_at = now() WHERE id = $1`, actor.UserID, name)
	return mapErr(err, "update name")
}
