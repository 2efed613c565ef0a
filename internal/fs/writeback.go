package fs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Write-back of unstable writes (NFSv4 UNSTABLE4, RFC 8881 §18.32.3).
//
// WriteUnstable answers once the bytes are in a per-file buffer in memory;
// the buffer is stored (sealed, written to the blob store, its records
// committed: the same durable path as Write) by Commit, by a stable Write or
// a SetAttr or Read of the file, when the file holds its share of the cap
// (fileShare, in the background), when the buffers of the service hold more
// than half the cap (in the background) or more than the cap (by the
// writer, before it is answered), and in the background after
// WriteBackDelay. Until then:
//
//   - attributes returned by GetAttr, Lookup, ReadDir, Make and Link include
//     the buffered writes (size, mtime, ctime, change), whichever client
//     asks;
//   - Read and SetAttr store the file's buffer first, so that every reader
//     sees every acknowledged write and truncation orders after it;
//   - a crash loses buffered writes, never stored ones: nothing is in the
//     store until the durable path has written it, so the store stays
//     consistent (fsck) and NFS clients resend their uncommitted writes when
//     the write verifier changes after the restart.
//
// Buffers merge writes into whole blocks, so that a block written in pieces
// is sealed and stored once, a block written again before it is stored is
// stored once, and one flush of many blocks shares one metadata commit.

// DefaultWriteBackBytes bounds the bytes buffered by WriteUnstable unless
// the service is created with another bound (shelfd sizes it from memory).
const DefaultWriteBackBytes = 64 << 20

// DefaultWriteBackDelay is how long an unstable write stays in memory at most
// (unless the service is created with NoBackground).
const DefaultWriteBackDelay = time.Second

// minFileShare is the least buffered size of one file at which its buffer
// is stored in the background.
const minFileShare = 4 << 20

// fileShare returns the buffered size of one file at which its buffer is
// stored in the background: an eighth of the cap, so that a file rewritten
// in place (a database, an image) is stored about once per WriteBackDelay
// rather than once per rewrite, while a few files streaming at once still
// leave room to the others.
func (wb *writeBack) fileShare() int { return max(minFileShare, wb.maxBytes/8) }

// flushTimeout bounds one flush, whatever the deadline of the caller that
// started it.
const flushTimeout = 5 * time.Minute

// maxFlushAttempts bounds the retries of a flush whose blocks changed under
// it (a flush that gives up loses the writes and reports an error).
const maxFlushAttempts = 32

type fileKey struct{ vol, ino uint64 }

// dirtyBlock is the buffered part of one block: the bytes written, as
// sorted, disjoint, non-adjacent extents (a few KiB written at random into
// a block take a few KiB, not the block up to their end).
type dirtyBlock struct {
	exts []extent
}

// extent is written bytes at an offset of the block.
type extent struct {
	off  uint32
	data []byte
}

func (e *extent) end() uint32 { return e.off + uint32(len(e.data)) }

// add writes p at offset lo of the block and returns the bytes it
// allocated for that (less what it freed). With owned, p is the caller's
// to give: a write of the whole block keeps p itself (and counts its
// length) instead of a copy. Only whole blocks are kept, because a kept p
// keeps the caller's whole buffer alive, and a whole block's extent is
// replaced by no later write but a whole one: so what the buffers pin stays
// within a small multiple of what they count.
func (b *dirtyBlock) add(lo uint32, p []byte, blockSize int, owned bool) (grown int) {
	if owned && lo == 0 && len(p) == blockSize {
		for _, e := range b.exts {
			grown -= cap(e.data)
		}
		b.exts = append(b.exts[:0], extent{off: 0, data: p[:len(p):len(p)]})
		return grown + len(p)
	}
	hi := lo + uint32(len(p))
	// Extents [i, j) overlap or touch [lo, hi).
	i := 0
	for i < len(b.exts) && b.exts[i].end() < lo {
		i++
	}
	j := i
	for j < len(b.exts) && b.exts[j].off <= hi {
		j++
	}
	if i == j {
		e := extent{off: lo, data: append([]byte(nil), p...)}
		b.exts = slices.Insert(b.exts, i, e)
		return cap(e.data)
	}
	first, last := &b.exts[i], &b.exts[j-1]
	nlo, nhi := min(lo, first.off), max(hi, last.end())
	if j == i+1 && first.off == nlo {
		// Within or at the end of one extent (sequential writes): grow it
		// in place, doubling up to the rest of the block.
		if need := int(nhi - nlo); need > cap(first.data) {
			before := cap(first.data)
			nd := make([]byte, len(first.data), min(max(need, 2*before), blockSize-int(nlo)))
			copy(nd, first.data)
			first.data = nd
			grown = cap(nd) - before
		}
		first.data = first.data[:max(len(first.data), int(nhi-nlo))]
		copy(first.data[lo-nlo:], p)
		return grown
	}
	merged := make([]byte, nhi-nlo)
	for _, e := range b.exts[i:j] {
		copy(merged[e.off-nlo:], e.data)
		grown -= cap(e.data)
	}
	copy(merged[lo-nlo:], p)
	b.exts = slices.Replace(b.exts, i, j, extent{off: nlo, data: merged})
	return grown + cap(merged)
}

