package mail

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
)

// countingSender counts the messages its sender accepted.
type countingSender struct {
	Sender
	sent atomic.Int32
}

func (c *countingSender) Send(ctx context.Context, m Message) error {
	if err := c.Sender.Send(ctx, m); err != nil {
		return err
	}
	c.sent.Add(1)
	return nil
}

// switchSender delegates to a sender that can be replaced while jobs run.
type switchSender struct {
	mu       sync.Mutex
	to       Sender
	attempts int
}

func (s *switchSender) Send(ctx context.Context, m Message) error {
	s.mu.Lock()
	to := s.to
	s.attempts++
	s.mu.Unlock()
	return to.Send(ctx, m)
}

func (s *switchSender) set(to Sender) {
	s.mu.Lock()
	s.to = to
	s.mu.Unlock()
}

type failingSender struct{}

func (failingSender) Send(context.Context, Message) error { return errors.New("smtp is down") }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// enqueue commits one email job and returns it as the worker sees it.
func enqueue(t testing.TB, pool *pgxpool.Pool, q *Queue, client *river.Client[pgx.Tx], e portal.Email) *river.Job[EmailArgs] {
	t.Helper()
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return q.EnqueueTx(ctx, tx, e) }); err != nil {
		t.Fatalf("EnqueueTx: %v", err)
	}
	var id int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM river_job`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	row, err := client.JobGet(ctx, id)
	if err != nil {
		t.Fatalf("JobGet: %v", err)
	}
	var args EmailArgs
	if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
		t.Fatal(err)
	}
	row.Attempt = 1
	return &river.Job[EmailArgs]{JobRow: row, Args: args}
}

func deliveries(t testing.TB, pool *pgxpool.Pool, jobID int64) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM email_deliveries WHERE job_id = $1`, jobID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWorkerRunTwiceSendsOnce(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	client, q := insertOnly(t, pool)
	sender := &countingSender{Sender: mailpitSender(t)}
	w := NewWorker(pool, sender, testKey, testLogger(t))

	to := uniqueAddress(t)
	link := "https://portal.example.test/verify/twice"
	job := enqueue(t, pool, q, client, portal.Email{Template: portal.MailInvite, To: to, Link: link,
		Vars: map[string]string{"inviter": "Grace"}})
	for i := range 2 {
		if err := w.Work(ctx, job); err != nil {
			t.Fatalf("Work #%d: %v", i+1, err)
		}
	}
	if n := sender.sent.Load(); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
	if n := deliveries(t, pool, job.ID); n != 1 {
		t.Errorf("got %d delivery records, want 1", n)
	}
	got := mailpitMessageByID(t, waitMailpit(t, to, 1, 10*time.Second)[0].ID)
	if got.Subject != "You are invited to Carrier Portal" {
		t.Errorf("subject: got %q", got.Subject)
	}
	time.Sleep(300 * time.Millisecond)
	if ms := mailpitSearch(t, to); len(ms) != 1 {
		t.Errorf("mailpit has %d messages to %s, want 1", len(ms), to)
	}
}

func TestWorkerConcurrentRunsSendOnce(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	client, q := insertOnly(t, pool)
	sender := &countingSender{Sender: mailpitSender(t)}
	w := NewWorker(pool, sender, testKey, testLogger(t))
	job := enqueue(t, pool, q, client, portal.Email{Template: portal.MailRestored, To: uniqueAddress(t)})

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = w.Work(ctx, job) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Work #%d: %v", i, err)
		}
	}
	if n := sender.sent.Load(); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

func TestWorkerFailedSendIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	client, q := insertOnly(t, pool)
	sw := &switchSender{to: failingSender{}}
	w := NewWorker(pool, sw, testKey, testLogger(t))
	job := enqueue(t, pool, q, client, portal.Email{Template: portal.MailPasswordChanged, To: uniqueAddress(t)})

	if err := w.Work(ctx, job); err == nil {
		t.Fatal("Work with SMTP down: got nil, want an error so the job is retried")
	}
	if n := deliveries(t, pool, job.ID); n != 0 {
		t.Fatalf("after a failed send: got %d delivery records, want 0", n)
	}
	counting := &countingSender{Sender: mailpitSender(t)}
	sw.set(counting)
	if err := w.Work(ctx, job); err != nil {
		t.Fatalf("Work: %v", err)
	}
	if n := counting.sent.Load(); n != 1 || deliveries(t, pool, job.ID) != 1 {
		t.Errorf("after the retry: sent %d, want 1 and one delivery record", n)
	}
}

