package postgres

import (
	"context"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

// tinyLarge is the large data set at a scale a test can afford.
func tinyLarge() LargeOptions {
	return LargeOptions{SubAccounts: 40, Users: 20, DIDs: 200, CDRs: 3_000, Months: 3,
		Anchor: time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)}
}

func TestSeedLargeTiny(t *testing.T) {
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(t)}
	var phases []string
	o := tinyLarge()
	o.Progress = func(phase string, done, total int64) {
		if done > total {
			t.Errorf("progress %d of %d", done, total)
		}
		if len(phases) == 0 || phases[len(phases)-1] != phase {
			phases = append(phases, phase)
		}
	}
	created, err := db.SeedLarge(ctx, o)
	if err != nil || !created {
		t.Fatalf("SeedLarge = %v, %v; want true, nil", created, err)
	}
	if len(phases) < 5 {
		t.Errorf("phases %v; want accounts … analyze", phases)
	}
	info, err := db.LargeSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.SubAccounts != 40 || info.CDRs != 3_000 {
		t.Errorf("large set = %d sub-accounts, %d calls; want 40, 3000", info.SubAccounts, info.CDRs)
	}
	if want := time.Date(2025, 12, 18, 0, 0, 0, 0, time.UTC); !info.First.Equal(want) {
		t.Errorf("first day %v, want %v", info.First, want)
	}
	if want := o.Anchor; !info.Last.Equal(want) {
		t.Errorf("last day %v, want %v", info.Last, want)
	}

	checks := []struct {
		name, sql string
		want      int64
	}{
		{"users", `SELECT count(*) FROM users`, 20},
		{"numbers", `SELECT count(*) FROM dids`, 200},
		{"calls", `SELECT count(*) FROM cdrs`, 3_000},
		{"daily rollup = calls", `SELECT sum(calls) FROM cdr_daily`, 3_000},
		{"calls in the future", `SELECT count(*) FROM cdrs WHERE started_at >= '2026-03-18'`, 0},
		{"charges in the future", `SELECT count(*) FROM charges WHERE occurred_at >= '2026-03-18'`, 0},
		{"payments in the future", `SELECT count(*) FROM payments WHERE created_at >= '2026-03-18'`, 0},
		{"usage charges = rated calls", `SELECT (SELECT sum(amount_micros) FROM charges WHERE category = 'usage') - (SELECT sum(charge_micros) FROM cdrs)`, 0},
		{"monthly rollup = ledger", `SELECT (SELECT sum(amount_micros) FROM charge_monthly) - (SELECT sum(amount_micros) FROM charges)`, 0},
		{"family rollup = ledger of open accounts", `SELECT (SELECT sum(amount_micros) FROM family_charge_monthly) -
			(SELECT sum(c.amount_micros) FROM charges c JOIN accounts a ON a.id = c.account_id WHERE a.status <> 'closed')`, 0},
		{"balance = payments - charges", `SELECT (SELECT sum(balance_micros) FROM accounts) -
			((SELECT sum(amount_micros) FROM payments WHERE status = 'succeeded') - (SELECT sum(amount_micros) FROM charges))`, 0},
		{"calls of pending accounts", `SELECT count(*) FROM cdrs c JOIN accounts a ON a.id = c.account_id WHERE a.status = 'pending_activation'`, 0},
		{"revoked users", `SELECT count(*) FROM revocations`, 3},
	}
	for _, c := range checks {
		var got int64
		if err := db.Pool.QueryRow(ctx, c.sql).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}

	// The Principal reaches the root and, by inheritance, any sub-account.
	var uid int64
	if err := db.Pool.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, LargePrincipalEmail).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{LargeRootPrefix, "50000007"} {
		aa, err := db.Access(ctx, uid, prefix)
		if err != nil || aa.Role != portal.RolePrincipal {
			t.Errorf("Access(%s) = %v, %v; want Principal", prefix, aa, err)
		}
	}

	again, err := db.SeedLarge(ctx, o)
	if err != nil || again {
		t.Errorf("second SeedLarge = %v, %v; want false, nil", again, err)
	}
}

// The same options give the same rows: compare a digest of the calls and
// the accounts with a second load in another database.
func TestSeedLargeDeterministic(t *testing.T) {
	ctx := context.Background()
	digest := func() string {
		db := &DB{Pool: NewTestPool(t)}
		if _, err := db.SeedLarge(ctx, tinyLarge()); err != nil {
			t.Fatal(err)
		}
		var d string
		err := db.Pool.QueryRow(ctx, `SELECT md5(
			(SELECT string_agg(concat_ws(',', a.tech_prefix, c.started_at, c.direction, c.from_number, c.to_number, c.disposition,
			        c.billed_secs, c.charge_micros, c.call_id), ';' ORDER BY c.started_at, c.call_id)
			 FROM cdrs c JOIN accounts a ON a.id = c.account_id) ||
			(SELECT string_agg(concat_ws(',', tech_prefix, company_name, company_alias, status, balance_micros), ';' ORDER BY tech_prefix) FROM accounts))`).Scan(&d)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if a, b := digest(), digest(); a != b {
		t.Errorf("two loads differ: %s vs %s", a, b)
	}
}
