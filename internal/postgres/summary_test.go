package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// demoDB is a fresh database with the demo data.
func demoDB(t *testing.T) *DB {
	t.Helper()
	db := &DB{Pool: NewTestPool(t), Outbox: subMailOutbox{}, BaseURL: "https://portal.example.test"}
	if _, err := db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return db
}

func userID(t *testing.T, db *DB, email string) int64 {
	t.Helper()
	u, err := db.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u.ID
}

// scopeOf loads a user's summary scope.
func scopeOf(t testing.TB, db *DB, uid int64) *SummaryScope {
	t.Helper()
	sc, err := db.SummaryScopeOf(context.Background(), uid)
	if err != nil {
		t.Fatalf("summary scope: %v", err)
	}
	return sc
}

func zeroCount(t *testing.T, db *DB, what, sql string) {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if n != 0 {
		t.Errorf("%s: %d rows differ from the raw aggregate, want 0", what, n)
	}
}

// checkSummaryRollups compares every rollup the summaries read with the raw rows,
// to the micro-dollar.
func checkSummaryRollups(t *testing.T, db *DB) {
	t.Helper()
	zeroCount(t, db, "charge_monthly", `SELECT count(*) FROM
		(SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, category, sum(amount_micros) AS amt
		 FROM charges GROUP BY 1, 2, 3) want
		FULL JOIN charge_monthly got USING (account_id, month, category)
		WHERE want.amt IS DISTINCT FROM got.amount_micros`)
	zeroCount(t, db, "account_month_charges", `SELECT count(*) FROM
		(SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, sum(amount_micros) AS amt
		 FROM charges GROUP BY 1, 2) want
		FULL JOIN account_month_charges got USING (account_id, month)
		WHERE want.amt IS DISTINCT FROM got.amount_micros`)
	zeroCount(t, db, "cdr_monthly", `SELECT count(*) FROM
		(SELECT account_id, date_trunc('month', started_at AT TIME ZONE 'UTC')::date AS month, count(*) AS calls,
		        sum(duration_secs) AS dur, sum(billed_secs) AS billed, sum(charge_micros) AS amt FROM cdrs GROUP BY 1, 2) want
		FULL JOIN cdr_monthly got USING (account_id, month)
		WHERE (want.calls, want.dur, want.billed, want.amt) IS DISTINCT FROM (got.calls, got.duration_secs, got.billed_secs, got.charge_micros)`)
	zeroCount(t, db, "family_charge_monthly", `SELECT count(*) FROM
		(SELECT coalesce(a.parent_id, a.id) AS root_id, date_trunc('month', c.occurred_at AT TIME ZONE 'UTC')::date AS month, c.category,
		        sum(c.amount_micros) AS amt
		 FROM charges c JOIN accounts a ON a.id = c.account_id WHERE a.status <> 'closed' GROUP BY 1, 2, 3) want
		FULL JOIN (SELECT * FROM family_charge_monthly WHERE amount_micros <> 0) got USING (root_id, month, category)
		WHERE want.amt IS DISTINCT FROM got.amount_micros`)
	zeroCount(t, db, "family_cdr_monthly", `SELECT count(*) FROM
		(SELECT coalesce(a.parent_id, a.id) AS root_id, date_trunc('month', c.started_at AT TIME ZONE 'UTC')::date AS month,
		        count(*) AS calls, sum(c.billed_secs) AS billed
		 FROM cdrs c JOIN accounts a ON a.id = c.account_id WHERE a.status <> 'closed' GROUP BY 1, 2) want
		FULL JOIN (SELECT * FROM family_cdr_monthly WHERE calls <> 0) got USING (root_id, month)
		WHERE (want.calls, want.billed) IS DISTINCT FROM (got.calls, got.billed_secs)`)
	zeroCount(t, db, "family_totals", `SELECT count(*) FROM
		(SELECT coalesce(a.parent_id, a.id) AS root_id, count(*) AS n, sum(a.balance_micros) AS bal,
		        sum((SELECT count(*) FROM dids d WHERE d.account_id = a.id AND d.released_at IS NULL)) AS held
		 FROM accounts a WHERE a.status <> 'closed' GROUP BY 1) want
		FULL JOIN (SELECT * FROM family_totals WHERE (accounts, balance_micros, numbers) <> (0, 0, 0)) got USING (root_id)
		WHERE (want.n, want.bal, want.held) IS DISTINCT FROM (got.accounts, got.balance_micros, got.numbers)`)
}

