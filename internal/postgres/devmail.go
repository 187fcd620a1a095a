package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DevMail is one message the development mailer kept instead of sending.
type DevMail struct {
	ID        int64     `db:"id"`
	CreatedAt time.Time `db:"created_at"`
	To        string    `db:"to_addr"`
	Subject   string    `db:"subject"`
	Text      string    `db:"text_body"`
	HTML      string    `db:"html_body"`
}

// devMailMax bounds how many messages one listing returns.
const devMailMax = 1000

// StoreDevMail keeps a message for the development mailbox and returns its
// id, under which the mailbox shows it.
func (db *DB) StoreDevMail(ctx context.Context, to, subject, text, html string) (int64, error) {
	var id int64
	err := db.Pool.QueryRow(ctx, `INSERT INTO dev_mail (to_addr, subject, text_body, html_body)
		VALUES ($1, $2, $3, $4) RETURNING id`, to, subject, text, html).Scan(&id)
	return id, mapErr(err, "store dev mail")
}

// DevMails lists the newest messages of the development mailbox first.
func (db *DB) DevMails(ctx context.Context, limit int) ([]DevMail, error) {
	if limit <= 0 || limit > devMailMax {
		limit = devMailMax
	}
	rows, err := db.Pool.Query(ctx, `SELECT id, created_at, to_addr, subject, text_body, html_body
		FROM dev_mail ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, mapErr(err, "list dev mail")
	}
	ms, err := pgx.CollectRows(rows, pgx.RowToStructByName[DevMail])
	return ms, mapErr(err, "list dev mail")
}

// DevMailByID returns one message of the development mailbox.
func (db *DB) DevMailByID(ctx context.Context, id int64) (*DevMail, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, created_at, to_addr, subject, text_body, html_body
		FROM dev_mail WHERE id = $1`, id)
	if err != nil {
		return nil, mapErr(err, "dev mail")
	}
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[DevMail])
	if err != nil {
		return nil, mapErr(err, "dev mail")
	}
	return m, nil
}
