package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// The staff realm has its own session manager (cookie path /staff) and its
// own session key, so a customer session never reaches it and a staff
// session never reaches customer pages.

// authenticateStaff loads the signed-in staff user, if any, enforcing the
// same idle and absolute timeouts as customer sessions.
func (s *Server) authenticateStaff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := s.staff.GetInt64(ctx, keyStaffID)
		if id == 0 {
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		loginAt := time.Unix(s.staff.GetInt64(ctx, keyLoginAt), 0)
		seenAt := time.UnixMilli(s.staff.GetInt64(ctx, keySeenAt))
		if now.Sub(loginAt) > s.cfg.SessionLifetime || now.Sub(seenAt) > s.cfg.IdleTimeout {
			_ = s.staff.Destroy(ctx)
			next.ServeHTTP(w, r)
			return
		}
		st, err := s.db.StaffByID(ctx, id)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			_ = s.staff.Destroy(ctx)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if now.Sub(seenAt) > seenEvery {
			s.staff.Put(ctx, keySeenAt, now.UnixMilli())
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxStaff, st)))
	})
}

// staffChrome is the frame of staff pages: the staff header and the
// console's own menu.
func (s *Server) staffChrome(r *http.Request, title string) web.Chrome {
	c := s.chrome(r, title)
	c.Staff = true
	if st := staffFrom(r.Context()); st != nil {
		c.StaffName = st.FullName
		if c.StaffName == "" {
			c.StaffName = st.Email
		}
		for _, n := range []struct{ label, href, id string }{
			{"Feature requests", "/staff/feature-requests", "staff-nav-requests"},
			{"Accounts", "/staff/accounts", "staff-nav-accounts"},
			{"Jobs", "/staff/jobs/", "staff-nav-jobs"},
		} {
			active := strings.HasPrefix(r.URL.Path, strings.TrimSuffix(n.href, "/"))
			c.Nav = append(c.Nav, web.NavItem{Label: n.label, Href: n.href, Active: active, TestID: n.id})
		}
	}
	return c
}

func (s *Server) staffHome(w http.ResponseWriter, r *http.Request) {
	redirect(w, r, "/staff/feature-requests")
}

func (s *Server) staffLoginForm(w http.ResponseWriter, r *http.Request) {
	if staffFrom(r.Context()) != nil {
		redirect(w, r, "/staff/feature-requests")
		return
	}
	s.render(w, r, http.StatusOK, web.StaffLoginPage(s.staffChrome(r, "Staff sign in"), web.NewForm()))
}

// staffLogin answers every failure the same way, like the customer sign-in.
func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "email", "password")
	if !ok {
		return
	}
	if !s.allow(w, r, limitStaffLoginIP, s.clientIP(r)) || !s.allow(w, r, limitStaffLoginEmail, in["email"]) {
		return
	}
	ctx := r.Context()
	fail := func() {
		_ = s.db.Audit(ctx, s.actor(r), portal.AuditEvent{Action: "staff.login", Outcome: "failure", Target: safeLogText(in["email"])})
		f := formFrom(map[string]string{"email": in["email"]}, portal.FieldErrors{"_form": "Incorrect email or password."})
		s.render(w, r, http.StatusUnprocessableEntity, web.StaffLoginPage(s.staffChrome(r, "Staff sign in"), f))
	}
	email, err := portal.CleanEmail("email", in["email"])
	if err != nil || portal.CheckPassword("password", in["password"]) != nil {
		portal.DummyPasswordCheck(in["password"])
		fail()
		return
	}
	st, err := s.db.StaffByEmail(ctx, email)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		portal.DummyPasswordCheck(in["password"])
		fail()
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !portal.CheckPasswordHash(st.PasswordHash, in["password"]) {
		fail()
		return
	}
	if err := s.staff.RenewToken(ctx); err != nil {
		s.serverError(w, r, err)
		return
	}
	now := time.Now().Unix()
	s.staff.Put(ctx, keyStaffID, st.ID)
	s.staff.Put(ctx, keyLoginAt, now)
	s.staff.Put(ctx, keySeenAt, time.Now().UnixMilli())
	if err := s.db.RecordStaffLogin(ctx, s.actor(r), st.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, "/staff/feature-requests")
}

func (s *Server) staffLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if err := s.staff.Destroy(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "info", "You have been signed out.")
	redirect(w, r, "/staff/login")
}

// queuePageSize is how many requests one page of the queue shows.
const queuePageSize = 50

// staffQueue lists feature requests: pending first, oldest first.
func (s *Server) staffQueue(w http.ResponseWriter, r *http.Request) {
	s.renderQueue(w, r, http.StatusOK, web.NewForm())
}

