package postgres

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// referenceUsers runs the list as it was read before migration 0009
// (testdata/managed_users_reference.sql), straight from memberships and
// accounts.
func (f *demoFamily) referenceUsers(scope *UserScope, uf UserFilter) ([]ManagedUser, int) {
	f.t.Helper()
	sql, err := os.ReadFile("testdata/managed_users_reference.sql")
	if err != nil {
		f.t.Fatal(err)
	}
	if uf.Limit <= 0 {
		uf.Limit = 50
	}
	rows, err := f.db.Pool.Query(context.Background(), string(sql), scope.AccountID, scope.RootID, uf.Query, uf.AccountID, uf.Type,
		uf.Limit, uf.UserID, uf.Offset, scope.AccountID == scope.RootID, uf.Account, uf.MaxRoles)
	if err != nil {
		f.t.Fatalf("reference list: %v", err)
	}
	defer rows.Close()
	var out []ManagedUser
	total := 0
	for rows.Next() {
		var u ManagedUser
		var ids []int64
		var prefixes, companies, roles []string
		var n, top int
		if err := rows.Scan(&u.UserID, &u.InvitationID, &u.Name, &u.Email, &u.LastLoginAt, &u.SentAt, &u.ExpiresAt,
			&u.InvitedBy, &ids, &prefixes, &companies, &roles, &n, &top, &u.Manageable, &u.Status, &total); err != nil {
			f.t.Fatalf("reference list: %v", err)
		}
		u.Roles = make([]AccountRole, 0, len(ids))
		for i, id := range ids {
			role, _ := portal.ParseRole(roles[i])
			u.Roles = append(u.Roles, AccountRole{AccountID: id, TechPrefix: prefixes[i], CompanyName: companies[i], Role: role})
		}
		u.MoreRoles = n - len(u.Roles)
		u.top = topRoles[top]
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatalf("reference list: %v", err)
	}
	return out, total
}

// listFilters are the views compared with the reference: every filter, a
// page cut, and role cuts on both sides of what family_users keeps.
func (f *demoFamily) listFilters() []UserFilter {
	var out []UserFilter
	for _, n := range []int{0, 1, 2, topRolesKept, topRolesKept + 1} {
		out = append(out, UserFilter{MaxRoles: n})
	}
	for _, t := range []string{"principal", "power", "general", "revoked", "invited", "nonsense"} {
		out = append(out, UserFilter{Type: t, MaxRoles: topRolesKept})
	}
	return append(out,
		UserFilter{Query: "ACME", MaxRoles: topRolesKept},
		UserFilter{Query: "ivan", MaxRoles: 1},
		UserFilter{Account: "314159", MaxRoles: topRolesKept},
		UserFilter{Account: "acme e", MaxRoles: 0},
		UserFilter{Account: "Bulk", Type: "power", MaxRoles: 3},
		UserFilter{AccountID: f.accounts["31415901"], MaxRoles: topRolesKept},
		UserFilter{AccountID: f.accounts["31415902"], Account: "atl", MaxRoles: 0},
		UserFilter{UserID: f.users["power@acme.test"]},
		UserFilter{UserID: f.users["power@acme.test"], MaxRoles: 1},
		UserFilter{Limit: 3, Offset: 2, MaxRoles: topRolesKept},
		UserFilter{Limit: 100, Offset: 500, MaxRoles: topRolesKept},
	)
}

