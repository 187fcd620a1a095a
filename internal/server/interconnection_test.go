package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

func TestInterconnectionHostsCredentialsRoutes(t *testing.T) {
	d := newResDemo(t)
	c := d.as("general@acme.test")
	base := "/accounts/31415901/interconnection"
	r := mustGet(t, c, base, http.StatusOK)
	for _, id := range []string{"hosts-table", "credentials-table", "routes-table", "host-add-form", "credential-add-form", "route-add-form"} {
		if !strings.Contains(r.body, `data-testid="`+id+`"`) {
			t.Errorf("interconnection page lacks %s", id)
		}
	}
	// Hosts: add, refuse a private address with a message, edit, delete.
	if r := c.post(base+"/hosts", url.Values{"address": {"192.168.1.10"}, "description": {"PBX"}}); r.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "private network range") || !strings.Contains(r.body, `value="192.168.1.10"`) {
		t.Errorf("private host: status %d, want 422 with the reason and the input kept", r.StatusCode)
	}
	if r := c.post(base+"/hosts", url.Values{"address": {"203.0.113.77"}, "description": {"New office"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add host: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if r := c.post(base+"/hosts", url.Values{"address": {"203.0.113.77/32"}}); r.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "already in the list") {
		t.Errorf("duplicate host: status %d, want 422", r.StatusCode)
	}
	host := d.count(`SELECT id FROM sip_hosts WHERE account_id = $1 AND address = '203.0.113.77/32'`, d.westID)
	hostPage := fmt.Sprintf("%s/hosts/%d", base, host)
	if r := mustGet(t, c, hostPage, http.StatusOK); !strings.Contains(r.body, `value="203.0.113.77"`) {
		t.Error("host edit page does not show the address")
	}
	if r := c.post(hostPage, url.Values{"address": {"203.0.113.64/27"}, "description": {"Office block"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit host: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if r := c.post(hostPage, url.Values{"address": {"203.0.113.65/27"}}); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "203.0.113.64/27") {
		t.Errorf("host bits set: status %d, want 422 suggesting the block", r.StatusCode)
	}
	if r := c.post(hostPage+"/delete", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete host: status %d", r.StatusCode)
	}
	mustGet(t, c, hostPage, http.StatusNotFound)

	// Credentials: the password is shown once and only its hash is kept.
	r = c.post(base+"/credentials", url.Values{"username": {"West-Desk"}, "description": {"Desk phones"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="secret-value"`) {
		t.Fatalf("add credential: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	password := between(r.body, `data-testid="secret-value">`, "<")
	cred := d.count(`SELECT id FROM sip_credentials WHERE account_id = $1 AND username = 'west-desk'`, d.westID)
	if n := d.count(`SELECT count(*) FROM sip_credentials WHERE id = $1 AND ha1_sha256 = $2`, cred, postgres.SIPHA1("west-desk", password)); n != 1 || len(password) != 24 {
		t.Errorf("stored hash does not match the password shown (%q)", password)
	}
	if r := mustGet(t, c, base, http.StatusOK); strings.Contains(r.body, password) {
		t.Error("the password is shown again on the list")
	}
	r = c.post(fmt.Sprintf("%s/credentials/%d/reset", base, cred), nil)
	if next := between(r.body, `data-testid="secret-value">`, "<"); r.StatusCode != http.StatusOK || next == password || len(next) != 24 {
		t.Errorf("reset: status %d, new password %q", r.StatusCode, next)
	}
	if r := c.post(base+"/credentials", url.Values{"username": {"x"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("short user name: status %d, want 422", r.StatusCode)
	}

	// Routes: a route in use cannot be deleted; the page says why.
	if r := c.post(base+"/routes", url.Values{"name": {"Failover"}, "target": {"sip:pbx@10.0.0.1"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("private route target: status %d, want 422", r.StatusCode)
	}
	if r := c.post(base+"/routes", url.Values{"name": {"Failover"}, "target": {"SIP:Failover@SBC.West.Example:5080;transport=TCP"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add route: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	if n := d.count(`SELECT count(*) FROM inbound_routes WHERE account_id = $1 AND target = 'sip:Failover@sbc.west.example:5080;transport=tcp'`, d.westID); n != 1 {
		t.Error("route target not stored in canonical form")
	}
	used := d.count(`SELECT min(route_id) FROM dids WHERE account_id = $1`, d.westID)
	r = c.post(fmt.Sprintf("%s/routes/%d/delete", base, used), nil)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Choose another route") {
		t.Errorf("deleting a route in use: status %d, want 422 explaining why", r.StatusCode)
	}
	if n := d.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND (action LIKE 'sip_%' OR action LIKE 'inbound_route.%')`, d.westID); n != 6 {
		t.Errorf("interconnection audit events = %d, want 6", n)
	}
}

// between returns the text after start up to end.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}
