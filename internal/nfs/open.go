package nfs

import (
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// Opens and I/O (RFC 8881 §9, §18.16–18.18, §18.20, §18.22, §18.32,
// §18.2, §18.3). OPEN never grants a delegation, and share reservations
// other than DENY_NONE are refused as EFS does (NFS4ERR_NOTSUPP).

const shareAccessWantBits = nfsv4.OPEN4_SHARE_ACCESS_WANT_DELEG_MASK |
	nfsv4.OPEN4_SHARE_ACCESS_WANT_SIGNAL_DELEG_WHEN_RESRC_AVAIL | nfsv4.OPEN4_SHARE_ACCESS_WANT_PUSH_DELEG_WHEN_UNCONTENDED

// regularFile checks that fh can be opened, read or written.
func (c *compound) regularFile(fh fileHandle) nfsv4.Nfsstat4 {
	switch fh.typ {
	case fs.TypeRegular:
		return nfsv4.NFS4_OK
	case fs.TypeDirectory:
		return nfsv4.NFS4ERR_ISDIR
	case fs.TypeSymlink:
		if c.minor >= 1 {
			return nfsv4.NFS4ERR_SYMLINK
		}
	}
	if c.minor >= 1 {
		return nfsv4.NFS4ERR_WRONG_TYPE
	}
	return nfsv4.NFS4ERR_INVAL
}

// ownerTurn is an NFSv4.0 open or lock owner taken for one
// seqid-mutating operation.
type ownerTurn struct {
	o     *stateOwner
	seqid uint32
	op    nfsv4.NfsOpnum4
}

// beginOwnerLocked applies the seqid rules to owner o. It returns a cached
// reply for a replay, or a status to fail with, or marks o busy.
func (c *compound) beginOwnerLocked(o *stateOwner, seqid uint32, op nfsv4.NfsOpnum4) (*replay, nfsv4.Nfsstat4) {
	if c.minor != 0 {
		// NFSv4.1 has no owner sequencing: requests of one owner run in
		// parallel on different slots. The count keeps the owner alive.
		o.inflight++
		return nil, nfsv4.NFS4_OK
	}
	switch c.checkSeqidLocked(o, seqid, op) {
	case seqidReplay:
		return o.last, nfsv4.NFS4_OK
	case seqidBad:
		return nil, nfsv4.NFS4ERR_BAD_SEQID
	}
	if o.busy {
		return nil, nfsv4.NFS4ERR_DELAY
	}
	o.busy = true
	return nil, nfsv4.NFS4_OK
}

// endOwnerLocked records the reply and frees the owner.
func (c *compound) endOwnerLocked(t ownerTurn, r nfsv4.NfsResop4, st nfsv4.Nfsstat4) {
	if c.minor != 0 {
		t.o.inflight--
		t.o.forgetIfIdleLocked()
		return
	}
	t.o.busy = false
	c.recordSeqidLocked(t.o, t.seqid, t.op, r, st)
}

// replayed answers a replayed NFSv4.0 request.
func (c *compound) replayed(rp *replay) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	if rp.fh != nil {
		c.setCurrent(*rp.fh)
	}
	return rp.res, rp.st
}

