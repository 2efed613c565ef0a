package nfs

import (
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
)

// NFSv4.1 client IDs and sessions (RFC 8881 §2.4, §2.10, §18.35–18.51).

// run41 executes an NFSv4.1 COMPOUND and returns the encoded reply. Only
// a few operations may start a COMPOUND without SEQUENCE, and then alone.
func (c *compound) run41(ops []decodedOp, res *nfsv4.Compound4res) reply {
	res.Status = nfsv4.NFS4_OK
	if len(ops) == 0 {
		return encodeReply(res)
	}
	first := ops[0]
	one := func(r nfsv4.NfsResop4, st nfsv4.Nfsstat4) reply {
		res.Resarray, res.Status = []nfsv4.NfsResop4{r}, st
		return encodeReply(res)
	}
	if first.arg == nil {
		return one(errorResult(first.code, first.err), first.err)
	}
	switch a := first.arg.(type) {
	case *nfsv4.NfsArgop4_OP_SEQUENCE:
		return c.sequence(&a.Opsequence, ops, res)
	case *nfsv4.NfsArgop4_OP_EXCHANGE_ID, *nfsv4.NfsArgop4_OP_CREATE_SESSION, *nfsv4.NfsArgop4_OP_DESTROY_SESSION,
		*nfsv4.NfsArgop4_OP_DESTROY_CLIENTID, *nfsv4.NfsArgop4_OP_BIND_CONN_TO_SESSION:
		if len(ops) > 1 {
			return one(errorResult(first.code, nfsv4.NFS4ERR_NOT_ONLY_OP), nfsv4.NFS4ERR_NOT_ONLY_OP)
		}
		return one(c.exec(first))
	}
	if legal, st := c.legal(first.code); !legal {
		return one(illegalResult(first.code, st), st)
	}
	return one(errorResult(first.code, nfsv4.NFS4ERR_OP_NOT_IN_SESSION), nfsv4.NFS4ERR_OP_NOT_IN_SESSION)
}

// sequence runs a COMPOUND that starts with SEQUENCE: it checks the slot,
// answers a retry from the reply cache (exactly-once semantics, RFC 8881
// §2.10.6), and caches the new reply.
func (c *compound) sequence(a *nfsv4.Sequence4args, ops []decodedOp, res *nfsv4.Compound4res) reply {
	p := c.p
	fail := func(st nfsv4.Nfsstat4) reply {
		res.Status, res.Resarray = st, []nfsv4.NfsResop4{errorResult(nfsv4.OP_SEQUENCE, st)}
		return encodeReply(res)
	}
	now := p.lock()
	sess := p.mu.sessions[a.SaSessionid]
	if sess == nil || sess.client.key.fsID != c.fsID {
		p.unlock()
		return fail(nfsv4.NFS4ERR_BADSESSION)
	}
	if a.SaSlotid >= uint32(len(sess.slots)) {
		p.unlock()
		return fail(nfsv4.NFS4ERR_BADSLOT)
	}
	if uint32(len(ops)) > sess.fore.CaMaxoperations {
		p.unlock()
		return fail(nfsv4.NFS4ERR_TOO_MANY_OPS)
	}
	if uint32(c.reqBytes) > sess.fore.CaMaxrequestsize {
		p.unlock()
		return fail(nfsv4.NFS4ERR_REQ_TOO_BIG)
	}
	sl := &sess.slots[a.SaSlotid]
	switch a.SaSequenceid {
	case sl.seqid:
		defer p.unlock()
		if sl.busy {
			return fail(nfsv4.NFS4ERR_DELAY)
		}
		sess.client.lastRenew = now
		if sl.reply != nil {
			return sl.reply
		}
		res.Resarray = []nfsv4.NfsResop4{&nfsv4.NfsResop4_OP_SEQUENCE{Opsequence: &nfsv4.Sequence4res_NFS4_OK{SrResok4: sl.seqRes}}}
		if sl.secondOp != 0 {
			res.Status = nfsv4.NFS4ERR_RETRY_UNCACHED_REP
			res.Resarray = append(res.Resarray, errorResult(sl.secondOp, res.Status))
		}
		return encodeReply(res)
	case sl.seqid + 1:
	default:
		p.unlock()
		return fail(nfsv4.NFS4ERR_SEQ_MISORDERED)
	}
	sl.seqid, sl.busy, sl.reply, sl.secondOp = a.SaSequenceid, true, nil, 0
	sess.client.lastRenew = now
	c.sess, c.slot, c.cl = sess, a.SaSlotid, sess.client
	highest := uint32(len(sess.slots) - 1)
	seqRes := nfsv4.Sequence4resok{SrSessionid: sess.id, SrSequenceid: a.SaSequenceid, SrSlotid: a.SaSlotid,
		SrHighestSlotid: highest, SrTargetHighestSlotid: highest}
	sl.seqRes = seqRes
	if len(ops) > 1 {
		sl.secondOp = ops[1].code
	}
	p.unlock()

	var out reply
	defer func() {
		p.mu.Lock()
		sl.busy = false
		// A reply is kept when the client asks (Linux does for operations
		// that are not idempotent) or when it is small, so that most
		// retries see the same bytes while a session pins at most
		// slots × maxCachedReplyBytes (a kept reply is flat: it pins no
		// cached block); others retry with NFS4ERR_RETRY_UNCACHED_REP.
		if n := out.size(); n <= smallReplyBytes || (a.SaCachethis && n <= maxCachedReplyBytes) {
			sl.reply = out.flat()
		}
		p.mu.Unlock()
	}()
	res.Resarray = []nfsv4.NfsResop4{&nfsv4.NfsResop4_OP_SEQUENCE{Opsequence: &nfsv4.Sequence4res_NFS4_OK{SrResok4: seqRes}}}
	for _, op := range ops[1:] {
		r, st := c.exec(op)
		res.Resarray = append(res.Resarray, r)
		if st != nfsv4.NFS4_OK {
			res.Status = st
			break
		}
	}
	out = encodeReply(res)
	return out
}

