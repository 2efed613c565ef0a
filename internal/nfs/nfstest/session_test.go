package nfstest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func TestSessionSetup(t *testing.T) {
	e := newEnv(t)
	c := nfstest.New(e.transport(0, 0), 1, "linux host")
	require.NoError(t, c.ExchangeID(ctx))
	res, err := c.Compound(ctx, c.CreateSessionOp(200))
	require.NoError(t, nfstest.Check(res, err))
	cs := res.Resarray[0].(*nfsv4.NfsResop4_OP_CREATE_SESSION).OpcreateSession.(*nfsv4.CreateSession4res_NFS4_OK).CsrResok4
	fore := cs.CsrForeChanAttrs
	require.Equal(t, uint32(64), fore.CaMaxrequests, "slots are capped")
	require.GreaterOrEqual(t, fore.CaMaxrequestsize, uint32(nfs.MaxIOBytes), "room for a 1 MiB WRITE")
	require.GreaterOrEqual(t, fore.CaMaxresponsesize, uint32(nfs.MaxIOBytes), "room for a 1 MiB READ")
	require.Equal(t, uint32(16), fore.CaMaxoperations, "never more than asked")
	require.Equal(t, uint32(nfsv4.CREATE_SESSION4_FLAG_CONN_BACK_CHAN), cs.CsrFlags, "back channel accepted, not persistent")
	require.Equal(t, uint32(2), cs.CsrBackChanAttrs.CaMaxoperations, "back channel echoed")

	// A retry of the same CREATE_SESSION gets the same session.
	res2, err := c.Compound(ctx, c.CreateSessionOp(200))
	require.NoError(t, nfstest.Check(res2, err))
	cs2 := res2.Resarray[0].(*nfsv4.NfsResop4_OP_CREATE_SESSION).OpcreateSession.(*nfsv4.CreateSession4res_NFS4_OK).CsrResok4
	require.Equal(t, cs.CsrSessionid, cs2.CsrSessionid)

	// EXCHANGE_ID again, same verifier: the same, now confirmed, client.
	id := c.ClientID
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_EXCHANGE_ID{OpexchangeId: nfsv4.ExchangeId4args{
		EiaClientowner:  nfsv4.ClientOwner4{CoVerifier: c.Verifier, CoOwnerid: c.Owner},
		EiaStateProtect: &nfsv4.StateProtect4A_SP4_NONE{}}})
	require.NoError(t, nfstest.Check(res, err))
	eid := res.Resarray[0].(*nfsv4.NfsResop4_OP_EXCHANGE_ID).OpexchangeId.(*nfsv4.ExchangeId4res_NFS4_OK).EirResok4
	require.Equal(t, id, eid.EirClientid)
	require.NotZero(t, eid.EirFlags&nfsv4.EXCHGID4_FLAG_CONFIRMED_R)
	require.NotZero(t, eid.EirFlags&nfsv4.EXCHGID4_FLAG_USE_NON_PNFS)
	require.Zero(t, eid.EirFlags&nfsv4.EXCHGID4_FLAG_USE_PNFS_MDS)

	// Machine-credential state protection is refused.
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_EXCHANGE_ID{OpexchangeId: nfsv4.ExchangeId4args{
		EiaClientowner:  nfsv4.ClientOwner4{CoOwnerid: []byte("krb5 host")},
		EiaStateProtect: &nfsv4.StateProtect4A_SP4_MACH_CRED{}}})
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_ENCR_ALG_UNSUPP, res.Status)

	// An unknown client ID.
	c2 := nfstest.New(e.transport(0, 0), 1, "other")
	c2.ClientID = 12345
	res, err = c2.Compound(ctx, c2.CreateSessionOp(1))
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_STALE_CLIENTID, res.Status)
}

