package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"carrierportal/internal/portal"
)

// subMailOutbox records each email as a dev_mail row inside the caller's
// transaction: subject is the template, text the link.
type subMailOutbox struct{}

func (subMailOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error {
	_, err := tx.Exec(ctx, `INSERT INTO dev_mail (to_addr, subject, text_body, html_body) VALUES ($1, $2, $3, $4)`,
		e.To, e.Template, e.Link, e.Vars["parent_company"]+"|"+e.Vars["child_company"])
	return err
}

// subFixture is two roots with Sub-Accounts (P1 with a sub-account K), and
// a standalone account C with its own Principal.
type subFixture struct {
	t                 *testing.T
	db                *DB
	p1, p2, k, c      int64
	u1, u2, uc        int64
	ctx               context.Context
	p1Prefix, cPrefix string
}

func newSubFixture(t *testing.T) *subFixture {
	t.Helper()
	f := &subFixture{t: t, ctx: context.Background(), db: &DB{Pool: NewTestPool(t), Outbox: subMailOutbox{}, BaseURL: "https://portal.example.test"},
		p1Prefix: "60000000", cPrefix: "60000010"}
	f.p1 = f.account("60000000", "Parent One", "PO", "one@parent.test", "active", 0)
	f.p2 = f.account("60000001", "Parent Two", "PT", "two@parent.test", "active", 0)
	f.k = f.account("60000002", "Kid of One", "Kid", "kid@parent.test", "active", f.p1)
	f.c = f.account("60000010", "Child Co", "Chico", "Owner@Child.test", "active", 0)
	f.enable(f.p1)
	f.enable(f.p2)
	f.u1 = f.user("u1@parent.test")
	f.u2 = f.user("u2@parent.test")
	f.uc = f.user("owner@child.test")
	f.member(f.u1, f.p1, "principal")
	f.member(f.u2, f.p2, "principal")
	f.member(f.uc, f.c, "principal")
	return f
}

func (f *subFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Pool.Exec(f.ctx, sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *subFixture) account(prefix, company, alias, email, status string, parent int64) int64 {
	f.t.Helper()
	var p *int64
	if parent != 0 {
		p = &parent
	}
	var id int64
	if err := f.db.Pool.QueryRow(f.ctx, `INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_name, contact_email, status, parent_id)
		VALUES ($1, $2, $3, $2 || ' Contact', $4, $5, $6) RETURNING id`, prefix, company, alias, email, status, p).Scan(&id); err != nil {
		f.t.Fatalf("account %s: %v", prefix, err)
	}
	return id
}

func (f *subFixture) user(email string) int64 {
	f.t.Helper()
	var id int64
	if err := f.db.Pool.QueryRow(f.ctx, `INSERT INTO users (email, full_name, email_verified_at) VALUES ($1, $1, now()) RETURNING id`, email).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *subFixture) member(user, acct int64, role string) {
	f.t.Helper()
	f.exec(`INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, $3)`, user, acct, role)
}

func (f *subFixture) enable(root int64) {
	f.t.Helper()
	f.exec(`INSERT INTO account_features (account_id, feature) VALUES ($1, 'sub_accounts')`, root)
}

func (f *subFixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(f.ctx, sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

func (f *subFixture) parentOf(id int64) int64 {
	f.t.Helper()
	var p *int64
	if err := f.db.Pool.QueryRow(f.ctx, `SELECT parent_id FROM accounts WHERE id = $1`, id).Scan(&p); err != nil {
		f.t.Fatal(err)
	}
	if p == nil {
		return 0
	}
	return *p
}

// token is the raw token of the newest email of a template to an address.
func (f *subFixture) token(to, template string) string {
	f.t.Helper()
	var link string
	err := f.db.Pool.QueryRow(f.ctx, `SELECT text_body FROM dev_mail WHERE lower(to_addr) = lower($1) AND subject = $2
		ORDER BY id DESC LIMIT 1`, to, template).Scan(&link)
	if err != nil {
		f.t.Fatalf("no %s email to %s: %v", template, to, err)
	}
	i := strings.LastIndex(link, "/verify/")
	if i < 0 {
		f.t.Fatalf("no token in link %q", link)
	}
	return link[i+len("/verify/"):]
}

func (f *subFixture) requestLink(parent int64, prefix, email string, replace bool) {
	f.t.Helper()
	if err := f.db.RequestLink(f.ctx, portal.Actor{UserID: f.u1}, parent, LinkRequest{TechPrefix: prefix, Email: email, Replace: replace}); err != nil {
		f.t.Fatalf("request link: %v", err)
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestHierarchyTrigger checks each rule the database enforces on its own,
// whatever the application does.
func TestHierarchyTrigger(t *testing.T) {
	f := newSubFixture(t)
	tests := []struct {
		name, sql string
		args      []any
		want      string
	}{
		{"self link", `UPDATE accounts SET parent_id = id WHERE id = $1`, []any{f.c}, "23514"},
		{"under a sub-account", `UPDATE accounts SET parent_id = $2 WHERE id = $1`, []any{f.c, f.k}, "23514"},
		{"parent with sub-accounts becomes a child", `UPDATE accounts SET parent_id = $2 WHERE id = $1`, []any{f.p1, f.p2}, "23514"},
		{"new account under a sub-account", `INSERT INTO accounts (tech_prefix, company_name, contact_email, parent_id) VALUES ('60000099', 'X', 'x@x.test', $1)`, []any{f.k}, "23514"},
		{"parent that does not exist", `UPDATE accounts SET parent_id = 999999 WHERE id = $1`, []any{f.c}, "23503"},
		{"cycle of two", `UPDATE accounts SET parent_id = $2 WHERE id = $1`, []any{f.p1, f.k}, "23514"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.db.Pool.Exec(f.ctx, tc.sql, tc.args...)
			if got := sqlState(err); got != tc.want {
				t.Errorf("error %v (state %q), want state %s", err, got, tc.want)
			}
		})
	}
	if got := f.parentOf(f.c); got != 0 {
		t.Errorf("C's parent = %d after rejected changes, want none", got)
	}
}

// TestHierarchyTriggerLocksParent runs the two halves of a forbidden
// two-level chain in concurrent transactions, in both orders: the trigger's
// lock on the parent row makes the second wait and then fail.
func TestHierarchyTriggerLocksParent(t *testing.T) {
	for _, order := range []string{"child first", "parent first"} {
		t.Run(order, func(t *testing.T) {
			f := newSubFixture(t)
			// C under P2 and, at the same time, P2 under P1: together they
			// would make C a grandchild.
			first, second := `UPDATE accounts SET parent_id = $2 WHERE id = $1`, `UPDATE accounts SET parent_id = $2 WHERE id = $1`
			a1, a2 := []any{f.c, f.p2}, []any{f.p2, f.p1}
			if order == "parent first" {
				a1, a2 = a2, a1
			}
			tx1, err := f.db.Pool.Begin(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx1.Rollback(f.ctx)
			if _, err := tx1.Exec(f.ctx, first, a1...); err != nil {
				t.Fatalf("first: %v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := f.db.Pool.Exec(f.ctx, second, a2...)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("second finished (%v) while the first held its locks, want it to wait", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := tx1.Commit(f.ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; sqlState(err) != "23514" {
				t.Errorf("second: %v, want a 23514 hierarchy error", err)
			}
			if n := f.count(`SELECT count(*) FROM accounts c JOIN accounts p ON p.id = c.parent_id WHERE p.parent_id IS NOT NULL`); n != 0 {
				t.Errorf("%d grandchildren exist, want 0", n)
			}
		})
	}
}

// race runs fns at once and returns their errors.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins checks that exactly one of two racing calls succeeded and the
// other failed with a conflict a person can read.
func oneWins(t *testing.T, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case portal.ErrorCode(err) != portal.ECONFLICT:
			t.Errorf("loser: %v, want a conflict", err)
		case strings.Contains(portal.ErrorMessage(err), "went wrong") || portal.ErrorMessage(err) == "":
			t.Errorf("loser's message %q is not clear", portal.ErrorMessage(err))
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d confirmations succeeded (%v), want exactly 1", wins, len(errs), errs)
	}
}

func TestConfirmLinkTwoParentsRace(t *testing.T) {
	for i := 0; i < 3; i++ {
		f := newSubFixture(t)
		f.requestLink(f.p1, f.cPrefix, "owner@child.test", false)
		t1 := f.token("Owner@Child.test", portal.MailLinkAccount)
		f.requestLink(f.p2, f.cPrefix, "OWNER@child.test", false)
		t2 := f.token("Owner@Child.test", portal.MailLinkAccount)
		if t1 == t2 {
			t.Fatal("both requests produced the same token")
		}
		errs := race(
			func() error { _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, t1); return err },
			func() error { _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, t2); return err },
		)
		oneWins(t, errs)
		if p := f.parentOf(f.c); p != f.p1 && p != f.p2 {
			t.Errorf("C's parent = %d, want P1 or P2", p)
		}
		if n := f.count(`SELECT count(*) FROM audit_events WHERE action = 'account.linked' AND account_id = $1`, f.c); n != 1 {
			t.Errorf("link audit events on C = %d, want 1", n)
		}
	}
}

func TestConfirmLinkCrossedRace(t *testing.T) {
	f := newSubFixture(t)
	// P2 asks for C, and C (given the feature) asks for P2: only one of the
	// two directions can hold.
	f.enable(f.c)
	f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
	tc := f.token("owner@child.test", portal.MailLinkAccount)
	f.requestLink(f.c, "60000001", "two@parent.test", false)
	tp := f.token("two@parent.test", portal.MailLinkAccount)
	errs := race(
		func() error { _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, tc); return err },
		func() error { _, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, tp); return err },
	)
	oneWins(t, errs)
	if f.parentOf(f.c) != 0 && f.parentOf(f.p2) != 0 {
		t.Error("C and P2 are each other's parent")
	}
}

func TestConfirmLinkUnderAChildFails(t *testing.T) {
	f := newSubFixture(t)
	// P2 asks for C; before C confirms, P2 itself becomes P1's sub-account.
	f.requestLink(f.p2, f.cPrefix, "owner@child.test", false)
	tok := f.token("owner@child.test", portal.MailLinkAccount)
	f.exec(`UPDATE accounts SET parent_id = $2 WHERE id = $1`, f.p2, f.p1)
	_, err := f.db.ConfirmLink(f.ctx, portal.Actor{}, tok)
	if portal.ErrorCode(err) != portal.ECONFLICT || !strings.Contains(portal.ErrorMessage(err), "is a sub-account itself") {
		t.Errorf("confirm: %v, want a conflict saying Parent Two is a sub-account", err)
	}
	if p := f.parentOf(f.c); p != 0 {
		t.Errorf("C's parent = %d, want none", p)
	}
	// Nothing was spent: the page can explain again, and nothing changed.
	if _, st, _ := f.db.PeekToken(f.ctx, tok); st != TokenValid {
		t.Errorf("token state after a failed confirmation = %v, want still valid", st)
	}
}
