package email

import (
	"strings"
	"testing"

	"carrierportal/internal/portal"
)

var allTemplates = []string{
	portal.MailVerifyEmail, portal.MailSignupExists, portal.MailResetPassword, portal.MailPasswordChanged,
	portal.MailChangeEmail, portal.MailEmailChanged, portal.MailFeatureDecision, portal.MailLinkAccount,
	portal.MailLinked, portal.MailUnlinked, portal.MailActivateAccount, portal.MailInvite,
	portal.MailInviteAccepted, portal.MailRevoked, portal.MailRestored, portal.MailNotice,
}

func fullVars() map[string]string {
	return map[string]string{
		"name": "Ada Lovelace", "company": "Acme Telecom", "tech_prefix": "12345678",
		"new_email": "ada@new.example.test", "feature": "sub_accounts", "decision": "approved",
		"note": "Welcome aboard.", "inviter": "Grace Hopper", "accounts": "Acme East, Acme West",
		"parent_company": "Acme Holdings", "child_company": "Acme East",
		"subject": "Planned maintenance", "body": "We will upgrade the switches on Sunday.\nNo action is needed.",
	}
}

func TestRenderEveryTemplate(t *testing.T) {
	const link = "https://portal.example.test/verify/abc_DEF-123"
	for _, name := range allTemplates {
		for _, vars := range []map[string]string{fullVars(), nil} {
			subject, text, html, err := Render(portal.Email{Template: name, To: "ada@example.test", Vars: vars, Link: link})
			if err != nil {
				t.Fatalf("%s: Render: %v", name, err)
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("%s: subject = %q, want one non-empty line", name, subject)
			}
			for _, want := range []string{`data-testid="email-header"`, "Carrier Portal", `href="` + link + `"`, "If you did not expect this email you can ignore it.", "#1d4ed8"} {
				if !strings.Contains(html, want) {
					t.Errorf("%s: html lacks %q", name, want)
				}
			}
			for _, want := range []string{link, "If you did not expect this email you can ignore it."} {
				if !strings.Contains(text, want) {
					t.Errorf("%s: text lacks %q", name, want)
				}
			}
			if strings.Contains(text, "<") || strings.Contains(text, "&amp;") {
				t.Errorf("%s: text body has markup: %q", name, text)
			}
			if vars != nil && name != portal.MailInviteAccepted && !strings.Contains(text, "Hello Ada Lovelace,") {
				t.Errorf("%s: text greeting missing: %q", name, text)
			}
		}
	}
}

func TestRenderWithoutLinkHasNoButton(t *testing.T) {
	_, text, html, err := Render(portal.Email{Template: portal.MailPasswordChanged, To: "a@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "email-button") || strings.Contains(text, "http") {
		t.Errorf("got a call to action without a link:\n%s\n%s", html, text)
	}
}

func TestRenderUnknownTemplate(t *testing.T) {
	if _, _, _, err := Render(portal.Email{Template: "nope", To: "a@example.test"}); err == nil {
		t.Fatal("got nil error for an unknown template, want one")
	}
	if Known("nope") || !Known(portal.MailInvite) {
		t.Error("Known disagrees with the template table")
	}
}

func TestRenderEscapesUserText(t *testing.T) {
	vars := map[string]string{"name": `<script>alert("x")</script>`, "company": "Fish & Chips <Ltd>", "inviter": `Eve "the" <b>Admin</b>`}
	_, text, html, err := Render(portal.Email{Template: portal.MailInvite, To: "a@example.test", Vars: vars,
		Link: "https://portal.example.test/verify/x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<b>Admin</b>", "<Ltd>"} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains unescaped %q", bad)
		}
	}
	if !strings.Contains(html, "Fish &amp; Chips &lt;Ltd&gt;") {
		t.Errorf("html lacks the escaped company name")
	}
	// The plain-text part shows user text exactly as written.
	for _, want := range []string{`Hello <script>alert("x")</script>,`, "Fish & Chips <Ltd>", `Eve "the" <b>Admin</b>`} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestRenderRejectsUnsafeLinkScheme(t *testing.T) {
	_, _, html, err := Render(portal.Email{Template: portal.MailResetPassword, To: "a@example.test", Link: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Error("html links to a javascript: URL")
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		template string
		vars     map[string]string
		want     string
	}{
		{portal.MailVerifyEmail, nil, "Confirm your email address"},
		{portal.MailResetPassword, nil, "Reset your password"},
		{portal.MailFeatureDecision, map[string]string{"feature": "sub_accounts", "decision": "approved"}, "Your Sub-Accounts request was approved"},
		{portal.MailFeatureDecision, map[string]string{"feature": "multi_user", "decision": "denied"}, "Your Multi-User request was denied"},
		{portal.MailFeatureDecision, nil, "Your feature request was reviewed"},
		{portal.MailNotice, map[string]string{"subject": "Line one\r\nBcc: x@example.test"}, "Line one Bcc: x@example.test"},
		{portal.MailNotice, nil, "A message from Carrier Portal"},
	}
	for _, tt := range tests {
		got, _, _, err := Render(portal.Email{Template: tt.template, To: "a@example.test", Vars: tt.vars})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s subject: got %q, want %q", tt.template, got, tt.want)
		}
	}
}

func TestExpiryWording(t *testing.T) {
	tests := map[string]string{
		portal.MailVerifyEmail:     "48 hours",
		portal.MailChangeEmail:     "48 hours",
		portal.MailResetPassword:   "1 hour",
		portal.MailLinkAccount:     "72 hours",
		portal.MailActivateAccount: "7 days",
		portal.MailInvite:          "7 days",
	}
	for name, within := range tests {
		_, text, html, err := Render(portal.Email{Template: name, To: "a@example.test", Link: "https://portal.example.test/verify/x"})
		if err != nil {
			t.Fatal(err)
		}
		want := "This link expires in " + within
		if !strings.Contains(text, want) || !strings.Contains(html, want) {
			t.Errorf("%s: want %q in both bodies", name, want)
		}
	}
}

func TestEveryTemplateConstantIsRendered(t *testing.T) {
	if len(templates) != len(allTemplates) {
		t.Errorf("got %d templates, want %d", len(templates), len(allTemplates))
	}
	for _, name := range allTemplates {
		if !Known(name) {
			t.Errorf("template %s is missing", name)
		}
	}
}
