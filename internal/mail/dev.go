package mail

import (
	"context"
	"fmt"
	"log/slog"
)

// DevStore keeps messages for the development mailbox; *postgres.DB is one.
type DevStore interface {
	StoreDevMail(ctx context.Context, to, subject, text, html string) error
}

// DevSender is the development mailer: it stores every message for the
// mailbox page instead of sending it, and logs its link so a developer can
// follow it from the console. Never use it in production: links carry
// tokens.
type DevSender struct {
	store  DevStore
	logger *slog.Logger
}

// NewDevSender returns a development mailer that stores into store.
func NewDevSender(store DevStore, logger *slog.Logger) *DevSender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DevSender{store: store, logger: logger}
}

// Send stores m and logs it.
func (d *DevSender) Send(ctx context.Context, m Message) error {
	if err := d.store.StoreDevMail(ctx, m.To, m.Subject, m.Text, m.HTML); err != nil {
		return fmt.Errorf("mail: dev mailbox: %w", err)
	}
	d.logger.InfoContext(ctx, "dev mail", "to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}
