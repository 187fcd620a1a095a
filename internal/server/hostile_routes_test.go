package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

const globexPrefix = "27182800"

// hostile is the state of the hostile-input test: the demo data, signed-in
// clients, and the objects the routes act on.
type hostile struct {
	t               *testing.T
	a               *testApp
	fx              *matrixFixtures
	customer, staff *client
	scope           *postgres.UserScope
	big             string
	requests, seq   int
	acme, west      int64
	globex          int64
	paula, gary     int64
	// Acme's objects the edit forms work on, and Globex's to try instead.
	did, host, cred, route, key, power, target, invite, child string
	// pwHash is a hash of the demo password, for logins the corpus changed.
	pwHash string
	g      map[string]string
}

// hostileCase is how to drive one POST route. params gives the path
// parameters of one request, making what the request uses up (a host to
// delete, a link to spend); page is the GET page holding the form ("" for
// the route itself) and formOf its action when another button posts it.
type hostileCase struct {
	name, as, page, formOf string
	params                 func() map[string]string
	// fields replaces the form found on the page (forms no page shows).
	fields []formField
	// valid completes the page's form into a valid one.
	valid         map[string]string
	money         []string
	foreign       map[string]string // path parameters naming Globex's objects
	foreignFields map[string]string // fields naming Globex's objects
	raw           bool              // a mounted JSON application
	after         func()
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	a := newTestApp(t, nil)
	ctx := context.Background()
	if _, err := a.db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	h := &hostile{t: t, a: a, fx: newMatrixFixtures(t, a, "31415900"), big: strings.Repeat("a", 10<<20), g: map[string]string{}}
	// The delivery log is the worker's, written in the background for mail
	// queued by earlier requests.
	h.fx.tables = slices.DeleteFunc(h.fx.tables, func(tb string) bool { return tb == "email_deliveries" })
	id := func(sql string, args ...any) int64 { return int64(a.count(sql, args...)) }
	h.acme, h.west, h.globex = id(`SELECT id FROM accounts WHERE tech_prefix = '31415900'`), id(`SELECT id FROM accounts WHERE tech_prefix = '31415901'`),
		id(`SELECT id FROM accounts WHERE tech_prefix = $1`, globexPrefix)
	h.paula, h.gary = id(`SELECT id FROM users WHERE email = 'principal@acme.test'`), id(`SELECT id FROM users WHERE email = 'owner@globex.test'`)
	if err := a.pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, h.paula).Scan(&h.pwHash); err != nil {
		t.Fatal(err)
	}
	h.power = fmt.Sprint(id(`SELECT id FROM users WHERE email = 'power@acme.test'`))
	h.invite = fmt.Sprint(id(`SELECT id FROM invitations WHERE email = 'newhire@acme.test'`))
	h.target = h.insert(`WITH u AS (INSERT INTO users (email, full_name, password_hash, email_verified_at)
		VALUES ('target@acme.test', 'Tara Target', $1, now()) RETURNING id)
		INSERT INTO memberships (user_id, account_id, role) SELECT id, $2, 'general' FROM u RETURNING user_id`, h.pwHash, h.acme)
	for _, o := range []struct {
		acct int64
		into map[string]string
	}{{h.acme, nil}, {h.globex, h.g}} {
		route := h.freshRoute(o.acct)
		objs := map[string]string{"route": route, "did": h.freshDID(o.acct, route), "host": h.freshHost(o.acct),
			"cred": h.freshCred(o.acct), "key": h.freshKey(o.acct)}
		if o.into == nil {
			h.route, h.did, h.host, h.cred, h.key = objs["route"], objs["did"], objs["host"], objs["cred"], objs["key"]
			continue
		}
		for k, v := range objs {
			o.into[k] = v
		}
	}
	h.child = "70000000"
	h.insert(`INSERT INTO accounts (tech_prefix, company_name, contact_email, status, parent_id, linked_at)
		VALUES ($1, 'Hostile Child', 'child@example.test', 'active', $2, now()) RETURNING id`, h.child, h.acme)
	h.g["user"] = fmt.Sprint(h.gary)
	h.g["invite"] = h.insert(`INSERT INTO invitations (account_id, email, full_name, invited_by, expires_at)
		VALUES ($1, 'globex-invitee@example.test', 'Gina Globex', $2, now() + interval '7 days') RETURNING id`, h.globex, h.gary)
	aa, err := a.db.Access(ctx, h.paula, "31415900")
	if err != nil {
		t.Fatal(err)
	}
	if h.scope, err = a.db.ManagedScope(ctx, aa.Account); err != nil {
		t.Fatal(err)
	}
	h.customer = a.demoLogin("principal@acme.test")
	h.staff = a.client()
	if r := h.staff.post("/staff/login", pairs("email", postgres.DemoStaffEmail, "password", postgres.DemoPassword)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff login: %d", r.StatusCode)
	}
	return h
}

