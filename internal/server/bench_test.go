package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// benchFamily is the portal on a fresh database holding the large family
// at a scale a benchmark can load in a second or two, and the session
// cookie of its Principal. The full-size numbers come from portal-bench.
func benchFamily(b *testing.B) (*testApp, string) {
	b.Helper()
	a := newTestApp(b, nil)
	o := postgres.LargeOptions{SubAccounts: 1_000, Users: 40, DIDs: 5_000, CDRs: 50_000, Months: 3}
	if _, err := a.db.SeedLarge(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	c := a.client()
	c.login(postgres.LargePrincipalEmail, postgres.DemoPassword)
	ck := c.cookie("portal_session")
	if ck == nil {
		b.Fatal("no session cookie after sign-in")
	}
	return a, ck.Name + "=" + ck.Value
}

// benchGet serves path through h b.N times, in process, and fails on any
// answer but want.
func benchGet(b *testing.B, h http.Handler, path, cookie string, htmx bool, want int) {
	b.Helper()
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Cookie", cookie)
		if htmx {
			r.Header.Set("HX-Request", "true")
		}
		return r
	}
	for range 3 { // the statement cache and the session hints warm up
		h.ServeHTTP(httptest.NewRecorder(), req())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req())
		if rec.Code != want {
			b.Fatalf("GET %s: status %d, want %d", path, rec.Code, want)
		}
	}
}

// The session and sign-in chain alone, around a handler that does nothing:
// what every signed-in page pays before its own work.
func BenchmarkSessionMiddleware(b *testing.B) {
	a, cookie := benchFamily(b)
	h := a.app.RequireSignedIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	benchGet(b, h, "/", cookie, false, http.StatusNoContent)
}

// The picker search as the header's script asks for it: session, query
// and the rendered fragment.
func BenchmarkPickerSearch(b *testing.B) {
	a, cookie := benchFamily(b)
	benchGet(b, a.app, "/picker?q=harbor", cookie, true, http.StatusOK)
}

// Rendering a full picker result list (the most the picker shows).
func BenchmarkPickerRender(b *testing.B) {
	p := web.PickerResultsProps{Q: "harbor", More: true}
	for i := range postgres.PickerLimit {
		prefix := fmt.Sprintf("%08d", 50_000_001+i)
		p.Items = append(p.Items, web.PickerItem{Company: fmt.Sprintf("Harbor <Telecom> & Sons %d", i), Alias: "HAR-" + prefix[4:],
			Prefix: prefix, Status: "active", Href: switchURL(prefix, "cdrs")})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := web.PickerResults(p).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// The Billing Summary of last month, 100 accounts a page: its queries
// (from the rollups) and its render.
func BenchmarkBillingSummary(b *testing.B) {
	a, cookie := benchFamily(b)
	month := postgres.MonthStart(time.Now()).AddDate(0, -1, 0).Format("2006-01")
	benchGet(b, a.app, "/summary/billing?month="+month, cookie, false, http.StatusOK)
}

// The All Accounts summary, first page.
func BenchmarkAccountsSummary(b *testing.B) {
	a, cookie := benchFamily(b)
	benchGet(b, a.app, "/summary", cookie, false, http.StatusOK)
}

// The root account's dashboard with the header and its picker.
func BenchmarkDashboard(b *testing.B) {
	a, cookie := benchFamily(b)
	benchGet(b, a.app, "/accounts/"+postgres.LargeRootPrefix+"/", cookie, false, http.StatusOK)
}
