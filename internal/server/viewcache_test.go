package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// mainOf is the part of a page inside <main>: the content a kept copy
// holds, without the header, which is read afresh with every page.
func mainOf(body string) string {
	if i := strings.Index(body, "<main>"); i >= 0 {
		return body[i:]
	}
	return body
}

// demoPair is two instances of the portal on one database with the demo
// data, and the Principal of Acme signed in on each.
type demoPair struct {
	a, b   *testApp
	ca, cb *client
}

func newDemoPair(t *testing.T) *demoPair {
	t.Helper()
	dbURL := postgres.NewTestDB(t)
	a := startTestApp(t, dbURL, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &demoPair{a: a, b: startTestApp(t, dbURL, nil)}
	p.ca, p.cb = p.a.client(), p.b.client()
	p.ca.login("principal@acme.test", postgres.DemoPassword)
	p.cb.login("principal@acme.test", postgres.DemoPassword)
	return p
}

// exec runs SQL straight in the database, outside the portal.
func (p *demoPair) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := p.a.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// barrier returns once both instances have taken in every change
// committed before it.
func (p *demoPair) barrier(t *testing.T) {
	t.Helper()
	if err := p.a.app.cacheSync.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestViewCacheFollowsTheDatabase: the kept pages (dashboard, User
// Management, call records, both summaries) are served from memory, and a
// change committed straight into the database shows on every instance once
// it is announced: the family's version rises and the page's stamp with it.
func TestViewCacheFollowsTheDatabase(t *testing.T) {
	d := newDemoPair(t)
	ca, cb, exec := d.ca, d.cb, d.exec
	const (
		renameWest = `UPDATE accounts SET company_name = $1 WHERE tech_prefix = '31415901'`
		renameUser = `UPDATE users SET full_name = $1 WHERE email = 'general@acme.test'`
		newCall    = `INSERT INTO cdrs (account_id, started_at, direction, from_number, to_number, disposition)
			SELECT id, now(), 'outbound', '+12065550100', $1, 'busy' FROM accounts WHERE tech_prefix = '31415901'`
	)
	pages := []struct {
		path, trigger, change string
		values                [2]string
	}{
		{"/accounts/31415901", "accounts_family_version_update", renameWest, [2]string{"West Kept Copy", "West Fresh Name"}},
		{"/accounts/31415900/settings/users", "users_family_version", renameUser, [2]string{"Gene Kept Copy", "Gene Fresh Name"}},
		{"/accounts/31415901/cdrs", "cdrs_family_version_insert", newCall, [2]string{"+12065559001", "+12065559002"}},
		{"/summary", "accounts_family_version_update", renameWest, [2]string{"West Summary Copy", "West Summary Fresh"}},
		{"/summary/billing", "accounts_family_version_update", renameWest, [2]string{"West Billing Copy", "West Billing Fresh"}},
	}
	// Numbers show formatted.
	shown := func(v string) string {
		if strings.HasPrefix(v, "+") {
			return portal.FormatPhone(v)
		}
		return v
	}
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			for _, c := range []*client{ca, cb} {
				mustGet(t, c, p.path, http.StatusOK)
				mustGet(t, c, p.path, http.StatusOK)
			}
			// Changed with the version trigger off: the family's version
			// stays, and both instances keep showing their copies, which
			// shows the pages come from memory.
			table, _, _ := strings.Cut(p.trigger, "_family_version")
			exec(t, `ALTER TABLE `+table+` DISABLE TRIGGER `+p.trigger)
			exec(t, p.change, p.values[0])
			exec(t, `ALTER TABLE `+table+` ENABLE TRIGGER `+p.trigger)
			for i, c := range []*client{ca, cb} {
				if body := mainOf(mustGet(t, c, p.path, http.StatusOK).body); strings.Contains(body, shown(p.values[0])) {
					t.Fatalf("instance %d did not serve %s from memory", i, p.path)
				}
			}
			// Changed as usual: each instance shows it once the change is
			// announced (a change through the portal waits for that before
			// it answers: TestAccessCacheAcrossInstances).
			exec(t, p.change, p.values[1])
			d.barrier(t)
			for i, c := range []*client{ca, cb} {
				if body := mainOf(mustGet(t, c, p.path, http.StatusOK).body); !strings.Contains(body, shown(p.values[1])) {
					t.Fatalf("instance %d still shows its copy of %s after a committed change", i, p.path)
				}
			}
		})
	}
}

