package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

func init() { seedResources = seedDemoResources }

// demoResources is what each demo account holds. Numbers come from the
// fictional 555-01xx ranges (and Ofcom's drama range for London), addresses
// from the documentation ranges, so nothing in the demo is anybody's real
// number or host.
type demoResources struct {
	numbers  []string
	calls    int
	rentalMc int64
	hosts    []string
	routes   [][2]string
	creds    []string
	keys     []string
	card     bool
}

func usNumbers(area string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1%s55501%02d", area, i)
	}
	return out
}

func ukNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+4420794600%02d", i)
	}
	return out
}

var demoPlan = map[string]demoResources{
	"acme": {numbers: usNumbers("206", 24), calls: 3000, rentalMc: 1_000_000,
		hosts:  []string{"203.0.113.10/32", "203.0.113.64/28", "2001:db8:100::10/128"},
		routes: [][2]string{{"Main PBX", "sip:pbx@203.0.113.10:5060"}, {"Support queue", "sip:support@pbx.acme.example;transport=tcp"}, {"Backup SBC", "sbc2.acme.example:5061"}},
		creds:  []string{"acme-hq", "acme-fax"}, keys: []string{"Billing export", "Provisioning"}, card: true},
	"west": {numbers: usNumbers("415", 16), calls: 2500, rentalMc: 1_000_000,
		hosts:  []string{"198.51.100.20/32", "198.51.100.21/32"},
		routes: [][2]string{{"West PBX", "sip:pbx@198.51.100.20:5060"}, {"West voicemail", "sip:vm@198.51.100.21;transport=udp"}},
		creds:  []string{"west-office"}, keys: []string{"CRM integration"}, card: true},
	"east": {numbers: usNumbers("212", 10), calls: 1500, rentalMc: 1_000_000,
		hosts:  []string{"198.51.100.40/32"},
		routes: [][2]string{{"East PBX", "sip:pbx@198.51.100.40:5060"}},
		creds:  []string{"east-desk"}},
	"globex": {numbers: ukNumbers(12), calls: 2000, rentalMc: 1_500_000,
		hosts:  []string{"203.0.113.200/32", "2001:db8:200::/64"},
		routes: [][2]string{{"London SBC", "sips:trunk@sbc.globex.example:5061;transport=tls"}},
		creds:  []string{"globex-lab"}, keys: []string{"NOC monitoring"}, card: true},
	"initech": {numbers: usNumbers("512", 6), calls: 600, rentalMc: 1_000_000,
		hosts:  []string{"203.0.113.150/32"},
		routes: [][2]string{{"Office", "sip:office@203.0.113.150"}}},
}

// seedDemoResources fills the demo accounts with numbers, interconnection,
// about four months of calls, the charges they produce (through the
// ledger, so the rollups and balances follow), payments, billing info and
// API keys. A fixed random seed keeps it the same on every run.
func seedDemoResources(ctx context.Context, tx pgx.Tx, accounts, users map[string]int64) error {
	rng := rand.New(rand.NewPCG(20260314, 31415900))
	now := time.Now().UTC().Truncate(time.Minute)
	start := MonthStart(now).AddDate(0, -3, 0)
	keys := make([]string, 0, len(demoPlan))
	for k := range demoPlan {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		plan, id := demoPlan[key], accounts[key]
		if id == 0 {
			continue
		}
		actor := users["principal@acme.test"]
		if key == "globex" {
			actor = users["owner@globex.test"]
		} else if key == "initech" {
			actor = users["owner@initech.test"]
		}
		if err := seedInterconnect(ctx, tx, id, plan, now); err != nil {
			return fmt.Errorf("%s interconnection: %w", key, err)
		}
		if err := seedCalls(ctx, tx, rng, id, plan, start, now); err != nil {
			return fmt.Errorf("%s calls: %w", key, err)
		}
		if err := seedMoney(ctx, tx, rng, id, actor, plan, start, now); err != nil {
			return fmt.Errorf("%s billing: %w", key, err)
		}
	}
	return nil
}

// releasedDaysAgo is when the last number of each demo account was given
// back; it has calls only from before.
const releasedDaysAgo = 10

