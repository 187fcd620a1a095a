package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// contractMinRole is DESIGN.md §4 written out by hand: the lowest user type
// with a ✓ in each row. The permission table must agree with it, so the
// contract cannot drift silently in either place.
var contractMinRole = map[portal.Action]portal.Role{
	portal.ActionViewAccount:         portal.RoleGeneral,
	portal.ActionEditInterconnection: portal.RoleGeneral,
	portal.ActionManageDIDs:          portal.RoleGeneral,
	portal.ActionEditCustomerInfo:    portal.RolePower,
	portal.ActionEditBilling:         portal.RolePower,
	portal.ActionRequestFeature:      portal.RolePower,
	portal.ActionManageAPIKeys:       portal.RolePower,
	portal.ActionViewSummary:         portal.RolePower,
	portal.ActionManageSubAccounts:   portal.RolePrincipal,
	portal.ActionManageUsers:         portal.RolePrincipal,
	portal.ActionViewAudit:           portal.RolePrincipal,
}

func TestPermissionTableMatchesContract(t *testing.T) {
	for action, want := range contractMinRole {
		p, ok := portal.Permissions[action]
		if !ok {
			t.Errorf("%s is in DESIGN.md §4 but not in portal.Permissions", action)
			continue
		}
		if p.MinRole != want {
			t.Errorf("%s: permission table says %s, DESIGN.md §4 says %s", action, p.MinRole.Label(), want.Label())
		}
	}
	for action := range portal.Permissions {
		if _, ok := contractMinRole[action]; !ok {
			t.Errorf("%s is in portal.Permissions but not in the contract of DESIGN.md §4", action)
		}
	}
}

// routeProblems walks a router and lists every route that is not behind a
// guard naming a known action, and every account route with a non-account
// action.
func routeProblems(r chi.Routes) []string {
	var out []string
	_ = chi.Walk(r, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if ch, ok := h.(*chi.ChainHandler); ok {
			h = ch.Endpoint
		}
		g, ok := h.(guard)
		switch {
		case !ok:
			out = append(out, method+" "+route+": no guard")
		case g.action == "":
			out = append(out, method+" "+route+": no action")
		case strings.HasPrefix(route, "/accounts/{acct}"):
			if _, known := portal.Permissions[g.action]; !known {
				out = append(out, method+" "+route+": account route with action "+string(g.action))
			}
		case g.action != portal.ActionPublic && g.action != portal.ActionSignedIn && g.action != portal.ActionStaff:
			if _, known := portal.Permissions[g.action]; !known {
				out = append(out, method+" "+route+": unknown action "+string(g.action))
			}
		}
		return nil
	})
	return out
}

func TestEveryRouteDeclaresAnAction(t *testing.T) {
	a := newTestApp(t, nil)
	if problems := routeProblems(a.app.router); len(problems) > 0 {
		t.Errorf("routes without a proper action:\n%s", strings.Join(problems, "\n"))
	}
	n := 0
	_ = chi.Walk(a.app.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/accounts/{acct}") {
			n++
		}
		return nil
	})
	if n < 30 {
		t.Errorf("walked %d account routes, want at least 30", n)
	}
	// The check itself fails on a route added without a guard or action.
	bad := chi.NewRouter()
	bad.Get("/plain", func(http.ResponseWriter, *http.Request) {})
	bad.With(func(h http.Handler) http.Handler { return h }).Method(http.MethodPost, "/chained", guard{})
	bad.Route("/accounts/{acct}", func(r chi.Router) {
		r.Method(http.MethodGet, "/x", guard{action: portal.ActionSignedIn})
	})
	if got := routeProblems(bad); len(got) != 3 {
		t.Errorf("problems in a router with three bad routes = %q, want 3", got)
	}
}

// mxCell is one column of the matrix: who asks, on which account, and the
// role the contract gives them there.
type mxCell struct {
	name   string
	c      *client
	prefix string
	role   portal.Role
	anon   bool
}

// mxExpect is what the contract says a cell gets for an action: 0 for
// allowed, else the status of the denial.
func mxExpect(action portal.Action, role portal.Role, isRoot bool, features map[portal.Feature]bool) int {
	if role == portal.RoleNone {
		return http.StatusNotFound
	}
	p := portal.Permissions[action]
	if p.Feature != "" && !features[p.Feature] || p.RootOnly && !isRoot {
		return http.StatusNotFound
	}
	if role < contractMinRole[action] {
		return http.StatusForbidden
	}
	return 0
}

