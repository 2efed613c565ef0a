// Package diskblob is the embedded blob engine: objects live in log-structured
// segment files in one local directory (a Bitcask-like layout).
//
// Every Put or Delete appends one checksummed record to the active segment and
// returns once an fdatasync covers it. Concurrent writers share that sync
// (group commit): the first waiter syncs for everyone who appended before it
// started, so throughput grows with concurrency while each call stays
// durable. A file per object would cost a file creation, an fsync and a
// directory fsync per object instead.
//
// An in-memory index maps each key to the segment and offset of its latest
// record. It is rebuilt at open by reading every segment in order; later
// records win. The index only ever shows durable state: a record is applied to
// it after the sync that covers it, in append order.
//
// Recovery rules (see replay in segment.go):
//   - a torn or invalid tail of the newest segment is truncated at open, so a
//     half-written record is never served;
//   - an invalid record that is provably older than durable data (in a sealed
//     segment, or before a record whose watermark covers it, or before the
//     mark written by Close) is corruption: open fails with an error wrapping
//     blob.ErrCorrupt instead of silently dropping acknowledged objects.
//
// Get verifies the checksum of the whole record before returning any byte of
// it. Delete appends a tombstone. Compact rewrites sealed segments that are
// mostly dead (see compact.go).
//
// This package imports only internal/blob of shelf.
package diskblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/shelf-efs/shelf/internal/blob"
)

// Default configuration values.
const (
	DefaultSegmentBytes     = 64 << 20
	DefaultCompactLiveRatio = 0.5
	minSegmentBytes         = 4 << 10
)

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("diskblob: store closed")

// ErrInvalidKey is returned for keys that blob.ValidKey rejects.
var ErrInvalidKey = errors.New("diskblob: invalid key")

// ErrLocked is returned by New when another store has the directory open.
var ErrLocked = errors.New("diskblob: directory is in use by another store")

// Config configures a Store. The zero value of every field but Dir selects
// the default.
type Config struct {
	// Dir holds the segment files; it is created with mode 0700 if missing.
	Dir string
	// SegmentBytes is the size at which the active segment is sealed and a new
	// one started. An object larger than that gets a segment of its own.
	// Default 64 MiB, minimum 4 KiB.
	SegmentBytes int64
	// CompactLiveRatio selects the segments Compact rewrites: sealed segments
	// whose live bytes are below this fraction of their records. Default 0.5;
	// at most 1.
	CompactLiveRatio float64
	// DisableAutoCompact turns off the background compaction that otherwise
	// runs each time a segment is sealed. Compact still works.
	DisableAutoCompact bool
}

func (c Config) withDefaults() Config {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.CompactLiveRatio == 0 {
		c.CompactLiveRatio = DefaultCompactLiveRatio
	}
	return c
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("diskblob: dir is required"))
	}
	if c.SegmentBytes != 0 && c.SegmentBytes < minSegmentBytes {
		errs = append(errs, fmt.Errorf("diskblob: segment bytes must be at least %d", minSegmentBytes))
	}
	if c.CompactLiveRatio < 0 || c.CompactLiveRatio > 1 {
		errs = append(errs, errors.New("diskblob: compact live ratio must be within [0, 1]"))
	}
	return errors.Join(errs...)
}

// Stats describes the space a Store uses.
type Stats struct {
	// Objects and Tombstones count index entries: stored objects, and
	// deletions whose tombstone compaction must still keep.
	Objects    int
	Tombstones int
	// Segments counts segment files, the active one included.
	Segments int
	// LiveBytes is the size of the records the index needs, headers
	// included; DeadBytes the size of the records it no longer needs (space
	// compaction can reclaim). Segment headers are not counted.
	LiveBytes int64
	DeadBytes int64
}

