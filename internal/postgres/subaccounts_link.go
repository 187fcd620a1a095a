package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// familyRow is an account as the hierarchy rules see it.
type familyRow struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	ContactName  string
	ContactEmail string
	Status       string
	ParentID     *int64
}

func (f *familyRow) root() int64 {
	if f.ParentID != nil {
		return *f.ParentID
	}
	return f.ID
}

// lockAccountsTx locks accounts in id order, so that two transactions
// locking the same pair never deadlock, and returns them by id. In READ
// COMMITTED the rows returned are the latest committed versions.
func lockAccountsTx(ctx context.Context, tx pgx.Tx, ids ...int64) (map[int64]*familyRow, error) {
	rows, err := tx.Query(ctx, `SELECT id, tech_prefix, company_name, contact_name, contact_email, status, parent_id
		FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, mapErr(err, "lock accounts")
	}
	list, err := scanAll(rows, func(r pgx.Row) (*familyRow, error) {
		var f familyRow
		return &f, r.Scan(&f.ID, &f.TechPrefix, &f.CompanyName, &f.ContactName, &f.ContactEmail, &f.Status, &f.ParentID)
	})
	if err != nil {
		return nil, mapErr(err, "lock accounts")
	}
	out := make(map[int64]*familyRow, len(list))
	for _, f := range list {
		out[f.ID] = f
	}
	return out, nil
}

// linkState is what decides whether child may become a sub-account of
// parent.
type linkState struct {
	parent, child *familyRow
	// childHasChildren: the child has sub-accounts of its own.
	childHasChildren bool
	// parentHasFeature: the parent's family has Sub-Accounts enabled.
	parentHasFeature bool
	replace          bool
}

// problem says in plain words why the link cannot be made, or "".
func (s linkState) problem() string {
	p, c := s.parent, s.child
	switch {
	case p == nil || c == nil:
		return "One of the accounts no longer exists."
	case p.ID == c.ID:
		return "An account cannot be linked to itself."
	case p.ParentID != nil:
		return p.CompanyName + " is a sub-account itself, so it cannot have sub-accounts."
	case p.Status != portal.StatusActive || !s.parentHasFeature:
		return p.CompanyName + " cannot add sub-accounts any more."
	case c.Status != portal.StatusActive:
		return c.CompanyName + " is not active, so it cannot be linked."
	case s.childHasChildren:
		return c.CompanyName + " has sub-accounts of its own, so it cannot become a sub-account."
	case c.ParentID != nil && *c.ParentID == p.ID:
		return c.CompanyName + " is already a sub-account of " + p.CompanyName + "."
	case c.ParentID != nil && !s.replace:
		return c.CompanyName + " is now a sub-account of another account. Ask for a new link that replaces its current parent."
	}
	return ""
}

// loadLinkStateTx reads (and with lock, locks) both accounts and the facts
// the rules need.
func loadLinkStateTx(ctx context.Context, tx pgx.Tx, parentID, childID int64, replace bool) (linkState, error) {
	rows, err := lockAccountsTx(ctx, tx, parentID, childID)
	if err != nil {
		return linkState{}, err
	}
	s := linkState{parent: rows[parentID], child: rows[childID], replace: replace}
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE parent_id = $1),
		EXISTS (SELECT 1 FROM account_features WHERE account_id = $2 AND feature = 'sub_accounts')`, childID, parentID).
		Scan(&s.childHasChildren, &s.parentHasFeature)
	return s, mapErr(err, "link state")
}

// LinkRequest is what the Link Account form asks for.
type LinkRequest struct {
	TechPrefix string
	Email      string
	// Replace allows taking the account from its current parent.
	Replace bool
}