func (c *compound) opOpen(a *nfsv4.Open4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) { return errorResult(nfsv4.OP_OPEN, st), st }
	if !c.hasCur {
		return fail(nfsv4.NFS4ERR_NOFILEHANDLE)
	}
	access := a.ShareAccess & nfsv4.OPEN4_SHARE_ACCESS_BOTH
	extra := a.ShareAccess &^ nfsv4.OPEN4_SHARE_ACCESS_BOTH
	if c.minor >= 1 {
		extra &^= shareAccessWantBits
	}
	if access == 0 || extra != 0 || a.ShareDeny > nfsv4.OPEN4_SHARE_DENY_BOTH {
		return fail(nfsv4.NFS4ERR_INVAL)
	}
	p := c.p
	now := p.lock()
	var cl *client
	if c.minor >= 1 {
		cl = c.cl
	} else {
		var st nfsv4.Nfsstat4
		if cl, st = p.client40Locked(c, a.Owner.Clientid); st != nfsv4.NFS4_OK {
			p.unlock()
			return fail(st)
		}
	}
	o, _ := p.ownerLocked(cl, a.Owner.Owner, false)
	rp, st := c.beginOwnerLocked(o, a.Seqid, nfsv4.OP_OPEN)
	if rp != nil {
		p.unlock()
		return c.replayed(rp)
	}
	if st != nfsv4.NFS4_OK {
		p.unlock()
		return fail(st)
	}
	cl.lastRenew = now
	turn := ownerTurn{o: o, seqid: a.Seqid, op: nfsv4.OP_OPEN}
	if _, reclaim := a.Claim.(*nfsv4.OpenClaim4_CLAIM_PREVIOUS); !reclaim {
		c.endReclaim40Locked(cl)
	}
	inGrace := p.inGraceLocked(c.fsID, now)
	reclaimable := inGrace && cl.reclaim && !cl.reclaimDone
	p.unlock()

	r, st := c.open(a, o, access, inGrace, reclaimable)
	p.lock()
	c.endOwnerLocked(turn, r, st)
	p.unlock()
	return r, st
}

// endReclaim40Locked ends the reclaim of an NFSv4.0 client at its first
// non-reclaim OPEN or LOCK. NFSv4.0 has no RECLAIM_COMPLETE, but Linux
// reclaims all its state before it resumes normal work, so this ends the
// grace period early once every client that had state is back, instead of
// holding everyone for the whole period.
func (c *compound) endReclaim40Locked(cl *client) {
	if c.minor == 0 && cl.reclaim && !cl.reclaimDone {
		c.p.finishReclaimLocked(cl)
	}
}

// open does the work of OPEN once the owner is taken.
func (c *compound) open(a *nfsv4.Open4args, o *stateOwner, access uint32, inGrace, reclaimable bool) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) { return errorResult(nfsv4.OP_OPEN, st), st }
	if a.ShareDeny != nfsv4.OPEN4_SHARE_DENY_NONE {
		return fail(nfsv4.NFS4ERR_NOTSUPP)
	}
	create, isCreate := a.Openhow.(*nfsv4.Openflag4_OPEN4_CREATE)
	var fh fileHandle
	var cinfo nfsv4.ChangeInfo4
	var attrset attrMask
	created := false
	f, st := c.fileSystem()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	switch claim := a.Claim.(type) {
	case *nfsv4.OpenClaim4_CLAIM_NULL:
		if inGrace {
			return fail(nfsv4.NFS4ERR_GRACE)
		}
		dir, _, st := c.dirHandle()
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		if st := checkName(claim.File); st != nfsv4.NFS4_OK {
			return fail(st)
		}
		var attr fs.Attr
		if isCreate {
			attr, created, attrset, st = c.openCreate(f, dir, claim.File, create.How)
		} else {
			var err error
			attr, err = f.Lookup(c.ctx, &c.caller, dir.ino, claim.File)
			st = statusOf(err)
		}
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		fh = c.handle(&attr)
		cinfo = c.changeInfo(f, dir.ino)
	case *nfsv4.OpenClaim4_CLAIM_FH:
		if c.minor == 0 {
			return fail(nfsv4.NFS4ERR_NOTSUPP)
		}
		if inGrace {
			return fail(nfsv4.NFS4ERR_GRACE)
		}
		if isCreate {
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		fh = c.cur
	case *nfsv4.OpenClaim4_CLAIM_PREVIOUS:
		if !reclaimable {
			return fail(nfsv4.NFS4ERR_NO_GRACE)
		}
		if claim.DelegateType != nfsv4.OPEN_DELEGATE_NONE {
			// shelf never granted a delegation to reclaim.
			return fail(nfsv4.NFS4ERR_RECLAIM_BAD)
		}
		fh = c.cur
	default:
		// Delegation claims: EFS grants no delegations.
		return fail(nfsv4.NFS4ERR_NOTSUPP)
	}
	if st := c.regularFile(fh); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if !created {
		if st := c.openAccess(f, fh, access); st != nfsv4.NFS4_OK {
			return fail(st)
		}
		if _, ok := a.Claim.(*nfsv4.OpenClaim4_CLAIM_NULL); !ok {
			// The handle came from the client: check that it still names
			// the file.
			if _, st := c.attrSourceFor(f, fh, maskOf(nfsv4.FATTR4_CHANGE)); st != nfsv4.NFS4_OK {
				return fail(st)
			}
		}
	}

	p := c.p
	now := p.lock()
	s := o.states[keyOf(fh)]
	if s == nil {
		s = p.newStateLocked(o, fh)
		s.locks = map[*stateOwner]*state{}
	} else {
		s.bump()
	}
	s.access |= access
	sid := s.stateid()
	o.client.lastRenew = now
	if _, reclaim := a.Claim.(*nfsv4.OpenClaim4_CLAIM_PREVIOUS); reclaim {
		// A reclaim needs no OPEN_CONFIRM (the owner was confirmed before
		// the restart), as knfsd does: Linux could not send one, having
		// no filehandle from the reclaim's reply.
		o.confirmed = true
	}
	rflags := uint32(nfsv4.OPEN4_RESULT_LOCKTYPE_POSIX)
	if c.minor == 0 && !o.confirmed {
		rflags |= nfsv4.OPEN4_RESULT_CONFIRM
	}
	p.unlock()

	c.setCurrent(fh)
	c.setCurrentStateid(sid)
	r := &nfsv4.Open4res_NFS4_OK{Resok4: nfsv4.Open4resok{Stateid: sid, Cinfo: cinfo, Rflags: rflags,
		Attrset: attrset.bitmap(), Delegation: &nfsv4.OpenDelegation4_OPEN_DELEGATE_NONE{}}}
	return &nfsv4.NfsResop4_OP_OPEN{Opopen: r}, nfsv4.NFS4_OK
}

