package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carrierportal/internal/postgres"
)

// Email tokens never reach a log: not through the request log when their
// links are opened and submitted, not through the email worker, and not
// through the development mailer, which logs where in the mailbox a message
// is instead of its link.
func TestEmailFlowsLogNoTokens(t *testing.T) {
	logs := &lockedBuffer{}
	a := startTestAppWith(t, postgres.NewTestDB(t), nil, testAppOptions{logs: logs})
	if _, err := a.db.SeedDemo(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}

	type sent struct {
		what string
		mail postgres.DevMail
		link string // the emailed path, token included
	}
	var mails []sent
	var clients []*client

	// Sign-up: the verification email, opened and confirmed.
	lou := a.client()
	clients = append(clients, lou)
	link := a.signUp(lou, "Log Co", "Lou Logger", "lou@example.test", pw)
	mails = append(mails, sent{"verification", a.waitMail("lou@example.test"), link})
	if r := lou.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("GET verification link: %d", r.StatusCode)
	}
	if r := lou.post(link, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify: %d %s", r.StatusCode, excerpt(r.body))
	}

	// Forgot password: the reset email, opened and used.
	n := a.mailCount("lou@example.test")
	if r := a.client().post("/password/forgot", url.Values{"email": {"lou@example.test"}}); r.StatusCode != http.StatusOK {
		t.Fatalf("forgot: %d", r.StatusCode)
	}
	m := a.waitMailCount("lou@example.test", n+1)
	reset := a.client()
	clients = append(clients, reset)
	link = linkPath(t, m)
	mails = append(mails, sent{"reset", m, link})
	if r := reset.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("GET reset link: %d", r.StatusCode)
	}
	if r := reset.post(link, url.Values{"password": {"a brand new password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d %s", r.StatusCode, excerpt(r.body))
	}

	// Invitation: the invite email, opened and accepted.
	paula := a.demoLogin("principal@acme.test")
	clients = append(clients, paula)
	link = a.invite(paula, "Nina Invited", "nina@example.test", acmeRoles("none", "general", "none", "none"))
	mails = append(mails, sent{"invitation", a.waitMail("nina@example.test"), link})
	nina := a.client()
	clients = append(clients, nina)
	if r := nina.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("GET invitation link: %d", r.StatusCode)
	}
	if r := nina.post(link, url.Values{"full_name": {"Nina Invited"}, "password": {"nina's long password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.StatusCode, excerpt(r.body))
	}

	// Every job has run (the worker logs before River records the end).
	deadline := time.Now().Add(15 * time.Second)
	for a.count(`SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("email jobs still pending")
		}
		time.Sleep(50 * time.Millisecond)
	}

	got := logs.String()
	// The capture holds all three sources, so the absence below means something.
	for _, want := range []string{"method=GET path=/verify/{token} status=200",
		"method=POST path=/verify/{token} status=303", "msg=\"email sent\"", "msg=\"dev mail\""} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for _, s := range mails {
		token := s.link[strings.LastIndex(s.link, "/")+1:]
		if len(token) != 43 || !strings.Contains(s.mail.Text, token) {
			t.Fatalf("%s: no token in link %q", s.what, s.link)
		}
		// The token covers its path and full link too.
		if lines := linesWith(got, token); lines != "" {
			t.Errorf("%s: the token of %s reached the logs:\n%s", s.what, s.link, lines)
		}
		// The log says where the message is, and that page shows it.
		mailbox := fmt.Sprintf("%s/dev/mailbox/%d", testBaseURL, s.mail.ID)
		if !strings.Contains(got, "url="+mailbox+"\n") {
			t.Errorf("%s: logs lack the mailbox URL %s", s.what, mailbox)
		}
		r := a.client().get(strings.TrimPrefix(mailbox, testBaseURL))
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, token) {
			t.Errorf("%s: GET %s = %d, want the message with its link", s.what, mailbox, r.StatusCode)
		}
	}
	// Session cookies are tokens too.
	u, _ := url.Parse(a.srv.URL)
	for _, c := range clients {
		for _, ck := range c.hc.Jar.Cookies(u) {
			if len(ck.Value) >= 16 && strings.Contains(got, ck.Value) {
				t.Errorf("logs contain the value of cookie %s", ck.Name)
			}
		}
	}
}

// linesWith returns the lines of logs that contain s.
func linesWith(logs, s string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
