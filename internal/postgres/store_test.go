package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"carrierportal/internal/portal"
)

func TestMigrateConcurrently(t *testing.T) {
	url := NewEmptyTestDB(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := Open(ctx, url, 4)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			_, errs[i] = Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	pool, err := Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ok, err := MigrationsCurrent(ctx, pool)
	if err != nil || !ok {
		t.Fatalf("migrations current = %v, %v", ok, err)
	}
	again, err := Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, %v; want nothing", again, err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	pool := NewTestPool(t)
	db := &DB{Pool: pool}
	ctx := context.Background()
	if err := db.Audit(ctx, portal.Actor{IP: "127.0.0.1"}, portal.AuditEvent{Action: "test.event"}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE audit_events SET action = 'changed'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded on the audit log", sql)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'test.event'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit rows = %d, %v", n, err)
	}
}

func TestRateLimitSharedCounter(t *testing.T) {
	pool := NewTestPool(t)
	// Two stores on one database stand for two instances.
	a, b := &DB{Pool: pool}, &DB{Pool: pool}
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		db := a
		if i%2 == 1 {
			db = b
		}
		ok, _, err := db.Hit(ctx, "login_ip:192.0.2.1", 4, time.Hour)
		if err != nil || !ok {
			t.Fatalf("hit %d: ok=%v err=%v", i, ok, err)
		}
	}
	ok, retry, err := b.Hit(ctx, "login_ip:192.0.2.1", 4, time.Hour)
	if err != nil || ok || retry <= 0 || retry > time.Hour {
		t.Fatalf("fifth hit: ok=%v retry=%v err=%v; want refused with a retry time", ok, retry, err)
	}
	if ok, _, _ := a.Hit(ctx, "login_ip:192.0.2.2", 4, time.Hour); !ok {
		t.Fatal("another key was limited")
	}
}

func TestHierarchyRulesInSchema(t *testing.T) {
	pool := NewTestPool(t)
	ctx := context.Background()
	mk := func(prefix string, parent *int64) (int64, error) {
		var id int64
		err := pool.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, parent_id) VALUES ($1, $1, 'x@y.test', $2) RETURNING id`, prefix, parent).Scan(&id)
		return id, err
	}
	root, err := mk("10000001", nil)
	if err != nil {
		t.Fatal(err)
	}
	child, err := mk("10000002", &root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk("10000003", &child); err == nil {
		t.Error("created a grandchild")
	}
	other, _ := mk("10000004", nil)
	if _, err := pool.Exec(ctx, `UPDATE accounts SET parent_id = $1 WHERE id = $2`, other, root); err == nil {
		t.Error("an account with sub-accounts became a sub-account")
	}
	if _, err := pool.Exec(ctx, `UPDATE accounts SET parent_id = id WHERE id = $1`, other); err == nil {
		t.Error("self-link accepted")
	}
}
