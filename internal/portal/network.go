package portal

import (
	"net/netip"
	"strconv"
	"strings"
)

// SIP hosts are IP-authenticated: the carrier's session border controller
// accepts calls for an account from the addresses listed here. It sees the
// public source address of each packet, so an address that cannot appear as
// a source on the internet can never match and only means the customer typed
// the inside address of a NAT. Those are refused with a message that says
// what to enter instead:
//
//   - private-use (RFC 1918) and shared CGNAT space (RFC 6598): refused, a
//     user pasting "192.168.1.10" from a PBX screen expects to be told;
//   - loopback, link-local, multicast, "this network", broadcast/reserved
//     and IPv6 outside global unicast (2000::/3, which also excludes ULA
//     fc00::/7 and IPv4-mapped addresses): refused;
//   - the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//     203.0.113.0/24, 2001:db8::/32) are accepted: nothing on the internet
//     sends from them, so they match nothing, and examples and demo data use
//     them.
//
// Private interconnects (cross-connects, VPNs) are set up by carrier staff,
// not through this self-service form.
var blockedV4 = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "is not a usable address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "is a private network range"},
	{netip.MustParsePrefix("100.64.0.0/10"), "is carrier-grade NAT space"},
	{netip.MustParsePrefix("127.0.0.0/8"), "is a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "is a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "is a private network range"},
	{netip.MustParsePrefix("192.0.0.0/24"), "is reserved"},
	{netip.MustParsePrefix("192.168.0.0/16"), "is a private network range"},
	{netip.MustParsePrefix("198.18.0.0/15"), "is reserved for benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "is a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "is reserved"},
}

// globalUnicastV6 is the only IPv6 space assigned for use on the internet.
var globalUnicastV6 = netip.MustParsePrefix("2000::/3")

// The widest blocks a SIP host entry may cover: a whole provider's space
// listed by mistake would let strangers place calls on the account.
const (
	MinPrefixV4 = 24
	MinPrefixV6 = 56
)

// ParseSIPHost reads an IPv4 or IPv6 address or CIDR block for IP
// authentication and returns it as a prefix (a single address is a /32 or
// /128). Host bits set in a CIDR block are an error, not silently cleared.
func ParseSIPHost(field, s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	bad := func(msg string) (netip.Prefix, error) { return netip.Prefix{}, FieldError(field, msg) }
	if s == "" {
		return bad("Enter an IP address or CIDR block.")
	}
	if len(s) > 64 || strings.Contains(s, "%") {
		return bad("Enter an IP address like 203.0.113.10 or a block like 203.0.113.0/28.")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return bad("Enter an IP address like 203.0.113.10 or a block like 203.0.113.0/28.")
		}
		if p != p.Masked() {
			return bad("That block has host bits set; did you mean " + p.Masked().String() + "?")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return bad("Enter an IP address like 203.0.113.10 or a block like 203.0.113.0/28.")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if err := checkPublic(field, p); err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4() && p.Bits() < MinPrefixV4 || p.Addr().Is6() && p.Bits() < MinPrefixV6 {
		return bad("That block is too large: use /" + strconv.Itoa(MinPrefixV4) + " or smaller for IPv4 and /" +
			strconv.Itoa(MinPrefixV6) + " or smaller for IPv6.")
	}
	return p, nil
}

// checkPublic refuses prefixes that touch address space that is never a
// public source address.
func checkPublic(field string, p netip.Prefix) error {
	if p.Addr().Is4() {
		for _, b := range blockedV4 {
			if b.p.Overlaps(p) {
				return FieldError(field, p.String()+" "+b.what+". Enter the public address your SIP traffic comes from "+
					"(the outside address of your firewall or NAT).")
			}
		}
		return nil
	}
	if p.Addr().Is4In6() {
		return FieldError(field, "Enter IPv4 addresses in the usual dotted form, like 203.0.113.10.")
	}
	if !globalUnicastV6.Contains(p.Addr()) || p.Bits() < globalUnicastV6.Bits() {
		return FieldError(field, p.String()+" is not a public IPv6 address. Enter the public address your SIP traffic comes from.")
	}
	return nil
}

// SIPTarget is where an inbound route sends calls: a SIP URI
// ("sip:pbx@203.0.113.10:5060;transport=tcp") or a plain host and port
// ("sbc.example.com:5061"). String returns the canonical spelling.
type SIPTarget struct {
	// URI is true for the sip:/sips: form.
	URI    bool
	Scheme string // "sip" or "sips"
	User   string
	Host   string // lower-case name, dotted IPv4, or IPv6 without brackets
	Port   int    // 0 when not given
	// Params are the URI parameters, in a fixed order.
	Transport string
	LR        bool
	UserPhone bool
}

// String writes the target in canonical form.
func (t SIPTarget) String() string {
	var b strings.Builder
	if t.URI {
		b.WriteString(t.Scheme + ":")
		if t.User != "" {
			b.WriteString(t.User + "@")
		}
	}
	if strings.Contains(t.Host, ":") {
		b.WriteString("[" + t.Host + "]")
	} else {
		b.WriteString(t.Host)
	}
	if t.Port != 0 {
		b.WriteString(":" + strconv.Itoa(t.Port))
	}
	if t.Transport != "" {
		b.WriteString(";transport=" + t.Transport)
	}
	if t.UserPhone {
		b.WriteString(";user=phone")
	}
	if t.LR {
		b.WriteString(";lr")
	}
	return b.String()
}

var sipTransports = map[string]bool{"udp": true, "tcp": true, "tls": true, "sctp": true, "ws": true, "wss": true}

// ParseSIPTarget validates an inbound route target. Only the URI parameters
// a route needs (transport, user=phone, lr) are accepted, and no headers: a
// route is an address, not a place to smuggle request content.
func ParseSIPTarget(field, s string) (SIPTarget, error) {
	s = strings.TrimSpace(s)
	var t SIPTarget
	bad := func(msg string) (SIPTarget, error) { return SIPTarget{}, FieldError(field, msg) }
	const example = "Enter a SIP URI like sip:pbx@203.0.113.10:5060 or a host and port like sbc.example.com:5060."
	if s == "" {
		return bad("Enter a SIP URI or a host and port.")
	}
	if len(s) > 255 {
		return bad("That is too long for a SIP address.")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '?' || s[i] == '"' || s[i] == '<' || s[i] == '>' {
			return bad(example)
		}
	}
	rest := s
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sips:"):
		t.URI, t.Scheme, rest = true, "sips", s[5:]
	case strings.HasPrefix(lower, "sip:"):
		t.URI, t.Scheme, rest = true, "sip", s[4:]
	}
	if t.URI {
		hostPart, params, _ := strings.Cut(rest, ";")
		if params != "" {
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.ToLower(p), "=")
				switch {
				case k == "transport" && sipTransports[v] && t.Transport == "":
					t.Transport = v
				case k == "user" && v == "phone":
					t.UserPhone = true
				case k == "lr" && v == "" && !strings.Contains(p, "="):
					t.LR = true
				default:
					return bad("Only the transport, user=phone and lr parameters are allowed in a route.")
				}
			}
		}
		rest = hostPart
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			t.User, rest = rest[:at], rest[at+1:]
			if !validSIPUser(t.User) {
				return bad("The user part of the SIP URI contains characters that are not allowed.")
			}
		}
	} else if strings.ContainsAny(s, "@;") {
		return bad(example)
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return bad(example)
	}
	t.Port = port
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return bad(example)
		}
		if err := checkPublic(field, netip.PrefixFrom(a, a.BitLen())); err != nil {
			return SIPTarget{}, err
		}
		t.Host = a.String()
		return t, nil
	}
	if !validHostname(host) {
		return bad(example)
	}
	t.Host = strings.ToLower(host)
	return t, nil
}

