package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"carrierportal/internal/portal"
)

// MaxInterconnectItems bounds the hosts, credentials and routes of one
// account; an interconnection is a handful of entries, and lists stay short.
const MaxInterconnectItems = 50

// SIPHost is an address or block allowed to send calls for an account.
type SIPHost struct {
	ID          int64
	Address     netip.Prefix
	Description string
	CreatedAt   time.Time
}

// Display shows a single address without its /32 or /128.
func (h SIPHost) Display() string {
	if h.Address.IsSingleIP() {
		return h.Address.Addr().String()
	}
	return h.Address.String()
}

// SIPCredential is a digest-authentication login of an account.
type SIPCredential struct {
	ID                int64
	Username          string
	Description       string
	CreatedAt         time.Time
	PasswordChangedAt time.Time
}

// InboundRoute is where calls to an account's numbers go.
type InboundRoute struct {
	ID        int64
	Name      string
	Target    string
	Numbers   int
	CreatedAt time.Time
}

// Interconnection is everything on an account's interconnection page.
type Interconnection struct {
	Hosts       []SIPHost
	Credentials []SIPCredential
	Routes      []InboundRoute
}

const (
	hostCols  = `id, address, description, created_at`
	credCols  = `id, username, description, created_at, password_changed_at`
	routeCols = `r.id, r.name, r.target, r.created_at,
		(SELECT count(*) FROM dids d WHERE d.account_id = r.account_id AND d.route_id = r.id AND d.released_at IS NULL)`
)

func scanHost(row pgx.Row) (SIPHost, error) {
	var h SIPHost
	err := row.Scan(&h.ID, &h.Address, &h.Description, &h.CreatedAt)
	return h, err
}

func scanCred(row pgx.Row) (SIPCredential, error) {
	var c SIPCredential
	err := row.Scan(&c.ID, &c.Username, &c.Description, &c.CreatedAt, &c.PasswordChangedAt)
	return c, err
}

func scanRoute(row pgx.Row) (InboundRoute, error) {
	var r InboundRoute
	err := row.Scan(&r.ID, &r.Name, &r.Target, &r.CreatedAt, &r.Numbers)
	return r, err
}

// Interconnection loads an account's hosts, credentials and routes in one
// round trip.
func (db *DB) Interconnection(ctx context.Context, accountID int64) (*Interconnection, error) {
	b := &pgx.Batch{}
	var ic Interconnection
	b.Queue(`SELECT `+hostCols+` FROM sip_hosts WHERE account_id = $1 ORDER BY address`, accountID).Query(func(rows pgx.Rows) (err error) {
		ic.Hosts, err = scanAll(rows, scanHost)
		return err
	})
	b.Queue(`SELECT `+credCols+` FROM sip_credentials WHERE account_id = $1 ORDER BY username`, accountID).Query(func(rows pgx.Rows) (err error) {
		ic.Credentials, err = scanAll(rows, scanCred)
		return err
	})
	b.Queue(`SELECT `+routeCols+` FROM inbound_routes r WHERE r.account_id = $1 ORDER BY lower(r.name), r.id`, accountID).Query(func(rows pgx.Rows) (err error) {
		ic.Routes, err = scanAll(rows, scanRoute)
		return err
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "interconnection")
	}
	return &ic, nil
}

// SIPHost returns one host of the account.
func (db *DB) SIPHost(ctx context.Context, accountID, id int64) (*SIPHost, error) {
	h, err := scanHost(db.Pool.QueryRow(ctx, `SELECT `+hostCols+` FROM sip_hosts WHERE account_id = $1 AND id = $2`, accountID, id))
	if err != nil {
		return nil, mapErr(err, "sip host")
	}
	return &h, nil
}

// AddSIPHost allows an address or block to send calls for the account.
func (db *DB) AddSIPHost(ctx context.Context, actor portal.Actor, accountID int64, addr netip.Prefix, desc string) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkLimitTx(ctx, tx, "sip_hosts", "SIP hosts", accountID, MaxInterconnectItems); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO sip_hosts (account_id, address, description) VALUES ($1, $2, $3) RETURNING id`,
			accountID, addr, desc).Scan(&id)
		if isUniqueViolation(err, "") {
			return portal.FieldError("address", "That address is already in the list.")
		}
		if err != nil {
			return mapErr(err, "add sip host")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_host.created", AccountID: accountID,
			Target: "sip_host:" + strconv.FormatInt(id, 10), Details: map[string]any{"address": addr.String(), "description": desc}})
	})
	return id, err
}

// UpdateSIPHost changes a host's address and description.
func (db *DB) UpdateSIPHost(ctx context.Context, actor portal.Actor, accountID, id int64, addr netip.Prefix, desc string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var old netip.Prefix
		if err := tx.QueryRow(ctx, `SELECT address FROM sip_hosts WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&old); err != nil {
			return mapErr(err, "sip host")
		}
		_, err := tx.Exec(ctx, `UPDATE sip_hosts SET address = $3, description = $4, updated_at = now() WHERE account_id = $1 AND id = $2`,
			accountID, id, addr, desc)
		if isUniqueViolation(err, "") {
			return portal.FieldError("address", "That address is already in the list.")
		}
		if err != nil {
			return mapErr(err, "update sip host")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_host.updated", AccountID: accountID,
			Target: "sip_host:" + strconv.FormatInt(id, 10), Details: map[string]any{"address": addr.String(), "old_address": old.String(), "description": desc}})
	})
}

