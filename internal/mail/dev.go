package mail

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// DevStore keeps messages for the development mailbox; *postgres.DB is one.
type DevStore interface {
	// StoreDevMail keeps a message and returns the id the mailbox shows it
	// under.
	StoreDevMail(ctx context.Context, to, subject, text, html string) (int64, error)
}

// DevSender is the development mailer: it stores every message for the
// mailbox page instead of sending it, and logs where in the mailbox the
// message is, so a developer can open it from the console. It never logs
// the message's link or bodies: links carry tokens, and tokens stay out of
// logs even in development. Never use it in production.
type DevSender struct {
	store   DevStore
	baseURL string
	logger  *slog.Logger
}

// NewDevSender returns a development mailer that stores into store and logs
// mailbox URLs under baseURL, the portal's configured base URL.
func NewDevSender(store DevStore, baseURL string, logger *slog.Logger) *DevSender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DevSender{store: store, baseURL: strings.TrimRight(baseURL, "/"), logger: logger}
}

// Send stores m and logs its recipient, subject and mailbox URL.
func (d *DevSender) Send(ctx context.Context, m Message) error {
	id, err := d.store.StoreDevMail(ctx, m.To, m.Subject, m.Text, m.HTML)
	if err != nil {
		return fmt.Errorf("mail: dev mailbox: %w", err)
	}
	d.logger.InfoContext(ctx, "dev mail", "to", m.To, "subject", m.Subject, "url", d.mailboxURL(id))
	return nil
}

// mailboxURL is where the development mailbox shows the message with id.
func (d *DevSender) mailboxURL(id int64) string {
	return fmt.Sprintf("%s/dev/mailbox/%d", d.baseURL, id)
}
