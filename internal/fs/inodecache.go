package fs

import (
	"bytes"
	"sync"

	"github.com/shelf-efs/shelf/internal/kms"
)

// inodeCacheEntries bounds the inodes an inodeCache keeps.
const inodeCacheEntries = 1 << 16

// inodeCache keeps what recently read sealed inode records decrypt to, so
// that reading a hot inode (every LOOKUP, GETATTR, READ and WRITE reads
// one) does not derive a key and open an envelope each time. An entry is
// used only for exactly the stored bytes it was opened from, under the same
// data key: every change of an inode is a new envelope (a new random salt),
// so the cache never answers for a record it has not seen, and it needs no
// invalidation. When full, it forgets an arbitrary entry.
type inodeCache struct {
	mu      sync.Mutex
	entries map[fileKey]*inodeCacheEntry
}

type inodeCacheEntry struct {
	key    *kms.DataKey
	stored []byte
	n      inode
}

// get returns a copy of the inode that stored decrypts to under key, if
// the cache holds it.
func (c *inodeCache) get(k fileKey, key *kms.DataKey, stored []byte) (*inode, bool) {
	c.mu.Lock()
	e := c.entries[k]
	c.mu.Unlock()
	if e == nil || e.key != key || !bytes.Equal(e.stored, stored) {
		return nil, false
	}
	n := e.n
	n.target = bytes.Clone(e.n.target)
	return &n, true
}

// put records that stored decrypts to n under key.
func (c *inodeCache) put(k fileKey, key *kms.DataKey, stored []byte, n *inode) {
	e := &inodeCacheEntry{key: key, stored: bytes.Clone(stored), n: *n}
	e.n.target = bytes.Clone(n.target)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[fileKey]*inodeCacheEntry{}
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= inodeCacheEntries {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = e
}