// RequestLink sends a verification link to the contact address on record of
// the account with this tech prefix and contact email, if it could be
// linked under parentID. Whether anything matched is never told: the
// result is the same, and only the requested account's own audit log
// records that a request arrived.
func (db *DB) RequestLink(ctx context.Context, actor portal.Actor, parentID int64, req LinkRequest) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.link_requested", AccountID: parentID,
			Target: req.TechPrefix, Details: map[string]any{"replace": req.Replace}}); err != nil {
			return err
		}
		var childID int64
		err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE tech_prefix = $1 AND lower(contact_email) = lower($2)`,
			req.TechPrefix, req.Email).Scan(&childID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return mapErr(err, "link lookup")
		}
		// A read without locks is enough to decide whether to send: the
		// confirmation checks everything again under lock.
		st, err := readLinkStateTx(ctx, tx, parentID, childID, req.Replace)
		if err != nil || st.problem() != "" {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.link_request_received", AccountID: childID,
			Target: st.parent.TechPrefix, Details: map[string]any{"parent_company": st.parent.CompanyName}}); err != nil {
			return err
		}
		subject := "link:" + strconv.FormatInt(parentID, 10) + ":" + strconv.FormatInt(childID, 10)
		return db.IssueTokenTx(ctx, tx, portal.PurposeLinkAccount, subject, st.child.ContactEmail,
			map[string]any{"parent_id": parentID, "child_id": childID, "replace": req.Replace, "requested_by": actor.UserID},
			portal.LinkAccountTTL, portal.Email{Template: portal.MailLinkAccount, To: st.child.ContactEmail, Vars: map[string]string{
				"name": st.child.ContactName, "parent_company": st.parent.CompanyName,
				"child_company": st.child.CompanyName, "tech_prefix": st.child.TechPrefix}})
	})
}

// readLinkStateTx is loadLinkStateTx without the locks.
func readLinkStateTx(ctx context.Context, q querier, parentID, childID int64, replace bool) (linkState, error) {
	s := linkState{replace: replace}
	rows, err := q.Query(ctx, `SELECT id, tech_prefix, company_name, contact_name, contact_email, status, parent_id,
			EXISTS (SELECT 1 FROM accounts c WHERE c.parent_id = a.id),
			EXISTS (SELECT 1 FROM account_features f WHERE f.account_id = a.id AND f.feature = 'sub_accounts')
		FROM accounts a WHERE id = ANY($1)`, []int64{parentID, childID})
	if err != nil {
		return s, mapErr(err, "link state")
	}
	defer rows.Close()
	for rows.Next() {
		var f familyRow
		var hasChildren, hasFeature bool
		if err := rows.Scan(&f.ID, &f.TechPrefix, &f.CompanyName, &f.ContactName, &f.ContactEmail, &f.Status, &f.ParentID, &hasChildren, &hasFeature); err != nil {
			return s, mapErr(err, "link state")
		}
		if f.ID == parentID {
			s.parent, s.parentHasFeature = &f, hasFeature
		}
		if f.ID == childID {
			c := f
			s.child, s.childHasChildren = &c, hasChildren
		}
	}
	return s, mapErr(rows.Err(), "link state")
}

// LinkPreview is what confirming a link will do, for its confirmation page.
type LinkPreview struct {
	ParentCompany, ParentPrefix string
	ChildCompany, ChildPrefix   string
	// OldParentCompany is the parent the account leaves, when replacing.
	OldParentCompany string
}

// PreviewLink describes a link token's effect, or says why it can no longer
// be confirmed.
func (db *DB) PreviewLink(ctx context.Context, t *portal.Token) (*LinkPreview, error) {
	st, err := readLinkStateTx(ctx, db.Pool, PayloadInt(t, "parent_id"), PayloadInt(t, "child_id"), payloadBool(t, "replace"))
	if err != nil {
		return nil, err
	}
	if msg := st.problem(); msg != "" {
		return nil, portal.Errorf(portal.ECONFLICT, "%s", msg)
	}
	p := &LinkPreview{ParentCompany: st.parent.CompanyName, ParentPrefix: st.parent.TechPrefix,
		ChildCompany: st.child.CompanyName, ChildPrefix: st.child.TechPrefix}
	if st.child.ParentID != nil {
		if err := db.Pool.QueryRow(ctx, `SELECT company_name FROM accounts WHERE id = $1`, *st.child.ParentID).Scan(&p.OldParentCompany); err != nil {
			return nil, mapErr(err, "old parent")
		}
	}
	return p, nil
}

func payloadBool(t *portal.Token, key string) bool {
	b, _ := t.Payload[key].(bool)
	return b
}

// ConfirmLink redeems a link token: the account becomes a sub-account of the
// requesting root. Both accounts are locked (in id order) and every rule is
// checked again, so of two confirmations that cannot both hold, one wins
// and the other gets a clear error with nothing changed and its link still
// unspent. Both sides' Principals, and a replaced parent's, are emailed.
func (db *DB) ConfirmLink(ctx context.Context, actor portal.Actor, raw string) (*LinkPreview, error) {
	var out LinkPreview
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := RedeemTokenTx(ctx, tx, portal.PurposeLinkAccount, raw)
		if err != nil {
			return err
		}
		st, err := loadLinkStateTx(ctx, tx, PayloadInt(t, "parent_id"), PayloadInt(t, "child_id"), payloadBool(t, "replace"))
		if err != nil {
			return err
		}
		if msg := st.problem(); msg != "" {
			return portal.Errorf(portal.ECONFLICT, "%s", msg)
		}
		parent, child := st.parent, st.child
		out = LinkPreview{ParentCompany: parent.CompanyName, ParentPrefix: parent.TechPrefix, ChildCompany: child.CompanyName, ChildPrefix: child.TechPrefix}
		oldRoot := child.root()
		if _, err := tx.Exec(ctx, `UPDATE accounts SET parent_id = $2, linked_at = now(), updated_at = now() WHERE id = $1`, child.ID, parent.ID); err != nil {
			return mapErr(err, "link")
		}
		if err := db.moveFamilyTx(ctx, tx, child.ID, oldRoot, parent.ID); err != nil {
			return err
		}
		actor.UserID = PayloadInt(t, "requested_by")
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.linked", AccountID: parent.ID, Target: child.TechPrefix}); err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.linked", AccountID: child.ID, Target: parent.TechPrefix}); err != nil {
			return err
		}
		vars := map[string]string{"parent_company": parent.CompanyName, "child_company": child.CompanyName}
		if oldRoot != child.ID {
			var old familyRow
			if err := tx.QueryRow(ctx, `SELECT company_name FROM accounts WHERE id = $1`, oldRoot).Scan(&old.CompanyName); err != nil {
				return mapErr(err, "old parent")
			}
			out.OldParentCompany = old.CompanyName
			if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.unlinked", AccountID: oldRoot, Target: child.TechPrefix,
				Details: map[string]any{"moved_to": parent.TechPrefix}}); err != nil {
				return err
			}
			if err := db.mailPrincipalsTx(ctx, tx, oldRoot, portal.MailUnlinked, map[string]string{
				"parent_company": old.CompanyName, "child_company": child.CompanyName}); err != nil {
				return err
			}
		}
		if err := db.mailPrincipalsTx(ctx, tx, parent.ID, portal.MailLinked, vars); err != nil {
			return err
		}
		return db.mailPrincipalsTx(ctx, tx, child.ID, portal.MailLinked, vars)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Unlink makes a sub-account of parentID a standalone account again. The
// parent's users lose access to it at once: inherited access ends with the
// link, and the memberships that came from the parent's family (users who
// also hold a role elsewhere in it) are removed, except explicit Principals,
// who keep the account they own. Its data and history stay with it; both
// sides are emailed.
func (db *DB) Unlink(ctx context.Context, actor portal.Actor, parentID int64, childPrefix string) (*SubAccount, error) {
	s, err := db.SubAccountOf(ctx, parentID, childPrefix)
	if err != nil {
		return nil, err
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		rows, err := lockAccountsTx(ctx, tx, parentID, s.ID)
		if err != nil {
			return err
		}
		parent, child := rows[parentID], rows[s.ID]
		if parent == nil || child == nil || child.ParentID == nil || *child.ParentID != parentID {
			return portal.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET parent_id = NULL, linked_at = NULL, updated_at = now() WHERE id = $1`, child.ID); err != nil {
			return mapErr(err, "unlink")
		}
		if err := db.moveFamilyTx(ctx, tx, child.ID, parentID, child.ID); err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "subaccount.unlinked", AccountID: parentID, Target: child.TechPrefix}); err != nil {
			return err
		}
		if err := AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "account.unlinked", AccountID: child.ID, Target: parent.TechPrefix}); err != nil {
			return err
		}
		vars := map[string]string{"parent_company": parent.CompanyName, "child_company": child.CompanyName}
		if err := db.mailPrincipalsTx(ctx, tx, parentID, portal.MailUnlinked, vars); err != nil {
			return err
		}
		return db.mailPrincipalsTx(ctx, tx, child.ID, portal.MailUnlinked, vars)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// moveFamilyTx carries what belongs to the family across when child moves
