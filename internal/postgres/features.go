package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// Feature request statuses.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
)

// FeatureRequest is one request to enable a feature for a family.
type FeatureRequest struct {
	ID             int64
	AccountID      int64
	Feature        portal.Feature
	Status         string
	RequestedBy    int64
	RequesterName  string
	RequesterEmail string
	RequestedAt    time.Time
	ReviewerName   string
	ReviewedAt     *time.Time
	StaffNote      string
}

// FeatureState is a family's standing on one feature.
type FeatureState struct {
	Feature   portal.Feature
	Enabled   bool
	EnabledAt *time.Time
	// Latest is the family's most recent request, nil when there was none.
	Latest *FeatureRequest
}

// FamilyFeatures is what the Features page shows: the family root and every
// feature's state.
type FamilyFeatures struct {
	RootID      int64
	RootPrefix  string
	RootCompany string
	States      []FeatureState
}

// FamilyFeatures returns the state of every feature for the family whose
// root is rootID (the caller passes aa.Account.RootID()).
func (db *DB) FamilyFeatures(ctx context.Context, rootID int64) (*FamilyFeatures, error) {
	ff := &FamilyFeatures{RootID: rootID}
	err := db.Pool.QueryRow(ctx, `SELECT tech_prefix, company_name FROM accounts WHERE id = $1 AND parent_id IS NULL`, rootID).
		Scan(&ff.RootPrefix, &ff.RootCompany)
	if err != nil {
		return nil, mapErr(err, "family root")
	}
	enabled := map[portal.Feature]time.Time{}
	rows, err := db.Pool.Query(ctx, `SELECT feature, enabled_at FROM account_features WHERE account_id = $1`, rootID)
	if err != nil {
		return nil, mapErr(err, "family features")
	}
	for rows.Next() {
		var f string
		var at time.Time
		if err := rows.Scan(&f, &at); err != nil {
			rows.Close()
			return nil, mapErr(err, "scan family feature")
		}
		enabled[portal.Feature(f)] = at
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "family features")
	}
	latest, err := db.latestRequests(ctx, rootID)
	if err != nil {
		return nil, err
	}
	for _, f := range portal.Features {
		st := FeatureState{Feature: f, Latest: latest[f]}
		if at, ok := enabled[f]; ok {
			st.Enabled, st.EnabledAt = true, &at
		}
		ff.States = append(ff.States, st)
	}
	return ff, nil
}

// requestColumns reads a feature request with the requester's and the
// reviewer's names.
const requestColumns = `r.id, r.account_id, r.feature, r.status, r.requested_by, u.full_name, u.email, r.requested_at,
	coalesce(nullif(s.full_name, ''), s.email, ''), r.reviewed_at, r.staff_note`

const requestJoins = `FROM feature_requests r
	JOIN users u ON u.id = r.requested_by
	LEFT JOIN staff_users s ON s.id = r.reviewed_by`

func scanRequest(row pgx.Row, fr *FeatureRequest, extra ...any) error {
	var f string
	dest := append([]any{&fr.ID, &fr.AccountID, &f, &fr.Status, &fr.RequestedBy, &fr.RequesterName, &fr.RequesterEmail,
		&fr.RequestedAt, &fr.ReviewerName, &fr.ReviewedAt, &fr.StaffNote}, extra...)
	err := row.Scan(dest...)
	fr.Feature = portal.Feature(f)
	return err
}

// latestRequests returns each feature's most recent request of a family.
func (db *DB) latestRequests(ctx context.Context, rootID int64) (map[portal.Feature]*FeatureRequest, error) {
	rows, err := db.Pool.Query(ctx, `SELECT DISTINCT ON (r.feature) `+requestColumns+` `+requestJoins+`
		WHERE r.account_id = $1 ORDER BY r.feature, r.requested_at DESC, r.id DESC`, rootID)
	if err != nil {
		return nil, mapErr(err, "latest requests")
	}
	defer rows.Close()
	out := map[portal.Feature]*FeatureRequest{}
	for rows.Next() {
		var fr FeatureRequest
		if err := scanRequest(rows, &fr); err != nil {
			return nil, mapErr(err, "scan request")
		}
		out[fr.Feature] = &fr
	}
	return out, mapErr(rows.Err(), "latest requests")
}

