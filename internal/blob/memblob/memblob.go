// Package memblob is an in-memory blob.Store for tests: a real engine (it
// passes blobtest) whose contents vanish with the process. It supports fault
// injection for the callers' tests. Only tests and internal/server import it.
package memblob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shelf-efs/shelf/internal/blob"
)

// Store is an in-memory blob store. It is safe for concurrent use.
type Store struct {
	mu struct {
		sync.Mutex
		objects map[string][]byte
		closed  bool
		failPut error
	}
}

var _ blob.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	s := &Store{}
	s.mu.objects = map[string][]byte{}
	return s
}

// FailPuts makes every later Put fail with err (nil restores).
func (s *Store) FailPuts(err error) {
	s.mu.Lock()
	s.mu.failPut = err
	s.mu.Unlock()
}

// Corrupt flips one byte of an object, to test integrity checks.
func (s *Store) Corrupt(key string, at int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mu.objects[key]
	if !ok || at >= len(v) {
		return false
	}
	v[at] ^= 0x55
	return true
}

// Len returns the number of objects.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.objects)
}

func (s *Store) check(key string) error {
	if s.mu.closed {
		return fmt.Errorf("memblob: closed")
	}
	if !blob.ValidKey(key) {
		return fmt.Errorf("memblob: invalid key %q", key)
	}
	return nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return err
	}
	if s.mu.failPut != nil {
		return s.mu.failPut
	}
	s.mu.objects[key] = append([]byte{}, data...)
	return nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	v, ok := s.mu.objects[key]
	if !ok {
		return nil, fmt.Errorf("memblob: %q: %w", key, blob.ErrNotFound)
	}
	if offset < 0 {
		return nil, fmt.Errorf("memblob: negative offset")
	}
	if offset >= int64(len(v)) {
		return []byte{}, nil
	}
	end := int64(len(v))
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	return append([]byte{}, v[offset:end]...), nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return err
	}
	delete(s.mu.objects, key)
	return nil
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, size int64) (bool, error)) error {
	s.mu.Lock()
	type entry struct {
		key  string
		size int64
	}
	var entries []entry
	for k, v := range s.mu.objects {
		if strings.HasPrefix(k, prefix) {
			entries = append(entries, entry{k, int64(len(v))})
		}
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if more, err := fn(e.key, e.size); err != nil || !more {
			return err
		}
	}
	return nil
}

// Close implements blob.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	return nil
}
