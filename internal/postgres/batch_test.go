package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A batch sent with generic plans uses them, and leaves the pooled
// connection as it found it, whether the batch succeeds or fails.
func TestSendGenericLeavesNoSetting(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(NewTestDB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // every statement below runs on the same connection
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &DB{Pool: pool}
	mode := func() string {
		var m string
		if err := pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var inside string
	b := &pgx.Batch{}
	b.Queue(`SHOW plan_cache_mode`).QueryRow(func(row pgx.Row) error { return row.Scan(&inside) })
	if err := db.sendGeneric(ctx, b); err != nil {
		t.Fatal(err)
	}
	if inside != "force_generic_plan" {
		t.Errorf("inside the batch: plan_cache_mode %q, want force_generic_plan", inside)
	}
	if m := mode(); m != "auto" {
		t.Errorf("after the batch: plan_cache_mode %q, want auto", m)
	}
	b = &pgx.Batch{}
	b.Queue(`SELECT 1/0`)
	if err := db.sendGeneric(ctx, b); err == nil {
		t.Fatal("a failing batch reported no error")
	}
	if m := mode(); m != "auto" {
		t.Errorf("after a failed batch: plan_cache_mode %q, want auto", m)
	}
}
