package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// pickerFor builds the header's account picker for a page of an account:
// nothing without the Sub-Accounts feature; "Create a Sub-Account" for a
// root Principal who has no other account to switch to; else the switcher.
// It fails closed: when the picker cannot be loaded, the page shows none.
func (s *Server) pickerFor(r *http.Request, aa *postgres.AccountAccess) templ.Component {
	u := userFrom(r.Context())
	if u == nil || !aa.Features[portal.FeatureSubAccounts] {
		return nil
	}
	var h *postgres.PickerHeader
	if pre := prefetchedAccount(r.Context(), u.ID, aa.Account.TechPrefix); pre != nil && pre.Picker != nil {
		h = pre.Picker
	} else {
		var err error
		if h, err = s.db.Picker(r.Context(), u.ID, aa.Account.TechPrefix); err != nil {
			s.log.Error("picker", "request_id", requestIDFrom(r.Context()), "err", err)
			return nil
		}
	}
	if !h.Others {
		if aa.Can(portal.ActionManageSubAccounts) {
			return web.Picker(web.PickerProps{CreateURL: acctURL(aa, "settings")})
		}
		return nil
	}
	p := web.PickerProps{Page: pageOf(r.URL.Path), Recent: pickerItems(h.Recent, pageOf(r.URL.Path))}
	if aa.Can(portal.ActionViewSummary) {
		p.SummaryURL = "/summary"
	}
	return web.Picker(p)
}

// summaryPicker is the picker on pages that belong to no account.
func (s *Server) summaryPicker(r *http.Request) templ.Component {
	ph, err := s.db.Picker(r.Context(), userFrom(r.Context()).ID, "")
	if err != nil {
		s.log.Error("picker", "request_id", requestIDFrom(r.Context()), "err", err)
		return nil
	}
	return summaryPickerOf(r, ph)
}

// summaryPickerOf renders a picker loaded for no account (nil: none).
func summaryPickerOf(r *http.Request, ph *postgres.PickerHeader) templ.Component {
	if ph == nil {
		return nil
	}
	page := pageOf(r.URL.Path)
	return web.Picker(web.PickerProps{SummaryURL: "/summary", OnSummary: true, Page: page, Recent: pickerItems(ph.Recent, page)})
}

func pickerItems(list []postgres.PickerEntry, page string) []web.PickerItem {
	items := make([]web.PickerItem, 0, len(list))
	for _, e := range list {
		items = append(items, web.PickerItem{Company: e.CompanyName, Alias: e.CompanyAlias, Prefix: e.TechPrefix, Status: e.Status,
			Href: switchURL(e.TechPrefix, page)})
	}
	return items
}

// switchURL is where choosing an account in the picker leads.
func switchURL(prefix, page string) string {
	u := "/switch?to=" + url.QueryEscape(prefix)
	if page != "" {
		u += "&page=" + url.QueryEscape(page)
	}
	return u
}

// pageOf is the page of the current path that switching keeps: the part
// after /accounts/{acct}/, or billing for the Billing Summary.
func pageOf(path string) string {
	if rest, ok := strings.CutPrefix(path, "/accounts/"); ok {
		if _, page, ok := strings.Cut(rest, "/"); ok {
			return cleanPage(page)
		}
		return ""
	}
	if path == "/summary/billing" {
		return "billing"
	}
	return ""
}

// cleanPage keeps a page path only if it is made of plain path segments.
func cleanPage(page string) string {
	page = strings.Trim(page, "/")
	if len(page) > 200 {
		return ""
	}
	for _, c := range page {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/-_.+", c)
		if !ok {
			return ""
		}
	}
	for _, seg := range strings.Split(page, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return ""
		}
	}
	return page
}

// picker answers the picker search: an HTML fragment for htmx, a full page
// without JavaScript. It never lists more than PickerLimit accounts.
func (s *Server) picker(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text, err := portal.CleanText("q", "Search", q.Get("q"), false, portal.MaxNameRunes)
	if err != nil {
		text = ""
	}
	page := cleanPage(q.Get("page"))
	list, more, err := s.pickerSearch(r.Context(), userFrom(r.Context()).ID, text)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.PickerResultsProps{Q: text, Items: pickerItems(list, page), More: more}
	w.Header().Set("Vary", "HX-Request")
	if r.Header.Get("HX-Request") == "true" {
		s.render(w, r, http.StatusOK, web.PickerResults(p))
		return
	}
	c := s.chrome(r, "Switch account")
	c.Picker = s.summaryPicker(r)
	s.render(w, r, http.StatusOK, web.PickerPage(c, p, page))
}

// switchAccount opens the chosen account on the same page when that page
// exists there and the user may open it, else on its dashboard. Pages that
// name an object of the old account (a number, a user) fall back to their
// list. An account the user cannot reach is not found.
func (s *Server) switchAccount(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	aa, err := s.db.Access(r.Context(), u.ID, r.URL.Query().Get("to"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.db.RememberRecent(r.Context(), u.ID, aa.Account.ID); err != nil {
		s.log.Error("remember recent", "request_id", requestIDFrom(r.Context()), "err", err)
	}
	redirect(w, r, s.switchTarget(aa, cleanPage(r.URL.Query().Get("page"))))
}

func (s *Server) switchTarget(aa *postgres.AccountAccess, page string) string {
	base := acctURL(aa, "")
	if page == "" {
		return base
	}
	actions := s.getActions()
	segs := strings.Split(page, "/")
	for n := len(segs); n > 0; n-- {
		path := base + "/" + strings.Join(segs[:n], "/")
		pattern := s.router.Find(chi.NewRouteContext(), http.MethodGet, path)
		action, ok := actions[pattern]
		// {acct} is the only parameter a page may keep.
		if !ok || strings.Count(pattern, "{") != 1 {
			continue
		}
		if aa.Can(action) {
			return path
		}
		break
	}
	return base
}

// getActions maps each GET route pattern to the action it requires, read
// from the router itself (a walk of a few hundred routes: switching is rare
// enough not to need a cache).
func (s *Server) getActions() map[string]portal.Action {
	m := map[string]portal.Action{}
	_ = chi.Walk(s.router, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if ch, ok := h.(*chi.ChainHandler); ok {
			h = ch.Endpoint
		}
		if g, ok := h.(guard); ok && method == http.MethodGet {
			m[route] = g.action
		}
		return nil
	})
	return m
}
