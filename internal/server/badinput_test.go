package server

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// badValues is the hostile-input corpus for text fields.
var badValues = map[string]string{
	"empty":          "",
	"overlong runes": strings.Repeat("a", 101),
	"overlong emoji": strings.Repeat("😀", 101),
	"invalid utf-8":  "bad\xff\xfeinput",
	"nul byte":       "nul\x00byte",
	"html":           "<script>alert(1)</script>",
	"crlf":           "a@b.test\r\nBcc: victim@example.test",
	"bidi override":  "abc\u202Egnp.exe",
}

// badValuesFor returns the corpus for a field: any printable text is a fine
// password, so passwords get their own.
func badValuesFor(field string) map[string]string {
	if !strings.Contains(field, "password") {
		return badValues
	}
	return map[string]string{
		"empty":         "",
		"too short":     "1234567",
		"too long":      strings.Repeat("é", 129),
		"invalid utf-8": "password\xff\xfe",
		"nul byte":      "pass\x00word!",
	}
}

// formCase is one form and how to check it.
type formCase struct {
	name   string
	path   string
	valid  url.Values
	fields []string // text fields to attack one by one
	// signedIn runs the form as a signed-in customer.
	signedIn bool
	// written counts rows the form would create or change.
	written string
}

func TestBadInputOnEveryForm(t *testing.T) {
	a := newTestApp(t, nil)
	c, _ := a.newCustomer("Bad Input Co", "bad@example.test")
	cases := []formCase{
		{name: "signup", path: "/signup", fields: []string{"company_name", "full_name", "email", "password"},
			valid:   url.Values{"company_name": {"Fine Co"}, "full_name": {"Fine Person"}, "email": {"fine@example.test"}, "password": {pw}},
			written: `SELECT count(*) FROM users`},
		{name: "forgot", path: "/password/forgot", fields: []string{"email"}, valid: url.Values{"email": {"bad@example.test"}},
			written: `SELECT count(*) FROM verification_tokens`},
		{name: "resend", path: "/verify/resend", fields: []string{"email"}, valid: url.Values{"email": {"bad@example.test"}},
			written: `SELECT count(*) FROM verification_tokens`},
		{name: "name", path: "/me/name", fields: []string{"full_name"}, valid: url.Values{"full_name": {"Test User"}}, signedIn: true,
			written: `SELECT count(*) FROM users WHERE full_name <> 'Test User'`},
		{name: "email change", path: "/me/email", fields: []string{"email"}, valid: url.Values{"email": {"next@example.test"}, "current_password": {pw}},
			signedIn: true, written: `SELECT count(*) FROM verification_tokens`},
		{name: "password change", path: "/me/password", fields: []string{"new_password"}, valid: url.Values{"current_password": {pw}, "new_password": {pw}},
			signedIn: true, written: `SELECT count(*) FROM users WHERE updated_at > created_at + interval '1 second'`},
	}
	for _, fc := range cases {
		for _, field := range fc.fields {
			for label, bad := range badValuesFor(field) {
				t.Run(fc.name+"/"+field+"/"+label, func(t *testing.T) {
					cl := a.client()
					if fc.signedIn {
						cl = c
					}
					before := a.count(fc.written)
					form := url.Values{}
					for k, v := range fc.valid {
						form[k] = v
					}
					form.Set(field, bad)
					r := cl.post(fc.path, form)
					if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusBadRequest {
						t.Fatalf("status %d, want 422 or 400", r.StatusCode)
					}
					if r.StatusCode == http.StatusUnprocessableEntity {
						if !strings.Contains(r.body, `data-testid="error-`+field+`"`) {
							t.Errorf("no error message next to %s", field)
						}
						for k, v := range fc.valid {
							if k == field || strings.Contains(k, "password") {
								continue
							}
							if !strings.Contains(r.body, `value="`+html.EscapeString(v[0])+`"`) {
								t.Errorf("value of %s not kept", k)
							}
						}
					}
					if strings.Contains(r.body, "<script>alert(1)") {
						t.Error("unescaped HTML in the response")
					}
					if after := a.count(fc.written); after != before {
						t.Errorf("rows changed: %d → %d", before, after)
					}
				})
			}
		}
	}
}

func TestOversizedAndMalformedBodies(t *testing.T) {
	a := newTestApp(t, nil)
	big := strings.Repeat("a", 10<<20)
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/signup", strings.NewReader("company_name="+big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := a.client().do(req); r.StatusCode >= 500 || r.StatusCode < 400 {
		t.Errorf("10 MB body: status %d, want 4xx", r.StatusCode)
	}
	var many strings.Builder
	for i := 0; i < 1000; i++ {
		many.WriteString("f" + strings.Repeat("x", i%7) + "=1&")
	}
	req, _ = http.NewRequest(http.MethodPost, a.srv.URL+"/signup", strings.NewReader(many.String()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := a.client().do(req); r.StatusCode != http.StatusBadRequest {
		t.Errorf("1000 fields: status %d, want 400", r.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, a.srv.URL+"/login", strings.NewReader("email=%ZZ&password=%00"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := a.client().do(req); r.StatusCode >= 500 {
		t.Errorf("malformed encoding: status %d", r.StatusCode)
	}
}
