// Package email holds the bodies of every email the portal sends, as templ
// components: an HTML body and a plain-text body per template. Render turns
// a portal.Email into a subject and the two bodies.
//
// Vars each template reads (every one optional; missing values get neutral
// wording):
//
//	all templates      name (the recipient, for the greeting)
//	verify_email       company, tech_prefix
//	feature_decision   feature, decision ("approved" or "denied"), note, company, tech_prefix
//	link_account       parent_company, child_company, tech_prefix
//	linked, unlinked   parent_company, child_company
//	activate_account   company, tech_prefix, inviter, parent_company
//	invite             inviter, company, accounts
//	invite_accepted    inviter (the recipient), name (who accepted), company
//	revoked, restored  company
//	email_changed      new_email
//	notice             subject, body
package email

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
)

// props is what every template sees: the vars of the email, by name.
type props struct {
	Name          string
	Company       string
	TechPrefix    string
	NewEmail      string
	Feature       string
	Decision      string
	Note          string
	Inviter       string
	Accounts      string
	ParentCompany string
	ChildCompany  string
	Subject       string
	Body          string
	Link          string
}

func newProps(e portal.Email) props {
	v := func(k string) string { return strings.TrimSpace(e.Vars[k]) }
	return props{
		Name:          v("name"),
		Company:       v("company"),
		TechPrefix:    v("tech_prefix"),
		NewEmail:      v("new_email"),
		Feature:       v("feature"),
		Decision:      v("decision"),
		Note:          v("note"),
		Inviter:       v("inviter"),
		Accounts:      v("accounts"),
		ParentCompany: v("parent_company"),
		ChildCompany:  v("child_company"),
		Subject:       v("subject"),
		Body:          strings.TrimSpace(e.Vars["body"]),
		Link:          e.Link,
	}
}

// template is one kind of email.
type template struct {
	subject func(props) string
	html    func(props, string) templ.Component
	text    func(props) templ.Component
}

var templates = map[string]template{
	portal.MailVerifyEmail:     {fixed("Confirm your email address"), verifyEmailHTML, verifyEmailText},
	portal.MailSignupExists:    {fixed("You already have a Carrier Portal login"), signupExistsHTML, signupExistsText},
	portal.MailResetPassword:   {fixed("Reset your password"), resetPasswordHTML, resetPasswordText},
	portal.MailPasswordChanged: {fixed("Your password was changed"), passwordChangedHTML, passwordChangedText},
	portal.MailChangeEmail:     {fixed("Confirm your new email address"), changeEmailHTML, changeEmailText},
	portal.MailEmailChanged:    {fixed("Your email address was changed"), emailChangedHTML, emailChangedText},
	portal.MailFeatureDecision: {featureDecisionSubject, featureDecisionHTML, featureDecisionText},
	portal.MailLinkAccount:     {fixed("Confirm linking your account"), linkAccountHTML, linkAccountText},
	portal.MailLinked:          {fixed("An account was linked as a sub-account"), linkedHTML, linkedText},
	portal.MailUnlinked:        {fixed("A sub-account was unlinked"), unlinkedHTML, unlinkedText},
	portal.MailActivateAccount: {fixed("Activate your Carrier Portal account"), activateAccountHTML, activateAccountText},
	portal.MailInvite:          {fixed("You are invited to Carrier Portal"), inviteHTML, inviteText},
	portal.MailInviteAccepted:  {fixed("Your invitation was accepted"), inviteAcceptedHTML, inviteAcceptedText},
	portal.MailRevoked:         {fixed("Your access was revoked"), revokedHTML, revokedText},
	portal.MailRestored:        {fixed("Your access was restored"), restoredHTML, restoredText},
	portal.MailNotice:          {noticeSubject, noticeHTML, noticeText},
}

func fixed(s string) func(props) string { return func(props) string { return s } }

// Known reports whether name is a template Render can render.
func Known(name string) bool {
	_, ok := templates[name]
	return ok
}

// Render returns the subject, the plain-text body and the HTML body of e.
// User values reach the HTML only through templ's escaping.
func Render(e portal.Email) (subject, text, html string, err error) {
	t, ok := templates[e.Template]
	if !ok {
		return "", "", "", fmt.Errorf("email: unknown template %q", e.Template)
	}
	p := newProps(e)
	subject = oneLine(t.subject(p))
	ctx := context.Background()
	var hb, tb bytes.Buffer
	if err := t.html(p, subject).Render(ctx, &hb); err != nil {
		return "", "", "", fmt.Errorf("email: render %s html: %w", e.Template, err)
	}
	if err := t.text(p).Render(ctx, &tb); err != nil {
		return "", "", "", fmt.Errorf("email: render %s text: %w", e.Template, err)
	}
	return subject, plain(tb.String()), hb.String(), nil
}

// plain undoes templ's HTML escaping of a plain-text body (the text
// templates contain no entities of their own, so this restores exactly the
// values that went in) and tidies the spaces templ leaves around
// conditional blocks.
func plain(s string) string {
	lines := strings.Split(html.UnescapeString(s), "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" && len(out) > 0 && out[len(out)-1] == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// oneLine folds line breaks, which have no place in a subject.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func featureDecisionSubject(p props) string {
	f := "feature"
	if p.Feature != "" {
		f = featureName(p.Feature)
	}
	switch p.Decision {
	case "approved":
		return "Your " + f + " request was approved"
	case "denied":
		return "Your " + f + " request was denied"
	}
	return "Your " + f + " request was reviewed"
}

func noticeSubject(p props) string {
	if p.Subject != "" {
		return p.Subject
	}
	return "A message from Carrier Portal"
}

// greeting opens every message.
func greeting(name string) string {
	if name == "" {
		return "Hello,"
	}
	return "Hello " + name + ","
}

// featureName shows a feature key the way the product names it.
func featureName(key string) string {
	switch key {
	case "sub_accounts":
		return "Sub-Accounts"
	case "multi_user":
		return "Multi-User"
	case "":
		return "the feature"
	}
	return key
}

// account names the account an email is about.
func (p props) account() string {
	return accountLabel(p.Company, p.TechPrefix, "your account")
}

func accountLabel(company, techPrefix, fallback string) string {
	switch {
	case company != "" && techPrefix != "":
		return company + " (" + techPrefix + ")"
	case company != "":
		return company
	case techPrefix != "":
		return "the account " + techPrefix
	}
	return fallback
}

// or returns s, or fallback when s is empty.
func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
