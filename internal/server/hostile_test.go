package server

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// TestHostileInputOnEveryForm walks the router and posts the hostile-input
// corpus to every POST route, field by field, as a user allowed to use it.
// No answer is a 5xx; a refusal says why and leaves the database as it was;
// what is accepted comes back escaped, on the answer and on every page.
func TestHostileInputOnEveryForm(t *testing.T) {
	start := time.Now()
	h := newHostile(t)
	h.searches(t)
	table := h.routes()
	covered := map[string]bool{}
	_ = chi.Walk(h.a.app.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodPost {
			return nil
		}
		cases, ok := table[route]
		if !ok {
			t.Errorf("POST %s is not in the hostile-input table: add it to hostileRoutes", route)
			return nil
		}
		covered[route] = true
		for _, hc := range cases {
			h.run(t, route, hc)
		}
		return nil
	})
	for route := range table {
		if !covered[route] {
			t.Errorf("the hostile-input table lists POST %s, which the router does not have", route)
		}
	}
	h.sweep(t)
	t.Logf("%d requests in %s", h.requests, time.Since(start).Round(time.Millisecond))
}

// run posts the corpus to one case of a route.
func (h *hostile) run(t *testing.T, route string, hc hostileCase) {
	t.Helper()
	params := hc.params()
	page := hc.page
	if page == "" {
		page = route
	}
	var fields []formField
	if hc.raw {
		h.runRaw(t, strings.TrimSuffix(mxPath(route, params), "*")+params["*"])
		return
	}
	post := mxPath(route, params)
	if hc.formOf != "" {
		post = mxPath(hc.formOf, params)
	}
	if hc.fields != nil {
		fields = hc.fields
	} else {
		r := h.as(hc.as).get(mxPath(page, params))
		forms := formsOn(t, r.body, "post")
		var ok bool
		if fields, ok = forms[post]; !ok {
			t.Errorf("%s: no form posting to %s on %s (status %d); forms: %v", route, post, mxPath(page, params), r.StatusCode, keys(forms))
			return
		}
	}
	base := url.Values{}
	for _, f := range fields {
		base.Set(f.name, f.value)
	}
	for k, v := range hc.valid {
		base.Set(k, v)
	}
	label := route
	if hc.name != "" {
		label += " (" + hc.name + ")"
	}
	h.send(t, label+" baseline", hc, route, nil, base, wantAccepted)
	for _, f := range fields {
		corpus := textCorpus(f.max)
		switch {
		case f.kind == "password":
			corpus = passwordCorpus
		case f.kind == "choice":
			corpus = choiceCorpus
		}
		if slices.Contains(hc.money, f.name) {
			corpus = append(slices.Clone(corpus), moneyCorpus...)
		}
		if v, ok := hc.foreignFields[f.name]; ok {
			corpus = append(slices.Clone(corpus), hostileValue{"another account's id", v, true})
		}
		for _, hv := range corpus {
			form := cloneValues(base)
			form.Set(f.name, hv.v)
			want := wantAnything
			// An address never takes a line break, markup or a NUL: that is
			// how headers get injected.
			if hv.reject || strings.Contains(f.name, "email") && slices.Contains([]string{"crlf email", "script", "nul"}, hv.name) {
				want = wantRefused
			}
			h.send(t, fmt.Sprintf("%s %s=%s", label, f.name, hv.name), hc, route, nil, form, want)
		}
	}
	// Whole-request cases: duplicated parameters either way round, another
	// account's objects in the path, 1,000 fields and a 10 MB body.
	dup, dupFirst := cloneValues(base), url.Values{}
	for k, vs := range base {
		dup[k] = append(slices.Clone(vs), rawScript)
		dupFirst[k] = append([]string{rawScript}, vs...)
	}
	h.send(t, label+" duplicated (hostile second)", hc, route, nil, dup, wantAnything)
	h.send(t, label+" duplicated (hostile first)", hc, route, nil, dupFirst, wantAnything)
	if strings.HasPrefix(route, "/accounts/{acct}") {
		h.send(t, label+" another account", hc, route, map[string]string{"acct": globexPrefix}, base, wantNotFound)
	}
	if len(hc.foreign) > 0 {
		h.send(t, label+" another account's objects", hc, route, hc.foreign, base, wantNotFound)
	}
	many := cloneValues(base)
	for i := 0; i < 1000; i++ {
		many.Add("f"+strconv.Itoa(i%300), "1")
	}
	h.send(t, label+" 1000 fields", hc, route, nil, many, wantRefused)
	big := cloneValues(base)
	big.Set("pad", h.big)
	h.send(t, label+" 10 MB body", hc, route, nil, big, wantRefused)
}

