package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"carrierportal/internal/portal"
)

// AuditTx appends one event to the audit log inside q (a tx or the pool).
func AuditTx(ctx context.Context, q querier, actor portal.Actor, ev portal.AuditEvent) error {
	if ev.Outcome == "" {
		ev.Outcome = "success"
	}
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return fmt.Errorf("postgres: audit details: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO audit_events
		(actor_user_id, actor_staff_id, account_id, action, target, outcome, ip, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		nullID(actor.UserID), nullID(actor.StaffID), nullID(ev.AccountID), ev.Action, ev.Target, ev.Outcome,
		actor.IP, actor.RequestID, details)
	if err != nil {
		return fmt.Errorf("postgres: audit: %w", err)
	}
	return nil
}

// Audit appends one event outside any transaction.
func (db *DB) Audit(ctx context.Context, actor portal.Actor, ev portal.AuditEvent) error {
	return AuditTx(ctx, db.Pool, actor, ev)
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
