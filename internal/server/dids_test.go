package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestDIDsListSearchAndPages(t *testing.T) {
	d := newResDemo(t)
	c := d.as("general@acme.test")
	r := mustGet(t, c, "/accounts/31415901/dids", http.StatusOK)
	if n := strings.Count(r.body, `data-testid="did-row"`); n != 15 {
		t.Errorf("rows = %d, want the 15 numbers West holds", n)
	}
	if strings.Contains(r.body, "+1 415-555-0115") {
		t.Error("the released number is listed")
	}
	r = mustGet(t, c, "/accounts/31415901/dids?q="+url.QueryEscape("Sales"), http.StatusOK)
	if n := strings.Count(r.body, `data-testid="did-row"`); n != 2 {
		t.Errorf("search Sales: %d rows, want 2", n)
	}
	r = mustGet(t, c, "/accounts/31415901/dids?q="+url.QueryEscape("(415) 555-0103"), http.StatusOK)
	if n := strings.Count(r.body, `data-testid="did-row"`); n != 1 || !strings.Contains(r.body, "+1 415-555-0103") {
		t.Errorf("search by number: %d rows", n)
	}
	// More numbers than a page: the pages walk them all, once.
	for i := 0; i < 60; i++ {
		if _, err := d.pool.Exec(t.Context(), `INSERT INTO dids (account_id, number) VALUES ($1, $2)`, d.westID, fmt.Sprintf("+1415555%04d", 2000+i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	path := "/accounts/31415901/dids"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		r := mustGet(t, c, path, http.StatusOK)
		for _, part := range strings.Split(r.body, `data-testid="did-row" data-number="`)[1:] {
			n := part[:strings.IndexByte(part, '"')]
			if seen[n] {
				t.Fatalf("%s on two pages", n)
			}
			seen[n] = true
		}
		path = hrefOf(r.body, "page-next")
	}
	if len(seen) != 75 {
		t.Errorf("pages showed %d numbers, want 75", len(seen))
	}
}

// hrefOf returns the unescaped href of the link with a data-testid, or "".
func hrefOf(body, testID string) string {
	i := strings.Index(body, `data-testid="`+testID+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(body[:i], `href="`)
	if start < 0 {
		return ""
	}
	href := body[start+6:]
	href = href[:strings.IndexByte(href, '"')]
	return strings.ReplaceAll(href, "&amp;", "&")
}

func TestDIDEditAndRelease(t *testing.T) {
	d := newResDemo(t)
	c := d.as("general@acme.test")
	route := d.count(`SELECT id FROM inbound_routes WHERE account_id = $1 AND name = 'West voicemail'`, d.westID)
	page := "/accounts/31415901/dids/14155550101"
	r := mustGet(t, c, page, http.StatusOK)
	if !strings.Contains(r.body, `data-testid="did-form"`) || !strings.Contains(r.body, "West voicemail") {
		t.Fatalf("edit page lacks the form or the route choices")
	}
	r = c.post(page, url.Values{"label": {"Night line"}, "route_id": {fmt.Sprint(route)}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if n := d.count(`SELECT count(*) FROM dids WHERE number = '+14155550101' AND label = 'Night line' AND route_id = $1`, route); n != 1 {
		t.Error("label and route not saved")
	}
	for name, form := range map[string]url.Values{
		"bad label": {"label": {"a\u202Eb"}, "route_id": {""}},
		"bad route": {"label": {"x"}, "route_id": {"twelve"}},
	} {
		if r := c.post(page, form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-`) {
			t.Errorf("%s: status %d, want 422 with a message", name, r.StatusCode)
		}
	}
	// Release asks first, then the number leaves the list; its calls stay.
	calls := d.count(`SELECT count(*) FROM cdrs WHERE from_number = '+14155550101' OR to_number = '+14155550101'`)
	if r := mustGet(t, c, page+"/release", http.StatusOK); !strings.Contains(r.body, `data-testid="did-release-confirm"`) {
		t.Error("no confirmation before release")
	}
	if r := c.post(page+"/release", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("release: status %d", r.StatusCode)
	}
	if r := mustGet(t, c, "/accounts/31415901/dids", http.StatusOK); strings.Contains(r.body, `data-number="+14155550101"`) {
		t.Error("released number still listed")
	}
	mustGet(t, c, page, http.StatusNotFound)
	if got := d.count(`SELECT count(*) FROM cdrs WHERE from_number = '+14155550101' OR to_number = '+14155550101'`); got != calls || calls == 0 {
		t.Errorf("calls of the released number = %d, want the %d it had", got, calls)
	}
	if n := d.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND action IN ('did.updated', 'did.released')`, d.westID); n != 2 {
		t.Errorf("audit events = %d, want 2", n)
	}
	for _, bad := range []string{"abc", "0123456789", "1", "+", "14155550101%2F..", strings.Repeat("9", 20)} {
		mustGet(t, c, "/accounts/31415901/dids/"+bad, http.StatusNotFound)
	}
}
