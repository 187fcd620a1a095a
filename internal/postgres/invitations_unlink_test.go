package postgres

import (
	"context"
	"testing"

	"carrierportal/internal/portal"
)

// An invitation pending when a sub-account leaves the family it was sent in
// grants nothing there: not after an unlink, not after a link into another
// family, and not even when its sender still manages the account (an
// explicit Principal of it keeps it through the unlink). Sent again by
// someone who manages the account now, it works.
func TestInvitationAfterUnlink(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// from is where the invitation was sent: the root's User Management
		// or the sub-account's own.
		from string
		// explicit makes the sender an explicit Principal of West as well,
		// which survives the unlink.
		explicit bool
		// relink moves West on into Globex's family, where the sender is a
		// Principal too.
		relink bool
	}{
		{"from the root", "31415900", false, false},
		{"from the sub-account", "31415901", false, false},
		{"from the root, sender keeps the sub-account", "31415900", true, false},
		{"from the sub-account, sender keeps it", "31415901", true, false},
		{"from the sub-account, linked into another family the sender runs", "31415901", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDemoFamily(t)
			exec := func(sql string, args ...any) {
				t.Helper()
				if _, err := f.db.Pool.Exec(ctx, sql, args...); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			paula, west := f.users["principal@acme.test"], f.accounts["31415901"]
			if tc.explicit {
				exec(`INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'principal')`, paula, west)
			}
			if tc.relink {
				exec(`INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'principal')`, paula, f.accounts["27182800"])
			}
			_, err := f.db.Invite(ctx, f.actor("principal@acme.test"), f.scope("principal@acme.test", tc.from), NewInvitation{
				Name: "Ulla Unlinked", Email: "ulla@example.test", Roles: map[int64]portal.Role{west: portal.RoleGeneral}})
			if err != nil {
				t.Fatalf("invite: %v", err)
			}
			raw := f.lastToken("ulla@example.test")
			if _, err := f.db.Unlink(ctx, f.actor("principal@acme.test"), f.accounts["31415900"], "31415901"); err != nil {
				t.Fatalf("unlink: %v", err)
			}
			if tc.relink {
				exec(`UPDATE accounts SET parent_id = $1, linked_at = now() WHERE id = $2`, f.accounts["27182800"], west)
			}
			tok := mustPeek(t, f.db, raw)
			if _, err := f.db.InvitationForToken(ctx, tok); err == nil {
				t.Error("the invitation's page still offers it")
			}
			if u, err := f.accept(raw, newPerson()); err == nil {
				t.Fatalf("accepted as user %d, want it refused; roles %v", u.ID, f.roles("ulla@example.test"))
			}
			if n := f.count(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ulla@example.test'`); n != 0 {
				t.Errorf("memberships after the refusal: %d, want none", n)
			}
			if !tc.explicit {
				return
			}
			// West's own Principal now, in a family with Multi-User: sent
			// again from West (a resend of West's invitation, a new one in
			// place of the root's), it works.
			exec(`INSERT INTO account_features (account_id, feature) VALUES ($1, 'multi_user')`, west)
			scope := f.scope("principal@acme.test", "31415901")
			if tc.from == "31415901" {
				id := int64(f.count(`SELECT id FROM invitations WHERE email = 'ulla@example.test' AND status = 'pending'`))
				_, err = f.db.ResendInvitation(ctx, f.actor("principal@acme.test"), scope, id)
			} else {
				_, err = f.db.Invite(ctx, f.actor("principal@acme.test"), scope, NewInvitation{Name: "Ulla", Email: "ulla@example.test",
					Roles: map[int64]portal.Role{west: portal.RoleGeneral}})
			}
			if err != nil {
				t.Fatalf("sending again from West: %v", err)
			}
			if _, err := f.accept(f.lastToken("ulla@example.test"), newPerson()); err != nil {
				t.Fatalf("invitation sent by West's Principal after the unlink: %v", err)
			}
			if got := f.roles("ulla@example.test"); got["31415901"] != "general" || len(got) != 1 {
				t.Errorf("roles after acceptance: %v, want general on West only", got)
			}
		})
	}
}
