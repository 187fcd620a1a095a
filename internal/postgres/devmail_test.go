package postgres

import (
	"context"
	"testing"

	"carrierportal/internal/portal"
)

func TestDevMail(t *testing.T) {
	ctx := context.Background()
	db := &DB{Pool: NewTestPool(t)}
	first, err := db.StoreDevMail(ctx, "first@example.test", "First", "text one", "<p>one</p>")
	if err != nil {
		t.Fatalf("StoreDevMail: %v", err)
	}
	second, err := db.StoreDevMail(ctx, "second@example.test", "Second", "text two", "<p>two</p>")
	if err != nil {
		t.Fatalf("StoreDevMail: %v", err)
	}

	ms, err := db.DevMails(ctx, 10)
	if err != nil {
		t.Fatalf("DevMails: %v", err)
	}
	if len(ms) != 2 || ms[0].Subject != "Second" || ms[1].Subject != "First" {
		t.Fatalf("got %+v, want Second then First", ms)
	}
	if ms[0].ID != second || ms[1].ID != first {
		t.Errorf("ids: got %d, %d; StoreDevMail returned %d, %d", ms[0].ID, ms[1].ID, second, first)
	}
	if ms[0].To != "second@example.test" || ms[0].Text != "text two" || ms[0].HTML != "<p>two</p>" || ms[0].CreatedAt.IsZero() {
		t.Errorf("got %+v, want every field filled in", ms[0])
	}
	if one, err := db.DevMails(ctx, 1); err != nil || len(one) != 1 || one[0].Subject != "Second" {
		t.Errorf("DevMails(1): got %+v, %v; want only the newest", one, err)
	}

	m, err := db.DevMailByID(ctx, ms[1].ID)
	if err != nil {
		t.Fatalf("DevMailByID: %v", err)
	}
	if m.Subject != "First" || m.To != "first@example.test" {
		t.Errorf("DevMailByID: got %+v, want the first message", m)
	}
	if _, err := db.DevMailByID(ctx, ms[0].ID+1000); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("DevMailByID(missing): got %v, want not found", err)
	}
}
