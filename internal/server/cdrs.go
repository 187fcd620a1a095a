package server

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// maxCDRRangeDays bounds one report or export: a little over a year.
const maxCDRRangeDays = 400

// cdrFilterFields are the query parameters of the call report.
var cdrFilterFields = []string{"from", "to", "direction", "disposition", "number"}

// parseCDRFilter reads the report filter from the query. Dates are whole
// UTC days, from the first of this month to today unless given. The form
// it returns shows what was asked, with a message on each bad field.
func parseCDRFilter(q url.Values, now time.Time) (postgres.CDRFilter, web.Form, bool) {
	form := web.NewForm()
	for _, k := range cdrFilterFields {
		v := q.Get(k)
		if len(v) > 100 {
			v = v[:100]
		}
		form.Values[k] = strings.ReplaceAll(strings.ToValidUTF8(v, ""), "\x00", "")
	}
	today := now.UTC().Truncate(24 * time.Hour)
	f := postgres.CDRFilter{From: postgres.MonthStart(today), To: today.AddDate(0, 0, 1)}
	day := func(field string, def time.Time) time.Time {
		v := strings.TrimSpace(form.Values[field])
		if v == "" {
			form.Values[field] = def.Format(time.DateOnly)
			return def
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 2000 || t.Year() > 2100 {
			form.Errors[field] = "Enter a date like 2026-03-01."
			return def
		}
		return t
	}
	f.From = day("from", f.From)
	f.To = day("to", today).AddDate(0, 0, 1)
	if len(form.Errors) == 0 {
		switch {
		case !f.From.Before(f.To):
			form.Errors["to"] = "The end date must not be before the start date."
		case f.To.Sub(f.From) > maxCDRRangeDays*24*time.Hour:
			form.Errors["to"] = "Choose at most " + strconv.Itoa(maxCDRRangeDays) + " days."
		}
	}
	if d := form.Values["direction"]; postgres.ValidCDRDirection(d) {
		f.Direction = d
	} else {
		form.Errors["direction"] = "Choose a direction from the list."
	}
	if d := form.Values["disposition"]; postgres.ValidCDRDisposition(d) {
		f.Disposition = d
	} else {
		form.Errors["disposition"] = "Choose a result from the list."
	}
	if n := strings.TrimSpace(form.Values["number"]); n != "" {
		digits, ok := portal.PhoneSearch(n)
		if !ok {
			form.Errors["number"] = "Enter digits of a phone number, like +1 206 555."
		}
		f.Digits = digits
	}
	return f, form, len(form.Errors) == 0
}

// cdrQuery is the query string of a filter, for links to other pages and
// the export.
func cdrQuery(f web.Form, extra ...string) string {
	v := url.Values{}
	for _, k := range cdrFilterFields {
		if f.Values[k] != "" {
			v.Set(k, f.Values[k])
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func (s *Server) cdrsPage(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	q := r.URL.Query()
	f, form, ok := parseCDRFilter(q, time.Now())
	base := acctURL(aa, "")
	p := web.CDRsProps{Base: base, Filter: form, Invalid: !ok}
	if !ok {
		s.render(w, r, http.StatusUnprocessableEntity, web.Page(s.chrome(r, "Call records"), web.CDRsContent(p)))
		return
	}
	content, err := s.cachedView(r.Context(), viewKey(r, aa.Role), aa.Stamp, 0, func() (templ.Component, error) {
		return s.cdrsContent(r, aa, f, form, p)
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Page(s.chrome(r, "Call records"), content))
}

// cdrsContent reads and builds one page of the report.
func (s *Server) cdrsContent(r *http.Request, aa *postgres.AccountAccess, f postgres.CDRFilter, form web.Form, p web.CDRsProps) (templ.Component, error) {
	q := r.URL.Query()
	base := p.Base
	var older, newer *postgres.CDRCursor
	if c, ok := postgres.ParseCDRCursor(q.Get("older")); ok {
		older = &c
	} else if c, ok := postgres.ParseCDRCursor(q.Get("newer")); ok {
		newer = &c
	}
	page, totals, err := s.db.CDRReport(r.Context(), aa.Account.ID, f, older, newer, 50)
	if err != nil {
		return nil, err
	}
	p.Totals = web.CDRTotals{Calls: totals.Calls, Answered: totals.Answered, BilledSecs: totals.BilledSecs, Charge: totals.ChargeMicros}
	for _, c := range page.Items {
		p.Rows = append(p.Rows, cdrRow(c))
	}
	if page.Older != nil {
		p.NextURL = base + "/cdrs?" + cdrQuery(form, "older", page.Older.String())
	}
	if page.Newer != nil {
		p.PrevURL = base + "/cdrs?" + cdrQuery(form, "newer", page.Newer.String())
	}
	p.CSVURL = base + "/cdrs.csv?" + cdrQuery(form)
	return web.CDRsContent(p), nil
}

func cdrRow(c postgres.CDR) web.CDRRow {
	return web.CDRRow{StartedAt: c.StartedAt, Direction: c.Direction, From: c.From, To: c.To, Disposition: c.Disposition,
		DurationSecs: c.DurationSecs, Charge: c.ChargeMicros}
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet: a
// leading = + - @ (or tab, or carriage return) gets a quote in front. E.164
// numbers start with +, so they are exported as '+12065550100 — which also
// keeps spreadsheets from turning them into 1.21E+10.
func csvSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// csvFlushEvery is how many rows go out per flush: large enough to keep
// writes efficient, small enough that the export starts at once and never
// piles up in memory.
const csvFlushEvery = 1000

// cdrsCSV streams the filtered calls as CSV straight from the database rows
// to the client.
func (s *Server) cdrsCSV(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	f, form, ok := parseCDRFilter(r.URL.Query(), time.Now())
	if !ok {
		p := web.CDRsProps{Base: acctURL(aa, ""), Filter: form, Invalid: true}
		s.render(w, r, http.StatusUnprocessableEntity, web.Page(s.chrome(r, "Call records"), web.CDRsContent(p)))
		return
	}
	name := "cdrs-" + aa.Account.TechPrefix + "-" + form.Values["from"] + "-to-" + form.Values["to"] + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"started_at_utc", "direction", "from", "to", "disposition", "duration_secs", "billed_secs",
		"rate_per_minute_usd", "charge_usd", "call_id"})
	n := 0
	rec := make([]string, 10)
	err := s.db.StreamCDRs(r.Context(), aa.Account.ID, f, func(c *postgres.CDR) error {
		rec[0] = c.StartedAt.UTC().Format(time.RFC3339)
		rec[1] = csvSafe(c.Direction)
		rec[2] = csvSafe(c.From)
		rec[3] = csvSafe(c.To)
		rec[4] = csvSafe(c.Disposition)
		rec[5] = strconv.Itoa(c.DurationSecs)
		rec[6] = strconv.Itoa(c.BilledSecs)
		rec[7] = csvSafe(portal.FormatDecimal(c.RateMicros))
		rec[8] = csvSafe(portal.FormatDecimal(c.ChargeMicros))
		rec[9] = csvSafe(c.CallID)
		if err := cw.Write(rec); err != nil {
			return err
		}
		if n++; n%csvFlushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		// The status line is long gone: the client sees a cut-off file, and
		// the log says why.
		s.log.Error("cdr export", "request_id", requestIDFrom(r.Context()), "account", aa.Account.TechPrefix, "rows", n, "err", err)
	}
}