// as is the client a case posts with; anonymous requests each get a new one.
func (h *hostile) as(who string) *client {
	switch who {
	case "customer":
		return h.customer
	case "staff":
		return h.staff
	}
	return h.a.client()
}

func (h *hostile) insert(sql string, args ...any) string {
	h.t.Helper()
	var id int64
	if err := h.a.pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		h.t.Fatalf("fixture %q: %v", sql, err)
	}
	return fmt.Sprint(id)
}

func (h *hostile) next() int { h.seq++; return h.seq }

func (h *hostile) freshRoute(acct int64) string {
	return h.insert(`INSERT INTO inbound_routes (account_id, name, target) VALUES ($1, $2, 'sip:pbx@203.0.113.7') RETURNING id`,
		acct, fmt.Sprintf("Hostile %d", h.next()))
}

// freshDID adds a number and returns its digits, as the path has them.
func (h *hostile) freshDID(acct int64, route string) string {
	n := fmt.Sprintf("+1206555%04d", h.next())
	h.insert(`INSERT INTO dids (account_id, number, label, route_id) VALUES ($1, $2, 'Hostile', $3) RETURNING id`, acct, n, route)
	return n[1:]
}

func (h *hostile) freshHost(acct int64) string {
	n := h.next()
	return h.insert(`INSERT INTO sip_hosts (account_id, address) VALUES ($1, $2) RETURNING id`, acct, fmt.Sprintf("198.51.%d.%d/32", n/250, n%250))
}

func (h *hostile) freshCred(acct int64) string {
	return h.insert(`INSERT INTO sip_credentials (account_id, username, ha1_sha256) VALUES ($1, $2, 'x') RETURNING id`, acct, fmt.Sprintf("hostile%d", h.next()))
}

func (h *hostile) freshKey(acct int64) string {
	n := h.next()
	return h.insert(`INSERT INTO api_keys (account_id, name, prefix, secret_hash) VALUES ($1, 'Hostile', 'cpk_hostile', $2) RETURNING id`,
		acct, []byte(fmt.Sprintf("hostile-%d", n)))
}

// detach makes the sub-accounts the corpus created standalone again, so
// every role form stays the size of the demo family's.
func (h *hostile) detach() {
	h.t.Helper()
	if _, err := h.a.pool.Exec(context.Background(), `UPDATE accounts SET parent_id = NULL, linked_at = NULL
		WHERE parent_id = $1 AND tech_prefix NOT IN ('31415901', '31415902', '31415903', $2)`, h.acme, h.child); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostile) freshInvite() string {
	id := h.insert(`INSERT INTO invitations (account_id, email, full_name, invited_by, expires_at)
		VALUES ($1, $2, 'Ivan Invitee', $3, now() + interval '7 days') RETURNING id`, h.acme, fmt.Sprintf("inv%d@example.test", h.next()), h.paula)
	h.insert(`INSERT INTO invitation_roles (invitation_id, account_id, role) VALUES ($1, $2, 'general') RETURNING invitation_id`, id, h.west)
	return id
}

// pendingRequest returns a feature request waiting for review, filing one
// for a new account when none is left.
func (h *hostile) pendingRequest() string {
	var id int64
	if err := h.a.pool.QueryRow(context.Background(), `SELECT coalesce(min(id), 0) FROM feature_requests WHERE status = 'pending'`).Scan(&id); err == nil && id > 0 {
		return fmt.Sprint(id)
	}
	p := fmt.Sprintf("6%07d", h.next())
	acct := h.insert(`INSERT INTO accounts (tech_prefix, company_name, contact_email, status) VALUES ($1, 'Hostile Root', 'root@example.test', 'active') RETURNING id`, p)
	return h.insert(`INSERT INTO feature_requests (account_id, feature, requested_by) VALUES ($1, 'sub_accounts', $2) RETURNING id`, acct, h.gary)
}

