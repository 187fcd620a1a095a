package portal

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanName(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"  Acme Telecom ", "Acme Telecom", true},
		{"Cafe\u0301", "Café", true}, // normalized to NFC
		{strings.Repeat("😀", 100), strings.Repeat("😀", 100), true},
		{strings.Repeat("😀", 101), "", false},
		{"", "", false},
		{"bad\xff", "", false},
		{"nul\x00", "", false},
		{"evil\u202Etxt", "", false},
		{"<script>", "", false},
		{"tab\there", "", false},
	}
	for _, tc := range tests {
		got, err := CleanName("f", "Name", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCleanEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"User@Example.TEST", "User@example.test", true},
		{" a@b.test ", "a@b.test", true},
		{"a@b", "", false},
		{"a@b.test\r\nBcc: x@y.test", "", false},
		{"Name <a@b.test>", "", false},
		{"a@b.test, c@d.test", "", false},
		{strings.Repeat("a", 250) + "@b.test", "", false},
		{"ü@b.test", "", false},
	}
	for _, tc := range tests {
		got, err := CleanEmail("email", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanEmail(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	if CheckPassword("p", "1234567") == nil {
		t.Error("7 characters accepted")
	}
	if err := CheckPassword("p", "  spaces  "); err != nil {
		t.Errorf("spaces rejected: %v", err)
	}
	long := strings.Repeat("ß", 128)
	if err := CheckPassword("p", long); err != nil {
		t.Errorf("128 unicode characters rejected: %v", err)
	}
	if CheckPassword("p", long+"x") == nil {
		t.Error("129 characters accepted")
	}
	h, err := HashPassword(long)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	if !CheckPasswordHash(h, long) || CheckPasswordHash(h, long[:len(long)-2]) {
		t.Error("hash check wrong")
	}
	// No trimming: a trailing space is part of the password.
	h2, _ := HashPassword("password ")
	if CheckPasswordHash(h2, "password") {
		t.Error("password was trimmed")
	}
	if CheckPasswordHash("", "x") || CheckPasswordHash("$argon2id$garbage", "x") {
		t.Error("malformed hash matched")
	}
}

func TestAuthorize(t *testing.T) {
	all := map[Feature]bool{FeatureSubAccounts: true, FeatureMultiUser: true}
	tests := []struct {
		action Action
		access AccountAccess
		want   Decision
	}{
		{ActionViewAccount, AccountAccess{Role: RoleGeneral}, Allow},
		{ActionViewAccount, AccountAccess{Role: RoleNone}, DenyHidden},
		{ActionEditBilling, AccountAccess{Role: RoleGeneral}, Deny},
		{ActionEditBilling, AccountAccess{Role: RolePower}, Allow},
		{ActionManageSubAccounts, AccountAccess{Role: RolePrincipal, IsRoot: true}, DenyHidden},
		{ActionManageSubAccounts, AccountAccess{Role: RolePrincipal, IsRoot: false, Features: all}, DenyHidden},
		{ActionManageSubAccounts, AccountAccess{Role: RolePrincipal, IsRoot: true, Features: all}, Allow},
		{ActionManageSubAccounts, AccountAccess{Role: RolePower, IsRoot: true, Features: all}, Deny},
		{ActionManageUsers, AccountAccess{Role: RolePrincipal, Features: all}, Allow},
		{Action("no_such_action"), AccountAccess{Role: RolePrincipal, Features: all}, Deny},
	}
	for _, tc := range tests {
		if got := Authorize(tc.action, tc.access); got != tc.want {
			t.Errorf("Authorize(%s, %+v) = %v, want %v", tc.action, tc.access, got, tc.want)
		}
	}
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Acme", "", "a\x00b", "\xff", "😀", "\u202E", "Ｃｏｍｐａｎｙ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CleanName("f", "Name", s)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || got == "" || utf8.RuneCountInString(got) > MaxNameRunes || strings.ContainsAny(got, "<>\x00") {
			t.Fatalf("CleanName(%q) = %q", s, got)
		}
		again, err := CleanName("f", "Name", got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
		}
	})
}

func FuzzCleanEmail(f *testing.F) {
	for _, s := range []string{"a@b.test", "a@b", "\r\n", "x@y.z\r\nBcc: q@r.s", "\"q\"@b.test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CleanEmail("e", s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n\x00 <>,") || len(got) > MaxEmailBytes {
			t.Fatalf("CleanEmail(%q) = %q", s, got)
		}
	})
}

func FuzzTechPrefix(f *testing.F) {
	for _, s := range []string{"31415900", "1234567", "abcdefgh", "1234567٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidTechPrefix(s) && (len(s) != 8 || strings.Trim(s, "0123456789") != "") {
			t.Fatalf("accepted %q", s)
		}
	})
}
