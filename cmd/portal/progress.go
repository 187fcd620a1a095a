package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws a one-line bar (phase, rows, rate, time left) on a
// terminal, redrawn at most a few times a second; elsewhere (a log file, CI)
// it prints a plain line every few seconds instead.
type progressBar struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	start    time.Time
	last     time.Time
	phase    string
	width    int
}

func newProgressBar(w io.Writer, terminal bool) *progressBar {
	return &progressBar{w: w, terminal: terminal, start: time.Now(), width: 30}
}

// update is a postgres.SeedProgress.
func (p *progressBar) update(phase string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 200 * time.Millisecond
	if !p.terminal {
		every = 5 * time.Second
	}
	if phase == p.phase && now.Sub(p.last) < every && done < total {
		return
	}
	p.phase, p.last = phase, now
	elapsed := now.Sub(p.start)
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	frac := float64(done) / float64(max(total, 1))
	eta := "--:--"
	if rate > 0 && done > 0 {
		eta = clock(time.Duration(float64(total-done) / rate * float64(time.Second)))
	}
	fill := int(frac * float64(p.width))
	bar := strings.Repeat("#", fill) + strings.Repeat(".", p.width-fill)
	line := fmt.Sprintf("%-12s [%s] %5.1f%%  %s / %s rows  %s rows/s  elapsed %s  left %s",
		phase, bar, 100*frac, count(done), count(total), count(int64(rate)), clock(elapsed), eta)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
