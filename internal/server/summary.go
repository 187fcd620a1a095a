package server

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// summaryPageSize is how many accounts a summary page lists.
const summaryPageSize = 100

// summaryChrome is the frame of the summary pages: "All Accounts" in place
// of an account, their own menu, and the picker.
func (s *Server) summaryChrome(r *http.Request, title string, ph *postgres.PickerHeader) web.Chrome {
	c := s.chrome(r, title)
	c.Account = &web.AccountChrome{Company: "All Accounts"}
	c.Nav = []web.NavItem{
		{Label: "All Accounts"},
		{Label: "Summary", Href: "/summary", Active: r.URL.Path == "/summary", TestID: "nav-summary"},
		{Label: "Billing", Href: "/summary/billing", Active: r.URL.Path == "/summary/billing", TestID: "nav-summary-billing"},
	}
	c.Picker = summaryPickerOf(r, ph)
	return c
}

// summaryQuery reads search, sort, month and page; whatever is not valid
// falls back to the defaults.
func summaryQuery(r *http.Request, valid func(string) bool, now time.Time) (postgres.SummaryQuery, int) {
	v := r.URL.Query()
	q := postgres.SummaryQuery{Q: searchText(r), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc", Month: postgres.MonthStart(now), Limit: summaryPageSize}
	if !valid(q.Sort) {
		q.Sort, q.Desc = "company", false
	}
	for _, m := range lastMonths(now) {
		if v.Get("month") == m.Format("2006-01") {
			q.Month = m
		}
	}
	page := pageNumber(r)
	q.Offset = (page - 1) * summaryPageSize
	return q, page
}

// lastMonths are the twelve months up to now, newest first.
func lastMonths(now time.Time) []time.Time {
	first := postgres.MonthStart(now)
	out := make([]time.Time, 12)
	for i := range out {
		out[i] = first.AddDate(0, -i, 0)
	}
	return out
}

// summaryURL builds a summary link that keeps the current search, sort and
// month, with some values changed.
func summaryURL(path string, q postgres.SummaryQuery, set map[string]string) string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	v.Set("sort", q.Sort)
	v.Set("dir", map[bool]string{false: "asc", true: "desc"}[q.Desc])
	if path != "/summary" {
		v.Set("month", q.Month.Format("2006-01"))
	}
	for k, x := range set {
		if x == "" {
			v.Del(k)
		} else {
			v.Set(k, x)
		}
	}
	return path + "?" + v.Encode()
}

func sortLinks(path string, q postgres.SummaryQuery, cols [][3]string) []web.SortLink {
	var out []web.SortLink
	for _, c := range cols {
		key, label, num := c[0], c[1], c[2] == "num"
		desc := num // numbers sort largest first on the first click
		if q.Sort == key {
			desc = !q.Desc
		}
		out = append(out, web.SortLink{Label: label, Active: q.Sort == key, Desc: q.Desc, Num: num,
			Href: summaryURL(path, q, map[string]string{"sort": key, "dir": map[bool]string{false: "asc", true: "desc"}[desc], "page": "1"})})
	}
	return out
}

func pager(path string, q postgres.SummaryQuery, page, shown, total int) web.Pager {
	p := web.Pager{From: q.Offset + 1, To: q.Offset + shown, Total: total}
	if page > 1 {
		p.PrevURL = summaryURL(path, q, map[string]string{"page": strconv.Itoa(page - 1)})
	}
	if p.To < total {
		p.NextURL = summaryURL(path, q, map[string]string{"page": strconv.Itoa(page + 1)})
	}
	return p
}

// summaryFrame loads the user's summary scope, and for a page the header
// picker, from memory or in one round trip; it answers 404 to a user who
// may see no family summary.
func (s *Server) summaryFrame(w http.ResponseWriter, r *http.Request, page bool) (*postgres.SummaryScope, *postgres.PickerHeader, bool) {
	uid := userFrom(r.Context()).ID
	var sc *postgres.SummaryScope
	var ph *postgres.PickerHeader
	var err error
	if page {
		// Each from memory when it is kept; what is not, in one round trip.
		h, hgen, hkept := s.picks.header(uid, "")
		kept, sgen, skept := s.access.scope(uid)
		switch {
		case hkept && skept:
			sc, ph = kept, h
		default:
			sc, ph, err = s.db.SummaryFrame(r.Context(), uid, !hkept)
			if hkept {
				ph = h
			} else if err == nil {
				s.picks.putHeader(hgen, uid, "", ph)
			}
			if err == nil {
				s.access.putScope(sgen, uid, sc)
			}
		}
	} else {
		sc, err = s.db.SummaryScopeOf(r.Context(), uid)
	}
	if err != nil {
		s.serverError(w, r, err)
		return nil, nil, false
	}
	if !sc.Visible {
		s.notFound(w, r)
		return nil, nil, false
	}
	return sc, ph, true
}

// summary is the All Accounts summary.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	s.summaryPage(w, r, "All Accounts", s.summaryContent)
}

// billingSummary is the Billing Summary of one month.
func (s *Server) billingSummary(w http.ResponseWriter, r *http.Request) {
	s.summaryPage(w, r, "Billing Summary", s.billingSummaryContent)
}

