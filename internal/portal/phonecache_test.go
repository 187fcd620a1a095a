package portal

import (
	"fmt"
	"testing"
)

// Remembered answers are the answers, and the cache does not grow without
// bound.
func TestFormatPhoneCache(t *testing.T) {
	for _, in := range []string{"+12065550100", "+442079460123", "+1", "not a number", "+999999999999999"} {
		first, second := FormatPhone(in), FormatPhone(in)
		if first != second {
			t.Errorf("FormatPhone(%q) = %q, then %q", in, first, second)
		}
	}
	if got, want := FormatPhone("+12065550100"), "+1 206-555-0100"; got != want {
		t.Errorf("FormatPhone = %q, want %q", got, want)
	}
	for i := range phoneCacheSize + 10 {
		formatted.put(fmt.Sprintf("+1206%07d", i), "x")
	}
	formatted.mu.RLock()
	n := len(formatted.m)
	formatted.mu.RUnlock()
	if n > phoneCacheSize {
		t.Errorf("cache holds %d entries, limit %d", n, phoneCacheSize)
	}
	if got, want := FormatPhone("+12065550100"), "+1 206-555-0100"; got != want {
		t.Errorf("after the cache started over, FormatPhone = %q, want %q", got, want)
	}
}
