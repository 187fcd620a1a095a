package server

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

const auditURLPath = "/accounts/31415900/settings/audit"

func TestAuditLogShowsTheStory(t *testing.T) {
	a := demoApp(t, nil)
	paula, erin := a.demoLogin("principal@acme.test"), a.demoLogin("east-owner@acme.test")
	a.invite(paula, "Nina Next", "nina@example.test", acmeRoles("none", "general", "none", "none"))
	paula.post(usersURL+"/"+a.userID("general@acme.test")+"/revoke", nil)
	// Erin changes Pete's role on East: an event of East.
	if r := erin.post("/accounts/31415902/settings/users/"+a.userID("power@acme.test"), url.Values{"role_31415902": {"power"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Erin's change: %d %s", r.StatusCode, excerpt(r.body))
	}
	a.demoLogin("power@acme.test").get("/accounts/31415900/settings/users") // a denial

	actions := func(c *client, path string) []string {
		t.Helper()
		r := c.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.StatusCode)
		}
		return attrValues(r.body, "data-action")
	}
	all := actions(paula, auditURLPath)
	for _, want := range []string{"auth.login", "invite.sent", "user.revoked", "user.role_changed", "permission.denied"} {
		if !slices.Contains(all, want) {
			t.Errorf("root log lacks %s: %v", want, all)
		}
	}
	// A sub-account's Principal sees that account's events only.
	east := actions(erin, "/accounts/31415902/settings/audit")
	if !slices.Contains(east, "user.role_changed") || slices.Contains(east, "user.revoked") || slices.Contains(east, "invite.sent") {
		t.Errorf("East's log: %v", east)
	}
	cases := []struct {
		query string
		want  func([]string) bool
	}{
		{"action=users", func(got []string) bool { return len(got) > 0 && allPrefixed(got, "user.") }},
		{"action=invitations", func(got []string) bool { return len(got) == 1 && got[0] == "invite.sent" }},
		{"action=denied", func(got []string) bool { return len(got) == 1 && got[0] == "permission.denied" }},
		{"user=" + a.userID("general@acme.test"), func(got []string) bool {
			return slices.Contains(got, "user.revoked") && !slices.Contains(got, "invite.sent")
		}},
		{"from=" + time.Now().AddDate(0, 0, 2).Format("2006-01-02"), func(got []string) bool { return len(got) == 0 }},
		{"to=" + time.Now().AddDate(0, 0, -2).Format("2006-01-02"), func(got []string) bool { return len(got) == 0 }},
		{"from=" + time.Now().AddDate(0, 0, -1).Format("2006-01-02") + "&to=" + time.Now().Format("2006-01-02"), func(got []string) bool { return len(got) == len(all) }},
		{"from=garbage", func(got []string) bool { return len(got) == len(all) }},
	}
	for _, c := range cases {
		if got := actions(paula, auditURLPath+"?"+c.query); !c.want(got) {
			t.Errorf("?%s: got %v", c.query, got)
		}
	}
	if body := paula.get(auditURLPath + "?from=garbage").body; !strings.Contains(body, "Enter a date as yyyy-mm-dd.") {
		t.Error("a bad date is not explained")
	}
}

func allPrefixed(list []string, prefix string) bool {
	for _, v := range list {
		if !strings.HasPrefix(v, prefix) {
			return false
		}
	}
	return true
}

// TestAuditLogPages pages through the log by id, both ways, without gaps or
// repeats.
func TestAuditLogPages(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	acme := int64(a.count(`SELECT id FROM accounts WHERE tech_prefix = '31415900'`))
	for i := range 120 {
		if err := a.db.Audit(context.Background(), portal.Actor{IP: "192.0.2.1"}, portal.AuditEvent{Action: "test.event", AccountID: acme,
			Target: fmt.Sprint("event ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	total := a.count(`SELECT count(*) FROM audit_events WHERE account_id IN (SELECT id FROM accounts WHERE coalesce(parent_id, id) = $1)
		OR (account_id IS NULL AND action LIKE 'auth.%' AND actor_user_id IN
		(SELECT user_id FROM memberships m JOIN accounts x ON x.id = m.account_id WHERE coalesce(x.parent_id, x.id) = $1))`, acme)
	seen := map[string]bool{}
	var pages [][]string
	path := auditURLPath
	for path != "" {
		r := paula.get(path)
		ids := attrValues(r.body, "data-id")
		if len(ids) > auditPerPage {
			t.Fatalf("page of %d rows", len(ids))
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("event %s on two pages", id)
			}
			seen[id] = true
		}
		pages = append(pages, ids)
		path = hrefOf(r.body, "audit-older")
	}
	if len(seen) != total || len(pages) < 3 {
		t.Errorf("paged through %d events on %d pages, want %d on at least 3", len(seen), len(pages), total)
	}
	// Back from the second page to the first.
	second := paula.get(auditURLPath + "?before=" + pages[0][len(pages[0])-1])
	back := paula.get(hrefOf(second.body, "audit-newer"))
	if got := attrValues(back.body, "data-id"); strings.Join(got, ",") != strings.Join(pages[0], ",") {
		t.Errorf("newer from page 2: got %v, want %v", got, pages[0])
	}
	if hrefOf(back.body, "audit-newer") != "" {
		t.Error("the first page offers newer events")
	}
}

func TestAuditCSV(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	a.invite(paula, "Formula Fan", "=cmd@example.test", acmeRoles("none", "general", "none", "none"))
	r := paula.get(auditURLPath + ".csv?action=invitations")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %q %q", r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(rows) != 2 || rows[0][5] != "action" || rows[1][5] != "invite.sent" {
		t.Fatalf("rows: %q", rows)
	}
	if got := rows[1][6]; got != "'=cmd@example.test" {
		t.Errorf("formula cell: got %q, want it neutralized", got)
	}
	if n := a.count(`SELECT count(*) FROM audit_events WHERE action = 'audit.exported'`); n != 1 {
		t.Errorf("export audit events: %d", n)
	}
	for _, v := range []string{"=1+2", "+1", "-1", "@SUM(A1)", "\tx", "safe", ""} {
		want := v
		if v != "" && strings.ContainsAny(v[:1], "=+-@\t") {
			want = "'" + v
		}
		if got := csvSafe(v); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", v, got, want)
		}
	}
}
