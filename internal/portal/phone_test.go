package portal

import (
	"strings"
	"testing"
)

func TestParseE164(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"+12065550100", "+12065550100"},
		{" +1 (206) 555-0100 ", "+12065550100"},
		{"+44 20 7946 0123", "+442079460123"},
		{"+1.206.555.0100", "+12065550100"},
		{"2065550100", ""},         // no country code
		{"+1206555010", ""},        // too short for NANP
		{"+4420794601", ""},        // too short for London
		{"+1 206 555 0100x12", ""}, // extensions are not numbers
		{"+1-800-FLOWERS", ""},
		{"++12065550100", ""},
		{"+", ""},
		{"", ""},
		{"+1206\x005550100", ""},
		{"+" + strings.Repeat("1", 60), ""},
	}
	for _, c := range cases {
		got, err := ParseE164("number", c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseE164(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseE164(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestFormatPhone(t *testing.T) {
	cases := map[string]string{
		"+12065550100":  "+1 206-555-0100",
		"+442079460123": "+44 20 7946 0123",
		"anonymous":     "anonymous",
		"":              "",
	}
	for in, want := range cases {
		if got := FormatPhone(in); got != want {
			t.Errorf("FormatPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhoneSearch(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"206 555", "206555", true},
		{"+1 (206) 555-01", "120655501", true},
		{"Sales", "", false},
		{"%", "", false},
		{"+", "", false},
		{"1234567890123456", "", false},
	}
	for _, c := range cases {
		got, ok := PhoneSearch(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("PhoneSearch(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestValidCountry(t *testing.T) {
	for in, want := range map[string]bool{"US": true, "GB": true, "DE": true, "us": false, "XX": false, "USA": false, "": false} {
		if got := ValidCountry(in); got != want {
			t.Errorf("ValidCountry(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseE164 checks the number parser never panics and that what it
// accepts is canonical E.164 that parses to itself.
func FuzzParseE164(f *testing.F) {
	for _, s := range []string{"+12065550100", "+44 20 7946 0123", "2065550100", "+1-800-FLOWERS", "+", "+0", "+999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseE164("number", s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(n, "+") || len(n) < 8 || len(n) > 16 {
			t.Fatalf("ParseE164(%q) = %q, not E.164", s, n)
		}
		if again, err := ParseE164("number", n); err != nil || again != n {
			t.Fatalf("ParseE164(%q) = %q, but that parses to %q, %v", s, n, again, err)
		}
		_ = FormatPhone(n)
	})
}
