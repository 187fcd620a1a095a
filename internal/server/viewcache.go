package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
)

// viewCache keeps the rendered content of the heaviest pages of a family
// (User Management, the dashboard, the CDR report, the two summaries), each
// copy under a key naming everything the page takes from the request and a
// stamp naming the versions of the families it shows (migration 0013).
//
// The stamp is read fresh with every request, in the round trip that reads
// the caller's access or scope, and a copy is used only while it matches:
// every change to a family raises its version in the transaction that makes
// it, so a copy never outlives a committed change, on this instance or any
// other, and the cache needs no announcements. The page's data is read
// after its stamp, so a copy holds at least what the stamp names.
type viewCache struct {
	mu      sync.Mutex
	entries map[string]*viewEntry
	size    int  // bytes held
	limit   int  // most bytes held
	off     bool // keeps nothing (PORTAL_PAGE_CACHE=false)
}

type viewEntry struct {
	stamp string
	html  []byte
	until time.Time // zero: while the stamp matches
}

// viewCacheLimit bounds the memory the copies hold.
const viewCacheLimit = 48 << 20

func newViewCache(limit int) *viewCache {
	return &viewCache{entries: make(map[string]*viewEntry), limit: limit}
}

func (c *viewCache) get(key, stamp string) ([]byte, bool) {
	if c.off {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.stamp != stamp || !e.until.IsZero() && !time.Now().Before(e.until) {
		return nil, false
	}
	return e.html, true
}

func (c *viewCache) put(key, stamp string, html []byte, until time.Time) {
	n := len(key) + len(html)
	if c.off || n > c.limit/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil {
		c.size -= len(key) + len(old.html)
		delete(c.entries, key)
	}
	// Over the limit, copies go in the map's (random) order.
	for k, e := range c.entries {
		if c.size+n <= c.limit {
			break
		}
		c.size -= len(k) + len(e.html)
		delete(c.entries, k)
	}
	c.entries[key] = &viewEntry{stamp: stamp, html: html, until: until}
	c.size += n
}

// viewKey names what the content of a page takes from its request besides
// the data of its families: the signed-in user, their role on the account
// (for a page of one), the path and query, whether htmx asked, and the day
// here and in UTC (pages default to this month and count from today).
func viewKey(r *http.Request, role portal.Role) string {
	var b strings.Builder
	if u := userFrom(r.Context()); u != nil {
		b.WriteString(strconv.FormatInt(u.ID, 10))
	}
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(int(role)))
	b.WriteByte(' ')
	now := time.Now()
	b.WriteString(now.Format(time.DateOnly))
	b.WriteString(now.UTC().Format(time.DateOnly))
	if r.Header.Get("HX-Request") != "" {
		b.WriteString(" hx")
	}
	b.WriteByte(' ')
	b.WriteString(r.URL.Path)
	b.WriteByte('?')
	b.WriteString(r.URL.RawQuery)
	return b.String()
}

// cachedView is the content of a page: the copy kept under key while stamp
// still names the families' versions (and, for a page that changes with
// the time of day, for at most maxAge; 0: no limit), or else what fill
// builds, rendered and kept. A fill that fails keeps nothing; an empty
// stamp keeps nothing.
func (s *Server) cachedView(ctx context.Context, key, stamp string, maxAge time.Duration, fill func() (templ.Component, error)) (templ.Component, error) {
	if stamp != "" {
		if html, ok := s.views.get(key, stamp); ok {
			return rawHTML(html), nil
		}
	}
	c, err := fill()
	if err != nil || stamp == "" {
		return c, err
	}
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return nil, err
	}
	html := buf.Bytes()
	var until time.Time
	if maxAge > 0 {
		until = time.Now().Add(maxAge)
	}
	s.views.put(key, stamp, html, until)
	return rawHTML(html), nil
}

// rawHTML writes HTML rendered before.
func rawHTML(html []byte) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := w.Write(html)
		return err
	})
}
