package mail

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

func TestDevSenderStoresAndLogs(t *testing.T) {
	ctx := context.Background()
	db := &postgres.DB{Pool: postgres.NewTestPool(t)}
	var logs bytes.Buffer
	d := NewDevSender(db, slog.New(slog.NewTextHandler(&logs, nil)))
	m := Message{To: "dev@example.test", Subject: "Confirm your email address", Text: "text body",
		HTML: "<p>html body</p>", Link: "https://portal.example.test/verify/devtoken"}
	if err := d.Send(ctx, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ms, err := db.DevMails(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].To != m.To || ms[0].Subject != m.Subject || ms[0].Text != m.Text || ms[0].HTML != m.HTML {
		t.Fatalf("dev mailbox: got %+v, want the message", ms)
	}
	for _, want := range []string{"dev mail", m.To, m.Link} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
}
