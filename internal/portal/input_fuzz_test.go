package portal

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzCleanText checks the one-line text cleaner behind every free-text
// field: what it accepts is valid NFC UTF-8 without control or bidi
// characters, trimmed, within the limit, and cleaning it again changes
// nothing.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"Acme", " padded ", "Cafe\u0301", "a\x00b", "\xff", "\u202Eevil", "tab\there", "\u200Bzero-width",
		strings.Repeat("😀", 40), "\u0410\u0441me"} {
		f.Add(s, uint8(40))
	}
	f.Fuzz(func(t *testing.T, s string, max uint8) {
		limit := int(max%120) + 1
		got, err := CleanText("f", "Text", s, false, limit)
		if err != nil {
			if ErrorCode(err) != EINVALID || ErrorMessage(err) == "" {
				t.Fatalf("CleanText(%q) failed without a message: %v", s, err)
			}
			return
		}
		if !utf8.ValidString(got) || !norm.NFC.IsNormalString(got) || got != strings.TrimSpace(got) ||
			utf8.RuneCountInString(got) > limit || len(got) > 4*limit {
			t.Fatalf("CleanText(%q, %d) = %q", s, limit, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError {
				t.Fatalf("CleanText(%q) kept %U", s, r)
			}
		}
		if again, err := CleanText("f", "Text", got, false, limit); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
		}
	})
}

// sipUsernameRE is the database's CHECK on sip_credentials.username: an
// accepted name must never be refused by the database as a 500.
var sipUsernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,31}$`)

func FuzzCleanSIPUsername(f *testing.F) {
	for _, s := range []string{"pbx01", "PBX.main", "_lead", "ab", strings.Repeat("a", 33), "İstanbul", "a\x00b", " trunk-1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CleanSIPUsername("u", s)
		if err == nil && !sipUsernameRE.MatchString(got) {
			t.Fatalf("CleanSIPUsername(%q) = %q, which the database refuses", s, got)
		}
	})
}

// FuzzCardInput checks the card fields of the billing forms.
func FuzzCardInput(f *testing.F) {
	f.Add("4242 4242 4242 4242", "12/40", "123")
	f.Add("4242-4242-4242-4241", "13/40", "12")
	f.Add("４２４２４２４２４２４２４２４２", "1/2040", "12345")
	f.Add("4242424242424242424242", " 0/00", "1\x00")
	f.Fuzz(func(t *testing.T, number, exp, cvc string) {
		if n, err := CleanCardNumber("n", number); err == nil && (len(n) < 12 || len(n) > 19 || !allDigits(n) || !luhn(n)) {
			t.Fatalf("CleanCardNumber(%q) = %q", number, n)
		}
		// Two digits are this century; four are the year as typed (one
		// long past parses, and the processor calls the card expired).
		if m, y, err := ParseExpiry("e", exp); err == nil {
			_, typed, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(exp), " ", ""), "/")
			n, _ := strconv.Atoi(typed)
			if m < 1 || m > 12 || len(typed) == 2 && y != 2000+n || len(typed) == 4 && y != n {
				t.Fatalf("ParseExpiry(%q) = %d/%d", exp, m, y)
			}
		}
		if c, err := CleanCVC("c", cvc); err == nil && (len(c) < 3 || len(c) > 4 || !allDigits(c)) {
			t.Fatalf("CleanCVC(%q) = %q", cvc, c)
		}
	})
}

// FuzzPhoneSearch checks the number search of the DIDs page and the CDR
// filter: what it returns is digits only, so it can never carry a LIKE
// wildcard into a query.
func FuzzPhoneSearch(f *testing.F) {
	for _, s := range []string{"206 555", "+1 (206) 555-01", "%", "_", "1%", "٢٠٦", strings.Repeat("9", 41), "Sales"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := PhoneSearch(s)
		if ok && (d == "" || len(d) > 15 || !allDigits(d)) {
			t.Fatalf("PhoneSearch(%q) = %q", s, d)
		}
	})
}

// FuzzPasswordAndCountry checks the password policy (8 to 128 characters
// of valid UTF-8 without NUL, nothing else) and the country code check.
func FuzzPasswordAndCountry(f *testing.F) {
	for _, s := range []string{"correct horse", "1234567", strings.Repeat("é", 128), strings.Repeat("é", 129), "pass\x00word", "US", "us", "001", "ZZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := utf8.RuneCountInString(s)
		want := utf8.ValidString(s) && !strings.ContainsRune(s, 0) && n >= MinPasswordRunes && n <= MaxPasswordRunes
		if got := CheckPassword("p", s) == nil; got != want {
			t.Fatalf("CheckPassword(%q) accepted = %v, want %v", s, got, want)
		}
		if ValidCountry(s) && (len(s) != 2 || strings.ToUpper(s) != s || !unicode.IsLetter(rune(s[0])) || !unicode.IsLetter(rune(s[1]))) {
			t.Fatalf("ValidCountry(%q)", s)
		}
	})
}
