package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// txOutbox records each email as a dev_mail row inside the caller's
// transaction, so a test sees exactly the emails of committed work.
type txOutbox struct{ fail bool }

func (o txOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error {
	if o.fail {
		return errors.New("outbox down")
	}
	_, err := tx.Exec(ctx, `INSERT INTO dev_mail (to_addr, subject, text_body, html_body) VALUES ($1, $2, $3, '')`,
		e.To, e.Template+":"+e.Vars["decision"]+":"+e.Vars["feature"], e.Vars["note"]+" "+e.Link)
	return err
}

type featureFixture struct {
	db                    *DB
	root, sub, other      int64
	user, staff           int64
	userEmail, rootPrefix string
}

func newFeatureFixture(t *testing.T) *featureFixture {
	t.Helper()
	ctx := context.Background()
	f := &featureFixture{db: &DB{Pool: NewTestPool(t), Outbox: txOutbox{}, BaseURL: "https://portal.example.test"},
		userEmail: "req@example.test", rootPrefix: "40000000"}
	q := f.db.Pool
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, company_alias, contact_email, status)
		VALUES ('40000000', 'Root Co', 'Rooty', 'noc@root.test', 'active') RETURNING id`).Scan(&f.root))
	must(q.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status, parent_id)
		VALUES ('40000001', 'Root Child', 'child@root.test', 'active', $1) RETURNING id`, f.root).Scan(&f.sub))
	must(q.QueryRow(ctx, `INSERT INTO accounts (tech_prefix, company_name, contact_email, status)
		VALUES ('50000000', 'Other 100% Inc', 'ops@other.test', 'active') RETURNING id`).Scan(&f.other))
	must(q.QueryRow(ctx, `INSERT INTO users (email, full_name, email_verified_at) VALUES ($1, 'Rita Requester', now()) RETURNING id`,
		f.userEmail).Scan(&f.user))
	_, err := q.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'principal')`, f.user, f.root)
	must(err)
	must(q.QueryRow(ctx, `INSERT INTO staff_users (email, full_name, password_hash) VALUES ('s@carrier.test', 'Sam', 'x') RETURNING id`).Scan(&f.staff))
	return f
}

func (f *featureFixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

func (f *featureFixture) customer() portal.Actor {
	return portal.Actor{UserID: f.user, IP: "192.0.2.1"}
}
func (f *featureFixture) staffer() portal.Actor {
	return portal.Actor{StaffID: f.staff, IP: "192.0.2.9"}
}

// concurrently runs fn n times at once and returns how many reported true.
func concurrently(t *testing.T, n int, fn func() (bool, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn()
			if err != nil {
				t.Errorf("concurrent call: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins
}

func TestRequestFeatureConcurrentlyFilesOne(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	created := concurrently(t, 12, func() (bool, error) {
		return f.db.RequestFeature(ctx, f.customer(), f.root, portal.FeatureSubAccounts)
	})
	if created != 1 {
		t.Errorf("requests reported as filed = %d, want 1", created)
	}
	if n := f.count(t, `SELECT count(*) FROM feature_requests WHERE account_id = $1 AND status = 'pending'`, f.root); n != 1 {
		t.Errorf("pending rows = %d, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE action = 'feature.requested' AND account_id = $1 AND actor_user_id = $2`, f.root, f.user); n != 1 {
		t.Errorf("request audit events = %d, want 1", n)
	}
	ff, err := f.db.FamilyFeatures(ctx, f.root)
	if err != nil {
		t.Fatal(err)
	}
	got := ff.States[0]
	if got.Feature != portal.FeatureSubAccounts || got.Enabled || got.Latest == nil || got.Latest.Status != RequestPending ||
		got.Latest.RequesterEmail != f.userEmail {
		t.Errorf("state = %+v, want sub_accounts pending by %s", got, f.userEmail)
	}
	if ff.States[1].Latest != nil {
		t.Errorf("multi_user latest = %+v, want none", ff.States[1].Latest)
	}
}