// DeleteSIPHost removes a host; calls from it stop being accepted.
func (db *DB) DeleteSIPHost(ctx context.Context, actor portal.Actor, accountID, id int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var addr netip.Prefix
		if err := tx.QueryRow(ctx, `DELETE FROM sip_hosts WHERE account_id = $1 AND id = $2 RETURNING address`, accountID, id).Scan(&addr); err != nil {
			return mapErr(err, "delete sip host")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_host.deleted", AccountID: accountID,
			Target: "sip_host:" + strconv.FormatInt(id, 10), Details: map[string]any{"address": addr.String()}})
	})
}

// sipPasswordAlphabet leaves out characters that are easily misread when a
// password is copied into a phone's settings by hand.
const sipPasswordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newSIPPassword returns 24 random characters (about 140 bits).
func newSIPPassword() (string, error) {
	out := make([]byte, 24)
	buf := make([]byte, 64)
	n := 0
	for n < len(out) {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling keeps every character equally likely.
			if int(b) < 256/len(sipPasswordAlphabet)*len(sipPasswordAlphabet) && n < len(out) {
				out[n] = sipPasswordAlphabet[int(b)%len(sipPasswordAlphabet)]
				n++
			}
		}
	}
	return string(out), nil
}

// SIPHA1 is the digest hash the registrar checks: SHA-256 of
// username:realm:password (RFC 8760).
func SIPHA1(username, password string) string {
	h := sha256.Sum256([]byte(username + ":" + portal.SIPRealm + ":" + password))
	return hex.EncodeToString(h[:])
}

// SIPCredential returns one credential of the account.
func (db *DB) SIPCredential(ctx context.Context, accountID, id int64) (*SIPCredential, error) {
	c, err := scanCred(db.Pool.QueryRow(ctx, `SELECT `+credCols+` FROM sip_credentials WHERE account_id = $1 AND id = $2`, accountID, id))
	if err != nil {
		return nil, mapErr(err, "sip credential")
	}
	return &c, nil
}

// AddSIPCredential creates a login with a generated password, which is
// returned once and never stored.
func (db *DB) AddSIPCredential(ctx context.Context, actor portal.Actor, accountID int64, username, desc string) (int64, string, error) {
	password, err := newSIPPassword()
	if err != nil {
		return 0, "", err
	}
	var id int64
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkLimitTx(ctx, tx, "sip_credentials", "SIP credentials", accountID, MaxInterconnectItems); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO sip_credentials (account_id, username, ha1_sha256, description) VALUES ($1, $2, $3, $4) RETURNING id`,
			accountID, username, SIPHA1(username, password), desc).Scan(&id)
		if isUniqueViolation(err, "") {
			return portal.FieldError("username", "That user name is already in use on this account.")
		}
		if err != nil {
			return mapErr(err, "add sip credential")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_credential.created", AccountID: accountID,
			Target: "sip_credential:" + strconv.FormatInt(id, 10), Details: map[string]any{"username": username}})
	})
	if err != nil {
		return 0, "", err
	}
	return id, password, nil
}

// UpdateSIPCredential changes a credential's description. The user name is
// part of the stored hash, so changing it means a new credential.
func (db *DB) UpdateSIPCredential(ctx context.Context, actor portal.Actor, accountID, id int64, desc string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var username string
		err := tx.QueryRow(ctx, `UPDATE sip_credentials SET description = $3, updated_at = now() WHERE account_id = $1 AND id = $2 RETURNING username`,
			accountID, id, desc).Scan(&username)
		if err != nil {
			return mapErr(err, "update sip credential")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_credential.updated", AccountID: accountID,
			Target: "sip_credential:" + strconv.FormatInt(id, 10), Details: map[string]any{"username": username, "description": desc}})
	})
}

// ResetSIPPassword gives a credential a new generated password and returns
// it; the old one stops working at once.
func (db *DB) ResetSIPPassword(ctx context.Context, actor portal.Actor, accountID, id int64) (string, error) {
	password, err := newSIPPassword()
	if err != nil {
		return "", err
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var username string
		if err := tx.QueryRow(ctx, `SELECT username FROM sip_credentials WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&username); err != nil {
			return mapErr(err, "sip credential")
		}
		if _, err := tx.Exec(ctx, `UPDATE sip_credentials SET ha1_sha256 = $3, password_changed_at = now(), updated_at = now()
			WHERE account_id = $1 AND id = $2`, accountID, id, SIPHA1(username, password)); err != nil {
			return mapErr(err, "reset sip password")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_credential.password_reset", AccountID: accountID,
			Target: "sip_credential:" + strconv.FormatInt(id, 10), Details: map[string]any{"username": username}})
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// DeleteSIPCredential removes a login.
func (db *DB) DeleteSIPCredential(ctx context.Context, actor portal.Actor, accountID, id int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var username string
		if err := tx.QueryRow(ctx, `DELETE FROM sip_credentials WHERE account_id = $1 AND id = $2 RETURNING username`, accountID, id).Scan(&username); err != nil {
			return mapErr(err, "delete sip credential")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "sip_credential.deleted", AccountID: accountID,
			Target: "sip_credential:" + strconv.FormatInt(id, 10), Details: map[string]any{"username": username}})
	})
}

