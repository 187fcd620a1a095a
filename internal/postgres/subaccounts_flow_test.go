package postgres

import (
	"context"
	"testing"

	"carrierportal/internal/portal"
)

func (f *subFixture) mails(template string) int {
	f.t.Helper()
	return f.count(`SELECT count(*) FROM dev_mail WHERE subject = $1`, template)
}

// TestRequestLinkEligibility: the request answers the same (nil) for every
// input; only an eligible account gets the verification email, at the
// contact address on record.
func TestRequestLinkEligibility(t *testing.T) {
	f := newSubFixture(t)
	f.account("60000020", "Pending Co", "", "pending@x.test", "pending_activation", 0)
	f.account("60000021", "Suspended Co", "", "susp@x.test", "suspended", 0)
	tests := []struct {
		name          string
		parent        int64
		prefix, email string
		replace       bool
		want          int
	}{
		{"eligible, address in another case", f.p2, "60000010", "owner@CHILD.test", false, 1},
		{"wrong email", f.p2, "60000010", "someone@child.test", false, 0},
		{"unknown prefix", f.p2, "69999999", "owner@child.test", false, 0},
		{"itself", f.p2, "60000001", "two@parent.test", false, 0},
		{"has sub-accounts", f.p2, "60000000", "one@parent.test", false, 0},
		{"already this parent's", f.p1, "60000002", "kid@parent.test", false, 0},
		{"another parent's, no replace", f.p2, "60000002", "kid@parent.test", false, 0},
		{"another parent's, replace", f.p2, "60000002", "kid@parent.test", true, 1},
		{"pending activation", f.p2, "60000020", "pending@x.test", false, 0},
		{"suspended", f.p2, "60000021", "susp@x.test", false, 0},
		{"requester is a sub-account", f.k, "60000010", "owner@child.test", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, audits := f.mails(portal.MailLinkAccount), f.count(`SELECT count(*) FROM audit_events WHERE account_id = $1`, tc.parent)
			err := f.db.RequestLink(f.ctx, portal.Actor{UserID: f.u2}, tc.parent, LinkRequest{TechPrefix: tc.prefix, Email: tc.email, Replace: tc.replace})
			if err != nil {
				t.Fatalf("request: %v, want nil whatever matched", err)
			}
			if got := f.mails(portal.MailLinkAccount) - before; got != tc.want {
				t.Errorf("verification emails sent = %d, want %d", got, tc.want)
			}
			// The requester's audit log says only that a request was made.
			if got := f.count(`SELECT count(*) FROM audit_events WHERE account_id = $1`, tc.parent) - audits; got != 1 {
				t.Errorf("requester audit events = %d, want 1", got)
			}
		})
	}
	if n := f.count(`SELECT count(*) FROM dev_mail WHERE subject = $1 AND to_addr = 'Owner@Child.test'`, portal.MailLinkAccount); n != 1 {
		t.Errorf("emails to the contact address on record = %d, want 1", n)
	}
}