// Store is the disk engine. All methods are safe for concurrent use.
type Store struct {
	log      *slog.Logger
	cfg      Config
	fs       vfs
	lockFile *os.File

	// closeMu is held shared by every operation for its whole duration and
	// exclusively by Close, which so waits for operations in flight.
	closeMu sync.RWMutex
	closed  bool        // guarded by closeMu
	closing atomic.Bool // set first thing in Close so that Compact stops early

	compactMu sync.Mutex // one Compact at a time

	// w is the append side: the active segment and the group-commit queue.
	// Lock order: compactMu, closeMu, w, mu.
	w struct {
		sync.Mutex
		cond        sync.Cond // signalled when a sync ends or ops complete
		active      *segment
		off         int64 // end of the last record appended to active
		synced      int64 // prefix of active known to be durable
		syncing     bool  // a leader is syncing active with w unlocked
		pending     []*op // appended, not yet durable, in append order
		pendingKeys map[string]int
		nextID      uint64 // id of the next segment
		// dirty means the active segment may hold bytes past off (from a
		// failed append or sync) that must be cut off before the next
		// append, or they could be replayed.
		dirty bool
		err   error // sticky: durability is unknown, writes fail until reopened
	}

	// mu guards the index, which shows only durable records.
	mu struct {
		sync.RWMutex
		objects  map[string]entry
		deleted  map[string]*tomb
		segments map[uint64]*segment
	}

	bg struct {
		cancel  context.CancelFunc
		done    chan struct{}
		trigger chan struct{}
	}
}

var _ blob.Store = (*Store)(nil)

// entry locates the live record of an object.
type entry struct {
	seg      *segment
	off      int64
	valueLen int64
	// older lists other segments that may still hold earlier put records of
	// the key. A tombstone may be dropped only once all of them are gone,
	// or an earlier version would come back at the next open.
	older []uint64
}

// tomb locates the tombstone of a deleted key that compaction must keep.
type tomb struct {
	seg  *segment
	off  int64
	puts []uint64 // segments that may still hold put records of the key
}

type opKind uint8

const (
	opPut    opKind = iota // user Put
	opDelete               // user Delete
	opMove                 // compaction copy of a put or a tombstone
	opMark                 // Close's mark
)

// op is one appended record waiting for its sync.
type op struct {
	kind     opKind
	recKind  byte
	key      string
	valueLen int64
	from     *segment // opMove: the record being copied
	fromOff  int64

	seg    *segment // where the record was appended
	off    int64
	recLen int64

	done bool  // guarded by Store.w
	err  error // guarded by Store.w; set when done
}

// New opens (or creates) the store in cfg.Dir, rebuilding the index from the
// segments. It takes an exclusive lock on the directory.
func New(logger *slog.Logger, cfg Config) (*Store, error) {
	return newStore(logger, cfg, osFS{})
}

func newStore(logger *slog.Logger, cfg Config, fsys vfs) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("diskblob: create dir: %w", err)
	}
	lf, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{log: logger, cfg: cfg.withDefaults(), fs: fsys, lockFile: lf}
	s.w.cond.L = &s.w.Mutex
	s.w.pendingKeys = make(map[string]int)
	s.mu.objects = make(map[string]entry)
	s.mu.deleted = make(map[string]*tomb)
	s.mu.segments = make(map[uint64]*segment)
	if err := s.open(); err != nil {
		s.closeFiles()
		_ = lf.Close()
		return nil, err
	}
	if !s.cfg.DisableAutoCompact {
		ctx, cancel := context.WithCancel(context.Background())
		s.bg.cancel = cancel
		s.bg.done = make(chan struct{})
		s.bg.trigger = make(chan struct{}, 1)
		go s.compactLoop(ctx)
	}
	return s, nil
}

