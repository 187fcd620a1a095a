package portal

import "sync"

// formatted remembers FormatPhone's answers; it starts over when full, so
// it stays small whatever numbers pass through.
var formatted = &phoneCache{m: map[string]string{}}

type phoneCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const phoneCacheSize = 100_000

func (c *phoneCache) get(k string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *phoneCache) put(k, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= phoneCacheSize {
		clear(c.m)
	}
	c.m[k] = v
}
