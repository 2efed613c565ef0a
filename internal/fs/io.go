package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

func decodeBlock(v []byte) (data.Record, error) { return data.DecodeRecord(v) }

func randomUint64() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("fs: crypto/rand failed: %v", err)) // never happens on Linux
	}
	return binary.BigEndian.Uint64(b[:])
}

// errRetry makes a data operation start over: a block changed between the
// snapshot it read and its commit.
var errRetry = errors.New("fs: block changed concurrently")

const maxDataAttempts = 8

// mayData checks read or write permission for READ and WRITE. As in knfsd,
// the owner may always read and write a file it has opened (permission was
// checked at open), and read is allowed where execute is.
func mayData(c *Caller, n *inode, want uint32) error {
	if n.Type == TypeDirectory {
		return errorf("", n.Ino, IsDir, nil)
	}
	if n.Type != TypeRegular {
		return errorf("", n.Ino, Invalid, errors.New("not a regular file"))
	}
	if c.UID == n.UID {
		return nil
	}
	if want == MayRead && c.allowed(n, MayRead|MayExec) != 0 {
		return nil
	}
	return c.check("", n, want)
}

// blockRange is the part [lo, hi) of block index that an I/O covers.
type blockRange struct {
	index  uint64
	lo, hi uint64
}

func (f *FileSystem) blocks(off, length uint64) []blockRange {
	bs := uint64(f.rec.BlockSize)
	var out []blockRange
	for pos, end := off, off+length; pos < end; {
		idx := pos / bs
		lo := pos - idx*bs
		hi := min(bs, end-idx*bs)
		out = append(out, blockRange{index: idx, lo: lo, hi: hi})
		pos = idx*bs + hi
	}
	return out
}

// readBlockRecords returns the stored records (nil for holes) of the blocks
// first..last of ino.
func readBlockRecords(r meta.Reader, vol, ino, first, last uint64) (map[uint64][]byte, error) {
	recs := map[uint64][]byte{}
	err := r.Scan(meta.BlockKey(vol, ino, first), meta.BlockKey(vol, ino, last+1), func(k, v []byte) (bool, error) {
		recs[binary.BigEndian.Uint64(k[len(k)-8:])] = append([]byte(nil), v...)
		return true, nil
	})
	return recs, err
}

// Read returns up to count bytes of ino at off, and whether the end of the
// file was reached. Holes read as zeros.
func (f *FileSystem) Read(ctx context.Context, c *Caller, ino, off uint64, count int) ([]byte, bool, error) {
	parts, n, eof, err := f.ReadParts(ctx, c, ino, off, count)
	if err != nil {
		return nil, false, err
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, eof, nil
}

// ReadParts reads like Read but returns the bytes as parts to be taken in
// order, n bytes in all, without copying them: the parts are the cached
// plaintext of the blocks and shared zeros for holes. Nobody may modify
// them.
func (f *FileSystem) ReadParts(ctx context.Context, c *Caller, ino, off uint64, count int) (parts [][]byte, n int, eof bool, err error) {
	// Buffered writes are stored first: the reader may be another client.
	if err := f.flushDirty(ctx, ino, false); err != nil {
		return nil, 0, false, wrap("read", ino, err)
	}
	for attempt := 0; ; attempt++ {
		parts, n, eof, err = f.read(ctx, c, ino, off, count)
		if errors.Is(err, blob.ErrNotFound) && attempt < maxDataAttempts {
			continue // the block was replaced after we read its record
		}
		return parts, n, eof, wrap("read", ino, err)
	}
}

// zeros is the source of the parts ReadParts returns for holes.
var zeros [64 << 10]byte

// appendZeros appends n zero bytes to parts as slices of zeros.
func appendZeros(parts [][]byte, n uint64) [][]byte {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		parts = append(parts, zeros[:k:k])
		n -= k
	}
	return parts
}