func TestRequestFeatureRules(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO account_features (account_id, feature) VALUES ($1, 'multi_user')`, f.root); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		account int64
		feature portal.Feature
		code    string
	}{
		{"sub-account is not a family root", f.sub, portal.FeatureSubAccounts, portal.EINVALID},
		{"already enabled", f.root, portal.FeatureMultiUser, portal.ECONFLICT},
		{"unknown feature", f.root, portal.Feature("teleport"), portal.ENOTFOUND},
		{"unknown account", 999999, portal.FeatureSubAccounts, portal.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			created, err := f.db.RequestFeature(ctx, f.customer(), tc.account, tc.feature)
			if got := portal.ErrorCode(err); got != tc.code || created {
				t.Errorf("got created=%v code %q (%v), want code %q", created, got, err, tc.code)
			}
		})
	}
	if n := f.count(t, `SELECT count(*) FROM feature_requests`); n != 0 {
		t.Errorf("feature requests = %d, want 0", n)
	}
}

func (f *featureFixture) pendingID(t *testing.T, feature portal.Feature) int64 {
	t.Helper()
	if _, err := f.db.RequestFeature(context.Background(), f.customer(), f.root, feature); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT id FROM feature_requests WHERE account_id = $1 AND feature = $2 AND status = 'pending'`,
		f.root, string(feature)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDecideFeatureRequestOnce(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	id := f.pendingID(t, portal.FeatureSubAccounts)
	var i int
	var mu sync.Mutex
	decided := concurrently(t, 10, func() (bool, error) {
		mu.Lock()
		i++
		approve := i%2 == 1 // approvals and denials race each other
		mu.Unlock()
		return f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Approve: approve, Note: "note"})
	})
	if decided != 1 {
		t.Fatalf("decisions = %d, want 1", decided)
	}
	var status string
	if err := f.db.Pool.QueryRow(ctx, `SELECT status FROM feature_requests WHERE id = $1`, id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	wantEnabled := 0
	if status == RequestApproved {
		wantEnabled = 1
	}
	if n := f.count(t, `SELECT count(*) FROM account_features WHERE account_id = $1 AND feature = 'sub_accounts'`, f.root); n != wantEnabled {
		t.Errorf("status %s: enabled rows = %d, want %d", status, n, wantEnabled)
	}
	if n := f.count(t, `SELECT count(*) FROM dev_mail WHERE to_addr = $1`, f.userEmail); n != 1 {
		t.Errorf("emails = %d, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE action = $1 AND actor_staff_id = $2 AND details->>'note' = 'note'`,
		"feature."+status, f.staff); n != 1 {
		t.Errorf("decision audit events = %d, want 1", n)
	}
	// Later decisions change nothing.
	again, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Approve: status != RequestApproved, Note: "changed my mind"})
	if err != nil || again {
		t.Errorf("second decision: got %v, %v; want a no-op", again, err)
	}
	if _, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id + 100, Approve: true}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unknown request: got %v, want not found", err)
	}
}

func TestApprovalEnablesFeatureAndEmails(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	id := f.pendingID(t, portal.FeatureMultiUser)
	if ok, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Approve: true, Note: "Welcome aboard"}); err != nil || !ok {
		t.Fatalf("approve: %v, %v", ok, err)
	}
	ff, err := f.db.FamilyFeatures(ctx, f.root)
	if err != nil {
		t.Fatal(err)
	}
	mu := ff.States[1]
	if !mu.Enabled || mu.Latest.Status != RequestApproved || mu.Latest.ReviewerName != "Sam" || mu.Latest.StaffNote != "Welcome aboard" {
		t.Errorf("multi_user state = %+v / %+v, want enabled, approved by Sam with the note", mu, mu.Latest)
	}
	var subject, body string
	if err := f.db.Pool.QueryRow(ctx, `SELECT subject, text_body FROM dev_mail WHERE to_addr = $1`, f.userEmail).Scan(&subject, &body); err != nil {
		t.Fatal(err)
	}
	if want := "feature_decision:approved:multi_user"; subject != want {
		t.Errorf("email = %q, want %q", subject, want)
	}
	if want := "Welcome aboard https://portal.example.test/accounts/40000000/preferences/features"; body != want {
		t.Errorf("email vars = %q, want %q", body, want)
	}
}

func TestDecisionRollsBackWithItsEmail(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	id := f.pendingID(t, portal.FeatureSubAccounts)
	f.db.Outbox = txOutbox{fail: true}
	if _, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Approve: true}); err == nil {
		t.Fatal("decision with a failing outbox: got no error")
	}
	if n := f.count(t, `SELECT count(*) FROM feature_requests WHERE id = $1 AND status = 'pending'`, id); n != 1 {
		t.Errorf("request no longer pending after a failed decision")
	}
	if n := f.count(t, `SELECT count(*) FROM account_features`); n != 0 {
		t.Errorf("features enabled by a failed decision: %d", n)
	}
}