// openCreate creates (or, for UNCHECKED4 and exclusive retries, finds) the
// file name in dir.
func (c *compound) openCreate(f *fs.FileSystem, dir fileHandle, name string, how nfsv4.Createhow4) (fs.Attr, bool, attrMask, nfsv4.Nfsstat4) {
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fs.Attr{}, false, attrMask{}, st
	}
	req := fs.CreateRequest{Name: name, Type: fs.TypeRegular, Mode: defaultMode(fs.TypeRegular)}
	var fattr *nfsv4.Fattr4
	switch h := how.(type) {
	case *nfsv4.Createhow4_UNCHECKED4:
		req.How, fattr = fs.Unchecked, &h.Createattrs
	case *nfsv4.Createhow4_GUARDED4:
		req.How, fattr = fs.Guarded, &h.Createattrs
	case *nfsv4.Createhow4_EXCLUSIVE4:
		req.How, req.Verifier = fs.Exclusive, h.Createverf
	case *nfsv4.Createhow4_EXCLUSIVE4_1:
		if c.minor == 0 {
			return fs.Attr{}, false, attrMask{}, nfsv4.NFS4ERR_INVAL
		}
		req.How, req.Verifier, fattr = fs.Exclusive, h.ChCreateboth.CvaVerf, &h.ChCreateboth.CvaAttrs
	default:
		return fs.Attr{}, false, attrMask{}, nfsv4.NFS4ERR_INVAL
	}
	var na newAttrs
	if fattr != nil {
		var st nfsv4.Nfsstat4
		if na, st = decodeSetAttrs(c.minor, fattr); st != nfsv4.NFS4_OK {
			return fs.Attr{}, false, attrMask{}, st
		}
		if req.How == fs.Exclusive && !na.mask.andNot(exclCreatAttrs).empty() {
			return fs.Attr{}, false, attrMask{}, nfsv4.NFS4ERR_INVAL
		}
	}
	if na.set.Mode != nil {
		req.Mode = *na.set.Mode
	}
	req.UID, req.GID = na.set.UID, na.set.GID
	attr, created, err := f.Make(c.ctx, &c.caller, dir.ino, req)
	if err != nil {
		return fs.Attr{}, false, attrMask{}, statusOf(err)
	}
	var rest fs.SetAttrs
	var set attrMask
	if created {
		set = na.mask
		rest = fs.SetAttrs{Atime: na.set.Atime, Mtime: na.set.Mtime}
		if na.set.Size != nil && *na.set.Size != 0 {
			rest.Size = na.set.Size
		}
	} else if req.How == fs.Unchecked && na.set.Size != nil {
		// An existing file keeps its attributes, but O_TRUNC arrives as a
		// size here.
		rest.Size = na.set.Size
		set = maskOf(nfsv4.FATTR4_SIZE)
		if st := c.openAccess(f, c.handle(&attr), nfsv4.OPEN4_SHARE_ACCESS_WRITE); st != nfsv4.NFS4_OK {
			return fs.Attr{}, false, attrMask{}, st
		}
	}
	if rest != (fs.SetAttrs{}) {
		if attr, err = c.setAttr(f, attr.Ino, rest); err != nil {
			return fs.Attr{}, false, attrMask{}, statusOf(err)
		}
	}
	return attr, created, set, nfsv4.NFS4_OK
}