func (f *FileSystem) read(ctx context.Context, c *Caller, ino, off uint64, count int) ([][]byte, int, bool, error) {
	var size uint64
	var recs map[uint64][]byte
	var key *kms.DataKey
	err := f.view(ctx, "read", ino, func(r *reader) error {
		key = r.key
		n, err := r.dataInode(c, ino, MayRead)
		if err != nil {
			return err
		}
		size = n.Size
		if off >= size || count <= 0 {
			return nil
		}
		length := min(uint64(count), size-off)
		bs := uint64(f.rec.BlockSize)
		recs, err = readBlockRecords(r.Reader, f.rec.Vol, ino, off/bs, (off+length-1)/bs)
		return err
	})
	if err != nil || off >= size || count <= 0 {
		return nil, 0, off >= size, err
	}
	length := min(uint64(count), size-off)
	ranges := f.blocks(off, length)
	plains := make([][]byte, len(ranges))
	err = f.parallel(ranges, func(i int, br blockRange) error {
		stored, ok := recs[br.index]
		if !ok {
			return nil // hole
		}
		plain, err := f.loadBlock(ctx, key, ino, br.index, stored)
		plains[i] = plain
		return err
	})
	if err != nil {
		return nil, 0, false, err
	}
	parts := make([][]byte, 0, len(ranges))
	for i, br := range ranges {
		// The stored plaintext ends where the block's last write did;
		// the rest of the range, like a hole, reads as zeros.
		plain := plains[i]
		if br.lo < uint64(len(plain)) {
			hi := min(br.hi, uint64(len(plain)))
			parts = append(parts, plain[br.lo:hi:hi])
			br.lo = hi
		}
		parts = appendZeros(parts, br.hi-br.lo)
	}
	return parts, int(length), off+length >= size, nil
}

func (f *FileSystem) loadBlock(ctx context.Context, key *kms.DataKey, ino, index uint64, stored []byte) ([]byte, error) {
	rec, err := decodeBlock(stored)
	if err != nil {
		return nil, err
	}
	return f.svc.data.Load(ctx, key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: index}, &rec)
}