// InboundRoutes lists the account's routes, for choosing one for a number.
func (db *DB) InboundRoutes(ctx context.Context, accountID int64) ([]InboundRoute, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+routeCols+` FROM inbound_routes r WHERE r.account_id = $1 ORDER BY lower(r.name), r.id`, accountID)
	if err != nil {
		return nil, mapErr(err, "inbound routes")
	}
	routes, err := scanAll(rows, scanRoute)
	return routes, mapErr(err, "inbound routes")
}

// InboundRoute returns one route of the account.
func (db *DB) InboundRoute(ctx context.Context, accountID, id int64) (*InboundRoute, error) {
	r, err := scanRoute(db.Pool.QueryRow(ctx, `SELECT `+routeCols+` FROM inbound_routes r WHERE r.account_id = $1 AND r.id = $2`, accountID, id))
	if err != nil {
		return nil, mapErr(err, "inbound route")
	}
	return &r, nil
}

// AddInboundRoute creates a route.
func (db *DB) AddInboundRoute(ctx context.Context, actor portal.Actor, accountID int64, name, target string) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkLimitTx(ctx, tx, "inbound_routes", "inbound routes", accountID, MaxInterconnectItems); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO inbound_routes (account_id, name, target) VALUES ($1, $2, $3) RETURNING id`,
			accountID, name, target).Scan(&id)
		if isUniqueViolation(err, "") {
			return portal.FieldError("name", "There is already a route with that name.")
		}
		if err != nil {
			return mapErr(err, "add inbound route")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "inbound_route.created", AccountID: accountID,
			Target: "inbound_route:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name, "target": target}})
	})
	return id, err
}

// UpdateInboundRoute renames a route or points it elsewhere; every number
// using it follows.
func (db *DB) UpdateInboundRoute(ctx context.Context, actor portal.Actor, accountID, id int64, name, target string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var oldTarget string
		if err := tx.QueryRow(ctx, `SELECT target FROM inbound_routes WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&oldTarget); err != nil {
			return mapErr(err, "inbound route")
		}
		_, err := tx.Exec(ctx, `UPDATE inbound_routes SET name = $3, target = $4, updated_at = now() WHERE account_id = $1 AND id = $2`,
			accountID, id, name, target)
		if isUniqueViolation(err, "") {
			return portal.FieldError("name", "There is already a route with that name.")
		}
		if err != nil {
			return mapErr(err, "update inbound route")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "inbound_route.updated", AccountID: accountID,
			Target: "inbound_route:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name, "target": target, "old_target": oldTarget}})
	})
}

// DeleteInboundRoute removes a route no number uses. Numbers are never left
// without their route by surprise: they must be moved first.
func (db *DB) DeleteInboundRoute(ctx context.Context, actor portal.Actor, accountID, id int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM inbound_routes WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&name); err != nil {
			return mapErr(err, "inbound route")
		}
		var used int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM dids WHERE account_id = $1 AND route_id = $2`, accountID, id).Scan(&used); err != nil {
			return mapErr(err, "route use")
		}
		if used > 0 {
			return portal.Errorf(portal.ECONFLICT, "The route %q is used by %d number%s. Choose another route for them first.", name, used, sPlural(used))
		}
		_, err := tx.Exec(ctx, `DELETE FROM inbound_routes WHERE account_id = $1 AND id = $2`, accountID, id)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return portal.Errorf(portal.ECONFLICT, "The route %q is used by a number. Choose another route for it first.", name)
		}
		if err != nil {
			return mapErr(err, "delete inbound route")
		}
		return AuditTx(ctx, tx, actor, portal.AuditEvent{Action: "inbound_route.deleted", AccountID: accountID,
			Target: "inbound_route:" + strconv.FormatInt(id, 10), Details: map[string]any{"name": name}})
	})
}
