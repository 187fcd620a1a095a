package postgres

import (
	"context"
	"encoding/base64"
	"testing"
)

// FuzzTokenInput checks what the token functions do with whatever arrives
// in a link's path: only the shape of our tokens reaches the database (the
// rest is unknown without a query), every token we issue has that shape,
// and what is stored is a fixed-size hash, never the text.
func FuzzTokenInput(f *testing.F) {
	valid, _ := NewTokenString()
	for _, s := range []string{valid, "", "A", valid[:42], valid + "A", "%2e%2e%2f", valid[:42] + "=", valid[:41] + "+/",
		"\x00" + valid[1:], valid[:42] + "\xff", "' OR 1=1 --" + valid[11:]} {
		f.Add(s, []byte(s))
	}
	db := &DB{} // no pool: a query would panic, which is the point
	f.Fuzz(func(t *testing.T, raw string, seed []byte) {
		well := wellFormedToken(raw)
		if well {
			b, err := base64.RawURLEncoding.DecodeString(raw)
			if len(raw) != 43 || err != nil || len(b) != 32 {
				t.Fatalf("wellFormedToken(%q) accepted %d bytes (%v)", raw, len(b), err)
			}
			for i := 0; i < len(raw); i++ {
				if c := raw[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
					t.Fatalf("wellFormedToken(%q) accepted byte %q", raw, c)
				}
			}
		} else {
			tok, state, err := db.PeekToken(context.Background(), raw)
			if tok != nil || state != TokenUnknown || err != nil {
				t.Fatalf("PeekToken(%q) = %v, %v, %v; want unknown without a query", raw, tok, state, err)
			}
			if _, err := RedeemTokenTx(context.Background(), nil, "reset_password", raw); err != ErrTokenInvalid {
				t.Fatalf("RedeemTokenTx(%q) = %v; want invalid without a query", raw, err)
			}
		}
		if h := hashToken(raw); len(h) != 32 {
			t.Fatalf("hash of %q has %d bytes", raw, len(h))
		}
		if len(seed) >= 32 {
			if issued := base64.RawURLEncoding.EncodeToString(seed[:32]); !wellFormedToken(issued) {
				t.Fatalf("a token of 32 random bytes, %q, is not well formed", issued)
			}
		}
	})
}
