package postgres

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// invite sends an invitation from Acme's root Principal and returns its id
// and the raw token of its email.
func (f *demoFamily) invite(email string, roles map[string]portal.Role) (int64, string) {
	f.t.Helper()
	byID := map[int64]portal.Role{}
	for p, r := range roles {
		byID[f.accounts[p]] = r
	}
	id, err := f.db.Invite(context.Background(), f.actor("principal@acme.test"), f.root, NewInvitation{Name: "Ivan Invitee", Email: email, Roles: byID})
	if err != nil {
		f.t.Fatalf("invite %s: %v", email, err)
	}
	return id, f.lastToken(email)
}

// accept redeems an invitation token in its own transaction-free call.
func (f *demoFamily) accept(raw string, acc Acceptance) (*portal.User, error) {
	u, _, err := f.db.AcceptInvitation(context.Background(), portal.Actor{IP: "192.0.2.8"}, raw, acc)
	return u, err
}

func newPerson() Acceptance { return Acceptance{Name: "Ivan Invitee", PasswordHash: "$argon2id$test"} }

func TestInvitationAcceptedByNewPerson(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	_, raw := f.invite("ivan@example.test", map[string]portal.Role{"31415901": portal.RoleGeneral, "31415902": portal.RolePower})
	if got := f.count(`SELECT count(*) FROM users WHERE email = 'ivan@example.test'`); got != 0 {
		t.Fatalf("a login exists before acceptance: %d", got)
	}
	users, _, err := f.db.ManagedUsers(ctx, f.root, UserFilter{Query: "ivan@"})
	if err != nil || len(users) != 1 || users[0].Status != InvitePending || users[0].TypeLabel() != "Power" {
		t.Fatalf("pending row: %+v, %v", users, err)
	}

	u, err := f.accept(raw, newPerson())
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if !u.Verified() {
		t.Error("the invitee's address is not marked verified")
	}
	if got, want := f.roles("ivan@example.test"), map[string]string{"31415901": "general", "31415902": "power"}; !maps.Equal(got, want) {
		t.Errorf("memberships: got %v, want %v", got, want)
	}
	if got := f.count(`SELECT count(*) FROM dev_mail WHERE subject = 'invite_accepted' AND to_addr = 'principal@acme.test'`); got != 1 {
		t.Errorf("acceptance notices to the inviter: got %d, want 1", got)
	}
	if got := f.count(`SELECT count(*) FROM audit_events WHERE action = 'invite.accepted' AND actor_user_id = $1`, u.ID); got != 1 {
		t.Errorf("acceptance audit events: got %d, want 1", got)
	}
	_, err = f.accept(raw, newPerson())
	if err != ErrTokenInvalid {
		t.Errorf("second acceptance: got %v, want the token refused", err)
	}
	// Now a user of the family: a second invitation is refused.
	_, err = f.db.Invite(ctx, f.actor("principal@acme.test"), f.root, NewInvitation{Name: "Ivan", Email: "IVAN@example.test",
		Roles: map[int64]portal.Role{f.accounts["31415900"]: portal.RoleGeneral}})
	wantCode(t, "invite a member", err, portal.ECONFLICT)
}