// whole reports whether the block is written from 0 to blockSize.
func (b *dirtyBlock) whole(blockSize int) bool {
	return len(b.exts) == 1 && b.exts[0].off == 0 && len(b.exts[0].data) == blockSize
}

// end returns the end of the furthest write into the block.
func (b *dirtyBlock) end() uint32 { return b.exts[len(b.exts)-1].end() }

// covers reports whether the block's writes replace all of the stored block
// old (nil: a hole), so that it need not be read.
func (b *dirtyBlock) covers(blockSize int, old []byte) bool {
	if old == nil || b.whole(blockSize) {
		return true
	}
	if len(b.exts) != 1 || b.exts[0].off != 0 {
		return false
	}
	rec, err := decodeBlock(old)
	return err == nil && rec.Length <= b.end()
}

// plain returns the block's new plaintext over prev, the stored block's
// (nil: a hole, whose unwritten bytes are zeros). It may return the buffer
// of the block's only extent.
func (b *dirtyBlock) plain(prev []byte) []byte {
	if len(b.exts) == 1 && b.exts[0].off == 0 && len(prev) <= len(b.exts[0].data) {
		return b.exts[0].data
	}
	out := make([]byte, max(len(prev), int(b.end())))
	copy(out, prev)
	for _, e := range b.exts {
		copy(out[e.off:], e.data)
	}
	return out
}

// dirtyFile is the write-back state of one file. Fields other than flushMu
// are guarded by writeBack.mu.
type dirtyFile struct {
	f   *FileSystem
	ino uint64
	// flushMu serializes the flushes of the file.
	flushMu sync.Mutex

	pending      map[uint64]*dirtyBlock
	pendingBytes int    // allocated bytes of pending
	pendingEnd   uint64 // end of the furthest pending write
	inflightEnd  uint64 // end of the furthest write being stored
	mtime        time.Time
	change       uint64    // change attribute the buffered writes stand for
	oldest       time.Time // time of the oldest pending write
	async        bool      // a background flush is queued or running
}

// writeBack is the service's set of buffers.
type writeBack struct {
	// attrMu makes stored attributes and the buffers' overlay consistent:
	// a reader holds it shared from before it reads an inode until it has
	// applied the overlay; a flush holds it exclusively while it forgets
	// what it has just stored.
	attrMu sync.RWMutex
	mu     struct {
		sync.Mutex
		files  map[fileKey]*dirtyFile
		bytes  int
		errs   map[fileKey]error // flush failures not yet reported
		closed bool
	}
	// active counts files with buffered or in-flight writes; zero means
	// the store holds every acknowledged write.
	active   atomic.Int64
	nerrs    atomic.Int64 // len(mu.errs)
	maxBytes int
}

// maxWriteBackErrors bounds the flush errors kept for Commit to report.
const maxWriteBackErrors = 4096

func (s *Service) initWriteBack() {
	s.wb.maxBytes = s.opts.WriteBackBytes
	if s.wb.maxBytes == 0 {
		s.wb.maxBytes = DefaultWriteBackBytes
	}
	if s.opts.WriteBackDelay == 0 {
		s.opts.WriteBackDelay = DefaultWriteBackDelay
	}
	s.wb.mu.files = map[fileKey]*dirtyFile{}
	s.wb.mu.errs = map[fileKey]error{}
}

// dirty returns the buffer of ino, or nil.
func (s *Service) dirty(vol, ino uint64) *dirtyFile {
	if s.wb.active.Load() == 0 {
		return nil
	}
	s.wb.mu.Lock()
	defer s.wb.mu.Unlock()
	return s.wb.mu.files[fileKey{vol, ino}]
}