// enter starts an operation; the caller must call s.closeMu.RUnlock after.
func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Put stores data under key. It returns once the record is durable and
// visible to Get and List. Put reads data only until it returns (large values
// are written straight from it). A failed Put leaves the previous object, if
// any, in place; on a full disk the error wraps blob.ErrNoSpace. Cancelling
// ctx is honoured only before the append.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if !blob.ValidKey(key) {
		return ErrInvalidKey
	}
	if len(data) > MaxObjectBytes {
		return fmt.Errorf("diskblob: put: object of %d bytes exceeds %d", len(data), MaxObjectBytes)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec := encodeRecord(kindPut, key, data)
	if err := s.enter(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	o := &op{kind: opPut, recKind: kindPut, key: key, valueLen: int64(len(data))}
	s.w.Lock()
	defer s.w.Unlock()
	if err := s.appendLocked(o, &rec); err != nil {
		return err
	}
	s.waitLocked(o)
	return o.err
}

// Get returns a range of the object (see blob.Store). It reads the whole
// record and verifies its checksum even for a short range: damage yields an
// error wrapping blob.ErrCorrupt, never wrong bytes. The slice belongs to the
// caller.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if !blob.ValidKey(key) {
		return nil, ErrInvalidKey
	}
	if offset < 0 {
		return nil, fmt.Errorf("diskblob: get: negative offset")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.closeMu.RUnlock()

	s.mu.RLock()
	e, ok := s.mu.objects[key]
	if ok {
		e.seg.refs.Add(1)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("diskblob: get: %w", blob.ErrNotFound)
	}
	defer e.seg.release()

	n := int64(recordHeaderLen+len(key)) + e.valueLen
	buf := make([]byte, n)
	if m, err := e.seg.f.ReadAt(buf, e.off); int64(m) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = corruptf("record cut short")
		}
		return nil, fmt.Errorf("diskblob: get: segment %d offset %d: %w", e.seg.id, e.off, err)
	}
	h, err := parseHeader(buf)
	if err == nil {
		err = h.verify(buf[:recordHeaderLen], buf[recordHeaderLen:])
	}
	if err == nil && (h.kind != kindPut || h.recordLen() != n || string(buf[recordHeaderLen:recordHeaderLen+len(key)]) != key) {
		err = corruptf("record does not match the index")
	}
	if err != nil {
		return nil, fmt.Errorf("diskblob: get: segment %d offset %d: %w", e.seg.id, e.off, err)
	}

	value := buf[recordHeaderLen+len(key):]
	if offset >= int64(len(value)) {
		return []byte{}, nil
	}
	end := int64(len(value))
	if length >= 0 && length < end-offset {
		end = offset + length
	}
	out := value[offset:end:end]
	if 2*len(out) < len(buf) {
		// Do not pin a large record for a small range.
		out = slices.Clone(out)
	}
	return out, nil
}

// Delete removes the object with a durable tombstone. Deleting a missing
// object writes nothing and returns nil.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !blob.ValidKey(key) {
		return ErrInvalidKey
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	s.w.Lock()
	defer s.w.Unlock()
	var target uint64
	if s.w.pendingKeys[key] == 0 {
		// Nothing in flight for key, and the index holds only durable
		// state: if key is absent, its absence is already durable.
		s.mu.RLock()
		e, ok := s.mu.objects[key]
		s.mu.RUnlock()
		if !ok {
			return nil
		}
		target = e.seg.id
	}
	rec := encodeRecord(kindTombstone, key, tombstoneValue(target))
	o := &op{kind: opDelete, recKind: kindTombstone, key: key, valueLen: tombstoneValueLen}
	if err := s.appendLocked(o, &rec); err != nil {
		return err
	}
	s.waitLocked(o)
	return o.err
}

// List calls fn for the objects whose key starts with prefix, in key order.
// It works on a snapshot of the index taken when it starts, sorted in
// memory (O(n log n) in the number of matching objects); fn may call any
// method of the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, size int64) (bool, error)) error {
	type item struct {
		key  string
		size int64
	}
	if err := s.enter(); err != nil {
		return err
	}
	var items []item
	s.mu.RLock()
	for k, e := range s.mu.objects {
		if strings.HasPrefix(k, prefix) {
			items = append(items, item{k, e.valueLen})
		}
	}
	s.mu.RUnlock()
	s.closeMu.RUnlock()

	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		more, err := fn(it.key, it.size)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// Stats returns the current space accounting.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Objects: len(s.mu.objects), Tombstones: len(s.mu.deleted), Segments: len(s.mu.segments)}
	for _, seg := range s.mu.segments {
		st.LiveBytes += seg.live
		st.DeadBytes += seg.size - segmentHeaderLen - seg.live
	}
	return st
}