// openAccess checks that the caller may open fh with the share access
// asked. As knfsd does, read access is granted where execute is, so that
// programs can be run.
func (c *compound) openAccess(f *fs.FileSystem, fh fileHandle, access uint32) nfsv4.Nfsstat4 {
	var want uint32
	if access&nfsv4.OPEN4_SHARE_ACCESS_READ != 0 {
		want |= fs.MayRead | fs.MayExec
	}
	if access&nfsv4.OPEN4_SHARE_ACCESS_WRITE != 0 {
		if st := c.mayWrite(); st != nfsv4.NFS4_OK {
			return st
		}
		want |= fs.MayWrite
	}
	got, err := f.Access(c.ctx, &c.caller, fh.ino, want)
	if err != nil {
		return statusOf(err)
	}
	if access&nfsv4.OPEN4_SHARE_ACCESS_READ != 0 && got&(fs.MayRead|fs.MayExec) == 0 {
		return nfsv4.NFS4ERR_ACCESS
	}
	if access&nfsv4.OPEN4_SHARE_ACCESS_WRITE != 0 && got&fs.MayWrite == 0 {
		return nfsv4.NFS4ERR_ACCESS
	}
	return nfsv4.NFS4_OK
}

func (c *compound) opOpenConfirm(a *nfsv4.OpenConfirm4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		return errorResult(nfsv4.OP_OPEN_CONFIRM, st), st
	}
	if !c.hasCur {
		return fail(nfsv4.NFS4ERR_NOFILEHANDLE)
	}
	p := c.p
	now := p.lock()
	defer p.unlock()
	s := p.mu.states[a.OpenStateid.Other]
	switch {
	case s == nil || s.owner.client.key.fsID != c.fsID:
		return fail(nfsv4.NFS4ERR_BAD_STATEID)
	case s.isLock():
		return fail(nfsv4.NFS4ERR_BAD_STATEID)
	}
	o := s.owner
	rp, st := c.beginOwnerLocked(o, a.Seqid, nfsv4.OP_OPEN_CONFIRM)
	if rp != nil {
		return c.replayed(rp)
	}
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	turn := ownerTurn{o: o, seqid: a.Seqid, op: nfsv4.OP_OPEN_CONFIRM}
	var r nfsv4.NfsResop4
	switch {
	case a.OpenStateid.Seqid != s.seqid:
		st = nfsv4.NFS4ERR_BAD_STATEID
		if seqLess(a.OpenStateid.Seqid, s.seqid) {
			st = nfsv4.NFS4ERR_OLD_STATEID
		}
	case s.file != keyOf(c.cur):
		st = nfsv4.NFS4ERR_BAD_STATEID
	case o.confirmed:
		st = nfsv4.NFS4ERR_BAD_STATEID
	default:
		o.confirmed = true
		o.client.lastRenew = now
		s.bump()
		r = &nfsv4.NfsResop4_OP_OPEN_CONFIRM{OpopenConfirm: &nfsv4.OpenConfirm4res_NFS4_OK{
			Resok4: nfsv4.OpenConfirm4resok{OpenStateid: s.stateid()}}}
	}
	if r == nil {
		r = errorResult(nfsv4.OP_OPEN_CONFIRM, st)
	}
	c.endOwnerLocked(turn, r, st)
	return r, st
}

