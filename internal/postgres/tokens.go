package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// TokenState says why a token can or cannot be redeemed; the confirmation
// page tells the user in plain words.
type TokenState int

// Token states.
const (
	TokenUnknown TokenState = iota
	TokenValid
	TokenUsed
	TokenExpired
)

// NewTokenString returns 256 random bits, URL-safe encoded.
func NewTokenString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("postgres: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken is what the database keeps of a token.
func hashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// wellFormedToken rejects anything that cannot be one of our tokens before it
// reaches the database. The decoder skips newlines, so the length of the
// text alone does not prove 32 bytes.
func wellFormedToken(raw string) bool {
	if len(raw) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	return err == nil && len(b) == 32
}

// IssueTokenTx creates a token for (purpose, subject) in tx, superseding any
// earlier unused one, and enqueues its email in the same transaction. The
// email's Link is set to the confirmation page of the new token.
func (db *DB) IssueTokenTx(ctx context.Context, tx pgx.Tx, purpose, subject, email string, payload map[string]any, ttl time.Duration, msg portal.Email) error {
	raw, err := NewTokenString()
	if err != nil {
		return err
	}
	if payload == nil {
		payload = map[string]any{}
	}
	pj, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("postgres: token payload: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE verification_tokens SET used_at = now()
		WHERE purpose = $1 AND subject = $2 AND used_at IS NULL`, purpose, subject); err != nil {
		return fmt.Errorf("postgres: supersede tokens: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO verification_tokens (token_hash, purpose, subject, email, payload, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + $6::interval)`, hashToken(raw), purpose, subject, email, pj, ttl.String()); err != nil {
		return fmt.Errorf("postgres: insert token: %w", err)
	}
	msg.Link = db.BaseURL + "/verify/" + raw
	return db.Outbox.EnqueueTx(ctx, tx, msg)
}

// CancelTokensTx marks every unused token of (purpose, subject) as used.
func CancelTokensTx(ctx context.Context, tx pgx.Tx, purpose, subject string) error {
	_, err := tx.Exec(ctx, `UPDATE verification_tokens SET used_at = now()
		WHERE purpose = $1 AND subject = $2 AND used_at IS NULL`, purpose, subject)
	return mapErr(err, "cancel tokens")
}

// PeekToken looks a token up without spending it, for the confirmation page.
func (db *DB) PeekToken(ctx context.Context, raw string) (*portal.Token, TokenState, error) {
	if !wellFormedToken(raw) {
		return nil, TokenUnknown, nil
	}
	var t portal.Token
	var used bool
	var expired bool
	err := db.Pool.QueryRow(ctx, `SELECT id, purpose, subject, email, payload, used_at IS NOT NULL, expires_at <= now()
		FROM verification_tokens WHERE token_hash = $1`, hashToken(raw)).
		Scan(&t.ID, &t.Purpose, &t.Subject, &t.Email, &t.Payload, &used, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, TokenUnknown, nil
	}
	if err != nil {
		return nil, TokenUnknown, mapErr(err, "peek token")
	}
	switch {
	case used:
		return &t, TokenUsed, nil
	case expired:
		return &t, TokenExpired, nil
	}
	return &t, TokenValid, nil
}

// ErrTokenInvalid is returned when a token is unknown, used, expired or of
// another purpose.
var ErrTokenInvalid = &portal.Error{Code: portal.EINVALID, Message: "This link is invalid, has expired or was already used."}

// RedeemTokenTx spends a token of the given purpose in tx with one atomic
// UPDATE: of any number of concurrent redemptions exactly one succeeds.
func RedeemTokenTx(ctx context.Context, tx pgx.Tx, purpose, raw string) (*portal.Token, error) {
	if !wellFormedToken(raw) {
		return nil, ErrTokenInvalid
	}
	var t portal.Token
	err := tx.QueryRow(ctx, `UPDATE verification_tokens SET used_at = now()
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING id, purpose, subject, email, payload`, hashToken(raw), purpose).
		Scan(&t.ID, &t.Purpose, &t.Subject, &t.Email, &t.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, mapErr(err, "redeem token")
	}
	return &t, nil
}

// PayloadInt reads an integer id from a token payload.
func PayloadInt(t *portal.Token, key string) int64 {
	switch v := t.Payload[key].(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}