func TestInvitationTokens(t *testing.T) {
	f := newDemoFamily(t)
	ctx := context.Background()
	west := map[string]portal.Role{"31415901": portal.RoleGeneral}
	paula := f.actor("principal@acme.test")

	t.Run("expiry", func(t *testing.T) {
		id, raw := f.invite("exp@example.test", west)
		if _, err := f.db.Pool.Exec(ctx, `UPDATE verification_tokens SET expires_at = now() - interval '1 second' WHERE subject = $1`,
			invitationSubject(id)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.accept(raw, newPerson()); err != ErrTokenInvalid {
			t.Errorf("expired token: got %v, want refused", err)
		}
		// The invitation itself runs out with it; the list says so.
		if _, err := f.db.Pool.Exec(ctx, `UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		users, _, _ := f.db.ManagedUsers(ctx, f.root, UserFilter{Query: "exp@"})
		if len(users) != 1 || users[0].Status != InviteExpired {
			t.Errorf("expired row: %+v", users)
		}
		// An expired invitation does not block a new one.
		if _, err := f.db.Invite(ctx, paula, f.root, NewInvitation{Name: "Exp", Email: "exp@example.test",
			Roles: map[int64]portal.Role{f.accounts["31415901"]: portal.RoleGeneral}}); err != nil {
			t.Errorf("invite again after expiry: %v", err)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		_, raw := f.invite("reuse@example.test", west)
		if _, err := f.accept(raw, newPerson()); err != nil {
			t.Fatalf("accept: %v", err)
		}
		if _, err := f.accept(raw, newPerson()); err != ErrTokenInvalid {
			t.Errorf("reuse: got %v, want refused", err)
		}
	})
	t.Run("resend kills the old link", func(t *testing.T) {
		id, old := f.invite("resend@example.test", west)
		if _, err := f.db.ResendInvitation(ctx, paula, f.root, id); err != nil {
			t.Fatalf("resend: %v", err)
		}
		fresh := f.lastToken("resend@example.test")
		if fresh == old {
			t.Fatal("resend issued the same token")
		}
		if _, err := f.accept(old, newPerson()); err != ErrTokenInvalid {
			t.Errorf("old link after resend: got %v, want refused", err)
		}
		if _, err := f.accept(fresh, newPerson()); err != nil {
			t.Errorf("new link after resend: %v", err)
		}
	})
	t.Run("cancel kills the link", func(t *testing.T) {
		id, raw := f.invite("cancel@example.test", west)
		if _, err := f.db.CancelInvitation(ctx, paula, f.root, id); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		if _, err := f.accept(raw, newPerson()); err != ErrTokenInvalid {
			t.Errorf("cancelled link: got %v, want refused", err)
		}
		if _, err := f.db.ResendInvitation(ctx, paula, f.root, id); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("resend a cancelled invitation: got %v, want not found", err)
		}
		if got := f.count(`SELECT count(*) FROM users WHERE email = 'cancel@example.test'`); got != 0 {
			t.Errorf("logins for a cancelled invitation: %d", got)
		}
	})
	t.Run("address with a login", func(t *testing.T) {
		_, raw := f.invite("owner@globex.test", west)
		tok, _, _ := f.db.PeekToken(ctx, raw)
		v, err := f.db.InvitationForToken(ctx, tok)
		if err != nil || v.ExistingUserID != f.users["owner@globex.test"] {
			t.Fatalf("view: %+v, %v", v, err)
		}
		// No access before acceptance.
		if got := f.access("owner@globex.test", "31415901")["31415901"]; got != "none" {
			t.Errorf("access before acceptance: %s", got)
		}
		// Another login cannot take it, and a new login cannot be made for it.
		_, err = f.accept(raw, Acceptance{UserID: f.users["owner@initech.test"]})
		wantCode(t, "accept as someone else", err, portal.EFORBIDDEN)
		_, err = f.accept(raw, newPerson())
		wantCode(t, "new login for a taken address", err, portal.ECONFLICT)
		u, err := f.accept(raw, Acceptance{UserID: f.users["owner@globex.test"]})
		if err != nil || u.ID != f.users["owner@globex.test"] {
			t.Fatalf("accept as the owner: %v", err)
		}
		if got, want := f.access("owner@globex.test", "31415901", "27182800"), map[string]string{"31415901": "general", "27182800": "principal"}; !maps.Equal(got, want) {
			t.Errorf("access after acceptance: got %v, want %v", got, want)
		}
	})
	t.Run("inviter revoked meanwhile", func(t *testing.T) {
		// Erin, Principal of East, invites; the root then revokes her.
		erin := f.actor("east-owner@acme.test")
		_, err := f.db.Invite(ctx, erin, f.east, NewInvitation{Name: "Via Erin", Email: "via-erin@example.test",
			Roles: map[int64]portal.Role{f.accounts["31415902"]: portal.RoleGeneral}})
		if err != nil {
			t.Fatalf("invite: %v", err)
		}
		raw := f.lastToken("via-erin@example.test")
		if err := f.db.RevokeUser(ctx, paula, f.root, erin.UserID); err != nil {
			t.Fatalf("revoke inviter: %v", err)
		}
		tok, _, _ := f.db.PeekToken(ctx, raw)
		if _, err := f.db.InvitationForToken(ctx, tok); err != ErrInvitationInvalid {
			t.Errorf("view: got %v, want invitation invalid", err)
		}
		if _, err := f.accept(raw, newPerson()); err != ErrInvitationInvalid {
			t.Errorf("accept: got %v, want invitation invalid", err)
		}
		if got := f.count(`SELECT count(*) FROM users WHERE email = 'via-erin@example.test'`); got != 0 {
			t.Errorf("login created for an invalid invitation: %d", got)
		}
	})
	t.Run("inviter lost Principal meanwhile", func(t *testing.T) {
		// Paula invites; her successor demotes her before it is accepted.
		_, raw := f.invite("demoted@example.test", west)
		if _, err := f.db.SetUserRoles(ctx, paula, f.root, f.users["general@acme.test"], map[int64]portal.Role{f.accounts["31415900"]: portal.RolePrincipal}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.SetUserRoles(ctx, f.actor("general@acme.test"), f.root, paula.UserID, map[int64]portal.Role{f.accounts["31415900"]: portal.RolePower}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.accept(raw, newPerson()); err != ErrInvitationInvalid {
			t.Errorf("accept: got %v, want invitation invalid", err)
		}
	})
}

// TestInvitationRedeemedOnce: of many concurrent acceptances one wins.
func TestInvitationRedeemedOnce(t *testing.T) {
	f := newDemoFamily(t)
	_, raw := f.invite("race@example.test", map[string]portal.Role{"31415901": portal.RoleGeneral})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 10 {
		wg.Go(func() {
			if _, err := f.accept(raw, newPerson()); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("successful acceptances: got %d, want 1", ok)
	}
	if got := f.count(`SELECT count(*) FROM users WHERE email = 'race@example.test'`); got != 1 {
		t.Errorf("logins: got %d, want 1", got)
	}
}

// TestInviteRollsBackWithItsEmail: an invitation whose email cannot be
// queued is not saved either.
func TestInviteRollsBackWithItsEmail(t *testing.T) {
	f := newDemoFamily(t)
	f.db.Outbox = failingOutbox{}
	_, err := f.db.Invite(context.Background(), f.actor("principal@acme.test"), f.root, NewInvitation{Name: "N", Email: "n@example.test",
		Roles: map[int64]portal.Role{f.accounts["31415901"]: portal.RoleGeneral}})
	if err == nil {
		t.Fatal("invite succeeded without its email")
	}
	if got := f.count(`SELECT count(*) FROM invitations WHERE email = 'n@example.test'`) + f.count(`SELECT count(*) FROM audit_events WHERE action = 'invite.sent'`); got != 0 {
		t.Errorf("rows left behind: %d", got)
	}
}

type failingOutbox struct{}

func (failingOutbox) EnqueueTx(context.Context, pgx.Tx, portal.Email) error {
	return portal.Errorf(portal.EINTERNAL, "outbox down")
}
