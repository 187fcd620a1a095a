package postgres

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// largeCall is one generated call record, kept unboxed until COPY asks.
type largeCall struct {
	account          int64
	at               time.Time
	outbound         bool
	from, to         string
	disposition      string
	duration, billed int32
	rate, charge     int64
	callHi, callMid  uint64
	callLo           uint32
}

// callSource streams one day of calls into COPY, reusing its value slice.
type callSource struct {
	rows []largeCall
	i    int
	vals []any
}

func (s *callSource) Next() bool { s.i++; return s.i <= len(s.rows) }
func (s *callSource) Err() error { return nil }
func (s *callSource) Values() ([]any, error) {
	c := &s.rows[s.i-1]
	dir := "inbound"
	if c.outbound {
		dir = "outbound"
	}
	s.vals = append(s.vals[:0], c.account, c.at, dir, c.from, c.to, c.disposition, c.duration, c.billed, c.rate, c.charge,
		fmt.Sprintf("%016x%016x%08x", c.callHi, c.callMid, c.callLo))
	return s.vals, nil
}

var cdrCopyCols = []string{"account_id", "started_at", "direction", "from_number", "to_number", "disposition",
	"duration_secs", "billed_secs", "rate_micros", "charge_micros", "call_id"}

// calls writes the call records a day at a time, in the order a switch
// would (by time, accounts interleaved), one COPY per day so the rollup
// triggers aggregate a day per statement. Each account's daily usage is
// added up on the way for its charge lines.
func (l *loader) calls(ctx context.Context) error {
	cum := make([]float64, len(l.accts))
	total := 0.0
	for i, a := range l.accts {
		total += a.weight
		cum[i] = total
	}
	// Weekdays are busier than weekends; the day counts add up exactly.
	perDay := make([]int, l.days)
	weights, wsum := make([]float64, l.days), 0.0
	for d := range l.days {
		weights[d] = 1.2
		if wd := l.first.AddDate(0, 0, d).Weekday(); wd == time.Saturday || wd == time.Sunday {
			weights[d] = 0.5
		}
		wsum += weights[d]
	}
	left := l.o.CDRs
	for d := range l.days {
		perDay[d] = int(float64(l.o.CDRs) * weights[d] / wsum)
		left -= perDay[d]
	}
	perDay[l.days-1] += left
	usage := make([]int64, len(l.accts)*l.days)
	calls := make([]int32, len(l.accts)*l.days)
	src := &callSource{}
	for d := range l.days {
		day := l.first.AddDate(0, 0, d)
		rows := src.rows[:0]
		for range perDay[d] {
			ix := sort.SearchFloat64s(cum, l.rng.Float64()*total)
			ix = min(ix, len(cum)-1)
			c := l.call(ix, day)
			rows = append(rows, c)
			usage[ix*l.days+d] += c.charge
			calls[ix*l.days+d]++
		}
		slices.SortFunc(rows, func(a, b largeCall) int { return a.at.Compare(b.at) })
		src.rows, src.i = rows, 0
		if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"cdrs"}, cdrCopyCols, src); err != nil {
			return err
		}
		l.add(len(rows))
	}
	l.setPhase("charges")
	if err := l.charges(ctx, usage, calls); err != nil {
		return err
	}
	l.setPhase("invitations")
	return l.invitations(ctx)
}

// call makes one call of account ix on day: mostly in business hours,
// three in four answered, priced per started six seconds.
func (l *loader) call(ix int, day time.Time) largeCall {
	a := &l.accts[ix]
	secs := l.rng.IntN(86_400)
	if l.rng.IntN(10) < 7 {
		secs = 8*3600 + l.rng.IntN(10*3600)
	}
	c := largeCall{account: a.id, at: day.Add(time.Duration(secs)*time.Second + time.Duration(l.rng.IntN(1000))*time.Millisecond)}
	did := a.dids[l.rng.IntN(len(a.dids))]
	remote := "+1" + strconv.Itoa(200+l.rng.IntN(700)) + "555" + fmt.Sprintf("%04d", l.rng.IntN(10_000))
	if l.rng.IntN(8) == 0 {
		remote = "+44207946" + fmt.Sprintf("%04d", l.rng.IntN(10_000))
	}
	c.from, c.to = remote, did
	if l.rng.IntN(5) < 2 {
		c.outbound, c.from, c.to = true, did, remote
	}
	c.disposition = "answered"
	switch p := l.rng.IntN(100); {
	case p < 76:
		c.duration = int32(min(3600, 5+int(l.rng.ExpFloat64()*150)))
	case p < 88:
		c.disposition = "no_answer"
	case p < 95:
		c.disposition = "busy"
	default:
		c.disposition = "failed"
	}
	if c.duration > 0 {
		c.billed = max(6, (c.duration+5)/6*6)
	}
	dir := "inbound"
	if c.outbound {
		dir = "outbound"
	}
	c.rate = demoRate(dir, c.to)
	c.charge = int64(c.billed) * c.rate / 60
	c.callHi, c.callMid, c.callLo = l.rng.Uint64(), l.rng.Uint64(), l.rng.Uint32()
	return c
}

