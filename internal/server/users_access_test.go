package server

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bulkAccounts is how many sub-accounts largeAcmeApp adds to Acme's
// family: past roleTableMax, and past a page of a user's accounts.
const bulkAccounts = 60

// bulkPrefix is the tech prefix of the i-th added sub-account.
func bulkPrefix(i int) string { return fmt.Sprintf("424200%02d", i) }

// largeAcmeApp is the demo with Acme's family grown past the size that
// gets a select per account: Bulk Carrier 00…59 (alias BC00…), and two
// sub-accounts both called Twin Telecom.
func largeAcmeApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	a := demoApp(t, env)
	ctx := context.Background()
	if _, err := a.pool.Exec(ctx, `INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_email, status, parent_id, linked_at)
		SELECT '424200' || lpad(i::text, 2, '0'), 'Bulk Carrier ' || lpad(i::text, 2, '0'), 'BC' || lpad(i::text, 2, '0'),
		       'bulk' || i || '@example.test', 'active', (SELECT id FROM accounts WHERE tech_prefix = '31415900'), now()
		FROM generate_series(0, $1 - 1) i`, bulkAccounts); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status, parent_id, linked_at)
		SELECT p, 'Twin Telecom', 'twin@example.test', 'active', (SELECT id FROM accounts WHERE tech_prefix = '31415900'), now()
		FROM unnest(ARRAY['42429998', '42429999']) p`); err != nil {
		t.Fatal(err)
	}
	return a
}

// grantForm is an Add New User form of a large scope.
func grantForm(name, email string, rows ...string) url.Values {
	v := url.Values{"full_name": {name}, "email": {email}, "role_31415900": {"none"}}
	for i := 0; i+1 < len(rows); i += 2 {
		v.Set(grantAccountField(i/2), rows[i])
		v.Set(grantRoleField(i/2), rows[i+1])
	}
	return v
}

func TestLargeScopeAddUser(t *testing.T) {
	a := largeAcmeApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	page := paula.get(usersURL + "/new")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("new user form: %d", page.StatusCode)
	}
	fields := formsOn(t, page.body, "post")[usersURL+"/new"]
	if n := len(fields); n == 0 || n >= 20 {
		t.Errorf("the form of a %d-account family has %d fields, want a few", bulkAccounts+6, n)
	}
	if strings.Contains(page.body, `data-testid="role-`+bulkPrefix(1)+`"`) || !strings.Contains(page.body, `data-testid="role-31415900"`) {
		t.Error("the form should list the managing account only, not a select per sub-account")
	}
	if got := strings.Count(page.body, `data-testid="grant-row"`); got != grantRowCount {
		t.Errorf("%d Give access rows, want %d", got, grantRowCount)
	}

	// A tech prefix and a company name in any case, each with its type.
	r := paula.post(usersURL+"/new", grantForm("Lara Large", "lara@example.test", bulkPrefix(1), "power", "  bulk carrier 02 ", "general"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d %s", r.StatusCode, excerpt(r.body))
	}
	got := map[string]string{}
	rows, err := a.pool.Query(context.Background(), `SELECT x.tech_prefix, ir.role FROM invitation_roles ir
		JOIN invitations i ON i.id = ir.invitation_id JOIN accounts x ON x.id = ir.account_id WHERE i.email = 'lara@example.test'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p, role string
		if err := rows.Scan(&p, &role); err != nil {
			t.Fatal(err)
		}
		got[p] = role
	}
	if want := map[string]string{bulkPrefix(1): "power", bulkPrefix(2): "general"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("invitation roles: got %v, want %v", got, want)
	}

	cases := []struct {
		name  string
		form  url.Values
		field string
		want  string
	}{
		{"unknown prefix", grantForm("Una", "una@example.test", "99999999", "general"), "grant_account_0",
			"No account you manage here has the tech prefix 99999999."},
		{"another family's prefix", grantForm("Una", "una@example.test", bulkPrefix(3), "general", "27182800", "power"), "grant_account_1",
			"No account you manage here has the tech prefix 27182800."},
		{"another family's name", grantForm("Una", "una@example.test", "Globex Networks", "general"), "grant_account_0",
			"No account you manage here is called “Globex Networks”."},
		{"ambiguous name", grantForm("Una", "una@example.test", "twin telecom", "general"), "grant_account_0",
			"2 accounts are called “twin telecom”. Type the tech prefix of the one you mean."},
		{"same account twice", grantForm("Una", "una@example.test", bulkPrefix(3), "general", "BC03", "power"), "grant_account_1",
			"Bulk Carrier 03 (" + bulkPrefix(3) + ") is already in another row."},
		{"the managing account", grantForm("Una", "una@example.test", "Acme Telecom", "general"), "grant_account_0",
			"is already listed above"},
		{"no user type", grantForm("Una", "una@example.test", bulkPrefix(3), "none"), "grant_account_0", "Choose a user type"},
		{"no account at all", grantForm("Una", "una@example.test"), "roles", "Give them access to at least one account."},
	}
	for _, c := range cases {
		r := paula.post(usersURL+"/new", c.form)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", c.name, r.StatusCode)
			continue
		}
		msg := fieldError(r.body, c.field)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: error of %s = %q, want %q", c.name, c.field, msg, c.want)
		}
		for k, vs := range c.form {
			if strings.HasPrefix(k, "grant_account_") || k == "full_name" || k == "email" {
				if !strings.Contains(r.body, `value="`+html.EscapeString(vs[0])+`"`) {
					t.Errorf("%s: the typed %s %q is not kept", c.name, k, vs[0])
				}
			}
		}
		if n := a.count(`SELECT count(*) FROM invitations WHERE email = 'una@example.test'`); n != 0 {
			t.Errorf("%s: %d invitations written", c.name, n)
		}
	}
}

