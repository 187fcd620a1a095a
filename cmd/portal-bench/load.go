package main

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sample is one closed-loop measurement of one route.
type sample struct {
	Requests int            `json:"requests"`
	RPS      float64        `json:"rps"`
	P50      float64        `json:"p50_ms"`
	P99      float64        `json:"p99_ms"`
	Errors   int            `json:"errors"`
	Codes    map[string]int `json:"codes"`
}

// attack drives urls (in turn) with conns workers, each sending its next
// request as soon as the previous answer has been read: a closed loop.
// vegeta is open-loop by design, but at rate 0 ("as fast as possible")
// with the worker count pinned (Workers = MaxWorkers) its pacer hands out
// a request only when a worker is free, which is exactly a closed loop of
// conns connections. Redirects are not followed: a redirect (to the sign-in
// page, say) is an error here, as is every answer that is not 2xx.
func attack(urls []string, header http.Header, conns int, d time.Duration) sample {
	targets := make([]vegeta.Target, len(urls))
	for i, u := range urls {
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: u, Header: header}
	}
	a := vegeta.NewAttacker(
		vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns), vegeta.MaxConnections(conns), vegeta.KeepAlive(true), vegeta.HTTP2(false),
		vegeta.Redirects(vegeta.NoFollow), vegeta.Timeout(30*time.Second), vegeta.MaxBody(0),
	)
	lat := make([]time.Duration, 0, 1<<14)
	s := sample{Codes: map[string]int{}}
	var first, last time.Time
	for res := range a.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: 0}, d, "bench") {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		lat = append(lat, res.Latency)
		code := "error"
		if res.Code != 0 {
			code = strconv.Itoa(int(res.Code))
		}
		s.Codes[code]++
		if res.Code < 200 || res.Code > 299 {
			s.Errors++
		}
	}
	s.Requests = len(lat)
	if s.Requests == 0 {
		return s
	}
	s.RPS = float64(s.Requests) / last.Sub(first).Seconds()
	slices.Sort(lat)
	s.P50 = ms(quantile(lat, 0.50))
	s.P99 = ms(quantile(lat, 0.99))
	return s
}

// quantile is the nearest-rank quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