// checkUserList holds the tables of migration 0009 to what memberships and
// accounts say, and the list read from them to the reference, for every
// scope and filter.
func (f *demoFamily) checkUserList(step string) {
	f.t.Helper()
	ctx := context.Background()
	for _, c := range []struct{ what, sql string }{
		{"family_roles", `WITH want AS (
			SELECT m.user_id, m.account_id, coalesce(a.parent_id, a.id) AS root_id,
			       (CASE m.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END)::smallint AS rank,
			       a.status <> 'closed' AS open, a.tech_prefix, a.company_name, a.company_alias
			FROM memberships m JOIN accounts a ON a.id = m.account_id)
			SELECT count(*) FROM ((SELECT * FROM want EXCEPT ALL SELECT * FROM family_roles)
			                      UNION ALL (SELECT * FROM family_roles EXCEPT ALL SELECT * FROM want)) d`},
		{"family_users", `WITH fam AS (
			SELECT coalesce(a.parent_id, a.id) AS root_id, m.user_id, m.account_id, m.role, a.status, a.company_name
			FROM memberships m JOIN accounts a ON a.id = m.account_id),
			want AS (
			SELECT g.*, coalesce(t.ids, '{}') AS top_accounts
			FROM (SELECT root_id, user_id,
			             count(*) FILTER (WHERE status <> 'closed' AND role = 'principal')::int AS principals,
			             count(*) FILTER (WHERE status <> 'closed' AND role = 'power')::int AS powers,
			             count(*) FILTER (WHERE status <> 'closed' AND role = 'general')::int AS generals,
			             count(*) FILTER (WHERE status = 'closed')::int AS closed
			      FROM fam GROUP BY 1, 2) g
			LEFT JOIN LATERAL (
			    SELECT array_agg(x.account_id ORDER BY x.account_id <> g.root_id, lower(x.company_name), x.account_id) AS ids
			    FROM (SELECT * FROM fam y WHERE y.root_id = g.root_id AND y.user_id = g.user_id AND y.status <> 'closed'
			          ORDER BY CASE y.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END DESC, y.account_id LIMIT 10) x) t ON true),
			got AS (SELECT root_id, user_id, principals, powers, generals, closed, top_accounts FROM family_users)
			SELECT count(*) FROM ((SELECT * FROM want EXCEPT ALL SELECT * FROM got) UNION ALL (SELECT * FROM got EXCEPT ALL SELECT * FROM want)) d`},
	} {
		if n := f.count(c.sql); n != 0 {
			f.t.Errorf("%s: %s differs from memberships and accounts in %d rows", step, c.what, n)
		}
	}
	scopes := map[string]*UserScope{"root": f.scope("principal@acme.test", "31415900"), "globex": f.scope("owner@globex.test", "27182800")}
	for _, p := range []string{"31415901", "31415902", "31415903"} {
		var acct portal.Account
		if err := f.db.Pool.QueryRow(ctx, `SELECT id, parent_id, status FROM accounts WHERE tech_prefix = $1`, p).Scan(&acct.ID, &acct.ParentID, &acct.Status); err != nil {
			f.t.Fatal(err)
		}
		if s, err := f.db.ManagedScope(ctx, acct); err == nil {
			scopes[p] = s
		}
	}
	for name, scope := range scopes {
		acct := portal.Account{ID: scope.AccountID}
		if scope.RootID != scope.AccountID {
			acct.ParentID = &scope.RootID
		}
		head, _, _, err := f.db.UserList(ctx, acct, UserFilter{})
		if err != nil || head.Size != scope.Size || head.RootCompany != scope.RootCompany {
			f.t.Errorf("%s: %s head %+v, %v; want size %d of %s", step, name, head, err, scope.Size, scope.RootCompany)
		}
		for _, uf := range f.listFilters() {
			want, wantTotal := f.referenceUsers(scope, uf)
			got, total, err := f.db.ManagedUsers(ctx, scope, uf)
			if err != nil {
				f.t.Fatalf("%s: %s %+v: %v", step, name, uf, err)
			}
			if !reflect.DeepEqual(got, want) || total != wantTotal {
				f.t.Errorf("%s: %s %+v:\n got %d %s\nwant %d %s", step, name, uf, total, describeUsers(got), wantTotal, describeUsers(want))
			}
		}
	}
}

func describeUsers(users []ManagedUser) string {
	s := ""
	for _, u := range users {
		s += fmt.Sprintf("\n  %d/%d %s %s %s top=%v manageable=%v more=%d roles=", u.UserID, u.InvitationID, u.Email, u.Status,
			u.TypeLabel(), u.top, u.Manageable, u.MoreRoles)
		for _, r := range u.Roles {
			s += fmt.Sprintf("%s:%s:%v ", r.TechPrefix, r.CompanyName, r.Role)
		}
	}
	return s
}