func seedInterconnect(ctx context.Context, tx pgx.Tx, accountID int64, plan demoResources, now time.Time) error {
	var routeIDs []int64
	for _, r := range plan.routes {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO inbound_routes (account_id, name, target, created_at) VALUES ($1, $2, $3, now() - interval '100 days') RETURNING id`,
			accountID, r[0], r[1]).Scan(&id); err != nil {
			return err
		}
		routeIDs = append(routeIDs, id)
	}
	for i, h := range plan.hosts {
		desc := []string{"Office firewall", "Data center", "IPv6 edge"}[i%3]
		if _, err := tx.Exec(ctx, `INSERT INTO sip_hosts (account_id, address, description, created_at, updated_at)
			VALUES ($1, $2, $3, now() - make_interval(days => $4), now() - make_interval(days => $4))`,
			accountID, netip.MustParsePrefix(h), desc, 110-i*17); err != nil {
			return err
		}
	}
	for _, u := range plan.creds {
		// The password of a demo credential is random and thrown away:
		// nobody knows it, not even from reading this code.
		pw, err := newSIPPassword()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sip_credentials (account_id, username, ha1_sha256, description, created_at, updated_at, password_changed_at)
			VALUES ($1, $2, $3, 'Desk phones', now() - interval '100 days', now() - interval '100 days', now() - interval '45 days')`,
			accountID, u, SIPHA1(u, pw)); err != nil {
			return err
		}
	}
	labels := []string{"Main line", "Sales", "Support", "Fax", "Billing", "Reception", "After hours", "", "", ""}
	for i, n := range plan.numbers {
		if _, err := portal.ParseE164("number", n); err != nil {
			return fmt.Errorf("demo number %s: %w", n, err)
		}
		var route *int64
		if len(routeIDs) > 0 && i%5 != 4 {
			route = &routeIDs[i%len(routeIDs)]
		}
		released := i == len(plan.numbers)-1 // one number was given back; its calls remain
		_, err := tx.Exec(ctx, `INSERT INTO dids (account_id, number, label, route_id, monthly_micros, acquired_at, released_at)
			VALUES ($1, $2, $3, $4, $5, $6::timestamptz - make_interval(days => $7), CASE WHEN $8 THEN $6::timestamptz - make_interval(days => $9) END)`,
			accountID, n, labels[i%len(labels)], route, plan.rentalMc, now, 120+i, released, releasedDaysAgo)
		if err != nil {
			return err
		}
	}
	return nil
}

// demoRate is the per-minute price of a call in micro-dollars; every rate
// is a multiple of 10 so that 6-second billing increments price exactly.
func demoRate(direction, to string) int64 {
	switch {
	case direction == "inbound":
		return 4_500
	case to[:3] == "+44":
		return 25_000
	}
	return 9_000
}

func seedCalls(ctx context.Context, tx pgx.Tx, rng *rand.Rand, accountID int64, plan demoResources, start, now time.Time) error {
	span := now.Sub(start)
	rows := make([][]any, 0, plan.calls)
	for i := 0; i < plan.calls; i++ {
		at := start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
		did := plan.numbers[rng.IntN(len(plan.numbers))]
		if did == plan.numbers[len(plan.numbers)-1] && at.After(now.AddDate(0, 0, -releasedDaysAgo)) {
			did = plan.numbers[0]
		}
		remote := fmt.Sprintf("+1%03d555%04d", 200+rng.IntN(700), rng.IntN(10000))
		if rng.IntN(8) == 0 {
			remote = fmt.Sprintf("+44207946%04d", rng.IntN(10000))
		}
		direction, from, to := "inbound", remote, did
		if rng.IntN(5) < 2 {
			direction, from, to = "outbound", did, remote
		}
		disposition, dur := "answered", 0
		switch p := rng.IntN(100); {
		case p < 78:
			dur = 5 + int(rng.ExpFloat64()*150)
			if dur > 3600 {
				dur = 3600
			}
		case p < 88:
			disposition = "no_answer"
		case p < 95:
			disposition = "busy"
		default:
			disposition = "failed"
		}
		billed := 0
		if dur > 0 {
			billed = max(6, (dur+5)/6*6)
		}
		rate := demoRate(direction, to)
		charge := int64(billed) * rate / 60
		callID := fmt.Sprintf("%x@sbc1.carrier.example", sha256.Sum256(fmt.Appendf(nil, "%d-%d", accountID, i)))[:40]
		rows = append(rows, []any{accountID, at, direction, from, to, disposition, dur, billed, rate, charge, callID})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"cdrs"},
		[]string{"account_id", "started_at", "direction", "from_number", "to_number", "disposition", "duration_secs", "billed_secs", "rate_micros", "charge_micros", "call_id"},
		pgx.CopyFromRows(rows))
	return err
}

