package postgres

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// LargeRootPrefix is the tech prefix of the large data set's family root;
// its sub-accounts follow it (50000001, 50000002, …). The root's presence
// marks a completed load: the whole set is written in one transaction.
const LargeRootPrefix = "50000000"

// LargePrincipalEmail is the large family's first Principal, the login the
// benchmark signs in as (password DemoPassword).
const LargePrincipalEmail = "principal@large.test"

// LargeOptions sizes the benchmark data set. The zero value of a field
// takes the full-size default of DefaultLargeOptions.
type LargeOptions struct {
	SubAccounts int
	Users       int
	DIDs        int
	CDRs        int
	// Months of calls, ending with Anchor (three months: the 91 days
	// up to and including it).
	Months int
	// Anchor is the last day with calls (UTC); zero means today. The data
	// is a function of the options and the anchor day alone.
	Anchor time.Time
	// Progress, when set, is told how far the load is.
	Progress SeedProgress
}

// SeedProgress receives the loader's position: rows written so far out of
// the planned total (an estimate until the end), and the phase it is in.
type SeedProgress func(phase string, done, total int64)

// DefaultLargeOptions is the data set of the performance plan: one root
// with 10,000 sub-accounts, 200 users, 50,000 numbers and 5,000,000 calls
// over three months.
func DefaultLargeOptions() LargeOptions {
	return LargeOptions{SubAccounts: 10_000, Users: 200, DIDs: 50_000, CDRs: 5_000_000, Months: 3}
}

// Scaled multiplies every count by f (at least one sub-account and the
// handful of users the mix of user types needs).
func (o LargeOptions) Scaled(f float64) LargeOptions {
	sc := func(n, least int) int { return max(least, int(math.Round(float64(n)*f))) }
	o.SubAccounts = sc(o.SubAccounts, 1)
	o.Users = sc(o.Users, 10)
	o.DIDs = sc(o.DIDs, o.SubAccounts+1)
	o.CDRs = sc(o.CDRs, 1)
	return o
}

func (o LargeOptions) withDefaults() LargeOptions {
	d := DefaultLargeOptions()
	if o.SubAccounts <= 0 {
		o.SubAccounts = d.SubAccounts
	}
	if o.Users <= 0 {
		o.Users = d.Users
	}
	o.Users = max(o.Users, 10)
	if o.DIDs <= 0 {
		o.DIDs = d.DIDs
	}
	o.DIDs = max(o.DIDs, o.SubAccounts+1)
	if o.CDRs <= 0 {
		o.CDRs = d.CDRs
	}
	if o.Months <= 0 {
		o.Months = d.Months
	}
	if o.Anchor.IsZero() {
		o.Anchor = time.Now()
	}
	o.Anchor = o.Anchor.UTC().Truncate(24 * time.Hour)
	return o
}

// LargeInfo describes a loaded large data set, as the benchmark needs it.
type LargeInfo struct {
	RootID      int64
	SubAccounts int
	CDRs        int64
	// First and Last are the first and last days with calls.
	First, Last time.Time
}

// LargeSet reports the large data set in the database, or ErrNotFound.
func (db *DB) LargeSet(ctx context.Context) (*LargeInfo, error) {
	var li LargeInfo
	err := db.Pool.QueryRow(ctx, `SELECT a.id, (SELECT count(*) FROM accounts s WHERE s.parent_id = a.id),
			coalesce((SELECT sum(calls) FROM cdr_monthly), 0),
			coalesce((SELECT min(day) FROM cdr_daily WHERE account_id = a.id), current_date),
			coalesce((SELECT max(day) FROM cdr_daily WHERE account_id = a.id), current_date)
		FROM accounts a WHERE a.tech_prefix = $1`, LargeRootPrefix).Scan(&li.RootID, &li.SubAccounts, &li.CDRs, &li.First, &li.Last)
	if err != nil {
		return nil, mapErr(err, "large set")
	}
	return &li, nil
}

