package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"carrierportal/internal/postgres"
)

// exportResult is the month's CSV export of the root account, read as a
// browser would, and the server process's memory.
type exportResult struct {
	Path       string  `json:"path,omitempty"`
	Rows       int64   `json:"rows"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	Pass       bool    `json:"pass"`
	Why        string  `json:"why,omitempty"`
	Error      string  `json:"error,omitempty"`
	// PeakRSSMB is the server's peak resident memory during the export,
	// RSSMB what it held when the export began, LoadPeakRSSMB its peak
	// during the load rounds before.
	PeakRSSMB     float64 `json:"server_peak_rss_mb_export"`
	RSSMB         float64 `json:"server_rss_mb_before_export"`
	LoadPeakRSSMB float64 `json:"server_peak_rss_mb_load"`
}

// measureExport downloads the root account's call records for a whole
// month and counts the rows as they stream in.
func measureExport(c *child, h http.Header, month time.Time) *exportResult {
	end := month.AddDate(0, 1, -1)
	u := fmt.Sprintf("http://%s/accounts/%s/cdrs.csv?from=%s&to=%s", c.portal, postgres.LargeRootPrefix,
		month.Format(time.DateOnly), end.Format(time.DateOnly))
	e := &exportResult{Path: pathOf(u)}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		e.Error = err.Error()
		return e
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.Error = resp.Status
		if resp.StatusCode == http.StatusNotFound {
			e.Error = "missing"
		}
		return e
	}
	br := bufio.NewReaderSize(resp.Body, 1<<16)
	buf := make([]byte, 1<<16)
	var lines int64
	for {
		n, err := br.Read(buf)
		e.Bytes += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			break
		}
		if err != nil {
			e.Error = err.Error()
			return e
		}
	}
	e.Seconds = time.Since(start).Seconds()
	e.Rows = max(0, lines-1) // the header line
	e.RowsPerSec = float64(e.Rows) / e.Seconds
	e.Pass = e.RowsPerSec >= minExportRowsSec
	if !e.Pass {
		e.Why = fmt.Sprintf("%.0f rows/s < %d", e.RowsPerSec, minExportRowsSec)
	}
	return e
}

// resetPeak starts the server process's peak resident set over from its
// current size (Linux: clear_refs 5), so the export's peak is its own.
func (c *child) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.cmd.Process.Pid), []byte("5"), 0)
}

// memory reads the server process's peak and current resident set (MB).
func (c *child) memory() (peak, now float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb / 1024
		case "VmRSS:":
			now = kb / 1024
		}
	}
	return peak, now
}
