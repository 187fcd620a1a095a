package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// SubAccount is one row of Advanced Settings' list of sub-accounts.
type SubAccount struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	ContactEmail string
	Status       string
	LinkedAt     *time.Time
	CreatedAt    time.Time
	Balance      int64
}

const subAccountCols = `a.id, a.tech_prefix, a.company_name, a.company_alias, a.contact_email, a.status, a.linked_at, a.created_at, a.balance_micros`

func scanSubAccount(row pgx.Row) (SubAccount, error) {
	var s SubAccount
	err := row.Scan(&s.ID, &s.TechPrefix, &s.CompanyName, &s.CompanyAlias, &s.ContactEmail, &s.Status, &s.LinkedAt, &s.CreatedAt, &s.Balance)
	return s, err
}

// SubAccounts lists a root's sub-accounts matching q, in name order, one
// page at a time, with the number that match.
func (db *DB) SubAccounts(ctx context.Context, parentID int64, q string, offset, limit int) ([]SubAccount, int, error) {
	where, args := searchFilter(q, 2)
	args = append([]any{parentID}, args...)
	var list []SubAccount
	var total int
	b := &pgx.Batch{}
	b.Queue(`SELECT `+subAccountCols+` FROM accounts a WHERE a.parent_id = $1 AND a.status <> 'closed'`+where+`
		ORDER BY lower(a.company_name), a.id LIMIT `+strconv.Itoa(limit)+` OFFSET `+strconv.Itoa(max(0, offset)), args...).
		Query(func(rows pgx.Rows) (err error) {
			list, err = scanAll(rows, scanSubAccount)
			return err
		})
	b.Queue(`SELECT count(*) FROM accounts a WHERE a.parent_id = $1 AND a.status <> 'closed'`+where, args...).
		QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, mapErr(err, "sub-accounts")
	}
	return list, total, nil
}

// SubAccountOf returns a sub-account of parentID by tech prefix; any other
// account is not found.
func (db *DB) SubAccountOf(ctx context.Context, parentID int64, prefix string) (*SubAccount, error) {
	if !portal.ValidTechPrefix(prefix) {
		return nil, portal.ErrNotFound
	}
	s, err := scanSubAccount(db.Pool.QueryRow(ctx, `SELECT `+subAccountCols+` FROM accounts a
		WHERE a.parent_id = $1 AND a.tech_prefix = $2 AND a.status <> 'closed'`, parentID, prefix))
	if err != nil {
		return nil, mapErr(err, "sub-account")
	}
	return &s, nil
}

// CreateSubAccount adds a new account under a root, pending activation, and
// sends the activation link to its contact address. The hierarchy trigger
// refuses a parent that is itself a sub-account.
func (db *DB) CreateSubAccount(ctx context.Context, actor portal.Actor, parentID int64, a NewAccount) (*portal.Account, error) {
	var acct *portal.Account
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var parentCompany, inviter string
		if err := tx.QueryRow(ctx, `SELECT a.company_name, coalesce(u.full_name, '') FROM accounts a
			LEFT JOIN users u ON u.id = $2 WHERE a.id = $1`, parentID, actor.UserID).Scan(&parentCompany, &inviter); err != nil {
			return mapErr(err, "new sub-account parent")
		}
		a.ParentID = &parentID
		var err error
		if acct, err = InsertAccountTx(ctx, tx, a); err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.created", AccountID: parentID, Target: acct.TechPrefix,
			Details: map[string]any{"company": acct.CompanyName, "contact_email": acct.ContactEmail}}); err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.created", AccountID: acct.ID,
			Details: map[string]any{"parent": parentID}}); err != nil {
			return err
		}
		return db.issueActivationTx(ctx, tx, acct, a.ContactName, inviter, parentCompany)
	})
	return acct, err
}

func (db *DB) issueActivationTx(ctx context.Context, tx pgx.Tx, acct *portal.Account, name, inviter, parentCompany string) error {
	return db.IssueTokenTx(ctx, tx, portal.PurposeActivateAccount, "account:"+strconv.FormatInt(acct.ID, 10), acct.ContactEmail,
		map[string]any{"account_id": acct.ID}, portal.ActivateTTL,
		portal.Email{Template: portal.MailActivateAccount, To: acct.ContactEmail, Vars: map[string]string{
			"name": name, "company": acct.CompanyName, "tech_prefix": acct.TechPrefix,
			"inviter": inviter, "parent_company": parentCompany}})
}