// TestViewCacheKeepsUsersApart: two users of one family whose summaries
// differ (TestSubAccountVisibility) never see each other's copy of a page.
func TestViewCacheKeepsUsersApart(t *testing.T) {
	a := saDemo(t, nil)
	principal, power := a.saLogin("principal@acme.test"), a.saLogin("power@acme.test")
	rows := func(c *client) string {
		t.Helper()
		return strings.Join(saPrefixes(mustGet(t, c, "/summary", http.StatusOK).body, "summary-row"), ",")
	}
	const all, powers = "31415900,31415901,31415902,31415903", "31415900,31415901"
	for round := range 2 {
		if got := rows(principal); got != all {
			t.Fatalf("round %d: the Principal sees %s, want %s", round, got, all)
		}
		if got := rows(power); got != powers {
			t.Fatalf("round %d: Power sees %s, want %s", round, got, powers)
		}
	}
}

func TestViewCacheLimit(t *testing.T) {
	c := newViewCache(1000)
	page := make([]byte, 50)
	for i := range 100 {
		c.put("key"+itoa(i), "1:1", page, time.Time{})
		if c.size > c.limit {
			t.Fatalf("after %d copies the cache holds %d bytes, over its %d", i+1, c.size, c.limit)
		}
	}
	if _, ok := c.get("key99", "1:1"); !ok {
		t.Fatal("the newest copy is gone")
	}
	if _, ok := c.get("key99", "1:2"); ok {
		t.Fatal("a copy served under another stamp")
	}
	c.put("old", "1:1", page, time.Now().Add(-time.Millisecond))
	if _, ok := c.get("old", "1:1"); ok {
		t.Fatal("a copy served past its age")
	}
	c.put("big", "1:1", make([]byte, 900), time.Time{})
	if _, ok := c.get("big", "1:1"); ok {
		t.Fatal("a copy of a sixteenth of the limit or more was kept")
	}
}

// TestPickerSearchFollowsAnnouncements: the picker's search answers from
// memory, and a change to what it lists drops the answers of every
// instance: at once for a change made through the portal (the barrier),
// once announced for one made straight in the database.
func TestPickerSearchFollowsAnnouncements(t *testing.T) {
	d := newDemoPair(t)
	ca, cb := d.ca, d.cb
	pete := d.b.client()
	pete.login("power@acme.test", postgres.DemoPassword)
	exec := func(sql string) { t.Helper(); d.exec(t, sql) }
	search := func(c *client, q string) string {
		t.Helper()
		return mustGet(t, c, "/picker?q="+url.QueryEscape(q), http.StatusOK).body
	}
	for _, c := range []*client{ca, cb} {
		if !strings.Contains(search(c, "west"), "Acme West") {
			t.Fatal("the search does not find Acme West")
		}
	}
	// Renamed without its announcement: both instances answer from memory.
	exec(`ALTER TABLE accounts DISABLE TRIGGER accounts_cache_update`)
	exec(`UPDATE accounts SET company_name = 'Acme West Quiet' WHERE tech_prefix = '31415901'`)
	exec(`ALTER TABLE accounts ENABLE TRIGGER accounts_cache_update`)
	for i, c := range []*client{ca, cb} {
		if strings.Contains(search(c, "west"), "Acme West Quiet") {
			t.Fatalf("instance %d did not answer from memory", i)
		}
	}
	// Renamed through the portal on one instance: the other's very next
	// search has the new name.
	if r := ca.post("/accounts/31415901/profile", profileForm("Acme West Portal", "west@acme.test")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", r.StatusCode, excerpt(r.body))
	}
	if !strings.Contains(search(cb, "west"), "Acme West Portal") {
		t.Fatal("the other instance still lists the old name after the rename answered")
	}
	// Changed in the database: every instance has it once announced.
	exec(`UPDATE accounts SET company_name = 'Acme West Direct' WHERE tech_prefix = '31415901'`)
	d.barrier(t)
	for i, c := range []*client{ca, cb} {
		if !strings.Contains(search(c, "west"), "Acme West Direct") {
			t.Fatalf("instance %d still lists the old name after the announcement", i)
		}
	}
	// A role taken away in the database: the user's searches drop it.
	if got := saPrefixes(search(pete, ""), "picker-entry"); !slices.Contains(got, "31415902") {
		t.Fatalf("Power's picker lists %v, without 31415902", got)
	}
	exec(`DELETE FROM memberships WHERE user_id = (SELECT id FROM users WHERE email = 'power@acme.test')
		AND account_id = (SELECT id FROM accounts WHERE tech_prefix = '31415902')`)
	d.barrier(t)
	if got := saPrefixes(search(pete, ""), "picker-entry"); slices.Contains(got, "31415902") {
		t.Fatalf("Power's picker still lists 31415902 after the role went: %v", got)
	}
}