// openStateLocked resolves the open stateid of CLOSE and OPEN_DOWNGRADE
// for the current file.
func (c *compound) openStateLocked(sid nfsv4.Stateid4) (*state, nfsv4.Nfsstat4) {
	if !c.hasCur {
		return nil, nfsv4.NFS4ERR_NOFILEHANDLE
	}
	sid, st := c.resolveStateid(sid)
	if st != nfsv4.NFS4_OK {
		return nil, st
	}
	if sid == anonymousStateid || sid == bypassStateid {
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	s, st := c.p.findStateLocked(c, sid)
	if st != nfsv4.NFS4_OK {
		return nil, st
	}
	if s.isLock() || s.file != keyOf(c.cur) {
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	return s, nfsv4.NFS4_OK
}

// ownerOfStateidLocked finds the owner of a stateid for the NFSv4.0 seqid
// check, which comes before the stateid's own checks (RFC 7530 §9.1.7).
func (p *Program) ownerOfStateidLocked(c *compound, sid nfsv4.Stateid4) *stateOwner {
	if c.minor != 0 {
		return nil
	}
	if s := p.mu.states[sid.Other]; s != nil && s.owner.client.key.fsID == c.fsID {
		return s.owner
	}
	return nil
}

// inOwnerTurnLocked runs body as an operation of the NFSv4.0 owner of sid,
// under its seqid rules (RFC 7530 §9.1.7): a retransmission gets the reply
// recorded for it, a seqid out of order fails, and body's result is
// recorded as the owner's last reply. Without an owner (NFSv4.1, or a
// stateid of no known owner, which body then refuses) body just runs.
func (c *compound) inOwnerTurnLocked(sid nfsv4.Stateid4, seqid uint32, op nfsv4.NfsOpnum4, body func() (nfsv4.NfsResop4, nfsv4.Nfsstat4)) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	o := c.p.ownerOfStateidLocked(c, sid)
	if o == nil {
		return body()
	}
	rp, st := c.beginOwnerLocked(o, seqid, op)
	if rp != nil {
		return c.replayed(rp)
	}
	if st != nfsv4.NFS4_OK {
		return errorResult(op, st), st
	}
	r, st := body()
	c.endOwnerLocked(ownerTurn{o: o, seqid: seqid, op: op}, r, st)
	return r, st
}

func (c *compound) opOpenDowngrade(a *nfsv4.OpenDowngrade4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		return errorResult(nfsv4.OP_OPEN_DOWNGRADE, st), st
	}
	p := c.p
	now := p.lock()
	defer p.unlock()
	return c.inOwnerTurnLocked(a.OpenStateid, a.Seqid, nfsv4.OP_OPEN_DOWNGRADE, func() (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		s, st := c.openStateLocked(a.OpenStateid)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		access := a.ShareAccess &^ shareAccessWantBits
		if access == 0 || access&^s.access != 0 || a.ShareDeny != nfsv4.OPEN4_SHARE_DENY_NONE {
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		s.access = access
		s.bump()
		s.owner.client.lastRenew = now
		sid := s.stateid()
		c.setCurrentStateid(sid)
		return &nfsv4.NfsResop4_OP_OPEN_DOWNGRADE{OpopenDowngrade: &nfsv4.OpenDowngrade4res_NFS4_OK{
			Resok4: nfsv4.OpenDowngrade4resok{OpenStateid: sid}}}, nfsv4.NFS4_OK
	})
}

func (c *compound) opClose(a *nfsv4.Close4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) { return errorResult(nfsv4.OP_CLOSE, st), st }
	p := c.p
	now := p.lock()
	defer p.unlock()
	return c.inOwnerTurnLocked(a.OpenStateid, a.Seqid, nfsv4.OP_CLOSE, func() (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		s, st := c.openStateLocked(a.OpenStateid)
		if st != nfsv4.NFS4_OK {
			return fail(st)
		}
		o := s.owner
		o.client.lastRenew = now
		// Locks still held through this open are released with it.
		p.removeStateLocked(s)
		c.hasCurSid = false
		// The stateid is dead; knfsd and RFC 8881 §18.2.4 answer the
		// invalid special stateid, which clients ignore.
		return &nfsv4.NfsResop4_OP_CLOSE{Opclose: &nfsv4.Close4res_NFS4_OK{OpenStateid: invalidStateid}}, nfsv4.NFS4_OK
	})
}

