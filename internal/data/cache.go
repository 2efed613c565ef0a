package data

import (
	"container/list"
	"sync"
)

// blockCache keeps the plaintext of recently used block objects, bounded in
// bytes, least recently used out first. Objects are immutable (a changed
// block is a new object under a new key), so entries never go stale; a
// deleted object's entry just ages out. Cached slices are shared: nobody may
// modify them.
type blockCache struct {
	mu struct {
		sync.Mutex
		bytes   int
		entries map[blockID]*list.Element
		lru     list.List // front: most recent; values are *cacheEntry
	}
	maxBytes int
}

type cacheEntry struct {
	key   blockID
	plain []byte
}

func newBlockCache(maxBytes int) *blockCache {
	c := &blockCache{maxBytes: maxBytes}
	c.mu.entries = map[blockID]*list.Element{}
	return c
}

func (c *blockCache) get(key blockID) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.mu.entries[key]
	if !ok {
		return nil, false
	}
	c.mu.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).plain, true
}

func (c *blockCache) put(key blockID, plain []byte) {
	if c == nil || len(plain) > c.maxBytes/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.entries[key]; ok {
		return
	}
	c.mu.entries[key] = c.mu.lru.PushFront(&cacheEntry{key: key, plain: plain})
	c.mu.bytes += len(plain)
	for c.mu.bytes > c.maxBytes {
		last := c.mu.lru.Back()
		ent := last.Value.(*cacheEntry)
		c.mu.lru.Remove(last)
		delete(c.mu.entries, ent.key)
		c.mu.bytes -= len(ent.plain)
	}
}
