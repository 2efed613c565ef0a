package diskblob

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Compaction
//
// Compact picks the sealed segments whose live bytes are below
// Config.CompactLiveRatio of their records (the victims), copies the records
// the index still needs into the active segment through the ordinary append
// path, waits for them to be durable, then deletes the victim files in
// ascending id order, syncing the directory after each.
//
// A copy is appended only if, under Store.w, the index still points at the
// original and no op for the key is in flight; ops apply in append order, so
// a concurrent Put or Delete of the key always lands after the copy and wins,
// at run time and at replay.
//
// Tombstones. Dropping a tombstone is safe only when no put record of its
// key is left in any segment: otherwise that older version would come back
// at the next open. Remembering only the segment of the record it deleted is
// not enough, since earlier versions may sit in older segments that were not
// compacted. So the index tracks, per key, every segment that may still hold
// a put record of it (entry.older, tomb.puts; usually empty), and a tombstone
// is dropped when all of those segments are victims of the same pass. The
// victims are removed in ascending order and a victim is removed only if
// nothing still needs it, so the put records are always gone before (or with)
// the tombstone.

// Compact runs one compaction pass (see above) and returns when it is done.
// It runs concurrently with other operations; only one pass runs at a time.
// Cancelling ctx stops it between records, leaving every segment in place.
func (s *Store) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if err := s.enter(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()

	victims := s.pickVictims()
	if len(victims) == 0 {
		return nil
	}
	c := &compaction{
		victims: make(map[uint64]bool, len(victims)),
		puts:    make(map[uint64][]string),
		tombs:   make(map[uint64][]string),
		dropped: make(map[uint64]map[string]bool),
	}
	for _, seg := range victims {
		c.victims[seg.id] = true
	}
	var err error
	for _, seg := range victims {
		if err = s.copyLive(ctx, c, seg); err != nil {
			break
		}
	}
	s.w.Lock()
	s.barrierLocked()
	for _, o := range c.ops {
		if err == nil && o.err != nil {
			err = o.err
		}
	}
	s.w.Unlock()
	if err != nil {
		return fmt.Errorf("diskblob: compact: %w", err)
	}

	for _, seg := range victims {
		if !s.removable(c, seg) {
			// A Put or Delete that was in flight when its key was
			// checked failed; the next pass will deal with the segment.
			s.log.Debug("compaction kept a segment still in use", "segment", seg.id)
			break
		}
		if err := s.removeSegment(c, seg); err != nil {
			return err
		}
	}
	return nil
}

type compaction struct {
	victims map[uint64]bool
	puts    map[uint64][]string        // victim -> keys of its put records
	tombs   map[uint64][]string        // victim -> keys of its tombstones
	dropped map[uint64]map[string]bool // victim -> keys whose tombstone was not copied
	ops     []*op
}

// pickVictims returns the sealed segments worth rewriting, by ascending id.
func (s *Store) pickVictims() []*segment {
	s.w.Lock()
	active := s.w.active
	s.w.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var victims []*segment
	for _, seg := range s.mu.segments {
		if seg == active {
			continue
		}
		used := seg.size - segmentHeaderLen
		if used == 0 || float64(seg.live) < s.cfg.CompactLiveRatio*float64(used) {
			victims = append(victims, seg)
		}
	}
	slices.SortFunc(victims, func(a, b *segment) int { return cmp.Compare(a.id, b.id) })
	return victims
}

