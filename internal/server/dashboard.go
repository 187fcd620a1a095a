package server

import (
	"net/http"
	"time"

	"github.com/a-h/templ"

	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// dashboard is the account's start page: balance, numbers, this month's
// calls and charges, and the latest activity.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	content, err := s.cachedView(r.Context(), viewKey(r, aa.Role), aa.Stamp, 0, func() (templ.Component, error) {
		return s.dashboardContent(r, aa)
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Page(s.chrome(r, "Dashboard"), content))
}

func (s *Server) dashboardContent(r *http.Request, aa *postgres.AccountAccess) (templ.Component, error) {
	now := time.Now()
	d, err := s.db.Dashboard(r.Context(), aa.Account.ID, now)
	if err != nil {
		return nil, err
	}
	p := web.DashboardProps{Base: acctURL(aa, ""), Company: aa.Account.CompanyName, TechPrefix: aa.Account.TechPrefix,
		Status: aa.Account.Status, Role: aa.Role.Label(), Balance: d.Balance, Numbers: d.Numbers, Routes: d.Routes, Hosts: d.Hosts,
		Month: now.UTC().Format("January 2006"), MonthCalls: d.MonthCalls, MonthSecs: d.MonthSecs, MonthCharges: d.MonthCharges}
	for _, c := range d.RecentCalls {
		p.RecentCalls = append(p.RecentCalls, cdrRow(c))
	}
	for _, pay := range d.RecentPayments {
		p.RecentPayments = append(p.RecentPayments, paymentRow(pay))
	}
	return web.DashboardContent(p), nil
}