// fieldError returns the message shown next to a field.
func fieldError(body, field string) string {
	_, rest, ok := strings.Cut(body, `data-testid="error-`+field+`">`)
	if !ok {
		return ""
	}
	msg, _, _ := strings.Cut(rest, "<")
	return html.UnescapeString(msg)
}

func TestLargeScopeEditUser(t *testing.T) {
	a := largeAcmeApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	id := a.userID("general@acme.test")
	// Gina has West and, from here, 55 of the bulk accounts: two pages.
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO memberships (user_id, account_id, role)
		SELECT $1, id, 'general' FROM accounts WHERE tech_prefix LIKE '424200%' AND tech_prefix < $2`, id, bulkPrefix(54)+"z"); err != nil {
		t.Fatal(err)
	}
	edit := usersURL + "/" + id
	page := paula.get(edit)
	fields := formsOn(t, page.body, "post")[edit]
	if n := len(fields); n == 0 || n >= 200 {
		t.Fatalf("edit form: %d fields, want some and fewer than 200", n)
	}
	if got := strings.Count(page.body, `<select id="f-role_`); got != 1+rolesPerPage {
		t.Errorf("first page: %d role selects, want the managing account and %d of the user's", got, rolesPerPage)
	}
	if !strings.Contains(page.body, `data-testid="roles-next"`) {
		t.Error("no link to the rest of the user's accounts")
	}
	form := url.Values{}
	for _, f := range fields {
		form.Set(f.name, f.value)
	}
	// Change West, remove one bulk account, add another by alias.
	form.Set("role_31415901", "power")
	form.Set("role_"+bulkPrefix(0), "none")
	form.Set(grantAccountField(0), "bc57")
	form.Set(grantRoleField(0), "power")
	if r := paula.post(edit, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.StatusCode, excerpt(r.body))
	}
	roles := func() map[string]string {
		out := map[string]string{}
		rows, err := a.pool.Query(context.Background(), `SELECT x.tech_prefix, m.role FROM memberships m JOIN accounts x ON x.id = m.account_id
			WHERE m.user_id = $1`, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var p, role string
			if err := rows.Scan(&p, &role); err != nil {
				t.Fatal(err)
			}
			out[p] = role
		}
		return out
	}
	got := roles()
	for p, want := range map[string]string{"31415901": "power", bulkPrefix(0): "", bulkPrefix(57): "power", bulkPrefix(1): "general", bulkPrefix(54): "general"} {
		if got[p] != want {
			t.Errorf("role on %s: got %q, want %q", p, got[p], want)
		}
	}
	if len(got) != 56 {
		t.Errorf("%d roles after the change, want 56", len(got))
	}

	// The second page's form changes only what it shows.
	page2 := paula.get(edit + "?page=2")
	form2 := url.Values{}
	for _, f := range formsOn(t, page2.body, "post")[edit+"?page=2"] {
		form2.Set(f.name, f.value)
	}
	if len(form2) == 0 || form2.Get("role_"+bulkPrefix(57)) != "power" {
		t.Fatalf("page 2: form %v, want the rest of the user's accounts", form2)
	}
	form2.Set("role_"+bulkPrefix(57), "general")
	if r := paula.post(edit+"?page=2", form2); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save page 2: %d %s", r.StatusCode, excerpt(r.body))
	}
	after := roles()
	if after[bulkPrefix(57)] != "general" || len(after) != 56 || after["31415901"] != "power" {
		t.Errorf("after saving page 2: %v", after)
	}

	// A mistake changes nothing and keeps what was typed.
	before := fmt.Sprint(roles())
	form.Set("role_31415901", "general")
	form.Set(grantAccountField(0), "")
	form.Set(grantAccountField(2), "Twin Telecom")
	r := paula.post(edit, form)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(fieldError(r.body, grantAccountField(2)), "2 accounts are called") {
		t.Errorf("ambiguous account: %d %q", r.StatusCode, fieldError(r.body, grantAccountField(2)))
	}
	if !strings.Contains(r.body, `value="Twin Telecom"`) {
		t.Error("the typed account is not kept")
	}
	if now := fmt.Sprint(roles()); now != before {
		t.Errorf("a refused form changed roles:\n%s\n%s", before, now)
	}
	// Listed accounts cannot be given again in a row.
	form.Set(grantAccountField(2), "Acme West")
	if r := paula.post(edit, form); r.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(fieldError(r.body, grantAccountField(2)), "already listed above") {
		t.Errorf("listed account in a row: %d %q", r.StatusCode, fieldError(r.body, grantAccountField(2)))
	}
	// The last Principal is still protected.
	own := url.Values{"role_31415900": {"power"}}
	if r := paula.post(usersURL+"/"+a.userID("principal@acme.test"), own); r.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "without an active Principal") {
		t.Errorf("demote the last Principal: %d %s", r.StatusCode, excerpt(r.body))
	}
}

