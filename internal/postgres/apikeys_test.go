package postgres

import (
	"context"
	"strings"
	"testing"

	"carrierportal/internal/portal"
)

func TestAPIKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	id, secret, err := f.db.CreateAPIKey(ctx, f.actorA, f.a, "Exporter")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "cpk_") || len(secret) != 47 {
		t.Fatalf("secret %q, want cpk_ and 43 characters", secret)
	}
	if n := f.count(t, `SELECT count(*) FROM api_keys WHERE secret_hash::text LIKE '%' || $1 || '%' OR prefix = $1`, secret); n != 0 {
		t.Error("the secret is stored in the clear")
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE details::text LIKE '%' || $1 || '%'`, secret); n != 0 {
		t.Error("the secret appears in the audit log")
	}
	acct, keyID, err := f.db.AuthenticateAPIKey(ctx, secret)
	if err != nil || acct != f.a || keyID != id {
		t.Fatalf("AuthenticateAPIKey = %d, %d, %v; want account A's key", acct, keyID, err)
	}
	keys, err := f.db.APIKeys(ctx, f.a)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil || keys[0].CreatedBy != "Ann Alpha" || !strings.HasPrefix(secret, keys[0].Prefix) {
		t.Fatalf("APIKeys = %+v, %v", keys, err)
	}
	if keys, _ := f.db.APIKeys(ctx, f.b); len(keys) != 0 {
		t.Errorf("account B lists %d keys, want 0", len(keys))
	}
	if _, err := f.db.RotateAPIKey(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("rotate through another account: %v, want not found", err)
	}
	if err := f.db.RevokeAPIKey(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("revoke through another account: %v, want not found", err)
	}
	rotated, err := f.db.RotateAPIKey(ctx, f.actorA, f.a, id)
	if err != nil || rotated == secret {
		t.Fatalf("RotateAPIKey = %q, %v", rotated, err)
	}
	if _, _, err := f.db.AuthenticateAPIKey(ctx, secret); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("old secret after rotation: %v, want not found", err)
	}
	if err := f.db.RevokeAPIKey(ctx, f.actorA, f.a, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.db.AuthenticateAPIKey(ctx, rotated); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("revoked key: %v, want not found", err)
	}
	if _, err := f.db.RotateAPIKey(ctx, f.actorA, f.a, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("rotating a revoked key: %v, want not found", err)
	}
	for _, bad := range []string{"", "cpk_", "cpk_" + strings.Repeat("A", 43), strings.Repeat("x", 47)} {
		if _, _, err := f.db.AuthenticateAPIKey(ctx, bad); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("AuthenticateAPIKey(%q): %v, want not found", bad, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE action LIKE 'api_key.%' AND account_id = $1`, f.a); n != 3 {
		t.Errorf("API key audit events = %d, want 3", n)
	}
}

func TestAPIKeyLimit(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	for i := 0; i < MaxAPIKeys; i++ {
		if _, _, err := f.db.CreateAPIKey(ctx, f.actorA, f.a, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.db.CreateAPIKey(ctx, f.actorA, f.a, "one too many"); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("key over the limit: %v, want conflict", err)
	}
}