// serverOwner names the NFS server a file system is: each file system is a
// server of its own, so that Linux never trunks the mounts of two file
// systems onto one connection.
func serverOwner(fsID string) []byte { return []byte("shelf:" + fsID) }

func (c *compound) opExchangeID(a *nfsv4.ExchangeId4args) nfsv4.ExchangeId4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.ExchangeId4res { return &nfsv4.ExchangeId4res_default{EirStatus: st} }
	if a.EiaStateProtect.GetSpaHow() != nfsv4.SP4_NONE {
		// EFS has no Kerberos, so there is no machine credential to bind.
		return fail(nfsv4.NFS4ERR_ENCR_ALG_UNSUPP)
	}
	const known = nfsv4.EXCHGID4_FLAG_SUPP_MOVED_REFER | nfsv4.EXCHGID4_FLAG_SUPP_MOVED_MIGR |
		nfsv4.EXCHGID4_FLAG_SUPP_FENCE_OPS | nfsv4.EXCHGID4_FLAG_BIND_PRINC_STATEID |
		nfsv4.EXCHGID4_FLAG_MASK_PNFS | nfsv4.EXCHGID4_FLAG_UPD_CONFIRMED_REC_A
	if a.EiaFlags&^uint32(known) != 0 || len(a.EiaClientowner.CoOwnerid) == 0 {
		return fail(nfsv4.NFS4ERR_INVAL)
	}
	key := ownerKey{fsID: c.fsID, owner: string(a.EiaClientowner.CoOwnerid)}
	verifier := a.EiaClientowner.CoVerifier
	p := c.p
	now := p.lock()
	defer p.unlock()
	conf := p.confirmedLocked(key)
	var cl *client
	switch {
	case a.EiaFlags&nfsv4.EXCHGID4_FLAG_UPD_CONFIRMED_REC_A != 0:
		if conf == nil || conf.minor != 1 {
			return fail(nfsv4.NFS4ERR_NOENT)
		}
		if conf.verifier != verifier {
			return fail(nfsv4.NFS4ERR_NOT_SAME)
		}
		cl = conf
	case conf != nil && conf.minor == 1 && conf.verifier == verifier:
		// The same incarnation asks again (RFC 8881 §18.35.4 case 2).
		cl = conf
	default:
		// A new client, or a new incarnation of a known one, which replaces
		// the confirmed one when it confirms (CREATE_SESSION).
		if old := p.unconfirmedLocked(key); old != nil {
			p.removeClientLocked(old, false)
		}
		if len(p.mu.clients) >= maxClients {
			return fail(nfsv4.NFS4ERR_DELAY)
		}
		cl = p.newClientLocked(key, verifier, 1, now)
	}
	cl.lastRenew = now
	flags := uint32(nfsv4.EXCHGID4_FLAG_USE_NON_PNFS)
	if cl.confirmed {
		flags |= nfsv4.EXCHGID4_FLAG_CONFIRMED_R
	}
	return &nfsv4.ExchangeId4res_NFS4_OK{EirResok4: nfsv4.ExchangeId4resok{
		EirClientid:     cl.id,
		EirSequenceid:   cl.csSeq,
		EirFlags:        flags,
		EirStateProtect: &nfsv4.StateProtect4R_SP4_NONE{},
		EirServerOwner:  nfsv4.ServerOwner4{SoMajorId: serverOwner(c.fsID)},
		EirServerScope:  serverOwner(c.fsID),
		EirServerImplId: []nfsv4.NfsImplId4{{NiiDomain: "github.com/shelf-efs", NiiName: "shelf"}},
	}}
}

