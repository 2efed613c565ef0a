// Package pebblemeta is the embedded engine of the metadata port: meta.Store
// on Pebble (github.com/cockroachdb/pebble/v2).
//
// # Transactions
//
// Read-write transactions are serialized by one writer lock. Update runs fn
// over an indexed batch (reads see the database plus the batch) while holding
// the lock, hands the batch to Pebble with ApplyNoSyncWait, releases the lock
// and only then waits for the WAL sync. Concurrent writers therefore pipeline:
// while one fsync is in flight the next batches are appended to the WAL, and
// Pebble's WAL writer syncs them together (group commit). Serializability is
// trivial since read-write transactions run one at a time; there are never
// conflicts, so Update never calls fn twice.
//
// A batch is visible in Pebble as soon as it is applied, before it is synced.
// View must not let a caller observe non-durable state, so the store numbers
// applied batches (applied, bumped under the writer lock before the batch is
// handed to Pebble) and tracks the highest synced number (synced). A View
// reads applied after opening its view (an iterator, which reads the state of
// its creation) and, after fn, waits until synced
// has reached it. Batches reach the WAL in the order of their numbers and a
// WAL sync covers everything written before it (a WAL is synced when it is
// rotated out), so synced >= n means every batch up to n is durable.
//
// # Full disks and I/O errors
//
// Pebble v2.1.7 does not recover from a failed WAL write, and stalls on a
// full disk. Established by reading its source and by experiment (vfs/errorfs
// in failure_test.go; a 16 MiB tmpfs filled by hand):
//
//   - On a real full disk the first failure is usually a memtable flush
//     (ENOSPC writing an sstable), since WAL files are recycled and keep
//     their space. Pebble reports it to EventListener.BackgroundError and
//     retries at once, forever, with no backoff (one core busy, one error
//     per attempt); once MemTableStopWritesThreshold memtables are queued,
//     every commit blocks inside pebble until a flush succeeds. Nothing
//     panics and no write is lost.
//   - A write or sync error on the WAL is delivered to every batch waiting
//     for that sync (Batch.SyncWait returns it) and becomes sticky. The
//     batches involved stay applied to the memtable: visible, not durable.
//     (With DB.Apply instead of ApplyNoSyncWait the same error goes to
//     Logger.Fatalf.)
//   - The next commit that reaches the WAL writer after such an error panics
//     inside pebble.DB.commitWrite while holding the commit-pipeline mutex;
//     recovered, it leaves every later commit, and DB.Close, blocked forever.
//   - If closing the old WAL or creating the new one fails while the
//     memtable is rotated, pebble panics after releasing its DB mutex and a
//     deferred Unlock aborts the process ("fatal error: sync: unlock of
//     unlocked mutex", not recoverable).
//   - A failed MANIFEST write is fatal (Logger.Fatalf, from a background
//     goroutine), which ends the process.
//
// What this store does about it:
//
//   - Full disk: a background error wrapping ENOSPC raises spaceState.full;
//     while it is up, Update fails at once with an error wrapping
//     meta.ErrNoSpace and syscall.ENOSPC, View keeps working, and pebble's
//     flush retries are slowed (faultFS). The next successful flush or
//     compaction, or an Update that finds enough free space, lowers it: no
//     restart is needed.
//   - WAL error: fatal for the store, not the process. faultFS latches the
//     first WAL write or sync error synchronously, before pebble sees it, and
//     the writer lock checks the latch before every commit, so the panicking
//     path above is never taken. Every later call returns the error (wrapping
//     the original one, e.g. syscall.ENOSPC); restarting replays the WAL,
//     which holds every acknowledged write. Any panic that still escapes
//     pebble during a commit started here is recovered, fails the store, and
//     makes Close skip pebble's Close, which would block.
//   - Logger.Fatalf logs through slog and panics (see slogLogger): recovered
//     and turned into a store failure when raised by a call made here, fatal
//     to the process when raised by pebble's background goroutines. The WAL
//     rotation abort above cannot be intercepted; it needs the disk to fill
//     exactly while a WAL is being closed, after every earlier write fitted.
package pebblemeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Defaults for Options.
const (
	DefaultCacheBytes    = 64 << 20
	DefaultMemTableBytes = 16 << 20
)