func TestUserAccountSuggestions(t *testing.T) {
	a := largeAcmeApp(t, nil)
	paula, erin := a.demoLogin("principal@acme.test"), a.demoLogin("east-owner@acme.test")
	hx := func(c *client, path string) *response {
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
		req.Header.Set("HX-Request", "true")
		return c.do(req)
	}
	search := "/settings/users/accounts"
	cases := []struct {
		name string
		c    *client
		acct string
		q    string
		want []string
		more bool
	}{
		{"by name", paula, "31415900", "bulk carrier", []string{bulkPrefix(0), bulkPrefix(1), bulkPrefix(2), bulkPrefix(3), bulkPrefix(4),
			bulkPrefix(5), bulkPrefix(6), bulkPrefix(7), bulkPrefix(8), bulkPrefix(9)}, true},
		{"by part of a name", paula, "31415900", "rier 4", []string{bulkPrefix(40), bulkPrefix(41), bulkPrefix(42), bulkPrefix(43), bulkPrefix(44),
			bulkPrefix(45), bulkPrefix(46), bulkPrefix(47), bulkPrefix(48), bulkPrefix(49)}, false},
		{"by alias", paula, "31415900", "bc42", []string{bulkPrefix(42)}, false},
		{"by prefix", paula, "31415900", "3141590", []string{"31415900", "31415901", "31415902", "31415903"}, false},
		{"another family by name", paula, "31415900", "globex", nil, false},
		{"another family by prefix", paula, "31415900", "27182800", nil, false},
		{"a sub-account's scope is itself", erin, "31415902", "acme", []string{"31415902"}, false},
		{"nothing typed", paula, "31415900", "", nil, false},
	}
	for _, c := range cases {
		r := hx(c.c, "/accounts/"+c.acct+search+"?"+url.Values{"row": {"2"}, grantAccountField(2): {c.q}}.Encode())
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", c.name, r.StatusCode)
			continue
		}
		if strings.Contains(r.body, "<html") {
			t.Errorf("%s: a whole page, want the list alone", c.name)
		}
		if got := attrValues(r.body, "data-prefix"); !sameSet(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		if got := strings.Contains(r.body, "More accounts match"); got != c.more {
			t.Errorf("%s: more = %v, want %v", c.name, got, c.more)
		}
	}

	// Choosing fills the row, keeping its user type; only an account of the
	// scope fills it.
	r := hx(paula, "/accounts/31415900"+search+"?row=3&pick="+bulkPrefix(7)+"&grant_role_3=power")
	if !strings.Contains(r.body, `name="grant_account_3" type="text" value="`+bulkPrefix(7)+`"`) ||
		!strings.Contains(r.body, `<option value="power" selected>`) || !strings.Contains(r.body, "Bulk Carrier 07") {
		t.Errorf("chosen suggestion: %s", excerpt(r.body))
	}
	r = hx(paula, "/accounts/31415900"+search+"?row=3&pick=27182800")
	if !strings.Contains(r.body, `name="grant_account_3" type="text" value=""`) || strings.Contains(r.body, "Globex") {
		t.Errorf("another family's account filled a row: %s", excerpt(r.body))
	}

	// Without JavaScript it is a page.
	if r := paula.get("/accounts/31415900" + search + "?q=twin"); r.StatusCode != http.StatusOK ||
		!sameSet(attrValues(r.body, "data-prefix"), []string{"42429998", "42429999"}) {
		t.Errorf("look-up page: %d %v", r.StatusCode, attrValues(r.body, "data-prefix"))
	}

	// Only a Principal with User Management reaches it.
	for _, c := range []struct {
		who, path string
		want      int
	}{
		{"power@acme.test", "/accounts/31415900" + search + "?q=bulk", http.StatusForbidden},
		{"general@acme.test", "/accounts/31415901" + search + "?q=bulk", http.StatusForbidden},
		{"owner@globex.test", "/accounts/31415900" + search + "?q=bulk", http.StatusNotFound},
		{"east-owner@acme.test", "/accounts/31415900" + search + "?q=bulk", http.StatusNotFound},
		{"owner@initech.test", "/accounts/16180300" + search + "?q=initech", http.StatusNotFound},
	} {
		r := hx(a.demoLogin(c.who), c.path+"&row=0")
		if r.StatusCode != c.want || strings.Contains(r.body, "Bulk Carrier") {
			t.Errorf("%s GET %s: %d, want %d and no accounts", c.who, c.path, r.StatusCode, c.want)
		}
	}
}
