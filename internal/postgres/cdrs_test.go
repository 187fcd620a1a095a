package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// insertCalls adds n calls to account over a few days, three sharing each
// start time so that pagination has ties to break.
func insertCalls(t *testing.T, f *resFixture, account int64, n int, start time.Time) {
	t.Helper()
	rows := make([][]any, n)
	for i := range rows {
		dir, disp := "inbound", "answered"
		if i%3 == 0 {
			dir = "outbound"
		}
		if i%4 == 0 {
			disp = "busy"
		}
		at := start.Add(time.Duration(i/3) * 37 * time.Minute)
		rows[i] = []any{account, at, dir, "+12125550100", "+120655501" + string(rune('0'+i%10)) + "0", disp, i % 300, (i%300 + 5) / 6 * 6, int64(9000), int64(i * 37)}
	}
	_, err := f.db.Pool.CopyFrom(context.Background(), pgx.Identifier{"cdrs"},
		[]string{"account_id", "started_at", "direction", "from_number", "to_number", "disposition", "duration_secs", "billed_secs", "rate_micros", "charge_micros"},
		pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
}

func TestCDRKeysetPagination(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	start := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	insertCalls(t, f, f.a, 250, start)
	insertCalls(t, f, f.b, 40, start)
	filter := CDRFilter{From: start, To: start.AddDate(0, 0, 5)}
	var all []int64
	var older *CDRCursor
	var pages []*CDRPage
	for {
		p, _, err := f.db.CDRReport(ctx, f.a, filter, older, nil, 40)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		for i, c := range p.Items {
			all = append(all, c.ID)
			if i > 0 {
				prev := p.Items[i-1]
				if prev.StartedAt.Before(c.StartedAt) || prev.StartedAt.Equal(c.StartedAt) && prev.ID < c.ID {
					t.Fatalf("page out of order at %d", i)
				}
			}
		}
		if p.Older == nil {
			break
		}
		older = p.Older
	}
	if len(all) != 250 || len(pages) != 7 {
		t.Fatalf("walked %d calls in %d pages, want 250 in 7", len(all), len(pages))
	}
	seen := map[int64]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("call %d shown twice", id)
		}
		seen[id] = true
	}
	if pages[0].Newer != nil || pages[1].Newer == nil {
		t.Errorf("first page has a newer link (%v) or second lacks one", pages[0].Newer)
	}
	// Going back from the third page gives exactly the second.
	back, _, err := f.db.CDRReport(ctx, f.a, filter, nil, pages[2].Newer, 40)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Items) != 40 || back.Items[0].ID != pages[1].Items[0].ID || back.Items[39].ID != pages[1].Items[39].ID {
		t.Errorf("newer page of page 3 is not page 2")
	}
	// A cursor made from another account's call shows only this account's.
	foreign := &CDRCursor{StartedAt: start.AddDate(0, 0, 4), ID: 1 << 40}
	p, _, err := f.db.CDRReport(ctx, f.b, filter, foreign, nil, 100)
	if err != nil || len(p.Items) != 40 {
		t.Fatalf("account B with a foreign cursor: %d items, %v; want its own 40", len(p.Items), err)
	}
}

func TestCDRTotalsRollupMatchesRaw(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	insertCalls(t, f, f.a, 600, start)
	for _, filter := range []CDRFilter{
		{From: start, To: start.AddDate(0, 1, 0)},
		{From: start.AddDate(0, 0, 1), To: start.AddDate(0, 0, 3), Direction: "outbound"},
		{From: start, To: start.AddDate(0, 0, 2), Disposition: "busy"},
	} {
		_, fromRollup, err := f.db.CDRReport(ctx, f.a, filter, nil, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		// The same filter with a number that matches every call takes the raw path.
		raw := filter
		raw.Digits = "1212555"
		_, fromRaw, err := f.db.CDRReport(ctx, f.a, raw, nil, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if fromRollup != fromRaw || fromRaw.Calls == 0 {
			t.Errorf("filter %+v: rollup %+v, raw %+v; want equal and non-zero", filter, fromRollup, fromRaw)
		}
	}
	var exported int
	err := f.db.StreamCDRs(ctx, f.a, CDRFilter{From: start, To: start.AddDate(0, 1, 0), Digits: "1206555010"}, func(c *CDR) error {
		exported++
		return nil
	})
	if err != nil || exported != 60 {
		t.Errorf("exported %d calls to …0100, %v; want 60", exported, err)
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE cdrs SET charge_micros = 0`); err == nil {
		t.Error("a call record was changed; records are immutable")
	}
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM cdrs WHERE started_at < $1`, start.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	checkRollups(t, f)
}

func TestCDRCursorRoundTrip(t *testing.T) {
	c := CDRCursor{StartedAt: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC), ID: 42}
	got, ok := ParseCDRCursor(c.String())
	if !ok || !got.StartedAt.Equal(c.StartedAt) || got.ID != c.ID {
		t.Errorf("round trip of %v = %v, %v", c, got, ok)
	}
	for _, bad := range []string{"", "-", "1-", "-1", "1-0", "a-1", "1-1-1", "+1-1", "1 -1", "99999999999999999999-1", "1-99999999999999999999"} {
		if _, ok := ParseCDRCursor(bad); ok {
			t.Errorf("ParseCDRCursor(%q) accepted", bad)
		}
	}
}

// FuzzParseCDRCursor checks the cursor parser never panics and that what
// it accepts encodes back to the same text.
func FuzzParseCDRCursor(f *testing.F) {
	for _, s := range []string{"1773500966535897-42", "0-1", "1-0", "-", "253402300799999999-9223372036854775807", "01-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParseCDRCursor(s)
		if !ok {
			return
		}
		if c.ID <= 0 {
			t.Fatalf("ParseCDRCursor(%q) id %d", s, c.ID)
		}
		again, ok := ParseCDRCursor(c.String())
		if !ok || again != c {
			t.Fatalf("ParseCDRCursor(%q) = %v, which encodes to %q and parses to %v", s, c, c.String(), again)
		}
	})
}