// maxTxnBytes bounds the encoded size of one transaction's writes. Pebble
// panics on batches of 4 GiB; metadata transactions are tiny, so a far lower
// limit turns a runaway caller into an error instead.
const maxTxnBytes = 512 << 20

// formatMajorVersion pins pebble's on-disk format instead of following
// FormatNewest, so that upgrading the pebble module never silently ratchets
// existing stores to a format an older shelf cannot read.
const formatMajorVersion = pebble.FormatValueSeparation

// memTableStopWritesThreshold is the number of queued memtables at which
// pebble stalls writes (pebble's default is 2); 4 absorbs bursts of
// metadata writes while a flush runs.
const memTableStopWritesThreshold = 4

// Options configures Open. The zero value is usable.
type Options struct {
	// FS is the file system holding the store; nil means the operating
	// system's. Tests use vfs.NewMem().
	FS vfs.FS
	// Logger receives pebble's log output (see slogLogger) and store
	// lifecycle messages; nil discards them.
	Logger *slog.Logger
	// CacheBytes is the size of the block cache; 0 means DefaultCacheBytes.
	CacheBytes int64
	// MemTableBytes is the size of one memtable; 0 means
	// DefaultMemTableBytes.
	MemTableBytes uint64
	// DiskSlowThreshold is how long a single disk operation may take before
	// a slow-disk warning is logged; 0 means 5s, negative disables the check.
	DiskSlowThreshold time.Duration
	// NoSpaceBackoff is how long pebble's flush and compaction retries wait
	// while the disk is full (see faultFS); 0 means 250ms, negative means
	// no wait.
	NoSpaceBackoff time.Duration
}

// Store is a meta.Store on pebble. All methods are safe for concurrent use.
type Store struct {
	db       *pebble.DB
	log      *slog.Logger
	fs       vfs.FS // for GetDiskUsage
	dir      string
	fsCloser io.Closer
	walFault *walFault

	space spaceState
	// minFreeBytes is the free space that lets writes resume after the
	// disk was found full.
	minFreeBytes uint64

	// writer is the writer lock (a channel so that waiting honours ctx).
	writer chan struct{}
	// applied counts batches handed to pebble; bumped under writer.
	applied atomic.Uint64

	durable struct {
		sync.Mutex
		synced uint64        // highest batch number known to be synced
		err    error         // first fatal error; sticky
		wedged bool          // pebble may hold internal locks: skip db.Close
		wake   chan struct{} // closed when synced or err changes
	}

	life struct {
		sync.Mutex
		closed  bool
		active  int // View and Update calls in progress
		drained *sync.Cond
	}
}

var _ meta.Store = (*Store)(nil)

// Open opens the store in dir, creating it if needed. A new store gets
// meta.FormatVersion; a store written by a newer version of the schema is
// refused (meta.ErrUnsupportedFormat).
func Open(dir string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		log:      log.With("engine", "pebble"),
		dir:      dir,
		walFault: &walFault{},
		writer:   make(chan struct{}, 1),
	}
	s.durable.wake = make(chan struct{})
	s.life.drained = sync.NewCond(&s.life.Mutex)

	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	slow := opts.DiskSlowThreshold
	if slow == 0 {
		slow = 5 * time.Second
	}
	logger := slogLogger{log: s.log, onFatal: func(err error) { s.fail(err, false) }}
	events := s.eventListener(logger)
	if slow > 0 {
		fs, s.fsCloser = vfs.WithDiskHealthChecks(fs, slow, nil, func(info vfs.DiskSlowInfo) {
			events.DiskSlow(info)
		})
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	memTableBytes := opts.MemTableBytes
	if memTableBytes == 0 {
		memTableBytes = DefaultMemTableBytes
	}
	// Room for the queued memtables' flushes and a new WAL.
	s.minFreeBytes = (memTableStopWritesThreshold + 1) * memTableBytes
	backoff := opts.NoSpaceBackoff
	if backoff == 0 {
		backoff = 250 * time.Millisecond
	}
	s.fs = fs
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref() // the DB holds its own reference

	po := &pebble.Options{
		FS:                          &faultFS{FS: fs, fault: s.walFault, space: &s.space, noSpaceBackoff: backoff},
		Cache:                       cache,
		MemTableSize:                memTableBytes,
		MemTableStopWritesThreshold: memTableStopWritesThreshold,
		FormatMajorVersion:          formatMajorVersion,
		Logger:                      logger,
		EventListener:               events,
	}
	// Lookups of missing names (NFS LOOKUP, CREATE) are common: bloom
	// filters spare them a read per level.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	po.EnsureDefaults()

	db, err := openDB(dir, po)
	if err != nil {
		s.closeFS()
		return nil, fmt.Errorf("pebblemeta: open %s: %w", dir, err)
	}
	s.db = db
	if err := s.Update(context.Background(), meta.CheckFormat); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("pebblemeta: open %s: %w", dir, err)
	}
	s.log.Info("meta store opened", "dir", dir)
	return s, nil
}