// knownToken gives the newest unused token of a purpose a raw value the
// test knows, as if read from its email.
func (h *hostile) knownToken(purpose string) string {
	raw, err := postgres.NewTokenString()
	if err != nil {
		h.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(raw))
	if _, err := h.a.pool.Exec(context.Background(), `UPDATE verification_tokens SET token_hash = $1
		WHERE id = (SELECT max(id) FROM verification_tokens WHERE purpose = $2 AND used_at IS NULL)`, sum[:], purpose); err != nil {
		h.t.Fatal(err)
	}
	return raw
}

func (h *hostile) actor() portal.Actor { return portal.Actor{UserID: h.paula, IP: "192.0.2.1"} }

// inviteToken invites a new address (or an existing login) to Acme West.
func (h *hostile) inviteToken(email string) string {
	if email == "" {
		email = fmt.Sprintf("new%d@example.test", h.next())
	}
	_, err := h.a.db.Invite(context.Background(), h.actor(), h.scope, postgres.NewInvitation{Name: "Ivan Invitee", Email: email,
		Roles: map[int64]portal.Role{h.west: portal.RoleGeneral}})
	if err != nil {
		h.t.Fatalf("invite: %v", err)
	}
	return h.knownToken(portal.PurposeAcceptInvite)
}

func static(m map[string]string) func() map[string]string {
	return func() map[string]string {
		out := map[string]string{"acct": "31415900"}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
}

func fresh(f func() map[string]string) func() map[string]string {
	return func() map[string]string {
		out := f()
		out["acct"] = "31415900"
		return out
	}
}

func pairs(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = []string{kv[i+1]}
	}
	return out
}

