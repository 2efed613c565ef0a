// Package blob is the object-storage port: immutable objects named by keys,
// written whole and read by range. File contents (sealed blocks, see
// internal/data) live here; metadata lives in internal/meta.
//
// Engines: blob/diskblob (embedded default), blob/s3blob (later). Every engine
// passes blobtest.Run.
//
// This package must not import internal/fs, internal/data or any engine.
package blob

import (
	"context"
	"errors"
)

// ErrNotFound is returned when an object does not exist.
var ErrNotFound = errors.New("blob: not found")

// ErrNoSpace is returned (wrapped) by Put when the device is full. The store
// stays consistent: the failed object is absent.
var ErrNoSpace = errors.New("blob: no space left on device")

// ErrCorrupt is returned (wrapped) when stored bytes fail their checksum.
var ErrCorrupt = errors.New("blob: corrupt object")

// Store is an object store. All methods are safe for concurrent use.
//
// Keys are non-empty byte strings of at most MaxKeyLength bytes, made of the
// characters [A-Za-z0-9/._-]; engines may reject other keys.
type Store interface {
	// Put stores data under key, replacing any object of that name. When Put
	// returns nil the object is durable. Put does not keep data after it
	// returns.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns length bytes of the object starting at offset; length < 0
	// means "to the end". A range that extends past the end of the object is
	// cut short; an offset past the end yields an empty slice. The returned
	// slice belongs to the caller.
	Get(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// Delete removes the object. Deleting a missing object is not an error.
	// When Delete returns nil the removal is durable.
	Delete(ctx context.Context, key string) error
	// List calls fn with the key and size of every object whose key starts
	// with prefix, in ascending key order, until fn returns false or an error.
	List(ctx context.Context, prefix string, fn func(key string, size int64) (bool, error)) error
	// Close releases the store.
	Close() error
}

// MaxKeyLength bounds object keys.
const MaxKeyLength = 512

// ValidKey reports whether key follows the key rules of Store.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '/' || c == '.' || c == '_' || c == '-':
		default:
			return false
		}
	}
	return true
}