func TestReplayCache(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "replay")
	root := rootFH(t, c)
	seqid := c.SlotSeqids[0] + 1
	args := nfstest.Encode(&nfsv4.Compound4args{Minorversion: 1, Argarray: []nfsv4.NfsArgop4{
		c.Sequence(0, seqid, true), nfstest.PutFH(root), nfstest.Mkdir("once", 0o755), nfstest.GetFH()}})
	first, err := c.Raw(ctx, args)
	require.NoError(t, err)
	res, err := nfstest.Decode(first)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, res.Status)

	// The retry gets the very same bytes, and the directory is made once
	// (a second CREATE would say EXIST).
	again, err := c.Raw(ctx, args)
	require.NoError(t, err)
	require.Equal(t, first, again)
	c.SlotSeqids[0] = seqid

	// Next seqid: a real request, which now fails with EXIST.
	fails(t, c, nfsv4.NFS4ERR_EXIST, nfstest.PutFH(root), nfstest.Mkdir("once", 0o755))

	// Misordered: two ahead; and the previous seqid on another slot.
	res, err = c.Compound(ctx, c.Sequence(0, c.SlotSeqids[0]+2, false), nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_SEQ_MISORDERED, res.Status)
	require.Len(t, res.Resarray, 1)

	res, err = c.Compound(ctx, c.Sequence(uint32(len(c.SlotSeqids)), 1, false), nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADSLOT, res.Status)

	bad := *c
	bad.Session[0] ^= 1
	res, err = bad.Compound(ctx, bad.Sequence(0, 1, false), nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADSESSION, res.Status)

	// An error reply is cached too.
	seqid = c.SlotSeqids[0] + 1
	args = nfstest.Encode(&nfsv4.Compound4args{Minorversion: 1, Argarray: []nfsv4.NfsArgop4{
		c.Sequence(0, seqid, false), nfstest.PutFH(root), nfstest.Lookup("missing")}})
	first, err = c.Raw(ctx, args)
	require.NoError(t, err)
	again, err = c.Raw(ctx, args)
	require.NoError(t, err)
	require.Equal(t, first, again)
	c.SlotSeqids[0] = seqid
}

func TestReplayUncachedLargeReply(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "big replies")
	fh, sid := createFile(t, c, rootFH(t, c), "big", "o")
	do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, make([]byte, 512<<10)))
	seqid := c.SlotSeqids[0] + 1
	args := nfstest.Encode(&nfsv4.Compound4args{Minorversion: 1, Argarray: []nfsv4.NfsArgop4{
		c.Sequence(0, seqid, false), nfstest.PutFH(fh), nfstest.Read(sid, 0, 512<<10)}})
	_, err := c.Raw(ctx, args)
	require.NoError(t, err)
	b, err := c.Raw(ctx, args)
	require.NoError(t, err)
	res, err := nfstest.Decode(b)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_RETRY_UNCACHED_REP, res.Status)
	require.Equal(t, nfsv4.NFS4_OK, nfstest.Status(res.Resarray[0]))
	require.Equal(t, nfsv4.OP_PUTFH, nfstest.Op(res.Resarray[1]))
	c.SlotSeqids[0] = seqid

	// Asked for with sa_cachethis, a mid-sized reply is kept.
	seqid = c.SlotSeqids[0] + 1
	args = nfstest.Encode(&nfsv4.Compound4args{Minorversion: 1, Argarray: []nfsv4.NfsArgop4{
		c.Sequence(0, seqid, true), nfstest.PutFH(fh), nfstest.Read(sid, 0, 32<<10)}})
	first, err := c.Raw(ctx, args)
	require.NoError(t, err)
	again, err := c.Raw(ctx, args)
	require.NoError(t, err)
	require.Equal(t, first, again)
	c.SlotSeqids[0] = seqid
}