// Expectations of one request.
const (
	wantAnything = iota
	wantAccepted
	wantRefused
	wantNotFound
)

// send makes one request of a case and checks the answer and the database.
func (h *hostile) send(t *testing.T, label string, hc hostileCase, route string, override map[string]string, form url.Values, want int) {
	t.Helper()
	params := hc.params()
	for k, v := range override {
		params[k] = v
	}
	path := mxPath(route, params)
	h.resetLimits(t)
	before := h.fx.fingerprint(t)
	c := h.as(hc.as)
	r := c.post(path, form)
	h.requests++
	h.check(t, label, r)
	switch {
	case want == wantAccepted && r.StatusCode >= 400:
		t.Errorf("%s: status %d, want the valid form accepted: %s", label, r.StatusCode, excerpt(r.body))
	case want == wantRefused && r.StatusCode < 400:
		t.Errorf("%s: status %d, want it refused", label, r.StatusCode)
	case want == wantNotFound && r.StatusCode != http.StatusNotFound:
		t.Errorf("%s: status %d, want 404", label, r.StatusCode)
	}
	if r.StatusCode >= 400 && r.StatusCode < 500 {
		if !clearRejection(r) {
			t.Errorf("%s: status %d without a clear message: %s", label, r.StatusCode, excerpt(r.body))
		}
		if after := h.fx.fingerprint(t); after != before {
			t.Errorf("%s: refused (status %d) but the database changed:\n%s", label, r.StatusCode, diffLines(before, after))
		}
	}
	if r.StatusCode >= 300 && r.StatusCode < 400 && strings.HasPrefix(r.Header.Get("Location"), "/") {
		h.check(t, label+" (next page)", c.follow(r))
	}
	if hc.after != nil {
		hc.after()
	}
	h.detach()
}

// check applies what holds of every answer.
func (h *hostile) check(t *testing.T, label string, r *response) {
	t.Helper()
	if r.StatusCode >= 500 {
		t.Errorf("%s: status %d: %s", label, r.StatusCode, excerpt(r.body))
	}
	// Exports are text/csv and never rendered by the browser; pages are.
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") && strings.Contains(r.body, rawScript) {
		t.Errorf("%s: the raw <script> came back unescaped", label)
	}
	if strings.Contains(strings.ToLower(r.body), `href="javascript:`) {
		t.Errorf("%s: a javascript: link came back", label)
	}
	// Every answer carries the security headers, refusals and error pages
	// included.
	hd := r.Header
	if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") == "" || hd.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: status %d without the security headers: %v", label, r.StatusCode, hd)
	}
}