// summaryPage is a summary page: its content kept under the stamp of the
// user's families, or built by content.
func (s *Server) summaryPage(w http.ResponseWriter, r *http.Request, title string,
	content func(*http.Request, *postgres.SummaryScope) (templ.Component, error)) {
	sc, ph, ok := s.summaryFrame(w, r, true)
	if !ok {
		return
	}
	c, err := s.cachedView(r.Context(), viewKey(r, portal.RoleNone), sc.Stamp, 0, func() (templ.Component, error) {
		return content(r, sc)
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Page(s.summaryChrome(r, title, ph), c))
}

// summaryContent reads and builds one page of the All Accounts summary.
func (s *Server) summaryContent(r *http.Request, sc *postgres.SummaryScope) (templ.Component, error) {
	now := time.Now()
	q, page := summaryQuery(r, postgres.ValidSummarySort, now)
	rows, tot, err := s.db.AccountsSummary(r.Context(), sc, q)
	if err != nil {
		return nil, err
	}
	p := web.SummaryProps{Month: q.Month.Format("January 2006"), Q: q.Q, Sort: q.Sort, Desc: q.Desc,
		Headers: sortLinks("/summary", q, [][3]string{{"company", "Company", ""}, {"prefix", "Tech prefix", ""}, {"status", "Status", ""},
			{"balance", "Balance", "num"}, {"numbers", "Numbers", "num"}, {"minutes", "Minutes", "num"}, {"charges", "Charges", "num"}}),
		Totals: web.SummaryRowView{Balance: tot.Balance, Numbers: tot.Numbers, Calls: tot.Calls, Minutes: minutes(tot.BilledSecs), Charges: tot.Charges},
		Pager:  pager("/summary", q, page, len(rows), tot.Accounts)}
	for _, row := range rows {
		p.Rows = append(p.Rows, web.SummaryRowView{Company: row.CompanyName, Alias: row.CompanyAlias, Prefix: row.TechPrefix,
			Status: row.Status, Href: switchURL(row.TechPrefix, ""), Balance: row.Balance, Numbers: row.Numbers, Calls: row.Calls,
			Minutes: minutes(row.BilledSecs), Charges: row.Charges})
	}
	return web.SummaryContent(p), nil
}

// minutes rounds billed seconds up to whole minutes.
func minutes(secs int64) int64 { return (secs + 59) / 60 }

// billingSummaryContent reads and builds one page of the Billing Summary.
func (s *Server) billingSummaryContent(r *http.Request, sc *postgres.SummaryScope) (templ.Component, error) {
	now := time.Now()
	q, page := summaryQuery(r, postgres.ValidBillingSort, now)
	bs, err := s.db.BillingSummaryPage(r.Context(), sc, q, now)
	if err != nil {
		return nil, err
	}
	p := web.BillingSummaryProps{Month: q.Month.Format("January 2006"), MonthValue: q.Month.Format("2006-01"), Q: q.Q, Sort: q.Sort, Desc: q.Desc,
		Headers: sortLinks("/summary/billing", q, [][3]string{{"company", "Company", ""}, {"prefix", "Tech prefix", ""}, {"total", "Total", "num"}}),
		Totals:  bs.Totals, Total: bs.Total, Pager: pager("/summary/billing", q, page, len(bs.Rows), bs.Accounts),
		CSVURL: summaryURL("/summary/billing.csv", q, map[string]string{"page": ""})}
	for _, c := range postgres.ChargeCategories {
		p.Categories = append(p.Categories, postgres.CategoryLabel(c))
	}
	for _, m := range lastMonths(now) {
		p.Months = append(p.Months, web.MonthOption{Value: m.Format("2006-01"), Label: m.Format("January 2006"), Selected: m.Equal(q.Month)})
	}
	for _, row := range bs.Rows {
		p.Rows = append(p.Rows, web.BillingRowView{Company: row.CompanyName, Alias: row.CompanyAlias, Prefix: row.TechPrefix, Status: row.Status,
			Href: switchURL(row.TechPrefix, "billing"), Amounts: row.ByCategory, Total: row.Total})
		p.Accounts = append(p.Accounts, web.PickerItem{Company: row.CompanyName, Prefix: row.TechPrefix})
	}
	months := make([]web.ChartMonth, 0, len(bs.Chart))
	for _, m := range bs.Chart {
		months = append(months, web.ChartMonth{Month: m.Month, Amount: m.Amount})
	}
	p.Chart = web.NewChart(months, q.Month, func(m time.Time) string {
		return summaryURL("/summary/billing", q, map[string]string{"month": m.Format("2006-01"), "page": "1"})
	})
	return web.BillingSummaryContent(p), nil
}

// billingSummaryCSV streams the Billing Summary of a month, every matching
// account, as CSV. Company names are user text and are neutralized.
func (s *Server) billingSummaryCSV(w http.ResponseWriter, r *http.Request) {
	sc, _, ok := s.summaryFrame(w, r, false)
	if !ok {
		return
	}
	q, _ := summaryQuery(r, postgres.ValidBillingSort, time.Now())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="billing-summary-`+q.Month.Format("2006-01")+`.csv"`)
	cw := csv.NewWriter(w)
	head := []string{"Company", "Company alias", "Tech prefix", "Status"}
	for _, c := range postgres.ChargeCategories {
		head = append(head, postgres.CategoryLabel(c))
	}
	_ = cw.Write(append(head, "Total"))
	n := 0
	err := s.db.StreamBillingSummary(r.Context(), sc, q, func(row *postgres.BillingRow) error {
		rec := []string{csvSafe(row.CompanyName), csvSafe(row.CompanyAlias), row.TechPrefix, portal.StatusLabel(row.Status)}
		for _, a := range row.ByCategory {
			rec = append(rec, portal.FormatDecimal(a))
		}
		if err := cw.Write(append(rec, portal.FormatDecimal(row.Total))); err != nil {
			return err
		}
		if n++; n%csvFlushEvery == 0 {
			cw.Flush()
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		// The status line is gone; the log has what went wrong.
		s.log.Error("billing summary export", "request_id", requestIDFrom(r.Context()), "err", err)
	}
}