func TestDeniedFamilyCanRequestAgain(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	id := f.pendingID(t, portal.FeatureSubAccounts)
	if ok, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Note: "Tell us more"}); err != nil || !ok {
		t.Fatalf("deny: %v, %v", ok, err)
	}
	ff, _ := f.db.FamilyFeatures(ctx, f.root)
	if st := ff.States[0]; st.Enabled || st.Latest.Status != RequestDenied || st.Latest.StaffNote != "Tell us more" {
		t.Errorf("after denial: %+v / %+v, want denied with note", st, st.Latest)
	}
	created, err := f.db.RequestFeature(ctx, f.customer(), f.root, portal.FeatureSubAccounts)
	if err != nil || !created {
		t.Fatalf("request again: %v, %v; want a new request", created, err)
	}
	ff, _ = f.db.FamilyFeatures(ctx, f.root)
	if st := ff.States[0]; st.Latest.Status != RequestPending || st.Latest.ID == id {
		t.Errorf("after re-request: latest = %+v, want a new pending request", st.Latest)
	}
}

func TestFeatureQueueOrderAndFilters(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	ins := func(acct int64, feature, status, age string) int64 {
		var id int64
		if err := f.db.Pool.QueryRow(ctx, fmt.Sprintf(`INSERT INTO feature_requests (account_id, feature, status, requested_by, requested_at)
			VALUES ($1, $2, $3, $4, now() - interval '%s') RETURNING id`, age), acct, feature, status, f.user).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldDenied := ins(f.root, "sub_accounts", "denied", "30 days")
	newPending := ins(f.root, "sub_accounts", "pending", "1 hour")
	oldPending := ins(f.other, "multi_user", "pending", "3 days")
	approved := ins(f.other, "sub_accounts", "approved", "10 days")
	tests := []struct {
		filter QueueFilter
		want   []int64
	}{
		{QueueFilter{}, []int64{oldPending, newPending, oldDenied, approved}},
		{QueueFilter{Status: "pending"}, []int64{oldPending, newPending}},
		{QueueFilter{Feature: "sub_accounts"}, []int64{newPending, oldDenied, approved}},
		{QueueFilter{Status: "approved", Feature: "sub_accounts"}, []int64{approved}},
		{QueueFilter{Limit: 1, Offset: 1}, []int64{newPending}},
	}
	for _, tc := range tests {
		rows, total, err := f.db.FeatureQueue(ctx, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("queue %+v: got %v, want %v", tc.filter, got, tc.want)
		}
		if tc.filter.Limit == 0 && total != len(tc.want) {
			t.Errorf("queue %+v: total %d, want %d", tc.filter, total, len(tc.want))
		}
	}
	rows, _, _ := f.db.FeatureQueue(ctx, QueueFilter{Status: "pending", Feature: "multi_user"})
	if len(rows) != 1 || rows[0].TechPrefix != "50000000" || rows[0].Company != "Other 100% Inc" || rows[0].RequesterName != "Rita Requester" {
		t.Errorf("queue row = %+v, want the other account's request by Rita", rows)
	}
	if n, err := f.db.PendingRequestCount(ctx); err != nil || n != 2 {
		t.Errorf("pending count = %d, %v; want 2", n, err)
	}
}

// A requester whose roles are on a sub-account only gets a link to that
// account's Features page, which they can open.
func TestDecisionEmailLinksToReachableAccount(t *testing.T) {
	f := newFeatureFixture(t)
	ctx := context.Background()
	var subUser int64
	if err := f.db.Pool.QueryRow(ctx, `INSERT INTO users (email, full_name, email_verified_at) VALUES ('sub@example.test', 'Sub User', now()) RETURNING id`).Scan(&subUser); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, 'power')`, subUser, f.sub); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.RequestFeature(ctx, portal.Actor{UserID: subUser}, f.root, portal.FeatureSubAccounts); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := f.db.Pool.QueryRow(ctx, `SELECT id FROM feature_requests WHERE requested_by = $1`, subUser).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.DecideFeatureRequest(ctx, f.staffer(), FeatureDecision{RequestID: id, Approve: true}); err != nil {
		t.Fatal(err)
	}
	var body string
	if err := f.db.Pool.QueryRow(ctx, `SELECT text_body FROM dev_mail WHERE to_addr = 'sub@example.test'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if want := " https://portal.example.test/accounts/40000001/preferences/features"; body != want {
		t.Errorf("email link = %q, want %q", body, want)
	}
}
