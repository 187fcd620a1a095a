package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// mailOutbox records each email as a dev_mail row inside the caller's
// transaction, so a test sees exactly the emails of committed work.
type mailOutbox struct{}

func (mailOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error {
	_, err := tx.Exec(ctx, `INSERT INTO dev_mail (to_addr, subject, text_body, html_body) VALUES ($1, $2, $3, '')`,
		e.To, e.Template+":"+e.Vars["subject"], e.Vars["body"]+"\n"+e.Link)
	return err
}

// resFixture is two unrelated accounts with one user each.
type resFixture struct {
	db         *DB
	a, b       int64
	userA      int64
	actorA     portal.Actor
	prefixA    string
	prefixB    string
	routeA     int64
	routeB     int64
	didA, didB string
}

func newResFixture(t *testing.T) *resFixture {
	t.Helper()
	ctx := context.Background()
	f := &resFixture{db: &DB{Pool: NewTestPool(t), Outbox: mailOutbox{}, BaseURL: "https://portal.example.test"},
		prefixA: "60000000", prefixB: "70000000", didA: "+12065550100", didB: "+12065550101"}
	q := f.db.Pool
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status) VALUES ($1, 'Alpha', 'noc@alpha.test', 'active') RETURNING id`,
		f.prefixA).Scan(&f.a))
	must(q.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status) VALUES ($1, 'Bravo', 'noc@bravo.test', 'active') RETURNING id`,
		f.prefixB).Scan(&f.b))
	must(q.QueryRow(ctx, `INSERT INTO users (email, full_name, email_verified_at) VALUES ('ann@alpha.test', 'Ann Alpha', now()) RETURNING id`).Scan(&f.userA))
	f.actorA = portal.Actor{UserID: f.userA, IP: "192.0.2.1", RequestID: "req-1"}
	must(q.QueryRow(ctx, `INSERT INTO inbound_routes (account_id, name, target) VALUES ($1, 'A PBX', 'sip:pbx@203.0.113.1') RETURNING id`, f.a).Scan(&f.routeA))
	must(q.QueryRow(ctx, `INSERT INTO inbound_routes (account_id, name, target) VALUES ($1, 'B PBX', 'sip:pbx@203.0.113.2') RETURNING id`, f.b).Scan(&f.routeB))
	_, err := q.Exec(ctx, `INSERT INTO dids (account_id, number, label) VALUES ($1, $2, 'A main'), ($3, $4, 'B main')`, f.a, f.didA, f.b, f.didB)
	must(err)
	return f
}

