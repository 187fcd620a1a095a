package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// victimObjects are ids of one account's objects, to be tried from another.
type victimObjects struct {
	number                 string // E.164 digits without the plus
	host, cred, route, key int64
}

func (d *resDemo) objectsOf(t *testing.T, accountID int64) victimObjects {
	t.Helper()
	var o victimObjects
	var number string
	err := d.pool.QueryRow(t.Context(), `SELECT
		(SELECT number FROM dids WHERE account_id = $1 AND released_at IS NULL ORDER BY number LIMIT 1),
		(SELECT min(id) FROM sip_hosts WHERE account_id = $1), (SELECT min(id) FROM sip_credentials WHERE account_id = $1),
		(SELECT min(id) FROM inbound_routes WHERE account_id = $1), (SELECT min(id) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL)`,
		accountID).Scan(&number, &o.host, &o.cred, &o.route, &o.key)
	if err != nil {
		t.Fatal(err)
	}
	o.number = strings.TrimPrefix(number, "+")
	return o
}

// TestObjectLevelAccess tries every object of one account through another
// account the attacker fully controls, by id in the path and in the body:
// each answer is 404 and nothing changes.
func TestObjectLevelAccess(t *testing.T) {
	d := newResDemo(t)
	for _, tc := range []struct {
		attacker, prefix string
		victim           int64
	}{
		{"owner@globex.test", "27182800", d.westID},
		{"principal@acme.test", "31415901", d.globexID},
	} {
		c := d.as(tc.attacker)
		v := d.objectsOf(t, tc.victim)
		fx := newMatrixFixtures(t, d.testApp, tc.prefix)
		before := fx.fingerprint(t)
		base := "/accounts/" + tc.prefix
		id := func(kind string, n int64) string { return fmt.Sprintf("%s/interconnection/%s/%d", base, kind, n) }
		gets := []string{base + "/dids/" + v.number, base + "/dids/" + v.number + "/release", id("hosts", v.host), id("credentials", v.cred), id("routes", v.route)}
		posts := map[string]url.Values{
			base + "/dids/" + v.number:                        {"label": {"pwned"}},
			base + "/dids/" + v.number + "/release":           nil,
			id("hosts", v.host):                               {"address": {"192.0.2.66"}},
			id("hosts", v.host) + "/delete":                   nil,
			id("credentials", v.cred):                         {"description": {"pwned"}},
			id("credentials", v.cred) + "/reset":              nil,
			id("credentials", v.cred) + "/delete":             nil,
			id("routes", v.route):                             {"name": {"pwned"}, "target": {"sip:x@192.0.2.66"}},
			id("routes", v.route) + "/delete":                 nil,
			fmt.Sprintf("%s/api-keys/%d/rotate", base, v.key): nil,
			fmt.Sprintf("%s/api-keys/%d/revoke", base, v.key): nil,
		}
		for _, p := range gets {
			if r := c.get(p); r.StatusCode != http.StatusNotFound {
				t.Errorf("%s: GET %s: status %d, want 404", tc.attacker, p, r.StatusCode)
			}
		}
		for p, form := range posts {
			if r := c.post(p, form); r.StatusCode != http.StatusNotFound {
				t.Errorf("%s: POST %s: status %d, want 404", tc.attacker, p, r.StatusCode)
			}
		}
		// By id in the body: the attacker's own number, the victim's route.
		own := d.objectsOf(t, int64(d.count(`SELECT id FROM accounts WHERE tech_prefix = $1`, tc.prefix)))
		if r := c.post(base+"/dids/"+own.number, url.Values{"label": {"pwned"}, "route_id": {fmt.Sprint(v.route)}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: own number with the victim's route: status %d, want 404", tc.attacker, r.StatusCode)
		}
		if after := fx.fingerprint(t); after != before {
			t.Errorf("%s: refused requests changed the database:\n%s", tc.attacker, diffLines(before, after))
		}
		// By id in the query: reports and exports show the attacker's own
		// calls, exactly as without it.
		from := "?from=" + time.Now().UTC().AddDate(0, 0, -300).Format(time.DateOnly)
		smuggle := fmt.Sprintf("&account_id=%d&acct=%d&tech_prefix=31415901", tc.victim, tc.victim)
		for _, p := range []string{"/cdrs", "/cdrs.csv"} {
			plain, sneaky := c.get(base+p+from), c.get(base+p+from+smuggle)
			if plain.StatusCode != http.StatusOK || sneaky.body != plain.body {
				t.Errorf("%s: %s with another account's id in the query differs from without", tc.attacker, p)
			}
		}
	}
}

// TestMassAssignment posts every form with fields it does not take (another
// account, a role, a balance): they change nothing.
func TestMassAssignment(t *testing.T) {
	d := newResDemo(t)
	c := d.as("power@acme.test")
	extra := url.Values{"account_id": {fmt.Sprint(d.globexID)}, "role": {"principal"}, "balance": {"999999"}, "balance_micros": {"999999000000"},
		"tech_prefix": {"27182800"}, "status": {"closed"}, "parent_id": {""}, "created_by": {"1"}, "id": {fmt.Sprint(d.globexID)}}
	with := func(v url.Values) url.Values {
		out := url.Values{}
		for k, vs := range extra {
			out[k] = vs
		}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	globexBefore := d.globexState(t)
	westBalance := d.count(`SELECT balance_micros FROM accounts WHERE id = $1`, d.westID)
	posts := map[string]url.Values{
		"/profile":                     profileForm("Acme West", "west@acme.test"),
		"/billing/info":                {"contact_name": {"AP"}, "contact_email": {"ap@acme.test"}},
		"/billing/funds":               fundsForm("10", newIdempotencyKey()),
		"/dids/14155550100":            {"label": {"Mass"}},
		"/interconnection/hosts":       {"address": {"192.0.2.55"}},
		"/interconnection/credentials": {"username": {"massive"}, "ha1_sha256": {"x"}},
		"/interconnection/routes":      {"name": {"Mass"}, "target": {"sip:m@192.0.2.55"}},
		"/api-keys":                    {"name": {"Mass"}, "prefix": {"cpk_evil"}, "secret_hash": {"x"}},
	}
	for p, form := range posts {
		r := c.post("/accounts/31415901"+p, with(form))
		if r.StatusCode != http.StatusSeeOther && r.StatusCode != http.StatusOK {
			t.Errorf("POST %s: status %d: %s", p, r.StatusCode, excerpt(r.body))
		}
	}
	if got := d.globexState(t); got != globexBefore {
		t.Errorf("Globex changed: %s → %s", globexBefore, got)
	}
	if n := d.count(`SELECT count(*) FROM accounts WHERE id = $1 AND status = 'active' AND tech_prefix = '31415901' AND parent_id IS NOT NULL`, d.westID); n != 1 {
		t.Error("West's status, prefix or parent changed")
	}
	if got := d.count(`SELECT balance_micros FROM accounts WHERE id = $1`, d.westID); got != westBalance+10_000_000 {
		t.Errorf("West's balance moved by %d, want exactly the 10 dollars paid", got-westBalance)
	}
	if n := d.count(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'power@acme.test' AND role = 'principal'`); n != 0 {
		t.Error("the Power user became a Principal")
	}
	checks := map[string]string{
		"host":       `SELECT count(*) FROM sip_hosts WHERE address = '192.0.2.55/32' AND account_id = $1`,
		"credential": `SELECT count(*) FROM sip_credentials WHERE username = 'massive' AND ha1_sha256 <> 'x' AND account_id = $1`,
		"route":      `SELECT count(*) FROM inbound_routes WHERE name = 'Mass' AND account_id = $1`,
		"key":        `SELECT count(*) FROM api_keys k JOIN users u ON u.id = k.created_by WHERE k.name = 'Mass' AND k.prefix <> 'cpk_evil' AND u.email = 'power@acme.test' AND k.account_id = $1`,
		"did":        `SELECT count(*) FROM dids WHERE label = 'Mass' AND account_id = $1`,
		"billing":    `SELECT count(*) FROM billing_info WHERE contact_name = 'AP' AND account_id = $1`,
	}
	for what, sql := range checks {
		if n := d.count(sql, d.westID); n != 1 {
			t.Errorf("%s: %d rows on West as posted, want 1", what, n)
		}
	}
}

// globexState summarizes everything of Globex a form could touch.
func (d *resDemo) globexState(t *testing.T) string {
	t.Helper()
	var s string
	err := d.pool.QueryRow(t.Context(), `SELECT concat_ws('|', a.company_name, a.contact_email, a.status, a.balance_micros, a.tech_prefix,
		(SELECT count(*) FROM sip_hosts WHERE account_id = a.id), (SELECT count(*) FROM sip_credentials WHERE account_id = a.id),
		(SELECT count(*) FROM inbound_routes WHERE account_id = a.id), (SELECT count(*) FROM api_keys WHERE account_id = a.id),
		(SELECT count(*) FROM payments WHERE account_id = a.id), (SELECT string_agg(label, ',' ORDER BY number) FROM dids WHERE account_id = a.id),
		(SELECT md5(b::text) FROM billing_info b WHERE b.account_id = a.id))
		FROM accounts a WHERE a.id = $1`, d.globexID).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
