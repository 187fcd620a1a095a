package portal

import (
	"math"
	"strings"
	"testing"
)

func TestParseMoney(t *testing.T) {
	neg := MoneyOptions{AllowNegative: true, AllowZero: true}
	cases := []struct {
		in   string
		opt  MoneyOptions
		want int64
		ok   bool
	}{
		{"25", MoneyOptions{}, 25_000_000, true},
		{"25.00", MoneyOptions{}, 25_000_000, true},
		{" $1,234.57 ", MoneyOptions{}, 1_234_570_000, true},
		{"0.000001", MoneyOptions{}, 1, true},
		{"1,234,567.5", MoneyOptions{}, 1_234_567_500_000, true},
		{"9223372036854.775807", MoneyOptions{}, math.MaxInt64, true},
		{"-0.01", neg, -10_000, true},
		{"-$5", neg, -5_000_000, true},
		{"0", neg, 0, true},
		{"0", MoneyOptions{}, 0, false},
		{"-0.01", MoneyOptions{}, 0, false},
		{"-0", MoneyOptions{AllowZero: true}, 0, false},
		{"9223372036854.775808", MoneyOptions{}, 0, false},
		{"9223372036855", MoneyOptions{}, 0, false},
		{"99999999999999999999", MoneyOptions{}, 0, false},
		{"1.0000001", MoneyOptions{}, 0, false},
		{"NaN", MoneyOptions{}, 0, false},
		{"nan", neg, 0, false},
		{"Inf", MoneyOptions{}, 0, false},
		{"+Inf", MoneyOptions{}, 0, false},
		{"1e309", MoneyOptions{}, 0, false},
		{"1e3", MoneyOptions{}, 0, false},
		{"0x10", MoneyOptions{}, 0, false},
		{"1_000", MoneyOptions{}, 0, false},
		{"+5", MoneyOptions{}, 0, false},
		{"5.", MoneyOptions{}, 0, false},
		{".5", MoneyOptions{}, 0, false},
		{"", MoneyOptions{}, 0, false},
		{"$", MoneyOptions{}, 0, false},
		{"-", neg, 0, false},
		{"1,23", MoneyOptions{}, 0, false},
		{"1,2345", MoneyOptions{}, 0, false},
		{",123", MoneyOptions{}, 0, false},
		{"1234,567", MoneyOptions{}, 0, false},
		{"1.2.3", MoneyOptions{}, 0, false},
		{"１２", MoneyOptions{}, 0, false},
		{"12 34", MoneyOptions{}, 0, false},
		{"$-5", neg, 0, false},
		{"5$", MoneyOptions{}, 0, false},
		{"12\x00", MoneyOptions{}, 0, false},
		{strings.Repeat("1", 41), MoneyOptions{}, 0, false},
	}
	for _, c := range cases {
		got, err := ParseMoney("amount", c.in, c.opt)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseMoney(%q, %+v) = %d, %v; want %d, ok=%v", c.in, c.opt, got, err, c.want, c.ok)
		}
		if err != nil {
			if e, _ := err.(*Error); e == nil || e.Field != "amount" || e.Code != EINVALID {
				t.Errorf("ParseMoney(%q) error = %#v; want an EINVALID error about the amount field", c.in, err)
			}
		}
	}
}

func TestFormatMoney(t *testing.T) {
	cases := []struct {
		in     int64
		places int
		want   string
	}{
		{1_234_567_890, 2, "$1,234.57"},
		{1_234_565_000, 2, "$1,234.57"}, // half away from zero
		{1_234_564_999, 2, "$1,234.56"},
		{-1_234_565_000, 2, "-$1,234.57"},
		{0, 2, "$0.00"},
		{4_999, 2, "$0.00"},
		{5_000, 2, "$0.01"},
		{-4_999, 2, "$0.00"},
		{-5_000, 2, "-$0.01"},
		{999_995_000, 2, "$1,000.00"},
		{math.MaxInt64, 2, "$9,223,372,036,854.78"},
		{math.MinInt64, 2, "-$9,223,372,036,854.78"},
		{12_345, 4, "$0.0123"},
		{12_355, 4, "$0.0124"},
		{1_500_000, 0, "$2"},
		{1_234_567, 6, "$1.234567"},
		{1_234_567, 9, "$1.234567"},
	}
	for _, c := range cases {
		if got := FormatMoneyPlaces(c.in, c.places); got != c.want {
			t.Errorf("FormatMoneyPlaces(%d, %d) = %q, want %q", c.in, c.places, got, c.want)
		}
	}
	if got := FormatMoney(25_000_000); got != "$25.00" {
		t.Errorf("FormatMoney(25 dollars) = %q, want $25.00", got)
	}
}

func TestFormatDecimal(t *testing.T) {
	cases := map[int64]string{0: "0", 1: "0.000001", 1_500_000: "1.5", -10_000: "-0.01", 123_000_000: "123",
		math.MaxInt64: "9223372036854.775807", math.MinInt64: "-9223372036854.775808"}
	for in, want := range cases {
		if got := FormatDecimal(in); got != want {
			t.Errorf("FormatDecimal(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	cases := map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"}
	for in, want := range cases {
		if got := FormatCount(in); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckFunds(t *testing.T) {
	for _, c := range []struct {
		m  int64
		ok bool
	}{{MinFunds - 1, false}, {MinFunds, true}, {MaxFunds, true}, {MaxFunds + 1, false}} {
		if err := CheckFunds("amount", c.m); (err == nil) != c.ok {
			t.Errorf("CheckFunds(%d) = %v, want ok=%v", c.m, err, c.ok)
		}
	}
}

// FuzzParseMoney checks that the parser never panics, that what it accepts
// is in range and round-trips exactly through FormatDecimal, and that a
// funds amount (no sign, no zero) is never negative. The committed corpus
// under testdata/fuzz/FuzzParseMoney holds the classic traps.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"25.00", "$1,234.57", "0.000001", "-0.01", "NaN", "1e309", "1.0000001",
		"9223372036854.775807", "9223372036854.775808", "-9223372036854.775807", "1,23", "0", "-0"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, allowNeg bool) {
		opt := MoneyOptions{AllowNegative: allowNeg, AllowZero: allowNeg}
		m, err := ParseMoney("amount", s, opt)
		if err != nil {
			if m != 0 {
				t.Fatalf("ParseMoney(%q) = %d with error %v; want 0", s, m, err)
			}
			return
		}
		if !allowNeg && m <= 0 {
			t.Fatalf("ParseMoney(%q) without sign or zero = %d; want > 0", s, m)
		}
		d := FormatDecimal(m)
		back, err := ParseMoney("amount", d, MoneyOptions{AllowNegative: true, AllowZero: true})
		if err != nil || back != m {
			t.Fatalf("round trip %q → %d → %q → %d, %v", s, m, d, back, err)
		}
		_ = FormatMoney(m)
		if strings.ContainsAny(s, "eEnN") {
			t.Fatalf("ParseMoney accepted %q, which holds an exponent or NaN/Inf", s)
		}
	})
}
