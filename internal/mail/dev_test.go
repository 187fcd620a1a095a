package mail

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

func TestDevSenderStoresAndLogs(t *testing.T) {
	ctx := context.Background()
	db := &postgres.DB{Pool: postgres.NewTestPool(t)}
	var logs bytes.Buffer
	d := NewDevSender(db, "https://portal.example.test/", slog.New(slog.NewTextHandler(&logs, nil)))
	const token = "devtoken0123456789abcdefghijklmnopqrstuvwxyz"
	link := "https://portal.example.test/verify/" + token
	m := Message{To: "dev@example.test", Subject: "Confirm your email address", Text: "text body " + link,
		HTML: `<p>html body <a href="` + link + `">confirm</a></p>`, Link: link}
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
	got := logs.String()
	wantURL := fmt.Sprintf("https://portal.example.test/dev/mailbox/%d", ms[0].ID)
	for _, want := range []string{"dev mail", m.To, m.Subject, "url=" + wantURL + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q: %s", want, got)
		}
	}
	for _, secret := range []string{token, "/verify/", "body"} {
		if strings.Contains(got, secret) {
			t.Errorf("log contains %q: %s", secret, got)
		}
	}
}
