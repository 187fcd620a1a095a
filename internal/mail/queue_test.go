package mail

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

var _ postgres.Outbox = (*Queue)(nil)

var testKey = KeyFromSecret("test secret")

// insertOnly returns an insert-only job client and its outbox.
func insertOnly(t testing.TB, pool *pgxpool.Pool) (*river.Client[pgx.Tx], *Queue) {
	t.Helper()
	client, err := NewClient(pool, nil, 0)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return client, NewQueue(client, testKey)
}

func countJobs(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnqueueTxFollowsTheTransaction(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	_, q := insertOnly(t, pool)
	const token = "c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1ub3QtbGVhaw"
	e := portal.Email{Template: portal.MailResetPassword, To: uniqueAddress(t),
		Vars: map[string]string{"name": "Ada"}, Link: "https://portal.example.test/password/reset/" + token}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueTx(ctx, tx, e); err != nil {
		t.Fatalf("EnqueueTx: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countJobs(t, pool); n != 0 {
		t.Fatalf("after rollback: got %d jobs, want 0", n)
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return q.EnqueueTx(ctx, tx, e) })
	if err != nil {
		t.Fatalf("EnqueueTx: %v", err)
	}
	if n := countJobs(t, pool); n != 1 {
		t.Fatalf("after commit: got %d jobs, want 1", n)
	}
	var kind, queue, args string
	var maxAttempts int
	err = pool.QueryRow(ctx, `SELECT kind, queue, max_attempts, args::text FROM river_job`).Scan(&kind, &queue, &maxAttempts, &args)
	if err != nil {
		t.Fatal(err)
	}
	if kind != "email" || queue != "email" || maxAttempts != 25 {
		t.Errorf("got kind %q queue %q max_attempts %d, want email, email, 25", kind, queue, maxAttempts)
	}
	if strings.Contains(args, token) || strings.Contains(args, "/password/reset/") {
		t.Errorf("job args contain the link in clear: %s", args)
	}
	if !strings.Contains(args, e.To) || !strings.Contains(args, `"sealed_link"`) {
		t.Errorf("job args lack the recipient or the sealed link: %s", args)
	}
}

func TestEnqueueTxRejectsBadEmails(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	_, q := insertOnly(t, pool)
	for _, e := range []portal.Email{
		{Template: "no_such_template", To: "a@example.test"},
		{Template: portal.MailInvite},
	} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return q.EnqueueTx(ctx, tx, e) })
		if err == nil {
			t.Errorf("%+v: got no error, want one", e)
		}
	}
	if n := countJobs(t, pool); n != 0 {
		t.Errorf("got %d jobs, want 0", n)
	}
}

func TestSealedLink(t *testing.T) {
	const link = "https://portal.example.test/verify/abc"
	sealed, err := seal(testKey, portal.MailInvite, "a@example.test", link)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "abc") || strings.Contains(sealed, "portal") {
		t.Errorf("sealed link shows its content: %s", sealed)
	}
	again, _ := seal(testKey, portal.MailInvite, "a@example.test", link)
	if again == sealed {
		t.Error("sealing twice gave the same text: the nonce is not random")
	}
	if got, err := unseal(testKey, portal.MailInvite, "a@example.test", sealed); err != nil || got != link {
		t.Errorf("unseal: got %q, %v; want %q", got, err, link)
	}
	for name, open := range map[string]func() (string, error){
		"other key": func() (string, error) {
			return unseal(KeyFromSecret("other"), portal.MailInvite, "a@example.test", sealed)
		},
		"other recipient": func() (string, error) { return unseal(testKey, portal.MailInvite, "b@example.test", sealed) },
		"other template":  func() (string, error) { return unseal(testKey, portal.MailNotice, "a@example.test", sealed) },
		"tampered": func() (string, error) {
			return unseal(testKey, portal.MailInvite, "a@example.test", flipLastByte(sealed))
		},
		"not base64": func() (string, error) { return unseal(testKey, portal.MailInvite, "a@example.test", "!!") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: unsealed to %q, want an error", name, got)
		}
	}
	if s, err := seal(testKey, portal.MailInvite, "a@example.test", ""); err != nil || s != "" {
		t.Errorf("empty link: got %q, %v; want empty", s, err)
	}
	if KeyFromSecret("a") == KeyFromSecret("b") {
		t.Error("different secrets give the same key")
	}
}

func flipLastByte(sealed string) string {
	b, _ := base64.RawURLEncoding.DecodeString(sealed)
	b[len(b)-1] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}
