package postgres

import (
	"context"
	"maps"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// mailLog records each email as a dev_mail row inside the caller's
// transaction (subject = template, text = link), so a test sees exactly the
// emails of committed work.
type mailLog struct{}

func (mailLog) EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error {
	_, err := tx.Exec(ctx, `INSERT INTO dev_mail (to_addr, subject, text_body, html_body) VALUES ($1, $2, $3, '')`,
		e.To, e.Template, e.Link)
	return err
}

// demoFamily is the demo data loaded into a fresh database, with the ids a
// multi-user test needs.
type demoFamily struct {
	t        *testing.T
	db       *DB
	users    map[string]int64 // by email
	accounts map[string]int64 // by tech prefix
	root     *UserScope       // Acme's whole family
	east     *UserScope       // the East sub-account alone
}

func newDemoFamily(t *testing.T) *demoFamily {
	t.Helper()
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(t), Outbox: mailLog{}, BaseURL: "https://portal.example.test"}
	if _, err := db.SeedDemo(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	f := &demoFamily{t: t, db: db, users: map[string]int64{}, accounts: map[string]int64{}}
	rows, _ := db.Pool.Query(ctx, `SELECT email, id FROM users`)
	for rows.Next() {
		var e string
		var id int64
		_ = rows.Scan(&e, &id)
		f.users[e] = id
	}
	rows.Close()
	rows, _ = db.Pool.Query(ctx, `SELECT tech_prefix, id FROM accounts`)
	for rows.Next() {
		var p string
		var id int64
		_ = rows.Scan(&p, &id)
		f.accounts[p] = id
	}
	rows.Close()
	f.root = f.scope("principal@acme.test", "31415900")
	f.east = f.scope("east-owner@acme.test", "31415902")
	return f
}

func (f *demoFamily) scope(email, prefix string) *UserScope {
	f.t.Helper()
	aa, err := f.db.Access(context.Background(), f.users[email], prefix)
	if err != nil {
		f.t.Fatalf("access %s %s: %v", email, prefix, err)
	}
	s, err := f.db.ManagedScope(context.Background(), aa.Account)
	if err != nil {
		f.t.Fatalf("scope: %v", err)
	}
	return s
}

func (f *demoFamily) actor(email string) portal.Actor {
	return portal.Actor{UserID: f.users[email], IP: "192.0.2.7", RequestID: "test"}
}

// roles returns the user's memberships, by tech prefix.
func (f *demoFamily) roles(email string) map[string]string {
	f.t.Helper()
	rows, err := f.db.Pool.Query(context.Background(), `SELECT a.tech_prefix, m.role FROM memberships m
		JOIN accounts a ON a.id = m.account_id JOIN users u ON u.id = m.user_id WHERE lower(u.email) = lower($1)`, email)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var p, r string
		_ = rows.Scan(&p, &r)
		out[p] = r
	}
	return out
}

// access returns the user's effective role on each account, as the server
// sees it on every request ("none" where it is not found).
func (f *demoFamily) access(email string, prefixes ...string) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	for _, p := range prefixes {
		aa, err := f.db.Access(context.Background(), f.users[email], p)
		switch portal.ErrorCode(err) {
		case "":
			out[p] = aa.Role.String()
		case portal.ENOTFOUND:
			out[p] = "none"
		default:
			f.t.Fatalf("access %s %s: %v", email, p, err)
		}
	}
	return out
}

func (f *demoFamily) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

