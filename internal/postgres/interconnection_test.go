package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"carrierportal/internal/portal"
)

func TestSIPHosts(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	addr := netip.MustParsePrefix("203.0.113.10/32")
	id, err := f.db.AddSIPHost(ctx, f.actorA, f.a, addr, "Office")
	if err != nil {
		t.Fatalf("AddSIPHost: %v", err)
	}
	if _, err := f.db.AddSIPHost(ctx, f.actorA, f.a, addr, "Again"); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("duplicate host: %v, want a field error", err)
	}
	// The same address on another account is that account's business.
	if _, err := f.db.AddSIPHost(ctx, f.actorA, f.b, addr, "B office"); err != nil {
		t.Errorf("same address on another account: %v", err)
	}
	h, err := f.db.SIPHost(ctx, f.a, id)
	if err != nil || h.Address != addr || h.Display() != "203.0.113.10" || h.Description != "Office" {
		t.Fatalf("SIPHost = %+v, %v", h, err)
	}
	if _, err := f.db.SIPHost(ctx, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("host read through another account: %v, want not found", err)
	}
	if err := f.db.UpdateSIPHost(ctx, f.actorA, f.b, id, netip.MustParsePrefix("198.51.100.0/24"), "x"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("host changed through another account: %v, want not found", err)
	}
	if err := f.db.DeleteSIPHost(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("host deleted through another account: %v, want not found", err)
	}
	if err := f.db.UpdateSIPHost(ctx, f.actorA, f.a, id, netip.MustParsePrefix("198.51.100.0/24"), "DC"); err != nil {
		t.Fatalf("UpdateSIPHost: %v", err)
	}
	if err := f.db.DeleteSIPHost(ctx, f.actorA, f.a, id); err != nil {
		t.Fatalf("DeleteSIPHost: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE account_id = $1 AND action LIKE 'sip_host.%'`, f.a); n != 3 {
		t.Errorf("host audit events = %d, want 3", n)
	}
}

func TestSIPHostLimitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	for i := 0; i < MaxInterconnectItems-3; i++ {
		a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		if _, err := f.db.AddSIPHost(ctx, f.actorA, f.a, netip.PrefixFrom(a, 32), ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			_, _ = f.db.AddSIPHost(ctx, f.actorA, f.a, netip.PrefixFrom(a, 32), "")
		}(i)
	}
	wg.Wait()
	if n := f.count(t, `SELECT count(*) FROM sip_hosts WHERE account_id = $1`, f.a); n != MaxInterconnectItems {
		t.Errorf("hosts after a concurrent burst = %d, want exactly the limit %d", n, MaxInterconnectItems)
	}
}

func TestSIPCredentials(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	id, pw, err := f.db.AddSIPCredential(ctx, f.actorA, f.a, "office", "Desk phones")
	if err != nil {
		t.Fatalf("AddSIPCredential: %v", err)
	}
	if len(pw) != 24 {
		t.Errorf("password %q has %d characters, want 24", pw, len(pw))
	}
	sum := sha256.Sum256([]byte("office:" + portal.SIPRealm + ":" + pw))
	var stored string
	if err := f.db.Pool.QueryRow(ctx, `SELECT ha1_sha256 FROM sip_credentials WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != hex.EncodeToString(sum[:]) {
		t.Errorf("stored hash %q, want SHA-256 of username:realm:password", stored)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_events WHERE details::text LIKE '%' || $1 || '%'`, pw); n != 0 {
		t.Errorf("the password appears in %d audit events", n)
	}
	if _, _, err := f.db.AddSIPCredential(ctx, f.actorA, f.a, "office", ""); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("duplicate user name: %v, want a field error", err)
	}
	if _, err := f.db.ResetSIPPassword(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("password reset through another account: %v, want not found", err)
	}
	pw2, err := f.db.ResetSIPPassword(ctx, f.actorA, f.a, id)
	if err != nil || pw2 == pw {
		t.Fatalf("ResetSIPPassword = %q, %v; want a new password", pw2, err)
	}
	if err := f.db.Pool.QueryRow(ctx, `SELECT ha1_sha256 FROM sip_credentials WHERE id = $1`, id).Scan(&stored); err != nil || stored != SIPHA1("office", pw2) {
		t.Errorf("hash after reset does not match the new password")
	}
	if err := f.db.UpdateSIPCredential(ctx, f.actorA, f.b, id, "x"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("credential changed through another account: %v", err)
	}
	if err := f.db.DeleteSIPCredential(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("credential deleted through another account: %v", err)
	}
	if err := f.db.DeleteSIPCredential(ctx, f.actorA, f.a, id); err != nil {
		t.Fatal(err)
	}
}

func TestInboundRoutes(t *testing.T) {
	ctx := context.Background()
	f := newResFixture(t)
	id, err := f.db.AddInboundRoute(ctx, f.actorA, f.a, "Backup", "sbc.alpha.example:5061")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.AddInboundRoute(ctx, f.actorA, f.a, "backup", "x.example:5060"); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("duplicate route name (other case): %v, want a field error", err)
	}
	if err := f.db.UpdateDID(ctx, f.actorA, f.a, f.didA, "", &id); err != nil {
		t.Fatal(err)
	}
	err = f.db.DeleteInboundRoute(ctx, f.actorA, f.a, id)
	if portal.ErrorCode(err) != portal.ECONFLICT || !strings.Contains(portal.ErrorMessage(err), "1 number") {
		t.Errorf("deleting a route in use: %v, want a conflict naming the number", err)
	}
	if err := f.db.UpdateInboundRoute(ctx, f.actorA, f.b, id, "x", "y.example"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("route changed through another account: %v", err)
	}
	if err := f.db.DeleteInboundRoute(ctx, f.actorA, f.b, id); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("route deleted through another account: %v", err)
	}
	// The database itself refuses a number pointing at another account's route.
	if _, err := f.db.Pool.Exec(ctx, `UPDATE dids SET route_id = $1 WHERE number = $2`, f.routeB, f.didA); err == nil {
		t.Error("a number was pointed at another account's route")
	}
	if err := f.db.ReleaseDID(ctx, f.actorA, f.a, f.didA); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteInboundRoute(ctx, f.actorA, f.a, id); err != nil {
		t.Errorf("deleting a route no longer in use: %v", err)
	}
	ic, err := f.db.Interconnection(ctx, f.a)
	if err != nil || len(ic.Routes) != 1 || ic.Routes[0].ID != f.routeA {
		t.Errorf("Interconnection = %+v, %v; want only the fixture's route", ic, err)
	}
}