func (c *compound) opCreateSession(a *nfsv4.CreateSession4args) nfsv4.CreateSession4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.CreateSession4res {
		return &nfsv4.CreateSession4res_default{CsrStatus: st}
	}
	p := c.p
	for attempt := 0; ; attempt++ {
		now := p.lock()
		cl := p.mu.clients[a.CsaClientid]
		if cl == nil || cl.key.fsID != c.fsID || cl.minor != 1 {
			p.unlock()
			return fail(nfsv4.NFS4ERR_STALE_CLIENTID)
		}
		switch {
		case a.CsaSequence == cl.csSeq:
		case a.CsaSequence+1 == cl.csSeq && cl.csReply != nil:
			r := cl.csReply
			p.unlock()
			return r
		default:
			p.unlock()
			return fail(nfsv4.NFS4ERR_SEQ_MISORDERED)
		}
		if !cl.confirmed && attempt == 0 && p.records.store != nil {
			// Record the client before it may hold state, so that it can
			// reclaim after a restart (RFC 8881 §8.4.3).
			key := cl.key
			p.unlock()
			if err := p.records.put(c.ctx, key); err != nil {
				p.log.Warn("nfs: store client record", "fs_id", key.fsID, "err", err)
				return fail(nfsv4.NFS4ERR_DELAY)
			}
			continue
		}
		if len(cl.sessions) >= maxSessionsPerClient {
			p.unlock()
			return fail(nfsv4.NFS4ERR_NOSPC)
		}
		if !cl.confirmed {
			if old := p.confirmedLocked(cl.key); old != nil {
				// A new incarnation of the client: the old one's state goes.
				p.removeClientLocked(old, false)
			}
			cl.confirmed = true
		}
		fa := a.CsaForeChanAttrs
		fore := nfsv4.ChannelAttrs4{
			CaMaxrequestsize:        min(fa.CaMaxrequestsize, MaxRequestBytes),
			CaMaxresponsesize:       min(fa.CaMaxresponsesize, MaxResponseBytes),
			CaMaxresponsesizeCached: min(fa.CaMaxresponsesizeCached, maxCachedReplyBytes),
			CaMaxoperations:         min(fa.CaMaxoperations, MaxOps),
			CaMaxrequests:           min(max(fa.CaMaxrequests, 1), maxSlots),
		}
		// The back channel is accepted as asked, though shelf never sends a
		// callback (it grants no delegations or layouts).
		back := a.CsaBackChanAttrs
		back.CaRdmaIrd = nil
		fore.CaRdmaIrd = nil
		sess := &session{client: cl, fore: fore, slots: make([]slot, fore.CaMaxrequests)}
		copy(sess.id[:], randomBytes(len(sess.id)))
		p.mu.sessions[sess.id] = sess
		cl.sessions[sess.id] = sess
		cl.lastRenew = now
		r := &nfsv4.CreateSession4res_NFS4_OK{CsrResok4: nfsv4.CreateSession4resok{
			CsrSessionid:     sess.id,
			CsrSequence:      a.CsaSequence,
			CsrFlags:         a.CsaFlags & nfsv4.CREATE_SESSION4_FLAG_CONN_BACK_CHAN,
			CsrForeChanAttrs: fore,
			CsrBackChanAttrs: back,
		}}
		cl.csReply = r
		cl.csSeq++
		p.unlock()
		return r
	}
}

func (c *compound) opDestroySession(id nfsv4.Sessionid4) nfsv4.Nfsstat4 {
	p := c.p
	p.lock()
	defer p.unlock()
	sess := p.mu.sessions[id]
	if sess == nil || sess.client.key.fsID != c.fsID {
		return nfsv4.NFS4ERR_BADSESSION
	}
	delete(p.mu.sessions, id)
	delete(sess.client.sessions, id)
	return nfsv4.NFS4_OK
}