// routes is the table of every POST route. A route missing here fails the
// test, so a new form cannot escape the corpus.
func (h *hostile) routes() map[string][]hostileCase {
	pw := postgres.DemoPassword
	none := []formField{}
	cust := func(c hostileCase) hostileCase {
		c.as = "customer"
		if c.params == nil {
			c.params = static(nil)
		}
		return c
	}
	anon := func(c hostileCase) hostileCase {
		if c.params == nil {
			c.params = static(nil)
		}
		return c
	}
	ic := "/accounts/{acct}/interconnection"
	restorePassword := func() {
		_, _ = h.a.pool.Exec(context.Background(), `UPDATE users SET password_hash = $1
			WHERE email IN ('principal@acme.test', 'general@acme.test')`, h.pwHash)
	}
	return map[string][]hostileCase{
		"/login":           {anon(hostileCase{valid: map[string]string{"email": "general@acme.test", "password": pw}})},
		"/logout":          {anon(hostileCase{fields: none})},
		"/signup":          {anon(hostileCase{valid: map[string]string{"company_name": "Fine Co", "full_name": "Fine Person", "email": "fine@example.test", "password": pw}})},
		"/password/forgot": {anon(hostileCase{valid: map[string]string{"email": "general@acme.test"}})},
		"/verify/resend":   {anon(hostileCase{valid: map[string]string{"email": "fine@example.test"}})},
		"/password/reset/{token}": {anon(hostileCase{formOf: "/verify/{token}", valid: map[string]string{"password": pw}, after: restorePassword, params: func() map[string]string {
			if err := h.a.db.RequestPasswordReset(context.Background(), h.actor(), "general@acme.test"); err != nil {
				h.t.Fatal(err)
			}
			return map[string]string{"token": h.knownToken(portal.PurposeResetPassword)}
		}})},
		"/verify/{token}": {
			anon(hostileCase{name: "invitation, new person", valid: map[string]string{"full_name": "Ivan Invitee", "password": pw},
				params: func() map[string]string { return map[string]string{"token": h.inviteToken("")} }}),
			anon(hostileCase{name: "invitation, existing login", fields: []formField{{name: "signin", kind: "choice", value: "1"}, {name: "password", kind: "password"}},
				valid: map[string]string{"password": pw}, params: func() map[string]string {
					email := fmt.Sprintf("login%d@example.test", h.next())
					h.insert(`INSERT INTO users (email, full_name, password_hash, email_verified_at) VALUES ($1, 'Lou Login', $2, now())
						RETURNING id`, email, h.pwHash)
					return map[string]string{"token": h.inviteToken(email)}
				}}),
			anon(hostileCase{name: "activation", valid: map[string]string{"full_name": "Ann Activator", "password": pw}, params: func() map[string]string {
				_, err := h.a.db.CreateSubAccount(context.Background(), h.actor(), h.acme, postgres.NewAccount{CompanyName: "Hostile Sub",
					ContactName: "Ann", ContactEmail: fmt.Sprintf("act%d@example.test", h.next())})
				if err != nil {
					h.t.Fatal(err)
				}
				return map[string]string{"token": h.knownToken(portal.PurposeActivateAccount)}
			}}),
			anon(hostileCase{name: "email confirmation", params: func() map[string]string {
				err := h.a.db.SignUp(context.Background(), h.actor(), postgres.Signup{CompanyName: "Verify Co", FullName: "Vera",
					Email: fmt.Sprintf("verify%d@example.test", h.next()), PasswordHash: "$argon2id$unused"})
				if err != nil {
					h.t.Fatal(err)
				}
				return map[string]string{"token": h.knownToken(portal.PurposeVerifyEmail)}
			}}),
		},
		"/me/name":     {cust(hostileCase{page: "/me", valid: map[string]string{"full_name": "Paula Principal"}})},
		"/me/email":    {cust(hostileCase{page: "/me", valid: map[string]string{"email": "paula.next@example.test", "current_password": pw}})},
		"/me/password": {cust(hostileCase{page: "/me", valid: map[string]string{"current_password": pw, "new_password": pw}, after: restorePassword})},
		"/accounts/{acct}/dids/{number}": {cust(hostileCase{params: static(map[string]string{"number": h.did}),
			foreign: map[string]string{"number": h.g["did"]}, foreignFields: map[string]string{"route_id": h.g["route"]}})},
		"/accounts/{acct}/dids/{number}/release": {cust(hostileCase{params: fresh(func() map[string]string {
			return map[string]string{"number": h.freshDID(h.acme, h.route)}
		}), foreign: map[string]string{"number": h.g["did"]}})},
		ic + "/hosts": {cust(hostileCase{page: ic, valid: map[string]string{"address": "192.0.2.10"}})},
		ic + "/hosts/{id}": {cust(hostileCase{params: static(map[string]string{"id": h.host}), valid: map[string]string{"address": "192.0.2.11"},
			foreign: map[string]string{"id": h.g["host"]}})},
		ic + "/hosts/{id}/delete": {cust(hostileCase{page: ic + "/hosts/{id}", params: fresh(func() map[string]string {
			return map[string]string{"id": h.freshHost(h.acme)}
		}), foreign: map[string]string{"id": h.g["host"]}})},
		ic + "/credentials":      {cust(hostileCase{page: ic, valid: map[string]string{"username": "hostileuser"}})},
		ic + "/credentials/{id}": {cust(hostileCase{params: static(map[string]string{"id": h.cred}), foreign: map[string]string{"id": h.g["cred"]}})},
		ic + "/credentials/{id}/reset": {cust(hostileCase{page: ic + "/credentials/{id}", params: static(map[string]string{"id": h.cred}),
			foreign: map[string]string{"id": h.g["cred"]}})},
		ic + "/credentials/{id}/delete": {cust(hostileCase{page: ic + "/credentials/{id}", params: fresh(func() map[string]string {
			return map[string]string{"id": h.freshCred(h.acme)}
		}), foreign: map[string]string{"id": h.g["cred"]}})},
		ic + "/routes": {cust(hostileCase{page: ic, valid: map[string]string{"name": "Hostile PBX", "target": "sip:pbx@203.0.113.8"}})},
		ic + "/routes/{id}": {cust(hostileCase{params: static(map[string]string{"id": h.route}), valid: map[string]string{"name": "Hostile Main"},
			foreign: map[string]string{"id": h.g["route"]}})},
		ic + "/routes/{id}/delete": {cust(hostileCase{page: ic + "/routes/{id}", params: fresh(func() map[string]string {
			return map[string]string{"id": h.freshRoute(h.acme)}
		}), foreign: map[string]string{"id": h.g["route"]}})},
		"/accounts/{acct}/billing/funds": {cust(hostileCase{page: "/accounts/{acct}/billing", money: []string{"amount"},
			valid: map[string]string{"amount": "10.00", "pay_with": "new", "card_number": "4242 4242 4242 4242", "card_exp": "12/40", "card_cvc": "123"},
		})},
		"/accounts/{acct}/billing/info": {cust(hostileCase{valid: map[string]string{"contact_name": "Acme Payables", "contact_email": "ap@acme.test",
			"country": "US", "card_number": "", "card_exp": "", "card_cvc": ""}})},
		"/accounts/{acct}/api-keys": {cust(hostileCase{valid: map[string]string{"name": "Hostile key"}})},
		"/accounts/{acct}/api-keys/{id}/rotate": {cust(hostileCase{page: "/accounts/{acct}/api-keys", params: static(map[string]string{"id": h.key}),
			foreign: map[string]string{"id": h.g["key"]}})},
		"/accounts/{acct}/api-keys/{id}/revoke": {cust(hostileCase{page: "/accounts/{acct}/api-keys", params: fresh(func() map[string]string {
			return map[string]string{"id": h.freshKey(h.acme)}
		}), foreign: map[string]string{"id": h.g["key"]}})},
		"/accounts/{acct}/profile": {cust(hostileCase{valid: map[string]string{"company_name": "Acme Telecom", "contact_email": "billing@acme.test"}})},
		"/accounts/{acct}/preferences/features/{feature}/request": {cust(hostileCase{page: "/accounts/{acct}/preferences/features",
			params: static(map[string]string{"feature": "sub_accounts"}), fields: none})},
		"/accounts/{acct}/settings/link": {cust(hostileCase{valid: map[string]string{"tech_prefix": "16180300", "email": "it@initech.test", "replace": ""}})},
		"/accounts/{acct}/settings/new-account": {cust(hostileCase{valid: map[string]string{"company_name": "Hostile New", "contact_name": "Nora New",
			"email": "nora@example.test", "country": "US"}})},
		"/accounts/{acct}/settings/subaccounts/{child}/unlink": {cust(hostileCase{params: fresh(func() map[string]string {
			_, _ = h.a.pool.Exec(context.Background(), `UPDATE accounts SET parent_id = $1, linked_at = now() WHERE tech_prefix = $2`, h.acme, h.child)
			return map[string]string{"child": h.child}
		}), page: "/accounts/{acct}/settings/subaccounts/{child}/unlink", foreign: map[string]string{"child": globexPrefix}})},
		"/accounts/{acct}/settings/subaccounts/{child}/resend": {cust(hostileCase{page: "/accounts/{acct}/settings",
			params: static(map[string]string{"child": "31415903"}), foreign: map[string]string{"child": globexPrefix}})},
		"/accounts/{acct}/settings/users/new": {cust(hostileCase{params: static(nil), valid: map[string]string{"full_name": "Nina New",
			"email": "nina@example.test", "role_31415901": "general"}})},
		"/accounts/{acct}/settings/users/{id}": {cust(hostileCase{params: static(map[string]string{"id": h.power}),
			valid: map[string]string{"role_31415900": "power"}, foreign: map[string]string{"id": h.g["user"]}})},
		"/accounts/{acct}/settings/users/{id}/revoke": {cust(hostileCase{page: "/accounts/{acct}/settings/users/{id}",
			params: fresh(func() map[string]string {
				_, _ = h.a.pool.Exec(context.Background(), `DELETE FROM revocations WHERE user_id = $1`, h.target)
				return map[string]string{"id": h.target}
			}), foreign: map[string]string{"id": h.g["user"]}})},
		"/accounts/{acct}/settings/users/{id}/restore": {cust(hostileCase{page: "/accounts/{acct}/settings/users/{id}",
			params: fresh(func() map[string]string {
				_, _ = h.a.pool.Exec(context.Background(), `INSERT INTO revocations (user_id, root_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, h.target, h.acme)
				return map[string]string{"id": h.target}
			}), foreign: map[string]string{"id": h.g["user"]}})},
		"/accounts/{acct}/settings/users/{id}/resend": {cust(hostileCase{fields: none,
			params: static(map[string]string{"id": h.invite}), foreign: map[string]string{"id": h.g["invite"]}})},
		"/accounts/{acct}/settings/users/{id}/cancel": {cust(hostileCase{fields: none,
			params: fresh(func() map[string]string { return map[string]string{"id": h.freshInvite()} }), foreign: map[string]string{"id": h.g["invite"]}})},
		"/staff/login":  {anon(hostileCase{valid: map[string]string{"email": postgres.DemoStaffEmail, "password": pw}})},
		"/staff/logout": {anon(hostileCase{fields: none})},
		"/staff/feature-requests/{id}/approve": {{as: "staff", page: "/staff/feature-requests",
			params: func() map[string]string { return map[string]string{"id": h.pendingRequest()} }}},
		"/staff/feature-requests/{id}/deny": {{as: "staff", page: "/staff/feature-requests", formOf: "/staff/feature-requests/{id}/approve",
			valid: map[string]string{"note": "Not this time."}, params: func() map[string]string { return map[string]string{"id": h.pendingRequest()} }}},
		"/staff/jobs":   {{as: "staff", raw: true, params: static(nil)}},
		"/staff/jobs/*": {{as: "staff", raw: true, params: func() map[string]string { return map[string]string{"*": "api/jobs/retry"} }}},
	}
}