// overlayBegin starts a read of attributes that overlayApply will complete;
// it returns whether there is anything to overlay. overlayEnd must follow.
func (s *Service) overlayBegin() bool {
	if s.wb.active.Load() == 0 {
		// Every write acknowledged before now is stored; later ones are
		// concurrent with the read.
		return false
	}
	s.wb.attrMu.RLock()
	return true
}

func (s *Service) overlayEnd(on bool) {
	if on {
		s.wb.attrMu.RUnlock()
	}
}

// overlayApply adds the buffered writes of a.Ino to a.
func (s *Service) overlayApply(vol uint64, a *Attr) {
	if a.Type != TypeRegular {
		return
	}
	s.wb.mu.Lock()
	defer s.wb.mu.Unlock()
	df := s.wb.mu.files[fileKey{vol, a.Ino}]
	if df == nil {
		return
	}
	a.Size = max(a.Size, df.pendingEnd, df.inflightEnd)
	a.Change = max(a.Change, df.change)
	if df.mtime.After(a.Mtime) {
		a.Mtime = df.mtime
	}
	if df.mtime.After(a.Ctime) {
		a.Ctime = df.mtime
	}
}

// withBuffered returns a, read in a transaction that could not apply the
// overlay, read again with it when writes may be buffered.
func (f *FileSystem) withBuffered(ctx context.Context, a Attr) Attr {
	if a.Type != TypeRegular || f.svc.wb.active.Load() == 0 {
		return a
	}
	if b, err := f.GetAttr(ctx, a.Ino); err == nil {
		return b
	}
	return a
}

// WriteUnstable writes p to ino at off like Write, but the data and the new
// size need not be durable when it returns: Commit makes them so. Every
// reader sees them at once. A service created with a negative
// WriteBackBytes writes through (as Write). WriteUnstable does not keep p.
func (f *FileSystem) WriteUnstable(ctx context.Context, c *Caller, ino, off uint64, p []byte) (Attr, error) {
	return f.writeUnstable(ctx, c, ino, off, p, false)
}

// WriteUnstableOwned is WriteUnstable for a caller that gives p away: the
// buffer may keep p's bytes where they are (the whole blocks it covers)
// instead of copying them, so the caller must neither use nor modify p
// afterwards (an NFS WRITE's data, which lives in its request's own
// record).
func (f *FileSystem) WriteUnstableOwned(ctx context.Context, c *Caller, ino, off uint64, p []byte) (Attr, error) {
	return f.writeUnstable(ctx, c, ino, off, p, true)
}

func (f *FileSystem) writeUnstable(ctx context.Context, c *Caller, ino, off uint64, p []byte, owned bool) (Attr, error) {
	const op = "write"
	s := f.svc
	if s.wb.maxBytes < 0 || len(p) == 0 {
		return f.Write(ctx, c, ino, off, p)
	}
	if off+uint64(len(p)) > MaxFileSize || off+uint64(len(p)) < off {
		return Attr{}, errorf(op, ino, FileTooBig, nil)
	}
	if err := f.spaceCheck(op, ino); err != nil {
		return Attr{}, err
	}
	// The stored attributes and the buffer are read as one state, as
	// GetAttr reads them: a flush that stores this file's buffer between
	// the two would otherwise make the answer miss its size and change.
	s.wb.attrMu.RLock()
	var a Attr
	err := f.view(ctx, op, ino, func(r *reader) error {
		n, err := r.dataInode(c, ino, MayWrite)
		if err != nil {
			return err
		}
		a = n.attr()
		return nil
	})
	if err != nil {
		s.wb.attrMu.RUnlock()
		return Attr{}, err
	}
	if c.UID != 0 && a.Mode&(ModeSetUID|ModeSetGID) != 0 {
		// The write must clear setuid/setgid in the same commit: write
		// through.
		s.wb.attrMu.RUnlock()
		return f.Write(ctx, c, ino, off, p)
	}
	bs := f.rec.BlockSize
	now := s.clock.Now().UTC()
	s.wb.mu.Lock()
	if s.wb.mu.closed {
		s.wb.mu.Unlock()
		s.wb.attrMu.RUnlock()
		return f.Write(ctx, c, ino, off, p)
	}
	k := fileKey{f.rec.Vol, ino}
	df := s.wb.mu.files[k]
	if df == nil {
		df = &dirtyFile{f: f, ino: ino, pending: map[uint64]*dirtyBlock{}}
		s.wb.mu.files[k] = df
		s.wb.active.Add(1)
	}
	if len(df.pending) == 0 {
		df.oldest = now
	}
	for _, br := range f.blocks(off, uint64(len(p))) {
		b := df.pending[br.index]
		if b == nil {
			b = &dirtyBlock{}
			df.pending[br.index] = b
		}
		src := p[br.index*uint64(bs)+br.lo-off : br.index*uint64(bs)+br.hi-off]
		grown := b.add(uint32(br.lo), src, bs, owned)
		df.pendingBytes += grown
		s.wb.mu.bytes += grown
	}
	df.pendingEnd = max(df.pendingEnd, off+uint64(len(p)))
	df.change = max(df.change, a.Change) + 1
	if now.After(df.mtime) {
		df.mtime = now
	}
	a.Size = max(a.Size, df.pendingEnd, df.inflightEnd)
	a.Change = df.change
	a.Mtime, a.Ctime = df.mtime, df.mtime
	over := s.wb.mu.bytes > s.wb.maxBytes
	background := !over && !df.async && (df.pendingBytes >= s.wb.fileShare() || s.wb.mu.bytes > s.wb.maxBytes/2)
	if background {
		df.async = true
		s.wg.Add(1)
	}
	s.wb.mu.Unlock()
	s.wb.attrMu.RUnlock()

	if background {
		go func() {
			defer s.wg.Done()
			_ = s.flush(context.Background(), df, true) // a failure is kept for Commit
		}()
	}
	if over {
		// Too much is buffered: the writer stores its own file before it
		// is answered, which bounds the buffers by the cap plus what the
		// writers in flight add.
		if err := s.flush(ctx, df, false); err != nil {
			return Attr{}, wrap(op, ino, err)
		}
	}
	return a, nil
}

