package server

import (
	"context"
	"strconv"
	"sync"

	"carrierportal/internal/postgres"
)

// pickerCache keeps the picker's search answers by user and search text,
// and the header picker's recent accounts by user and current account, so
// that typing in the picker needs no round trip to the database and a page
// reads only the user's access. What the picker lists changes only with
// the accounts' names, prefixes, status and families, and with the user's
// roles, revocations and recent accounts; each such change is announced
// (migration 0013) and drops everything kept on every instance, and
// requests that change something wait for the barrier, as with the session
// cache. An answer is used only while the listener's lease holds. The
// picker only leads to accounts: the page it leads to reads the user's
// access afresh.
type pickerCache struct {
	sync *postgres.CacheSync

	mu      sync.Mutex
	gen     uint64 // counts drops: a read that saw an older one is not kept
	answers map[string]pickerAnswer
	headers map[string]*postgres.PickerHeader
	off     bool // keeps nothing (PORTAL_PAGE_CACHE=false)
}

type pickerAnswer struct {
	list []postgres.PickerEntry
	more bool
}

// maxPickerAnswers bounds the answers kept; a full cache starts over.
const maxPickerAnswers = 20_000

func newPickerCache(cs *postgres.CacheSync) *pickerCache {
	return &pickerCache{sync: cs, answers: map[string]pickerAnswer{}, headers: map[string]*postgres.PickerHeader{}}
}

func pickerKey(userID int64, text string) string {
	return strconv.FormatInt(userID, 10) + " " + text
}

// get returns the answer kept for key, and otherwise the generation to
// hand to put once the search is read.
func (c *pickerCache) get(key string) (pickerAnswer, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.answers[key]
	if ok && !c.off && c.sync.Valid() {
		return a, c.gen, true
	}
	return pickerAnswer{}, c.gen, false
}

// put keeps an answer read after generation gen, unless something was
// dropped since.
func (c *pickerCache) put(gen uint64, key string, a pickerAnswer) {
	if c.off || !c.sync.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.answers) >= maxPickerAnswers {
		clear(c.answers)
	}
	c.answers[key] = a
}

// invalidate drops everything kept on an announcement of an account, of a
// user's roles or of a user's recent accounts; it ignores those of
// sessions, users and families' data, and any other key, "" included,
// drops everything too.
func (c *pickerCache) invalidate(key string) {
	kind, _, ok := postgres.ParseCacheKey(key)
	switch {
	case !ok && key != "" && (key[0] == 's' || key[0] == 'u'):
		return // sessions and users: the session cache's
	case ok && kind == postgres.FamilyChanged:
		return // a family's data (calls, charges, numbers…) is not what the picker lists
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.answers)
	clear(c.headers)
}

// header returns the header picker kept for the user on the page of the
// account current ("" outside any account), and otherwise the generation
// to hand to putHeader once it is read.
func (c *pickerCache) header(userID int64, current string) (*postgres.PickerHeader, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.headers[pickerKey(userID, current)]
	if ok && !c.off && c.sync.Valid() {
		return h, c.gen, true
	}
	return nil, c.gen, false
}

// putHeader keeps a header picker read after generation gen, unless
// something was dropped since.
func (c *pickerCache) putHeader(gen uint64, userID int64, current string, h *postgres.PickerHeader) {
	if h == nil || c.off || !c.sync.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.headers) >= maxPickerAnswers {
		clear(c.headers)
	}
	c.headers[pickerKey(userID, current)] = h
}

// pickerSearch is PickerSearch through the cache.
func (s *Server) pickerSearch(ctx context.Context, userID int64, text string) ([]postgres.PickerEntry, bool, error) {
	key := pickerKey(userID, text)
	a, gen, ok := s.picks.get(key)
	if ok {
		return a.list, a.more, nil
	}
	list, more, err := s.db.PickerSearch(ctx, userID, text, postgres.PickerLimit)
	if err != nil {
		return nil, false, err
	}
	s.picks.put(gen, key, pickerAnswer{list: list, more: more})
	return list, more, nil
}