// largeSeed is the generator's fixed seed: the same options give the same
// rows on every machine.
const largeSeed1, largeSeed2 = 20261204, 50000000

// loader carries one large load: the options, the generator, the ids
// written so far and the progress counters.
type loader struct {
	o     LargeOptions
	tx    pgx.Tx
	rng   *rand.Rand
	accts []largeAccount // [0] is the root
	users []int64
	first time.Time // first day with calls
	days  int
	done  int64
	total int64
	phase string
}

type largeAccount struct {
	id     int64
	status string
	weight float64 // share of the calls
	dids   []string
	held   int64 // numbers held at the end of the load
	route  int64
}

func (l *loader) add(n int) {
	l.done += int64(n)
	if l.o.Progress != nil {
		l.o.Progress(l.phase, l.done, max(l.total, l.done))
	}
}

func (l *loader) setPhase(p string) {
	l.phase = p
	l.add(0)
}

// SeedLarge loads the large benchmark data set with COPY in one transaction,
// unless it is already there; it reports whether it loaded it. Rollups,
// balances and family totals are kept by the schema's own triggers, as they
// would be for calls written by a switch.
func (db *DB) SeedLarge(ctx context.Context, o LargeOptions) (bool, error) {
	o = o.withDefaults()
	if _, err := db.LargeSet(ctx); err == nil {
		return false, nil
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return false, err
	}
	hash, err := portal.HashPassword(DemoPassword)
	if err != nil {
		return false, err
	}
	l := &loader{o: o, rng: rand.New(rand.NewPCG(largeSeed1, largeSeed2))}
	l.first = o.Anchor.AddDate(0, -o.Months, 1)
	l.days = int(o.Anchor.Sub(l.first)/(24*time.Hour)) + 1
	// Charges are about one usage line per account and active day.
	l.total = int64(o.SubAccounts+1) + int64(o.Users)*20 + int64(o.DIDs) + int64(o.CDRs) +
		int64(min(o.CDRs, (o.SubAccounts+1)*l.days)) + int64(o.SubAccounts+1)*int64(o.Months)*4
	err = db.tx(ctx, func(tx pgx.Tx) error {
		l.tx = tx
		for _, set := range []string{`SET LOCAL work_mem = '64MB'`, `SET LOCAL maintenance_work_mem = '256MB'`, `SET LOCAL synchronous_commit = off`} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		steps := []struct {
			name string
			fn   func(context.Context) error
		}{
			{"accounts", l.accounts},
			{"users", func(ctx context.Context) error { return l.people(ctx, hash) }},
			{"numbers", l.numbers},
			{"calls", l.calls},
		}
		for _, s := range steps {
			l.setPhase(s.name)
			if err := s.fn(ctx); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, mapErr(err, "seed large")
	}
	l.total = l.done
	l.setPhase("analyze")
	// Autovacuum would get there eventually; the benchmark should not
	// measure a table whose visibility map and statistics are still empty.
	// The rollups and balances were each updated once per day of calls in
	// a few minutes, which leaves them many times their size; a live system
	// spreads those updates over months, so they are compacted here.
	for _, sql := range []string{
		`VACUUM (FULL) accounts, cdr_monthly, charge_monthly, account_month_charges, family_charge_monthly, did_counts, family_totals,
			family_cdr_monthly, family_roles, family_users`,
		// A second pass sets the visibility maps, which VACUUM FULL leaves
		// empty, so index-only scans need not visit the heap.
		`VACUUM (ANALYZE) accounts, cdr_monthly, charge_monthly, account_month_charges, family_charge_monthly, did_counts, family_totals,
			family_cdr_monthly, family_roles, family_users, users, memberships, dids, cdrs, cdr_daily, charges, charge_daily, payments`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			return true, mapErr(err, "seed large: vacuum")
		}
	}
	return true, nil
}

// Words the company names are made of: enough combinations that a search
// for one word finds dozens of accounts, not thousands.
var (
	largeCities = []string{"Aberdeen", "Albany", "Austin", "Baltimore", "Bergen", "Bilbao", "Boise", "Bristol", "Calgary",
		"Cardiff", "Chester", "Cork", "Dayton", "Denver", "Dublin", "Duluth", "Eugene", "Fresno", "Galway", "Geneva",
		"Halifax", "Helena", "Houston", "Irvine", "Juneau", "Kent", "Laredo", "Leeds", "Lima", "Lisbon", "Lowell",
		"Macon", "Madison", "Malmo", "Mesa", "Moab", "Nantes", "Newark", "Norfolk", "Oakland", "Ogden", "Omaha",
		"Orlando", "Oslo", "Oxford", "Perth", "Porto", "Provo", "Quebec", "Raleigh", "Reno", "Salem", "Seattle",
		"Tacoma", "Tampa", "Toledo", "Tulsa", "Utica", "Venice", "Waco", "Yonkers", "York", "Zurich"}
	largeWords = []string{"Amber", "Apex", "Arc", "Beacon", "Blue", "Bright", "Cedar", "Clear", "Coastal", "Copper",
		"Crest", "Delta", "Echo", "Falcon", "Granite", "Harbor", "Iron", "Lake", "Maple", "Meridian", "Nova", "Oak",
		"Orbit", "Peak", "Pine", "Prairie", "Quartz", "River", "Silver", "Summit", "Swift", "Union", "Vector", "Willow"}
	largeKinds = []string{"Telecom", "Voice", "Networks", "Communications", "Dental", "Logistics", "Realty", "Clinic",
		"Hotels", "Legal", "Motors", "Foods"}
)

func (l *loader) accounts(ctx context.Context) error {
	var rootID int64
	if err := l.tx.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_name, contact_email,
		address_line1, city, region, postal_code, country, status, balance_micros, activated_at, created_at)
		VALUES ($1, 'Large Family Holdings', 'LFH', 'Lara Large', 'billing@large.test', '1 Benchmark Way', 'Seattle', 'WA',
		        '98101', 'US', 'active', 0, $2, $2) RETURNING id`, LargeRootPrefix, l.first.AddDate(-1, 0, 0)).Scan(&rootID); err != nil {
		return err
	}
	l.accts = []largeAccount{{id: rootID, status: portal.StatusActive}}
	rows := make([][]any, 0, l.o.SubAccounts)
	statuses := make([]string, l.o.SubAccounts)
	for i := range l.o.SubAccounts {
		city := largeCities[l.rng.IntN(len(largeCities))]
		company := fmt.Sprintf("%s %s %s", city, largeWords[l.rng.IntN(len(largeWords))], largeKinds[l.rng.IntN(len(largeKinds))])
		alias := ""
		if l.rng.IntN(10) < 7 {
			alias = fmt.Sprintf("%.3s-%04d", city, i+1)
		}
		status := portal.StatusActive
		switch p := l.rng.IntN(100); {
		case p < 3:
			status = portal.StatusSuspended
		case p < 4:
			status = portal.StatusPendingActivation
		case p < 5:
			status = portal.StatusClosed
		}
		statuses[i] = status
		created := l.first.AddDate(0, 0, -30-l.rng.IntN(700))
		var activated any
		if status != portal.StatusPendingActivation {
			activated = created.Add(time.Hour)
		}
		rows = append(rows, []any{fmt.Sprintf("%08d", 50_000_001+i), company, alias, "Accounts Payable",
			fmt.Sprintf("billing%05d@large.test", i+1), fmt.Sprintf("%d Main Street", 1+l.rng.IntN(999)), city, "", "00000", "US",
			status, rootID, created, activated, created})
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"tech_prefix", "company_name", "company_alias",
		"contact_name", "contact_email", "address_line1", "city", "region", "postal_code", "country", "status", "parent_id",
		"linked_at", "activated_at", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	ids, err := l.tx.Query(ctx, `SELECT id FROM accounts WHERE parent_id = $1 ORDER BY tech_prefix`, rootID)
	if err != nil {
		return err
	}
	subIDs, err := pgx.CollectRows(ids, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	// Call volume is skewed as in life: the root is the biggest customer
	// (a fifth of all calls, so its export is large), the rest log-normal.
	for i, id := range subIDs {
		w := math.Exp(l.rng.NormFloat64())
		if statuses[i] == portal.StatusPendingActivation {
			w = 0 // not yet activated: no calls
		}
		l.accts = append(l.accts, largeAccount{id: id, status: statuses[i], weight: w})
	}
	sum := 0.0
	for _, a := range l.accts[1:] {
		sum += a.weight
	}
	l.accts[0].weight = sum / 4 // a fifth of the total
	l.add(len(l.accts))
	return nil
}

// people writes the users and their grants: Principals of the root,
// Power users over the root and some sub-accounts, General users on a
// few, owners of single sub-accounts, and revoked users whose roles stay.
func (l *loader) people(ctx context.Context, hash string) error {
	first, last := []string{"Ada", "Ben", "Cleo", "Dev", "Ema", "Finn", "Gus", "Hana", "Ivo", "Jude", "Kai", "Lea", "Mo", "Nia",
		"Otto", "Pia", "Quin", "Rui", "Sol", "Tara"}, []string{"Adams", "Baker", "Chen", "Diaz", "Evans", "Fox", "Garcia", "Hill",
		"Ito", "Jones", "Khan", "Lopez", "Moore", "Nagy", "Olsen", "Patel", "Quinn", "Rossi", "Silva", "Tan"}
	rows := make([][]any, 0, l.o.Users)
	seen := l.first.AddDate(0, 0, l.days-1)
	for i := range l.o.Users {
		email := fmt.Sprintf("user%03d@large.test", i)
		name := first[i%len(first)] + " " + last[(i/len(first))%len(last)]
		if i == 0 {
			email, name = LargePrincipalEmail, "Lara Large"
		}
		rows = append(rows, []any{email, name, hash, l.first.AddDate(0, -6, 0), seen})
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"email", "full_name", "password_hash", "email_verified_at", "last_login_at"},
		pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	ids, err := l.tx.Query(ctx, `SELECT id FROM users WHERE email LIKE '%@large.test' ORDER BY (email <> $1), email`, LargePrincipalEmail)
	if err != nil {
		return err
	}
	if l.users, err = pgx.CollectRows(ids, pgx.RowTo[int64]); err != nil {
		return err
	}
	root := l.accts[0].id
	n := len(l.users)
	type grant struct {
		user, account int64
		role          string
	}
	var grants []grant
	granted := map[[2]int64]bool{} // one role per user and account
	pick := func(user int64, count int, role string) {
		for range count {
			a := l.accts[1+l.rng.IntN(len(l.accts)-1)].id
			if !granted[[2]int64{user, a}] {
				granted[[2]int64{user, a}] = true
				grants = append(grants, grant{user, a, role})
			}
		}
	}
	var revoked []int64
	for i, u := range l.users {
		switch {
		case i < 3: // Principals of the whole family
			grants = append(grants, grant{u, root, "principal"})
		case i < n*30/100: // Power on the root and on a slice of the family
			grants = append(grants, grant{u, root, "power"})
			pick(u, 5+l.rng.IntN(150), "power")
			pick(u, l.rng.IntN(20), "general")
		case i < n*60/100: // General on a few accounts
			pick(u, 1+l.rng.IntN(20), "general")
		case i < n*85/100: // owner of one sub-account, Power on a neighbour
			pick(u, 1, "principal")
			pick(u, l.rng.IntN(3), "power")
		default: // revoked in the family, roles kept for a restore
			grants = append(grants, grant{u, root, "power"})
			pick(u, 1+l.rng.IntN(10), "general")
			revoked = append(revoked, u)
		}
	}
	grows := make([][]any, len(grants))
	for i, g := range grants {
		grows[i] = []any{g.user, g.account, g.role, l.users[0], l.first.AddDate(0, -3, 0)}
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"memberships"}, []string{"user_id", "account_id", "role", "granted_by", "granted_at"},
		pgx.CopyFromRows(grows)); err != nil {
		return err
	}
	for _, u := range revoked {
		if _, err := l.tx.Exec(ctx, `INSERT INTO revocations (user_id, root_id, revoked_by, revoked_at) VALUES ($1, $2, $3, $4)`,
			u, root, l.users[0], seen.AddDate(0, 0, -7)); err != nil {
			return err
		}
	}
	for _, f := range portal.Features {
		if _, err := l.tx.Exec(ctx, `INSERT INTO feature_requests (account_id, feature, status, requested_by, requested_at, reviewed_at, staff_note)
			VALUES ($1, $2, 'approved', $3, $4, $4, 'Approved for the benchmark family.')`, root, string(f), l.users[0], l.first.AddDate(0, -2, 0)); err != nil {
			return err
		}
		if _, err := l.tx.Exec(ctx, `INSERT INTO account_features (account_id, feature, enabled_at) VALUES ($1, $2, $3)`,
			root, string(f), l.first.AddDate(0, -2, 0)); err != nil {
			return err
		}
	}
	l.add(len(l.users) + len(grants))
	return nil
}

// numbers gives every account an inbound route and its phone numbers: the
// root a tenth of them, every sub-account at least one, the rest by call
// volume. A few were given back; their calls remain.
func (l *loader) numbers(ctx context.Context) error {
	routes := make([][]any, len(l.accts))
	for i, a := range l.accts {
		routes[i] = []any{a.id, "Main PBX", fmt.Sprintf("sip:pbx@%08d.customers.example", i)}
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"inbound_routes"}, []string{"account_id", "name", "target"}, pgx.CopyFromRows(routes)); err != nil {
		return err
	}
	ids, err := l.tx.Query(ctx, `SELECT account_id, id FROM inbound_routes WHERE account_id = ANY($1)`, l.accountIDs())
	if err != nil {
		return err
	}
	byAccount := map[int64]int64{}
	var acct, route int64
	if _, err := pgx.ForEachRow(ids, []any{&acct, &route}, func() error { byAccount[acct] = route; return nil }); err != nil {
		return err
	}
	counts := make([]int, len(l.accts))
	counts[0] = l.o.DIDs / 10
	rest := l.o.DIDs - counts[0] - (len(l.accts) - 1)
	sum := 0.0
	for _, a := range l.accts[1:] {
		sum += a.weight
	}
	left := rest
	for i := 1; i < len(l.accts); i++ {
		counts[i] = 1 + int(float64(rest)*l.accts[i].weight/sum)
		left -= counts[i] - 1
	}
	for i := 0; left > 0; i = (i + 1) % len(l.accts) {
		counts[i]++
		left--
	}
	rows := make([][]any, 0, l.o.DIDs)
	seq := 0
	for i := range l.accts {
		a := &l.accts[i]
		a.route = byAccount[a.id]
		for j := range counts[i] {
			// 555 numbers across a run of area codes: unique and fictional-looking.
			number := fmt.Sprintf("+1%03d555%04d", 201+seq/10_000, seq%10_000)
			seq++
			a.dids = append(a.dids, number)
			var released any
			if j > 0 && l.rng.IntN(100) < 3 {
				released = l.first.AddDate(0, 0, l.rng.IntN(l.days))
			} else {
				a.held++
			}
			var r any
			if l.rng.IntN(5) != 0 {
				r = a.route
			}
			rows = append(rows, []any{a.id, number, "", r, int64(1_000_000), l.first.AddDate(0, 0, -60-l.rng.IntN(300)), released})
		}
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"dids"}, []string{"account_id", "number", "label", "route_id", "monthly_micros",
		"acquired_at", "released_at"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	l.add(len(rows) + len(routes))
	return nil
}

func (l *loader) accountIDs() []int64 {
	ids := make([]int64, len(l.accts))
	for i, a := range l.accts {
		ids[i] = a.id
	}
	return ids
}
