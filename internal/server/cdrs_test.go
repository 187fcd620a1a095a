package server

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestCDRReport(t *testing.T) {
	d := newResDemo(t)
	c := d.as("general@acme.test")
	now := time.Now().UTC()
	from := now.AddDate(0, -2, 0).Format(time.DateOnly)
	to := now.Format(time.DateOnly)
	q := url.Values{"from": {from}, "to": {to}, "direction": {"inbound"}}
	r := mustGet(t, c, "/accounts/31415901/cdrs?"+q.Encode(), http.StatusOK)
	want := d.count(`SELECT count(*) FROM cdrs WHERE account_id = $1 AND direction = 'inbound' AND started_at >= $2::date AND started_at < $3::date + 1`,
		d.westID, from, to)
	if got := between(r.body, `data-testid="total-calls">`, "<"); got != commaInt(want) {
		t.Errorf("total calls = %q, want %s", got, commaInt(want))
	}
	if n := strings.Count(r.body, `data-testid="cdr-row"`); n != 50 {
		t.Errorf("first page has %d rows, want 50", n)
	}
	// Walk every page with the Older links, then one back with Newer.
	rows, pages := 0, 0
	path := "/accounts/31415901/cdrs?" + q.Encode()
	var second string
	for path != "" {
		if pages++; pages > want/50+2 {
			t.Fatal("pagination does not end")
		}
		r := mustGet(t, c, path, http.StatusOK)
		rows += strings.Count(r.body, `data-testid="cdr-row"`)
		if pages == 2 {
			second = r.body
		}
		if pages == 3 {
			back := mustGet(t, c, hrefOf(r.body, "page-prev"), http.StatusOK)
			if rowsOf(back.body) != rowsOf(second) {
				t.Error("Newer from page 3 is not page 2")
			}
		}
		path = hrefOf(r.body, "page-next")
	}
	if rows != want {
		t.Errorf("pages showed %d calls, want %d", rows, want)
	}
	// A number filter matches however the number is written.
	r = mustGet(t, c, "/accounts/31415901/cdrs?"+url.Values{"from": {from}, "to": {to}, "number": {"(415) 555-0100"}}.Encode(), http.StatusOK)
	want = d.count(`SELECT count(*) FROM cdrs WHERE account_id = $1 AND (from_number LIKE '%4155550100%' OR to_number LIKE '%4155550100%')
		AND started_at >= $2::date AND started_at < $3::date + 1`, d.westID, from, to)
	if got := between(r.body, `data-testid="total-calls">`, "<"); got != commaInt(want) || want == 0 {
		t.Errorf("number filter: %q calls, want %d", got, want)
	}
	for name, bad := range map[string]url.Values{
		"date":        {"from": {"2026-13-01"}},
		"order":       {"from": {"2026-03-10"}, "to": {"2026-03-01"}},
		"range":       {"from": {"2020-01-01"}, "to": {"2026-01-01"}},
		"direction":   {"direction": {"sideways"}},
		"disposition": {"disposition": {"'; DROP TABLE cdrs; --"}},
		"number":      {"number": {"<script>"}},
	} {
		r := c.get("/accounts/31415901/cdrs?" + bad.Encode())
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-`) || strings.Contains(r.body, "<script>") {
			t.Errorf("bad %s: status %d, want 422 with a message and escaped input", name, r.StatusCode)
		}
	}
}

func rowsOf(body string) string {
	var b strings.Builder
	for _, part := range strings.Split(body, `data-testid="cdr-row"`)[1:] {
		b.WriteString(part[:strings.Index(part, "</tr>")])
	}
	return b.String()
}

func commaInt(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestCDRExportStreamsNeutralizedCSV(t *testing.T) {
	d := newResDemo(t)
	// A caller ID is whatever the caller sends: make one a formula.
	hostile := []string{"=HYPERLINK(\"http://evil.example\")", "@SUM(1)", "-2+3", "+cmd|' /C calc'!A0"}
	start := time.Now().UTC().Add(-time.Hour)
	var rows [][]any
	for i, from := range hostile {
		rows = append(rows, []any{d.westID, start.Add(time.Duration(i) * time.Second), "inbound", from, "+14155550100", "answered", 30, 30, int64(4500), int64(2250)})
	}
	if _, err := d.pool.CopyFrom(t.Context(), pgx.Identifier{"cdrs"},
		[]string{"account_id", "started_at", "direction", "from_number", "to_number", "disposition", "duration_secs", "billed_secs", "rate_micros", "charge_micros"},
		pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	c := d.as("general@acme.test")
	from := time.Now().UTC().AddDate(0, -4, 0).Format(time.DateOnly)
	r := mustGet(t, c, "/accounts/31415901/cdrs.csv?from="+from, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("headers: %q, %q", ct, r.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := d.count(`SELECT count(*) FROM cdrs WHERE account_id = $1 AND started_at >= $2::date`, d.westID, from)
	if len(recs) != want+1 || want < 1000 {
		t.Fatalf("CSV has %d records, want a header and %d calls", len(recs), want)
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
				t.Fatalf("cell %q starts with a formula character", cell)
			}
		}
	}
	found := 0
	for _, rec := range recs {
		for _, h := range hostile {
			if rec[2] == "'"+h {
				found++
				if rec[7] != "0.0045" || rec[8] != "0.00225" || rec[5] != "30" {
					t.Errorf("hostile call exported as %v, want rate 0.0045, charge 0.00225 and 30 seconds", rec)
				}
			}
		}
	}
	if found != len(hostile) {
		t.Errorf("found %d neutralized hostile numbers, want %d", found, len(hostile))
	}
	// Another account's calls never appear, whatever the query says.
	again := mustGet(t, c, "/accounts/31415901/cdrs.csv?from="+from+"&account_id="+strconv.FormatInt(d.globexID, 10), http.StatusOK)
	if again.body != r.body {
		t.Error("an account_id in the query changed the export")
	}
}

// FuzzParseCDRFilter checks the report filter never panics and that an
// accepted filter is a sane range of whole days with known values.
func FuzzParseCDRFilter(f *testing.F) {
	for _, s := range []string{"from=2026-03-01&to=2026-03-31", "direction=inbound&number=%2B1+206", "from=9999-99-99", "to=2026-02-30",
		"disposition=busy&disposition=failed", "number=%25_", "from=2026-03-10&to=2026-03-01"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, form, ok := parseCDRFilter(q, now)
		if !ok {
			if len(form.Errors) == 0 {
				t.Fatal("refused without a message")
			}
			return
		}
		if !flt.From.Before(flt.To) || flt.To.Sub(flt.From) > maxCDRRangeDays*24*time.Hour {
			t.Fatalf("accepted range %v – %v", flt.From, flt.To)
		}
		if flt.From.UTC().Truncate(24*time.Hour) != flt.From || flt.To.UTC().Truncate(24*time.Hour) != flt.To {
			t.Fatalf("range not on day boundaries: %v – %v", flt.From, flt.To)
		}
		for _, c := range flt.Digits {
			if c < '0' || c > '9' {
				t.Fatalf("number filter %q is not digits", flt.Digits)
			}
		}
		_ = cdrQuery(form)
	})
}
