package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"carrierportal/internal/portal"
)

func TestPickerSearchReach(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	all := []string{"31415900", "31415901", "31415902", "31415903"}
	tests := []struct {
		email, q string
		want     []string
	}{
		{"principal@acme.test", "", all},
		{"principal@acme.test", "west", []string{"31415901"}},
		{"principal@acme.test", "PACIFIC", []string{"31415901"}},
		{"principal@acme.test", "lant", []string{"31415902"}},
		{"principal@acme.test", "LABS", []string{"31415903"}},
		{"principal@acme.test", "3141590", all},
		{"principal@acme.test", "31415902", []string{"31415902"}},
		{"principal@acme.test", "globex", []string{}},
		{"principal@acme.test", "%", []string{}},
		{"principal@acme.test", "_", []string{}},
		{"power@acme.test", "", []string{"31415900", "31415901", "31415902"}},
		{"general@acme.test", "", []string{"31415901"}},
		{"revoked@acme.test", "", []string{}},
		{"east-owner@acme.test", "", []string{"31415902"}},
		{"east-owner@acme.test", "acme", []string{"31415902"}},
		{"owner@globex.test", "acme", []string{}},
		// Three runes or more that are not all digits go through the
		// name indexes: the same reach, wildcards taken literally.
		{"principal@acme.test", "%%%", []string{}},
		{"principal@acme.test", "___", []string{}},
		{"power@acme.test", "acme", []string{"31415900", "31415901", "31415902"}},
		{"general@acme.test", "acme", []string{"31415901"}},
		{"revoked@acme.test", "acme", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.email+" "+tc.q, func(t *testing.T) {
			list, more, err := db.PickerSearch(ctx, userID(t, db, tc.email), tc.q, PickerLimit)
			if err != nil {
				t.Fatal(err)
			}
			if got := prefixes(list, func(e PickerEntry) string { return e.TechPrefix }); !slices.Equal(got, tc.want) || more {
				t.Errorf("picker finds %v (more %v), want %v", got, more, tc.want)
			}
		})
	}
}

func TestPickerLimitAndRecent(t *testing.T) {
	f := newSubFixture(t)
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		f.account(fmt.Sprintf("7%07d", i), fmt.Sprintf("Branch %02d", i), "", "b@x.test", "active", f.p1)
	}
	list, more, err := f.db.PickerSearch(ctx, f.u1, "branch", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != PickerLimit || !more || list[0].CompanyName != "Branch 00" {
		t.Errorf("search gave %d entries (more %v, first %+v), want the first %d by name and more", len(list), more, list[0], PickerLimit)
	}

	h, err := f.db.Picker(ctx, f.uc, f.cPrefix)
	if err != nil || h.Others || len(h.Recent) != 0 {
		t.Errorf("C's owner: %+v, %v; want no other accounts", h, err)
	}
	// u1 switches to K, then to a branch; P2's user was never here.
	for _, id := range []int64{f.k, acctID(t, f.db, "70000000")} {
		if err := f.db.RememberRecent(ctx, f.u1, id); err != nil {
			t.Fatal(err)
		}
	}
	h, err = f.db.Picker(ctx, f.u1, f.p1Prefix)
	if err != nil || !h.Others || len(h.Recent) != 2 || h.Recent[1].TechPrefix != "60000002" {
		t.Fatalf("P1's principal: %+v, %v; want two recent accounts, Kid last", h, err)
	}
	// After K leaves the family it is no longer offered, even as recent.
	if _, err := f.db.Unlink(ctx, portal.Actor{UserID: f.u1}, f.p1, "60000002"); err != nil {
		t.Fatal(err)
	}
	h, err = f.db.Picker(ctx, f.u1, f.p1Prefix)
	if err != nil || len(h.Recent) != 1 || h.Recent[0].TechPrefix == "60000002" {
		t.Errorf("after unlink: %+v, %v; want only the branch", h, err)
	}
	for i := 0; i < recentKeep+5; i++ {
		if err := f.db.RememberRecent(ctx, f.u1, acctID(t, f.db, fmt.Sprintf("7%07d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(`SELECT count(*) FROM recent_accounts WHERE user_id = $1`, f.u1); n != recentKeep {
		t.Errorf("remembered %d accounts, want %d", n, recentKeep)
	}
}
