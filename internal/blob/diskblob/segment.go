package diskblob

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shelf-efs/shelf/internal/blob"
)

// segment is one segment file, named by its id (ids only grow, and replay
// follows them).
type segment struct {
	id   uint64
	path string
	f    file

	refs      atomic.Int32 // Gets reading f right now
	removed   atomic.Bool  // the file is gone: close f when refs drops to 0
	closeOnce sync.Once
	closeErr  error

	// Guarded by Store.mu.
	size int64 // end of the last applied record
	live int64 // bytes of records the index points at
}

func (seg *segment) release() {
	if seg.refs.Add(-1) == 0 && seg.removed.Load() {
		_ = seg.close()
	}
}

func (seg *segment) close() error {
	seg.closeOnce.Do(func() { seg.closeErr = seg.f.Close() })
	return seg.closeErr
}

const segmentSuffix = ".seg"

func segmentName(id uint64) string { return fmt.Sprintf("%016x%s", id, segmentSuffix) }

func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	return id, err == nil && id != 0
}

// createSegment creates segment id with its header, durably (file and
// directory entry).
func (s *Store) createSegment(id uint64) (*segment, error) {
	path := filepath.Join(s.cfg.Dir, segmentName(id))
	f, err := s.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, ioError("create segment", err)
	}
	if _, err = f.WriteAt(encodeSegmentHeader(), 0); err == nil {
		if err = f.Sync(); err == nil {
			err = s.fs.SyncDir(s.cfg.Dir)
		}
	}
	if err != nil {
		// Best effort: a leftover header-only or empty segment is harmless
		// (see replaySegment).
		_ = f.Close()
		_ = s.fs.Remove(path)
		return nil, ioError("create segment", err)
	}
	// Appends go to reserved blocks; rollLocked gives back what the
	// segment did not use. A crash keeps the reservation of a sealed
	// segment until the segment is compacted away.
	_ = f.Preallocate(s.cfg.SegmentBytes)
	return &segment{id: id, path: path, f: f, size: segmentHeaderLen}, nil
}

// open rebuilds the index from the segment files and makes the newest one
// active.
func (s *Store) open() error {
	des, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("diskblob: read dir: %w", err)
	}
	var ids []uint64
	for _, de := range des {
		if id, ok := parseSegmentName(de.Name()); ok && de.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ids) == 0 {
		seg, err := s.createSegment(1)
		if err != nil {
			return err
		}
		s.mu.segments[seg.id] = seg
		s.w.active, s.w.off, s.w.synced, s.w.nextID = seg, segmentHeaderLen, segmentHeaderLen, 2
		return nil
	}
	for i, id := range ids {
		if err := s.replaySegmentLocked(id, i == len(ids)-1); err != nil {
			return err
		}
	}
	last := s.mu.segments[ids[len(ids)-1]]
	// What we replayed may still sit only in the page cache (a process
	// crash, not a machine crash): make it durable before serving it.
	if err := last.f.Sync(); err != nil {
		return ioError("sync", err)
	}
	_ = last.f.Preallocate(s.cfg.SegmentBytes) // see createSegment
	s.w.active, s.w.off, s.w.synced, s.w.nextID = last, last.size, last.size, last.id+1
	return nil
}

// replaySegmentLocked opens segment id and applies its records to the index.
//
// A sealed segment was fully synced before the next one was created, so any
// invalid record in it is damage: open fails with an error wrapping
// blob.ErrCorrupt (naming the segment and offset) rather than dropping
// acknowledged objects or, worse, letting an older version of a key win. An
// operator decides what to do with the file.
//
// In the newest segment an invalid record is a torn tail from a crash,
// unless a later valid record proves otherwise: its watermark says which
// prefix was durable when it was appended, and Close appends a mark whose
// watermark covers everything. Proven damage fails the open like above; a
// torn tail is truncated (and logged) so it is never served.
func (s *Store) replaySegmentLocked(id uint64, last bool) error {
	path := filepath.Join(s.cfg.Dir, segmentName(id))
	f, err := s.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("diskblob: open segment: %w", err)
	}
	seg := &segment{id: id, path: path, f: f}
	s.mu.segments[id] = seg // closed by the caller on error
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("diskblob: stat segment: %w", err)
	}
	size := fi.Size()

	hb := make([]byte, segmentHeaderLen)
	n, err := f.ReadAt(hb, 0)
	if n < segmentHeaderLen && err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("diskblob: read segment %d: %w", id, err)
	}
	if n < segmentHeaderLen || checkSegmentHeader(hb) != nil {
		if last && size <= segmentHeaderLen {
			// A crash while the segment was being created.
			s.log.Warn("reinitializing incomplete segment", "segment", id)
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("diskblob: reinitialize segment %d: %w", id, err)
			}
			if _, err := f.WriteAt(encodeSegmentHeader(), 0); err != nil {
				return fmt.Errorf("diskblob: reinitialize segment %d: %w", id, err)
			}
			seg.size = segmentHeaderLen
			return nil
		}
		err := corruptf("segment header cut short")
		if n == segmentHeaderLen {
			err = checkSegmentHeader(hb)
		}
		return fmt.Errorf("diskblob: segment %d: %w", id, err)
	}

	off, err := s.replayRecordsLocked(seg, size)
	if err == nil {
		return nil
	}
	if !errors.Is(err, blob.ErrCorrupt) {
		return fmt.Errorf("diskblob: replay segment %d: %w", id, err)
	}
	if !last {
		return fmt.Errorf("diskblob: sealed segment %d, offset %d: %w", id, off, err)
	}
	proof, perr := findDurableAfter(f, off, size)
	if perr != nil {
		return fmt.Errorf("diskblob: replay segment %d: %w", id, perr)
	}
	if proof >= 0 {
		return fmt.Errorf("diskblob: segment %d, offset %d (durable before the record at offset %d): %w", id, off, proof, err)
	}
	s.log.Warn("truncating torn tail of segment", "segment", id, "offset", off, "bytes", size-off, "err", err)
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("diskblob: truncate segment %d: %w", id, err)
	}
	return nil
}

