package nfs

import (
	"encoding/binary"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// NFS state (DESIGN.md decision 7) lives in memory under Program.mu, one
// coarse lock as in bb-remote-execution: clients, their sessions, open and
// lock owners, stateids and byte-range locks. Leases are checked lazily:
// every request that takes the lock first reaps clients whose lease ran out
// (at most once a second), which releases all their state.

// ownerKey names a client across its incarnations: the client owner string
// (co_ownerid, or nfs_client_id4.id in 4.0) as presented to one file
// system. Each file system is its own NFS server (its own server owner and
// scope), so the same host mounting two of them is two clients.
type ownerKey struct {
	fsID  string
	owner string
}

// client is one client ID (RFC 8881 §2.4).
type client struct {
	id        uint64
	key       ownerKey
	verifier  [8]byte
	minor     uint32
	confirmed bool
	lastRenew time.Time
	removed   bool

	// NFSv4.1: the sequence ID the next CREATE_SESSION must carry and the
	// reply of the last one, for a retry (RFC 8881 §18.36.4).
	csSeq    uint32
	csReply  nfsv4.CreateSession4res
	sessions map[nfsv4.Sessionid4]*session

	// NFSv4.0: the SETCLIENTID_CONFIRM verifier.
	confirmVerf [8]byte

	openOwners map[string]*stateOwner
	lockOwners map[string]*stateOwner
	// locks counts the byte ranges this client holds (EFS: 8,192).
	locks int

	// reclaim is set when the owner had state before the server started:
	// it may reclaim during the grace period until RECLAIM_COMPLETE.
	reclaim     bool
	reclaimDone bool
}

// session is an NFSv4.1 session with its slot table (RFC 8881 §2.10).
type session struct {
	id     nfsv4.Sessionid4
	client *client
	slots  []slot
	fore   nfsv4.ChannelAttrs4
}

// slot is one entry of the reply cache.
type slot struct {
	seqid uint32
	busy  bool
	// reply is the cached COMPOUND4res of seqid; nil when it was too large
	// to keep, in which case a retry gets NFS4ERR_RETRY_UNCACHED_REP.
	reply    reply
	secondOp nfsv4.NfsOpnum4
	// seqRes is the SEQUENCE result of seqid, for uncached retries.
	seqRes nfsv4.Sequence4resok
}

// replay is the last reply of an NFSv4.0 seqid-mutating operation.
type replay struct {
	op  nfsv4.NfsOpnum4
	res nfsv4.NfsResop4
	st  nfsv4.Nfsstat4
	fh  *fileHandle // the current filehandle OPEN left
}

// stateOwner is an open owner or a lock owner (RFC 8881 §2.4.3).
type stateOwner struct {
	client *client
	owner  string
	lock   bool

	// NFSv4.0 sequencing (RFC 7530 §9.1.7).
	seqid     uint32
	hasSeqid  bool
	confirmed bool // open owners: OPEN_CONFIRM done
	last      *replay
	busy      bool
	// inflight counts the NFSv4.1 operations using the owner.
	inflight int

	states map[fileKey]*state
}

// forgetIfIdleLocked drops an NFSv4.1 owner that holds no state and is
// not in use. NFSv4.0 owners stay for their seqid replays (lock owners go
// with RELEASE_LOCKOWNER, all with the client).
func (o *stateOwner) forgetIfIdleLocked() {
	if o.client.minor != 1 || len(o.states) > 0 || o.inflight > 0 {
		return
	}
	m := o.client.openOwners
	if o.lock {
		m = o.client.lockOwners
	}
	if m[o.owner] == o {
		delete(m, o.owner)
	}
}

// fileKey names a file across file systems.
type fileKey struct {
	fsID string
	ino  uint64
}

func keyOf(fh fileHandle) fileKey { return fileKey{fsID: fh.fsID, ino: fh.ino} }

// state is an open or a lock stateid.
type state struct {
	other [nfsv4.NFS4_OTHER_SIZE]byte
	seqid uint32
	owner *stateOwner
	file  fileKey
	fh    fileHandle

	// Open state: the share access and deny bits granted, and the lock
	// states derived from it.
	access, deny uint32
	locks        map[*stateOwner]*state
	// Lock state: the open it was derived from.
	open *state
}

func (s *state) stateid() nfsv4.Stateid4 { return nfsv4.Stateid4{Seqid: s.seqid, Other: s.other} }

func (s *state) isLock() bool { return s.owner.lock }

// bump advances the stateid's seqid, skipping 0, which NFSv4.1 reserves.
func (s *state) bump() {
	s.seqid++
	if s.seqid == 0 {
		s.seqid = 1
	}
}

// fileState holds the byte-range locks of one file.
type fileState struct {
	locks []lockRange
}

// graceState tracks the grace period of one file system after a start.
type graceState struct {
	until time.Time
	// pending holds the owners that had state and have not finished
	// reclaiming; returned marks those that came back.
	pending map[string]bool
}

// Special stateids (RFC 8881 §8.2.3).
var (
	anonymousStateid = nfsv4.Stateid4{}
	bypassStateid    = nfsv4.Stateid4{Seqid: nfsv4.NFS4_UINT32_MAX,
		Other: [12]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	currentStateid = nfsv4.Stateid4{Seqid: 1}
	invalidStateid = nfsv4.Stateid4{Seqid: nfsv4.NFS4_UINT32_MAX}
)

// lock takes Program.mu and reaps expired clients first. It returns the
// time to use for the request.
func (p *Program) lock() time.Time {
	now := p.clock.Now()
	p.mu.Lock()
	if now.Sub(p.mu.lastReap) >= time.Second || now.Before(p.mu.lastReap) {
		p.mu.lastReap = now
		p.reapLocked(now)
	}
	return now
}

func (p *Program) unlock() { p.mu.Unlock() }

// reapLocked expires clients whose lease ran out and ends grace periods.
func (p *Program) reapLocked(now time.Time) {
	for _, cl := range p.mu.clients {
		// Unconfirmed records carry no state and go after a lease too.
		if now.Sub(cl.lastRenew) > p.opts.LeaseTime && !p.clientBusyLocked(cl) {
			if cl.confirmed {
				p.log.Info("nfs client lease expired", "fs_id", cl.key.fsID, "client_id", cl.id)
			}
			p.removeClientLocked(cl, true)
		}
	}
	for fsID := range p.mu.grace {
		p.inGraceLocked(fsID, now)
	}
}

// clientBusyLocked reports whether a request of cl is running in a slot.
func (p *Program) clientBusyLocked(cl *client) bool {
	for _, s := range cl.sessions {
		for i := range s.slots {
			if s.slots[i].busy {
				return true
			}
		}
	}
	return false
}

// inGraceLocked reports whether file system fsID is in its grace period,
// ending it when its time is up or every client finished reclaiming.
func (p *Program) inGraceLocked(fsID string, now time.Time) bool {
	g := p.mu.grace[fsID]
	if g == nil {
		return false
	}
	if now.Before(g.until) && len(g.pending) > 0 {
		return true
	}
	for owner, returned := range g.pending {
		if !returned {
			// The client did not come back: its record goes.
			p.mu.forget = append(p.mu.forget, ownerKey{fsID: fsID, owner: owner})
		}
	}
	delete(p.mu.grace, fsID)
	p.log.Info("nfs grace period over", "fs_id", fsID)
	return false
}

// newIDLocked returns a fresh client ID: the boot ID then a counter, so
// that IDs of an earlier instance are stale.
func (p *Program) newIDLocked() uint64 {
	p.mu.nextID++
	return uint64(p.bootID)<<32 | uint64(p.mu.nextID)
}

// newStateLocked registers a new open or lock state.
func (p *Program) newStateLocked(o *stateOwner, fh fileHandle) *state {
	p.mu.nextSeq++
	s := &state{seqid: 1, owner: o, file: keyOf(fh), fh: fh}
	binary.BigEndian.PutUint32(s.other[:4], p.bootID)
	binary.BigEndian.PutUint64(s.other[4:], p.mu.nextSeq)
	p.mu.states[s.other] = s
	o.states[s.file] = s
	return s
}

// removeStateLocked forgets s, and for an open every lock state derived
// from it together with its byte ranges. An NFSv4.1 owner left without
// state is forgotten too (4.0 owners stay for their seqid replays).
func (p *Program) removeStateLocked(s *state) {
	delete(p.mu.states, s.other)
	if cur := s.owner.states[s.file]; cur == s {
		delete(s.owner.states, s.file)
	}
	s.owner.forgetIfIdleLocked()
	if s.isLock() {
		p.unlockRangeLocked(s.owner, s.file, 0, ^uint64(0))
		if s.open != nil {
			delete(s.open.locks, s.owner)
		}
		return
	}
	for _, ls := range s.locks {
		p.removeStateLocked(ls)
	}
}

// ownerLocked returns the open or lock owner of cl named owner, creating it.
func (p *Program) ownerLocked(cl *client, owner []byte, lock bool) (o *stateOwner, created bool) {
	m := cl.openOwners
	if lock {
		m = cl.lockOwners
	}
	if o := m[string(owner)]; o != nil {
		return o, false
	}
	o = &stateOwner{client: cl, owner: string(owner), lock: lock, states: map[fileKey]*state{}}
	m[o.owner] = o
	return o, true
}

// removeClientLocked drops cl and all its state. forget also deletes the
// persisted record, unless another incarnation of the owner lives on.
func (p *Program) removeClientLocked(cl *client, forget bool) {
	if cl.removed {
		return
	}
	cl.removed = true
	for id := range cl.sessions {
		delete(p.mu.sessions, id)
	}
	for _, o := range cl.lockOwners {
		for _, s := range o.states {
			p.removeStateLocked(s)
		}
	}
	for _, o := range cl.openOwners {
		for _, s := range o.states {
			p.removeStateLocked(s)
		}
	}
	delete(p.mu.clients, cl.id)
	list := p.mu.byOwner[cl.key]
	for i, c := range list {
		if c == cl {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.mu.byOwner, cl.key)
	} else {
		p.mu.byOwner[cl.key] = list
	}
	if forget && cl.confirmed && len(list) == 0 {
		p.mu.forget = append(p.mu.forget, cl.key)
	}
}

// confirmedLocked returns the confirmed client of key, if any.
func (p *Program) confirmedLocked(key ownerKey) *client {
	for _, c := range p.mu.byOwner[key] {
		if c.confirmed {
			return c
		}
	}
	return nil
}

// unconfirmedLocked returns the unconfirmed client of key, if any.
func (p *Program) unconfirmedLocked(key ownerKey) *client {
	for _, c := range p.mu.byOwner[key] {
		if !c.confirmed {
			return c
		}
	}
	return nil
}

// newClientLocked registers a new unconfirmed client.
func (p *Program) newClientLocked(key ownerKey, verifier [8]byte, minor uint32, now time.Time) *client {
	cl := &client{id: p.newIDLocked(), key: key, verifier: verifier, minor: minor, lastRenew: now,
		sessions: map[nfsv4.Sessionid4]*session{}, openOwners: map[string]*stateOwner{},
		lockOwners: map[string]*stateOwner{}, csSeq: 1}
	if g := p.mu.grace[key.fsID]; g != nil {
		if _, ok := g.pending[key.owner]; ok {
			cl.reclaim = true
			g.pending[key.owner] = true
		}
	}
	p.mu.clients[cl.id] = cl
	p.mu.byOwner[key] = append(p.mu.byOwner[key], cl)
	return cl
}

// finishReclaimLocked ends cl's reclaim (RECLAIM_COMPLETE).
func (p *Program) finishReclaimLocked(cl *client) {
	cl.reclaimDone = true
	if g := p.mu.grace[cl.key.fsID]; g != nil {
		delete(g.pending, cl.key.owner)
	}
}

// findStateLocked resolves a (non-special) stateid for compound c.
func (p *Program) findStateLocked(c *compound, sid nfsv4.Stateid4) (*state, nfsv4.Nfsstat4) {
	if binary.BigEndian.Uint32(sid.Other[:4]) != p.bootID {
		return nil, nfsv4.NFS4ERR_STALE_STATEID
	}
	s := p.mu.states[sid.Other]
	if s == nil || s.owner.client.key.fsID != c.fsID {
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	if c.minor >= 1 && c.cl != nil && s.owner.client != c.cl {
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	switch {
	case sid.Seqid == 0 && c.minor >= 1:
	case seqLess(sid.Seqid, s.seqid):
		return nil, nfsv4.NFS4ERR_OLD_STATEID
	case sid.Seqid != s.seqid:
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	if c.minor == 0 && !s.isLock() && !s.owner.confirmed {
		return nil, nfsv4.NFS4ERR_BAD_STATEID
	}
	return s, nfsv4.NFS4_OK
}

// seqLess compares seqids with wraparound (RFC 1982 style).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// resolveStateid replaces the current stateid by the compound's
// (NFSv4.1).
func (c *compound) resolveStateid(sid nfsv4.Stateid4) (nfsv4.Stateid4, nfsv4.Nfsstat4) {
	if c.minor >= 1 && sid == currentStateid {
		if !c.hasCurSid {
			return sid, nfsv4.NFS4ERR_BAD_STATEID
		}
		return c.curSid, nfsv4.NFS4_OK
	}
	return sid, nfsv4.NFS4_OK
}

// checkIOStateid validates the stateid of READ, WRITE or SETATTR of the
// size on fh: a special stateid, or an open or lock stateid of this file
// whose open allows the access (RFC 8881 §8.2.2). Locks are advisory, as in
// EFS, so no byte-range check is made.
func (c *compound) checkIOStateid(sid nfsv4.Stateid4, fh fileHandle, write bool) nfsv4.Nfsstat4 {
	sid, st := c.resolveStateid(sid)
	if st != nfsv4.NFS4_OK {
		return st
	}
	switch sid {
	case anonymousStateid:
		return nfsv4.NFS4_OK
	case bypassStateid:
		if write {
			return nfsv4.NFS4ERR_BAD_STATEID
		}
		return nfsv4.NFS4_OK
	}
	p := c.p
	now := p.lock()
	defer p.unlock()
	s, st := p.findStateLocked(c, sid)
	if st != nfsv4.NFS4_OK {
		return st
	}
	if s.file != keyOf(fh) {
		return nfsv4.NFS4ERR_BAD_STATEID
	}
	open := s
	if s.isLock() {
		open = s.open
	}
	if open == nil {
		return nfsv4.NFS4ERR_BAD_STATEID
	}
	// Reading is allowed through any open, as knfsd does: a client reads
	// to fill partial pages of a file it opened for writing.
	if write && open.access&nfsv4.OPEN4_SHARE_ACCESS_WRITE == 0 {
		return nfsv4.NFS4ERR_OPENMODE
	}
	s.owner.client.lastRenew = now
	return nfsv4.NFS4_OK
}
