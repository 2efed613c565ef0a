package nfs

import (
	"math"
	"sort"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// Byte-range locks (RFC 8881 §9) are advisory, as in EFS: they conflict
// with each other, never with READ or WRITE. A range is [start, end] with
// an inclusive end, so that a lock to the end of the file (length all ones)
// is end = MaxUint64.

type lockRange struct {
	owner      *stateOwner
	write      bool
	start, end uint64
}

// lockBounds converts an offset and a length to an inclusive range
// (RFC 8881 §18.10.3: a zero length, or one that runs past 2^64, is
// NFS4ERR_INVAL).
func lockBounds(offset, length uint64) (start, end uint64, st nfsv4.Nfsstat4) {
	switch {
	case length == 0:
		return 0, 0, nfsv4.NFS4ERR_INVAL
	case length == math.MaxUint64:
		return offset, math.MaxUint64, nfsv4.NFS4_OK
	case offset+length < offset && offset+length != 0:
		return 0, 0, nfsv4.NFS4ERR_INVAL
	}
	return offset, offset + length - 1, nfsv4.NFS4_OK
}

func overlaps(a lockRange, start, end uint64) bool { return a.start <= end && start <= a.end }

// denied describes a conflicting lock for LOCK4denied.
func denied(r lockRange) nfsv4.Lock4denied {
	length := uint64(math.MaxUint64)
	if r.end != math.MaxUint64 {
		length = r.end - r.start + 1
	}
	lt := nfsv4.READ_LT
	if r.write {
		lt = nfsv4.WRITE_LT
	}
	return nfsv4.Lock4denied{Offset: r.start, Length: length, Locktype: lt,
		Owner: nfsv4.StateOwner4{Clientid: r.owner.client.id, Owner: []byte(r.owner.owner)}}
}

// conflictLocked returns a lock of another owner that conflicts with a
// lock of the given kind on [start, end] of f. isOwner tells the asking
// owner's ranges apart (LOCKT names an owner that may not exist).
func (p *Program) conflictLocked(f fileKey, isOwner func(*stateOwner) bool, write bool, start, end uint64) (lockRange, bool) {
	fl := p.mu.files[f]
	if fl == nil {
		return lockRange{}, false
	}
	for _, r := range fl.locks {
		if !isOwner(r.owner) && overlaps(r, start, end) && (r.write || write) {
			return r, true
		}
	}
	return lockRange{}, false
}

// setLockLocked gives owner o a lock of the given kind on [start, end] of
// f, replacing (upgrading, downgrading, splitting) its own ranges there and
// merging adjacent ones of the same kind. The caller has checked for
// conflicts. It fails with NFS4ERR_RESOURCE past the EFS lock limits.
func (p *Program) setLockLocked(o *stateOwner, f fileKey, write bool, start, end uint64) nfsv4.Nfsstat4 {
	fl := p.mu.files[f]
	if fl == nil {
		fl = &fileState{}
	}
	var out []lockRange
	mine := 0
	for _, r := range fl.locks {
		if r.owner != o {
			out = append(out, r)
			continue
		}
		mine++
		adjacent := (r.end != math.MaxUint64 && r.end+1 == start) || (end != math.MaxUint64 && end+1 == r.start)
		switch {
		case !overlaps(r, start, end) && !(adjacent && r.write == write):
			out = append(out, r)
		case r.write == write:
			start, end = min(start, r.start), max(end, r.end)
		default:
			if r.start < start {
				out = append(out, lockRange{owner: o, write: r.write, start: r.start, end: start - 1})
			}
			if r.end > end {
				out = append(out, lockRange{owner: o, write: r.write, start: end + 1, end: r.end})
			}
		}
	}
	out = append(out, lockRange{owner: o, write: write, start: start, end: end})
	mineAfter := 0
	for _, r := range out {
		if r.owner == o {
			mineAfter++
		}
	}
	cl := o.client
	if len(out) > maxLocksPerFile || cl.locks-mine+mineAfter > maxLocksPerClient {
		return nfsv4.NFS4ERR_RESOURCE
	}
	cl.locks += mineAfter - mine
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	fl.locks = out
	p.mu.files[f] = fl
	return nfsv4.NFS4_OK
}

// unlockRangeLocked releases owner o's locks on [start, end] of f.
func (p *Program) unlockRangeLocked(o *stateOwner, f fileKey, start, end uint64) {
	fl := p.mu.files[f]
	if fl == nil {
		return
	}
	var out []lockRange
	for _, r := range fl.locks {
		if r.owner != o || !overlaps(r, start, end) {
			out = append(out, r)
			continue
		}
		o.client.locks--
		if r.start < start {
			out = append(out, lockRange{owner: o, write: r.write, start: r.start, end: start - 1})
			o.client.locks++
		}
		if r.end > end {
			out = append(out, lockRange{owner: o, write: r.write, start: end + 1, end: r.end})
			o.client.locks++
		}
	}
	if len(out) == 0 {
		delete(p.mu.files, f)
		return
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	fl.locks = out
}

// holdsLocksLocked reports whether owner o holds any byte range.
func (p *Program) holdsLocksLocked(o *stateOwner) bool {
	for f := range o.states {
		if fl := p.mu.files[f]; fl != nil {
			for _, r := range fl.locks {
				if r.owner == o {
					return true
				}
			}
		}
	}
	return false
}
