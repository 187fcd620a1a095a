package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSummaryPagesCutTheFullOrder checks that pages of every size, in every
// order, with and without a search, are consecutive slices of the whole
// list: the family branches of a page are cut before they are merged.
func TestSummaryPagesCutTheFullOrder(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	for _, email := range []string{"principal@acme.test", "power@acme.test"} {
		uid := userID(t, db, email)
		for _, sort := range []string{"company", "prefix", "balance", "numbers", "minutes", "charges", "bogus"} {
			for _, desc := range []bool{false, true} {
				for _, search := range []string{"", "acme", "3141590"} {
					name := fmt.Sprintf("%s/%s/desc=%v/q=%s", email, sort, desc, search)
					q := SummaryQuery{Q: search, Sort: sort, Desc: desc, Month: time.Now(), Limit: 100}
					all, tot, err := db.AccountsSummary(ctx, scopeOf(t, db, uid), q)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if tot.Accounts != len(all) {
						t.Errorf("%s: %d accounts counted, %d listed", name, tot.Accounts, len(all))
					}
					if sort == "company" && !desc && !slices.IsSortedFunc(all, func(a, b SummaryRow) int {
						return strings.Compare(strings.ToLower(a.CompanyName), strings.ToLower(b.CompanyName))
					}) {
						t.Errorf("%s: not in company order: %v", name, inOrder(all, func(r SummaryRow) string { return r.CompanyName }))
					}
					figure := map[string]func(SummaryRow) int64{"numbers": func(r SummaryRow) int64 { return r.Numbers },
						"minutes": func(r SummaryRow) int64 { return r.BilledSecs }, "charges": func(r SummaryRow) int64 { return r.Charges }}[sort]
					for i := 1; figure != nil && i < len(all); i++ {
						a, b := figure(all[i-1]), figure(all[i])
						if (!desc && a > b) || (desc && a < b) {
							t.Errorf("%s: row %d (%d) out of order after %d", name, i, b, a)
						}
					}
					want := inOrder(all, func(r SummaryRow) string { return r.TechPrefix })
					for _, size := range []int{1, 3} {
						var got []string
						for off := 0; off < len(all)+size; off += size {
							q.Offset, q.Limit = off, size
							rows, _, err := db.AccountsSummary(ctx, scopeOf(t, db, uid), q)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							got = append(got, inOrder(rows, func(r SummaryRow) string { return r.TechPrefix })...)
						}
						if !slices.Equal(got, want) {
							t.Errorf("%s: pages of %d give %v, want %v", name, size, got, want)
						}
					}
				}
			}
		}
	}
}

// TestBillingSummaryPagesCutTheFullOrder is the same for the Billing
// Summary, whose totals must not depend on the page either.
func TestBillingSummaryPagesCutTheFullOrder(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	now := time.Now()
	uid := userID(t, db, "principal@acme.test")
	for _, sort := range []string{"company", "prefix", "total"} {
		for _, desc := range []bool{false, true} {
			q := SummaryQuery{Sort: sort, Desc: desc, Month: now, Limit: 100}
			full, err := db.BillingSummaryPage(ctx, scopeOf(t, db, uid), q, now)
			if err != nil {
				t.Fatal(err)
			}
			want := inOrder(full.Rows, func(r BillingRow) string { return r.TechPrefix })
			var got []string
			for off := 0; off < len(want)+1; off++ {
				q.Offset, q.Limit = off, 1
				page, err := db.BillingSummaryPage(ctx, scopeOf(t, db, uid), q, now)
				if err != nil {
					t.Fatal(err)
				}
				if page.Total != full.Total || page.Accounts != full.Accounts {
					t.Errorf("%s desc=%v offset %d: total %d of %d accounts, want %d of %d", sort, desc, off, page.Total, page.Accounts, full.Total, full.Accounts)
				}
				got = append(got, inOrder(page.Rows, func(r BillingRow) string { return r.TechPrefix })...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s desc=%v: pages give %v, want %v", sort, desc, got, want)
			}
		}
	}
}

// inOrder maps rows to strings, keeping their order.
func inOrder[T any](rows []T, f func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, f(r))
	}
	return out
}
