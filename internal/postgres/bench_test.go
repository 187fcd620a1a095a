package postgres

import (
	"context"
	"testing"
	"time"
)

// benchLarge is a database holding the large family at a scale a benchmark
// can load in a second or two, and its Principal's user id.
func benchLarge(b *testing.B) (*DB, int64) {
	b.Helper()
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(b)}
	o := LargeOptions{SubAccounts: 1_000, Users: 40, DIDs: 5_000, CDRs: 50_000, Months: 3}
	if _, err := db.SeedLarge(ctx, o); err != nil {
		b.Fatal(err)
	}
	var uid int64
	if err := db.Pool.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, LargePrincipalEmail).Scan(&uid); err != nil {
		b.Fatal(err)
	}
	return db, uid
}

func lastMonth() time.Time { return MonthStart(time.Now()).AddDate(0, -1, 0) }

// One page of the Billing Summary: rows, totals and the twelve-month chart.
func BenchmarkBillingSummaryPage(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	q := SummaryQuery{Sort: "company", Month: lastMonth(), Limit: 100}
	sc := scopeOf(b, db, uid)
	b.ReportAllocs()
	for b.Loop() {
		bs, err := db.BillingSummaryPage(ctx, sc, q, time.Now())
		if err != nil || len(bs.Rows) != 100 {
			b.Fatalf("billing summary: %d rows, %v", len(bs.Rows), err)
		}
	}
}

// One page of the All Accounts summary and the totals of every account.
func BenchmarkAccountsSummaryPage(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	q := SummaryQuery{Sort: "company", Month: MonthStart(time.Now()), Limit: 100}
	sc := scopeOf(b, db, uid)
	b.ReportAllocs()
	for b.Loop() {
		rows, _, err := db.AccountsSummary(ctx, sc, q)
		if err != nil || len(rows) != 100 {
			b.Fatalf("accounts summary: %d rows, %v", len(rows), err)
		}
	}
}

// The picker's search by company name.
func BenchmarkPickerSearchQuery(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := db.PickerSearch(ctx, uid, "harbor", PickerLimit); err != nil {
			b.Fatal(err)
		}
	}
}

// The read every signed-in request makes: the session and its user.
func BenchmarkSessionWithUser(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ('bench-token', '\x00', now() + interval '1 hour')`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sr, err := db.SessionWithUser(ctx, "bench-token", uid, "")
		if err != nil || !sr.Found || sr.User == nil {
			b.Fatalf("session read: %+v, %v", sr, err)
		}
	}
}

// A month's usage of the whole family from the rollups (R8's fast side).
func BenchmarkFamilyMonthFromRollups(b *testing.B) {
	db, _ := benchLarge(b)
	ctx := context.Background()
	info, err := db.LargeSet(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.Pool.Query(ctx, `SELECT a.id, m.calls, m.billed_secs, m.charge_micros
			FROM accounts a JOIN cdr_monthly m ON m.account_id = a.id AND m.month = $2
			WHERE a.id = $1 OR a.parent_id = $1`, info.RootID, lastMonth())
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() != nil || n == 0 {
			b.Fatalf("%d rows, %v", n, rows.Err())
		}
	}
}
