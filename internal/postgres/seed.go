package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// DemoPassword is the password of every demo login.
const DemoPassword = "demo-password-2026"

// demoUser is one demo login and what it may do.
type demoUser struct {
	Type, Email, Name string
	// Roles maps demo account keys to a role.
	Roles map[string]string
	// RevokedIn names the family (by root key) the user is revoked in.
	RevokedIn string
}

type demoAccount struct {
	Key, Prefix, Company, Alias, Email, Parent, Status string
}

var demoAccounts = []demoAccount{
	{"acme", "31415900", "Acme Telecom", "ACME", "billing@acme.test", "", "active"},
	{"west", "31415901", "Acme West", "Pacific", "west@acme.test", "acme", "active"},
	{"east", "31415902", "Acme East", "Atlantic", "east@acme.test", "acme", "active"},
	{"labs", "31415903", "Acme Labs", "Labs", "labs@acme.test", "acme", "pending_activation"},
	{"globex", "27182800", "Globex Networks", "Globex", "noc@globex.test", "", "active"},
	{"initech", "16180300", "Initech Voice", "", "it@initech.test", "", "active"},
}

var demoUsers = []demoUser{
	{Type: "Principal", Email: "principal@acme.test", Name: "Paula Principal", Roles: map[string]string{"acme": "principal"}},
	{Type: "Power", Email: "power@acme.test", Name: "Pete Power", Roles: map[string]string{"acme": "power", "west": "power", "east": "general"}},
	{Type: "General", Email: "general@acme.test", Name: "Gina General", Roles: map[string]string{"west": "general"}},
	{Type: "Revoked", Email: "revoked@acme.test", Name: "Rick Revoked", Roles: map[string]string{"east": "power"}, RevokedIn: "acme"},
	{Type: "Principal (sub-account)", Email: "east-owner@acme.test", Name: "Erin East", Roles: map[string]string{"east": "principal"}},
	{Type: "Principal (other family)", Email: "owner@globex.test", Name: "Gary Globex", Roles: map[string]string{"globex": "principal"}},
	{Type: "Principal (no features)", Email: "owner@initech.test", Name: "Ivy Initech", Roles: map[string]string{"initech": "principal"}},
}

// DemoStaffEmail is the demo staff login.
const DemoStaffEmail = "staff@carrier.test"