// ioTarget returns the current filehandle, which must be a regular file,
// for an operation on its data under stateid sid: one that reads (READ,
// SEEK) or one that writes (WRITE, ALLOCATE, DEALLOCATE).
func (c *compound) ioTarget(sid nfsv4.Stateid4, write bool) (fileHandle, *fs.FileSystem, nfsv4.Nfsstat4) {
	fh, f, st := c.current()
	if st == nfsv4.NFS4_OK {
		st = c.regularFile(fh)
	}
	if st == nfsv4.NFS4_OK && write {
		st = c.mayWrite()
	}
	if st == nfsv4.NFS4_OK {
		st = c.checkIOStateid(sid, fh, write)
	}
	return fh, f, st
}

func (c *compound) opRead(a *nfsv4.Read4args) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	fail := func(st nfsv4.Nfsstat4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
		return &nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_default{Status: st}}, st
	}
	fh, f, st := c.ioTarget(a.Stateid, false)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	count := min(int(a.Count), MaxIOBytes)
	if c.sess != nil {
		count = max(0, min(count, int(c.sess.fore.CaMaxresponsesize)-1024))
	}
	parts, n, eof, err := f.ReadParts(c.ctx, &c.caller, fh.ino, a.Offset, count)
	if err != nil {
		return fail(statusOf(err))
	}
	return newReadResult(eof, parts, n), nfsv4.NFS4_OK
}

// mayKeepWriteData reports whether the write-back buffer may keep a WRITE's
// data of n bytes in its request's record of reqBytes instead of a copy.
// Keeping the data keeps the whole record, while the buffer counts only
// the data against its cap: the data must be at least half the record, so
// that what the buffers hold stays within twice what they count (a
// 1-byte WRITE in a megabyte COMPOUND is copied).
func mayKeepWriteData(n, reqBytes int) bool { return n > 0 && 2*n >= reqBytes }

func (c *compound) opWrite(a *nfsv4.Write4args) nfsv4.Write4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Write4res { return &nfsv4.Write4res_default{Status: st} }
	fh, f, st := c.ioTarget(a.Stateid, true)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if a.Stable < nfsv4.UNSTABLE4 || a.Stable > nfsv4.FILE_SYNC4 {
		return fail(nfsv4.NFS4ERR_INVAL)
	}
	// An UNSTABLE4 write is buffered by fs and answered before it is
	// durable; COMMIT makes it so, and the write verifier, which changes
	// on every restart, tells the client to resend what a crash lost
	// (RFC 8881 §18.32.3). DATA_SYNC4 and FILE_SYNC4 writes are durable,
	// data and metadata, when fs.Write returns.
	committed := nfsv4.FILE_SYNC4
	var err error
	if a.Stable == nfsv4.UNSTABLE4 {
		committed = nfsv4.UNSTABLE4
		if mayKeepWriteData(len(a.Data), c.reqBytes) {
			// The data lives in the request's record, which the RPC
			// server handed over (readArgs): the buffer may keep it.
			_, err = f.WriteUnstableOwned(c.ctx, &c.caller, fh.ino, a.Offset, a.Data)
		} else {
			_, err = f.WriteUnstable(c.ctx, &c.caller, fh.ino, a.Offset, a.Data)
		}
	} else {
		_, err = f.Write(c.ctx, &c.caller, fh.ino, a.Offset, a.Data)
	}
	if err != nil {
		return fail(statusOf(err))
	}
	return &nfsv4.Write4res_NFS4_OK{Resok4: nfsv4.Write4resok{Count: uint32(len(a.Data)),
		Committed: committed, Writeverf: c.p.writeVerf}}
}

func (c *compound) opCommit(a *nfsv4.Commit4args) nfsv4.Commit4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Commit4res { return &nfsv4.Commit4res_default{Status: st} }
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.regularFile(fh); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if err := f.Commit(c.ctx, fh.ino); err != nil {
		return fail(statusOf(err))
	}
	return &nfsv4.Commit4res_NFS4_OK{Resok4: nfsv4.Commit4resok{Writeverf: c.p.writeVerf}}
}