// Close stops background compaction, waits for operations in flight, marks
// the end of the active segment as durable and closes the files. Later calls
// of any method return ErrClosed; Close itself is idempotent.
func (s *Store) Close() error {
	s.closing.Store(true)
	if s.bg.cancel != nil {
		s.bg.cancel()
		<-s.bg.done
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true

	var err error
	s.w.Lock()
	if s.w.err == nil {
		// Every operation has finished, so everything appended is durable.
		// The mark's watermark lets the next open tell damage in this
		// segment from a torn tail.
		rec := encodeRecord(kindMark, "", nil)
		o := &op{kind: opMark, recKind: kindMark}
		if err = s.appendLocked(o, &rec); err == nil {
			s.waitLocked(o)
			err = o.err
		}
	}
	s.w.Unlock()
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	if cerr := s.lockFile.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("diskblob: close lock file: %w", cerr)
	}
	return err
}

func (s *Store) closeFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, seg := range s.mu.segments {
		if cerr := seg.close(); err == nil && cerr != nil {
			err = fmt.Errorf("diskblob: close segment: %w", cerr)
		}
	}
	return err
}

// appendLocked writes the encoded record rec for o at the end of the active
// segment, rolling to a new segment first if rec would not fit, and queues o
// for the next sync. It may release w while it waits to roll. On a write
// error the segment is cut back to where it was and the error returned
// (wrapping blob.ErrNoSpace if the disk is full).
func (s *Store) appendLocked(o *op, rec *encoded) error {
	if err := s.makeRoomLocked(o, rec.len()); err != nil {
		return err
	}
	return s.writeLocked(o, rec)
}

// makeRoomLocked rolls to a new segment if a record of n bytes does not fit
// in the active one. It may release w while a sync is running; once it
// returns nil, writeLocked of up to n bytes appends without releasing w.
func (s *Store) makeRoomLocked(o *op, n int64) error {
	for {
		if s.w.err != nil {
			return s.w.err
		}
		if s.w.off == segmentHeaderLen || s.w.off+n <= s.cfg.SegmentBytes || o.kind == opMark {
			return nil
		}
		if s.w.syncing {
			// Let the leader finish with the active segment first.
			s.w.cond.Wait()
			continue
		}
		if err := s.rollLocked(); err != nil {
			return err
		}
	}
}

// writeLocked appends rec at the end of the active segment, without rolling
// or releasing w.
func (s *Store) writeLocked(o *op, rec *encoded) error {
	if s.w.err != nil {
		return s.w.err
	}
	if err := s.cleanTailLocked(); err != nil {
		return ioError("cut failed append", err)
	}
	seg, off := s.w.active, s.w.off
	rec.seal(s.w.synced)
	_, err := seg.f.WriteAt(rec.head, off)
	if err == nil && rec.tail != nil {
		_, err = seg.f.WriteAt(rec.tail, off+int64(len(rec.head)))
	}
	if err != nil {
		s.w.dirty = true
		_ = s.cleanTailLocked() // or before the next append
		return ioError("append", err)
	}
	s.w.off += rec.len()
	o.seg, o.off, o.recLen = seg, off, rec.len()
	s.w.pending = append(s.w.pending, o)
	if o.key != "" {
		s.w.pendingKeys[o.key]++
	}
	return nil
}

// waitLocked returns when o is durable and applied, or has failed. The first
// waiter to find no sync running becomes the leader and syncs for every
// record appended so far; the others wait for it (group commit).
func (s *Store) waitLocked(o *op) {
	for !o.done {
		if s.w.syncing {
			s.w.cond.Wait()
			continue
		}
		s.syncLocked()
	}
}

