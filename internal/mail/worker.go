package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"carrierportal/internal/portal"
	"carrierportal/web/email"
)

// Backoff bounds.
const (
	backoffBase = 5 * time.Second
	backoffMax  = 10 * time.Minute
)

// Worker renders and sends email jobs.
type Worker struct {
	river.WorkerDefaults[EmailArgs]
	pool   *pgxpool.Pool
	sender Sender
	key    [32]byte
	logger *slog.Logger
	// Backoff is the wait before the next attempt after the given attempt
	// (1 for the first) failed; DefaultBackoff unless set.
	Backoff func(attempt int) time.Duration
}

// NewWorker returns a worker that sends through sender and opens links
// sealed with key. It records deliveries in pool.
func NewWorker(pool *pgxpool.Pool, sender Sender, key [32]byte, logger *slog.Logger) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{pool: pool, sender: sender, key: key, logger: logger, Backoff: DefaultBackoff}
}

// DefaultBackoff doubles from about 5 seconds up to 10 minutes, with 20%
// jitter so that jobs failed by one outage do not all retry at once.
func DefaultBackoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 10 {
		d = min(backoffBase<<(attempt-1), backoffMax)
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return min(time.Duration(float64(d)*jitter), backoffMax)
}

// NextRetry schedules the next attempt after a failure.
func (w *Worker) NextRetry(job *river.Job[EmailArgs]) time.Time {
	backoff := w.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	return time.Now().Add(backoff(job.Attempt))
}

// Timeout bounds one attempt.
func (w *Worker) Timeout(*river.Job[EmailArgs]) time.Duration { return 30 * time.Second }

// Work sends the email of job once, however often the job runs: the
// delivery is recorded under the job id in the transaction that is
// committed only after the SMTP server accepted the message. A failed send
// rolls the record back so the retry sends again. (A crash between the
// server's acceptance and the commit can still send twice; no protocol
// closes that window.)
func (w *Worker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	a := job.Args
	link, err := unseal(w.key, a.Template, a.To, a.SealedLink)
	if err != nil {
		// A link sealed under another key never opens: retrying is useless.
		return river.JobCancel(err)
	}
	subject, text, html, err := email.Render(portal.Email{Template: a.Template, To: a.To, Vars: a.Vars, Link: link})
	if err != nil {
		return river.JobCancel(err)
	}

	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("mail: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	tag, err := tx.Exec(ctx, `INSERT INTO email_deliveries (job_id) VALUES ($1) ON CONFLICT (job_id) DO NOTHING`, job.ID)
	if err != nil {
		return fmt.Errorf("mail: record delivery: %w", err)
	}
	if tag.RowsAffected() == 0 {
		w.logger.InfoContext(ctx, "email already sent", "job_id", job.ID, "template", a.Template)
		return nil
	}
	err = w.sender.Send(ctx, Message{To: a.To, Subject: subject, Text: text, HTML: html, Link: link})
	if errors.Is(err, ErrInvalidRecipient) {
		return river.JobCancel(err)
	}
	if err != nil {
		w.logger.WarnContext(ctx, "email send failed", "job_id", job.ID, "template", a.Template,
			"attempt", job.Attempt, "err", err)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("mail: commit delivery: %w", err)
	}
	w.logger.InfoContext(ctx, "email sent", "job_id", job.ID, "template", a.Template, "attempt", job.Attempt)
	return nil
}

// NewClient returns the job client. With a worker it works the email queue
// (at most workers emails at a time) and the default queue; with none it
// only inserts jobs, for commands that enqueue but do not send.
func NewClient(pool *pgxpool.Pool, worker *Worker, workers int) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{}
	if worker != nil {
		if workers <= 0 {
			workers = 4
		}
		ws := river.NewWorkers()
		if err := river.AddWorkerSafely(ws, worker); err != nil {
			return nil, fmt.Errorf("mail: register worker: %w", err)
		}
		cfg.Workers = ws
		cfg.Queues = map[string]river.QueueConfig{
			QueueName:          {MaxWorkers: workers},
			river.QueueDefault: {MaxWorkers: workers},
		}
		cfg.Logger = worker.logger
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("mail: job client: %w", err)
	}
	return client, nil
}