func TestSummaryRollupsEqualRawAggregate(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	checkSummaryRollups(t, db)
	uid := userID(t, db, "principal@acme.test")
	now := time.Now()
	for back := 0; back < 4; back++ {
		month := MonthStart(now).AddDate(0, -back, 0)
		bs, err := db.BillingSummaryPage(ctx, scopeOf(t, db, uid), SummaryQuery{Month: month, Limit: 100}, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range bs.Rows {
			for i, cat := range ChargeCategories {
				var raw int64
				if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(amount_micros), 0) FROM charges WHERE account_id = $1 AND category = $2
					AND occurred_at >= $3 AND occurred_at < $4`, r.ID, cat, month, month.AddDate(0, 1, 0)).Scan(&raw); err != nil {
					t.Fatal(err)
				}
				if r.ByCategory[i] != raw {
					t.Errorf("%s %s %s = %d, raw charges = %d", month.Format("2006-01"), r.CompanyName, cat, r.ByCategory[i], raw)
				}
			}
		}
		var raw int64
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(c.amount_micros), 0) FROM charges c JOIN accounts a ON a.id = c.account_id
			WHERE a.tech_prefix LIKE '314159%' AND c.occurred_at >= $1 AND c.occurred_at < $2`, month, month.AddDate(0, 1, 0)).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if bs.Total != raw || bs.Chart[11-back].Amount != raw {
			t.Errorf("%s: family total %d, chart %d; raw charges %d", month.Format("2006-01"), bs.Total, bs.Chart[11-back].Amount, raw)
		}
		if back == 0 && raw == 0 {
			t.Error("the demo family has no charges this month: the comparison proves nothing")
		}
	}
}

func prefixes[T any](rows []T, f func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, f(r))
	}
	slices.Sort(out)
	return out
}

func TestSummaryVisibility(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	tests := []struct {
		email string
		want  []string
	}{
		{"principal@acme.test", []string{"31415900", "31415901", "31415902", "31415903"}},
		{"power@acme.test", []string{"31415900", "31415901"}},
		{"east-owner@acme.test", []string{"31415902"}},
		{"general@acme.test", []string{}},
		{"revoked@acme.test", []string{}},
		{"owner@globex.test", []string{}},
		{"owner@initech.test", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			uid := userID(t, db, tc.email)
			rows, tot, err := db.AccountsSummary(ctx, scopeOf(t, db, uid), SummaryQuery{Month: time.Now(), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if got := prefixes(rows, func(r SummaryRow) string { return r.TechPrefix }); !slices.Equal(got, tc.want) {
				t.Errorf("All Accounts shows %v, want %v", got, tc.want)
			}
			var sum SummaryTotals
			for _, r := range rows {
				sum.Accounts++
				sum.Balance += r.Balance
				sum.Numbers += r.Numbers
				sum.Calls += r.Calls
				sum.BilledSecs += r.BilledSecs
				sum.Charges += r.Charges
			}
			if sum != tot {
				t.Errorf("totals %+v, sum of the rows %+v", tot, sum)
			}
			bs, err := db.BillingSummaryPage(ctx, scopeOf(t, db, uid), SummaryQuery{Month: time.Now(), Limit: 100}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := prefixes(bs.Rows, func(r BillingRow) string { return r.TechPrefix }); !slices.Equal(got, tc.want) {
				t.Errorf("Billing Summary shows %v, want %v", got, tc.want)
			}
			var total int64
			for _, r := range bs.Rows {
				total += r.Total
			}
			if total != bs.Total || bs.Chart[11].Amount != total {
				t.Errorf("billing total %d, chart %d, sum of the rows %d", bs.Total, bs.Chart[11].Amount, total)
			}
			sc, err := db.SummaryScopeOf(ctx, uid)
			if err != nil || sc.Visible != (len(tc.want) > 0) {
				t.Errorf("SummaryScopeOf: Visible = %v, %v; want %v", sc != nil && sc.Visible, err, len(tc.want) > 0)
			}
		})
	}
}

// slowChart sums the visible accounts' own rollups per month: what the
// family-rollup path must equal.
func slowChart(t *testing.T, db *DB, uid int64, first, last time.Time) map[string]int64 {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `WITH vis AS (`+visibleSQL+`)
		SELECT c.month, sum(c.amount_micros) FROM vis v JOIN charge_monthly c ON c.account_id = v.id
		WHERE c.month BETWEEN $2 AND $3 GROUP BY 1`, uid, first, last)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var m time.Time
		var v int64
		if err := rows.Scan(&m, &v); err != nil {
			t.Fatal(err)
		}
		if v != 0 {
			out[m.Format("2006-01")] = v
		}
	}
	return out
}