// from the family of oldRoot to that of newRoot (its own, for an unlink):
//   - memberships that came from the old family (users who hold a role on
//     another of its accounts) end, unless they are Principal of the child;
//   - revocations in the old family of the child's remaining users follow
//     it, so a revoked user does not regain access by the move (a link
//     moves them, an unlink copies them);
//   - the child's charge and call history moves between the family
//     rollups, which hold open accounts only (its totals follow by the
//     accounts trigger).
func (db *DB) moveFamilyTx(ctx context.Context, tx pgx.Tx, childID, oldRoot, newRoot int64) error {
	if oldRoot == newRoot {
		return nil
	}
	if oldRoot != childID {
		if _, err := tx.Exec(ctx, `DELETE FROM memberships m WHERE m.account_id = $1 AND m.role <> 'principal'
			AND EXISTS (SELECT 1 FROM memberships o JOIN accounts oa ON oa.id = o.account_id
			            WHERE o.user_id = m.user_id AND o.account_id <> $1 AND (oa.id = $2 OR oa.parent_id = $2))`, childID, oldRoot); err != nil {
			return mapErr(err, "family memberships")
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (user_id, root_id, revoked_at, revoked_by)
		SELECT r.user_id, $3, r.revoked_at, r.revoked_by FROM revocations r
		WHERE r.root_id = $2 AND r.user_id IN (SELECT user_id FROM memberships WHERE account_id = $1)
		ON CONFLICT (user_id, root_id) DO NOTHING`, childID, oldRoot, newRoot); err != nil {
		return mapErr(err, "family revocations")
	}
	if oldRoot == childID {
		if _, err := tx.Exec(ctx, `DELETE FROM revocations WHERE root_id = $1`, childID); err != nil {
			return mapErr(err, "family revocations")
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE family_charge_monthly f SET amount_micros = f.amount_micros - c.amount_micros
		FROM charge_monthly c JOIN accounts a ON a.id = c.account_id AND a.status <> 'closed'
		WHERE c.account_id = $1 AND f.root_id = $2 AND f.month = c.month AND f.category = c.category`,
		childID, oldRoot); err != nil {
		return mapErr(err, "family rollup")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO family_charge_monthly AS f (root_id, month, category, amount_micros)
		SELECT $2, c.month, c.category, c.amount_micros FROM charge_monthly c JOIN accounts a ON a.id = c.account_id AND a.status <> 'closed'
		WHERE c.account_id = $1 ORDER BY c.month, c.category
		ON CONFLICT (root_id, month, category) DO UPDATE SET amount_micros = f.amount_micros + EXCLUDED.amount_micros`,
		childID, newRoot); err != nil {
		return mapErr(err, "family rollup")
	}
	if _, err := tx.Exec(ctx, `UPDATE family_cdr_monthly f SET calls = f.calls - c.calls, billed_secs = f.billed_secs - c.billed_secs
		FROM cdr_monthly c JOIN accounts a ON a.id = c.account_id AND a.status <> 'closed'
		WHERE c.account_id = $1 AND f.root_id = $2 AND f.month = c.month`, childID, oldRoot); err != nil {
		return mapErr(err, "family calls")
	}
	_, err := tx.Exec(ctx, `INSERT INTO family_cdr_monthly AS f (root_id, month, calls, billed_secs)
		SELECT $2, c.month, c.calls, c.billed_secs FROM cdr_monthly c JOIN accounts a ON a.id = c.account_id AND a.status <> 'closed'
		WHERE c.account_id = $1 ORDER BY c.month
		ON CONFLICT (root_id, month) DO UPDATE SET calls = f.calls + EXCLUDED.calls, billed_secs = f.billed_secs + EXCLUDED.billed_secs`,
		childID, newRoot)
	return mapErr(err, "family calls")
}

// mailPrincipalsTx sends one template to an account's Principals.
func (db *DB) mailPrincipalsTx(ctx context.Context, tx pgx.Tx, accountID int64, template string, vars map[string]string) error {
	to, err := principalsTx(ctx, tx, accountID)
	if err != nil {
		return err
	}
	for _, p := range to {
		v := map[string]string{"name": p.name}
		for k, x := range vars {
			v[k] = x
		}
		if err := db.Outbox.EnqueueTx(ctx, tx, portal.Email{Template: template, To: p.email, Vars: v, Link: db.BaseURL + "/"}); err != nil {
			return err
		}
	}
	return nil
}