func TestWorkerCancelsHopelessJobs(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	client, q := insertOnly(t, pool)
	sender := &countingSender{Sender: failingSender{}}
	w := NewWorker(pool, sender, KeyFromSecret("rotated"), testLogger(t))
	job := enqueue(t, pool, q, client, portal.Email{Template: portal.MailInvite, To: uniqueAddress(t), Link: "https://portal.example.test/verify/x"})
	var cancel *river.JobCancelError
	if err := w.Work(ctx, job); !errors.As(err, &cancel) {
		t.Errorf("link sealed under another key: got %v, want a JobCancelError", err)
	}
	job.Args.Template = "no_such_template"
	job.Args.SealedLink = ""
	if err := w.Work(ctx, job); !errors.As(err, &cancel) {
		t.Errorf("unknown template: got %v, want a JobCancelError", err)
	}
}

// SMTP is down when the email is enqueued: the job fails and is retried
// with backoff, and once SMTP is back it is delivered exactly once.
func TestEmailSurvivesSMTPOutage(t *testing.T) {
	ctx := context.Background()
	pool := postgres.NewTestPool(t)
	down, err := NewSMTPSender("smtp://"+closedPort(t)+"?tls=none", "noreply@portal.example.test")
	if err != nil {
		t.Fatal(err)
	}
	down.Timeout = 2 * time.Second
	sw := &switchSender{to: down}
	w := NewWorker(pool, sw, testKey, testLogger(t))
	w.Backoff = func(int) time.Duration { return 200 * time.Millisecond }
	client, err := NewClient(pool, w, 2)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})

	to := uniqueAddress(t)
	link := "https://portal.example.test/verify/outage"
	q := NewQueue(client, testKey)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return q.EnqueueTx(ctx, tx, portal.Email{Template: portal.MailVerifyEmail, To: to, Link: link})
	})
	if err != nil {
		t.Fatalf("EnqueueTx: %v", err)
	}

	var jobID int64
	var errCount int
	waitFor(t, 10*time.Second, "two failed attempts", func() bool {
		err := pool.QueryRow(ctx, `SELECT id, coalesce(array_length(errors, 1), 0) FROM river_job`).Scan(&jobID, &errCount)
		return err == nil && errCount >= 2
	})
	if n := len(mailpitSearch(t, to)); n != 0 {
		t.Fatalf("got %d messages while SMTP was down", n)
	}

	counting := &countingSender{Sender: mailpitSender(t)}
	sw.set(counting)
	var state string
	waitFor(t, 15*time.Second, "the job to complete", func() bool {
		err := pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, jobID).Scan(&state)
		return err == nil && state == "completed"
	})
	got := mailpitMessageByID(t, waitMailpit(t, to, 1, 10*time.Second)[0].ID)
	if got.Subject != "Confirm your email address" || linkRE.FindString(got.Text) != link {
		t.Errorf("got subject %q, link %q; want the verification email with %s", got.Subject, linkRE.FindString(got.Text), link)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(mailpitSearch(t, to)); n != 1 || counting.sent.Load() != 1 {
		t.Errorf("delivered %d times (sender counted %d), want exactly once", n, counting.sent.Load())
	}
	if n := deliveries(t, pool, jobID); n != 1 {
		t.Errorf("got %d delivery records, want 1", n)
	}
}

func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 4 * time.Second, 6 * time.Second},
		{2, 8 * time.Second, 12 * time.Second},
		{3, 16 * time.Second, 24 * time.Second},
		{8, 8 * time.Minute, 10 * time.Minute},
		{25, 8 * time.Minute, 10 * time.Minute},
		{1000, 8 * time.Minute, 10 * time.Minute},
	}
	for _, tt := range tests {
		for range 50 {
			if got := DefaultBackoff(tt.attempt); got < tt.min || got > tt.max {
				t.Fatalf("DefaultBackoff(%d) = %s, want between %s and %s", tt.attempt, got, tt.min, tt.max)
			}
		}
	}
	w := NewWorker(nil, nil, testKey, nil)
	if got := w.Timeout(nil); got != 30*time.Second {
		t.Errorf("Timeout: got %s, want 30s", got)
	}
}
