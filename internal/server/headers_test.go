package server

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/postgres"
)

var paramRE = regexp.MustCompile(`\{[^}]+\}`)

// concretePath fills a route pattern's parameters with plausible values.
func concretePath(pattern string) string {
	p := strings.TrimSuffix(pattern, "/*")
	return paramRE.ReplaceAllStringFunc(p, func(m string) string {
		switch m {
		case "{acct}":
			return "31415900"
		case "{child}":
			return "31415901"
		case "{token}":
			return strings.Repeat("A", 43)
		case "{feature}":
			return "sub_accounts"
		case "{number}":
			return "+12065550100"
		}
		return "1"
	})
}

// Every GET route, signed out and signed in, answers with the security
// headers.
func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	a := newTestApp(t, nil)
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	signedIn := a.client()
	signedIn.login("principal@acme.test", postgres.DemoPassword)
	anon := a.client()
	var paths []string
	_ = chi.Walk(a.app.router, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet {
			paths = append(paths, concretePath(route))
		}
		return nil
	})
	if len(paths) < 10 {
		t.Fatalf("walked only %d GET routes", len(paths))
	}
	for _, p := range paths {
		for name, c := range map[string]*client{"anonymous": anon, "principal": signedIn} {
			r := c.get(p)
			h := r.Header
			if r.StatusCode >= 500 {
				t.Errorf("%s GET %s: status %d", name, p, r.StatusCode)
			}
			if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") ||
				!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
				t.Errorf("%s GET %s: missing security headers: %v", name, p, h)
			}
			if !strings.HasPrefix(p, "/static/") && h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s GET %s: Cache-Control %q, want no-store", name, p, h.Get("Cache-Control"))
			}
		}
	}
}

func TestProductionHeadersAndCookies(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_ENV": "production", "SMTP_URL": "smtp://127.0.0.1:1", "PORTAL_SECRET": strings.Repeat("p", 40)})
	r := a.client().get("/login")
	if !strings.Contains(r.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS in production: %v", r.Header)
	}
	if r := a.client().get("/dev/mailbox"); r.StatusCode != http.StatusNotFound {
		t.Errorf("/dev/mailbox in production: %d, want 404", r.StatusCode)
	}
	if a.app.sessions.Cookie.Name != "__Host-portal_session" || !a.app.sessions.Cookie.Secure {
		t.Errorf("production session cookie %q secure=%v", a.app.sessions.Cookie.Name, a.app.sessions.Cookie.Secure)
	}
}
