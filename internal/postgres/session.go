package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// SessionRead is a session's stored data read together with a user's row:
// what a signed-in request needs before its handler runs.
type SessionRead struct {
	// Found is false when the session does not exist or has expired.
	Found bool
	Data  []byte
	// Expiry is when the stored session expires.
	Expiry time.Time
	// User is nil when the user does not exist.
	User *portal.User
	// LastAccountID is the account the user last opened (0 for none).
	LastAccountID int64
	// Account is the user's access to an account and its header picker,
	// when they were asked for (SessionWithUser always reads the picker).
	Account *AccountRead
}

// AccountRead is what a page of an account needs before its handler runs,
// read along with the session.
type AccountRead struct {
	TechPrefix string
	Access     *AccessResult
	// Picker is nil when it was not asked for.
	Picker *PickerHeader
}

// SessionWithUser reads the session token's data (as the session store
// would: only while unexpired) and user userID in one round trip. The
// caller checks that the data names that user. With a valid tech prefix it
// also reads, in the same round trip, that user's access to the account and
// the header picker there (Account), for a page of that account.
func (db *DB) SessionWithUser(ctx context.Context, token string, userID int64, techPrefix string) (*SessionRead, error) {
	var sr SessionRead
	var id, epoch, last *int64
	var email, name, hash *string
	var verified, lastLogin, created *time.Time
	const sql = `SELECT s.data, s.expiry, u.id, u.email, u.full_name, u.password_hash, u.email_verified_at, u.session_epoch,
			u.last_login_at, u.created_at, u.last_account_id
		FROM sessions s LEFT JOIN users u ON u.id = $2
		WHERE s.token = $1 AND current_timestamp < s.expiry`
	scan := func(row pgx.Row) error {
		err := row.Scan(&sr.Data, &sr.Expiry, &id, &email, &name, &hash, &verified, &epoch, &lastLogin, &created, &last)
		if portal.ErrorCode(mapErr(err, "")) == portal.ENOTFOUND {
			return nil
		}
		sr.Found = err == nil
		return err
	}
	if portal.ValidTechPrefix(techPrefix) {
		b := &pgx.Batch{}
		b.Queue(sql, token, userID).QueryRow(scan)
		sr.Account = queueAccountRead(b, userID, techPrefix, true)
		if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
			return nil, mapErr(err, "session")
		}
	} else if err := scan(db.Pool.QueryRow(ctx, sql, token, userID)); err != nil {
		return nil, mapErr(err, "session")
	}
	if sr.Found && id != nil {
		sr.User = &portal.User{ID: *id, Email: *email, FullName: *name, PasswordHash: *hash, EmailVerifiedAt: verified,
			SessionEpoch: *epoch, LastLoginAt: lastLogin, CreatedAt: *created}
		if last != nil {
			sr.LastAccountID = *last
		}
	}
	return &sr, nil
}

func queueAccountRead(b *pgx.Batch, userID int64, techPrefix string, picker bool) *AccountRead {
	ar := &AccountRead{TechPrefix: techPrefix, Access: queueAccess(b, userID, techPrefix)}
	if picker {
		ar.Picker = queuePicker(b, userID, techPrefix)
	}
	return ar
}

// AccountRead reads the user's access to the account with this tech prefix
// and, if asked (picker), the header picker there, in one round trip: what
// SessionWithUser adds for a page of an account, for a session already
// known.
func (db *DB) AccountRead(ctx context.Context, userID int64, techPrefix string, picker bool) (*AccountRead, error) {
	b := &pgx.Batch{}
	ar := queueAccountRead(b, userID, techPrefix, picker)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "account")
	}
	return ar, nil
}
