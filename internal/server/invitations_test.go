package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carrierportal/internal/postgres"
)

// invite adds a user from Acme's root through the form and returns the
// path of the invitation link.
func (a *testApp) invite(paula *client, name, email string, roles url.Values) string {
	a.t.Helper()
	form := url.Values{"full_name": {name}, "email": {email}}
	for k, v := range roles {
		form[k] = v
	}
	r := paula.post(usersURL+"/new", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != usersURL {
		a.t.Fatalf("invite %s: %d %s", email, r.StatusCode, excerpt(r.body))
	}
	return linkPath(a.t, a.waitMail(email))
}

// invitationID is the id of the newest invitation to an address.
func (a *testApp) invitationID(email string) string {
	a.t.Helper()
	return fmt.Sprint(a.count(`SELECT max(id) FROM invitations WHERE lower(email) = lower($1)`, email))
}

func TestInviteNewPerson(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")

	// The form checks its input and keeps what was typed.
	r := paula.post(usersURL+"/new", url.Values{"full_name": {"Nora New"}, "email": {"nora@example.test"}, "role_31415900": {"none"},
		"role_31415901": {"none"}, "role_31415902": {"none"}, "role_31415903": {"none"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-roles"`) || !strings.Contains(r.body, "nora@example.test") {
		t.Fatalf("no account: %d %s", r.StatusCode, excerpt(r.body))
	}
	r = paula.post(usersURL+"/new", url.Values{"full_name": {"Nora New"}, "email": {"not-an-email"}, "role_31415901": {"general"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-email"`) {
		t.Fatalf("bad email: %d", r.StatusCode)
	}
	r = paula.post(usersURL+"/new", url.Values{"full_name": {"Nora New"}, "email": {"nora@example.test"}, "role_31415901": {"owner"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown role: %d", r.StatusCode)
	}
	r = paula.post(usersURL+"/new", url.Values{"full_name": {"Pete Again"}, "email": {"power@acme.test"}, "role_31415901": {"general"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "already a user here") {
		t.Fatalf("invite a member: %d %s", r.StatusCode, excerpt(r.body))
	}

	link := a.invite(paula, "Nora New", "nora@example.test", acmeRoles("none", "general", "none", "none"))
	if !strings.Contains(paula.get(usersURL).body, `data-email="nora@example.test" data-status="pending"`) {
		t.Error("the list does not show the pending invitation")
	}
	nora := a.client()
	page := nora.get(link)
	for _, want := range []string{"Paula Principal", "Acme West (31415901) as General", `name="full_name"`, `name="password"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("invitation page lacks %q: %s", want, excerpt(page.body))
		}
	}
	if r := nora.post(link, url.Values{"full_name": {"Nora New"}, "password": {"short"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", r.StatusCode)
	}
	r = nora.post(link, url.Values{"full_name": {"Nora New"}, "password": {"nora's long password"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/accounts/31415901" {
		t.Fatalf("accept: %d %q %s", r.StatusCode, r.Header.Get("Location"), excerpt(r.body))
	}
	for path, want := range map[string]int{"/accounts/31415901": 200, "/accounts/31415901/billing": 200, "/accounts/31415901/api-keys": 403,
		"/accounts/31415900": 404, "/accounts/31415902": 404} {
		if r := nora.get(path); r.StatusCode != want {
			t.Errorf("new user: GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
	if m := a.waitMail("principal@acme.test"); m.Subject != "Your invitation was accepted" || !strings.Contains(m.Text, "Nora New") {
		t.Errorf("inviter's notice: %q %s", m.Subject, m.Text)
	}
	if r := a.client().get(link); r.StatusCode != http.StatusGone {
		t.Errorf("link after use: %d, want 410", r.StatusCode)
	}
	body := paula.get(usersURL).body
	if !strings.Contains(body, `data-email="nora@example.test" data-status="active"`) {
		t.Error("the list does not show the new user as active")
	}
}

func TestInviteExistingLogin(t *testing.T) {
	a := demoApp(t, nil)
	paula, gary := a.demoLogin("principal@acme.test"), a.demoLogin("owner@globex.test")
	link := a.invite(paula, "Gary Globex", "owner@globex.test", acmeRoles("none", "power", "none", "none"))

	// Invited but not accepted: no access yet.
	if r := gary.get("/accounts/31415901"); r.StatusCode != http.StatusNotFound {
		t.Errorf("before acceptance: %d, want 404", r.StatusCode)
	}
	anon := a.client()
	if page := anon.get(link); !strings.Contains(page.body, "already has a Carrier Portal login") || strings.Contains(page.body, `name="full_name"`) {
		t.Errorf("invitation page for an existing login: %s", excerpt(page.body))
	}
	if r := anon.post(link, nil); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="invite-signin-form"`) {
		t.Fatalf("sign-in step: %d %s", r.StatusCode, excerpt(r.body))
	}
	if r := anon.post(link, url.Values{"signin": {"1"}, "password": {"wrong password!"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	if r := gary.get("/accounts/31415901"); r.StatusCode != http.StatusNotFound {
		t.Errorf("after a failed sign-in: %d, want 404", r.StatusCode)
	}
	r := anon.post(link, url.Values{"signin": {"1"}, "password": {postgres.DemoPassword}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/accounts/31415901" {
		t.Fatalf("sign in and accept: %d %s", r.StatusCode, excerpt(r.body))
	}
	for path, want := range map[string]int{"/accounts/31415901/api-keys": 200, "/accounts/27182800": 200, "/accounts/31415900": 404} {
		if r := anon.get(path); r.StatusCode != want {
			t.Errorf("after acceptance: GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
	// The same takes effect in the session Gary already had.
	if r := gary.get("/accounts/31415901"); r.StatusCode != http.StatusOK {
		t.Errorf("Gary's own session after acceptance: %d", r.StatusCode)
	}

	// Signed in as the invitee, one click accepts.
	ivy := a.demoLogin("owner@initech.test")
	link = a.invite(paula, "Ivy Initech", "owner@initech.test", acmeRoles("none", "none", "general", "none"))
	if page := ivy.get(link); !strings.Contains(page.body, "Accept to add these accounts to your login") {
		t.Errorf("signed-in invitee's page: %s", excerpt(page.body))
	}
	before := ivy.cookie("portal_session").Value
	if r := ivy.post(link, nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/accounts/31415902" {
		t.Fatalf("accept while signed in: %d %s", r.StatusCode, excerpt(r.body))
	}
	// Gaining roles is a privilege change: the session token is renewed.
	if after := ivy.cookie("portal_session").Value; after == before {
		t.Error("session token not renewed when the invitation added roles")
	}
	if r := ivy.get("/accounts/31415902/billing"); r.StatusCode != http.StatusOK {
		t.Errorf("Ivy on East: %d", r.StatusCode)
	}
}

func TestInvitationLinks(t *testing.T) {
	a := demoApp(t, nil)
	paula := a.demoLogin("principal@acme.test")
	west := acmeRoles("none", "general", "none", "none")
	accept := func(link string) *response {
		return a.client().post(link, url.Values{"full_name": {"Someone"}, "password": {"a good long password"}})
	}

	t.Run("expiry", func(t *testing.T) {
		link := a.invite(paula, "Exp", "exp@example.test", west)
		a.pool.Exec(context.Background(), `UPDATE verification_tokens SET expires_at = now() - interval '1 minute' WHERE purpose = 'accept_invite'`)
		a.pool.Exec(context.Background(), `UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = 'exp@example.test'`)
		if r := a.client().get(link); r.StatusCode != http.StatusGone || !strings.Contains(r.body, "expired") {
			t.Errorf("expired link: %d", r.StatusCode)
		}
		if r := accept(link); r.StatusCode != http.StatusGone {
			t.Errorf("accept expired: %d", r.StatusCode)
		}
		if !strings.Contains(paula.get(usersURL).body, `data-email="exp@example.test" data-status="expired"`) {
			t.Error("the list does not show the invitation as expired")
		}
	})
	t.Run("reuse", func(t *testing.T) {
		link := a.invite(paula, "Reuse", "reuse@example.test", west)
		if r := accept(link); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("accept: %d %s", r.StatusCode, excerpt(r.body))
		}
		if r := accept(link); r.StatusCode != http.StatusGone {
			t.Errorf("reuse: %d, want 410", r.StatusCode)
		}
	})
	t.Run("resend kills the old link", func(t *testing.T) {
		old := a.invite(paula, "Resend", "resend@example.test", west)
		if r := paula.post(usersURL+"/"+a.invitationID("resend@example.test")+"/resend", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("resend: %d %s", r.StatusCode, excerpt(r.body))
		}
		fresh := linkPath(t, a.waitMailCount("resend@example.test", 2))
		if fresh == old {
			t.Fatal("resend sent the same link")
		}
		if r := a.client().get(old); r.StatusCode != http.StatusGone {
			t.Errorf("old link: %d, want 410", r.StatusCode)
		}
		if r := accept(fresh); r.StatusCode != http.StatusSeeOther {
			t.Errorf("new link: %d", r.StatusCode)
		}
	})
	t.Run("cancel kills the link", func(t *testing.T) {
		link := a.invite(paula, "Cancel", "cancel@example.test", west)
		if r := paula.post(usersURL+"/"+a.invitationID("cancel@example.test")+"/cancel", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("cancel: %d", r.StatusCode)
		}
		if r := a.client().get(link); r.StatusCode != http.StatusGone {
			t.Errorf("cancelled link: %d, want 410", r.StatusCode)
		}
		if strings.Contains(paula.get(usersURL).body, `data-email="cancel@example.test"`) {
			t.Error("a cancelled invitation is still listed")
		}
	})
	t.Run("inviter revoked meanwhile", func(t *testing.T) {
		erin := a.demoLogin("east-owner@acme.test")
		r := erin.post("/accounts/31415902/settings/users/new", url.Values{"full_name": {"Via Erin"}, "email": {"via-erin@example.test"},
			"role_31415902": {"general"}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("Erin invites: %d %s", r.StatusCode, excerpt(r.body))
		}
		link := linkPath(t, a.waitMail("via-erin@example.test"))
		paula.post(usersURL+"/"+a.userID("east-owner@acme.test")+"/revoke", nil)
		if r := a.client().get(link); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no longer valid") {
			t.Errorf("link of a revoked inviter: %d %s", r.StatusCode, excerpt(r.body))
		}
		if r := accept(link); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("accept: %d", r.StatusCode)
		}
		if n := a.count(`SELECT count(*) FROM users WHERE email = 'via-erin@example.test'`); n != 0 {
			t.Errorf("logins made: %d", n)
		}
	})
}
