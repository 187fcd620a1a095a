package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// MaxAPIKeys bounds the active keys of one account.
const MaxAPIKeys = 25

// apiKeyPrefix starts every secret, so a leaked key is recognizable by
// secret scanners and support staff.
const apiKeyPrefix = "cpk_"

// APIKey is an API key as listed: never its secret.
type APIKey struct {
	ID         int64
	Name       string
	Prefix     string
	CreatedBy  string
	CreatedAt  time.Time
	RotatedAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// newAPISecret returns a secret with 256 random bits, the part of it shown
// in lists, and the hash that is stored.
func newAPISecret() (secret, prefix string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, err
	}
	secret = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	return secret, secret[:len(apiKeyPrefix)+6], h[:], nil
}

// APIKeys lists an account's keys, active ones first.
func (db *DB) APIKeys(ctx context.Context, accountID int64) ([]APIKey, error) {
	rows, err := db.Pool.Query(ctx, `SELECT k.id, k.name, k.prefix, coalesce(u.full_name, ''), k.created_at, k.rotated_at, k.last_used_at, k.revoked_at
		FROM api_keys k LEFT JOIN users u ON u.id = k.created_by
		WHERE k.account_id = $1 ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC LIMIT 200`, accountID)
	if err != nil {
		return nil, mapErr(err, "api keys")
	}
	keys, err := scanAll(rows, func(r pgx.Row) (APIKey, error) {
		var k APIKey
		return k, r.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedBy, &k.CreatedAt, &k.RotatedAt, &k.LastUsedAt, &k.RevokedAt)
	})
	return keys, mapErr(err, "api keys")
}

// CreateAPIKey makes a key and returns its secret, which is shown once.
func (db *DB) CreateAPIKey(ctx context.Context, actor portal.Actor, accountID int64, name string) (int64, string, error) {
	secret, prefix, hash, err := newAPISecret()
	if err != nil {
		return 0, "", err
	}
	var id int64
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccountTx(ctx, tx, "api_keys", accountID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL`, accountID).Scan(&n); err != nil {
			return mapErr(err, "count api keys")
		}
		if n >= MaxAPIKeys {
			return portal.Errorf(portal.ECONFLICT, "An account can have at most %d active API keys. Revoke one you no longer use.", MaxAPIKeys)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO api_keys (account_id, name, prefix, secret_hash, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			accountID, name, prefix, hash, nullID(actor.UserID)).Scan(&id); err != nil {
			return mapErr(err, "create api key")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "api_key.created", AccountID: accountID,
			Target: "api_key:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name, "prefix": prefix}})
	})
	if err != nil {
		return 0, "", err
	}
	return id, secret, nil
}

// RotateAPIKey gives an active key a new secret, returned once; the old
// secret stops working at once.
func (db *DB) RotateAPIKey(ctx context.Context, actor portal.Actor, accountID, id int64) (string, error) {
	secret, prefix, hash, err := newAPISecret()
	if err != nil {
		return "", err
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var name, old string
		err := tx.QueryRow(ctx, `SELECT name, prefix FROM api_keys WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL FOR UPDATE`,
			accountID, id).Scan(&name, &old)
		if err != nil {
			return mapErr(err, "api key")
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET secret_hash = $3, prefix = $4, rotated_at = now() WHERE account_id = $1 AND id = $2`,
			accountID, id, hash, prefix); err != nil {
			return mapErr(err, "rotate api key")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "api_key.rotated", AccountID: accountID,
			Target: "api_key:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name, "prefix": prefix, "old_prefix": old}})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeAPIKey ends a key for good; it stays listed as revoked.
func (db *DB) RevokeAPIKey(ctx context.Context, actor portal.Actor, accountID, id int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now(), revoked_by = $3
			WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING name`, accountID, id, nullID(actor.UserID)).Scan(&name)
		if err != nil {
			return mapErr(err, "revoke api key")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "api_key.revoked", AccountID: accountID,
			Target: "api_key:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name}})
	})
}

// AuthenticateAPIKey returns the account a presented secret belongs to and
// records its use. Unknown, malformed and revoked keys are not found.
func (db *DB) AuthenticateAPIKey(ctx context.Context, secret string) (accountID, keyID int64, err error) {
	if !strings.HasPrefix(secret, apiKeyPrefix) || len(secret) != len(apiKeyPrefix)+43 {
		return 0, 0, portal.ErrNotFound
	}
	h := sha256.Sum256([]byte(secret))
	// last_used_at is written at most once a minute per key.
	err = db.Pool.QueryRow(ctx, `WITH k AS (
			SELECT k.id, k.account_id, k.last_used_at FROM api_keys k JOIN accounts a ON a.id = k.account_id
			WHERE k.secret_hash = $1 AND k.revoked_at IS NULL AND a.status = 'active'),
		touch AS (UPDATE api_keys SET last_used_at = now() WHERE id = (SELECT id FROM k)
			AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))
		SELECT account_id, id FROM k`, h[:]).Scan(&accountID, &keyID)
	if err != nil {
		return 0, 0, mapErr(err, "authenticate api key")
	}
	return accountID, keyID, nil
}
