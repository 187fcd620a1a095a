package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// Profile is an account's customer information.
type Profile struct {
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
	// PendingContactEmail is a new contact address waiting for confirmation.
	PendingContactEmail string
}

func contactSubject(accountID int64) string { return "account:" + strconv.FormatInt(accountID, 10) }

// Profile returns the account's customer information.
func (db *DB) Profile(ctx context.Context, accountID int64) (*Profile, error) {
	var p Profile
	err := db.Pool.QueryRow(ctx, `SELECT company_name, company_alias, contact_name, contact_email, address_line1, address_line2,
		city, region, postal_code, country,
		coalesce((SELECT email FROM verification_tokens WHERE purpose = $2 AND subject = $3 AND used_at IS NULL AND expires_at > now()
			ORDER BY id DESC LIMIT 1), '')
		FROM accounts WHERE id = $1`, accountID, portal.PurposeContactEmail, contactSubject(accountID)).Scan(
		&p.CompanyName, &p.CompanyAlias, &p.ContactName, &p.ContactEmail, &p.Address1, &p.Address2, &p.City, &p.Region,
		&p.PostalCode, &p.Country, &p.PendingContactEmail)
	if err != nil {
		return nil, mapErr(err, "profile")
	}
	return &p, nil
}

// UpdateProfile saves the customer information. A new contact email is not
// saved but confirmed first: a link goes to the new address, and the change
// happens when it is opened (the contact address is where account links and
// activations are sent, so it must be one somebody reads). It reports
// whether such a link was sent.
func (db *DB) UpdateProfile(ctx context.Context, actor portal.Actor, accountID int64, p Profile) (bool, error) {
	sent := false
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var oldEmail, company string
		if err := tx.QueryRow(ctx, `SELECT contact_email, company_name FROM accounts WHERE id = $1 FOR UPDATE`, accountID).Scan(&oldEmail, &company); err != nil {
			return mapErr(err, "profile")
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET company_name = $2, company_alias = $3, contact_name = $4, address_line1 = $5,
			address_line2 = $6, city = $7, region = $8, postal_code = $9, country = $10, updated_at = now() WHERE id = $1`,
			accountID, p.CompanyName, p.CompanyAlias, p.ContactName, p.Address1, p.Address2, p.City, p.Region, p.PostalCode, p.Country); err != nil {
			return mapErr(err, "update profile")
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.profile_updated", AccountID: accountID,
			Details: map[string]any{"company_name": p.CompanyName, "old_company_name": company, "company_alias": p.CompanyAlias}}); err != nil {
			return err
		}
		if p.ContactEmail == "" || strings.EqualFold(p.ContactEmail, oldEmail) {
			// Saving the current address again withdraws a pending change.
			return CancelTokensTx(ctx, tx, portal.PurposeContactEmail, contactSubject(accountID))
		}
		sent = true
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.contact_email_change_requested", AccountID: accountID,
			Target: p.ContactEmail, Details: map[string]any{"old": oldEmail}}); err != nil {
			return err
		}
		return db.IssueTokenTx(ctx, tx, portal.PurposeContactEmail, contactSubject(accountID), p.ContactEmail,
			map[string]any{"account_id": accountID}, portal.VerifyEmailTTL,
			portal.Email{Template: portal.MailNotice, To: p.ContactEmail, Vars: map[string]string{
				"subject": "Confirm the contact email of " + p.CompanyName,
				"body": "Someone asked to make this address the contact email of the Carrier Portal account " + p.CompanyName +
					". Account links, activations and notices for the account will be sent here.\n\n" +
					"Open the link below to confirm. It is valid for 48 hours. If you did not expect this, ignore this email and nothing changes.",
			}})
	})
	return sent, err
}

// ContactEmailChange describes a pending contact email change for its
// confirmation page: the account's company and tech prefix.
func (db *DB) ContactEmailChange(ctx context.Context, t *portal.Token) (company, techPrefix string, err error) {
	err = db.Pool.QueryRow(ctx, `SELECT company_name, tech_prefix FROM accounts WHERE id = $1 AND status <> 'closed'`,
		PayloadInt(t, "account_id")).Scan(&company, &techPrefix)
	return company, techPrefix, mapErr(err, "contact email change")
}

// ConfirmContactEmail redeems a contact email link: the new address becomes
// the account's contact email and the old address is told. It returns the
// account's tech prefix.
func (db *DB) ConfirmContactEmail(ctx context.Context, actor portal.Actor, raw string) (string, error) {
	var prefix string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeContactEmail, raw)
		if err != nil {
			return err
		}
		accountID := PayloadInt(t, "account_id")
		if t.Subject != contactSubject(accountID) {
			return ErrTokenInvalid
		}
		var old, company string
		err = tx.QueryRow(ctx, `SELECT contact_email, company_name, tech_prefix FROM accounts WHERE id = $1 AND status <> 'closed' FOR UPDATE`,
			accountID).Scan(&old, &company, &prefix)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrTokenInvalid
		}
		if err != nil {
			return mapErr(err, "contact email account")
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET contact_email = $2, updated_at = now() WHERE id = $1`, accountID, t.Email); err != nil {
			return mapErr(err, "change contact email")
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.contact_email_changed", AccountID: accountID,
			Target: t.Email, Details: map[string]any{"old": old}}); err != nil {
			return err
		}
		if strings.EqualFold(old, t.Email) {
			return nil
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailNotice, To: old, Vars: map[string]string{
			"subject": "The contact email of " + company + " was changed",
			"body": "The contact email of the Carrier Portal account " + company + " (" + prefix + ") was changed to " + t.Email +
				". If you did not expect this, contact the account's Principal user or our support.",
		}, Link: db.BaseURL + "/accounts/" + prefix + "/profile"})
	})
	return prefix, err
}
