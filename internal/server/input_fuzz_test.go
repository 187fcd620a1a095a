package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/config"
	"carrierportal/internal/portal"
)

// FuzzPathParams checks the parsers of path parameters and cursors: an id
// is a canonical positive number, a DID a valid E.164 number, a DID page
// cursor a stored number, a picker page plain path segments.
func FuzzPathParams(f *testing.F) {
	for _, s := range []string{"42", "042", "-1", "9223372036854775808", "12065550100", "+12065550100", "+1206555O100", "1e3",
		"billing/info", "../settings", "dids/+12065550100", "%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rctx := chi.NewRouteContext()
		rctx.URLParams.Add("id", s)
		rctx.URLParams.Add("number", s)
		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.WithValue(context.Background(), chi.RouteCtxKey, rctx))
		if id, ok := pathID(r, "id"); ok && (id <= 0 || strconv.FormatInt(id, 10) != s) {
			t.Fatalf("pathID(%q) = %d", s, id)
		}
		// A national trunk prefix typed in the path is dropped, as for any
		// number; what comes out is the stored, canonical form.
		if n, ok := didNumber(r); ok {
			again, err := portal.ParseE164("n", n)
			if err != nil || again != n || len(n) < 8 || len(n) > 16 || strings.Trim(n[1:], "0123456789") != "" {
				t.Fatalf("didNumber(%q) = %q", s, n)
			}
		}
		if validCursorNumber(s) {
			if _, ok := portal.PhoneSearch(s); !ok || !strings.HasPrefix(s, "+") {
				t.Fatalf("cursor %q accepted", s)
			}
		}
		if p := cleanPage(s); p != "" {
			if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
				t.Fatalf("cleanPage(%q) = %q", s, p)
			}
			for _, seg := range strings.Split(p, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("cleanPage(%q) = %q", s, p)
				}
			}
		}
	})
}

// FuzzSafeNext checks the post-login destination: always a path on this
// site, also as a browser reads it (browsers drop tabs and newlines from
// URLs, so "/\t/evil.example" would be "//evil.example").
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/accounts/31415900", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example",
		"/%2F/evil.example", "/\r\nSet-Cookie: x=y", "javascript:alert(1)", "/ok?next=//evil", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if got != "/" && got != s {
			t.Fatalf("safeNext(%q) = %q, neither the input nor /", s, got)
		}
		seen := strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, got)
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") || strings.HasPrefix(seen, "/\\") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as %q", s, got, seen)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("safeNext(%q) = %q keeps a control character", s, got)
			}
		}
		if u, err := url.Parse(got); err == nil && (u.Scheme != "" || u.Host != "") {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, got)
		}
	})
}

// FuzzQueryParams checks what the query strings and hidden fields carry:
// months, dates, page numbers, idempotency keys, the staff queue's way
// back, and rate-limit keys.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{"2026-03", "1999-12", "2026-13", "2026-03-01", "0001-01-01", "9999-12-31", "7", "-1", "100001",
		"0123456789abcdef0123456789abcdef", "/staff/feature-requests?status=pending", "//evil/staff/feature-requests", "a\x00b", "\xff"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if m := monthParam(s, now); m.Day() != 1 || m.Hour() != 0 || m.Year() < 2000 || m.Year() > 2100 {
			t.Fatalf("monthParam(%q) = %v", s, m)
		}
		errs := portal.FieldErrors{}
		if d, ok := auditDate(s, errs, "from"); ok && (d.Year() < 2000 || d.Year() > 9000 || len(errs) > 0) {
			t.Fatalf("auditDate(%q) = %v", s, d)
		} else if !ok && s != "" && errs["from"] == "" {
			t.Fatalf("auditDate(%q) refused without a message", s)
		}
		r := httptest.NewRequest(http.MethodGet, "/?"+url.Values{"page": {s}}.Encode(), nil)
		if n := pageNumber(r); n < 1 || n > 100000 {
			t.Fatalf("pageNumber(%q) = %d", s, n)
		}
		if validIdempotencyKey(s) && (len(s) != 32 || strings.Trim(strings.ToLower(s), "0123456789abcdef") != "") {
			t.Fatalf("idempotency key %q accepted", s)
		}
		if q := backQuery(s); len(q) > 0 {
			if u, err := url.Parse(s); err != nil || u.Path != "/staff/feature-requests" || u.Host != "" {
				t.Fatalf("backQuery(%q) kept %v", s, q)
			}
		}
		if k := limitKey(s); !utf8.ValidString(k) || strings.ContainsRune(k, 0) || len(k) > 200 {
			t.Fatalf("limitKey(%q) = %q, which Postgres text cannot hold", s, k)
		}
	})
}

// FuzzClientIP checks the address rate limits count: a peer that is not a
// trusted proxy is itself, whatever X-Forwarded-For says; behind a trusted
// proxy it is an address from the header that is not a proxy, or the peer.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{{"203.0.113.9:4321", "198.51.100.1"}, {"10.0.0.2:80", "198.51.100.1, 10.0.0.3"},
		{"10.0.0.2:80", "garbage, 10.0.0.3"}, {"[::ffff:10.0.0.2]:80", "::ffff:198.51.100.7"}, {"not an address", "1.2.3.4"},
		{"10.0.0.2:80", ""}, {"10.0.0.2:80", "10.0.0.3,10.0.0.4"}} {
		f.Add(s[0], s[1])
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	s := &Server{cfg: &config.Config{TrustedProxies: proxies}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientIP(r)
		host, _, err := net.SplitHostPort(remote)
		peer, perr := netip.ParseAddr(host)
		switch {
		case err != nil || perr != nil:
			return // not from a real listener; whatever it is, it is not the header's
		case !proxies[0].Contains(peer.Unmap()):
			if got != peer.Unmap().String() {
				t.Fatalf("untrusted peer %q with X-Forwarded-For %q counted as %q", remote, xff, got)
			}
		default:
			a, err := netip.ParseAddr(got)
			if err != nil || (proxies[0].Contains(a) && a != peer.Unmap()) {
				t.Fatalf("behind the proxy %q, X-Forwarded-For %q counted as %q", remote, xff, got)
			}
		}
	})
}

// After signing in, the next parameter never sends the browser to another
// site, however it is disguised.
func TestLoginNextStaysOnSite(t *testing.T) {
	a := newTestApp(t, nil)
	_, _ = a.newCustomer("Next Co", "next@example.test")
	for _, next := range []string{"//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example",
		"/%09/evil.example", "\x00//evil.example"} {
		// The transport, not a client: a client refuses to read some of
		// these Locations, which browsers would follow.
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/login?next="+url.QueryEscape(next),
			strings.NewReader(url.Values{"email": {"next@example.test"}, "password": {"correct horse battery"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r, err := a.srv.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Body.Close()
		loc := r.Header.Get("Location")
		seen := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(loc)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") || strings.HasPrefix(seen, "/\\") {
			t.Errorf("next=%q: status %d, Location %q", next, r.StatusCode, loc)
		}
	}
}
