// Package meta is the metadata port: a small, ordered, transactional key-value
// store. POSIX semantics live in internal/fs and are written once over this
// port; an engine (meta/pebblemeta embedded, meta/sqlmeta later) only has to
// provide ordered keys and serializable transactions.
//
// The key layout used by shelf lives in keys.go (one file per schema version);
// engines never interpret keys.
//
// This package must not import internal/fs, internal/data or any engine.
package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotFound is returned by Get when the key does not exist.
var ErrNotFound = errors.New("meta: not found")

// ErrConflict is returned by an engine when a transaction could not be
// serialized. Update retries on it internally; callers see it only when the
// retry budget is exhausted.
var ErrConflict = errors.New("meta: transaction conflict")

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("meta: store closed")

// ErrNoSpace is returned (wrapped) by Update when the engine refuses writes
// because its storage is full. Nothing was written; reads still work, and
// writes are accepted again once space has been freed.
var ErrNoSpace = errors.New("meta: no space left for metadata")

// ErrUnsupportedFormat is returned (wrapped) by CheckFormat, and so by an
// engine's Open, for a store whose schema version this build cannot use.
var ErrUnsupportedFormat = errors.New("meta: unsupported store format")

// Reader reads a consistent snapshot. A Reader is valid only inside the
// function it was handed to and must not be used from other goroutines.
//
// Returned slices are owned by the caller (engines copy), so they may be kept
// after the transaction ends.
type Reader interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for every key k with start <= k < end, in ascending key
	// order, until fn returns false or an error. A nil end means "to the end
	// of the key space". The slices passed to fn are valid only during the
	// call; copy them to keep them. Writes made earlier in the same Txn are
	// visible to Scan. fn must not write to the transaction.
	Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error
}

// Txn is a read-write transaction. Writes are buffered and become visible to
// other transactions, atomically, when the function passed to Update returns
// nil and the commit succeeds.
type Txn interface {
	Reader
	// Set stores value under key. The Txn copies both slices.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
}

// Store is an ordered transactional key-value store. All methods are safe for
// concurrent use.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	// Everything a View can observe is durable: an engine that makes commits
	// visible before they are synced waits for them before View returns.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a serializable read-write transaction and commits it.
	// When Update returns nil the writes are durable (synced to stable
	// storage). fn may be called more than once (on conflict), so it must
	// have no side effects outside the transaction other than idempotent
	// ones. If fn returns an error, nothing is written and Update returns
	// that error unchanged.
	Update(ctx context.Context, fn func(Txn) error) error
	// Close releases the store. Transactions running concurrently with Close
	// may fail with ErrClosed.
	Close() error
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, for use as the end bound of Scan. It returns nil (no bound) when the
// prefix is all 0xff bytes.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ScanPrefix is Scan over every key that starts with prefix.
func ScanPrefix(r Reader, prefix []byte, fn func(key, value []byte) (bool, error)) error {
	return r.Scan(prefix, PrefixEnd(prefix), fn)
}

// CheckFormat is run by every engine in an Update when it opens a store. In an
// empty store it records FormatVersion under KeyFormat (a uint32, big-endian).
// In an existing store it returns an error wrapping ErrUnsupportedFormat if
// the recorded version is newer than FormatVersion, or if the version is
// missing while other keys exist (not a shelf store, or a damaged one). An
// older version is upgraded: version 1 only lacks table 'P', so upgrading
// records the current version.
func CheckFormat(t Txn) error {
	v, err := t.Get(KeyFormat)
	switch {
	case errors.Is(err, ErrNotFound):
		empty := true
		if err := t.Scan(nil, nil, func(_, _ []byte) (bool, error) {
			empty = false
			return false, nil
		}); err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%w: keys present but no format version", ErrUnsupportedFormat)
		}
		return t.Set(KeyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion))
	case err != nil:
		return err
	case len(v) != 4:
		return fmt.Errorf("%w: format version record of %d bytes", ErrUnsupportedFormat, len(v))
	}
	switch version := binary.BigEndian.Uint32(v); {
	case version == 0:
		return fmt.Errorf("%w: format version 0", ErrUnsupportedFormat)
	case version > FormatVersion:
		return fmt.Errorf("%w: format version %d is newer than this build's %d", ErrUnsupportedFormat, version, FormatVersion)
	case version < FormatVersion:
		return t.Set(KeyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion))
	}
	return nil
}