// headerOf is the header of a page: what comes before <main>.
func headerOf(body string) string {
	head, _, _ := strings.Cut(body, "<main>")
	return head
}

// TestHeaderPickerFollowsAnnouncements: the header picker's recent
// accounts come from memory, and a change to them (a rename, a switch to
// another account) shows on every instance: through the portal at once,
// straight in the database once announced.
func TestHeaderPickerFollowsAnnouncements(t *testing.T) {
	d := newDemoPair(t)
	ca, cb := d.ca, d.cb
	barrier := func() { t.Helper(); d.barrier(t) }
	exec := func(sql string) { t.Helper(); d.exec(t, sql) }
	header := func(c *client, path string) string {
		t.Helper()
		return headerOf(mustGet(t, c, path, http.StatusOK).body)
	}
	const west, summary = "/accounts/31415901", "/summary"
	// Both instances keep the header of both kinds of page.
	for _, c := range []*client{ca, cb} {
		for _, p := range []string{west, summary} {
			header(c, p)
			header(c, p)
		}
	}
	// A switch on one instance (a GET: announced, not waited for) puts
	// Acme East among the recent accounts on the other once announced.
	if r := ca.get("/switch?to=31415902"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch: %d", r.StatusCode)
	}
	barrier()
	for _, p := range []string{west, summary} {
		if got := saPrefixes(header(cb, p), "picker-entry"); !slices.Contains(got, "31415902") {
			t.Fatalf("%s: the other instance's recent accounts are %v, without the one just opened", p, got)
		}
	}
	// Renamed without its announcement: the headers come from memory.
	exec(`ALTER TABLE accounts DISABLE TRIGGER accounts_cache_update`)
	exec(`UPDATE accounts SET company_name = 'Acme East Quiet' WHERE tech_prefix = '31415902'`)
	exec(`ALTER TABLE accounts ENABLE TRIGGER accounts_cache_update`)
	for _, p := range []string{west, summary} {
		if h := header(cb, p); strings.Contains(h, "Acme East Quiet") || !strings.Contains(h, "Acme East") {
			t.Fatalf("%s: the header was not served from memory", p)
		}
	}
	// Renamed through the portal on one instance: the other's next page
	// has the new name.
	form := profileForm("Acme East Portal", "east@acme.test")
	form.Set("company_alias", "East")
	if r := ca.post("/accounts/31415902/profile", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", r.StatusCode, excerpt(r.body))
	}
	for _, p := range []string{west, summary} {
		if h := header(cb, p); !strings.Contains(h, "Acme East Portal") {
			t.Fatalf("%s: the other instance's header still has the old name after the rename answered", p)
		}
	}
}

