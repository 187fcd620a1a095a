package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"carrierportal/migrations"
)

var templateOnce sync.Map // template name -> *sync.Once

// TestURL returns the database URL tests connect to (TEST_DATABASE_URL, else
// DATABASE_URL). Tests fail, not skip, without one: `make test` sets it.
func TestURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = os.Getenv("DATABASE_URL")
	}
	if u == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`")
	}
	return u
}

// NewTestDB returns the URL of a fresh database for one test, cloned from a
// migrated template (made once per schema version), and drops it when the
// test ends.
func NewTestDB(t testing.TB) string {
	t.Helper()
	base := TestURL(t)
	ctx := context.Background()
	tmpl := templateName()
	onceAny, _ := templateOnce.LoadOrStore(tmpl, &sync.Once{})
	var tmplErr error
	onceAny.(*sync.Once).Do(func() { tmplErr = ensureTemplate(ctx, base, tmpl) })
	if tmplErr != nil {
		templateOnce.Delete(tmpl)
		t.Fatalf("test template: %v", tmplErr)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer admin.Close(ctx)
	var lastErr error
	for i := 0; i < 20; i++ {
		if _, lastErr = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the template may be briefly in use by a concurrent clone
	}
	if lastErr != nil {
		t.Fatalf("create test database: %v", lastErr)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabase(base, name)
}

// NewEmptyTestDB returns the URL of a fresh database with no schema at all,
// dropped when the test ends.
func NewEmptyTestDB(t testing.TB) string {
	t.Helper()
	base := TestURL(t)
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "e_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(base, name)
}

// NewTestPool returns a pool on a fresh test database.
func NewTestPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := Open(context.Background(), NewTestDB(t), 20)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// templateName is derived from the migrations, so a schema change makes a
// new template instead of reusing a stale one.
func templateName() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

func ensureTemplate(ctx context.Context, base, tmpl string) error {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	// Test binaries of several packages run at once: one builds the template.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(727274002)"); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock(727274002)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := tmpl + "_build"
	_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building))
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", building)); err != nil {
		return err
	}
	pool, err := Open(ctx, withDatabase(base, building), 2)
	if err != nil {
		return err
	}
	_, err = Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tmpl))
	return err
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}
