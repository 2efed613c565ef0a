package kms

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/shelf-efs/shelf/internal/meta"
)

// memStore is a tiny in-memory meta.Store for these tests: one map, one
// RWMutex held across each transaction (so Updates are trivially
// serializable), and counters of what the code under test did.
type memStore struct {
	mu      sync.RWMutex
	data    map[string][]byte
	views   int // View calls
	updates int // Update calls
	writes  int // committed Set and Delete operations
}

var _ meta.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{data: make(map[string][]byte)} }

func (s *memStore) View(ctx context.Context, fn func(meta.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.views++
	s.mu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&memTxn{s: s})
}

func (s *memStore) Update(ctx context.Context, fn func(meta.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates++
	t := &memTxn{s: s, pending: make(map[string][]byte), deleted: make(map[string]bool)}
	if err := fn(t); err != nil {
		return err
	}
	for k, v := range t.pending {
		s.data[k] = v
	}
	for k := range t.deleted {
		delete(s.data, k)
	}
	s.writes += len(t.pending) + len(t.deleted)
	return nil
}

func (s *memStore) Close() error { return nil }

// snapshot copies the contents.
func (s *memStore) snapshot() map[string][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.data)
}

func (s *memStore) counts() (views, updates, writes int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.views, s.updates, s.writes
}

type memTxn struct {
	s       *memStore
	pending map[string][]byte // nil in a View
	deleted map[string]bool
}

func (t *memTxn) Get(key []byte) ([]byte, error) {
	k := string(key)
	if v, ok := t.pending[k]; ok {
		return bytes.Clone(v), nil
	}
	if t.deleted[k] {
		return nil, meta.ErrNotFound
	}
	v, ok := t.s.data[k]
	if !ok {
		return nil, meta.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (t *memTxn) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	var keys []string
	for k := range t.s.data {
		if !t.deleted[k] {
			if _, ok := t.pending[k]; !ok {
				keys = append(keys, k)
			}
		}
	}
	for k := range t.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k < string(start) || (end != nil && k >= string(end)) {
			continue
		}
		v, err := t.Get([]byte(k))
		if err != nil {
			return err
		}
		more, err := fn([]byte(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *memTxn) Set(key, value []byte) error {
	if t.pending == nil {
		panic("memStore: Set in a View")
	}
	k := string(key)
	delete(t.deleted, k)
	t.pending[k] = bytes.Clone(value)
	return nil
}

func (t *memTxn) Delete(key []byte) error {
	if t.pending == nil {
		panic("memStore: Delete in a View")
	}
	k := string(key)
	delete(t.pending, k)
	t.deleted[k] = true
	return nil
}