func TestLinkReplaceAndUnlink(t *testing.T) {
	f := newSubFixture(t)
	// K moves from P1 to P2.
	f.requestLink(f.p2, "60000002", "kid@parent.test", true)
	prev, err := f.db.PreviewLink(f.ctx, mustPeek(t, f.db, f.token("kid@parent.test", portal.MailLinkAccount)))
	if err != nil || prev.OldParentCompany != "Parent One" || prev.ParentCompany != "Parent Two" {
		t.Fatalf("preview = %+v, %v; want Kid moving from Parent One to Parent Two", prev, err)
	}
	if _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, f.token("kid@parent.test", portal.MailLinkAccount)); err != nil {
		t.Fatalf("confirm replace: %v", err)
	}
	if p := f.parentOf(f.k); p != f.p2 {
		t.Fatalf("K's parent = %d, want P2 %d", p, f.p2)
	}
	for _, w := range []struct{ to, template string }{
		{"u1@parent.test", portal.MailUnlinked}, {"u2@parent.test", portal.MailLinked}, {"kid@parent.test", portal.MailLinked},
	} {
		if n := f.count(`SELECT count(*) FROM dev_mail WHERE to_addr = $1 AND subject = $2`, w.to, w.template); n != 1 {
			t.Errorf("%s emails to %s = %d, want 1", w.template, w.to, n)
		}
	}

	// C joins P2 with its own users; a Power user of P2 also works on C,
	// and a user revoked in P2's family holds a role on C.
	f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
	if _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, f.token("Owner@Child.test", portal.MailLinkAccount)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	pw, rv, own := f.user("power@parent.test"), f.user("revoked@parent.test"), f.user("general@child.test")
	f.member(pw, f.p2, "power")
	f.member(pw, f.c, "general")
	f.member(rv, f.c, "power")
	f.member(own, f.c, "general")
	f.exec(`INSERT INTO revocations (user_id, root_id) VALUES ($1, $2)`, rv, f.p2)
	for _, u := range []int64{f.u2, pw} {
		if _, err := f.db.Access(f.ctx, u, f.cPrefix); err != nil {
			t.Fatalf("before unlink, user %d on C: %v", u, err)
		}
	}

	if _, err := f.db.Unlink(f.ctx, portal.Actor{UserID: f.u2}, f.p2, f.cPrefix); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if p := f.parentOf(f.c); p != 0 {
		t.Errorf("C's parent after unlink = %d, want none", p)
	}
	access := []struct {
		who  string
		user int64
		ok   bool
	}{
		{"P2's Principal (inherited)", f.u2, false},
		{"P2's Power user", pw, false},
		{"user revoked in P2's family", rv, false},
		{"C's own Principal", f.uc, true},
		{"C's own General user", own, true},
	}
	for _, a := range access {
		_, err := f.db.Access(f.ctx, a.user, f.cPrefix)
		if got := err == nil; got != a.ok {
			t.Errorf("%s can reach C after unlink: %v (err %v), want %v", a.who, got, err, a.ok)
		}
	}
	for _, w := range []struct{ to, template string }{{"u2@parent.test", portal.MailUnlinked}, {"owner@child.test", portal.MailUnlinked}} {
		if n := f.count(`SELECT count(*) FROM dev_mail WHERE to_addr = $1 AND subject = $2`, w.to, w.template); n != 1 {
			t.Errorf("%s emails to %s = %d, want 1", w.template, w.to, n)
		}
	}
	for _, a := range []struct {
		acct   int64
		action string
	}{{f.p2, "subaccount.unlinked"}, {f.c, "account.unlinked"}} {
		if n := f.count(`SELECT count(*) FROM audit_events WHERE account_id = $1 AND action = $2 AND actor_user_id = $3`, a.acct, a.action, f.u2); n != 1 {
			t.Errorf("audit %s on %d = %d, want 1", a.action, a.acct, n)
		}
	}
	if _, err := f.db.Unlink(f.ctx, portal.Actor{UserID: f.u2}, f.p2, f.cPrefix); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("second unlink: %v, want not found", err)
	}
	if _, err := f.db.Unlink(f.ctx, portal.Actor{UserID: f.u1}, f.p1, "60000002"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unlinking another parent's sub-account: %v, want not found", err)
	}
}

func mustPeek(t *testing.T, db *DB, raw string) *portal.Token {
	t.Helper()
	tok, st, err := db.PeekToken(context.Background(), raw)
	if err != nil || st != TokenValid {
		t.Fatalf("peek: state %v, %v", st, err)
	}
	return tok
}

