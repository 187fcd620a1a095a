package portal

import (
	"math"
	"strconv"
	"strings"
)

// Money is integer micro-dollars (millionths of a US dollar) from the form
// to the database and back: rates of fractions of a cent add up exactly, and
// no float ever touches an amount.
const (
	// MicrosPerDollar is one dollar in micro-dollars.
	MicrosPerDollar int64 = 1_000_000
	// MicrosPerCent is one cent in micro-dollars.
	MicrosPerCent int64 = 10_000
	// MoneyDecimals is the most decimals an amount may have.
	MoneyDecimals = 6
)

// Limits of one payment made through Add funds.
const (
	MinFunds = 5 * MicrosPerDollar
	MaxFunds = 10_000 * MicrosPerDollar
)

// MoneyOptions says what ParseMoney accepts besides a plain amount.
type MoneyOptions struct {
	// AllowNegative accepts a leading minus sign (credits, adjustments).
	AllowNegative bool
	// AllowZero accepts an amount of zero.
	AllowZero bool
}

// ParseMoney reads an amount typed by a person into micro-dollars. It is
// strict on purpose: an optional "$", ASCII digits with correctly placed
// thousands separators, and at most six decimals. It rejects what
// strconv.ParseFloat would take (NaN, Inf, exponents, hex, underscores), signs
// where they are not allowed, and amounts that do not fit in an int64.
func ParseMoney(field, s string, opt MoneyOptions) (int64, error) {
	invalid := func(msg string) (int64, error) { return 0, FieldError(field, msg) }
	s = strings.TrimSpace(s)
	if s == "" {
		return invalid("Enter an amount.")
	}
	if len(s) > 40 {
		return invalid("Enter an amount like 25.00.")
	}
	neg := false
	if s[0] == '-' {
		if !opt.AllowNegative {
			return invalid("The amount cannot be negative.")
		}
		neg, s = true, s[1:]
	}
	s = strings.TrimPrefix(s, "$")
	whole, frac, hasPoint := strings.Cut(s, ".")
	if hasPoint && frac == "" || whole == "" {
		return invalid("Enter an amount like 25.00.")
	}
	whole, ok := stripGrouping(whole)
	if !ok || !allDigits(whole) || !allDigits(frac) {
		return invalid("Enter an amount like 25.00.")
	}
	if len(frac) > MoneyDecimals {
		return invalid("Use at most 6 decimal places.")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/MicrosPerDollar {
		return invalid("The amount is too large.")
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", MoneyDecimals-len(frac)), 10, 64)
	}
	m := w * MicrosPerDollar
	if m > math.MaxInt64-f {
		return invalid("The amount is too large.")
	}
	m += f
	if neg {
		m = -m
	}
	if m == 0 && !opt.AllowZero {
		return invalid("The amount must be more than zero.")
	}
	return m, nil
}

// stripGrouping removes thousands separators, accepting them only in their
// proper places (1,234,567), so "1,2,3" is not read as 123.
func stripGrouping(s string) (string, bool) {
	if !strings.Contains(s, ",") {
		return s, true
	}
	groups := strings.Split(s, ",")
	if len(groups[0]) < 1 || len(groups[0]) > 3 {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// abs64 returns |m| as a uint64, which also holds |math.MinInt64|.
func abs64(m int64) uint64 {
	if m < 0 {
		return uint64(-(m + 1)) + 1
	}
	return uint64(m)
}

// FormatMoney shows an amount in dollars rounded to the cent, half away
// from zero, with thousands separators: "$1,234.57", "-$0.50".
func FormatMoney(m int64) string { return FormatMoneyPlaces(m, 2) }

// FormatMoneyPlaces shows an amount with the given number of decimals (0 to
// 6), rounded half away from zero; per-minute rates and per-call charges need
// more than cents.
func FormatMoneyPlaces(m int64, places int) string {
	places = max(0, min(places, MoneyDecimals))
	unit := uint64(1)
	for i := places; i < MoneyDecimals; i++ {
		unit *= 10
	}
	a := abs64(m)
	q, r := a/unit, a%unit
	if r*2 >= unit {
		q++
	}
	scale := uint64(1)
	for i := 0; i < places; i++ {
		scale *= 10
	}
	whole, frac := q/scale, q%scale
	var b strings.Builder
	if m < 0 && q != 0 {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	b.WriteString(group(strconv.FormatUint(whole, 10)))
	if places > 0 {
		fs := strconv.FormatUint(frac, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", places-len(fs)))
		b.WriteString(fs)
	}
	return b.String()
}

// group inserts thousands separators into a string of digits.
func group(d string) string {
	if len(d) <= 3 {
		return d
	}
	var b strings.Builder
	head := len(d) % 3
	if head > 0 {
		b.WriteString(d[:head])
	}
	for i := head; i < len(d); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d[i : i+3])
	}
	return b.String()
}

// FormatDecimal writes an amount exactly, as a plain decimal without
// currency sign or separators ("-1234.5", "0.000001"): the form of CSV
// exports and of form values, and ParseMoney reads it back unchanged.
func FormatDecimal(m int64) string {
	a := abs64(m)
	whole, frac := a/uint64(MicrosPerDollar), a%uint64(MicrosPerDollar)
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		fs := strconv.FormatUint(frac, 10)
		fs = strings.Repeat("0", MoneyDecimals-len(fs)) + fs
		s += "." + strings.TrimRight(fs, "0")
	}
	if m < 0 {
		s = "-" + s
	}
	return s
}

// CheckFunds applies the limits of one Add funds payment.
func CheckFunds(field string, m int64) error {
	if m < MinFunds {
		return FieldError(field, "The smallest payment is "+FormatMoney(MinFunds)+".")
	}
	if m > MaxFunds {
		return FieldError(field, "The largest payment is "+FormatMoney(MaxFunds)+". Contact us for larger amounts.")
	}
	return nil
}

// FormatCount shows a count with thousands separators: "12,345".
func FormatCount(n int64) string {
	if n < 0 {
		return "-" + group(strconv.FormatUint(abs64(n), 10))
	}
	return group(strconv.FormatInt(n, 10))
}
