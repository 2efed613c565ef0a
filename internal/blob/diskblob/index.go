package diskblob

import "slices"

// The index functions below run with Store.mu held for writing. They are
// called in append order: at open while replaying segments, and afterwards
// for every op once it is durable. Both paths must build the same index.

func recordLen(key string, valueLen int64) int64 {
	return recordHeaderLen + int64(len(key)) + valueLen
}

func (s *Store) applyLocked(o *op) {
	o.seg.size = o.off + o.recLen
	switch o.kind {
	case opPut:
		s.applyPutLocked(o.key, o.seg, o.off, o.valueLen)
	case opDelete:
		s.applyTombstoneLocked(o.key, o.seg, o.off)
	case opMove:
		if o.recKind == kindPut {
			s.applyMovePutLocked(o)
		} else {
			s.applyMoveTombstoneLocked(o)
		}
	case opMark:
	}
}

// applyPutLocked makes the put record at seg/off the live version of key.
func (s *Store) applyPutLocked(key string, seg *segment, off, valueLen int64) {
	var older []uint64
	if e, ok := s.mu.objects[key]; ok {
		e.seg.live -= recordLen(key, e.valueLen)
		older = e.older
		if e.seg != seg {
			older = addID(older, e.seg.id)
		}
	} else if d, ok := s.mu.deleted[key]; ok {
		d.seg.live -= recordLen(key, tombstoneValueLen)
		older = d.puts
		delete(s.mu.deleted, key)
	}
	seg.live += recordLen(key, valueLen)
	s.mu.objects[key] = entry{seg: seg, off: off, valueLen: valueLen, older: older}
}

// applyTombstoneLocked applies the tombstone at seg/off. A tombstone for a
// key that is neither stored nor already deleted by a kept tombstone is dead
// from the start: no put record it could hide remains.
func (s *Store) applyTombstoneLocked(key string, seg *segment, off int64) {
	var puts []uint64
	if e, ok := s.mu.objects[key]; ok {
		e.seg.live -= recordLen(key, e.valueLen)
		puts = addID(e.older, e.seg.id)
		delete(s.mu.objects, key)
	} else if d, ok := s.mu.deleted[key]; ok {
		d.seg.live -= recordLen(key, tombstoneValueLen)
		puts = d.puts
	} else {
		return
	}
	seg.live += recordLen(key, tombstoneValueLen)
	s.mu.deleted[key] = &tomb{seg: seg, off: off, puts: puts}
}

// applyMovePutLocked repoints key at the compaction copy of its live record.
// Compaction copies a record only if the index points at it and no op for
// the key is in flight (both checked under Store.w), and ops apply in append
// order, so the index still points at the original here.
func (s *Store) applyMovePutLocked(o *op) {
	e, ok := s.mu.objects[o.key]
	if !ok || e.seg != o.from || e.off != o.fromOff {
		panic("diskblob: compaction moved a record the index no longer points at")
	}
	n := recordLen(o.key, e.valueLen)
	e.seg.live -= n
	o.seg.live += n
	s.mu.objects[o.key] = entry{seg: o.seg, off: o.off, valueLen: e.valueLen, older: addID(e.older, o.from.id)}
}

// applyMoveTombstoneLocked repoints a kept tombstone at its compaction copy.
func (s *Store) applyMoveTombstoneLocked(o *op) {
	d, ok := s.mu.deleted[o.key]
	if !ok || d.seg != o.from || d.off != o.fromOff {
		panic("diskblob: compaction moved a tombstone the index no longer points at")
	}
	n := recordLen(o.key, tombstoneValueLen)
	d.seg.live -= n
	o.seg.live += n
	d.seg, d.off = o.seg, o.off
}

// forgetSegmentLocked drops a removed segment id from the older/puts lists
// of key.
func (s *Store) forgetSegmentLocked(key string, id uint64) {
	if e, ok := s.mu.objects[key]; ok {
		e.older = removeID(e.older, id)
		s.mu.objects[key] = e
	} else if d, ok := s.mu.deleted[key]; ok {
		d.puts = removeID(d.puts, id)
	}
}

func addID(ids []uint64, id uint64) []uint64 {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

func removeID(ids []uint64, id uint64) []uint64 {
	ids = slices.DeleteFunc(ids, func(x uint64) bool { return x == id })
	if len(ids) == 0 {
		return nil
	}
	return ids
}