// copyLive appends copies of the records of seg that the index needs.
func (s *Store) copyLive(ctx context.Context, c *compaction, seg *segment) error {
	s.mu.RLock()
	size := seg.size
	s.mu.RUnlock()
	off := int64(segmentHeaderLen)
	r := bufio.NewReaderSize(io.NewSectionReader(seg.f, off, size-off), 1<<20)
	hb := make([]byte, recordHeaderLen)
	var body []byte
	for ; off < size; off += recordHeaderLen + int64(len(body)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closing.Load() {
			return ErrClosed
		}
		h, err := readRecord(r, hb, &body, off, size)
		if err != nil {
			return fmt.Errorf("segment %d offset %d: %w", seg.id, off, err)
		}
		if h.kind == kindMark {
			continue
		}
		key := string(body[:h.keyLen])
		if h.kind == kindPut {
			c.puts[seg.id] = append(c.puts[seg.id], key)
		} else {
			c.tombs[seg.id] = append(c.tombs[seg.id], key)
		}
		keep, drop := s.needs(c, seg, off, h.kind, key)
		if drop {
			if c.dropped[seg.id] == nil {
				c.dropped[seg.id] = make(map[string]bool)
			}
			c.dropped[seg.id][key] = true
		}
		if !keep {
			continue
		}
		rec := encoded{head: make([]byte, h.recordLen()), crc: crcOfBody(body)}
		copy(rec.head, hb)
		copy(rec.head[recordHeaderLen:], body)
		o := &op{kind: opMove, recKind: h.kind, key: key, valueLen: int64(h.valueLen), from: seg, fromOff: off}
		s.w.Lock()
		// makeRoomLocked may release w: check only once it is done.
		if err = s.makeRoomLocked(o, rec.len()); err == nil && s.w.pendingKeys[key] == 0 {
			if keep, _ = s.needs(c, seg, off, h.kind, key); keep {
				err = s.writeLocked(o, &rec)
				c.ops = append(c.ops, o)
			}
		}
		s.w.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// needs reports whether the record of key at seg/off must be copied (keep),
// or is a tombstone the index still has but no longer needs (drop).
func (s *Store) needs(c *compaction, seg *segment, off int64, kind byte, key string) (keep, drop bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if kind == kindPut {
		e, ok := s.mu.objects[key]
		return ok && e.seg == seg && e.off == off, false
	}
	d, ok := s.mu.deleted[key]
	if !ok || d.seg != seg || d.off != off {
		return false, false
	}
	for _, id := range d.puts {
		if !c.victims[id] {
			return true, false
		}
	}
	return false, true
}

// removable reports whether nothing in the index needs seg any more. Victims
// with smaller ids have been removed already.
func (s *Store) removable(c *compaction, seg *segment) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, key := range c.puts[seg.id] {
		if e, ok := s.mu.objects[key]; ok && e.seg == seg {
			return false
		}
	}
	for _, key := range c.tombs[seg.id] {
		d, ok := s.mu.deleted[key]
		if !ok || d.seg != seg {
			continue
		}
		if !c.dropped[seg.id][key] {
			return false
		}
		for _, id := range d.puts {
			if _, exists := s.mu.segments[id]; exists && id != seg.id {
				return false
			}
		}
	}
	return true
}

// removeSegment deletes the file of seg durably, then forgets it. The file
// goes first: if that fails, the index still describes what is on disk.
func (s *Store) removeSegment(c *compaction, seg *segment) error {
	if err := s.fs.Remove(seg.path); err != nil {
		return ioError("compact: remove segment", err)
	}
	if err := s.fs.SyncDir(s.cfg.Dir); err != nil {
		// Whether the removal is durable is unknown, and a later tombstone
		// drop could rely on it: stop writing.
		err = ioError("compact: sync dir", err)
		s.w.Lock()
		if s.w.err == nil {
			s.w.err = err
		}
		s.w.Unlock()
		return err
	}
	s.mu.Lock()
	delete(s.mu.segments, seg.id)
	for _, key := range c.puts[seg.id] {
		s.forgetSegmentLocked(key, seg.id)
	}
	for key := range c.dropped[seg.id] {
		if d, ok := s.mu.deleted[key]; ok && d.seg == seg {
			delete(s.mu.deleted, key)
		}
	}
	s.mu.Unlock()
	seg.removed.Store(true)
	if seg.refs.Load() == 0 {
		_ = seg.close()
	}
	return nil
}

// compactLoop runs Compact each time a segment is sealed, until ctx ends.
func (s *Store) compactLoop(ctx context.Context) {
	defer close(s.bg.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.bg.trigger:
		}
		if err := s.Compact(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			s.log.Warn("background compaction failed", "err", err)
		}
	}
}
