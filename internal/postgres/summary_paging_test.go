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
	// This month: one account credited more than it was charged, one
	// charged exactly nothing, so the order by charges crosses zero; two
	// charged the same, so the names decide between them.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO charges (account_id, occurred_at, category, amount_micros)
		SELECT id, now(), 'usage', -1000000000 FROM accounts WHERE parent_id IS NOT NULL AND status <> 'closed' ORDER BY id LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO charges (account_id, occurred_at, category, amount_micros)
		SELECT id, now(), 'usage', -coalesce((SELECT sum(amount_micros) FROM charges c WHERE c.account_id = a.id
			AND c.occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)
		FROM accounts a WHERE parent_id IS NOT NULL AND status <> 'closed' ORDER BY id OFFSET 1 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO charges (account_id, occurred_at, category, amount_micros)
		SELECT id, now(), 'usage', 5000000 - coalesce((SELECT sum(amount_micros) FROM charges c WHERE c.account_id = a.id
			AND c.occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)
		FROM accounts a WHERE a.id IN (
			(SELECT parent_id FROM accounts WHERE parent_id IS NOT NULL AND status <> 'closed' ORDER BY id LIMIT 1),
			(SELECT id FROM accounts WHERE parent_id IS NOT NULL AND status <> 'closed' ORDER BY id OFFSET 2 LIMIT 1))`); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"principal@acme.test", "power@acme.test"} {
		uid := userID(t, db, email)
		for _, desc := range []bool{false, true} {
			// The order by charges, from the ledger itself.
			dir := "ASC"
			if desc {
				dir = "DESC"
			}
			var want []string
			rows, err := db.Pool.Query(ctx, `WITH vis AS (`+visibleSQL+`)
				SELECT v.tech_prefix FROM vis v LEFT JOIN (SELECT account_id, sum(amount_micros) AS amt FROM charges
					WHERE occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' GROUP BY 1) c ON c.account_id = v.id
				ORDER BY coalesce(c.amt, 0) `+dir+`, lower(v.company_name), v.id`, uid)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			if rows.Err() != nil {
				t.Fatal(rows.Err())
			}
			for _, size := range []int{1, 2, 100} {
				var got []string
				for off := 0; off < len(want)+size; off += size {
					page, _, err := db.AccountsSummary(ctx, scopeOf(t, db, uid), SummaryQuery{Sort: "charges", Desc: desc, Month: time.Now(), Offset: off, Limit: size})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, inOrder(page, func(r SummaryRow) string { return r.TechPrefix })...)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s by charges desc=%v, pages of %d: %v, want (from the ledger) %v", email, desc, size, got, want)
				}
			}
		}
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