// runRaw posts hostile bodies to a mounted application that reads JSON.
func (h *hostile) runRaw(t *testing.T, path string) {
	t.Helper()
	for name, body := range map[string]string{"script": `{"ids":["` + rawScript + `"]}`, "invalid json": `{"ids":[`,
		"invalid utf-8": "{\"ids\":[\"\xff\"]}", "nul": "{\"ids\":[\"\x00\"]}", "sql": `{"ids":["1' OR 1=1 --"]}`,
		"huge number": `{"ids":[99999999999999999999999]}`, "10 MB": `{"ids":["` + h.big + `"]}`} {
		req, _ := http.NewRequest(http.MethodPost, h.a.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		h.resetLimits(t)
		r := h.staff.do(req)
		h.requests++
		h.check(t, "POST "+path+" "+name, r)
	}
}

// searches puts the search corpus into every GET form of every page, while
// the data is still the demo's: a % or _ must match only itself.
func (h *hostile) searches(t *testing.T) {
	t.Helper()
	corpus := []hostileValue{{"percent", "%", false}, {"underscore", "_", false}, {"script", rawScript, false},
		{"invalid utf-8", "\xff\xfe", false}, {"nul", "a\x00", false}, {"bidi override", "\u202E", false},
		{"sql", "' OR 1=1 --", false}, {"overlong", strings.Repeat("9", 5000), false}, {"like escape", `\%`, false}}
	for _, p := range h.getPaths() {
		c := h.as(p.as)
		r := c.get(p.path)
		for action, fields := range formsOn(t, r.body, "get") {
			if action == "" {
				action = p.path
			}
			for _, f := range fields {
				nomatch := c.get(action + "?" + url.Values{f.name: {"qqzxnomatch"}}.Encode())
				for _, hv := range corpus {
					q := action + "?" + url.Values{f.name: {hv.v}}.Encode()
					r := c.get(q)
					h.requests++
					h.check(t, "GET "+q, r)
					if (hv.name == "percent" || hv.name == "underscore") && f.kind == "text" {
						if got, want := strings.Count(r.body, "<tr"), strings.Count(nomatch.body, "<tr"); got != want {
							t.Errorf("GET %s: %d table rows, want %d as for a search matching nothing", q, got, want)
						}
					}
				}
			}
		}
	}
}

// sweep looks at every page and every email after the corpus went in:
// whatever was stored comes back escaped. Opening every page changes
// nothing (but the picker's list of recently used accounts, which /switch
// keeps on purpose).
func (h *hostile) sweep(t *testing.T) {
	t.Helper()
	gets := *h.fx
	gets.tables = slices.DeleteFunc(slices.Clone(h.fx.tables), func(tb string) bool { return tb == "recent_accounts" })
	before := gets.fingerprint(t)
	for _, p := range append(h.getPaths(), struct{ as, path string }{"customer", "/switch?to=31415901&page=dids"}) {
		r := h.as(p.as).get(p.path)
		h.check(t, "GET "+p.path+" after the corpus", r)
		if strings.HasSuffix(p.path, ".csv") {
			csvFormulas(t, p.path, r.body)
		}
	}
	if after := gets.fingerprint(t); after != before {
		t.Errorf("opening every page changed the database:\n%s", diffLines(before, after))
	}
	time.Sleep(500 * time.Millisecond) // let the worker deliver what was queued
	if n := h.a.count(`SELECT count(*) FROM dev_mail WHERE html_body LIKE '%' || $1 || '%'`, rawScript); n > 0 {
		t.Errorf("%d emails carry the raw <script>", n)
	}
}

// numberCell is a plain amount, which a spreadsheet reads as a number even
// with a minus sign.
var numberCell = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// csvFormulas fails on any cell of an export a spreadsheet would run as a
// formula.
func csvFormulas(t *testing.T, path, body string) {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Errorf("GET %s: not CSV: %v", path, err)
		return
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") && !numberCell.MatchString(cell) {
				t.Errorf("GET %s: cell %q would run as a formula", path, cell)
			}
		}
	}
}

func (h *hostile) resetLimits(t *testing.T) {
	t.Helper()
	// The corpus is about input, not rate limits: each request starts with
	// fresh counters (the limits have their own tests).
	if _, err := h.a.pool.Exec(context.Background(), `DELETE FROM rate_limits`); err != nil {
		t.Fatal(err)
	}
}

// getPaths lists every GET page with real parameters, and who opens it.
func (h *hostile) getPaths() []struct{ as, path string } {
	params := map[string]string{"acct": "31415900", "number": h.did, "feature": "sub_accounts", "child": "31415901",
		"token": strings.Repeat("A", 43), "prefix": "31415900", "id": h.power}
	var out []struct{ as, path string }
	_ = chi.Walk(h.a.app.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodGet || strings.HasPrefix(route, "/static/") || strings.HasPrefix(route, "/staff/jobs") {
			return nil
		}
		p := map[string]string{}
		for k, v := range params {
			p[k] = v
		}
		switch {
		case strings.Contains(route, "/hosts/"):
			p["id"] = h.host
		case strings.Contains(route, "/credentials/"):
			p["id"] = h.cred
		case strings.Contains(route, "/routes/"):
			p["id"] = h.route
		}
		who := "customer"
		switch {
		case strings.HasPrefix(route, "/staff"):
			who = "staff"
		case strings.HasPrefix(route, "/login") || strings.HasPrefix(route, "/signup") || strings.HasPrefix(route, "/password") ||
			strings.HasPrefix(route, "/verify"):
			who = "anon"
		}
		out = append(out, struct{ as, path string }{who, mxPath(route, p)})
		return nil
	})
	return out
}
