package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestReauthKeepsTheRequest(t *testing.T) {
	a := newTestApp(t, map[string]string{"PORTAL_REAUTH_AFTER": "1ms"})
	c, _ := a.newCustomer("Reauth Co", "reauth@example.test")
	h := a.app.fresh(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("done:" + r.PostForm.Get("name")))
	})
	a.app.router.Method(http.MethodPost, "/test/fresh",
		a.app.sessions.LoadAndSave(a.app.authenticate(guard{s: a.app, action: "signed_in", h: h})))

	r := c.post("/test/fresh", url.Values{"name": {"Widget <1>"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="reauth-form"`) {
		t.Fatalf("stale login: status %d, want the password prompt", r.StatusCode)
	}
	if !strings.Contains(r.body, `value="Widget &lt;1&gt;"`) {
		t.Fatal("typed value not carried through the prompt")
	}
	r = c.post("/test/fresh", url.Values{"name": {"Widget <1>"}, "reauth_password": {"wrong password"}})
	if r.StatusCode != http.StatusUnprocessableEntity || strings.Contains(r.body, "done:") {
		t.Fatalf("wrong password: status %d", r.StatusCode)
	}
	r = c.post("/test/fresh", url.Values{"name": {"Widget <1>"}, "reauth_password": {pw}})
	if r.body != "done:Widget <1>" {
		t.Fatalf("after re-authentication got %q", r.body)
	}
}