// seedMoney charges what the calls cost, day by day, plus monthly rentals,
// messaging and taxes, and pays the account up each month.
func seedMoney(ctx context.Context, tx pgx.Tx, rng *rand.Rand, accountID, actor int64, plan demoResources, start, now time.Time) error {
	type day struct {
		calls  int64
		charge int64
	}
	days := map[time.Time]*day{}
	rows, err := tx.Query(ctx, `SELECT (started_at AT TIME ZONE 'UTC')::date, count(*), sum(charge_micros) FROM cdrs
		WHERE account_id = $1 GROUP BY 1`, accountID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var d time.Time
		var v day
		if err := rows.Scan(&d, &v.calls, &v.charge); err != nil {
			rows.Close()
			return err
		}
		days[d.UTC()] = &v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var charges [][]any
	add := func(at time.Time, cat, desc string, amount int64) {
		charges = append(charges, []any{accountID, at, cat, desc, amount})
	}
	for d := start; d.Before(now); d = d.AddDate(0, 0, 1) {
		if v, ok := days[d]; ok && v.charge > 0 {
			add(d.Add(23*time.Hour+59*time.Minute), "usage", fmt.Sprintf("Voice usage, %d calls", v.calls), v.charge)
		}
	}
	var monthly []int64
	for m := start; m.Before(now); m = m.AddDate(0, 1, 0) {
		held := int64(len(plan.numbers))
		rental := held * plan.rentalMc
		add(m, "number_rental", fmt.Sprintf("Number rental, %d numbers", held), rental)
		sms := int64(200 + rng.IntN(2000))
		smsAt := m.Add(27 * 24 * time.Hour)
		if smsAt.After(now) {
			// The current month is billed to date.
			smsAt, sms = now.Add(-time.Hour), sms*int64(now.Day())/31+1
		}
		add(smsAt, "messaging", fmt.Sprintf("SMS, %d messages", sms), sms*7_500)
		subtotal := rental + sms*7_500
		for d, v := range days {
			if !d.Before(m) && d.Before(m.AddDate(0, 1, 0)) {
				subtotal += v.charge
			}
		}
		if end := m.AddDate(0, 1, 0); end.Before(now) {
			// Taxes are billed when the month closes: 8.25 %, rounded to the micro-dollar.
			add(end.Add(-time.Second), "taxes", "Telecommunications taxes and fees", (subtotal*825+5000)/10000)
		}
		monthly = append(monthly, subtotal)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"charges"}, []string{"account_id", "occurred_at", "category", "description", "amount_micros"},
		pgx.CopyFromRows(charges)); err != nil {
		return err
	}
	// One payment a month, rounded up to the next $50 plus a little credit,
	// keeps the demo balances positive.
	for i, sub := range monthly {
		at := start.AddDate(0, i, 2).Add(10 * time.Hour)
		if at.After(now) {
			at = now.Add(-time.Hour)
		}
		amount := ((sub*11/10)/(50*portal.MicrosPerDollar) + 1) * 50 * portal.MicrosPerDollar
		method, brand, last4 := "bank_transfer", "", ""
		if plan.card {
			method, brand, last4 = "card", "Visa", "4242"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payments (account_id, amount_micros, status, method, card_brand, card_last4, processor_ref,
			idempotency_key, created_by, created_at, completed_at) VALUES ($1, $2, 'succeeded', $3, $4, $5, $6, $7, $8, $9, $9)`,
			accountID, amount, method, brand, last4, fmt.Sprintf("ch_demo_%d_%d", accountID, i), fmt.Sprintf("demo-%d", i), actor, at); err != nil {
			return err
		}
	}
	if plan.card {
		if _, err := tx.Exec(ctx, `INSERT INTO billing_info (account_id, contact_name, contact_email, address_line1, city, region, postal_code,
			country, card_brand, card_last4, card_exp_month, card_exp_year, card_ref, updated_by)
			SELECT id, contact_name, contact_email, address_line1, city, region, postal_code, country, 'Visa', '4242', 12, $2, 'card_dev_demo', $3
			FROM accounts WHERE id = $1`, accountID, now.Year()+3, actor); err != nil {
			return err
		}
	}
	for i, name := range plan.keys {
		if err := seedAPIKey(ctx, tx, rng, accountID, actor, name, 60-i*20, 3+i*30, false); err != nil {
			return err
		}
	}
	if len(plan.keys) > 1 {
		if err := seedAPIKey(ctx, tx, rng, accountID, actor, "Old integration", 90, 0, true); err != nil {
			return err
		}
	}
	return nil
}

// seedAPIKey adds a demo key. What the list shows comes from the seeded
// generator; the stored hash is of a random secret nobody ever sees, so a
// demo key cannot be used.
func seedAPIKey(ctx context.Context, tx pgx.Tx, rng *rand.Rand, accountID, actor int64, name string, ageDays, usedHoursAgo int, revoked bool) error {
	_, _, hash, err := newAPISecret()
	if err != nil {
		return err
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	prefix := []byte(apiKeyPrefix)
	for range 6 {
		prefix = append(prefix, alphabet[rng.IntN(len(alphabet))])
	}
	_, err = tx.Exec(ctx, `INSERT INTO api_keys (account_id, name, prefix, secret_hash, created_by, created_at, last_used_at, revoked_at, revoked_by)
		VALUES ($1, $2, $3, $4, $5, now() - make_interval(days => $6),
		        CASE WHEN $7 > 0 THEN now() - make_interval(hours => $7) END,
		        CASE WHEN $8 THEN now() - interval '30 days' END, CASE WHEN $8 THEN $5::bigint END)`,
		accountID, name, string(prefix), hash, actor, ageDays, usedHoursAgo, revoked)
	return err
}
