package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

// resDemo is a test app with the demo family loaded.
type resDemo struct {
	*testApp
	westID, globexID int64
}

func newResDemo(t *testing.T) *resDemo {
	t.Helper()
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &resDemo{testApp: a, westID: int64(a.count(`SELECT id FROM accounts WHERE tech_prefix = '31415901'`)),
		globexID: int64(a.count(`SELECT id FROM accounts WHERE tech_prefix = '27182800'`))}
}

// as returns a client signed in as a demo user.
func (d *resDemo) as(email string) *client {
	d.t.Helper()
	c := d.client()
	c.login(email, postgres.DemoPassword)
	return c
}

// mustGet fetches a page and fails unless it answers status.
func mustGet(t *testing.T, c *client, path string, status int) *response {
	t.Helper()
	r := c.get(path)
	if r.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", path, r.StatusCode, status, excerpt(r.body))
	}
	return r
}

func TestDashboardShowsTheAccount(t *testing.T) {
	d := newResDemo(t)
	c := d.as("general@acme.test")
	r := mustGet(t, c, "/accounts/31415901", http.StatusOK)
	for _, want := range []string{`data-testid="dash-balance"`, `data-testid="dash-numbers">15<`, `data-testid="recent-call"`,
		`data-testid="role">General<`, `data-testid="recent-payment"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	// The General user's menu has the pages of its row of the matrix, and
	// no API keys.
	for _, item := range []string{"nav-dashboard", "nav-dids", "nav-interconnection", "nav-cdrs", "nav-billing", "nav-customer-info"} {
		if !strings.Contains(r.body, `data-testid="`+item+`"`) {
			t.Errorf("General's menu lacks %s", item)
		}
	}
	if strings.Contains(r.body, "nav-api-keys") {
		t.Error("General's menu offers API keys")
	}
	p := d.as("power@acme.test")
	if r := mustGet(t, p, "/accounts/31415901", http.StatusOK); !strings.Contains(r.body, `data-testid="nav-api-keys"`) {
		t.Error("Power's menu lacks API keys")
	}
	// The menu lists the items in the agreed order.
	order := []string{"nav-dashboard", "nav-dids", "nav-interconnection", "nav-cdrs", "nav-billing", "nav-api-keys", "nav-customer-info"}
	body := mustGet(t, p, "/accounts/31415901", http.StatusOK).body
	last := -1
	for _, item := range order {
		i := strings.Index(body, `data-testid="`+item+`"`)
		if i < last {
			t.Errorf("%s is out of order in the menu", item)
		}
		last = i
	}
}
