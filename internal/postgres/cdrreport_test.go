package postgres

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestCDRReportMatchesPageAndTotals checks the report's one round trip
// against its two parts read one at a time, on both paths of the totals
// and every direction of paging.
func TestCDRReportMatchesPageAndTotals(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	insertCalls(t, f, f.a, 130, start)
	insertCalls(t, f, f.b, 20, start)
	first, err := f.db.CDRs(ctx, f.a, CDRFilter{From: start, To: start.AddDate(0, 0, 7)}, nil, nil, 30)
	if err != nil || first.Older == nil {
		t.Fatalf("first page: %v, older %v", err, first.Older)
	}
	second, err := f.db.CDRs(ctx, f.a, CDRFilter{From: start, To: start.AddDate(0, 0, 7)}, first.Older, nil, 30)
	if err != nil || second.Newer == nil {
		t.Fatalf("second page: %v, newer %v", err, second.Newer)
	}
	for _, c := range []struct {
		name         string
		filter       CDRFilter
		older, newer *CDRCursor
		limit        int
		wantCalls    bool
		wantRollup   bool
	}{
		{"whole days", CDRFilter{From: start, To: start.AddDate(0, 0, 7)}, nil, nil, 30, true, true},
		{"older", CDRFilter{From: start, To: start.AddDate(0, 0, 7)}, first.Older, nil, 30, true, true},
		{"newer", CDRFilter{From: start, To: start.AddDate(0, 0, 7)}, nil, second.Newer, 30, true, true},
		{"number", CDRFilter{From: start, To: start.AddDate(0, 0, 7), Digits: "1206555013"}, nil, nil, 50, true, false},
		{"part of a day", CDRFilter{From: start.Add(3 * time.Hour), To: start.AddDate(0, 0, 1), Direction: "inbound"}, nil, nil, 0, true, false},
		{"nothing", CDRFilter{From: start.AddDate(1, 0, 0), To: start.AddDate(1, 0, 1), Disposition: "failed"}, nil, nil, 50, false, true},
	} {
		if rollup := c.filter.Digits == "" && c.filter.wholeDays(); rollup != c.wantRollup {
			t.Fatalf("%s: totals from the rollup: %v, the case is meant for %v", c.name, rollup, c.wantRollup)
		}
		page, totals, err := f.db.CDRReport(ctx, f.a, c.filter, c.older, c.newer, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wantPage, err := f.db.CDRs(ctx, f.a, c.filter, c.older, c.newer, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		wantTotals, err := f.db.CDRTotals(ctx, f.a, c.filter)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(page, wantPage) || totals != wantTotals {
			t.Errorf("%s: report %d calls %+v (older %v newer %v), want %d calls %+v (older %v newer %v)", c.name,
				len(page.Items), totals, page.Older, page.Newer, len(wantPage.Items), wantTotals, wantPage.Older, wantPage.Newer)
		}
		if got := len(page.Items) > 0 && totals.Calls > 0; got != c.wantCalls {
			t.Errorf("%s: %d calls on the page, %d in all; want some: %v", c.name, len(page.Items), totals.Calls, c.wantCalls)
		}
	}
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
