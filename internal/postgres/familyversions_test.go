package postgres

import (
	"context"
	"slices"
	"testing"
)

// familyVersionTables are the tables whose every change raises the version
// of the families of the changed rows (migration 0013); users raise it only
// for the columns pages show.
var familyVersionTables = []string{"accounts", "memberships", "revocations", "account_features", "feature_requests",
	"invitations", "invitation_roles", "dids", "cdrs", "charges", "payments", "billing_info", "api_keys",
	"inbound_routes", "sip_hosts", "sip_credentials"}

// familyVersionExempt are the tables no kept page reads, or that change
// only with a table above in the same statement (the rollups).
var familyVersionExempt = []string{"sessions", "verification_tokens", "dev_mail", "email_deliveries", "rate_limits",
	"staff_users", "audit_events", "recent_accounts", "schema_migrations", "family_versions", "family_version_marks",
	"river_job", "river_leader", "river_migration", "river_notification", "river_queue", "river_client", "river_client_queue",
	"cdr_daily", "cdr_monthly", "charge_daily", "charge_monthly", "family_charge_monthly", "did_counts",
	"family_roles", "family_users", "family_totals", "family_cdr_monthly", "account_month_charges"}

// TestFamilyVersionsCoverEveryTable: every table either raises its
// families' versions on insert, update and delete, or is exempt by name; a
// new table fails here until it is one or the other.
func TestFamilyVersionsCoverEveryTable(t *testing.T) {
	db := &DB{Pool: NewTestPool(t)}
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT c.relname,
			coalesce(array_agg(t.tgname ORDER BY t.tgname) FILTER (WHERE t.tgname LIKE '%family_version%'), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_trigger t ON t.tgrelid = c.oid
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		GROUP BY c.relname ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	triggers := map[string][]string{}
	for rows.Next() {
		var name string
		var tg []string
		if err := rows.Scan(&name, &tg); err != nil {
			t.Fatal(err)
		}
		triggers[name] = tg
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name, tg := range triggers {
		switch {
		case name == "users":
			if !slices.Equal(tg, []string{"users_family_version"}) {
				t.Errorf("users: triggers %v", tg)
			}
		case slices.Contains(familyVersionTables, name):
			want := []string{name + "_family_version_delete", name + "_family_version_insert", name + "_family_version_update"}
			if !slices.Equal(tg, want) {
				t.Errorf("%s: triggers %v, want %v", name, tg, want)
			}
		case name == "family_version_marks":
			if !slices.Equal(tg, []string{"family_version_marks_commit"}) {
				t.Errorf("family_version_marks: triggers %v", tg)
			}
		case slices.Contains(familyVersionExempt, name):
			if len(tg) > 0 {
				t.Errorf("%s is exempt but has %v", name, tg)
			}
		default:
			t.Errorf("table %s neither raises family versions nor is exempt", name)
		}
	}
	for _, name := range familyVersionTables {
		if _, ok := triggers[name]; !ok {
			t.Errorf("table %s is gone", name)
		}
	}
}

// TestFamilyVersionsRise: a change to any table of a family raises that
// family's stamp, as the access read shows it, and leaves other families'
// alone; moving an account between families raises both.
func TestFamilyVersionsRise(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	acme := userID(t, db, "principal@acme.test")
	globex := userID(t, db, "owner@globex.test")
	stamp := func(uid int64, prefix string) string {
		t.Helper()
		aa, err := db.Access(ctx, uid, prefix)
		if err != nil {
			t.Fatalf("access %s: %v", prefix, err)
		}
		if aa.Stamp == "" {
			t.Fatalf("access %s: no stamp", prefix)
		}
		return aa.Stamp
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	west := `(SELECT id FROM accounts WHERE tech_prefix = '31415901')`
	changes := []struct{ what, sql string }{
		{"account", `UPDATE accounts SET company_alias = 'West' WHERE tech_prefix = '31415901'`},
		{"user name", `UPDATE users SET full_name = 'Gene Renamed' WHERE email = 'general@acme.test'`},
		{"user sign-in", `UPDATE users SET last_login_at = now() WHERE email = 'general@acme.test'`},
		{"membership", `UPDATE memberships SET role = 'power' WHERE user_id = (SELECT id FROM users WHERE email = 'general@acme.test')`},
		{"feature", `DELETE FROM account_features WHERE account_id = (SELECT id FROM accounts WHERE tech_prefix = '31415900') AND feature = 'multi_user'`},
		{"call", `INSERT INTO cdrs (account_id, started_at, direction, from_number, to_number, disposition)
			VALUES (` + west + `, now(), 'outbound', '+12065550100', '+12065550199', 'busy')`},
		{"charge", `INSERT INTO charges (account_id, occurred_at, category, description, amount_micros)
			VALUES (` + west + `, now(), 'usage', 'test', 1000)`},
		{"number", `UPDATE dids SET label = 'moved' WHERE account_id = ` + west},
		{"revocation", `INSERT INTO revocations (user_id, root_id, revoked_at) SELECT id, (SELECT id FROM accounts WHERE tech_prefix = '31415900'), now()
			FROM users WHERE email = 'general@acme.test'`},
	}
	for _, c := range changes {
		before, other := stamp(acme, "31415901"), stamp(globex, "27182800")
		exec(c.sql)
		if after := stamp(acme, "31415901"); after == before {
			t.Errorf("%s: the family's stamp stayed %s", c.what, after)
		}
		if after := stamp(globex, "27182800"); after != other {
			t.Errorf("%s: another family's stamp moved from %s to %s", c.what, other, after)
		}
	}
	// Columns no page shows leave the stamp alone.
	before := stamp(acme, "31415901")
	exec(`UPDATE users SET session_epoch = session_epoch + 1, last_account_id = ` + west + ` WHERE email = 'principal@acme.test'`)
	if after := stamp(acme, "31415901"); after != before {
		t.Errorf("a user's epoch and last account moved the stamp from %s to %s", before, after)
	}
	// An account moved to another family: both families change.
	acmeBefore, globexBefore := stamp(acme, "31415900"), stamp(globex, "27182800")
	exec(`UPDATE accounts SET parent_id = NULL WHERE tech_prefix = '31415903'`)
	exec(`UPDATE accounts SET parent_id = (SELECT id FROM accounts WHERE tech_prefix = '27182800') WHERE tech_prefix = '31415903'`)
	if stamp(acme, "31415900") == acmeBefore || stamp(globex, "27182800") == globexBefore {
		t.Error("moving an account between families left a family's stamp")
	}
}

// TestSummaryStampNamesTheUsersFamilies: the summary scope's stamp moves
// with a change to any family the user holds a role in, and when the user
// gains a family.
func TestSummaryStampNamesTheUsersFamilies(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	uid := userID(t, db, "principal@acme.test")
	s0 := scopeOf(t, db, uid).Stamp
	if s0 == "" {
		t.Fatal("no stamp")
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE accounts SET company_name = 'East Renamed' WHERE tech_prefix = '31415902'`); err != nil {
		t.Fatal(err)
	}
	s1 := scopeOf(t, db, uid).Stamp
	if s1 == s0 {
		t.Fatal("a change in the user's family left the summary stamp")
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role)
		SELECT $1, id, 'general' FROM accounts WHERE tech_prefix = '27182800'`, uid); err != nil {
		t.Fatal(err)
	}
	if s2 := scopeOf(t, db, uid).Stamp; s2 == s1 {
		t.Fatal("a new family left the summary stamp")
	}
}
