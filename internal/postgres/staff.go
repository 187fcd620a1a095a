package postgres

import (
	"context"

	"carrierportal/internal/portal"
)

// CreateStaff adds a carrier staff user (from the command line only).
func (db *DB) CreateStaff(ctx context.Context, email, name, passwordHash string) (int64, error) {
	var id int64
	err := db.Pool.QueryRow(ctx, `INSERT INTO staff_users (email, full_name, password_hash) VALUES ($1, $2, $3)
		ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash, full_name = EXCLUDED.full_name
		RETURNING id`, email, name, passwordHash).Scan(&id)
	return id, mapErr(err, "create staff")
}

// StaffByEmail returns a staff user by address.
func (db *DB) StaffByEmail(ctx context.Context, email string) (*portal.Staff, error) {
	var s portal.Staff
	err := db.Pool.QueryRow(ctx, `SELECT id, email, full_name, password_hash FROM staff_users WHERE lower(email) = lower($1)`, email).
		Scan(&s.ID, &s.Email, &s.FullName, &s.PasswordHash)
	if err != nil {
		return nil, mapErr(err, "staff by email")
	}
	return &s, nil
}

// StaffByID returns a staff user.
func (db *DB) StaffByID(ctx context.Context, id int64) (*portal.Staff, error) {
	var s portal.Staff
	err := db.Pool.QueryRow(ctx, `SELECT id, email, full_name, password_hash FROM staff_users WHERE id = $1`, id).
		Scan(&s.ID, &s.Email, &s.FullName, &s.PasswordHash)
	if err != nil {
		return nil, mapErr(err, "staff by id")
	}
	return &s, nil
}