// ResendActivation sends a new activation link for a sub-account still
// pending activation; the new link replaces the old one.
func (db *DB) ResendActivation(ctx context.Context, actor portal.Actor, parentID int64, prefix string) (*SubAccount, error) {
	s, err := db.SubAccountOf(ctx, parentID, prefix)
	if err != nil {
		return nil, err
	}
	if s.Status != portal.StatusPendingActivation {
		return nil, portal.Errorf(portal.ECONFLICT, "%s is already active.", s.CompanyName)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var name, parentCompany, inviter string
		if err := tx.QueryRow(ctx, `SELECT c.contact_name, p.company_name, coalesce(u.full_name, '')
			FROM accounts c JOIN accounts p ON p.id = c.parent_id LEFT JOIN users u ON u.id = $3
			WHERE c.id = $1 AND c.parent_id = $2 AND c.status = 'pending_activation' FOR UPDATE OF c`,
			s.ID, parentID, actor.UserID).Scan(&name, &parentCompany, &inviter); err != nil {
			return mapErr(err, "resend activation")
		}
		acct := &portal.Account{ID: s.ID, TechPrefix: s.TechPrefix, CompanyName: s.CompanyName, ContactEmail: s.ContactEmail}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.activation_resent", AccountID: parentID, Target: s.TechPrefix}); err != nil {
			return err
		}
		return db.issueActivationTx(ctx, tx, acct, name, inviter, parentCompany)
	})
	return s, err
}

// Activation is an account waiting for its first Principal, as its
// activation link describes it.
type Activation struct {
	AccountID     int64
	TechPrefix    string
	CompanyName   string
	ParentCompany string
	// Email is where the link was sent: the first Principal's login.
	Email string
	// ExistingUserID is the login that already uses Email, if any.
	ExistingUserID int64
}

// ErrAlreadyActive is returned for an activation link of an account that is
// no longer waiting for activation.
var ErrAlreadyActive = &portal.Error{Code: portal.ECONFLICT, Message: "This account has already been activated. Sign in to use it."}

// ActivationInfo describes what an activation token will do.
func (db *DB) ActivationInfo(ctx context.Context, t *portal.Token) (*Activation, error) {
	act := Activation{AccountID: PayloadInt(t, "account_id"), Email: t.Email}
	var status string
	var userID *int64
	err := db.Pool.QueryRow(ctx, `SELECT a.tech_prefix, a.company_name, a.status, coalesce(p.company_name, ''),
			(SELECT u.id FROM users u WHERE lower(u.email) = lower($2))
		FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_id WHERE a.id = $1`, act.AccountID, t.Email).
		Scan(&act.TechPrefix, &act.CompanyName, &status, &act.ParentCompany, &userID)
	if err != nil {
		return nil, mapErr(err, "activation")
	}
	if status != portal.StatusPendingActivation {
		return nil, ErrAlreadyActive
	}
	if userID != nil {
		act.ExistingUserID = *userID
	}
	return &act, nil
}

// ActivationLogin is who becomes the first Principal: an existing login
// (UserID, whose identity the caller has checked) or a new one.
type ActivationLogin struct {
	UserID       int64
	FullName     string
	PasswordHash string
}