// TestUserListFollowsChanges changes a family's users and accounts in every
// way the portal does (and a few it does not yet) and holds the tables the
// list reads, and the list itself, to memberships and accounts after each.
func TestUserListFollowsChanges(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	f.checkUserList("seeded")

	// Twelve sub-accounts in one statement, named so that their company
	// order differs from their id order.
	exec(`INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_email, status, parent_id)
		SELECT '3141599' || lpad(g::text, 1, '0'), CASE WHEN g % 2 = 0 THEN 'bulk ' ELSE 'Bulk ' END || (20 - g), 'B' || g,
		       'bulk' || g || '@acme.test', 'active', $1
		FROM generate_series(0, 9) g`, f.accounts["31415900"])
	exec(`INSERT INTO accounts (tech_prefix, company_name, contact_email, status, parent_id)
		VALUES ('31415980', 'aardvark', 'a@acme.test', 'active', $1), ('31415981', 'Zulu', 'z@acme.test', 'active', $1)`, f.accounts["31415900"])
	rows, _ := f.db.Pool.Query(ctx, `SELECT tech_prefix, id FROM accounts WHERE tech_prefix LIKE '314159_%'`)
	for rows.Next() {
		var p string
		var id int64
		_ = rows.Scan(&p, &id)
		f.accounts[p] = id
	}
	rows.Close()
	f.checkUserList("sub-accounts created")

	root := f.scope("principal@acme.test", "31415900")
	f.root = root
	want := map[int64]portal.Role{}
	i := 0
	for p, id := range f.accounts {
		if len(p) == 8 && (p[:7] == "3141599" || p[:6] == "314159" && p[6] == '8') {
			want[id] = []portal.Role{portal.RolePower, portal.RoleGeneral, portal.RolePrincipal}[i%3]
			i++
		}
	}
	for _, who := range []string{"power@acme.test", "general@acme.test"} {
		if _, err := f.db.SetUserRoles(ctx, f.actor("principal@acme.test"), root, f.users[who], want); err != nil {
			t.Fatalf("grant %s: %v", who, err)
		}
	}
	f.checkUserList("roles granted on the new accounts")

	change := map[int64]portal.Role{f.accounts["31415990"]: portal.RoleGeneral, f.accounts["31415991"]: portal.RoleNone,
		f.accounts["31415901"]: portal.RolePrincipal}
	if _, err := f.db.SetUserRoles(ctx, f.actor("principal@acme.test"), root, f.users["power@acme.test"], change); err != nil {
		t.Fatalf("change roles: %v", err)
	}
	f.checkUserList("roles changed and removed")

	exec(`UPDATE accounts SET company_name = 'AAA first', company_alias = 'renamed' WHERE tech_prefix = '31415999'`)
	f.checkUserList("account renamed")

	if err := f.db.RevokeUser(ctx, f.actor("principal@acme.test"), root, f.users["general@acme.test"]); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	f.checkUserList("user revoked")

	exec(`UPDATE accounts SET status = 'closed' WHERE tech_prefix IN ('31415998', '31415901')`)
	f.checkUserList("accounts closed")

	if _, err := f.db.Unlink(ctx, f.actor("principal@acme.test"), f.accounts["31415900"], "31415902"); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	f.checkUserList("sub-account unlinked")

	exec(`UPDATE accounts SET parent_id = $1, linked_at = now() WHERE id = $2`, f.accounts["27182800"], f.accounts["31415902"])
	f.checkUserList("account linked into another family")

	_, raw := f.invite("ivan@example.test", map[string]portal.Role{"31415903": portal.RoleGeneral, "31415997": portal.RolePower})
	f.checkUserList("invitation pending")
	if _, err := f.accept(raw, newPerson()); err != nil {
		t.Fatalf("accept: %v", err)
	}
	f.checkUserList("invitation accepted")

	exec(`UPDATE memberships SET account_id = $1 WHERE user_id = (SELECT id FROM users WHERE email = 'ivan@example.test') AND account_id = $2`,
		f.accounts["31415996"], f.accounts["31415903"])
	exec(`UPDATE accounts SET status = 'active' WHERE tech_prefix = '31415998'`)
	f.checkUserList("membership moved, account reopened")

	exec(`DELETE FROM memberships WHERE user_id = $1`, f.users["power@acme.test"])
	f.checkUserList("memberships deleted")
}