// TestRoleMatrix drives every account route, found by walking the router,
// as anonymous, General, Power, Principal, Revoked and a Principal of
// another family, on a demo sub-account, and checks each cell against the
// contract; a denied write must leave the database exactly as it was.
func TestRoleMatrix(t *testing.T) {
	a := newTestApp(t, nil)
	ctx := context.Background()
	if _, err := a.db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	fx := newMatrixFixtures(t, a, "31415901")
	login := func(email string) *client {
		c := a.client()
		c.login(email, postgres.DemoPassword)
		return c
	}
	// The revoked user is signed in before the revocation, as happens in
	// real life; the revocation must bite on the next request. A user left
	// with no account at all is signed out on the spot, so this one also
	// works for an unrelated account: the session lives on, and every route
	// meets the revoked role itself rather than an anonymous visitor.
	if _, err := a.pool.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role)
		SELECT u.id, a.id, 'general' FROM users u, accounts a WHERE u.email = 'revoked@acme.test' AND a.tech_prefix = '16180300'`); err != nil {
		t.Fatal(err)
	}
	var revokedID int64
	if err := a.pool.QueryRow(ctx, `DELETE FROM revocations WHERE user_id = (SELECT id FROM users WHERE email = 'revoked@acme.test')
		RETURNING user_id`).Scan(&revokedID); err != nil {
		t.Fatal(err)
	}
	revoked := login("revoked@acme.test")
	if _, err := a.pool.Exec(ctx, `INSERT INTO revocations (user_id, root_id) SELECT $1, id FROM accounts WHERE tech_prefix = '31415900'`, revokedID); err != nil {
		t.Fatal(err)
	}
	cells := []mxCell{
		{name: "anonymous", c: a.client(), prefix: "31415901", anon: true},
		{name: "general", c: login("general@acme.test"), prefix: "31415901", role: portal.RoleGeneral},
		{name: "power", c: login("power@acme.test"), prefix: "31415901", role: portal.RolePower},
		{name: "principal", c: login("principal@acme.test"), prefix: "31415901", role: portal.RolePrincipal},
		{name: "revoked (own account)", c: revoked, prefix: "31415902"},
		{name: "revoked", c: revoked, prefix: "31415901"},
		{name: "other family principal", c: login("owner@globex.test"), prefix: "31415901"},
	}
	features := map[portal.Feature]bool{portal.FeatureSubAccounts: true, portal.FeatureMultiUser: true}
	routes := 0
	_ = chi.Walk(a.app.router, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/accounts/{acct}") {
			return nil
		}
		routes++
		g, ok := h.(guard)
		if !ok {
			t.Errorf("%s %s is not behind a guard", method, route)
			return nil
		}
		action := g.action
		for _, cell := range cells {
			in := fx.prepare(t, method, route)
			in.params["acct"] = cell.prefix
			path := mxPath(route, in.params)
			want := mxExpect(action, cell.role, false, features)
			var before string
			if method == http.MethodPost && (cell.anon || want != 0) {
				before = fx.fingerprint(t)
			}
			r := cell.c.get(path)
			if method == http.MethodPost {
				r = cell.c.post(path, in.form)
			}
			label := fmt.Sprintf("%s %s as %s (%s)", method, path, cell.name, action)
			switch {
			case cell.anon:
				if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
					t.Errorf("%s: status %d location %q, want a redirect to /login", label, r.StatusCode, r.Header.Get("Location"))
				}
			case want != 0:
				if r.StatusCode != want {
					t.Errorf("%s: status %d, want %d", label, r.StatusCode, want)
				}
			case in.known:
				if r.StatusCode != http.StatusOK && (method == http.MethodGet || r.StatusCode != http.StatusSeeOther) {
					t.Errorf("%s: status %d, want it allowed (200 or 303): %s", label, r.StatusCode, excerpt(r.body))
				}
			default:
				if r.StatusCode == http.StatusForbidden || r.StatusCode >= 500 {
					t.Errorf("%s: status %d, want it allowed", label, r.StatusCode)
				}
			}
			if before != "" {
				if after := fx.fingerprint(t); after != before {
					t.Errorf("%s: a denied write changed the database:\n%s", label, diffLines(before, after))
				}
			}
		}
		return nil
	})
	if routes < 30 {
		t.Fatalf("the matrix covered %d account routes, want at least 30", routes)
	}
}

// mxPath fills a route pattern's parameters; unknown ones become "1".
func mxPath(pattern string, params map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}') + i
		b.WriteString(pattern[:i])
		name, _, _ := strings.Cut(pattern[i+1:j], ":")
		if v, ok := params[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString("1")
		}
		pattern = pattern[j+1:]
	}
}

// diffLines shows the lines of b that differ from a.
func diffLines(a, b string) string {
	al := strings.Split(a, "\n")
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !slices.Contains(al, l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// matrixFixtures makes, for each request, the objects it acts on, so that
// every allowed cell (a release, a delete, a revoke) finds its own object.
type matrixFixtures struct {
	a         *testApp
	accountID int64
	seq       int
	tables    []string
}

// mxInput is what one request sends. known marks routes whose fixture is
// valid input, so an allowed request must succeed outright.
type mxInput struct {
	params map[string]string
	form   url.Values
	known  bool
}

func newMatrixFixtures(t *testing.T, a *testApp, prefix string) *matrixFixtures {
	t.Helper()
	fx := &matrixFixtures{a: a}
	fx.accountID = int64(a.count(`SELECT id FROM accounts WHERE tech_prefix = $1`, prefix))
	rows, err := a.pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public'
		AND tablename NOT IN ('audit_events', 'sessions', 'rate_limits', 'dev_mail', 'schema_migrations', 'users', 'cdrs', 'charges')
		AND tablename NOT LIKE 'river%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	fx.tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// fingerprint summarizes every table a request could change: row hashes,
// the stable columns of users, and counts of the insert-only logs.
func (fx *matrixFixtures) fingerprint(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, tb := range fx.tables {
		parts = append(parts, fmt.Sprintf(`SELECT '%s: ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM %s x`, tb, tb))
	}
	parts = append(parts,
		`SELECT 'users: ' || md5(string_agg(concat_ws(',', id, email, full_name, password_hash, email_verified_at, session_epoch), '|' ORDER BY id)) FROM users`,
		`SELECT 'cdrs: ' || count(*) FROM cdrs`, `SELECT 'charges: ' || count(*) FROM charges`)
	rows, err := fx.a.pool.Query(context.Background(), strings.Join(parts, " UNION ALL "))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// insertID runs an INSERT … RETURNING id.
