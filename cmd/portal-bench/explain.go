package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// r8Result compares a month's billing read from the rollups with the same
// figures aggregated from the raw call records.
type r8Result struct {
	Month    string  `json:"month,omitempty"`
	Rows     int     `json:"accounts,omitempty"`
	RollupMs float64 `json:"rollup_ms,omitempty"`
	RawMs    float64 `json:"raw_ms,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Same     bool    `json:"same_result"`
	Pass     bool    `json:"pass"`
	Why      string  `json:"why,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// The month's usage of every account in the family ($1 the root): calls,
// billed seconds and charges. Both queries answer the same rows; the first
// reads one rollup row per account, the second every call of the month.
const (
	billingOnRollups = `SELECT a.id, m.calls, m.billed_secs, m.charge_micros
		FROM accounts a JOIN cdr_monthly m ON m.account_id = a.id AND m.month = $2::date
		WHERE (a.id = $1 OR a.parent_id = $1) AND m.calls > 0
		ORDER BY a.id`
	billingOnCDRs = `SELECT a.id, count(*), sum(c.billed_secs), sum(c.charge_micros)
		FROM accounts a JOIN cdrs c ON c.account_id = a.id AND c.started_at >= $2::date AND c.started_at < ($2::date + interval '1 month')
		WHERE (a.id = $1 OR a.parent_id = $1)
		GROUP BY a.id ORDER BY a.id`
)

// explainBilling runs both queries, checks they agree, and times each with
// EXPLAIN (ANALYZE): one warm-up and the median of three executions.
func explainBilling(ctx context.Context, pool *pgxpool.Pool, rootID int64, month time.Time) (*r8Result, error) {
	r := &r8Result{Month: month.Format("2006-01")}
	var digests [2]string
	for i, q := range []string{billingOnRollups, billingOnCDRs} {
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(x::text, ';' ORDER BY x::text)), '') FROM (`+q+`) x`, rootID, month).
			Scan(&r.Rows, &digests[i])
		if err != nil {
			return nil, err
		}
	}
	r.Same = digests[0] == digests[1]
	var err error
	if r.RollupMs, err = explainMs(ctx, pool, billingOnRollups, rootID, month); err != nil {
		return nil, err
	}
	if r.RawMs, err = explainMs(ctx, pool, billingOnCDRs, rootID, month); err != nil {
		return nil, err
	}
	r.Ratio = r.RollupMs / r.RawMs
	r.Pass = r.Same && r.Ratio <= maxR8Ratio
	switch {
	case !r.Same:
		r.Why = "the rollups disagree with the calls"
	case !r.Pass:
		r.Why = fmt.Sprintf("ratio %.4f > %.2f", r.Ratio, maxR8Ratio)
	}
	return r, nil
}

// explainMs is a query's planning and execution time. Per-node timing is
// off: reading the clock twice for every row of every node costs more in a
// plan that loops over ten thousand accounts than in one that aggregates,
// and would weigh on the comparison; the total is still measured.
func explainMs(ctx context.Context, pool *pgxpool.Pool, q string, args ...any) (float64, error) {
	var times []float64
	for i := range 4 {
		var plan []byte
		if err := pool.QueryRow(ctx, `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) `+q, append([]any{pgx.QueryExecModeExec}, args...)...).Scan(&plan); err != nil {
			return 0, err
		}
		var out []struct {
			Execution float64 `json:"Execution Time"`
			Planning  float64 `json:"Planning Time"`
		}
		if err := json.Unmarshal(plan, &out); err != nil || len(out) == 0 {
			return 0, fmt.Errorf("explain output: %v", err)
		}
		if i > 0 {
			times = append(times, out[0].Execution+out[0].Planning)
		}
	}
	return median(times), nil
}
