package postgres

import (
	"context"
	"fmt"
	"testing"

	"carrierportal/internal/portal"
)

func TestFindAccounts(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	tests := []struct {
		q    string
		want []string
	}{
		{"40000000", []string{"40000000"}},
		{"4000", []string{"40000001", "40000000"}}, // by company: Root Child, Root Co
		{"root", []string{"40000001", "40000000"}},
		{"ROOTY", []string{"40000000"}},
		{"OPS@other.test", []string{"50000000"}},
		{"req@example.test", []string{"40000000"}},
		{"100%", []string{"50000000"}},
		{"%", []string{"50000000"}}, // literally, not as a wildcard
		{"_", nil},
		{"nobody", nil},
		{"  ", nil},
	}
	for _, tc := range tests {
		rows, err := f.db.FindAccounts(ctx, tc.q, 10)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.TechPrefix)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("FindAccounts(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestStaffAccountView(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	f.pendingID(t, portal.FeatureSubAccounts)
	v, err := f.db.StaffAccount(ctx, "40000001")
	if err != nil {
		t.Fatal(err)
	}
	if v.Account.Company != "Root Child" || v.Account.ParentPrefix != "40000000" {
		t.Errorf("account = %+v, want Root Child under 40000000", v.Account)
	}
	if len(v.Family) != 2 || v.Family[0].TechPrefix != "40000000" || v.Family[1].TechPrefix != "40000001" {
		t.Errorf("family = %+v, want root then child", v.Family)
	}
	if len(v.Requests) != 1 || v.Requests[0].Status != RequestPending {
		t.Errorf("requests = %+v, want the family's pending request", v.Requests)
	}
	if len(v.Members) != 1 || v.Members[0].Email != f.userEmail || v.Members[0].Via != "40000000" {
		t.Errorf("members = %+v, want the root's Principal, inherited", v.Members)
	}
	root, err := f.db.StaffAccount(ctx, "40000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Events) != 1 || root.Events[0].Action != "feature.requested" || root.Events[0].Actor != f.userEmail {
		t.Errorf("root events = %+v, want the request", root.Events)
	}
	for _, bad := range []string{"99999999", "abc", ""} {
		if _, err := f.db.StaffAccount(ctx, bad); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("StaffAccount(%q): got %v, want not found", bad, err)
		}
	}
}
