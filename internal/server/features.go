package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// featureCopy is how the Features page explains each feature to customers.
var featureCopy = map[portal.Feature]struct {
	summary string
	points  []string
}{
	portal.FeatureSubAccounts: {
		summary: "Manage a portfolio of accounts from one login. Link your existing accounts or create new ones under this account, then switch between them from the account picker in the header.",
		points: []string{
			"Link existing accounts, or add new ones, from Advanced Settings.",
			"Switch accounts with the picker in the blue header bar.",
			"See every account at once in the All Accounts and Billing summaries.",
		},
	},
	portal.FeatureMultiUser: {
		summary: "Give your colleagues their own logins instead of sharing one. A Principal user invites people and chooses what each may do on each account.",
		points: []string{
			"Invite users from User Management in Advanced Settings.",
			"Choose a user type per account: Principal, Power or General.",
			"Revoke access at any time, and restore it later with the same roles.",
		},
	},
}

// featuresPage shows the family's features. Features belong to the family,
// so a sub-account shows (and requests on) its root.
func (s *Server) featuresPage(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	ff, err := s.db.FamilyFeatures(r.Context(), aa.Account.RootID())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.FeaturesPage(s.chrome(r, "Features"), featuresProps(aa, ff)))
}

func featuresProps(aa *postgres.AccountAccess, ff *postgres.FamilyFeatures) web.FeaturesProps {
	p := web.FeaturesProps{CanRequest: aa.Can(portal.ActionRequestFeature)}
	if !aa.IsRoot {
		p.Family = ff.RootCompany + " (" + ff.RootPrefix + ")"
	}
	for _, st := range ff.States {
		fc := featureCopy[st.Feature]
		it := web.FeatureItem{Key: string(st.Feature), Name: st.Feature.Label(), Summary: fc.summary, Details: fc.points,
			Status: web.FeatureNotRequested, StatusText: "Not requested yet.",
			RequestURL: acctURL(aa, "preferences/features/"+string(st.Feature)+"/request")}
		req := st.Latest
		switch {
		case st.Enabled:
			it.Status = web.FeatureApproved
			it.StatusText = "Enabled for this account family since " + dateText(*st.EnabledAt) + "."
			if req != nil && req.Status == postgres.RequestApproved && req.StaffNote != "" {
				it.Note = req.StaffNote
			}
		case req != nil && req.Status == postgres.RequestPending:
			it.Status = web.FeaturePending
			it.RequestedAt = dateText(req.RequestedAt)
			it.StatusText = " by " + req.RequesterName + "."
		case req != nil && req.Status == postgres.RequestDenied:
			it.Status = web.FeatureDenied
			it.Note = req.StaffNote
			it.StatusText = "Your request of " + dateText(req.RequestedAt) + " was not approved"
			if req.ReviewedAt != nil {
				it.StatusText += " (reviewed " + dateText(*req.ReviewedAt) + ")"
			}
			it.StatusText += ". You may request access again."
		}
		it.CanRequest = p.CanRequest && (it.Status == web.FeatureNotRequested || it.Status == web.FeatureDenied)
		p.Items = append(p.Items, it)
	}
	return p
}

// requestFeature files a request for the family. Submitting twice, or while
// a request waits for review, files nothing more.
func (s *Server) requestFeature(w http.ResponseWriter, r *http.Request) {
	aa := accessFrom(r.Context())
	f, ok := portal.ParseFeature(chi.URLParam(r, "feature"))
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if !s.allow(w, r, limitFeatureRequest, strconv.FormatInt(aa.Account.RootID(), 10)) {
		return
	}
	created, err := s.db.RequestFeature(r.Context(), s.actor(r), aa.Account.RootID(), f)
	back := acctURL(aa, "preferences/features")
	switch {
	case portal.ErrorCode(err) == portal.ECONFLICT:
		s.setFlash(w, "info", portal.ErrorMessage(err))
	case err != nil:
		s.renderError(w, r, err)
		return
	case created:
		s.setFlash(w, "ok", fmt.Sprintf("Thank you: we have received your request for %s. Reviews can take up to a week; we will email you the outcome.", f.Label()))
	default:
		s.setFlash(w, "info", fmt.Sprintf("Your request for %s is already waiting for review.", f.Label()))
	}
	redirect(w, r, back)
}

// dateText is how pages show a date.
func dateText(t time.Time) string { return t.Local().Format("2 Jan 2006") }

// dateTimeText is how pages show a moment.
func dateTimeText(t time.Time) string { return t.Local().Format("2 Jan 2006 15:04") }

// ageText says how long ago t was, roughly.
func ageText(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch days := int(d.Hours() / 24); {
	case days < 1:
		return "less than a day"
	case days < 60:
		return fmt.Sprintf("%d day%s", days, plural(days))
	case days < 730:
		return fmt.Sprintf("%d months", days/30)
	default:
		return fmt.Sprintf("%d years", days/365)
	}
}
