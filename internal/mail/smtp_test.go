package mail

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"carrierportal/internal/portal"
	"carrierportal/web/email"
)

func TestNewSMTPSenderURL(t *testing.T) {
	tests := []struct {
		url      string
		wantErr  bool
		port     int
		ssl      bool
		policy   gomail.TLSPolicy
		username string
		password string
	}{
		{url: "smtp://mail.example.com", port: 587, policy: gomail.TLSMandatory},
		{url: "smtp://user:p%40ss@mail.example.com:2525", port: 2525, policy: gomail.TLSMandatory, username: "user", password: "p@ss"},
		{url: "smtps://user:pass@mail.example.com", port: 465, ssl: true, policy: gomail.TLSMandatory, username: "user", password: "pass"},
		{url: "smtp://127.0.0.1:1025", port: 1025, policy: gomail.TLSOpportunistic},
		{url: "smtp://localhost:1025", port: 1025, policy: gomail.TLSOpportunistic},
		{url: "smtp://[::1]:1025?tls=none", port: 1025, policy: gomail.NoTLS},
		{url: "smtp://127.0.0.1:1025?tls=none", port: 1025, policy: gomail.NoTLS},
		{url: "smtp://mail.example.com?tls=none", wantErr: true},
		{url: "smtps://127.0.0.1?tls=none", wantErr: true},
		{url: "smtp://127.0.0.1?tls=maybe", wantErr: true},
		{url: "smtp://127.0.0.1?debug=1", wantErr: true},
		{url: "http://mail.example.com", wantErr: true},
		{url: "smtp://", wantErr: true},
		{url: "smtp://mail.example.com:0", wantErr: true},
		{url: "smtp://mail.example.com:99999", wantErr: true},
		{url: "::not a url", wantErr: true},
	}
	for _, tt := range tests {
		s, err := NewSMTPSender(tt.url, "noreply@portal.example.test")
		if tt.wantErr {
			if err == nil {
				t.Errorf("%s: got no error, want one", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if s.port != tt.port || s.ssl != tt.ssl || s.policy != tt.policy || s.username != tt.username || s.password != tt.password {
			t.Errorf("%s: got port %d ssl %v policy %v user %q pass %q, want %d %v %v %q %q", tt.url,
				s.port, s.ssl, s.policy, s.username, s.password, tt.port, tt.ssl, tt.policy, tt.username, tt.password)
		}
	}
	if _, err := NewSMTPSender("smtp://127.0.0.1", "not an address"); err == nil {
		t.Error("bad from address: got no error, want one")
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>]+`)

func TestSMTPSenderDeliversBothParts(t *testing.T) {
	const base = "https://portal.example.test"
	to := uniqueAddress(t)
	link := base + "/verify/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
	subject, text, html, err := email.Render(portal.Email{Template: portal.MailVerifyEmail, To: to,
		Vars: map[string]string{"name": "Ada Lovelace", "company": "Acme & Sons"}, Link: link})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if err := mailpitSender(t).Send(context.Background(), Message{To: to, Subject: subject, Text: text, HTML: html, Link: link}); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := mailpitMessageByID(t, waitMailpit(t, to, 1, 10*time.Second)[0].ID)
	if len(got.To) != 1 || got.To[0].Address != to {
		t.Errorf("To: got %+v, want %s", got.To, to)
	}
	if got.From.Address != "noreply@portal.example.test" {
		t.Errorf("From: got %+v, want noreply@portal.example.test", got.From)
	}
	if got.Subject != "Confirm your email address" {
		t.Errorf("Subject: got %q, want %q", got.Subject, "Confirm your email address")
	}
	if !strings.Contains(got.Text, "Hello Ada Lovelace,") || !strings.Contains(got.Text, "Acme & Sons") {
		t.Errorf("text part: got %q, want the greeting and the company as written", got.Text)
	}
	if !strings.Contains(got.HTML, "Carrier Portal") || !strings.Contains(got.HTML, "Acme &amp; Sons") {
		t.Errorf("html part: got %q, want the header and the escaped company", got.HTML)
	}
	for part, body := range map[string]string{"text": got.Text, "html": got.HTML} {
		links := linkRE.FindAllString(body, -1)
		if len(links) == 0 {
			t.Errorf("%s part has no link", part)
		}
		found := false
		for _, l := range links {
			if !strings.HasPrefix(l, base+"/") {
				t.Errorf("%s part links to %q, want only links under %s", part, l, base)
			}
			found = found || l == link
		}
		if !found {
			t.Errorf("%s part lacks the link %s: %v", part, link, links)
		}
	}
	raw := mailpitRaw(t, got.ID)
	for _, want := range []string{"multipart/alternative", "text/plain", "text/html"} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw message lacks %q", want)
		}
	}
}

func TestSMTPSenderSubjectWithCRLF(t *testing.T) {
	to := uniqueAddress(t)
	bcc := uniqueAddress(t)
	subject := "Account notice\r\nBcc: " + bcc + "\r\nX-Injected: yes"
	if err := mailpitSender(t).Send(context.Background(), Message{To: to, Subject: subject, Text: "body"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	id := waitMailpit(t, to, 1, 10*time.Second)[0].ID

	h := mailpitHeaders(t, id)
	if n := len(h["Subject"]); n != 1 {
		t.Errorf("got %d Subject headers, want 1: %v", n, h["Subject"])
	}
	for _, name := range []string{"Bcc", "X-Injected"} {
		if v, ok := h[name]; ok {
			t.Errorf("got an injected %s header: %v", name, v)
		}
	}
	raw := mailpitRaw(t, id)
	headers, _, _ := strings.Cut(strings.ReplaceAll(raw, "\r\n", "\n"), "\n\n")
	count := 0
	for _, line := range strings.Split(headers, "\n") {
		lower := strings.ToLower(line)
		if strings.HasPrefix(lower, "subject:") {
			count++
		}
		if strings.HasPrefix(lower, "bcc:") || strings.HasPrefix(lower, "x-injected:") {
			t.Errorf("raw message has an injected header line %q", line)
		}
	}
	if count != 1 {
		t.Errorf("raw message has %d Subject lines, want 1:\n%s", count, headers)
	}
	if got := mailpitSearch(t, bcc); len(got) != 0 {
		t.Errorf("the injected Bcc address received %d messages", len(got))
	}
}

func TestSMTPSenderErrors(t *testing.T) {
	ctx := context.Background()
	if err := mailpitSender(t).Send(ctx, Message{To: "not an address\r\nBcc: x@example.test", Subject: "s", Text: "t"}); !errors.Is(err, ErrInvalidRecipient) {
		t.Errorf("bad recipient: got %v, want ErrInvalidRecipient", err)
	}
	s, err := NewSMTPSender("smtp://"+closedPort(t)+"?tls=none", "noreply@portal.example.test")
	if err != nil {
		t.Fatal(err)
	}
	s.Timeout = 2 * time.Second
	if err := s.Send(ctx, Message{To: uniqueAddress(t), Subject: "s", Text: "t"}); err == nil {
		t.Error("closed port: got no error, want one")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