func (c *compound) opDestroyClientID(id uint64) nfsv4.Nfsstat4 {
	p := c.p
	p.lock()
	defer p.unlock()
	cl := p.mu.clients[id]
	if cl == nil || cl.key.fsID != c.fsID || cl.minor != 1 {
		return nfsv4.NFS4ERR_STALE_CLIENTID
	}
	if len(cl.sessions) > 0 || c.cl == cl {
		return nfsv4.NFS4ERR_CLIENTID_BUSY
	}
	for _, owners := range []map[string]*stateOwner{cl.openOwners, cl.lockOwners} {
		for _, o := range owners {
			if len(o.states) > 0 {
				return nfsv4.NFS4ERR_CLIENTID_BUSY
			}
		}
	}
	p.removeClientLocked(cl, true)
	return nfsv4.NFS4_OK
}

func (c *compound) opBindConnToSession(a *nfsv4.BindConnToSession4args) nfsv4.BindConnToSession4res {
	var dir nfsv4.ChannelDirFromServer4
	switch a.BctsaDir {
	case nfsv4.CDFC4_FORE:
		dir = nfsv4.CDFS4_FORE
	case nfsv4.CDFC4_BACK:
		dir = nfsv4.CDFS4_BACK
	case nfsv4.CDFC4_FORE_OR_BOTH, nfsv4.CDFC4_BACK_OR_BOTH:
		dir = nfsv4.CDFS4_BOTH
	default:
		return &nfsv4.BindConnToSession4res_default{BctsrStatus: nfsv4.NFS4ERR_INVAL}
	}
	p := c.p
	now := p.lock()
	defer p.unlock()
	sess := p.mu.sessions[a.BctsaSessid]
	if sess == nil || sess.client.key.fsID != c.fsID {
		return &nfsv4.BindConnToSession4res_default{BctsrStatus: nfsv4.NFS4ERR_BADSESSION}
	}
	sess.client.lastRenew = now
	return &nfsv4.BindConnToSession4res_NFS4_OK{BctsrResok4: nfsv4.BindConnToSession4resok{
		BctsrSessid: a.BctsaSessid, BctsrDir: dir}}
}

func (c *compound) opReclaimComplete(oneFS bool) nfsv4.Nfsstat4 {
	if oneFS {
		// Only for file systems that migrated here, which never happens.
		return nfsv4.NFS4_OK
	}
	p := c.p
	p.lock()
	defer p.unlock()
	if c.cl.reclaimDone {
		return nfsv4.NFS4ERR_COMPLETE_ALREADY
	}
	p.finishReclaimLocked(c.cl)
	return nfsv4.NFS4_OK
}

func (c *compound) opTestStateid(a *nfsv4.TestStateid4args) nfsv4.TestStateid4res {
	p := c.p
	p.lock()
	defer p.unlock()
	codes := make([]nfsv4.Nfsstat4, 0, len(a.TsStateids))
	for _, sid := range a.TsStateids {
		st := nfsv4.NFS4ERR_BAD_STATEID
		if sid != anonymousStateid && sid != bypassStateid && sid != currentStateid && sid != invalidStateid {
			_, st = p.findStateLocked(c, sid)
		}
		codes = append(codes, st)
	}
	return &nfsv4.TestStateid4res_NFS4_OK{TsrResok4: nfsv4.TestStateid4resok{TsrStatusCodes: codes}}
}

func (c *compound) opFreeStateid(sid nfsv4.Stateid4) nfsv4.Nfsstat4 {
	sid, st := c.resolveStateid(sid)
	if st != nfsv4.NFS4_OK {
		return st
	}
	p := c.p
	p.lock()
	defer p.unlock()
	s, st := p.findStateLocked(c, sid)
	if st != nfsv4.NFS4_OK {
		return st
	}
	if !s.isLock() {
		return nfsv4.NFS4ERR_LOCKS_HELD
	}
	if fl := p.mu.files[s.file]; fl != nil {
		for _, r := range fl.locks {
			if r.owner == s.owner {
				return nfsv4.NFS4ERR_LOCKS_HELD
			}
		}
	}
	p.removeStateLocked(s)
	return nfsv4.NFS4_OK
}

// secinfo is what SECINFO and SECINFO_NO_NAME offer: AUTH_SYS and
// AUTH_NONE, as EFS (no Kerberos).
func secinfo() []nfsv4.Secinfo4 {
	return []nfsv4.Secinfo4{&nfsv4.Secinfo4_default{Flavor: rpcv2.AUTH_SYS}, &nfsv4.Secinfo4_default{Flavor: rpcv2.AUTH_NONE}}
}