func TestSlotsRunConcurrently(t *testing.T) {
	e := newEnv(t)
	c := nfstest.New(e.transport(0, 0), 1, "slots")
	require.NoError(t, c.ExchangeID(ctx))
	require.NoError(t, c.CreateSession(ctx, 8))
	root := rootFH(t, c)
	for slot := uint32(0); slot < 8; slot++ {
		res, err := c.DoSlot(ctx, slot, nfstest.PutFH(root), nfstest.GetAttr(nfsv4.FATTR4_CHANGE))
		require.NoError(t, nfstest.Check(res, err))
	}
	require.Equal(t, uint32(2), c.SlotSeqids[0])
	require.Equal(t, uint32(1), c.SlotSeqids[7])
}

func TestDestroySessionAndClient(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "destroy")
	// The client has a session: it is busy.
	fails(t, c, nfsv4.NFS4ERR_CLIENTID_BUSY, &nfsv4.NfsArgop4_OP_DESTROY_CLIENTID{
		OpdestroyClientid: nfsv4.DestroyClientid4args{DcaClientid: c.ClientID}})
	res, err := c.Compound(ctx, &nfsv4.NfsArgop4_OP_BIND_CONN_TO_SESSION{OpbindConnToSession: nfsv4.BindConnToSession4args{
		BctsaSessid: c.Session, BctsaDir: nfsv4.CDFC4_FORE_OR_BOTH}})
	require.NoError(t, nfstest.Check(res, err))
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_DESTROY_SESSION{OpdestroySession: nfsv4.DestroySession4args{DsaSessionid: c.Session}})
	require.NoError(t, nfstest.Check(res, err))
	res, err = c.Do(ctx, nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADSESSION, res.Status)
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_DESTROY_CLIENTID{OpdestroyClientid: nfsv4.DestroyClientid4args{DcaClientid: c.ClientID}})
	require.NoError(t, nfstest.Check(res, err))
	res, err = c.Compound(ctx, c.CreateSessionOp(1))
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_STALE_CLIENTID, res.Status)
}

func TestLeaseExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "expiring")
	do(t, c, nfstest.PutRootFH())
	// SEQUENCE renews the lease.
	e.clock.Advance(60 * time.Second)
	do(t, c, nfstest.PutRootFH())
	e.clock.Advance(60 * time.Second)
	do(t, c, nfstest.PutRootFH())
	// Silence for longer than the lease: the client and its sessions go.
	e.clock.Advance(91 * time.Second)
	other := e.client(1, "other")
	do(t, other, nfstest.PutRootFH())
	res, err := c.Do(ctx, nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADSESSION, res.Status)
	// The client starts over.
	require.NoError(t, c.Mount(ctx))
	do(t, c, nfstest.PutRootFH())
}

// TestParallelOpensOneOwner runs OPEN and CLOSE of one open owner on many
// slots at once, as Linux does with one owner per user: none waits.
func TestParallelOpensOneOwner(t *testing.T) {
	e := newEnv(t)
	c := nfstest.New(e.transport(0, 0), 1, "parallel")
	require.NoError(t, c.ExchangeID(ctx))
	require.NoError(t, c.CreateSession(ctx, 8))
	root := rootFH(t, c)
	errs := make(chan error, 8)
	for slot := uint32(0); slot < 8; slot++ {
		cs := *c
		cs.SlotSeqids = append([]uint32(nil), c.SlotSeqids...)
		go func() {
			for i := 0; i < 20; i++ {
				res, err := cs.DoSlot(ctx, slot, nfstest.PutFH(root), nfstest.Open(0, 0, "same owner", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
					nfstest.ClaimNull(fmt.Sprintf("f%d", slot)), nfstest.Unchecked(0o644)))
				if err := nfstest.Check(res, err); err != nil {
					errs <- err
					return
				}
				sid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
				sid.Seqid = 0 // NFSv4.1: whatever the latest is
				res, err = cs.DoSlot(ctx, slot, nfstest.PutFH(root), nfstest.Lookup(fmt.Sprintf("f%d", slot)), nfstest.Close(0, sid))
				if err := nfstest.Check(res, err); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < 8; i++ {
		require.NoError(t, <-errs)
	}
}
