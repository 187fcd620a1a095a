package portal

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseSIPHost(t *testing.T) {
	cases := []struct {
		in, want string // want "" means rejected
	}{
		{"203.0.113.10", "203.0.113.10/32"},
		{" 203.0.113.0/28 ", "203.0.113.0/28"},
		{"8.8.8.8", "8.8.8.8/32"},
		{"2001:db8::10", "2001:db8::10/128"},
		{"2001:db8:100::/56", "2001:db8:100::/56"},
		{"2a00:1450:4001::/64", "2a00:1450:4001::/64"},
		{"203.0.113.10/24", ""}, // host bits set
		{"203.0.0.0/16", ""},    // too wide
		{"2001:db8::/48", ""},   // too wide
		{"10.1.2.3", ""},
		{"172.16.0.1", ""},
		{"172.31.255.255", ""},
		{"192.168.1.10", ""},
		{"100.64.0.1", ""},
		{"127.0.0.1", ""},
		{"169.254.1.1", ""},
		{"0.0.0.0", ""},
		{"224.0.0.1", ""},
		{"255.255.255.255", ""},
		{"::1", ""},
		{"::", ""},
		{"fd00::1", ""},
		{"fe80::1", ""},
		{"fe80::1%eth0", ""},
		{"ff02::1", ""},
		{"::ffff:203.0.113.10", ""},
		{"172.15.0.0/24", "172.15.0.0/24"}, // just below the private block
		{"172.32.0.1", "172.32.0.1/32"},
		{"example.com", ""},
		{"203.0.113", ""},
		{"", ""},
		{"203.0.113.10/33", ""},
	}
	for _, c := range cases {
		got, err := ParseSIPHost("address", c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseSIPHost(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("ParseSIPHost(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	_, err := ParseSIPHost("address", "192.168.1.10")
	if err == nil || !strings.Contains(ErrorMessage(err), "private") || !strings.Contains(ErrorMessage(err), "public address") {
		t.Errorf("private address message = %q; want it to say private and ask for the public address", ErrorMessage(err))
	}
}

func TestParseSIPTarget(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"sip:pbx@203.0.113.10:5060", "sip:pbx@203.0.113.10:5060"},
		{"SIP:PBX@Pbx.Example.COM;Transport=TCP", "sip:PBX@pbx.example.com;transport=tcp"},
		{"sips:trunk@sbc.globex.example:5061;transport=tls", "sips:trunk@sbc.globex.example:5061;transport=tls"},
		{"sip:+12065550100@203.0.113.10;user=phone", "sip:+12065550100@203.0.113.10;user=phone"},
		{"sip:[2001:db8::1]:5060;lr", "sip:[2001:db8::1]:5060;lr"},
		{"sip:203.0.113.10", "sip:203.0.113.10"},
		{"sbc.example.com:5061", "sbc.example.com:5061"},
		{"203.0.113.10", "203.0.113.10"},
		{"[2001:db8::1]:5060", "[2001:db8::1]:5060"},
		{"2001:db8::1", "[2001:db8::1]"},
		{"sip:user%20x@pbx.example.com", "sip:user%20x@pbx.example.com"},
		{"sip:pbx@10.0.0.5", ""},
		{"192.168.1.1:5060", ""},
		{"localhost:5060", ""},
		{"sip:pbx@localhost", ""},
		{"sip:pbx@example.com:0", ""},
		{"sip:pbx@example.com:65536", ""},
		{"sip:pbx@example.com:+80", ""},
		{"sip:pbx@example.com?Subject=hi", ""},
		{"sip:pbx@example.com;maddr=evil.example", ""},
		{"sip:pbx@example.com;transport=carrier-pigeon", ""},
		{"sip:pbx@example.com;transport=udp;transport=tcp", ""},
		{"sip:p bx@example.com", ""},
		{"sip:pbx@exa_mple.com", ""},
		{"sip:pbx@-example.com", ""},
		{"sip:pbx@10.1.2", ""},
		{"http://example.com", ""},
		{"javascript:alert(1)", ""},
		{"pbx@example.com", ""},
		{"<sip:pbx@example.com>", ""},
		{"sip:pbx@exämple.com", ""},
		{"sip:pbx@example.com\r\nVia: x", ""},
		{"sip:%zz@example.com", ""},
		{"sip:@example.com", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, err := ParseSIPTarget("target", c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseSIPTarget(%q) = %q, want an error", c.in, got.String())
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("ParseSIPTarget(%q) = %q, %v; want %q", c.in, got.String(), err, c.want)
		}
	}
}

func TestCleanSIPUsername(t *testing.T) {
	for in, want := range map[string]string{"Office-Phones": "office-phones", "a.b_c": "a.b_c", "ab": "", "-abc": "", "abc def": "",
		strings.Repeat("a", 33): "", "ünï": ""} {
		got, err := CleanSIPUsername("username", in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("CleanSIPUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseSIPHost checks the host parser never panics and only accepts
// masked, public blocks that parse back to themselves.
func FuzzParseSIPHost(f *testing.F) {
	for _, s := range []string{"203.0.113.10", "203.0.113.0/28", "2001:db8::/56", "10.0.0.1", "fe80::1%eth0", "::ffff:1.2.3.4", "1.2.3.4/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSIPHost("address", s)
		if err != nil {
			return
		}
		if p != p.Masked() {
			t.Fatalf("ParseSIPHost(%q) = %v, not masked", s, p)
		}
		if p.Addr().Is4() && p.Bits() < MinPrefixV4 || p.Addr().Is6() && p.Bits() < MinPrefixV6 {
			t.Fatalf("ParseSIPHost(%q) = %v, wider than allowed", s, p)
		}
		for _, b := range blockedV4 {
			if b.p.Overlaps(p) {
				t.Fatalf("ParseSIPHost(%q) = %v, which touches %v", s, p, b.p)
			}
		}
		if again, err := ParseSIPHost("address", p.String()); err != nil || again != p {
			t.Fatalf("ParseSIPHost(%q) = %v, which parses to %v, %v", s, p, again, err)
		}
		if p.Addr().Is6() && !netip.MustParsePrefix("2000::/3").Contains(p.Addr()) {
			t.Fatalf("ParseSIPHost(%q) = %v, outside global unicast", s, p)
		}
	})
}

// FuzzParseSIPTarget checks the route parser never panics and that its
// canonical form is stable and free of characters that could break out of
// a SIP header or an HTML attribute.
func FuzzParseSIPTarget(f *testing.F) {
	for _, s := range []string{"sip:pbx@203.0.113.10:5060", "sbc.example.com:5061", "sips:a@[2001:db8::1]:5061;transport=tls",
		"sip:x@example.com?h=v", "[::1]:5060", "sip:a%41@b.example;lr;user=phone"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseSIPTarget("target", s)
		if err != nil {
			return
		}
		out := tg.String()
		if strings.ContainsAny(out, " \t\r\n\"<>?") {
			t.Fatalf("ParseSIPTarget(%q) = %q, with a forbidden character", s, out)
		}
		again, err := ParseSIPTarget("target", out)
		if err != nil || again.String() != out {
			t.Fatalf("ParseSIPTarget(%q) = %q, which parses to %q, %v", s, out, again.String(), err)
		}
	})
}