// flushDirty stores the buffer of ino, if any. With report, it also returns
// (once) the error of an earlier flush that failed, whose writes are lost.
func (f *FileSystem) flushDirty(ctx context.Context, ino uint64, report bool) error {
	s := f.svc
	var err error
	if df := s.dirty(f.rec.Vol, ino); df != nil {
		err = s.flush(ctx, df, false)
	}
	if !report || s.wb.nerrs.Load() == 0 {
		return err
	}
	s.wb.mu.Lock()
	defer s.wb.mu.Unlock()
	k := fileKey{f.rec.Vol, ino}
	if earlier, ok := s.wb.mu.errs[k]; ok {
		delete(s.wb.mu.errs, k)
		s.wb.nerrs.Add(-1)
		if err == nil {
			err = earlier
		}
	}
	return err
}

// flush stores what df holds now. background says the call is df's
// background flush.
func (s *Service) flush(ctx context.Context, df *dirtyFile, background bool) error {
	df.flushMu.Lock()
	defer df.flushMu.Unlock()
	k := fileKey{df.f.rec.Vol, df.ino}
	s.wb.mu.Lock()
	if background {
		df.async = false
	}
	blocks, freed, end, mtime, change := df.pending, df.pendingBytes, df.pendingEnd, df.mtime, df.change
	df.pending, df.pendingBytes, df.pendingEnd = map[uint64]*dirtyBlock{}, 0, 0
	df.inflightEnd = max(df.inflightEnd, end)
	s.wb.mu.Unlock()

	var err error
	if len(blocks) > 0 {
		// The buffer holds other callers' writes too: the caller going
		// away must not lose them.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		err = df.f.storeDirty(sctx, df.ino, blocks, end, mtime, change)
		cancel()
	}

	s.wb.attrMu.Lock()
	s.wb.mu.Lock()
	df.inflightEnd = 0
	s.wb.mu.bytes -= freed
	if _, had := s.wb.mu.errs[k]; err != nil && !IsCode(err, Stale) && !had && len(s.wb.mu.errs) < maxWriteBackErrors {
		s.wb.mu.errs[k] = err
		s.wb.nerrs.Add(1)
	}
	if len(df.pending) == 0 && !df.async && s.wb.mu.files[k] == df {
		delete(s.wb.mu.files, k)
		s.wb.active.Add(-1)
	}
	s.wb.mu.Unlock()
	s.wb.attrMu.Unlock()
	if IsCode(err, Stale) {
		return nil // the file is gone, and its writes with it
	}
	return err
}

// flushOld stores the buffers older than the write-back delay, or all of
// them.
func (s *Service) flushOld(ctx context.Context, all bool) {
	now := s.clock.Now()
	var old []*dirtyFile
	s.wb.mu.Lock()
	for _, df := range s.wb.mu.files {
		if len(df.pending) > 0 && (all || now.Sub(df.oldest) >= s.opts.WriteBackDelay) {
			old = append(old, df)
		}
	}
	s.wb.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, df := range old {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.flush(ctx, df, false); err != nil {
				s.log.Warn("store buffered writes", "ino", df.ino, "err", err)
			}
		}()
	}
	wg.Wait()
}