func (f *resFixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

// TestSeedDemoResources loads the demo data and checks every page would
// look alive, and that the rollups and balances agree with the ledger to
// the micro-dollar.
func TestSeedDemoResources(t *testing.T) {
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(t), Outbox: mailOutbox{}}
	if created, err := db.SeedDemo(ctx); err != nil || !created {
		t.Fatalf("SeedDemo = %v, %v", created, err)
	}
	var acme int64
	if err := db.Pool.QueryRow(ctx, `SELECT id FROM accounts WHERE tech_prefix = '31415900'`).Scan(&acme); err != nil {
		t.Fatal(err)
	}
	f := &resFixture{db: db}
	for _, c := range []struct {
		sql  string
		min  int
		what string
	}{
		{`SELECT count(*) FROM dids WHERE account_id = $1 AND released_at IS NULL`, 20, "numbers"},
		{`SELECT count(*) FROM cdrs WHERE account_id = $1`, 2000, "calls"},
		{`SELECT count(DISTINCT date_trunc('month', started_at)) FROM cdrs WHERE account_id = $1`, 3, "months of calls"},
		{`SELECT count(*) FROM inbound_routes WHERE account_id = $1`, 2, "routes"},
		{`SELECT count(*) FROM sip_hosts WHERE account_id = $1`, 2, "hosts"},
		{`SELECT count(*) FROM sip_credentials WHERE account_id = $1`, 1, "credentials"},
		{`SELECT count(DISTINCT category) FROM charges WHERE account_id = $1`, 4, "charge categories"},
		{`SELECT count(*) FROM payments WHERE account_id = $1 AND status = 'succeeded'`, 3, "payments"},
		{`SELECT count(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL`, 1, "API keys"},
		{`SELECT count(*) FROM billing_info WHERE account_id = $1 AND card_last4 = '4242'`, 1, "card on file"},
	} {
		if n := f.count(t, c.sql, acme); n < c.min {
			t.Errorf("acme has %d %s, want at least %d", n, c.what, c.min)
		}
	}
	checkRollups(t, f)
	// The seed is deterministic: the same numbers and calls every time.
	var sum int64
	if err := db.Pool.QueryRow(ctx, `SELECT sum(duration_secs) FROM cdrs WHERE account_id = $1`, acme).Scan(&sum); err != nil || sum == 0 {
		t.Fatalf("call durations: %d, %v", sum, err)
	}
	db2 := &DB{Pool: NewTestPool(t), Outbox: mailOutbox{}}
	if _, err := db2.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	var sum2 int64
	if err := db2.Pool.QueryRow(ctx, `SELECT sum(c.duration_secs) FROM cdrs c JOIN accounts a ON a.id = c.account_id WHERE a.tech_prefix = '31415900'`).Scan(&sum2); err != nil || sum2 != sum {
		t.Errorf("second seed: total duration %d, want %d (same seed, same data)", sum2, sum)
	}
}

// checkRollups compares every rollup and balance with the raw rows.
func checkRollups(t *testing.T, f *resFixture) {
	t.Helper()
	checks := map[string]string{
		"charge_daily": `SELECT count(*) FROM (
			SELECT account_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, category, sum(amount_micros) AS amount, count(*) AS lines FROM charges GROUP BY 1, 2, 3
		) raw FULL JOIN charge_daily d USING (account_id, day, category)
		WHERE raw.amount IS DISTINCT FROM d.amount_micros OR raw.lines IS DISTINCT FROM d.lines`,
		"charge_monthly": `SELECT count(*) FROM (
			SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, category, sum(amount_micros) AS amount, count(*) AS lines FROM charges GROUP BY 1, 2, 3
		) raw FULL JOIN charge_monthly m USING (account_id, month, category)
		WHERE raw.amount IS DISTINCT FROM m.amount_micros OR raw.lines IS DISTINCT FROM m.lines`,
		"account_month_charges": `SELECT count(*) FROM (
			SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, sum(amount_micros) AS amount FROM charges GROUP BY 1, 2
		) raw FULL JOIN account_month_charges m USING (account_id, month)
		WHERE raw.amount IS DISTINCT FROM m.amount_micros`,
		"cdr_daily": `SELECT count(*) FROM (
			SELECT account_id, (started_at AT TIME ZONE 'UTC')::date AS day, direction, disposition, count(*) AS calls,
			       sum(duration_secs) AS dur, sum(billed_secs) AS billed, sum(charge_micros) AS charge FROM cdrs GROUP BY 1, 2, 3, 4
		) raw FULL JOIN cdr_daily d USING (account_id, day, direction, disposition)
		WHERE raw.calls IS DISTINCT FROM d.calls OR raw.dur IS DISTINCT FROM d.duration_secs
		   OR raw.billed IS DISTINCT FROM d.billed_secs OR raw.charge IS DISTINCT FROM d.charge_micros`,
		"balance": `SELECT count(*) FROM accounts a WHERE a.balance_micros <>
			coalesce((SELECT sum(amount_micros) FROM payments WHERE account_id = a.id AND status = 'succeeded'), 0)
			- coalesce((SELECT sum(amount_micros) FROM charges WHERE account_id = a.id), 0)`,
	}
	for name, sql := range checks {
		if n := f.count(t, sql); n != 0 {
			t.Errorf("%s: %d rows disagree with the raw data, want 0", name, n)
		}
	}
}
