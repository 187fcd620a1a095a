package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"carrierportal/internal/postgres"
)

// Absolute limits of the performance plan, whatever the ratios.
const (
	maxP99Ms         = 25
	minExportRowsSec = 200_000
	maxServerRSSMB   = 200
	maxR8Ratio       = 0.01
)

// results is everything one run measured; it is also the JSON written.
type results struct {
	Started time.Time `json:"started"`
	CPUs    int       `json:"cpus"`
	// PageCache says whether the server kept pages, access and picker
	// answers in memory (PORTAL_PAGE_CACHE).
	PageCache bool                    `json:"page_cache"`
	Rounds    int                     `json:"rounds"`
	Conns     int                     `json:"connections"`
	Seconds   float64                 `json:"seconds_per_measurement"`
	Data      map[string]any          `json:"data"`
	Order     []string                `json:"order"`
	Routes    map[string]*routeResult `json:"routes"`
	R8        *r8Result               `json:"r8"`
	Export    *exportResult           `json:"export"`
}

// routeResult is one route's rounds and their median.
type routeResult struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Path     string   `json:"path"`
	Status   string   `json:"status"` // ok, missing, or the probe's error
	Baseline bool     `json:"baseline"`
	Target   float64  `json:"target_ratio,omitempty"`
	Samples  []sample `json:"rounds,omitempty"`
	RPS      float64  `json:"rps"`
	P50      float64  `json:"p50_ms"`
	P99      float64  `json:"p99_ms"`
	Errors   int      `json:"errors"`
	Ratio    float64  `json:"ratio_to_b1"`
	Pass     *bool    `json:"pass,omitempty"`
	Why      string   `json:"why,omitempty"`
}

func dataInfo(info *postgres.LargeInfo, month time.Time) map[string]any {
	return map[string]any{"sub_accounts": info.SubAccounts, "cdrs": info.CDRs, "first_day": info.First.Format(time.DateOnly),
		"last_day": info.Last.Format(time.DateOnly), "report_month": month.Format("2006-01")}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize takes each route's median round; the ratio is the median of
// the per-round ratios to B1, so a slow round slows both sides.
func (res *results) summarize() {
	res.CPUs = runtime.NumCPU()
	b1 := res.Routes["B1"]
	for _, id := range res.Order {
		rr := res.Routes[id]
		if len(rr.Samples) == 0 {
			continue
		}
		var rps, p50, p99, ratio []float64
		for i, s := range rr.Samples {
			rps, p50, p99 = append(rps, s.RPS), append(p50, s.P50), append(p99, s.P99)
			rr.Errors += s.Errors
			if b1 != nil && i < len(b1.Samples) && b1.Samples[i].RPS > 0 {
				ratio = append(ratio, s.RPS/b1.Samples[i].RPS)
			}
		}
		rr.RPS, rr.P50, rr.P99, rr.Ratio = median(rps), median(p50), median(p99), median(ratio)
		if rr.Baseline && rr.Target == 0 {
			continue
		}
		var why []string
		if rr.Ratio < rr.Target {
			why = append(why, fmt.Sprintf("ratio %.2f < %.2f", rr.Ratio, rr.Target))
		}
		if !rr.Baseline && rr.P99 > maxP99Ms {
			why = append(why, fmt.Sprintf("p99 %.1f ms > %d ms", rr.P99, maxP99Ms))
		}
		if rr.Errors > 0 {
			why = append(why, fmt.Sprintf("%d errors", rr.Errors))
		}
		pass := len(why) == 0
		rr.Pass, rr.Why = &pass, strings.Join(why, "; ")
	}
}

func verdict(p *bool, why string) string {
	switch {
	case p == nil:
		return "—"
	case *p:
		return "pass"
	}
	return "FAIL: " + why
}

// print writes the one table.
func (res *results) print(w io.Writer) {
	caches := "on"
	if !res.PageCache {
		caches = "off (every page read from the database)"
	}
	fmt.Fprintf(w, "\n%d sub-accounts, %d CDRs (%s … %s); %d connections, closed loop; median of %d rounds of %gs; %d CPUs; page caches %s\n\n",
		res.Data["sub_accounts"], res.Data["cdrs"], res.Data["first_day"], res.Data["last_day"], res.Conns, res.Rounds, res.Seconds, res.CPUs, caches)
	fmt.Fprintf(w, "| route | what | rps | p50 ms | p99 ms | errors | ÷ B1 | target | result |\n|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, id := range res.Order {
		rr := res.Routes[id]
		target := "—"
		if rr.Target > 0 {
			target = fmt.Sprintf("≥ %.2f", rr.Target)
			if !rr.Baseline {
				target += fmt.Sprintf(", p99 ≤ %d", maxP99Ms)
			}
		}
		label := id
		if id == "B2" {
			label = "B2 (R1)"
		}
		if rr.Status != "ok" {
			fmt.Fprintf(w, "| %s | %s `%s` | — | — | — | — | — | %s | %s |\n", label, rr.Name, rr.Path, target, rr.Status)
			continue
		}
		fmt.Fprintf(w, "| %s | %s `%s` | %.0f | %.2f | %.2f | %d | %.2f | %s | %s |\n", label, rr.Name, rr.Path, rr.RPS, rr.P50, rr.P99,
			rr.Errors, rr.Ratio, target, verdict(rr.Pass, rr.Why))
	}
	if r := res.R8; r != nil {
		if r.Error != "" {
			fmt.Fprintf(w, "| R8 | month billing, rollups ÷ raw CDRs | | | | | | ≤ %.2f | error: %s |\n", maxR8Ratio, r.Error)
		} else {
			fmt.Fprintf(w, "| R8 | month billing (%s, %d accounts): rollups %.2f ms ÷ raw CDRs %.1f ms | | | | | %.4f | ≤ %.2f | %s |\n",
				r.Month, r.Rows, r.RollupMs, r.RawMs, r.Ratio, maxR8Ratio, verdict(&r.Pass, r.Why))
		}
	}
	if e := res.Export; e != nil {
		if e.Error != "" {
			fmt.Fprintf(w, "| CSV | month export | | | | | | ≥ %dk rows/s | error: %s |\n", minExportRowsSec/1000, e.Error)
		} else {
			fmt.Fprintf(w, "| CSV | month export, %d rows, %.1f MB in %.2f s | %.0f rows/s | | | | | ≥ %dk rows/s | %s |\n",
				e.Rows, float64(e.Bytes)/1e6, e.Seconds, e.RowsPerSec, minExportRowsSec/1000, verdict(&e.Pass, e.Why))
		}
		fmt.Fprintf(w, "| RSS | server peak resident memory during the export (%.0f MB at its start; peak in the load rounds %.0f MB) | %.0f MB | | | | | < %d MB | %s |\n",
			e.RSSMB, e.LoadPeakRSSMB, e.PeakRSSMB, maxServerRSSMB, verdict(ptr(e.PeakRSSMB > 0 && e.PeakRSSMB < maxServerRSSMB), "over the limit"))
	}
	fmt.Fprintln(w)
}

func ptr(b bool) *bool { return &b }

// write saves the results as JSON.
func (res *results) write(path string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "results written to %s\n", path)
	return nil
}