func checkChart(t *testing.T, db *DB, email string) {
	t.Helper()
	uid := userID(t, db, email)
	now := time.Now()
	bs, err := db.BillingSummaryPage(context.Background(), scopeOf(t, db, uid), SummaryQuery{Month: now, Limit: 10}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, m := range bs.Chart {
		if m.Amount != 0 {
			got[m.Month.Format("2006-01")] = m.Amount
		}
	}
	want := slowChart(t, db, uid, bs.Chart[0].Month, bs.Chart[11].Month)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s chart %v, want %v", email, got, want)
	}
}

func TestSummaryChartFollowsTheFamily(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	for _, email := range []string{"principal@acme.test", "power@acme.test", "east-owner@acme.test"} {
		checkChart(t, db, email)
	}
	// East leaves the family, West is closed, and Globex joins it.
	if _, err := db.Unlink(ctx, portal.Actor{}, acctID(t, db, "31415900"), "31415902"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE accounts SET status = 'closed' WHERE tech_prefix = '31415901'`); err != nil {
		t.Fatal(err)
	}
	if err := relink(db, acctID(t, db, "27182800"), acctID(t, db, "31415900"), 0); err != nil {
		t.Fatal(err)
	}
	checkSummaryRollups(t, db)
	for _, email := range []string{"principal@acme.test", "power@acme.test", "east-owner@acme.test", "owner@globex.test"} {
		checkChart(t, db, email)
	}
}

func acctID(t *testing.T, db *DB, prefix string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `SELECT id FROM accounts WHERE tech_prefix = $1`, prefix).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// relink moves child under parent the way ConfirmLink does, without a
// token; pause holds the locks a moment between the change and the move,
// widening the window a concurrent charge could fall into.
func relink(db *DB, child, parent int64, pause time.Duration) error {
	ctx := context.Background()
	return db.tx(ctx, func(tx pgx.Tx) error {
		st, err := loadLinkStateTx(ctx, tx, parent, child, true)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET parent_id = $2 WHERE id = $1`, child, parent); err != nil {
			return err
		}
		time.Sleep(pause)
		return db.moveFamilyTx(ctx, tx, child, st.child.root(), parent)
	})
}

// TestFamilyRollupUnderConcurrentLinks records charges, calls and numbers
// for an account while it is linked and unlinked over and over, and for
// another while it is closed and reopened: the family rollups stay exact.
func TestFamilyRollupUnderConcurrentLinks(t *testing.T) {
	f := newSubFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				at := time.Date(2026, time.Month(1+i%3), 1+i%27, 12, 0, 0, 0, time.UTC)
				if _, err := f.db.Pool.Exec(ctx, `INSERT INTO charges (account_id, occurred_at, category, amount_micros)
					VALUES ($1, $3, 'usage', 1234567), ($2, $3, 'taxes', 1001)`, f.c, f.k, at); err != nil {
					errs <- err
					return
				}
				// Calls and numbers too: the family's call rollup and totals follow.
				if _, err := f.db.Pool.Exec(ctx, `INSERT INTO cdrs (account_id, started_at, direction, from_number, to_number, disposition, duration_secs, billed_secs)
					VALUES ($1, $3, 'outbound', '+12065550100', '+12065550101', 'answered', 61, 66),
					($2, $3, 'inbound', '+12065550102', '+12065550103', 'answered', 7, 12)`, f.c, f.k, at); err != nil {
					errs <- err
					return
				}
				number := fmt.Sprintf("+1425%d%06d", w, i)
				if _, err := f.db.Pool.Exec(ctx, `INSERT INTO dids (account_id, number) VALUES ($1, $2)`, f.c, number); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if _, err := f.db.Pool.Exec(ctx, `UPDATE dids SET released_at = now() WHERE number = $1`, number); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := relink(f.db, f.c, f.p2, 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Unlink(ctx, portal.Actor{}, f.p2, f.cPrefix); err != nil {
			t.Fatal(err)
		}
		// Closing and reopening an account takes its history out of the
		// family rollups and back, while its charges keep coming.
		status := map[bool]string{false: "closed", true: "active"}[i%2 == 1]
		if _, err := f.db.Pool.Exec(ctx, `UPDATE accounts SET status = $2 WHERE id = $1`, f.k, status); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkSummaryRollups(t, f.db)
}