// TestAccessCacheAcrossInstances: a user's access to an account is kept in
// memory, and a role changed through the portal on one instance counts on
// the very next request on another, both warm.
func TestAccessCacheAcrossInstances(t *testing.T) {
	d := newDemoPair(t)
	a, b, paula := d.a, d.b, d.ca
	pete := b.client()
	pete.login("power@acme.test", postgres.DemoPassword)
	exec := func(sql string) { t.Helper(); d.exec(t, sql) }
	const keys = "/accounts/31415900/api-keys"
	// The first request records the last account opened; the user, read
	// again, is kept with the second; the access with the third.
	for range 3 {
		mustGet(t, pete, keys, http.StatusOK)
	}
	// Demoted without announcements: the other instance still lets him in
	// from its copy, which shows the access comes from memory.
	demote := `UPDATE memberships SET role = '%s' WHERE user_id = (SELECT id FROM users WHERE email = 'power@acme.test')
		AND account_id = (SELECT id FROM accounts WHERE tech_prefix = '31415900')`
	quiet := []string{"memberships_cache", "memberships_family_version_update"}
	for _, tg := range quiet {
		exec(`ALTER TABLE memberships DISABLE TRIGGER ` + tg)
	}
	exec(strings.Replace(demote, "%s", "general", 1))
	for _, tg := range quiet {
		exec(`ALTER TABLE memberships ENABLE TRIGGER ` + tg)
	}
	mustGet(t, pete, keys, http.StatusOK)
	exec(strings.Replace(demote, "%s", "power", 1))
	d.barrier(t)
	mustGet(t, pete, keys, http.StatusOK)
	// Demoted through the portal on the first instance: the second's very
	// next request is refused, and its menu has no API keys.
	id := a.userID("power@acme.test")
	if r := paula.post(usersURL+"/"+id, acmeRoles("general", "power", "general", "none")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change roles: %d %s", r.StatusCode, excerpt(r.body))
	}
	mustGet(t, pete, keys, http.StatusForbidden)
	if body := mustGet(t, pete, "/accounts/31415900", http.StatusOK).body; strings.Contains(body, `data-testid="nav-api-keys"`) {
		t.Error("the menu still offers API Keys to a General user")
	}
	// The account closed by staff-side SQL, then announced: not found.
	exec(`UPDATE accounts SET status = 'closed' WHERE tech_prefix = '31415901'`)
	d.barrier(t)
	mustGet(t, pete, "/accounts/31415901", http.StatusNotFound)
	// A role in a family the user had none in: their kept summary scope
	// goes with the announcement of their roles.
	gus := b.client()
	gus.login("owner@globex.test", postgres.DemoPassword)
	for range 3 {
		mustGet(t, gus, "/summary", http.StatusNotFound)
	}
	exec(`INSERT INTO memberships (user_id, account_id, role) SELECT u.id, a.id, 'principal'
		FROM users u, accounts a WHERE u.email = 'owner@globex.test' AND a.tech_prefix = '31415900'`)
	d.barrier(t)
	if got := saPrefixes(mustGet(t, gus, "/summary", http.StatusOK).body, "summary-row"); !slices.Contains(got, "31415900") {
		t.Fatalf("the new Principal's summary lists %v", got)
	}
}

// TestPageCacheOff: with PORTAL_PAGE_CACHE=false every page is read from
// the database, even a change no trigger raised a version or announced.
func TestPageCacheOff(t *testing.T) {
	a := saDemo(t, map[string]string{"PORTAL_PAGE_CACHE": "false"})
	c := a.saLogin("principal@acme.test")
	for range 3 {
		mustGet(t, c, "/accounts/31415901", http.StatusOK)
		mustGet(t, c, "/summary", http.StatusOK)
	}
	for _, sql := range []string{
		`ALTER TABLE accounts DISABLE TRIGGER USER`,
		`UPDATE accounts SET company_name = 'West Never Kept' WHERE tech_prefix = '31415901'`,
		`ALTER TABLE accounts ENABLE TRIGGER USER`,
	} {
		if _, err := a.pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, p := range []string{"/accounts/31415901", "/summary"} {
		if body := mainOf(mustGet(t, c, p, http.StatusOK).body); !strings.Contains(body, "West Never Kept") {
			t.Errorf("%s was served from a copy with the caches off", p)
		}
	}
}

// TestCacheKeysReachTheirCaches: each cache drops what an announcement
// names for it, leaves alone what belongs to another, and drops everything
// on a key it does not know.
func TestCacheKeysReachTheirCaches(t *testing.T) {
	fam := &postgres.AccountAccess{}
	fam.Account.ID = 7
	tests := []struct {
		key                   string
		picker, family, owner bool // dropped: picker answers, family 7's access, user 3's access
	}{
		{"s0123abcd", false, false, false},
		{"u3", false, false, false},
		{"a7", true, false, false},
		{"r3", true, false, false},
		{"m3", true, false, true},
		{"f7", false, true, false},
		{"f8", false, false, false},
		{"m4", true, false, false},
		{"x1", true, true, true},
		{"", true, true, true},
	}
	for _, tc := range tests {
		p := newPickerCache(nil)
		p.answers["3 east"] = pickerAnswer{}
		a := newAccessCache(nil)
		a.entries[accessKey{3, "00000007"}] = accessEntry{aa: fam}
		famBefore, userBefore := a.families[7], a.users[3]
		p.invalidate(tc.key)
		a.invalidate(tc.key)
		_, kept := a.entries[accessKey{3, "00000007"}]
		familyDropped := !kept || a.families[7] != famBefore
		userDropped := !kept || a.users[3] != userBefore
		if got := len(p.answers) == 0; got != tc.picker {
			t.Errorf("%q: picker dropped %v, want %v", tc.key, got, tc.picker)
		}
		if familyDropped != tc.family {
			t.Errorf("%q: family's access dropped %v, want %v", tc.key, familyDropped, tc.family)
		}
		if userDropped != tc.owner {
			t.Errorf("%q: user's access dropped %v, want %v", tc.key, userDropped, tc.owner)
		}
	}
}