// RequestFeature files a request to enable f for the family whose root is
// rootID. It reports whether a new request was filed: while one is pending
// a second is a no-op (the partial unique index settles concurrent
// submissions), and an enabled feature cannot be requested.
func (db *DB) RequestFeature(ctx context.Context, actor portal.Actor, rootID int64, f portal.Feature) (bool, error) {
	if _, ok := portal.ParseFeature(string(f)); !ok {
		return false, portal.ErrNotFound
	}
	created := false
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var isRoot, enabled bool
		err := tx.QueryRow(ctx, `SELECT a.parent_id IS NULL,
				EXISTS (SELECT 1 FROM account_features af WHERE af.account_id = a.id AND af.feature = $2)
			FROM accounts a WHERE a.id = $1`, rootID, string(f)).Scan(&isRoot, &enabled)
		if err != nil {
			return mapErr(err, "request feature account")
		}
		if !isRoot {
			return portal.Errorf(portal.EINVALID, "Features are requested by the parent account.")
		}
		if enabled {
			return portal.Errorf(portal.ECONFLICT, "%s is already enabled for this account.", f.Label())
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO feature_requests (account_id, feature, requested_by) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, feature) WHERE status = 'pending' DO NOTHING RETURNING id`, rootID, string(f), actor.UserID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return mapErr(err, "insert feature request")
		}
		created = true
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "feature.requested", AccountID: rootID, Target: string(f),
			Details: map[string]any{"request_id": id}})
	})
	return created, err
}

// FeatureDecision is a staff review of a feature request.
type FeatureDecision struct {
	RequestID int64
	Approve   bool
	Note      string
}

// DecideFeatureRequest approves or denies a pending request, once: the
// status changes only from pending, so a second decision (a double click,
// two staff at once) changes nothing and sends nothing. It reports whether
// this call made the decision. Approval enables the feature for the family
// at once; the requester is emailed in the same transaction.
func (db *DB) DecideFeatureRequest(ctx context.Context, actor portal.Actor, d FeatureDecision) (bool, error) {
	status := RequestDenied
	if d.Approve {
		status = RequestApproved
	}
	decided := false
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var acctID, userID int64
		var feature, prefix, company, name, email string
		err := tx.QueryRow(ctx, `UPDATE feature_requests r SET status = $2, reviewed_by = $3, reviewed_at = now(), staff_note = $4
			FROM accounts a, users u
			WHERE r.id = $1 AND r.status = 'pending' AND a.id = r.account_id AND u.id = r.requested_by
			RETURNING r.account_id, r.feature, r.requested_by, a.tech_prefix, a.company_name, u.full_name, u.email`,
			d.RequestID, status, actor.StaffID, d.Note).Scan(&acctID, &feature, &userID, &prefix, &company, &name, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feature_requests WHERE id = $1)`, d.RequestID).Scan(&exists); err != nil {
				return mapErr(err, "feature request lookup")
			}
			if !exists {
				return portal.ErrNotFound
			}
			return nil
		}
		if err != nil {
			return mapErr(err, "decide feature request")
		}
		decided = true
		if d.Approve {
			if _, err := tx.Exec(ctx, `INSERT INTO account_features (account_id, feature) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, acctID, feature); err != nil {
				return mapErr(err, "enable feature")
			}
		}
		err = AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "feature." + status, AccountID: acctID, Target: feature,
			Details: map[string]any{"request_id": d.RequestID, "note": d.Note, "requested_by": userID}})
		if err != nil {
			return err
		}
		link, err := featuresLinkTx(ctx, tx, db.BaseURL, userID, acctID)
		if err != nil {
			return err
		}
		return db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailFeatureDecision, To: email,
			Vars: map[string]string{"name": name, "feature": feature, "decision": status, "note": d.Note,
				"company": company, "tech_prefix": prefix},
			Link: link})
	})
	return decided, err
}

// featuresLinkTx is the Features page the requester can open: the root's,
// or, for a user whose roles are on a sub-account only, that account's.
// Without any role left in the family the link leads to sign-in.
func featuresLinkTx(ctx context.Context, tx pgx.Tx, baseURL string, userID, rootID int64) (string, error) {
	var prefix string
	err := tx.QueryRow(ctx, `SELECT a.tech_prefix FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.user_id = $1 AND (a.id = $2 OR a.parent_id = $2) AND a.status <> 'closed'
		ORDER BY (a.id = $2) DESC, a.id LIMIT 1`, userID, rootID).Scan(&prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		return baseURL + "/login", nil
	}
	if err != nil {
		return "", mapErr(err, "features link")
	}
	return baseURL + "/accounts/" + prefix + "/preferences/features", nil
}
