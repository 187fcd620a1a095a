package server

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// rawScript is the payload whose unescaped form must never come back.
const rawScript = "<script>alert(1)</script>"

// hostileValue is one entry of the corpus; reject marks values the form
// must refuse.
type hostileValue struct {
	name, v string
	reject  bool
}

// textCorpus is what every text field gets; max is the field's declared
// maxlength (0 when it declares none), so max+1 must be refused.
func textCorpus(max int) []hostileValue {
	n, limited := max, max > 0
	if !limited {
		n = 100
	}
	return []hostileValue{
		{"empty", "", false},
		{"max runes", strings.Repeat("a", n), false},
		{"max+1 runes", strings.Repeat("a", n+1), limited},
		{"multibyte at the limit", strings.Repeat("語", n), false},
		{"emoji at the limit", strings.Repeat("😀", n), false},
		{"max+1 bytes", strings.Repeat("😀", n) + "a", limited},
		{"invalid utf-8", "bad\xff\xfeinput", false},
		{"nul", "nul\x00byte", false},
		{"bidi override", "abc\u202Egnp.exe", false},
		{"confusable", "\u0410\u0441me Telecom", false},
		{"script", rawScript, false},
		{"javascript url", "javascript:alert(1)", false},
		{"crlf email", "a@b.test\r\nBcc: victim@example.test", false},
		{"sql", "' OR 1=1 --", false},
		{"spreadsheet formula", "=HYPERLINK(\"http://evil.example\")", false},
		{"like wildcards", "%_%", false},
		{"blank", " \t ", false},
	}
}

// passwordCorpus: any printable text is a fine password, so passwords get
// their own corpus.
var passwordCorpus = []hostileValue{
	{"empty", "", true},
	{"too short", "1234567", true},
	{"max+1 runes", strings.Repeat("é", 129), true},
	{"invalid utf-8", "password\xff\xfe", true},
	{"nul", "pass\x00word!", true},
	{"emoji at the limit", strings.Repeat("😀", 128), false},
	{"script", rawScript, false},
}

// choiceCorpus is for selects, checkboxes, radios and hidden fields.
var choiceCorpus = []hostileValue{
	{"empty", "", false},
	{"invalid utf-8", "\xff\xfe", false},
	{"nul", "1\x00", false},
	{"script", rawScript, false},
	{"sql", "1' OR '1'='1", false},
	{"huge number", "99999999999999999999", false},
	{"negative", "-1", false},
	{"overlong", strings.Repeat("a", 5000), false},
}

// moneyCorpus must all be refused by an amount field.
var moneyCorpus = []hostileValue{
	{"NaN", "NaN", true}, {"Inf", "Inf", true}, {"1e309", "1e309", true}, {"negative", "-0.01", true},
	{"seven decimals", "0.0000001", true}, {"overflow", "99999999999999999999", true}, {"hex", "0x10", true},
}

// formField is one named control of a form.
type formField struct {
	name, kind string // kind: text, password, choice
	value      string
	max        int
}

// formsOn parses a page and returns, by action, the fields of each form
// with the given method.
func formsOn(t *testing.T, body, method string) map[string][]formField {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := map[string][]formField{}
	var walk func(n *html.Node, form string, in bool)
	walk = func(n *html.Node, form string, in bool) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			has := func(k string) bool {
				return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == k })
			}
			switch n.Data {
			case "form":
				m := strings.ToLower(attr("method"))
				if m == "" {
					m = "get"
				}
				form, in = attr("action"), m == method
				if _, seen := out[form]; in && !seen {
					out[form] = []formField{}
				}
			case "input", "select", "textarea":
				if name := attr("name"); in && name != "" {
					f := formField{name: name, kind: "text", value: attr("value")}
					f.max, _ = strconv.Atoi(attr("maxlength"))
					switch typ := attr("type"); {
					case n.Data == "select":
						f.kind, f.value = "choice", selectedOption(n)
					case typ == "password":
						f.kind = "password"
					case typ == "hidden" || typ == "checkbox" || typ == "radio":
						f.kind = "choice"
						if (typ == "checkbox" || typ == "radio") && f.value == "" {
							f.value = "on"
						}
						if typ == "radio" && !has("checked") && slices.ContainsFunc(out[form], func(o formField) bool { return o.name == name }) {
							return
						}
					case typ == "submit" || typ == "button":
						return
					}
					if i := slices.IndexFunc(out[form], func(o formField) bool { return o.name == name }); i >= 0 {
						out[form][i] = f // a checked radio wins
					} else {
						out[form] = append(out[form], f)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form, in)
		}
	}
	walk(doc, "", false)
	return out
}

func selectedOption(sel *html.Node) string {
	first, found := "", false
	var walk func(n *html.Node) string
	walk = func(n *html.Node) string {
		if n.Type == html.ElementNode && n.Data == "option" {
			v, sel := "", false
			for _, a := range n.Attr {
				switch a.Key {
				case "value":
					v = a.Val
				case "selected":
					sel = true
				}
			}
			if !found {
				first, found = v, true
			}
			if sel {
				return v
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if v := walk(c); v != "" {
				return v
			}
		}
		return ""
	}
	if v := walk(sel); v != "" {
		return v
	}
	return first
}

// clearRejection reports whether a refused request says why: a message
// next to a field, a message on the form, an error page, or (for bodies
// refused before any page is built) a plain sentence.
func clearRejection(r *response) bool {
	for _, id := range []string{`data-testid="error-`, `data-testid="form-error"`, `data-testid="link-problem"`} {
		if strings.Contains(r.body, id) {
			return true
		}
	}
	return strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") && len(strings.TrimSpace(r.body)) >= 8
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
