package postgres

import (
	"context"
	"time"

	"carrierportal/internal/portal"
)

// SessionRead is a session's stored data read together with a user's row:
// what a signed-in request needs before its handler runs.
type SessionRead struct {
	// Found is false when the session does not exist or has expired.
	Found bool
	Data  []byte
	// User is nil when the user does not exist.
	User *portal.User
	// LastAccountID is the account the user last opened (0 for none).
	LastAccountID int64
}

// SessionWithUser reads the session token's data (as the session store
// would: only while unexpired) and user userID in one round trip. The
// caller checks that the data names that user.
func (db *DB) SessionWithUser(ctx context.Context, token string, userID int64) (*SessionRead, error) {
	var sr SessionRead
	var id, epoch, last *int64
	var email, name, hash *string
	var verified, lastLogin, created *time.Time
	err := db.Pool.QueryRow(ctx, `SELECT s.data, u.id, u.email, u.full_name, u.password_hash, u.email_verified_at, u.session_epoch,
			u.last_login_at, u.created_at, u.last_account_id
		FROM sessions s LEFT JOIN users u ON u.id = $2
		WHERE s.token = $1 AND current_timestamp < s.expiry`, token, userID).
		Scan(&sr.Data, &id, &email, &name, &hash, &verified, &epoch, &lastLogin, &created, &last)
	if err != nil {
		if portal.ErrorCode(mapErr(err, "")) == portal.ENOTFOUND {
			return &sr, nil
		}
		return nil, mapErr(err, "session")
	}
	sr.Found = true
	if id != nil {
		sr.User = &portal.User{ID: *id, Email: *email, FullName: *name, PasswordHash: *hash, EmailVerifiedAt: verified,
			SessionEpoch: *epoch, LastLoginAt: lastLogin, CreatedAt: *created}
		if last != nil {
			sr.LastAccountID = *last
		}
	}
	return &sr, nil
}
