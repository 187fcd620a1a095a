package postgres

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestCDRReportAgreesWithTheExport checks the report's page and totals
// against the calls the export streams for the same filter (another
// statement: no rollup, no cursor), on both paths of the totals and every
// direction of paging.
func TestCDRReportAgreesWithTheExport(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	insertCalls(t, f, f.a, 130, start)
	insertCalls(t, f, f.b, 20, start)
	week := CDRFilter{From: start, To: start.AddDate(0, 0, 7)}
	all := exported(t, f.db, f.a, week)
	if len(all) < 80 {
		t.Fatalf("%d calls in the week, want more than two pages", len(all))
	}
	older := &CDRCursor{StartedAt: all[29].StartedAt, ID: all[29].ID}
	newer := &CDRCursor{StartedAt: all[60].StartedAt, ID: all[60].ID}
	for _, c := range []struct {
		name         string
		filter       CDRFilter
		older, newer *CDRCursor
		limit        int
		from, to     int // the page's place in the export of the filter (to -1: as far as the limit)
		wantRollup   bool
	}{
		{"whole days", week, nil, nil, 30, 0, 30, true},
		{"older", week, older, nil, 30, 30, 60, true},
		{"newer", week, nil, newer, 30, 30, 60, true},
		{"number", CDRFilter{From: start, To: start.AddDate(0, 0, 7), Digits: "1206555013"}, nil, nil, 50, 0, -1, false},
		{"part of a day", CDRFilter{From: start.Add(3 * time.Hour), To: start.AddDate(0, 0, 1), Direction: "inbound"}, nil, nil, 0, 0, -1, false},
		{"nothing", CDRFilter{From: start.AddDate(1, 0, 0), To: start.AddDate(1, 0, 1), Disposition: "failed"}, nil, nil, 50, 0, -1, true},
	} {
		if rollup := c.filter.Digits == "" && c.filter.wholeDays(); rollup != c.wantRollup {
			t.Fatalf("%s: totals from the rollup: %v, the case is meant for %v", c.name, rollup, c.wantRollup)
		}
		page, totals, err := f.db.CDRReport(ctx, f.a, c.filter, c.older, c.newer, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		calls := exported(t, f.db, f.a, c.filter)
		var want CDRTotals
		for _, x := range calls {
			want.Calls++
			if x.Disposition == "answered" {
				want.Answered++
			}
			want.DurationSecs += int64(x.DurationSecs)
			want.BilledSecs += int64(x.BilledSecs)
			want.ChargeMicros += x.ChargeMicros
		}
		if totals != want {
			t.Errorf("%s: totals %+v, the export adds up to %+v", c.name, totals, want)
		}
		to := c.to
		if to < 0 {
			to = min(len(calls), cdrLimit(c.limit))
		}
		if got, wantIDs := cdrIDs(page.Items), cdrIDs(calls[c.from:to]); !slices.Equal(got, wantIDs) {
			t.Errorf("%s: page %v, want calls %d to %d of the export %v", c.name, got, c.from, to, wantIDs)
		}
	}
}

// exported is every call the export gives for a filter, newest first.
func exported(t *testing.T, db *DB, accountID int64, f CDRFilter) []CDR {
	t.Helper()
	var out []CDR
	if err := db.StreamCDRs(context.Background(), accountID, f, func(c *CDR) error { out = append(out, *c); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func cdrIDs(cs []CDR) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// The call report of the family root for last month: a page of 50 calls and
// the month's totals, in one round trip.
func BenchmarkCDRReport(b *testing.B) {
	db, uid := benchLarge(b)
	ctx := context.Background()
	aa, err := db.Access(ctx, uid, LargeRootPrefix)
	if err != nil {
		b.Fatal(err)
	}
	month := lastMonth()
	f := CDRFilter{From: month, To: month.AddDate(0, 1, 0)}
	b.ReportAllocs()
	for b.Loop() {
		page, totals, err := db.CDRReport(ctx, aa.Account.ID, f, nil, nil, 50)
		if err != nil || len(page.Items) != 50 || totals.Calls == 0 {
			b.Fatalf("cdr report: %d calls of %d, %v", len(page.Items), totals.Calls, err)
		}
	}
}
