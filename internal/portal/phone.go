package portal

import (
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneInput bounds what is handed to the phone number library.
const maxPhoneInput = 40

// ParseE164 validates a full international phone number, as typed ("+1 206
// 555-0100") or as stored ("+12065550100"), and returns its E.164 form. Only
// numbers with a country code are accepted: a carrier's customers work in
// many countries, so there is no sensible default region.
func ParseE164(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError(field, "Enter a phone number.")
	}
	if len(s) > maxPhoneInput || !strings.HasPrefix(s, "+") || !phoneChars(s) {
		return "", FieldError(field, "Enter the number in international format, like +1 206 555 0100.")
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", FieldError(field, "That is not a valid phone number.")
	}
	// The library's metadata admits some national numbers (German ones)
	// longer than E.164's fifteen digits, which nothing downstream stores.
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if len(e164) > 16 {
		return "", FieldError(field, "That is not a valid phone number.")
	}
	return e164, nil
}

// phoneChars allows what people put in written numbers: digits, a leading
// plus, spaces, dots, dashes and parentheses. Letters (vanity numbers,
// extensions) are refused.
func phoneChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == ' ', c == '-', c == '.', c == '(', c == ')':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}

// FormatPhone shows a stored E.164 number in international format ("+1
// 206-555-0100"); anything it cannot read is shown unchanged.
//
// Parsing a number costs tens of microseconds of regular expressions and a
// page of call records shows a hundred numbers, so results are remembered.
func FormatPhone(e164 string) string {
	if !strings.HasPrefix(e164, "+") || len(e164) > maxPhoneInput {
		return e164
	}
	if s, ok := formatted.get(e164); ok {
		return s
	}
	s := e164
	if n, err := phonenumbers.Parse(e164, ""); err == nil {
		s = phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	}
	formatted.put(e164, s)
	return s
}

// PhoneSearch turns what a user typed to find numbers ("206 555", "+1206",
// "(206) 555-01") into the digits to look for, so a partial number matches
// however it was written. ok is false when the text is not a number at all.
func PhoneSearch(s string) (digits string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxPhoneInput || !phoneChars(s) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	if b.Len() == 0 || b.Len() > 15 {
		return "", false
	}
	return b.String(), true
}

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 region the
// phone numbering plan knows, which is every country a customer can be in.
func ValidCountry(code string) bool {
	if len(code) != 2 {
		return false
	}
	return regions()[code]
}

// regions is built once: the library makes a new map on every call.
var regions = sync.OnceValue(phonenumbers.GetSupportedRegions)
