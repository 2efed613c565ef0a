package pebblemeta

import (
	"bytes"
	"errors"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shelf-efs/shelf/internal/meta"
)

// errTxnEnded is returned by a Reader or Txn used after the function it was
// handed to has returned.
var errTxnEnded = errors.New("pebblemeta: transaction used after it ended")

// errWriteInScan is returned by Set and Delete called from a Scan callback.
var errWriteInScan = errors.New("pebblemeta: write inside a Scan callback")

// source is what a reader reads: an iterView for View, an indexed
// *pebble.Batch (the database plus the batch's own writes) for Update.
type source interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// iterView reads the state of the database when its iterator was created:
// a pebble iterator reads one state (its sequence number, memtables and
// sstables), and its clones read the same one ("Clone ... if they need
// multiple iterators that need to see exactly the same underlying state of
// the DB", pebble iterator.go). Unlike a pebble.Snapshot it takes no lock
// on the database, and closing it does not make pebble look for
// compactions, which a snapshot's Close does whenever it was the oldest.
type iterView struct {
	it *pebble.Iterator // unbounded; positioned by Get only
}

func newIterView(db *pebble.DB) (*iterView, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	return &iterView{it: it}, nil
}

// Get returns the value of key. The value is valid until the next Get.
func (v *iterView) Get(key []byte) ([]byte, io.Closer, error) {
	// The default comparer's prefix of a key is the whole key, so this is
	// a point lookup that consults the bloom filters.
	if !v.it.SeekPrefixGE(key) || !bytes.Equal(v.it.Key(), key) {
		if err := v.it.Error(); err != nil {
			return nil, nil, err
		}
		return nil, nil, pebble.ErrNotFound
	}
	val, err := v.it.ValueAndErr()
	if err != nil {
		return nil, nil, err
	}
	return val, noopCloser{}, nil
}

// NewIter returns an iterator over the same state with options o.
func (v *iterView) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	if o == nil {
		o = &pebble.IterOptions{}
	}
	return v.it.Clone(pebble.CloneOptions{IterOptions: o})
}

func (v *iterView) Close() error { return v.it.Close() }

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// reader implements meta.Reader. It is used by one goroutine at a time.
type reader struct {
	src      source
	ended    bool
	scanning bool
}

var _ meta.Reader = (*reader)(nil)

func (r *reader) end() { r.ended = true }

// Get implements meta.Reader.
func (r *reader) Get(key []byte) ([]byte, error) {
	if r.ended {
		return nil, errTxnEnded
	}
	v, closer, err := r.src.Get(key)
	if err != nil {
		return nil, translate("get", err)
	}
	out := cloneBytes(v)
	if err := closer.Close(); err != nil {
		return nil, translate("get", err)
	}
	return out, nil
}

// Scan implements meta.Reader. The slices passed to fn point into pebble's
// iterator and are valid only during the call.
func (r *reader) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) (err error) {
	if r.ended {
		return errTxnEnded
	}
	if boundsEmpty(start, end) {
		return nil
	}
	// Pebble keeps the bounds for the iterator's lifetime: copy them so that
	// fn may reuse the caller's buffers.
	// An empty, non-nil lower bound trips an invariant check in pebble
	// (it indexes key[0]); no bound means the same.
	opts := &pebble.IterOptions{}
	if len(start) > 0 {
		opts.LowerBound = cloneBytes(start)
	}
	if end != nil {
		opts.UpperBound = cloneBytes(end)
	}
	it, err := r.src.NewIter(opts)
	if err != nil {
		return translate("scan", err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = translate("scan", cerr)
		}
	}()
	r.scanning = true
	defer func() { r.scanning = false }()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return translate("scan", err)
		}
		more, err := fn(it.Key(), v)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return translate("scan", it.Error())
}

// txn implements meta.Txn over an indexed batch.
type txn struct {
	reader
	batch *pebble.Batch
}

var _ meta.Txn = (*txn)(nil)

func (t *txn) checkWrite(n int) error {
	switch {
	case t.ended:
		return errTxnEnded
	case t.scanning:
		return errWriteInScan
	case t.batch.Len()+n > maxTxnBytes:
		return errTooLarge
	}
	return nil
}

var errTooLarge = errors.New("pebblemeta: transaction too large")

// Set implements meta.Txn. The batch copies key and value.
func (t *txn) Set(key, value []byte) error {
	if err := t.checkWrite(len(key) + len(value)); err != nil {
		return err
	}
	return translate("set", t.batch.Set(key, value, nil))
}

// Delete implements meta.Txn.
func (t *txn) Delete(key []byte) error {
	if err := t.checkWrite(len(key)); err != nil {
		return err
	}
	return translate("delete", t.batch.Delete(key, nil))
}