// activePrincipals counts the active Principals of Acme's root.
func (f *demoFamily) activePrincipals() int {
	return f.count(`SELECT count(*) FROM memberships m WHERE m.account_id = $1 AND m.role = 'principal'
		AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = m.user_id AND r.root_id = $1)`, f.accounts["31415900"])
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := portal.ErrorCode(err); got != code {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

var acmePrefixes = []string{"31415900", "31415901", "31415902"}

func TestRevokeKeepsRolesAndRestoreReturnsThem(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	power := f.users["power@acme.test"]
	beforeRoles := f.roles("power@acme.test")
	beforeAccess := f.access("power@acme.test", acmePrefixes...)
	if want := map[string]string{"31415900": "power", "31415901": "power", "31415902": "general"}; !maps.Equal(beforeAccess, want) {
		t.Fatalf("demo access: got %v, want %v", beforeAccess, want)
	}

	if err := f.db.RevokeUser(ctx, f.actor("principal@acme.test"), f.root, power); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := f.roles("power@acme.test"); !maps.Equal(got, beforeRoles) {
		t.Errorf("memberships after revoke: got %v, want %v (kept)", got, beforeRoles)
	}
	if got, want := f.access("power@acme.test", acmePrefixes...), map[string]string{"31415900": "none", "31415901": "none", "31415902": "none"}; !maps.Equal(got, want) {
		t.Errorf("access while revoked: got %v, want %v", got, want)
	}
	if n, _ := f.db.UsableAccountCount(ctx, power); n != 0 {
		t.Errorf("usable accounts while revoked: got %d, want 0 (cannot sign in)", n)
	}
	wantCode(t, "revoke twice", f.db.RevokeUser(ctx, f.actor("principal@acme.test"), f.root, power), portal.ECONFLICT)
	_, err := f.db.SetUserRoles(ctx, f.actor("principal@acme.test"), f.root, power, map[int64]portal.Role{f.accounts["31415901"]: portal.RoleGeneral})
	wantCode(t, "edit roles while revoked", err, portal.EINVALID)

	// The user's own row changes in between; the roles do not care.
	if _, err := f.db.Pool.Exec(ctx, `UPDATE users SET full_name = 'Pete Renamed', email = 'pete@acme.test' WHERE id = $1`, power); err != nil {
		t.Fatal(err)
	}
	if err := f.db.RestoreUser(ctx, f.actor("principal@acme.test"), f.root, power); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := f.roles("pete@acme.test"); !maps.Equal(got, beforeRoles) {
		t.Errorf("memberships after restore: got %v, want %v", got, beforeRoles)
	}
	if got := f.access("power@acme.test", acmePrefixes...); !maps.Equal(got, beforeAccess) {
		t.Errorf("access after restore: got %v, want %v (same as before)", got, beforeAccess)
	}
	wantCode(t, "restore twice", f.db.RestoreUser(ctx, f.actor("principal@acme.test"), f.root, power), portal.ECONFLICT)

	if got := f.count(`SELECT count(*) FROM dev_mail WHERE subject IN ('revoked', 'restored') AND to_addr IN ('power@acme.test', 'pete@acme.test')`); got != 2 {
		t.Errorf("revoked/restored emails: got %d, want 2", got)
	}
	if got := f.count(`SELECT count(*) FROM audit_events WHERE action IN ('user.revoked', 'user.restored') AND details->>'user_id' = $1::bigint::text`, power); got != 2 {
		t.Errorf("audit events: got %d, want 2", got)
	}
}

func TestLastPrincipalCannotBeRevokedOrDemoted(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	acme := f.accounts["31415900"]
	paula := f.actor("principal@acme.test")

	_, err := f.db.SetUserRoles(ctx, paula, f.root, paula.UserID, map[int64]portal.Role{acme: portal.RolePower})
	wantCode(t, "demote the last Principal", err, portal.ECONFLICT)
	_, err = f.db.SetUserRoles(ctx, paula, f.root, paula.UserID, map[int64]portal.Role{acme: portal.RoleNone})
	wantCode(t, "remove the last Principal", err, portal.ECONFLICT)
	wantCode(t, "revoke oneself", f.db.RevokeUser(ctx, paula, f.root, paula.UserID), portal.EINVALID)
	if got := f.activePrincipals(); got != 1 {
		t.Fatalf("active principals: got %d, want 1", got)
	}

	// With a second Principal, one of them may step down.
	if _, err := f.db.SetUserRoles(ctx, paula, f.root, f.users["general@acme.test"], map[int64]portal.Role{acme: portal.RolePrincipal}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	if n, err := f.db.SetUserRoles(ctx, paula, f.root, paula.UserID, map[int64]portal.Role{acme: portal.RolePower}); err != nil || n != 1 {
		t.Fatalf("step down with another Principal: %d, %v", n, err)
	}
	gina := f.actor("general@acme.test")
	_, err = f.db.SetUserRoles(ctx, gina, f.root, gina.UserID, map[int64]portal.Role{acme: portal.RoleGeneral})
	wantCode(t, "the new last Principal steps down", err, portal.ECONFLICT)
	if got := f.activePrincipals(); got != 1 {
		t.Errorf("active principals: got %d, want 1", got)
	}
}

// TestLastPrincipalUnderConcurrency has two Principals revoke (or demote)
// each other at the same moment, again and again: one always remains.
func TestLastPrincipalUnderConcurrency(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	acme := f.accounts["31415900"]
	a, b := f.actor("principal@acme.test"), f.actor("general@acme.test")
	if _, err := f.db.SetUserRoles(ctx, a, f.root, b.UserID, map[int64]portal.Role{acme: portal.RolePrincipal}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	// both runs two changes at once and makes sure they overlap: the table
	// each writes is locked until both are under way (holding the family
	// lock or waiting for it), so without the family lock both would pass
	// their checks before either commits.
	both := func(table string, fa, fb func() error) []error {
		hold, err := f.db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hold.Exec(ctx, "LOCK TABLE "+table+" IN EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, fn := range []func() error{fa, fb} {
			wg.Go(func() { errs[i] = fn() })
		}
		for i := 0; f.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) < 2; i++ {
			if i > 500 {
				t.Fatal("the two changes never waited on each other")
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = hold.Rollback(ctx)
		wg.Wait()
		return errs
	}
	for round := range 6 {
		var errs []error
		if round%2 == 0 {
			errs = both("revocations", func() error { return f.db.RevokeUser(ctx, a, f.root, b.UserID) },
				func() error { return f.db.RevokeUser(ctx, b, f.root, a.UserID) })
		} else {
			demote := func(by portal.Actor, who int64) func() error {
				return func() error {
					_, err := f.db.SetUserRoles(ctx, by, f.root, who, map[int64]portal.Role{acme: portal.RolePower})
					return err
				}
			}
			errs = both("memberships", demote(a, b.UserID), demote(b, a.UserID))
		}
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if c := portal.ErrorCode(err); c != portal.EFORBIDDEN && c != portal.ECONFLICT {
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 succeeded (%v), want exactly 1", round, ok, errs)
		}
		if got := f.activePrincipals(); got != 1 {
			t.Fatalf("round %d: active principals %d, want 1", round, got)
		}
		// The survivor brings the other back for the next round.
		survivor, other := a, b
		if errs[1] == nil {
			survivor, other = b, a
		}
		if round%2 == 0 {
			err := f.db.RestoreUser(ctx, survivor, f.root, other.UserID)
			if err != nil {
				t.Fatalf("round %d: restore: %v", round, err)
			}
		} else if _, err := f.db.SetUserRoles(ctx, survivor, f.root, other.UserID, map[int64]portal.Role{acme: portal.RolePrincipal}); err != nil {
			t.Fatalf("round %d: promote again: %v", round, err)
		}
	}
}

func TestGrantAboveOwnRejected(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	acme, east := f.accounts["31415900"], f.accounts["31415902"]
	// Each change would be real: the target (Gina, General on West) holds
	// none of these roles yet.
	cases := []struct {
		name    string
		actor   string
		scope   *UserScope
		roles   map[int64]portal.Role
		setCode string
	}{
		{"Power grants Principal", "power@acme.test", f.root, map[int64]portal.Role{acme: portal.RolePrincipal}, portal.EFORBIDDEN},
		{"Power grants Power", "power@acme.test", f.root, map[int64]portal.Role{acme: portal.RolePower}, portal.EFORBIDDEN},
		{"General grants itself more", "general@acme.test", f.root, map[int64]portal.Role{east: portal.RoleGeneral}, portal.EFORBIDDEN},
		{"sub-account Principal grants on the root", "east-owner@acme.test", f.root, map[int64]portal.Role{acme: portal.RoleGeneral}, portal.EFORBIDDEN},
		// From East, Gina (West only) is not even visible.
		{"sub-account Principal outside its scope", "east-owner@acme.test", f.east, map[int64]portal.Role{acme: portal.RoleGeneral}, portal.ENOTFOUND},
		{"revoked user", "revoked@acme.test", f.root, map[int64]portal.Role{east: portal.RoleGeneral}, portal.EFORBIDDEN},
	}
	target := f.users["general@acme.test"]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.count(`SELECT count(*) FROM invitations`)
			_, err := f.db.Invite(ctx, f.actor(c.actor), c.scope, NewInvitation{Name: "New Person", Email: "new@example.test", Roles: c.roles})
			wantCode(t, "invite", err, portal.EFORBIDDEN)
			if got := f.count(`SELECT count(*) FROM invitations`); got != before {
				t.Errorf("invitations: got %d, want %d", got, before)
			}
			rolesBefore := f.roles("general@acme.test")
			_, err = f.db.SetUserRoles(ctx, f.actor(c.actor), c.scope, target, c.roles)
			wantCode(t, "set roles", err, c.setCode)
			if got := f.roles("general@acme.test"); !maps.Equal(got, rolesBefore) {
				t.Errorf("roles changed: got %v, want %v", got, rolesBefore)
			}
		})
	}
	for _, c := range []struct {
		own, want portal.Role
		ok        bool
	}{
		{portal.RolePrincipal, portal.RolePrincipal, true}, {portal.RolePower, portal.RolePrincipal, false},
		{portal.RolePower, portal.RolePower, true}, {portal.RoleGeneral, portal.RolePower, false}, {portal.RoleNone, portal.RoleGeneral, false},
	} {
		if got := checkGrant(c.own, c.want) == nil; got != c.ok {
			t.Errorf("checkGrant(%v, %v): allowed %v, want %v", c.own, c.want, got, c.ok)
		}
	}
}

func TestSubAccountPrincipalManagesOnlyItsAccount(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	erin := f.actor("east-owner@acme.test")
	users, _, err := f.db.ManagedUsers(ctx, f.east, UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Email)
	}
	// Pete is Power on Acme and West besides General on East; Rick works on
	// East only; Lou's expired invitation is for East.
	want := []string{"east-owner@acme.test", "late@acme.test", "power@acme.test", "revoked@acme.test"}
	if !equalSorted(got, want) {
		t.Errorf("East's users: got %v, want %v", got, want)
	}
	// Pete also works elsewhere in the family: only the root may revoke him.
	wantCode(t, "revoke a family-wide user", f.db.RevokeUser(ctx, erin, f.east, f.users["power@acme.test"]), portal.EFORBIDDEN)
	// Rick works on East only: East's Principal may restore him.
	if err := f.db.RestoreUser(ctx, erin, f.east, f.users["revoked@acme.test"]); err != nil {
		t.Fatalf("restore East-only user: %v", err)
	}
	// A user of another account of the family is not there at all.
	wantCode(t, "revoke a West user", f.db.RevokeUser(ctx, erin, f.east, f.users["general@acme.test"]), portal.ENOTFOUND)
	if _, err := f.db.ManagedUser(ctx, f.east, f.users["general@acme.test"]); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("West user from East: got %v, want not found", err)
	}
	// East's Principal changes Pete's East role only.
	if _, err := f.db.SetUserRoles(ctx, erin, f.east, f.users["power@acme.test"], map[int64]portal.Role{f.accounts["31415902"]: portal.RolePower}); err != nil {
		t.Fatalf("set East role: %v", err)
	}
	if got, want := f.roles("power@acme.test"), map[string]string{"31415900": "power", "31415901": "power", "31415902": "power"}; !maps.Equal(got, want) {
		t.Errorf("Pete's roles: got %v, want %v", got, want)
	}
}

func equalSorted(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

var tokenInLink = regexp.MustCompile(`/verify/([A-Za-z0-9_-]{43})$`)

// lastToken returns the raw token of the newest email to an address.
func (f *demoFamily) lastToken(to string) string {
	f.t.Helper()
	var link string
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT text_body FROM dev_mail WHERE lower(to_addr) = lower($1) ORDER BY id DESC LIMIT 1`,
		to).Scan(&link); err != nil {
		f.t.Fatalf("no email to %s: %v", to, err)
	}
	m := tokenInLink.FindStringSubmatch(link)
	if m == nil {
		f.t.Fatalf("no token in %q", link)
	}
	return m[1]
}
