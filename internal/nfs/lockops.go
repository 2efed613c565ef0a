package nfs

import (
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// LOCK, LOCKT, LOCKU and RELEASE_LOCKOWNER (RFC 8881 §18.10–18.12, RFC
// 7530 §16.37). They touch only memory, so each runs under one hold of
// Program.mu.

// lockFile checks the current filehandle of a lock operation.
func (c *compound) lockFile() (fileHandle, nfsv4.Nfsstat4) {
	if !c.hasCur {
		return fileHandle{}, nfsv4.NFS4ERR_NOFILEHANDLE
	}
	fh := c.cur
	switch fh.typ {
	case fs.TypeRegular:
		return fh, nfsv4.NFS4_OK
	case fs.TypeDirectory:
		return fh, nfsv4.NFS4ERR_ISDIR
	}
	if c.minor >= 1 {
		return fh, nfsv4.NFS4ERR_WRONG_TYPE
	}
	return fh, nfsv4.NFS4ERR_INVAL
}

// lockKind parses a lock type; blocking types (READW, WRITEW) are served
// like the others: a conflict is NFS4ERR_DENIED and the client polls.
func lockKind(t nfsv4.NfsLockType4) (write bool, ok bool) {
	switch t {
	case nfsv4.READ_LT, nfsv4.READW_LT:
		return false, true
	case nfsv4.WRITE_LT, nfsv4.WRITEW_LT:
		return true, true
	}
	return false, false
}

func (c *compound) opLock(a *nfsv4.Lock4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) { return errorResult(nfsv4.OP_LOCK, st), st }
	p := c.p
	now := p.lock()
	defer p.unlock()

	// NFSv4.0 seqid rules first: the open owner's for a new lock owner,
	// the lock owner's otherwise.
	var turn *ownerTurn
	var lockSeqid uint32
	newOwner := false
	switch l := a.Locker.(type) {
	case *nfsv4.Locker4_TRUE:
		newOwner = true
		lockSeqid = l.OpenOwner.LockSeqid
		if o := p.ownerOfStateidLocked(c, l.OpenOwner.OpenStateid); o != nil {
			rp, st := c.beginOwnerLocked(o, l.OpenOwner.OpenSeqid, nfsv4.OP_LOCK)
			if rp != nil {
				return c.replayed(rp)
			}
			if st != nfsv4.NFS4_OK {
				return fail(st)
			}
			turn = &ownerTurn{o: o, seqid: l.OpenOwner.OpenSeqid, op: nfsv4.OP_LOCK}
		}
	case *nfsv4.Locker4_FALSE:
		if o := p.ownerOfStateidLocked(c, l.LockOwner.LockStateid); o != nil {
			rp, st := c.beginOwnerLocked(o, l.LockOwner.LockSeqid, nfsv4.OP_LOCK)
			if rp != nil {
				return c.replayed(rp)
			}
			if st != nfsv4.NFS4_OK {
				return fail(st)
			}
			turn = &ownerTurn{o: o, seqid: l.LockOwner.LockSeqid, op: nfsv4.OP_LOCK}
		}
	}
	var lockOwner *stateOwner
	r, st := func() (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		fh, st := c.lockFile()
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		write, ok := lockKind(a.Locktype)
		if !ok {
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		start, end, st := lockBounds(a.Offset, a.Length)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		var ls *state
		switch l := a.Locker.(type) {
		case *nfsv4.Locker4_TRUE:
			sid, st := c.resolveStateid(l.OpenOwner.OpenStateid)
			if st != nfsv4.NFS4_OK {
				return fail(st)
			}
			open, st := p.findStateLocked(c, sid)
			if st != nfsv4.NFS4_OK {
				return fail(st)
			}
			if open.isLock() || open.file != keyOf(fh) {
				return fail(nfsv4.NFS4ERR_BAD_STATEID)
			}
			cl := open.owner.client
			if c.minor == 0 && l.OpenOwner.LockOwner.Clientid != cl.id {
				return fail(nfsv4.NFS4ERR_INVAL)
			}
			lo, _ := p.ownerLocked(cl, l.OpenOwner.LockOwner.Owner, true)
			lockOwner = lo
			if ls = lo.states[open.file]; ls == nil {
				ls = p.newStateLocked(lo, fh)
				ls.open = open
				open.locks[lo] = ls
			}
		case *nfsv4.Locker4_FALSE:
			sid, st := c.resolveStateid(l.LockOwner.LockStateid)
			if st != nfsv4.NFS4_OK {
				return fail(st)
			}
			if ls, st = p.findStateLocked(c, sid); st != nfsv4.NFS4_OK {
				return fail(st)
			}
			if !ls.isLock() || ls.file != keyOf(fh) {
				return fail(nfsv4.NFS4ERR_BAD_STATEID)
			}
		default:
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		cl := ls.owner.client
		cl.lastRenew = now
		if !a.Reclaim {
			c.endReclaim40Locked(cl)
		}
		inGrace := p.inGraceLocked(c.fsID, now)
		if a.Reclaim {
			if !inGrace || !cl.reclaim || cl.reclaimDone {
				return fail(nfsv4.NFS4ERR_NO_GRACE)
			}
		} else if inGrace {
			return fail(nfsv4.NFS4ERR_GRACE)
		}
		o := ls.owner
		if r, conflict := p.conflictLocked(ls.file, func(x *stateOwner) bool { return x == o }, write, start, end); conflict {
			return &nfsv4.NfsResop4_OP_LOCK{Oplock: &nfsv4.Lock4res_NFS4ERR_DENIED{Denied: denied(r)}}, nfsv4.NFS4ERR_DENIED
		}
		if st := p.setLockLocked(o, ls.file, write, start, end); st != nfsv4.NFS4_OK {
			return fail(st)
		}
		ls.bump()
		sid := ls.stateid()
		c.setCurrentStateid(sid)
		return &nfsv4.NfsResop4_OP_LOCK{Oplock: &nfsv4.Lock4res_NFS4_OK{Resok4: nfsv4.Lock4resok{LockStateid: sid}}}, nfsv4.NFS4_OK
	}()
	if turn != nil {
		c.endOwnerLocked(*turn, r, st)
		if newOwner && lockOwner != nil && seqidAdvances(st) {
			// The new lock owner starts its own sequence at lock_seqid.
			lockOwner.seqid, lockOwner.hasSeqid = lockSeqid, true
			lockOwner.last = &replay{op: nfsv4.OP_LOCK, res: r, st: st}
		}
	}
	return r, st
}

func (c *compound) opLockT(a *nfsv4.Lockt4args) nfsv4.Lockt4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Lockt4res { return &nfsv4.Lockt4res_default{Status: st} }
	fh, st := c.lockFile()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	write, ok := lockKind(a.Locktype)
	if !ok {
		return fail(nfsv4.NFS4ERR_INVAL)
	}
	start, end, st := lockBounds(a.Offset, a.Length)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	p := c.p
	now := p.lock()
	defer p.unlock()
	cl := c.cl
	if c.minor == 0 {
		if cl, st = p.client40Locked(c, a.Owner.Clientid); st != nfsv4.NFS4_OK {
			return fail(st)
		}
	}
	cl.lastRenew = now
	if p.inGraceLocked(c.fsID, now) {
		return fail(nfsv4.NFS4ERR_GRACE)
	}
	owner := string(a.Owner.Owner)
	isOwner := func(o *stateOwner) bool { return o.client == cl && o.owner == owner }
	if r, conflict := p.conflictLocked(keyOf(fh), isOwner, write, start, end); conflict {
		return &nfsv4.Lockt4res_NFS4ERR_DENIED{Denied: denied(r)}
	}
	return &nfsv4.Lockt4res_NFS4_OK{}
}

func (c *compound) opLockU(a *nfsv4.Locku4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) { return errorResult(nfsv4.OP_LOCKU, st), st }
	p := c.p
	now := p.lock()
	defer p.unlock()
	return c.inOwnerTurnLocked(a.LockStateid, a.Seqid, nfsv4.OP_LOCKU, func() (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		fh, st := c.lockFile()
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		if _, ok := lockKind(a.Locktype); !ok {
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		start, end, st := lockBounds(a.Offset, a.Length)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		sid, st := c.resolveStateid(a.LockStateid)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		ls, st := p.findStateLocked(c, sid)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		if !ls.isLock() || ls.file != keyOf(fh) {
			return fail(nfsv4.NFS4ERR_BAD_STATEID)
		}
		ls.owner.client.lastRenew = now
		p.unlockRangeLocked(ls.owner, ls.file, start, end)
		ls.bump()
		sid = ls.stateid()
		c.setCurrentStateid(sid)
		return &nfsv4.NfsResop4_OP_LOCKU{Oplocku: &nfsv4.Locku4res_NFS4_OK{LockStateid: sid}}, nfsv4.NFS4_OK
	})
}

func (c *compound) opReleaseLockOwner(a *nfsv4.ReleaseLockowner4args) nfsv4.Nfsstat4 {
	p := c.p
	now := p.lock()
	defer p.unlock()
	cl, st := p.client40Locked(c, a.LockOwner.Clientid)
	if st != nfsv4.NFS4_OK {
		return st
	}
	cl.lastRenew = now
	o := cl.lockOwners[string(a.LockOwner.Owner)]
	if o == nil {
		return nfsv4.NFS4_OK
	}
	if p.holdsLocksLocked(o) {
		return nfsv4.NFS4ERR_LOCKS_HELD
	}
	for _, s := range o.states {
		p.removeStateLocked(s)
	}
	delete(cl.lockOwners, o.owner)
	return nfsv4.NFS4_OK
}