// splitHostPort separates "host", "host:port", "[v6]", "[v6]:port" and a bare
// IPv6 address.
func splitHostPort(s string) (string, int, error) {
	errBad := FieldError("", "bad host")
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errBad
		}
		host, rest := s[1:end], s[end+1:]
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", 0, errBad
		}
		if rest == "" {
			return host, 0, nil
		}
		if rest[0] != ':' {
			return "", 0, errBad
		}
		p, err := parsePort(rest[1:])
		return host, p, err
	}
	if strings.Count(s, ":") > 1 {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return "", 0, errBad
		}
		return s, 0, nil
	}
	host, ps, hasPort := strings.Cut(s, ":")
	if !hasPort {
		return host, 0, nil
	}
	p, err := parsePort(ps)
	return host, p, err
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || !allDigits(s) {
		return 0, FieldError("", "bad port")
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, FieldError("", "bad port")
	}
	return p, nil
}

// validHostname accepts a fully qualified DNS name: at least two labels of
// letters, digits and inner hyphens, and a top-level label that is not all
// digits (so "10.1.2" is not taken for a name). Internationalized names are
// entered in their xn-- form.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 || allDigits(labels[len(labels)-1]) {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i] | 0x20
			if !(c >= 'a' && c <= 'z' || l[i] >= '0' && l[i] <= '9' || l[i] == '-') {
				return false
			}
		}
	}
	return true
}

// validSIPUser accepts the user part of a SIP URI (RFC 3261 unreserved and
// user-unreserved characters, and %HH escapes), up to 64 characters.
func validSIPUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.!~*'()&=+$,", c) >= 0:
		case c == '%' && i+2 < len(u) && isHex(u[i+1]) && isHex(u[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// SIPRealm is the digest authentication realm of the carrier's registrar;
// credential hashes are bound to it.
const SIPRealm = "sip.carrier-portal.net"

// CleanSIPUsername validates the user name of a SIP credential: 3 to 32
// lower-case letters, digits, dots, dashes and underscores, starting with a
// letter or digit. Phones and PBXs accept these everywhere.
func CleanSIPUsername(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 || len(s) > 32 {
		return "", FieldError(field, "Use 3 to 32 characters.")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '-' || c == '_')
		if !ok {
			return "", FieldError(field, "Use lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit.")
		}
	}
	return s, nil
}
