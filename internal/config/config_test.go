package config

import (
	"strings"
	"testing"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDevelopmentDefaults(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"DATABASE_URL": "postgres://x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "development" || c.Addr != ":8080" || c.BaseURL != "http://localhost:8080" || c.CookieSecure || c.Secret == "" {
		t.Fatalf("got %+v", c)
	}
}

func TestProductionRefusesUnsafeSettings(t *testing.T) {
	good := map[string]string{
		"DATABASE_URL":    "postgres://x",
		"PORTAL_ENV":      "production",
		"PORTAL_BASE_URL": "https://portal.example.com",
		"SMTP_URL":        "smtp://u:p@mail.example.com:587",
		"PORTAL_SECRET":   strings.Repeat("s", 40),
	}
	if c, err := FromLookup(lookup(good)); err != nil || !c.CookieSecure {
		t.Fatalf("good production config: %v (secure=%v)", err, c != nil && c.CookieSecure)
	}
	cases := []struct {
		name, key, value string
	}{
		{"no base url", "PORTAL_BASE_URL", ""},
		{"http base url", "PORTAL_BASE_URL", "http://portal.example.com"},
		{"no smtp", "SMTP_URL", ""},
		{"bad smtp scheme", "SMTP_URL", "http://mail.example.com"},
		{"short secret", "PORTAL_SECRET", "short"},
		{"insecure cookies", "PORTAL_COOKIE_SECURE", "false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			if tc.value == "" {
				delete(m, tc.key)
			} else {
				m[tc.key] = tc.value
			}
			if _, err := FromLookup(lookup(m)); err == nil {
				t.Fatalf("production started with %s", tc.name)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"DATABASE_URL": "x", "PORTAL_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}))
	if err != nil || len(c.TrustedProxies) != 2 {
		t.Fatalf("got %v, %v", c, err)
	}
	if _, err := FromLookup(lookup(map[string]string{"DATABASE_URL": "x", "PORTAL_TRUSTED_PROXIES": "nonsense"})); err == nil {
		t.Fatal("accepted a bad proxy entry")
	}
}
