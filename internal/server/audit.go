package server

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// auditPerPage is the length of an audit log page.
const auditPerPage = 50

// auditCategory groups actions for the audit log's Action filter.
type auditCategory struct {
	key, label string
	prefixes   []string
}

var auditCategories = []auditCategory{
	{"auth", "Sign-ins and passwords", []string{"auth."}},
	{"users", "Users and user types", []string{"user."}},
	{"invitations", "Invitations", []string{"invite."}},
	{"accounts", "Accounts and sub-accounts", []string{"account.", "subaccount."}},
	{"features", "Features", []string{"feature."}},
	{"numbers", "Numbers and interconnection", []string{"did.", "sip_host.", "sip_credential.", "inbound_route."}},
	{"billing", "Billing and funds", []string{"billing.", "payment.", "charge."}},
	{"api_keys", "API keys", []string{"api_key."}},
	{"denied", "Denied attempts", []string{"permission."}},
	{"audit", "Audit log exports", []string{"audit."}},
}

// auditQuery reads the filter of the audit log from the query string. It
// also returns the page's filter controls and any message about bad dates.
func (s *Server) auditQuery(r *http.Request, scope *postgres.UserScope) (postgres.AuditFilter, web.AuditProps, error) {
	q := r.URL.Query()
	f := postgres.AuditFilter{Limit: auditPerPage}
	var p web.AuditProps
	users, _, err := s.db.ManagedUsers(r.Context(), scope, postgres.UserFilter{Limit: 1000})
	if err != nil {
		return f, p, err
	}
	p.Users = []web.Option{{Value: "", Label: "Anyone"}}
	for _, u := range users {
		if u.UserID == 0 {
			continue
		}
		id := strconv.FormatInt(u.UserID, 10)
		sel := id == q.Get("user")
		if sel {
			f.UserID = u.UserID
		}
		p.Users = append(p.Users, web.Option{Value: id, Label: u.Name + " <" + u.Email + ">", Selected: sel})
	}
	p.Actions = []web.Option{{Value: "", Label: "All actions"}}
	for _, c := range auditCategories {
		sel := c.key == q.Get("action")
		if sel {
			f.Prefixes = c.prefixes
		}
		p.Actions = append(p.Actions, web.Option{Value: c.key, Label: c.label, Selected: sel})
	}
	errs := portal.FieldErrors{}
	if from, ok := auditDate(q.Get("from"), errs, "from"); ok {
		f.From = from
	}
	if to, ok := auditDate(q.Get("to"), errs, "to"); ok {
		f.To = to.AddDate(0, 0, 1) // the whole "to" day
	}
	p.Form = formFrom(map[string]string{"from": q.Get("from"), "to": q.Get("to")}, errs)
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	f.After, _ = strconv.ParseInt(q.Get("after"), 10, 64)
	f.Before, f.After = max(f.Before, 0), max(f.After, 0)
	if f.Before != 0 {
		f.After = 0
	}
	return f, p, nil
}

// auditDate parses a date filter (yyyy-mm-dd, local time).
func auditDate(v string, errs portal.FieldErrors, field string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006-01-02", v, time.Local)
	if err != nil || t.Year() < 2000 || t.Year() > 9000 {
		errs.Add(field, "Enter a date as yyyy-mm-dd.")
		return time.Time{}, false
	}
	return t, true
}

// auditURL is the log page (or CSV) with the current filters and a page
// position.
func auditURL(base string, q url.Values, key string, id int64) string {
	v := url.Values{}
	for _, k := range []string{"user", "action", "from", "to"} {
		if q.Get(k) != "" {
			v.Set(k, q.Get(k))
		}
	}
	if key != "" {
		v.Set(key, strconv.FormatInt(id, 10))
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	f, p, err := s.auditQuery(r, scope)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page, err := s.db.AuditLog(r.Context(), scope, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	base, q := acctURL(aa, "settings/audit"), r.URL.Query()
	p.Tabs, p.ScopeNote = settingsTabs(r, aa), auditScopeNote(scope)
	p.CSVURL = auditURL(acctURL(aa, "settings/audit.csv"), q, "", 0)
	if page.Newer != 0 {
		p.NewerURL = auditURL(base, q, "after", page.Newer)
	}
	if page.Older != 0 {
		p.OlderURL = auditURL(base, q, "before", page.Older)
	}
	for _, e := range page.Entries {
		p.Rows = append(p.Rows, web.AuditRow{ID: strconv.FormatInt(e.ID, 10), When: e.At.Local().Format("2 Jan 2006 15:04:05"),
			Who: actorName(e), WhoEmail: e.ActorEmail, Account: e.TechPrefix, Action: e.Action, Target: e.Target,
			Outcome: e.Outcome, IP: e.IP, Details: detailsText(e.Details), RequestID: e.RequestID})
	}
	s.render(w, r, http.StatusOK, web.AuditPage(s.chrome(r, "Audit Log"), p))
}

func auditScopeNote(scope *postgres.UserScope) string {
	if len(scope.Accounts) == 1 && !scope.Accounts[0].IsRoot {
		return "Events of " + scope.Accounts[0].CompanyName + ", and the sign-ins of its users."
	}
	return "Events of " + scope.RootCompany + " and its sub-accounts, and the sign-ins of their users."
}

func actorName(e postgres.AuditEntry) string {
	switch {
	case e.ActorStaff:
		return "Carrier staff"
	case e.ActorName != "":
		return e.ActorName
	}
	return "—"
}

// detailsText shows an event's details as "key: value" pairs, in key order.
func detailsText(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+detailValue(d[k]))
	}
	return strings.Join(parts, "; ")
}

// detailValue shows one detail: nested maps (roles by account) as
// "key=value" pairs in key order.
func detailValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + detailValue(x[k])
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditCSV streams the filtered log as CSV. Cells that a spreadsheet would
// run as a formula are neutralized.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request) {
	aa, scope, ok := s.userScope(w, r)
	if !ok {
		return
	}
	f, _, err := s.auditQuery(r, scope)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.db.Audit(r.Context(), s.actor(r), portal.AuditEvent{Action: "audit.exported", AccountID: aa.Account.ID,
		Details: map[string]any{"query": r.URL.RawQuery}}); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s-%s.csv"`, aa.Account.TechPrefix, time.Now().Format("20060102")))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "user", "user_email", "account", "action", "target", "outcome", "ip", "request_id", "details"})
	n := 0
	err = s.db.AuditExport(r.Context(), scope, f, func(e postgres.AuditEntry) error {
		rec := []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), actorName(e), e.ActorEmail, e.TechPrefix,
			e.Action, e.Target, e.Outcome, e.IP, e.RequestID, detailsText(e.Details)}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		if n++; n%500 == 0 {
			cw.Flush()
		}
		return cw.Write(rec)
	})
	cw.Flush()
	if err != nil {
		// The header is out: all that is left is to log and cut the file short.
		s.log.Error("audit export", "request_id", requestIDFrom(r.Context()), "err", err)
	}
}
