package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAPIKeys(t *testing.T) {
	d := newResDemo(t)
	c := d.as("power@acme.test")
	base := "/accounts/31415901/api-keys"
	r := mustGet(t, c, base, http.StatusOK)
	if !strings.Contains(r.body, "CRM integration") || !strings.Contains(r.body, "Pete Power") && !strings.Contains(r.body, "Paula Principal") {
		t.Error("the seeded key or its creator is missing")
	}
	r = c.post(base, url.Values{"name": {"Nightly export"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create: status %d: %s", r.StatusCode, excerpt(r.body))
	}
	secret := between(r.body, `data-testid="secret-value">`, "<")
	if !strings.HasPrefix(secret, "cpk_") {
		t.Fatalf("secret %q", secret)
	}
	acct, keyID, err := d.db.AuthenticateAPIKey(t.Context(), secret)
	if err != nil || acct != d.westID {
		t.Fatalf("the new key does not authenticate as West: %v", err)
	}
	list := mustGet(t, c, base, http.StatusOK)
	if strings.Contains(list.body, secret) || !strings.Contains(list.body, "Nightly export") || !strings.Contains(list.body, "Pete Power") {
		t.Error("the list shows the secret, or lacks the new key and its creator")
	}
	r = c.post(fmt.Sprintf("%s/%d/rotate", base, keyID), nil)
	rotated := between(r.body, `data-testid="secret-value">`, "<")
	if r.StatusCode != http.StatusOK || rotated == secret || !strings.HasPrefix(rotated, "cpk_") {
		t.Fatalf("rotate: status %d", r.StatusCode)
	}
	if _, _, err := d.db.AuthenticateAPIKey(t.Context(), secret); err == nil {
		t.Error("the old secret still works after rotation")
	}
	if r := c.post(fmt.Sprintf("%s/%d/revoke", base, keyID), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: status %d", r.StatusCode)
	}
	if _, _, err := d.db.AuthenticateAPIKey(t.Context(), rotated); err == nil {
		t.Error("a revoked key still works")
	}
	if r := mustGet(t, c, base, http.StatusOK); !strings.Contains(r.body, `data-testid="apikey-revoked"`) {
		t.Error("the revoked key is not shown as revoked")
	}
	if r := c.post(fmt.Sprintf("%s/%d/revoke", base, keyID), nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("revoking twice: status %d, want 404", r.StatusCode)
	}
	if r := c.post(base, url.Values{"name": {""}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("empty name: status %d, want 422", r.StatusCode)
	}
	if n := d.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND action LIKE 'api_key.%'`, d.westID); n != 3 {
		t.Errorf("API key audit events = %d, want 3", n)
	}
	// General has no way to them: no menu item, no page, no action.
	g := d.as("general@acme.test")
	mustGet(t, g, base, http.StatusForbidden)
	if r := g.post(base, url.Values{"name": {"sneaky"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("General creating a key: status %d, want 403", r.StatusCode)
	}
}