// openDB calls pebble.Open, turning a Fatalf during recovery into an error.
func openDB(dir string, po *pebble.Options) (db *pebble.DB, err error) {
	defer recoverFatal(&err)
	return pebble.Open(dir, po)
}

func (s *Store) closeFS() {
	if s.fsCloser != nil {
		_ = s.fsCloser.Close()
	}
}

// enter registers a View or Update call; it fails once Close has started.
func (s *Store) enter() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.life.closed {
		return meta.ErrClosed
	}
	s.life.active++
	return nil
}

func (s *Store) exit() {
	s.life.Lock()
	defer s.life.Unlock()
	s.life.active--
	if s.life.active == 0 {
		s.life.drained.Broadcast()
	}
}

// fail marks the store failed with err (the first error wins). wedged says
// pebble may have been left holding internal locks.
func (s *Store) fail(err error, wedged bool) {
	s.durable.Lock()
	defer s.durable.Unlock()
	s.durable.wedged = s.durable.wedged || wedged
	if s.durable.err != nil {
		return
	}
	s.durable.err = fmt.Errorf("pebblemeta: store failed, restart to recover: %w", err)
	close(s.durable.wake)
	s.durable.wake = make(chan struct{})
	// Error() rather than the value: slog prints errors with %+v, which for
	// pebble's errors includes a stack trace.
	s.log.Error("meta store failed", "err", err.Error())
}

// failure returns the sticky error, or nil.
func (s *Store) failure() error {
	s.durable.Lock()
	defer s.durable.Unlock()
	return s.durable.err
}

// markSynced records that every batch up to n is durable.
func (s *Store) markSynced(n uint64) {
	s.durable.Lock()
	defer s.durable.Unlock()
	if n > s.durable.synced {
		s.durable.synced = n
		close(s.durable.wake)
		s.durable.wake = make(chan struct{})
	}
}

