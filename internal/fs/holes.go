package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"math"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Holes and preallocation: what lseek(SEEK_DATA/SEEK_HOLE) and fallocate
// ask of a file (NFSv4.2 SEEK, ALLOCATE and DEALLOCATE). A file's data is
// its stored blocks; a block never written, or freed, is a hole.

// Seek returns the first offset at or after off where data (data true) or a
// hole (data false) starts, as lseek(2) with SEEK_DATA or SEEK_HOLE: the end
// of the file counts as a hole. It fails with NoSuchOffset when off is at or
// past the end, or when data is asked for and only holes follow off. A hole
// is reported at block granularity: zeros stored in a block read as data.
// eof says the offset returned is the end of the file.
func (f *FileSystem) Seek(ctx context.Context, c *Caller, ino, off uint64, data bool) (pos uint64, eof bool, err error) {
	const op = "seek"
	if err := f.flushDirty(ctx, ino, false); err != nil {
		return 0, false, wrap(op, ino, err)
	}
	bs := uint64(f.rec.BlockSize)
	err = f.view(ctx, op, ino, func(r *reader) error {
		n, err := r.dataInode(c, ino, MayRead)
		if err != nil {
			return err
		}
		if off >= n.Size {
			return errorf("", ino, NoSuchOffset, nil)
		}
		vol := f.rec.Vol
		// Walk the stored blocks from off's block: the first one is where
		// data starts, the first gap between them where a hole does.
		next := off / bs // the block a hole would start at
		found := false
		err = r.Scan(meta.BlockKey(vol, ino, off/bs), meta.PrefixEnd(meta.BlockPrefix(vol, ino)), func(k, _ []byte) (bool, error) {
			index := binary.BigEndian.Uint64(k[len(k)-8:])
			if data {
				pos, found = max(off, index*bs), true
				return false, nil
			}
			if index != next {
				return false, nil // a gap: next is a hole
			}
			next++
			return true, nil
		})
		if err != nil {
			return err
		}
		switch {
		case data && (!found || pos >= n.Size):
			return errorf("", ino, NoSuchOffset, nil)
		case !data:
			pos = min(max(off, next*bs), n.Size)
		}
		eof = pos == n.Size
		return nil
	})
	return pos, eof, err
}

// Allocate makes [off, off+length) part of the file: the size grows to
// off+length if it is smaller, as posix_fallocate(3) does. Space is taken as
// data is written, so nothing is reserved; the range reads as zeros until
// it is written.
func (f *FileSystem) Allocate(ctx context.Context, c *Caller, ino, off, length uint64) (Attr, error) {
	const op = "allocate"
	end := off + length
	if end > MaxFileSize || end < off {
		return Attr{}, errorf(op, ino, FileTooBig, nil)
	}
	if err := f.flushDirty(ctx, ino, false); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	var a Attr
	err := f.update(ctx, op, ino, func(t *txn) error {
		n, err := t.inode(ino)
		if err != nil {
			return err
		}
		if err := mayData(c, n, MayWrite); err != nil {
			return err
		}
		if end > n.Size {
			n.Size = end
			clearSetID(c, n)
			t.touch(n, true)
			if err := t.putInode(n); err != nil {
				return err
			}
		}
		a = n.attr()
		return nil
	})
	return a, err
}

// Deallocate punches a hole, as fallocate(2) with FALLOC_FL_PUNCH_HOLE: the
// bytes of [off, off+length) inside the file read as zeros afterwards, the
// blocks wholly inside the range are freed, and the size does not change.
func (f *FileSystem) Deallocate(ctx context.Context, c *Caller, ino, off, length uint64) (Attr, error) {
	const op = "deallocate"
	end := off + length
	if end < off {
		end = math.MaxUint64
	}
	if err := f.flushDirty(ctx, ino, true); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	bs := uint64(f.rec.BlockSize)
	var size uint64
	stored := map[uint64]bool{}
	err := f.view(ctx, op, ino, func(r *reader) error {
		n, err := r.dataInode(c, ino, MayWrite)
		if err != nil {
			return err
		}
		size = n.Size
		for _, b := range []uint64{off / bs, min(end, n.Size) / bs} {
			_, err := r.Get(meta.BlockKey(f.rec.Vol, ino, b))
			switch {
			case err == nil:
				stored[b] = true
			case !errors.Is(err, meta.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Attr{}, err
	}
	end = min(end, size)
	if off >= end {
		return f.GetAttr(ctx, ino)
	}
	// The blocks cut by the range: zeros over the part inside it, where
	// the block is stored.
	first, last := (off+bs-1)/bs, end/bs // whole blocks: [first, last)
	zero := func(from, to uint64) error {
		if from >= to || !stored[from/bs] {
			return nil
		}
		_, err := f.Write(ctx, c, ino, from, make([]byte, to-from))
		return err
	}
	if first > last { // inside one block
		if err := zero(off, end); err != nil {
			return Attr{}, wrap(op, ino, err)
		}
		return f.GetAttr(ctx, ino)
	}
	if err := zero(off, first*bs); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	if err := zero(last*bs, end); err != nil {
		return Attr{}, wrap(op, ino, err)
	}
	if first == last {
		return f.GetAttr(ctx, ino)
	}
	// The whole blocks, in steps of at most truncateBatch.
	unlock := f.svc.lockBlocks(f.rec.Vol, ino, first, last-1)
	defer unlock()
	var a Attr
	for done := false; !done; {
		err := f.update(ctx, op, ino, func(t *txn) error {
			n, err := t.inode(ino)
			if err != nil {
				return err
			}
			if done, err = t.freeBlockRange(n, first, last, truncateBatch); err != nil {
				return err
			}
			clearSetID(c, n)
			t.touch(n, true)
			a = n.attr()
			return t.putInode(n)
		})
		if err != nil {
			return Attr{}, err
		}
	}
	f.svc.kickCollector()
	return a, nil
}
