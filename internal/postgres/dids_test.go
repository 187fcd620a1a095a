package postgres

import (
	"context"
	"fmt"
	"testing"

	"carrierportal/internal/portal"
)

func TestDIDPagesAndSearch(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	for i := 1; i < 30; i++ {
		label := "Line"
		if i%10 == 0 {
			label = "Sales 100%"
		}
		if _, err := f.db.Pool.Exec(ctx, `INSERT INTO dids (account_id, number, label) VALUES ($1, $2, $3)`,
			f.a, fmt.Sprintf("+1206555%04d", 200+i), label); err != nil {
			t.Fatal(err)
		}
	}
	// Walk forward page by page, then back; every number once, in order.
	var seen []string
	q := DIDQuery{Limit: 7}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		p, err := f.db.DIDs(ctx, f.a, q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 30 {
			t.Fatalf("total = %d, want 30", p.Total)
		}
		for _, d := range p.Items {
			seen = append(seen, d.Number)
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if len(seen) != 30 || seen[0] != f.didA {
		t.Fatalf("walked %d numbers starting %v, want 30 starting %s", len(seen), seen[:1], f.didA)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Fatalf("page order broken at %d: %s then %s", i, seen[i-1], seen[i])
		}
	}
	back, err := f.db.DIDs(ctx, f.a, DIDQuery{Limit: 7, Before: seen[14]})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Items) != 7 || back.Items[0].Number != seen[7] || back.Items[6].Number != seen[13] || back.Next != seen[13] || back.Prev != seen[7] {
		t.Errorf("page before %s = %v (prev %q next %q), want %s…%s", seen[14], numbers(back.Items), back.Prev, back.Next, seen[7], seen[13])
	}

	for _, c := range []struct {
		search string
		want   int
	}{
		{"", 30}, {"Sales", 2}, {"100%", 2}, {"%", 2}, {"_", 0}, {"+1 206 555 0100", 1}, {"206-555-02", 29}, {"B main", 0},
	} {
		p, err := f.db.DIDs(ctx, f.a, DIDQuery{Search: c.search})
		if err != nil || p.Total != c.want || len(p.Items) != c.want {
			t.Errorf("search %q: total %d, %d items, %v; want %d", c.search, p.Total, len(p.Items), err, c.want)
		}
	}
}

func numbers(ds []DID) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Number)
	}
	return out
}

func TestUpdateAndReleaseDID(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	if err := f.db.UpdateDID(ctx, f.actorA, f.a, f.didA, "Front desk", &f.routeA); err != nil {
		t.Fatalf("UpdateDID: %v", err)
	}
	d, err := f.db.DID(ctx, f.a, f.didA)
	if err != nil || d.Label != "Front desk" || d.RouteID == nil || *d.RouteID != f.routeA || d.RouteName != "A PBX" {
		t.Fatalf("DID after update = %+v, %v", d, err)
	}
	// Another account's route or number is not found, and nothing changes.
	if err := f.db.UpdateDID(ctx, f.actorA, f.a, f.didA, "Hijack", &f.routeB); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("update with another account's route: %v, want not found", err)
	}
	if err := f.db.UpdateDID(ctx, f.actorA, f.a, f.didB, "Hijack", nil); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("update of another account's number: %v, want not found", err)
	}
	if err := f.db.ReleaseDID(ctx, f.actorA, f.a, f.didB); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("release of another account's number: %v, want not found", err)
	}
	if n := f.count(t, `SELECT count(*) FROM dids WHERE label = 'Hijack' OR released_at IS NOT NULL`); n != 0 {
		t.Errorf("%d numbers changed by refused requests, want 0", n)
	}
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO cdrs (account_id, started_at, direction, from_number, to_number, disposition)
		VALUES ($1, now(), 'inbound', '+12125550100', $2, 'answered')`, f.a, f.didA); err != nil {
		t.Fatal(err)
	}
	if err := f.db.ReleaseDID(ctx, f.actorA, f.a, f.didA); err != nil {
		t.Fatalf("ReleaseDID: %v", err)
	}
	if _, err := f.db.DID(ctx, f.a, f.didA); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("released number still found: %v", err)
	}
	if err := f.db.ReleaseDID(ctx, f.actorA, f.a, f.didA); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("second release: %v, want not found", err)
	}
	if n := f.count(t, `SELECT count(*) FROM cdrs WHERE to_number = $1`, f.didA); n != 1 {
		t.Errorf("calls of the released number = %d, want 1 (they stay)", n)
	}
	// The released number can go to someone else.
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO dids (account_id, number) VALUES ($1, $2)`, f.b, f.didA); err != nil {
		t.Errorf("re-assigning a released number: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE account_id = $1 AND action IN ('did.updated', 'did.released')
		AND actor_user_id = $2 AND ip = '192.0.2.1' AND request_id = 'req-1'`, f.a, f.userA); n != 2 {
		t.Errorf("audit events = %d, want 2 (update, release)", n)
	}
}