func TestLinkTokens(t *testing.T) {
	f := newSubFixture(t)
	confirm := func(raw string) error { _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, raw); return err }

	t.Run("expired", func(t *testing.T) {
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		raw := f.token("owner@child.test", portal.MailLinkAccount)
		f.exec(`UPDATE verification_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, hashToken(raw))
		if err := confirm(raw); err != ErrTokenInvalid {
			t.Errorf("confirm expired: %v, want ErrTokenInvalid", err)
		}
		if _, st, _ := f.db.PeekToken(f.ctx, raw); st != TokenExpired {
			t.Errorf("state = %v, want expired", st)
		}
	})
	t.Run("superseded by a newer request", func(t *testing.T) {
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		old := f.token("owner@child.test", portal.MailLinkAccount)
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		if err := confirm(old); err != ErrTokenInvalid {
			t.Errorf("confirm superseded: %v, want ErrTokenInvalid", err)
		}
	})
	t.Run("became ineligible", func(t *testing.T) {
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		raw := f.token("owner@child.test", portal.MailLinkAccount)
		f.exec(`UPDATE accounts SET status = 'suspended' WHERE id = $1`, f.c)
		if _, err := f.db.PreviewLink(f.ctx, mustPeek(t, f.db, raw)); portal.ErrorCode(err) != portal.ECONFLICT {
			t.Errorf("preview: %v, want a conflict", err)
		}
		if err := confirm(raw); portal.ErrorCode(err) != portal.ECONFLICT || portal.ErrorMessage(err) != "Child Co is not active, so it cannot be linked." {
			t.Errorf("confirm: %v, want the not-active conflict", err)
		}
		f.exec(`UPDATE accounts SET status = 'active' WHERE id = $1`, f.c)
	})
	t.Run("wrong purpose", func(t *testing.T) {
		if _, err := f.db.CreateSubAccount(f.ctx, portal.Actor{UserID: f.u2}, f.p2, NewAccount{CompanyName: "New Co", ContactName: "Nina", ContactEmail: "nina@new.test"}); err != nil {
			t.Fatal(err)
		}
		act := f.token("nina@new.test", portal.MailActivateAccount)
		if err := confirm(act); err != ErrTokenInvalid {
			t.Errorf("confirm link with an activation token: %v, want ErrTokenInvalid", err)
		}
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		link := f.token("owner@child.test", portal.MailLinkAccount)
		if _, _, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, link, ActivationLogin{FullName: "X", PasswordHash: "h"}); err != ErrTokenInvalid {
			t.Errorf("activate with a link token: %v, want ErrTokenInvalid", err)
		}
	})
	t.Run("single use under 20 concurrent confirmations", func(t *testing.T) {
		f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
		raw := f.token("owner@child.test", portal.MailLinkAccount)
		fns := make([]func() error, 20)
		for i := range fns {
			fns[i] = func() error { return confirm(raw) }
		}
		wins := 0
		for _, err := range race(fns...) {
			switch {
			case err == nil:
				wins++
			case err != ErrTokenInvalid:
				t.Errorf("loser: %v, want ErrTokenInvalid", err)
			}
		}
		if wins != 1 {
			t.Errorf("successful confirmations = %d, want 1", wins)
		}
		if err := confirm(raw); err != ErrTokenInvalid {
			t.Errorf("reuse: %v, want ErrTokenInvalid", err)
		}
	})
}

func TestCreateAndActivateSubAccount(t *testing.T) {
	f := newSubFixture(t)
	in := NewAccount{CompanyName: "Fresh Co", CompanyAlias: "Fresh", ContactName: "Fay Fresh", ContactEmail: "fay@fresh.test", City: "Austin"}
	acct, err := f.db.CreateSubAccount(f.ctx, portal.Actor{UserID: f.u1}, f.p1, in)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Status != portal.StatusPendingActivation || acct.ParentID == nil || *acct.ParentID != f.p1 {
		t.Fatalf("new account = %+v, want pending under P1", acct)
	}
	if _, err := f.db.CreateSubAccount(f.ctx, portal.Actor{UserID: f.u1}, f.k, in); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("create under a sub-account: %v, want a conflict", err)
	}
	raw := f.token("fay@fresh.test", portal.MailActivateAccount)
	info, err := f.db.ActivationInfo(f.ctx, mustPeek(t, f.db, raw))
	if err != nil || info.ExistingUserID != 0 || info.CompanyName != "Fresh Co" || info.ParentCompany != "Parent One" {
		t.Fatalf("info = %+v, %v", info, err)
	}
	u, got, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, raw, ActivationLogin{FullName: "Fay Fresh", PasswordHash: "$argon2id$x"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if !u.Verified() || got.Status != portal.StatusActive {
		t.Errorf("user verified %v, account %s; want verified and active", u.Verified(), got.Status)
	}
	for _, who := range []int64{u.ID, f.u1} {
		aa, err := f.db.Access(f.ctx, who, acct.TechPrefix)
		if err != nil || aa.Role != portal.RolePrincipal {
			t.Errorf("user %d on the new account: %+v, %v; want Principal", who, aa, err)
		}
	}
	if n := f.count(`SELECT count(*) FROM dev_mail WHERE to_addr = 'u1@parent.test' AND subject = $1`, portal.MailNotice); n != 1 {
		t.Errorf("notices to the parent's Principal = %d, want 1", n)
	}
	if _, _, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, raw, ActivationLogin{FullName: "Again", PasswordHash: "h"}); err != ErrTokenInvalid {
		t.Errorf("reuse: %v, want ErrTokenInvalid", err)
	}

	// An address that already has a login: only that login can accept.
	if _, err := f.db.CreateSubAccount(f.ctx, portal.Actor{UserID: f.u1}, f.p1, NewAccount{CompanyName: "Second Co", ContactName: "U2", ContactEmail: "U2@parent.test"}); err != nil {
		t.Fatal(err)
	}
	raw = f.token("u2@parent.test", portal.MailActivateAccount)
	info, err = f.db.ActivationInfo(f.ctx, mustPeek(t, f.db, raw))
	if err != nil || info.ExistingUserID != f.u2 {
		t.Fatalf("info = %+v, %v; want the existing login %d", info, err, f.u2)
	}
	if _, _, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, raw, ActivationLogin{UserID: f.uc}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("accept as another login: %v, want forbidden", err)
	}
	if _, _, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, raw, ActivationLogin{UserID: f.u2}); err != nil {
		t.Errorf("accept as the addressed login: %v", err)
	}

	// An expired activation link.
	if _, err := f.db.CreateSubAccount(f.ctx, portal.Actor{UserID: f.u1}, f.p1, NewAccount{CompanyName: "Late Co", ContactName: "L", ContactEmail: "late@x.test"}); err != nil {
		t.Fatal(err)
	}
	raw = f.token("late@x.test", portal.MailActivateAccount)
	f.exec(`UPDATE verification_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, hashToken(raw))
	if _, _, err := f.db.ActivateAccount(f.ctx, portal.Actor{}, raw, ActivationLogin{FullName: "L", PasswordHash: "h"}); err != ErrTokenInvalid {
		t.Errorf("expired activation: %v, want ErrTokenInvalid", err)
	}
}