// waitDurable waits until every batch up to n is synced.
func (s *Store) waitDurable(ctx context.Context, n uint64) error {
	for {
		s.durable.Lock()
		err, synced, wake := s.durable.err, s.durable.synced, s.durable.wake
		s.durable.Unlock()
		switch {
		case err != nil:
			return err
		case synced >= n:
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// View implements meta.Store. fn reads one state of the database (an
// iterView); when it returns, View waits until everything that state could
// contain is synced (at most one WAL sync), so a caller never observes a
// write that a crash could undo.
func (s *Store) View(ctx context.Context, fn func(meta.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	if err := s.failure(); err != nil {
		return err
	}
	view, err := newIterView(s.db)
	if err != nil {
		return translate("view", err)
	}
	// Read applied after the view exists: every batch the view can see was
	// numbered before it became visible.
	visible := s.applied.Load()
	r := &reader{src: view}
	err = func() error {
		defer r.end()
		return fn(r)
	}()
	if cerr := view.Close(); cerr != nil && err == nil {
		return translate("close view", cerr)
	}
	if err != nil {
		// fn's error may rest on what it read: wait all the same, and
		// return the error unchanged.
		_ = s.waitDurable(ctx, visible)
		return err
	}
	return s.waitDurable(ctx, visible)
}

// Update implements meta.Store. See the package documentation for the commit
// protocol. Update honours ctx until fn starts; once a batch has been handed
// to pebble it waits for the sync whatever ctx says, so that a nil or non-nil
// result always tells whether the write happened.
func (s *Store) Update(ctx context.Context, fn func(meta.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	// Refuse early on a full disk: the writer lock may be held by a commit
	// stalled inside pebble.
	if err := s.checkSpace(); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c, fnErr, err := s.commitLocked(fn)
	if err != nil {
		return err
	}
	if fnErr != nil || c.batch == nil {
		// Nothing was written, but fn may have read batches that are
		// applied and not yet synced: wait for them as View does. The
		// result of fn is returned unchanged whatever the wait says.
		werr := s.waitDurable(ctx, c.seen)
		if fnErr != nil {
			return fnErr
		}
		return werr
	}
	if err := c.batch.SyncWait(); err != nil {
		// The batch stays applied in the memtable but is not durable.
		s.fail(err, false)
		return s.failure()
	}
	s.markSynced(c.seq)
	if err := c.batch.Close(); err != nil {
		return translate("close batch", err)
	}
	return nil
}

// commit is a batch handed to pebble and not yet synced.
type commit struct {
	batch *pebble.Batch // nil when there was nothing to write
	seq   uint64        // number of batch
	seen  uint64        // batches applied before fn started
}

// commitLocked runs fn and applies its batch. The caller has acquired the
// writer lock; commitLocked releases it, also when fn panics.
func (s *Store) commitLocked(fn func(meta.Txn) error) (c commit, fnErr, err error) {
	defer func() { <-s.writer }()
	if err := s.failure(); err != nil {
		return c, nil, err
	}
	if err := s.checkSpace(); err != nil {
		return c, nil, err
	}
	c.seen = s.applied.Load()
	b := s.db.NewIndexedBatch()
	t := &txn{reader: reader{src: b}, batch: b}
	fnErr = func() error {
		defer t.end()
		return fn(t)
	}()
	if fnErr != nil || b.Empty() {
		return c, fnErr, translate("close batch", b.Close())
	}
	if err := s.walFault.Err(); err != nil {
		// A WAL write has failed; applying would reach pebble's panic.
		_ = b.Close()
		s.fail(err, false)
		return c, nil, s.failure()
	}
	c.seq = s.applied.Add(1)
	if err := apply(s.db, b); err != nil {
		// The batch may be referenced by pebble's commit queue: do not
		// close it. Pebble's state is unknown, so never Close the DB.
		s.fail(err, true)
		return c, nil, s.failure()
	}
	c.batch = b
	return c, nil, nil
}

var syncWrite = &pebble.WriteOptions{Sync: true}

// apply hands b to pebble without waiting for the WAL sync, turning pebble's
// panics into errors.
func apply(db *pebble.DB, b *pebble.Batch) (err error) {
	defer recoverFatal(&err)
	return db.ApplyNoSyncWait(b, syncWrite)
}

// Close implements meta.Store. It waits for View and Update calls in
// progress, then closes pebble. Calls made after Close has started return
// meta.ErrClosed, and so does a second Close.
func (s *Store) Close() error {
	s.life.Lock()
	if s.life.closed {
		s.life.Unlock()
		return meta.ErrClosed
	}
	s.life.closed = true
	for s.life.active > 0 {
		s.life.drained.Wait()
	}
	s.life.Unlock()

	s.durable.Lock()
	wedged, failed := s.durable.wedged, s.durable.err
	s.durable.Unlock()
	defer s.closeFS()
	if wedged {
		// Pebble's commit pipeline may be locked: its Close would block.
		// The process is expected to restart.
		s.log.Warn("meta store closed without closing pebble", "err", failed.Error())
		return failed
	}
	err := closeDB(s.db)
	if err != nil {
		err = translate("close", err)
	}
	if failed != nil {
		return failed
	}
	if err == nil {
		s.log.Info("meta store closed")
	}
	return err
}

func closeDB(db *pebble.DB) (err error) {
	defer recoverFatal(&err)
	return db.Close()
}

// translate maps a pebble error to the meta vocabulary.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pebble.ErrNotFound):
		return meta.ErrNotFound
	case errors.Is(err, pebble.ErrClosed):
		return meta.ErrClosed
	}
	return fmt.Errorf("pebblemeta: %s: %w", op, err)
}

// cloneBytes returns a copy of b that the caller owns; never nil, so that an
// empty value is distinguishable from a missing one.
func cloneBytes(b []byte) []byte { return append([]byte{}, b...) }

// boundsEmpty reports whether [start, end) holds no key.
func boundsEmpty(start, end []byte) bool {
	return end != nil && bytes.Compare(start, end) >= 0
}