// charges bills each month: a usage line per account and day with calls,
// number rental on the first, messaging for some, taxes when a month has
// closed; then a payment per account and month that covers it.
func (l *loader) charges(ctx context.Context, usage []int64, calls []int32) error {
	var payments [][]any
	for m := MonthStart(l.first); !m.After(l.o.Anchor); m = m.AddDate(0, 1, 0) {
		var rows [][]any
		end := m.AddDate(0, 1, 0)
		for i, a := range l.accts {
			subtotal := int64(0)
			add := func(at time.Time, cat, desc string, amount int64) {
				rows = append(rows, []any{a.id, at, cat, desc, amount})
				subtotal += amount
			}
			for d := range l.days {
				day := l.first.AddDate(0, 0, d)
				if day.Before(m) || !day.Before(end) {
					continue
				}
				if v := usage[i*l.days+d]; v > 0 {
					add(day.Add(23*time.Hour+59*time.Minute), "usage", fmt.Sprintf("Voice usage, %d calls", calls[i*l.days+d]), v)
				}
			}
			if a.status == portal.StatusPendingActivation {
				continue
			}
			add(later(m, l.first), "number_rental", fmt.Sprintf("Number rental, %d numbers", a.held), a.held*1_000_000)
			if i%3 == 0 && !m.AddDate(0, 0, 27).After(l.o.Anchor) {
				sms := int64(50 + l.rng.IntN(2000))
				add(m.Add(27*24*time.Hour), "messaging", fmt.Sprintf("SMS, %d messages", sms), sms*7_500)
			}
			if !end.After(l.o.Anchor.AddDate(0, 0, 1)) {
				add(end.Add(-time.Second), "taxes", "Telecommunications taxes and fees", (subtotal*825+5000)/10000)
			}
			if a.status != portal.StatusClosed {
				amount := ((subtotal*11/10)/(50*portal.MicrosPerDollar) + 1) * 50 * portal.MicrosPerDollar
				at := later(m, l.first).AddDate(0, 0, 2).Add(10 * time.Hour)
				if at.After(l.o.Anchor) {
					at = l.o.Anchor.Add(10 * time.Hour)
				}
				method, brand, last4 := "bank_transfer", "", ""
				if i%2 == 0 {
					method, brand, last4 = "card", "Visa", "4242"
				}
				payments = append(payments, []any{a.id, amount, "succeeded", method, brand, last4,
					fmt.Sprintf("ch_large_%d_%s", a.id, m.Format("200601")), "large-" + m.Format("200601"), l.users[0], at, at})
			}
		}
		if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"charges"}, []string{"account_id", "occurred_at", "category", "description", "amount_micros"},
			pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		l.add(len(rows))
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"payments"}, []string{"account_id", "amount_micros", "status", "method", "card_brand",
		"card_last4", "processor_ref", "idempotency_key", "created_by", "created_at", "completed_at"}, pgx.CopyFromRows(payments)); err != nil {
		return err
	}
	l.add(len(payments))
	return nil
}

// invitations leaves a page of pending invitations in User Management.
func (l *loader) invitations(ctx context.Context) error {
	root := l.accts[0].id
	for i := range 12 {
		var id int64
		sent := l.o.Anchor.AddDate(0, 0, -i)
		if err := l.tx.QueryRow(ctx, `INSERT INTO invitations (account_id, email, full_name, invited_by, created_at, sent_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id`, root, fmt.Sprintf("invitee%02d@large.test", i), fmt.Sprintf("Invitee %d", i+1),
			l.users[0], sent, sent.Add(portal.InviteTTL)).Scan(&id); err != nil {
			return err
		}
		acct := l.accts[1+l.rng.IntN(len(l.accts)-1)].id
		if _, err := l.tx.Exec(ctx, `INSERT INTO invitation_roles (invitation_id, account_id, role) VALUES ($1, $2, 'general')`, id, acct); err != nil {
			return err
		}
	}
	l.add(12)
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
