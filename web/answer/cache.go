package answer

import (
	"container/list"
	"sync"
)

// Cache is an in-process LRU of bodies, bounded in bytes. An entry
// remembers the data version it was made at, and a lookup names the
// version it needs, so a stale entry is never returned; stale entries
// are replaced on the next miss or age out.
type Cache struct {
	mu      sync.Mutex
	limit   int64
	size    int64
	order   *list.List // front = most recently used; values are *cacheEntry
	entries map[string]*list.Element
	hits    int64
	misses  int64
	evicted int64
}

type cacheEntry struct {
	key  string
	body *Body
}

// entryOverhead approximates the bookkeeping bytes of one entry.
const entryOverhead = 160

// NewCache returns a cache holding at most limit bytes of bodies; a limit
// of 0 or less returns nil, a valid cache that holds nothing.
func NewCache(limit int64) *Cache {
	if limit <= 0 {
		return nil
	}
	return &Cache{limit: limit, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the body cached under key if it was made at version.
func (c *Cache) Get(key string, version int64) (*Body, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok || el.Value.(*cacheEntry).body.Version != version {
		c.misses++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).body, true
}

// Put stores b under key, replacing what was there, and evicts the least
// recently used entries beyond the limit. A body larger than the whole
// cache is not stored.
func (c *Cache) Put(key string, b *Body) {
	if c == nil {
		return
	}
	n := b.size() + int64(len(key)) + entryOverhead
	if n > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		old := el.Value.(*cacheEntry)
		if old.body.Version > b.Version {
			return // a newer body got here first
		}
		c.size += n - (old.body.size() + int64(len(key)) + entryOverhead)
		old.body = b
		c.order.MoveToFront(el)
	} else {
		c.entries[key] = c.order.PushFront(&cacheEntry{key: key, body: b})
		c.size += n
	}
	for c.size > c.limit {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.entries, e.key)
		c.size -= e.body.size() + int64(len(e.key)) + entryOverhead
		c.evicted++
	}
}

// Stats are a cache's counters.
type Stats struct {
	Bytes, Limit          int64
	Entries               int
	Hits, Misses, Evicted int64
}

// Stats reports the cache's counters; a nil cache reports zeros.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Bytes: c.size, Limit: c.limit, Entries: len(c.entries), Hits: c.hits, Misses: c.misses, Evicted: c.evicted}
}