// SeedDemo loads the demo data once; it reports whether it created it.
func (db *DB) SeedDemo(ctx context.Context) (bool, error) {
	var exists bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE tech_prefix = $1)`, demoAccounts[0].Prefix).Scan(&exists); err != nil {
		return false, mapErr(err, "seed check")
	}
	if exists {
		return false, nil
	}
	hash, err := portal.HashPassword(DemoPassword)
	if err != nil {
		return false, err
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		ids := map[string]int64{}
		for _, a := range demoAccounts {
			var parent *int64
			if a.Parent != "" {
				p := ids[a.Parent]
				parent = &p
			}
			var id int64
			err := tx.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_name, contact_email,
				address_line1, city, region, postal_code, country, status, parent_id, linked_at, activated_at, created_at)
				VALUES ($1, $2, $3, $4, $5, '100 Main Street', 'Seattle', 'WA', '98101', 'US', $6, $7,
				        CASE WHEN $7::bigint IS NULL THEN NULL ELSE now() - interval '30 days' END,
				        CASE WHEN $6 = 'active' THEN now() - interval '90 days' END, now() - interval '120 days')
				RETURNING id`, a.Prefix, a.Company, a.Alias, a.Company+" Billing", a.Email, a.Status, parent).Scan(&id)
			if err != nil {
				return fmt.Errorf("account %s: %w", a.Key, err)
			}
			ids[a.Key] = id
		}
		var staffID int64
		if err := tx.QueryRow(ctx, `INSERT INTO staff_users (email, full_name, password_hash) VALUES ($1, 'Sam Staff', $2)
			ON CONFLICT (lower(email)) DO UPDATE SET full_name = EXCLUDED.full_name RETURNING id`, DemoStaffEmail, hash).Scan(&staffID); err != nil {
			return fmt.Errorf("staff: %w", err)
		}
		userIDs := map[string]int64{}
		for _, u := range demoUsers {
			var uid int64
			if err := tx.QueryRow(ctx, `INSERT INTO users (email, full_name, password_hash, email_verified_at, last_login_at)
				VALUES ($1, $2, $3, now() - interval '90 days', now() - interval '1 day') RETURNING id`, u.Email, u.Name, hash).Scan(&uid); err != nil {
				return fmt.Errorf("user %s: %w", u.Email, err)
			}
			userIDs[u.Email] = uid
			for key, role := range u.Roles {
				if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role, granted_at) VALUES ($1, $2, $3, now() - interval '60 days')`,
					uid, ids[key], role); err != nil {
					return fmt.Errorf("membership %s: %w", u.Email, err)
				}
			}
		}
		principal := userIDs["principal@acme.test"]
		for _, u := range demoUsers {
			if u.RevokedIn != "" {
				if _, err := tx.Exec(ctx, `INSERT INTO revocations (user_id, root_id, revoked_by, revoked_at) VALUES ($1, $2, $3, now() - interval '5 days')`,
					userIDs[u.Email], ids[u.RevokedIn], principal); err != nil {
					return fmt.Errorf("revocation: %w", err)
				}
			}
		}
		// Acme has both features approved; Globex waits for review.
		for _, f := range portal.Features {
			if _, err := tx.Exec(ctx, `INSERT INTO feature_requests (account_id, feature, status, requested_by, requested_at, reviewed_by, reviewed_at, staff_note)
				VALUES ($1, $2, 'approved', $3, now() - interval '40 days', $4, now() - interval '38 days', 'Approved for the early release.')`,
				ids["acme"], string(f), principal, staffID); err != nil {
				return fmt.Errorf("feature request: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO account_features (account_id, feature, enabled_at) VALUES ($1, $2, now() - interval '38 days')`,
				ids["acme"], string(f)); err != nil {
				return fmt.Errorf("feature: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO feature_requests (account_id, feature, requested_by, requested_at)
			VALUES ($1, 'sub_accounts', $2, now() - interval '2 days')`, ids["globex"], userIDs["owner@globex.test"]); err != nil {
			return fmt.Errorf("pending request: %w", err)
		}
		if err := seedInvitations(ctx, tx, ids, userIDs); err != nil {
			return err
		}
		return seedResources(ctx, tx, ids, userIDs)
	})
	return err == nil, mapErr(err, "seed demo")
}

// seedInvitations leaves one pending and one expired invitation in Acme's
// User Management. Their links were never sent; resending issues one.
func seedInvitations(ctx context.Context, tx pgx.Tx, accounts, users map[string]int64) error {
	invites := []struct {
		email, name, account, role string
		sentDaysAgo                int
	}{
		{"newhire@acme.test", "Nina Newhire", "west", "general", 2},
		{"late@acme.test", "Lou Late", "east", "power", 9},
	}
	for _, in := range invites {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO invitations (account_id, email, full_name, invited_by, created_at, sent_at, expires_at)
			VALUES ($1, $2, $3, $4, now() - make_interval(days => $5), now() - make_interval(days => $5), now() - make_interval(days => $5) + $6::interval)
			RETURNING id`, accounts["acme"], in.email, in.name, users["principal@acme.test"], in.sentDaysAgo, portal.InviteTTL.String()).Scan(&id); err != nil {
			return fmt.Errorf("invitation %s: %w", in.email, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO invitation_roles (invitation_id, account_id, role) VALUES ($1, $2, $3)`,
			id, accounts[in.account], in.role); err != nil {
			return fmt.Errorf("invitation role %s: %w", in.email, err)
		}
	}
	return nil
}

// seedResources fills the demo accounts with resources; it grows as the
// portal does.
var seedResources = func(ctx context.Context, tx pgx.Tx, accounts, users map[string]int64) error { return nil }

// DemoLogins returns the table of demo logins printed by `portal seed`.
func DemoLogins(baseURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nDemo logins (password for all: %s)\n", DemoPassword)
	fmt.Fprintf(&b, "  %-26s %s\n", "user type", "email")
	for _, u := range demoUsers {
		fmt.Fprintf(&b, "  %-26s %s\n", u.Type, u.Email)
	}
	fmt.Fprintf(&b, "  %-26s %s   (sign in at %s/staff/login)\n", "Staff", DemoStaffEmail, baseURL)
	fmt.Fprintf(&b, "\nPortal: %s    Mailbox: %s/dev/mailbox\n", baseURL, baseURL)
	return b.String()
}