func (fx *matrixFixtures) insertID(t *testing.T, sql string, args ...any) string {
	t.Helper()
	var id int64
	if err := fx.a.pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		t.Fatalf("fixture %q: %v", sql, err)
	}
	return fmt.Sprint(id)
}

// prepare returns the parameters and form for one request to route.
func (fx *matrixFixtures) prepare(t *testing.T, method, route string) mxInput {
	t.Helper()
	fx.seq++
	n, acct := fx.seq, fx.accountID
	in := mxInput{params: map[string]string{"feature": "sub_accounts", "child": "31415902", "id": "1"}, form: url.Values{}, known: true}
	p := in.params
	sub := strings.TrimPrefix(route, "/accounts/{acct}")
	switch {
	case strings.HasPrefix(sub, "/dids/{number}"):
		number := fmt.Sprintf("+1415555%04d", 1000+n)
		fx.insertID(t, `INSERT INTO dids (account_id, number, label) VALUES ($1, $2, 'Matrix') RETURNING id`, acct, number)
		p["number"] = number[1:]
		if method == http.MethodPost && !strings.HasSuffix(sub, "/release") {
			in.form.Set("label", fmt.Sprintf("Matrix %d", n))
			in.form.Set("route_id", fmt.Sprint(fx.a.count(`SELECT min(id) FROM inbound_routes WHERE account_id = $1`, acct)))
		}
	case strings.HasPrefix(sub, "/interconnection/hosts"):
		p["id"] = fx.insertID(t, `INSERT INTO sip_hosts (account_id, address) VALUES ($1, $2) RETURNING id`, acct, fmt.Sprintf("203.0.113.%d/32", 100+n%150))
		in.form.Set("address", fmt.Sprintf("192.0.2.%d", n%250))
		in.form.Set("description", "Matrix")
	case strings.HasPrefix(sub, "/interconnection/credentials"):
		p["id"] = fx.insertID(t, `INSERT INTO sip_credentials (account_id, username, ha1_sha256) VALUES ($1, $2, 'x') RETURNING id`, acct, fmt.Sprintf("mxfix%d", n))
		in.form.Set("username", fmt.Sprintf("mx%d", n))
		in.form.Set("description", "Matrix")
	case strings.HasPrefix(sub, "/interconnection/routes"):
		p["id"] = fx.insertID(t, `INSERT INTO inbound_routes (account_id, name, target) VALUES ($1, $2, 'sip:a@203.0.113.9') RETURNING id`, acct, fmt.Sprintf("Fixture %d", n))
		in.form.Set("name", fmt.Sprintf("Matrix %d", n))
		in.form.Set("target", "sip:pbx@203.0.113.7:5060")
	case strings.HasPrefix(sub, "/api-keys"):
		p["id"] = fx.insertID(t, `INSERT INTO api_keys (account_id, name, prefix, secret_hash) VALUES ($1, 'Fixture', 'cpk_fixture', $2) RETURNING id`,
			acct, []byte(fmt.Sprintf("fixture-hash-%d", n)))
		in.form.Set("name", fmt.Sprintf("Matrix %d", n))
	case sub == "/billing/funds":
		in.form = url.Values{"amount": {"25.00"}, "pay_with": {"new"}, "card_number": {"4242 4242 4242 4242"}, "card_exp": {"12/40"},
			"card_cvc": {"123"}, "idempotency_key": {fmt.Sprintf("%032x", n)}}
	case sub == "/billing/info":
		in.form = url.Values{"contact_name": {"Matrix Billing"}, "contact_email": {"ap@acme.test"}, "country": {"US"}}
	case sub == "/profile":
		in.form = url.Values{"company_name": {"Acme West"}, "company_alias": {fmt.Sprintf("West %d", n)}, "contact_email": {"west@acme.test"}, "country": {"US"}}
	case slices.Contains([]string{"/", "/dids", "/interconnection", "/interconnection/", "/cdrs", "/cdrs.csv", "/billing"}, sub):
	default:
		in.known = false
	}
	return in
}
