package postgres

import (
	"context"
	"strings"
	"testing"
)

// did_counts follows every way numbers are added, given back, moved and
// removed, so the pages that read it agree with counting the numbers.
func TestDIDCountsFollowNumbers(t *testing.T) {
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(t)}
	var a, b int64
	for _, p := range []struct {
		prefix string
		id     *int64
	}{{"40000001", &a}, {"40000002", &b}} {
		if err := db.Pool.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status)
			VALUES ($1, 'Counter Co', 'c@example.test', 'active') RETURNING id`, p.prefix).Scan(p.id); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name, sql string
	}{
		{"insert", `INSERT INTO dids (account_id, number) SELECT $1, '+1206555' || lpad(g::text, 4, '0') FROM generate_series(1, 5) g`},
		{"insert for b", `INSERT INTO dids (account_id, number) SELECT $2, '+1415555' || lpad(g::text, 4, '0') FROM generate_series(1, 3) g WHERE $1::bigint > 0`},
		{"relabel", `UPDATE dids SET label = 'Main' WHERE account_id = $1`},
		{"release two", `UPDATE dids SET released_at = now() WHERE account_id = $1 AND number IN ('+12065550001', '+12065550002')`},
		{"release again", `UPDATE dids SET released_at = now() WHERE account_id = $1 AND number = '+12065550001'`},
		{"move one", `UPDATE dids SET account_id = $2 WHERE number = '+12065550003' AND account_id = $1`},
		{"delete held", `DELETE FROM dids WHERE number = '+14155550001'`},
		{"delete released", `DELETE FROM dids WHERE number = '+12065550002'`},
	}
	for _, s := range steps {
		var args []any
		if strings.Contains(s.sql, "$1") {
			args = append(args, a)
		}
		if strings.Contains(s.sql, "$2") {
			args = append(args, b)
		}
		if _, err := db.Pool.Exec(ctx, s.sql, args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var wrong int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM accounts x
			WHERE x.id IN ($1, $2) AND coalesce((SELECT held FROM did_counts c WHERE c.account_id = x.id), 0)
			   <> (SELECT count(*) FROM dids d WHERE d.account_id = x.id AND d.released_at IS NULL)`, a, b).Scan(&wrong)
		if err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Errorf("after %s: %d accounts whose counter differs from their numbers", s.name, wrong)
		}
	}
}