// TestUserListGenericPlan runs the list's statements under the generic plans
// PostgreSQL settles on after a few executions: the same rows as planned
// for the parameters at hand.
func TestUserListGenericPlan(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	conn, err := f.db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET plan_cache_mode`) //nolint:errcheck
	for _, scope := range []*UserScope{f.root, f.east} {
		for _, uf := range f.listFilters() {
			if uf.Limit <= 0 {
				uf.Limit = 50
			}
			want, wantTotal, err := f.db.ManagedUsers(ctx, scope, uf)
			if err != nil {
				t.Fatal(err)
			}
			sql, args := managedUsersQuery(scope, uf)
			rows, err := conn.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			got, total, err := scanManagedUsers(rows, uf.MaxRoles)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || total != wantTotal {
				t.Errorf("%d %+v: generic plan gives %d %s\nwant %d %s", scope.AccountID, uf, total, describeUsers(got), wantTotal, describeUsers(want))
			}
		}
	}
}

// TestUserList checks the page's one round trip: the scope's head as
// ManagedScope reads it, and the same rows as ManagedUsers.
func TestUserList(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	for _, c := range []struct {
		email, prefix string
		accounts      []string
	}{
		{"principal@acme.test", "31415900", nil},
		{"east-owner@acme.test", "31415902", []string{"31415902"}},
		{"owner@globex.test", "27182800", nil},
	} {
		aa, err := f.db.Access(ctx, f.users[c.email], c.prefix)
		if err != nil {
			t.Fatal(err)
		}
		whole := f.scope(c.email, c.prefix)
		uf := UserFilter{Limit: 3, MaxRoles: 2}
		scope, users, total, err := f.db.UserList(ctx, aa.Account, uf)
		if err != nil {
			t.Fatalf("%s: %v", c.prefix, err)
		}
		var prefixes []string
		for _, a := range scope.Accounts {
			prefixes = append(prefixes, a.TechPrefix)
		}
		if scope.RootCompany != whole.RootCompany || scope.Size != whole.Size || scope.RootID != whole.RootID ||
			scope.AccountID != whole.AccountID || !slices.Equal(prefixes, c.accounts) {
			t.Errorf("%s: head %+v, want %+v with accounts %v", c.prefix, scope, whole, c.accounts)
		}
		want, wantTotal, err := f.db.ManagedUsers(ctx, whole, uf)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(users, want) || total != wantTotal {
			t.Errorf("%s: list %d %s\nwant %d %s", c.prefix, total, describeUsers(users), wantTotal, describeUsers(want))
		}
	}
	closed := portal.Account{ID: f.accounts["31415901"], ParentID: &[]int64{f.accounts["31415900"]}[0]}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE accounts SET status = 'closed' WHERE id = $1`, closed.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := f.db.UserList(ctx, closed, UserFilter{}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("closed account: got %v, want not found", err)
	}
}

// One page of User Management as its handler reads it: the scope's head and
// 100 users, in one round trip.
func BenchmarkUserListPage(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	aa, err := db.Access(ctx, uid, LargeRootPrefix)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, users, _, err := db.UserList(ctx, aa.Account, UserFilter{Limit: 100, MaxRoles: topRolesKept})
		if err != nil || len(users) == 0 {
			b.Fatalf("user list: %d rows, %v", len(users), err)
		}
	}
}
