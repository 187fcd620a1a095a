package postgres

import (
	"context"
	"slices"
	"testing"
)

// TestManagedUsersRolesCutAndOrder checks the list's view of a user's roles:
// in the scope's order (root first, then by company) when whole, the
// highest first when cut, and the user type counting the roles cut.
func TestManagedUsersRolesCutAndOrder(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	whole, _, err := f.db.ManagedUsers(ctx, f.root, UserFilter{Query: "power@acme.test"})
	if err != nil || len(whole) != 1 {
		t.Fatalf("power user: %v, %d rows", err, len(whole))
	}
	u := whole[0]
	var got []string
	for _, r := range u.Roles {
		got = append(got, r.TechPrefix)
	}
	if want := []string{"31415900", "31415902", "31415901"}; !slices.Equal(got, want) {
		t.Errorf("roles in %v, want the root then company order %v", got, want)
	}
	if u.MoreRoles != 0 {
		t.Errorf("MoreRoles = %d without a cut, want 0", u.MoreRoles)
	}
	cut, _, err := f.db.ManagedUsers(ctx, f.root, UserFilter{Query: "power@acme.test", MaxRoles: 1})
	if err != nil || len(cut) != 1 {
		t.Fatalf("cut: %v, %d rows", err, len(cut))
	}
	if len(cut[0].Roles) != 1 || cut[0].MoreRoles != len(u.Roles)-1 {
		t.Errorf("cut to 1: %d roles and %d more, want 1 and %d", len(cut[0].Roles), cut[0].MoreRoles, len(u.Roles)-1)
	}
	if cut[0].Roles[0].Role != u.TopRole() || cut[0].TopRole() != u.TopRole() {
		t.Errorf("cut shows %v (type %v), want the highest role %v", cut[0].Roles[0].Role, cut[0].TopRole(), u.TopRole())
	}
}

// TestManagedUsersAccountFilter checks the account filter: the start of a
// tech prefix, company name or alias of an account in the scope.
func TestManagedUsersAccountFilter(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	east := []string{"east-owner@acme.test", "late@acme.test", "power@acme.test", "revoked@acme.test"}
	cases := []struct {
		scope   *UserScope
		account string
		want    []string
	}{
		{f.root, "31415902", east},
		{f.root, "ACME E", east},
		{f.root, "atl", east},
		{f.root, "tlantic", nil},
		{f.root, "99", nil},
		{f.east, "31415900", nil},
	}
	for _, c := range cases {
		users, total, err := f.db.ManagedUsers(ctx, c.scope, UserFilter{Account: c.account})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Email)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) || total != len(c.want) {
			t.Errorf("account %q: %v (total %d), want %v", c.account, got, total, c.want)
		}
	}
}
