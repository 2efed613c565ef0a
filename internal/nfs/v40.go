package nfs

import (
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// NFSv4.0 client IDs (RFC 7530 §9.1.1, §16.33–16.34) and the seqid rules
// of open and lock owners (RFC 7530 §9.1.7).

func (c *compound) opSetClientID(a *nfsv4.Setclientid4args) nfsv4.Setclientid4res {
	if len(a.Client.Id) == 0 {
		return &nfsv4.Setclientid4res_default{Status: nfsv4.NFS4ERR_INVAL}
	}
	key := ownerKey{fsID: c.fsID, owner: string(a.Client.Id)}
	p := c.p
	now := p.lock()
	defer p.unlock()
	var cl *client
	if conf := p.confirmedLocked(key); conf != nil && conf.minor == 0 && conf.verifier == a.Client.Verifier {
		// The same incarnation updates its callback: shelf sends no
		// callbacks, so there is nothing to change but the confirm
		// verifier.
		cl = conf
	} else {
		if old := p.unconfirmedLocked(key); old != nil {
			p.removeClientLocked(old, false)
		}
		if len(p.mu.clients) >= maxClients {
			return &nfsv4.Setclientid4res_default{Status: nfsv4.NFS4ERR_RESOURCE}
		}
		cl = p.newClientLocked(key, a.Client.Verifier, 0, now)
	}
	copy(cl.confirmVerf[:], randomBytes(8))
	cl.lastRenew = now
	return &nfsv4.Setclientid4res_NFS4_OK{Resok4: nfsv4.Setclientid4resok{Clientid: cl.id, SetclientidConfirm: cl.confirmVerf}}
}

func (c *compound) opSetClientIDConfirm(a *nfsv4.SetclientidConfirm4args) nfsv4.Nfsstat4 {
	p := c.p
	for attempt := 0; ; attempt++ {
		now := p.lock()
		cl := p.mu.clients[a.Clientid]
		if cl == nil || cl.key.fsID != c.fsID || cl.minor != 0 || cl.confirmVerf != a.SetclientidConfirm {
			p.unlock()
			return nfsv4.NFS4ERR_STALE_CLIENTID
		}
		if cl.confirmed {
			cl.lastRenew = now
			p.unlock()
			return nfsv4.NFS4_OK
		}
		if attempt == 0 && p.records.store != nil {
			key := cl.key
			p.unlock()
			if err := p.records.put(c.ctx, key); err != nil {
				p.log.Warn("nfs: store client record", "fs_id", key.fsID, "err", err)
				return nfsv4.NFS4ERR_DELAY
			}
			continue
		}
		if old := p.confirmedLocked(cl.key); old != nil {
			p.removeClientLocked(old, false)
		}
		cl.confirmed = true
		cl.lastRenew = now
		p.unlock()
		return nfsv4.NFS4_OK
	}
}

func (c *compound) opRenew(id uint64) nfsv4.Nfsstat4 {
	p := c.p
	now := p.lock()
	defer p.unlock()
	cl, st := p.client40Locked(c, id)
	if st == nfsv4.NFS4_OK {
		cl.lastRenew = now
	}
	return st
}

// client40Locked returns the confirmed NFSv4.0 client id.
func (p *Program) client40Locked(c *compound, id uint64) (*client, nfsv4.Nfsstat4) {
	cl := p.mu.clients[id]
	if cl == nil || cl.key.fsID != c.fsID || !cl.confirmed || cl.minor != c.minor {
		return nil, nfsv4.NFS4ERR_STALE_CLIENTID
	}
	return cl, nfsv4.NFS4_OK
}

// seqidVerdict is what the NFSv4.0 owner seqid rules say of a request.
type seqidVerdict int

const (
	seqidNew    seqidVerdict = iota // the next seqid: process it
	seqidReplay                     // the last seqid: answer the cached reply
	seqidBad                        // anything else: NFS4ERR_BAD_SEQID
)

// checkSeqidLocked applies RFC 7530 §9.1.7 to owner o for an operation op.
// In NFSv4.1 seqids are ignored (sessions give exactly-once semantics).
func (c *compound) checkSeqidLocked(o *stateOwner, seqid uint32, op nfsv4.NfsOpnum4) seqidVerdict {
	if c.minor != 0 || !o.hasSeqid {
		return seqidNew
	}
	switch seqid {
	case o.seqid + 1:
		return seqidNew
	case o.seqid:
		if o.last != nil && o.last.op == op {
			return seqidReplay
		}
	}
	return seqidBad
}

// seqidAdvances reports whether a reply with status st consumes the seqid
// (RFC 7530 §9.1.7: these errors leave it unchanged).
func seqidAdvances(st nfsv4.Nfsstat4) bool {
	switch st {
	case nfsv4.NFS4ERR_STALE_CLIENTID, nfsv4.NFS4ERR_STALE_STATEID, nfsv4.NFS4ERR_BAD_STATEID,
		nfsv4.NFS4ERR_BAD_SEQID, nfsv4.NFS4ERR_BADXDR, nfsv4.NFS4ERR_RESOURCE, nfsv4.NFS4ERR_NOFILEHANDLE,
		nfsv4.NFS4ERR_MOVED:
		return false
	}
	return true
}

// recordSeqidLocked stores the reply of a seqid-mutating operation of
// owner o for replays.
func (c *compound) recordSeqidLocked(o *stateOwner, seqid uint32, op nfsv4.NfsOpnum4, r nfsv4.NfsResop4, st nfsv4.Nfsstat4) {
	if c.minor != 0 || !seqidAdvances(st) {
		return
	}
	o.seqid, o.hasSeqid = seqid, true
	rp := &replay{op: op, res: r, st: st}
	if c.hasCur {
		fh := c.cur
		rp.fh = &fh
	}
	o.last = rp
}