// loadPatches is the data.PatchSource of the service: it reads the patches
// of block a kept apart from its record, in one scan of the block's patch
// keys. Patch keys are never rewritten (a patch's ID is new with it) and are
// deleted with the record that lists them, so a patch that is not there
// means the block was replaced after its record was read: the error wraps
// blob.ErrNotFound, which makes readers start over.
func (s *Service) loadPatches(ctx context.Context, a data.Addr, ids []uint64) ([][]byte, error) {
	out := make([][]byte, len(ids))
	err := s.meta.View(ctx, func(r meta.Reader) error {
		clear(out)
		return meta.ScanPrefix(r, meta.PatchPrefix(a.Vol, a.Ino, a.Index), func(k, v []byte) (bool, error) {
			id := binary.BigEndian.Uint64(k[len(k)-8:])
			for i, want := range ids {
				if want == id {
					out[i] = append([]byte(nil), v...)
				}
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	for i, p := range out {
		if p == nil {
			return nil, fmt.Errorf("fs: patch %016x of block %d of inode %d: %w", ids[i], a.Index, a.Ino, blob.ErrNotFound)
		}
	}
	return out, nil
}

// storePatches makes the patch keys of block index follow the block's
// record changing from old to next (either nil: no record): it stores the
// bytes of next's patches that old did not keep apart, and deletes old's
// patch keys that next does not list.
func (t *txn) storePatches(ino, index uint64, old, next *data.Record) error {
	vol := t.f.rec.Vol
	kept := func(r *data.Record, id uint64) bool {
		if r == nil || !r.Apart {
			return false
		}
		for _, p := range r.Patches {
			if p.ID == id {
				return true
			}
		}
		return false
	}
	if next != nil {
		for _, p := range next.Patches {
			if kept(old, p.ID) {
				continue
			}
			if !next.Apart || len(p.Stored) != int(p.Len) {
				return fmt.Errorf("fs: block %d of inode %d: new patch %016x without its bytes", index, ino, p.ID)
			}
			if err := t.Set(meta.PatchKey(vol, ino, index, p.ID), p.Stored); err != nil {
				return err
			}
		}
	}
	if old != nil && old.Apart {
		for _, p := range old.Patches {
			if !kept(next, p.ID) {
				if err := t.Delete(meta.PatchKey(vol, ino, index, p.ID)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (f *FileSystem) verifyBlock(ctx context.Context, key *kms.DataKey, ino, index uint64, stored []byte) error {
	rec, err := decodeBlock(stored)
	if err != nil {
		return err
	}
	return f.svc.data.Verify(ctx, key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: index}, &rec)
}

// parallel runs fn over ranges with bounded concurrency, so that the block
// objects of one large I/O share device syncs.
func (f *FileSystem) parallel(ranges []blockRange, fn func(int, blockRange) error) error {
	if len(ranges) == 1 {
		return fn(0, ranges[0])
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ranges))
	sem := make(chan struct{}, 8)
	for i, br := range ranges {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i, br)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Write writes p to ino at off. When Write returns, the data and the new
// size are durable, and so are the file's earlier unstable writes
// (WriteUnstable), which are stored first so that this write lands after
// them.
func (f *FileSystem) Write(ctx context.Context, c *Caller, ino, off uint64, p []byte) (Attr, error) {
	const op = "write"
	if off+uint64(len(p)) > MaxFileSize || off+uint64(len(p)) < off {
		return Attr{}, errorf(op, ino, FileTooBig, nil)
	}
	if err := f.flushDirty(ctx, ino, true); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	if len(p) > 0 {
		if err := f.spaceCheck(op, ino); err != nil {
			return Attr{}, err
		}
	}
	if len(p) > 0 {
		bs := uint64(f.rec.BlockSize)
		unlock := f.svc.lockBlocks(f.rec.Vol, ino, off/bs, (off+uint64(len(p))-1)/bs)
		defer unlock()
	}
	for attempt := 0; ; attempt++ {
		a, err := f.write(ctx, c, ino, off, p)
		if (errors.Is(err, errRetry) || errors.Is(err, blob.ErrNotFound)) && attempt < maxDataAttempts {
			continue
		}
		return a, wrap(op, ino, err)
	}
}

// newBlock is a block about to replace old (nil: a hole).
type newBlock struct {
	index uint64
	old   []byte
	rec   data.Record
	// patched says rec is old with patches added: it shares old's object.
	patched bool
}

// patchBudget bounds the stored bytes of one block's patches: half a
// block. Below it a small write into a stored block is a patch; past it the
// block is rewritten whole. A patch is stored once, under its own key, and
// the record only lists the patches, so a larger budget means fewer block
// rewrites for little more metadata; what it costs is reading: a block read
// from storage applies all its patches.
func (f *FileSystem) patchBudget() int { return f.rec.BlockSize / 2 }

// maxPatchWrite is the most a block's writes may bring at once to be a
// patch: larger writes rewrite the block, which also keeps patches (stored
// in the metadata store, and rewritten by its compactions) small.
const maxPatchWrite = 16 << 10

// patchBlock stores writes into block index as patches over its stored
// object old (data.AddPatches), when they are small enough. It reports false
// when the block must be rewritten whole instead.
func (f *FileSystem) patchBlock(key *kms.DataKey, ino, index uint64, old []byte, writes []data.Write) (newBlock, bool, error) {
	if old == nil {
		return newBlock{}, false, nil
	}
	budget, n := f.patchBudget(), 0
	for _, w := range writes {
		n += len(w.Data)
	}
	if n > min(budget/2, maxPatchWrite) {
		return newBlock{}, false, nil
	}
	rec, err := decodeBlock(old)
	if err != nil {
		return newBlock{}, false, err
	}
	nr, ok, err := f.svc.data.AddPatches(key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: index}, &rec, writes, budget)
	if !ok || err != nil {
		return newBlock{}, false, err
	}
	return newBlock{index: index, old: old, rec: nr, patched: true}, true, nil
}

func (f *FileSystem) write(ctx context.Context, c *Caller, ino, off uint64, p []byte) (Attr, error) {
	var recs map[uint64][]byte
	var key *kms.DataKey
	var a Attr
	ranges := f.blocks(off, uint64(len(p)))
	err := f.view(ctx, "write", ino, func(r *reader) error {
		key = r.key
		n, err := r.dataInode(c, ino, MayWrite)
		if err != nil {
			return err
		}
		a = n.attr()
		if len(ranges) == 0 {
			return nil
		}
		recs, err = readBlockRecords(r.Reader, f.rec.Vol, ino, ranges[0].index, ranges[len(ranges)-1].index)
		return err
	})
	if err != nil || len(p) == 0 {
		return a, err
	}
	bs := uint64(f.rec.BlockSize)
	blocks := make([]newBlock, len(ranges))
	err = f.parallel(ranges, func(i int, br blockRange) error {
		src := p[br.index*bs+br.lo-off : br.index*bs+br.hi-off]
		old := recs[br.index]
		// A merge with the stored block (a new buffer) is kept in the
		// cache; new data alone is not (data.SaveWhole).
		plain, save := src, f.svc.data.SaveWhole
		if br.lo != 0 || br.hi != bs {
			nb, ok, err := f.patchBlock(key, ino, br.index, old, []data.Write{{Off: uint32(br.lo), Data: src}})
			if ok || err != nil {
				blocks[i] = nb
				return err
			}
			var prev []byte
			if old != nil {
				var err error
				if prev, err = f.loadBlock(ctx, key, ino, br.index, old); err != nil {
					return err
				}
				save = f.svc.data.SaveOwned
			}
			plain = make([]byte, max(uint64(len(prev)), br.hi))
			copy(plain, prev)
			copy(plain[br.lo:], src)
		}
		rec, err := save(ctx, key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: br.index}, plain)
		blocks[i] = newBlock{index: br.index, old: old, rec: rec}
		return err
	})
	if err == nil {
		err = f.update(ctx, "write", ino, func(t *txn) error {
			n, err := t.inode(ino)
			if err != nil {
				return err
			}
			grown, err := t.putBlocks(ino, blocks)
			if err != nil {
				return err
			}
			n.Size = max(n.Size, off+uint64(len(p)))
			n.SpaceUsed = uint64(int64(n.SpaceUsed) + grown)
			clearSetID(c, n)
			t.touch(n, true)
			a = n.attr()
			if err := t.putInode(n); err != nil {
				return err
			}
			return t.addUsage(grown, 0)
		})
	}
	if err := f.settleBlocks(ctx, blocks, err); err != nil {
		return Attr{}, err
	}
	return a, nil
}

// settleBlocks finishes storing new block versions after the metadata
// transaction that was to point at them: if it failed (err), the new
// objects were never referenced and are dropped now; if it committed, the
// collector is woken for the versions they replaced. It returns err.
func (f *FileSystem) settleBlocks(ctx context.Context, blocks []newBlock, err error) error {
	if err != nil {
		for _, b := range blocks {
			if b.rec.BlobKey != "" && !b.patched {
				_ = f.svc.data.Delete(context.WithoutCancel(ctx), b.rec.BlobKey)
			}
		}
		return err
	}
	if hasGarbage(blocks) {
		f.svc.kickCollector()
	}
	return nil
}

// putBlocks points the records of blocks at their new versions, after
// checking that each still holds the version it replaced (errRetry if not),
// records the replaced objects as garbage, and returns the change in stored
// bytes.
func (t *txn) putBlocks(ino uint64, blocks []newBlock) (int64, error) {
	var grown int64
	for _, b := range blocks {
		k := meta.BlockKey(t.f.rec.Vol, ino, b.index)
		cur, err := t.Get(k)
		if errors.Is(err, meta.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(cur, b.old) {
			return 0, errRetry
		}
		if err := t.Set(k, b.rec.Encode()); err != nil {
			return 0, err
		}
		grown += int64(b.rec.Length)
		var old *data.Record
		if b.old != nil {
			rec, err := decodeBlock(b.old)
			if err != nil {
				return 0, err
			}
			old = &rec
		}
		if err := t.storePatches(ino, b.index, old, &b.rec); err != nil {
			return 0, err
		}
		if old != nil {
			grown -= int64(old.Length)
			if old.BlobKey != "" && !b.patched {
				if err := t.addGarbage(old.BlobKey); err != nil {
					return 0, err
				}
			}
		}
	}
	return grown, nil
}

func hasGarbage(blocks []newBlock) bool {
	for _, b := range blocks {
		if b.old != nil && !b.patched {
			return true
		}
	}
	return false
}

// clearSetID drops setuid (and setgid where it means "set group on exec")
// when a non-root caller writes, as Linux does.
func clearSetID(c *Caller, n *inode) {
	if c.UID == 0 || n.Mode&(ModeSetUID|ModeSetGID) == 0 {
		return
	}
	n.Mode &^= ModeSetUID
	if n.Mode&0o010 != 0 {
		n.Mode &^= ModeSetGID
	}
}

// Commit makes the earlier writes to ino durable: it stores the unstable
// writes still buffered. It fails if storing them, or an earlier background
// store of them, failed (those writes are lost), or if the file is gone.
func (f *FileSystem) Commit(ctx context.Context, ino uint64) error {
	if err := f.flushDirty(ctx, ino, true); err != nil {
		return wrap("commit", ino, err)
	}
	_, err := f.GetAttr(ctx, ino)
	return err
}

// SetTime sets a time attribute to a given time or to the server's now.
type SetTime struct {
	Now  bool
	Time time.Time
}

// SetAttrs lists the attributes to change; nil fields stay.
type SetAttrs struct {
	Mode  *uint32
	UID   *uint32
	GID   *uint32
	Size  *uint64
	Atime *SetTime
	Mtime *SetTime
}

// SetAttr changes attributes with POSIX rules: only the owner or root may
// chmod or set times explicitly; only root may chown; the owner may chgrp to
// one of its groups; changing size needs write permission.
func (f *FileSystem) SetAttr(ctx context.Context, c *Caller, ino uint64, s SetAttrs) (Attr, error) {
	const op = "setattr"
	// Buffered writes are stored first, so that a truncation (and any
	// attribute the caller reads back) comes after them.
	if err := f.flushDirty(ctx, ino, false); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	if s.Size != nil {
		if *s.Size > MaxFileSize {
			return Attr{}, errorf(op, ino, FileTooBig, nil)
		}
		// The block cut in the middle is read, rewritten and re-checked.
		bs := uint64(f.rec.BlockSize)
		unlock := f.svc.lockBlocks(f.rec.Vol, ino, *s.Size/bs, *s.Size/bs)
		defer unlock()
	}
	for attempt := 0; ; attempt++ {
		a, err := f.setAttr(ctx, c, ino, s)
		if (errors.Is(err, errRetry) || errors.Is(err, blob.ErrNotFound)) && attempt < maxDataAttempts {
			continue
		}
		return a, wrap(op, ino, err)
	}
}

// truncateBatch bounds the blocks one truncating transaction frees; larger
// truncations shrink the file in steps, each a consistent state.
const truncateBatch = 4096

func (f *FileSystem) setAttr(ctx context.Context, c *Caller, ino uint64, s SetAttrs) (Attr, error) {
	bs := uint64(f.rec.BlockSize)
	// A size that cuts a block in the middle rewrites that block first.
	var tail *newBlock
	var a Attr
	if s.Size != nil {
		var size uint64
		var old []byte
		var key *kms.DataKey
		err := f.view(ctx, "setattr", ino, func(r *reader) error {
			key = r.key
			n, err := r.inode(ino)
			if err != nil {
				return err
			}
			if n.Type == TypeDirectory {
				return errorf("", ino, IsDir, nil)
			}
			if n.Type != TypeRegular {
				return errorf("", ino, Invalid, nil)
			}
			size = n.Size
			if *s.Size < size && *s.Size%bs != 0 {
				old, err = r.Get(meta.BlockKey(f.rec.Vol, ino, *s.Size/bs))
				if errors.Is(err, meta.ErrNotFound) {
					old, err = nil, nil
				}
			}
			return err
		})
		if err != nil {
			return Attr{}, err
		}
		if old != nil {
			rec, err := decodeBlock(old)
			if err != nil {
				return Attr{}, err
			}
			if keep := *s.Size % bs; uint64(rec.Length) > keep {
				plain, err := f.loadBlock(ctx, key, ino, *s.Size/bs, old)
				if err != nil {
					return Attr{}, err
				}
				nr, err := f.svc.data.Save(ctx, key, data.Addr{Vol: f.rec.Vol, Ino: ino, Index: *s.Size / bs}, plain[:keep])
				if err != nil {
					return Attr{}, err
				}
				tail = &newBlock{index: *s.Size / bs, old: old, rec: nr}
			}
		}
		// Free the stored blocks past the new end in steps of at most
		// truncateBatch, from the end, so that every step leaves a file
		// cut at a block boundary. Only stored blocks count: shrinking a
		// huge sparse file costs what it stores, not its size.
		if size > *s.Size {
			steps, err := f.truncateSteps(ctx, ino, (*s.Size+bs-1)/bs)
			if err != nil {
				return Attr{}, err
			}
			for i := len(steps) - 1; i >= 1; i-- {
				cut := steps[i]
				if err := f.update(ctx, "setattr", ino, func(t *txn) error {
					n, err := t.inode(ino)
					if err != nil {
						return err
					}
					if _, err := t.freeBlocks(n, cut, truncateBatch); err != nil {
						return err
					}
					n.Size = min(n.Size, cut*bs)
					t.touch(n, true)
					return t.putInode(n)
				}); err != nil {
					return Attr{}, err
				}
			}
		}
	}
	err := f.update(ctx, "setattr", ino, func(t *txn) error {
		n, err := t.inode(ino)
		if err != nil {
			return err
		}
		if err := applySetAttrs(c, t, n, s); err != nil {
			return err
		}
		if s.Size != nil && *s.Size != n.Size {
			if *s.Size < n.Size {
				done, err := t.freeBlocks(n, (*s.Size+bs-1)/bs, truncateBatch)
				if err != nil {
					return err
				}
				if !done {
					return errRetry // the file grew meanwhile: shrink it in steps again
				}
				if tail != nil {
					k := meta.BlockKey(f.rec.Vol, ino, tail.index)
					cur, err := t.Get(k)
					if err != nil && !errors.Is(err, meta.ErrNotFound) {
						return err
					}
					if !bytes.Equal(cur, tail.old) {
						return errRetry
					}
					if err := t.Set(k, tail.rec.Encode()); err != nil {
						return err
					}
					old, err := decodeBlock(tail.old)
					if err != nil {
						return err
					}
					if err := t.storePatches(ino, tail.index, &old, &tail.rec); err != nil {
						return err
					}
					if old.BlobKey != "" {
						if err := t.addGarbage(old.BlobKey); err != nil {
							return err
						}
					}
					shrink := int64(old.Length) - int64(tail.rec.Length)
					n.SpaceUsed -= min(uint64(shrink), n.SpaceUsed)
					if err := t.addUsage(-shrink, 0); err != nil {
						return err
					}
				}
			}
			n.Size = *s.Size
			clearSetID(c, n)
			mtime := n.Mtime
			t.touch(n, true)
			if s.Mtime != nil {
				n.Mtime = mtime // an explicit time given with the size wins
			}
		}
		a = n.attr()
		return t.putInode(n)
	})
	if err != nil && tail != nil && tail.rec.BlobKey != "" {
		_ = f.svc.data.Delete(context.WithoutCancel(ctx), tail.rec.BlobKey)
	}
	if err == nil && s.Size != nil {
		f.svc.kickCollector()
	}
	return a, err
}

// truncateSteps returns the index of the first, the (truncateBatch+1)th, the
// (2·truncateBatch+1)th, … stored block of ino at or after block from: the
// cut points of a truncation in steps that each free at most truncateBatch
// blocks.
func (f *FileSystem) truncateSteps(ctx context.Context, ino, from uint64) ([]uint64, error) {
	var steps []uint64
	err := f.view(ctx, "setattr", ino, func(r *reader) error {
		steps = steps[:0]
		n := 0
		vol := f.rec.Vol
		return r.Scan(meta.BlockKey(vol, ino, from), meta.PrefixEnd(meta.BlockPrefix(vol, ino)), func(k, _ []byte) (bool, error) {
			if n%truncateBatch == 0 {
				steps = append(steps, binary.BigEndian.Uint64(k[len(k)-8:]))
			}
			n++
			return true, nil
		})
	})
	return steps, err
}

// applySetAttrs applies the non-size attributes with their permission rules.
func applySetAttrs(c *Caller, t *txn, n *inode, s SetAttrs) error {
	owner := c.UID == 0 || c.UID == n.UID
	changed := false
	if s.Size != nil && c.UID != n.UID {
		if err := c.check("", n, MayWrite); err != nil {
			return err
		}
	}
	if s.UID != nil || s.GID != nil {
		before := [2]uint32{n.UID, n.GID}
		if err := applyOwner(c, n, s.UID, s.GID); err != nil {
			return err
		}
		if [2]uint32{n.UID, n.GID} != before && n.Type != TypeDirectory {
			// Linux clears setuid, and setgid-with-group-exec, on chown.
			n.Mode &^= ModeSetUID
			if n.Mode&0o010 != 0 {
				n.Mode &^= ModeSetGID
			}
		}
		changed = true
	}
	if s.Mode != nil {
		if !owner {
			return errorf("", n.Ino, Perm, errors.New("only the owner may change the mode"))
		}
		mode := *s.Mode & modeAllBits
		if c.UID != 0 && n.Type != TypeDirectory && !c.inGroup(n.GID) {
			mode &^= ModeSetGID
		}
		n.Mode = mode
		changed = true
	}
	for _, st := range []struct {
		set *SetTime
		dst *time.Time
	}{{s.Atime, &n.Atime}, {s.Mtime, &n.Mtime}} {
		if st.set == nil {
			continue
		}
		if st.set.Now {
			if !owner {
				if err := c.check("", n, MayWrite); err != nil {
					return err
				}
			}
			*st.dst = t.now
		} else {
			if !owner {
				return errorf("", n.Ino, Perm, errors.New("only the owner may set times"))
			}
			*st.dst = st.set.Time.UTC()
		}
		changed = true
	}
	if changed {
		n.Ctime = t.now
		n.Change++
	}
	return nil
}