// flusher stores buffers older than the write-back delay.
func (s *Service) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(max(s.opts.WriteBackDelay/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		s.flushOld(ctx, false)
		cancel()
	}
}

// closeWriteBack stores every buffer and makes later unstable writes write
// through.
func (s *Service) closeWriteBack() {
	s.wb.mu.Lock()
	s.wb.mu.closed = true
	s.wb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s.flushOld(ctx, true)
}

// storeDirty stores buffered blocks of ino through the durable path: sealed
// objects first, then one metadata commit that points at them and sets the
// size to at least end, the times to at least mtime and the change
// attribute to at least change.
func (f *FileSystem) storeDirty(ctx context.Context, ino uint64, blocks map[uint64]*dirtyBlock, end uint64, mtime time.Time, change uint64) error {
	idx := make([]uint64, 0, len(blocks))
	for i := range blocks {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for attempt := 0; ; attempt++ {
		err := f.storeDirtyOnce(ctx, ino, idx, blocks, end, mtime, change)
		if (errors.Is(err, errRetry) || errors.Is(err, blob.ErrNotFound)) && attempt < maxFlushAttempts {
			continue
		}
		return wrap("write", ino, err)
	}
}

func (f *FileSystem) storeDirtyOnce(ctx context.Context, ino uint64, idx []uint64, blocks map[uint64]*dirtyBlock, end uint64, mtime time.Time, change uint64) error {
	var key *kms.DataKey
	recs := map[uint64][]byte{}
	err := f.view(ctx, "write", ino, func(r *reader) error {
		key = r.key
		n, err := r.inode(ino)
		if err != nil {
			return err
		}
		if n.Type != TypeRegular {
			return errorf("", ino, Invalid, errors.New("not a regular file"))
		}
		clear(recs)
		if first, last := idx[0], idx[len(idx)-1]; last-first < uint64(2*len(idx)) {
			recs, err = readBlockRecords(r.Reader, f.rec.Vol, ino, first, last)
			return err
		}
		for _, i := range idx {
			v, err := r.Get(meta.BlockKey(f.rec.Vol, ino, i))
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			recs[i] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	bs := f.rec.BlockSize
	stored := make([]newBlock, len(idx))
	ranges := make([]blockRange, len(idx))
	for i, index := range idx {
		ranges[i] = blockRange{index: index}
	}
	err = f.parallel(ranges, func(i int, br blockRange) error {
		b := blocks[br.index]
		old := recs[br.index]
		if !b.whole(bs) {
			writes := make([]data.Write, len(b.exts))
			for j, e := range b.exts {
				writes[j] = data.Write{Off: e.off, Data: e.data}
			}
			nb, ok, err := f.patchBlock(key, ino, br.index, old, writes)
			if ok || err != nil {
				stored[i] = nb
				return err
			}
		}
		var prev []byte
		if !b.covers(bs, old) {
			var err error
			if prev, err = f.loadBlock(ctx, key, ino, br.index, old); err != nil {
				return err
			}
		}
		plain := b.plain(prev)
		// A merge with the stored block (a new buffer) is kept in the
		// cache; new data alone, such as a stream of whole blocks, is
		// not.
		save := f.svc.data.SaveWhole
		if prev != nil {
			save = f.svc.data.SaveOwned
		}
		rec, err := save(ctx, key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: br.index}, plain)
		stored[i] = newBlock{index: br.index, old: old, rec: rec}
		return err
	})
	if err == nil {
		err = f.update(ctx, "write", ino, func(t *txn) error {
			n, err := t.inode(ino)
			if err != nil {
				return err
			}
			grown, err := t.putBlocks(ino, stored)
			if err != nil {
				return err
			}
			n.Size = max(n.Size, end)
			n.SpaceUsed = uint64(int64(n.SpaceUsed) + grown)
			if mtime.After(n.Mtime) {
				n.Mtime = mtime
			}
			if mtime.After(n.Ctime) {
				n.Ctime = mtime
			}
			n.Change = max(n.Change+1, change)
			if err := t.putInode(n); err != nil {
				return err
			}
			return t.addUsage(grown, 0)
		})
	}
	return f.settleBlocks(ctx, stored, err)
}