func (s *Server) renderQueue(w http.ResponseWriter, r *http.Request, status int, form web.Form) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = backQuery(r.PostForm.Get("back"))
	}
	filter := postgres.QueueFilter{Limit: queuePageSize}
	if v := q.Get("status"); v == postgres.RequestPending || v == postgres.RequestApproved || v == postgres.RequestDenied {
		filter.Status = v
	}
	if f, ok := portal.ParseFeature(q.Get("feature")); ok {
		filter.Feature = string(f)
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	filter.Offset = (page - 1) * queuePageSize
	rows, total, err := s.db.FeatureQueue(r.Context(), filter)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pending, err := s.db.PendingRequestCount(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.StaffQueueProps{Total: total, Pending: pending, Page: page, Pages: (total + queuePageSize - 1) / queuePageSize, Form: form}
	p.Statuses = options(filter.Status, "All statuses", [][2]string{
		{postgres.RequestPending, "Pending"}, {postgres.RequestApproved, "Approved"}, {postgres.RequestDenied, "Denied"}})
	var feats [][2]string
	for _, f := range portal.Features {
		feats = append(feats, [2]string{string(f), f.Label()})
	}
	p.Features = options(filter.Feature, "All features", feats)
	pageURL := func(n int) string {
		v := url.Values{}
		if filter.Status != "" {
			v.Set("status", filter.Status)
		}
		if filter.Feature != "" {
			v.Set("feature", filter.Feature)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return "/staff/feature-requests"
		}
		return "/staff/feature-requests?" + v.Encode()
	}
	p.Back = pageURL(page)
	if page > 1 {
		p.PrevURL = pageURL(page - 1)
	}
	if page < p.Pages {
		p.NextURL = pageURL(page + 1)
	}
	now := time.Now()
	for _, row := range rows {
		p.Rows = append(p.Rows, requestRow(row, now))
	}
	s.render(w, r, status, web.StaffQueuePage(s.staffChrome(r, "Feature requests"), p))
}

func requestRow(q postgres.QueueRow, now time.Time) web.StaffRequestRow {
	id := strconv.FormatInt(q.ID, 10)
	row := staffRequest(q.FeatureRequest)
	row.TechPrefix, row.Company, row.Alias, row.AccountStatus = q.TechPrefix, q.Company, q.Alias, q.AccountStatus
	row.AccountAge = ageText(q.AccountCreatedAt, now)
	row.AccountURL = "/staff/accounts/" + q.TechPrefix
	row.ApproveURL = "/staff/feature-requests/" + id + "/approve"
	row.DenyURL = "/staff/feature-requests/" + id + "/deny"
	return row
}

func staffRequest(fr postgres.FeatureRequest) web.StaffRequestRow {
	row := web.StaffRequestRow{ID: strconv.FormatInt(fr.ID, 10), Feature: string(fr.Feature), FeatureName: fr.Feature.Label(),
		Requester: fr.RequesterName, RequesterMail: fr.RequesterEmail, RequestedAt: dateTimeText(fr.RequestedAt),
		Status: fr.Status, Reviewer: fr.ReviewerName, Note: fr.StaffNote}
	if fr.ReviewedAt != nil {
		row.ReviewedAt = dateTimeText(*fr.ReviewedAt)
	}
	return row
}

func options(selected, all string, values [][2]string) []web.Option {
	out := []web.Option{{Value: "", Label: all, Selected: selected == ""}}
	for _, v := range values {
		out = append(out, web.Option{Value: v[0], Label: v[1], Selected: v[0] == selected})
	}
	return out
}

// backQuery keeps the queue's filters across a decision; anything that is
// not the queue's own address is ignored.
func backQuery(back string) url.Values {
	u, err := url.Parse(back)
	if err != nil || u.Path != "/staff/feature-requests" || u.Host != "" || u.Scheme != "" {
		return url.Values{}
	}
	return u.Query()
}

func (s *Server) approveRequest(w http.ResponseWriter, r *http.Request) { s.decide(w, r, true) }
func (s *Server) denyRequest(w http.ResponseWriter, r *http.Request)    { s.decide(w, r, false) }

// decide records a staff decision. Deciding an already decided request
// changes nothing; the page says so.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r)
		return
	}
	in, ok := parseForm(w, r, "note", "back")
	if !ok {
		return
	}
	key := "note-" + strconv.FormatInt(id, 10)
	note, err := portal.CleanText(key, "Note", in["note"], !approve, 500)
	if err != nil {
		msg := portal.ErrorMessage(err)
		if strings.TrimSpace(in["note"]) == "" {
			msg = "Write a note to the customer explaining why the request is denied."
		}
		s.renderQueue(w, r, http.StatusUnprocessableEntity, formFrom(map[string]string{key: in["note"]}, portal.FieldErrors{key: msg}))
		return
	}
	decided, err := s.db.DecideFeatureRequest(r.Context(), s.actor(r), postgres.FeatureDecision{RequestID: id, Approve: approve, Note: note})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch {
	case !decided:
		s.setFlash(w, "info", "That request had already been decided; nothing was changed.")
	case approve:
		s.setFlash(w, "ok", "Approved. The feature is enabled for the family and the requester has been emailed.")
	default:
		s.setFlash(w, "ok", "Denied. The requester has been emailed with your note.")
	}
	back := "/staff/feature-requests"
	if q := backQuery(in["back"]); len(q) > 0 {
		back += "?" + q.Encode()
	}
	redirect(w, r, back)
}

// jobsCSP relaxes the page policy for River's UI only: its bundled toast
// library injects a style element. Scripts stay same-origin.
const jobsCSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// jobsUI serves River's web UI, where staff see email deliveries, retries
// and failures. It uses an insert-only client on the server's pool; its
// counts are computed per request rather than by background refreshers, so
// the server starts no goroutines for it. Changes made through it (retry,
// cancel, delete) are audited.
func (s *Server) jobsUI() http.Handler {
	client, err := river.NewClient(riverpgxv5.New(s.db.Pool), &river.Config{Logger: s.log})
	var ui http.Handler
	if err == nil {
		ui, err = riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(client, nil), Logger: s.log, Prefix: "/staff/jobs"})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Security-Policy", jobsCSP)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if aerr := s.db.Audit(r.Context(), s.actor(r), portal.AuditEvent{Action: "staff.jobs", Target: r.Method + " " + r.URL.Path}); aerr != nil {
				s.serverError(w, r, aerr)
				return
			}
		}
		ui.ServeHTTP(w, r)
	})
}
