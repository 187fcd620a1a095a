package mail

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// mailpitSMTP returns the host:port of the test SMTP server.
func mailpitSMTP(t testing.TB) string {
	t.Helper()
	v := os.Getenv("MAILPIT_SMTP")
	if v == "" {
		t.Fatal("MAILPIT_SMTP is not set: run the tests with `make test`")
	}
	return v
}

// mailpitAPI returns the base URL of the test SMTP server's HTTP API.
func mailpitAPI(t testing.TB) string {
	t.Helper()
	v := os.Getenv("MAILPIT_API")
	if v == "" {
		t.Fatal("MAILPIT_API is not set: run the tests with `make test`")
	}
	return strings.TrimRight(v, "/")
}

// mailpitSender sends to the test SMTP server.
func mailpitSender(t testing.TB) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender("smtp://"+mailpitSMTP(t)+"?tls=none", "Carrier Portal <noreply@portal.example.test>")
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

// uniqueAddress returns a recipient no other test uses, since the test SMTP
// server is shared.
func uniqueAddress(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "mailtest-" + hex.EncodeToString(b) + "@example.test"
}

type mailpitAddress struct {
	Name    string
	Address string
}

type mailpitSummary struct {
	ID      string
	To      []mailpitAddress
	Subject string
}

type mailpitMessage struct {
	ID      string
	From    mailpitAddress
	To      []mailpitAddress
	Subject string
	Text    string
	HTML    string
}

func mailpitGet(t testing.TB, path string, into any) []byte {
	t.Helper()
	resp, err := http.Get(mailpitAPI(t) + path)
	if err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s: status %d, %v: %s", path, resp.StatusCode, err, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("mailpit %s: %v", path, err)
		}
	}
	return b
}

// mailpitSearch lists the messages to addr.
func mailpitSearch(t testing.TB, addr string) []mailpitSummary {
	t.Helper()
	var res struct{ Messages []mailpitSummary }
	mailpitGet(t, "/api/v1/search?query="+url.QueryEscape("to:"+addr), &res)
	var out []mailpitSummary
	for _, m := range res.Messages {
		for _, to := range m.To {
			if strings.EqualFold(to.Address, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// waitMailpit waits until n messages to addr have arrived and returns them.
func waitMailpit(t testing.TB, addr string, n int, within time.Duration) []mailpitSummary {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ms := mailpitSearch(t, addr)
		if len(ms) >= n || time.Now().After(deadline) {
			if len(ms) != n {
				t.Fatalf("got %d messages to %s, want %d", len(ms), addr, n)
			}
			return ms
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mailpitMessageByID(t testing.TB, id string) mailpitMessage {
	t.Helper()
	var m mailpitMessage
	mailpitGet(t, "/api/v1/message/"+url.PathEscape(id), &m)
	return m
}

func mailpitRaw(t testing.TB, id string) string {
	t.Helper()
	return string(mailpitGet(t, "/api/v1/message/"+url.PathEscape(id)+"/raw", nil))
}

func mailpitHeaders(t testing.TB, id string) map[string][]string {
	t.Helper()
	var h map[string][]string
	mailpitGet(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h
}