// syncLocked syncs the active segment with w unlocked, then applies the ops
// the sync covered. The active segment cannot change meanwhile: rolling waits
// for syncing to clear.
func (s *Store) syncLocked() {
	seg, end, n := s.w.active, s.w.off, len(s.w.pending)
	s.w.syncing = true
	s.w.Unlock()
	err := seg.f.Sync()
	s.w.Lock()
	s.w.syncing = false
	defer s.w.cond.Broadcast()
	if err != nil {
		s.failSyncLocked(err)
		return
	}
	s.w.synced = end
	s.completeLocked(n)
}

// failSyncLocked handles a failed sync of the active segment. Whatever lies
// past the synced prefix may or may not be on disk (and after a failed fsync
// Linux may report the next one clean), so every pending op fails and the
// segment is cut back to the synced prefix.
func (s *Store) failSyncLocked(err error) {
	err = ioError("sync", err)
	for _, o := range s.w.pending {
		s.finishLocked(o, err)
	}
	clear(s.w.pending)
	s.w.pending = s.w.pending[:0]
	s.w.off = s.w.synced
	s.w.dirty = true
	_ = s.cleanTailLocked() // or before the next append
}

// cleanTailLocked cuts the active segment back to off after a failed append
// or sync, and syncs the cut so that what failed cannot come back at the next
// open. Until it succeeds every append fails (when the disk is full, that is
// until space is freed).
func (s *Store) cleanTailLocked() error {
	if !s.w.dirty {
		return nil
	}
	f := s.w.active.f
	err := f.Truncate(s.w.off)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		s.w.dirty = false
	}
	return err
}

// completeLocked applies the first n pending ops, which are durable, to the
// index in append order and wakes their callers.
func (s *Store) completeLocked(n int) {
	done := s.w.pending[:n]
	s.mu.Lock()
	for _, o := range done {
		s.applyLocked(o)
	}
	s.mu.Unlock()
	for _, o := range done {
		s.finishLocked(o, nil)
	}
	clear(done)
	s.w.pending = s.w.pending[n:]
}

func (s *Store) finishLocked(o *op, err error) {
	o.done, o.err = true, err
	if o.key != "" {
		if s.w.pendingKeys[o.key]--; s.w.pendingKeys[o.key] == 0 {
			delete(s.w.pendingKeys, o.key)
		}
	}
}

// barrierLocked waits until every op appended so far is applied or failed.
func (s *Store) barrierLocked() {
	for len(s.w.pending) > 0 {
		s.waitLocked(s.w.pending[len(s.w.pending)-1])
	}
}

// rollLocked seals the active segment (making all of it durable and applying
// its pending ops) and starts a new one. No sync may be running.
func (s *Store) rollLocked() error {
	old := s.w.active
	if err := s.cleanTailLocked(); err != nil {
		// A sealed segment must end with its last record.
		return ioError("cut failed append", err)
	}
	if s.w.synced < s.w.off {
		if err := old.f.Sync(); err != nil {
			s.failSyncLocked(err)
			s.w.cond.Broadcast()
			return ioError("sync", err)
		}
		s.w.synced = s.w.off
		s.completeLocked(len(s.w.pending))
		s.w.cond.Broadcast()
	}
	// Best effort: only space is at stake.
	_ = old.f.DropPreallocated(s.w.off)
	id := s.w.nextID
	s.w.nextID++
	seg, err := s.createSegment(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mu.segments[id] = seg
	s.mu.Unlock()
	s.w.active, s.w.off, s.w.synced = seg, segmentHeaderLen, segmentHeaderLen
	if s.bg.trigger != nil {
		select {
		case s.bg.trigger <- struct{}{}:
		default:
		}
	}
	return nil
}

// ioError wraps an I/O error, mapping a full disk to blob.ErrNoSpace.
func ioError(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("diskblob: %s: %w (%w)", op, blob.ErrNoSpace, err)
	}
	return fmt.Errorf("diskblob: %s: %w", op, err)
}
