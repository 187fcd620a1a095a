package server

import (
	"sync"

	"carrierportal/internal/postgres"
)

// accessCache keeps, per user and account, the user's access to the
// account as a page of it read it (the account, the effective role, the
// family's features and the stamp of its version), and per user the
// summary scope (the families and accounts the summaries show, and their
// stamp), so that a page kept in the view cache needs no round trip at all. It is
// coherent like the session cache: every change to a family (its accounts,
// roles, revocations, features and anything its pages show) is announced
// at commit ("f" and the root, migration 0013), and so is every change to a
// user's roles and revocations ("m" and the user); each drops the copies
// it touches on every instance, requests that change something wait for
// the barrier before they answer, and a copy is used only while the
// listener's lease holds. So a revocation, a role change, an unlink or a
// closed account counts on the very next request everywhere. An account a
// user cannot open is never kept: it is read each time.
type accessCache struct {
	sync *postgres.CacheSync

	mu  sync.Mutex
	gen uint64 // counts drops: a read that saw an older one is not kept
	// A drop of a family or a user raises its count; a copy counts only
	// while both counts are those it was kept under.
	families, users map[int64]uint64
	entries         map[accessKey]accessEntry
	scopes          map[int64]scopeEntry
	off             bool // keeps nothing (PORTAL_PAGE_CACHE=false)
}

// scopeEntry is a user's summary scope and the counts of every family it
// names (those the user holds a role in) when it was kept.
type scopeEntry struct {
	sc     *postgres.SummaryScope
	roots  []int64
	counts []uint64
	userAt uint64
}

type accessKey struct {
	user   int64
	prefix string
}

type accessEntry struct {
	aa             *postgres.AccountAccess
	family, userAt uint64
}

// maxAccessKept bounds the copies and the counts; full, they start over.
const maxAccessKept = 100_000

func newAccessCache(cs *postgres.CacheSync) *accessCache {
	c := &accessCache{sync: cs}
	c.clear()
	return c
}

func (c *accessCache) clear() {
	c.entries, c.scopes = map[accessKey]accessEntry{}, map[int64]scopeEntry{}
	c.families, c.users = map[int64]uint64{}, map[int64]uint64{}
}

// get returns the access kept for the user and account, and otherwise the
// generation to hand to put once it is read.
func (c *accessCache) get(userID int64, prefix string) (*postgres.AccountAccess, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[accessKey{userID, prefix}]
	if ok && !c.off && e.family == c.families[e.aa.Account.RootID()] && e.userAt == c.users[userID] && c.sync.Valid() {
		return e.aa, c.gen, true
	}
	return nil, c.gen, false
}

// put keeps an access read after generation gen, unless something was
// dropped since. The copy is shared by the requests that use it: nothing
// may change it.
func (c *accessCache) put(gen uint64, userID int64, prefix string, aa *postgres.AccountAccess) {
	if aa == nil || c.off || !c.sync.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxAccessKept {
		c.clear()
	}
	c.entries[accessKey{userID, prefix}] = accessEntry{aa: aa, family: c.families[aa.Account.RootID()], userAt: c.users[userID]}
}

// scope returns the user's summary scope while it is kept, and otherwise
// the generation to hand to putScope once it is read.
func (c *accessCache) scope(userID int64) (*postgres.SummaryScope, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.scopes[userID]
	if !ok || c.off || e.userAt != c.users[userID] || !c.sync.Valid() {
		return nil, c.gen, false
	}
	for i, root := range e.roots {
		if e.counts[i] != c.families[root] {
			return nil, c.gen, false
		}
	}
	return e.sc, c.gen, true
}

// putScope keeps a summary scope read after generation gen, unless
// something was dropped since.
func (c *accessCache) putScope(gen uint64, userID int64, sc *postgres.SummaryScope) {
	if sc == nil || c.off || !c.sync.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.scopes) >= maxAccessKept {
		c.clear()
	}
	e := scopeEntry{sc: sc, roots: sc.Families(), userAt: c.users[userID]}
	for _, root := range e.roots {
		e.counts = append(e.counts, c.families[root])
	}
	c.scopes[userID] = e
}

// invalidate drops what an announcement touches: a family's copies ("f"),
// a user's copies ("m"). Those of sessions and users, accounts' names and
// recent accounts are not its own (an account's change is its family's
// too); any other key, "" included, drops everything.
func (c *accessCache) invalidate(key string) {
	kind, id, ok := postgres.ParseCacheKey(key)
	switch {
	case !ok && key != "" && (key[0] == 's' || key[0] == 'u'):
		return
	case ok && kind != postgres.FamilyChanged && kind != postgres.RolesChanged:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch {
	case ok && len(c.families)+len(c.users) < maxAccessKept && kind == postgres.FamilyChanged:
		c.families[id]++
	case ok && len(c.families)+len(c.users) < maxAccessKept:
		c.users[id]++
	default:
		c.clear()
	}
}