// replayRecordsLocked applies the records of seg to the index in order. It
// returns the offset it stopped at: size, or the start of the first record
// that is invalid (error wrapping blob.ErrCorrupt) or unreadable.
func (s *Store) replayRecordsLocked(seg *segment, size int64) (int64, error) {
	off := int64(segmentHeaderLen)
	seg.size = off
	r := bufio.NewReaderSize(io.NewSectionReader(seg.f, off, size-off), 1<<20)
	hb := make([]byte, recordHeaderLen)
	var body []byte
	for off < size {
		h, err := readRecord(r, hb, &body, off, size)
		if err != nil {
			return off, err
		}
		key := string(body[:h.keyLen])
		switch h.kind {
		case kindPut:
			s.applyPutLocked(key, seg, off, int64(h.valueLen))
		case kindTombstone:
			s.applyTombstoneLocked(key, seg, off)
		}
		off += h.recordLen()
		seg.size = off
	}
	return off, nil
}

// readRecord reads and verifies the record at off from r (positioned there),
// leaving its key and value in *body. Records must end by size.
func readRecord(r io.Reader, hb []byte, body *[]byte, off, size int64) (header, error) {
	if _, err := io.ReadFull(r, hb); err != nil {
		return header{}, shortRead(err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return header{}, err
	}
	if h.watermark > off {
		return header{}, corruptf("record watermark past its offset")
	}
	if off+h.recordLen() > size {
		return header{}, corruptf("record cut short")
	}
	if cap(*body) < h.bodyLen() {
		*body = make([]byte, h.bodyLen())
	}
	*body = (*body)[:h.bodyLen()]
	if _, err := io.ReadFull(r, *body); err != nil {
		return header{}, shortRead(err)
	}
	return h, h.verify(hb, *body)
}

func shortRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf("record cut short")
	}
	return err
}

// findDurableAfter looks past the invalid record at bad for a valid record
// whose watermark shows bad was already durable when it was appended. It
// returns that record's offset, or -1.
func findDurableAfter(f file, bad, size int64) (int64, error) {
	magic := binary.LittleEndian.AppendUint32(nil, recordMagic)
	buf := make([]byte, 1<<20)
	for pos := bad + 1; pos+recordHeaderLen <= size; {
		n := int(min(int64(len(buf)), size-pos))
		if m, err := f.ReadAt(buf[:n], pos); m < n {
			return -1, fmt.Errorf("read: %w", err)
		}
		i := bytes.Index(buf[:n], magic)
		if i < 0 {
			if n <= len(magic) {
				break
			}
			pos += int64(n - len(magic) + 1)
			continue
		}
		p := pos + int64(i)
		ok, err := provesDurable(f, p, bad, size)
		if err != nil {
			return -1, err
		}
		if ok {
			return p, nil
		}
		pos = p + 1
	}
	return -1, nil
}

func provesDurable(f file, p, bad, size int64) (bool, error) {
	r := io.NewSectionReader(f, p, size-p)
	hb := make([]byte, recordHeaderLen)
	var body []byte
	h, err := readRecord(r, hb, &body, p, size)
	if err != nil {
		if errors.Is(err, blob.ErrCorrupt) {
			return false, nil
		}
		return false, err
	}
	return h.watermark > bad, nil
}
