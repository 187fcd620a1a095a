package portal

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits of user-entered text.
const (
	MaxNameRunes     = 100
	MaxNameBytes     = 400
	MaxEmailBytes    = 254
	MinPasswordRunes = 8
	MaxPasswordRunes = 128
)

// CleanText validates and normalizes one line of user text (a name, a company,
// an address line): valid UTF-8, NFC, no control or bidi-override characters,
// surrounding spaces removed, within the rune and byte limits. required says
// whether it may be empty.
func CleanText(field, label, s string, required bool, maxRunes int) (string, error) {
	if !utf8.ValidString(s) {
		return "", FieldError(field, label+" contains invalid characters.")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if s == "" {
		if required {
			return "", FieldError(field, label+" is required.")
		}
		return "", nil
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError {
			return "", FieldError(field, label+" contains characters that are not allowed.")
		}
	}
	if n := utf8.RuneCountInString(s); n > maxRunes || len(s) > maxRunes*4 {
		return "", Errorf(EINVALID, "%s must be at most %d characters.", label, maxRunes).withField(field)
	}
	return s, nil
}

func (e *Error) withField(f string) *Error { e.Field = f; return e }

// isBidiControl reports the invisible characters that reorder text and can
// make a name display as something else.
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0xFEFF, r >= 0x200B && r <= 0x200D:
		return true
	}
	return false
}

// CleanName validates a person's or company's name. Angle brackets have no
// place in a name and are refused.
func CleanName(field, label, s string) (string, error) {
	s, err := CleanText(field, label, s, true, MaxNameRunes)
	if err == nil && strings.ContainsAny(s, "<>") {
		return "", FieldError(field, label+" cannot contain < or >.")
	}
	return s, err
}

// CleanEmail validates an email address and returns it trimmed; the domain
// part is lower-cased. Display names, comments and line breaks are rejected.
func CleanEmail(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", FieldError(field, "Enter a valid email address.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError(field, "Email is required.")
	}
	if len(s) > MaxEmailBytes {
		return "", FieldError(field, "Email must be at most 254 characters.")
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7F || r > 0x7E {
			return "", FieldError(field, "Enter a valid email address.")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", FieldError(field, "Enter a valid email address.")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") {
		return "", FieldError(field, "Enter a valid email address.")
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:]), nil
}

// CheckPassword enforces the password policy: 8 to 128 characters, valid
// UTF-8, no composition rules and no trimming.
func CheckPassword(field, s string) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return FieldError(field, "Password contains invalid characters.")
	}
	n := utf8.RuneCountInString(s)
	if n < MinPasswordRunes {
		return FieldError(field, "Password must be at least 8 characters.")
	}
	if n > MaxPasswordRunes {
		return FieldError(field, "Password must be at most 128 characters.")
	}
	return nil
}

// ValidTechPrefix reports whether s looks like a tech prefix: eight digits.
func ValidTechPrefix(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