// ActivateAccount redeems an activation link: the account becomes active
// with the login as its Principal. A new login is created verified, since
// following the link proves the address. The parent's Principals are told.
func (db *DB) ActivateAccount(ctx context.Context, actor portal.Actor, raw string, login ActivationLogin) (*portal.User, *portal.Account, error) {
	var acct portal.Account
	userID := login.UserID
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeActivateAccount, raw)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id, tech_prefix, company_name, company_alias, contact_email, status, parent_id, created_at
			FROM accounts WHERE id = $1 FOR UPDATE`, PayloadInt(t, "account_id")).
			Scan(&acct.ID, &acct.TechPrefix, &acct.CompanyName, &acct.CompanyAlias, &acct.ContactEmail, &acct.Status, &acct.ParentID, &acct.CreatedAt)
		if err != nil {
			return mapErr(err, "activation account")
		}
		if acct.Status != portal.StatusPendingActivation {
			return ErrAlreadyActive
		}
		if userID != 0 {
			tag, err := tx.Exec(ctx, `UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), last_account_id = $3, updated_at = now()
				WHERE id = $1 AND lower(email) = lower($2)`, userID, t.Email, acct.ID)
			if err != nil {
				return mapErr(err, "activation user")
			}
			if tag.RowsAffected() != 1 {
				return portal.Errorf(portal.EFORBIDDEN, "This activation link was sent to another address.")
			}
		} else {
			err = tx.QueryRow(ctx, `INSERT INTO users (email, full_name, password_hash, email_verified_at, last_account_id)
				VALUES ($1, $2, $3, now(), $4) RETURNING id`, t.Email, login.FullName, login.PasswordHash, acct.ID).Scan(&userID)
			if isUniqueViolation(err, "") {
				return portal.Errorf(portal.ECONFLICT, "%s has a login now. Open the link again and sign in with it to accept.", t.Email)
			}
			if err != nil {
				return mapErr(err, "activation login")
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'principal')
			ON CONFLICT (user_id, account_id) DO UPDATE SET role = 'principal', granted_at = now()`, userID, acct.ID); err != nil {
			return mapErr(err, "activation membership")
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET status = 'active', activated_at = now(), updated_at = now() WHERE id = $1`, acct.ID); err != nil {
			return mapErr(err, "activate")
		}
		acct.Status = portal.StatusActive
		actor.UserID = userID
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.activated", AccountID: acct.ID, Target: t.Email}); err != nil {
			return err
		}
		if acct.ParentID == nil {
			return nil
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.activated", AccountID: *acct.ParentID, Target: acct.TechPrefix}); err != nil {
			return err
		}
		return db.noticeTx(ctx, tx, *acct.ParentID, "A sub-account was activated",
			acct.CompanyName+" ("+acct.TechPrefix+") is now active, with "+t.Email+" as its Principal user. You can manage it from the account picker.")
	})
	if err != nil {
		return nil, nil, err
	}
	u, err := db.UserByID(ctx, userID)
	return u, &acct, err
}

// recipient is someone an account's notices go to.
type recipient struct{ email, name string }

// principalsTx lists who hears about changes to an account: its Principal
// users who are not revoked in its family, or, when it has none, the
// contact address on record.
func principalsTx(ctx context.Context, tx pgx.Tx, accountID int64) ([]recipient, error) {
	rows, err := tx.Query(ctx, `SELECT u.email, u.full_name FROM memberships m
		JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = m.account_id
		WHERE m.account_id = $1 AND m.role = 'principal'
		  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = m.user_id AND r.root_id = coalesce(a.parent_id, a.id))
		ORDER BY u.id`, accountID)
	if err != nil {
		return nil, mapErr(err, "principals")
	}
	list, err := scanAll(rows, func(r pgx.Row) (recipient, error) {
		var p recipient
		return p, r.Scan(&p.email, &p.name)
	})
	if err != nil {
		return nil, mapErr(err, "principals")
	}
	if len(list) == 0 {
		var p recipient
		err := tx.QueryRow(ctx, `SELECT contact_email, contact_name FROM accounts WHERE id = $1`, accountID).Scan(&p.email, &p.name)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, mapErr(err, "contact")
		}
		if p.email != "" {
			list = append(list, p)
		}
	}
	return list, nil
}

// noticeTx emails a short notice to an account's Principals.
func (db *DB) noticeTx(ctx context.Context, tx pgx.Tx, accountID int64, subject, body string) error {
	to, err := principalsTx(ctx, tx, accountID)
	if err != nil {
		return err
	}
	for _, p := range to {
		if err := db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailNotice, To: p.email, Link: db.BaseURL + "/",
			Vars: map[string]string{"name": p.name, "subject": subject, "body": body}}); err != nil {
			return err
		}
	}
	return nil
}
