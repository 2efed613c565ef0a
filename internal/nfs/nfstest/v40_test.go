package nfstest_test

import (
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func TestSetClientIDFlow(t *testing.T) {
	e := newEnv(t)
	c := nfstest.New(e.transport(0, 0), 0, "Linux NFSv4.0 host")
	res, err := c.Compound(ctx, &nfsv4.NfsArgop4_OP_SETCLIENTID{Opsetclientid: nfsv4.Setclientid4args{
		Client: nfsv4.NfsClientId4{Verifier: c.Verifier, Id: c.Owner}}})
	require.NoError(t, nfstest.Check(res, err))
	ok := res.Resarray[0].(*nfsv4.NfsResop4_OP_SETCLIENTID).Opsetclientid.(*nfsv4.Setclientid4res_NFS4_OK).Resok4
	confirm := func(v [8]byte) nfsv4.Nfsstat4 {
		res, err := c.Compound(ctx, &nfsv4.NfsArgop4_OP_SETCLIENTID_CONFIRM{OpsetclientidConfirm: nfsv4.SetclientidConfirm4args{
			Clientid: ok.Clientid, SetclientidConfirm: v}})
		require.NoError(t, err)
		return res.Status
	}
	// Unconfirmed: RENEW does not know it yet.
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: ok.Clientid}})
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_STALE_CLIENTID, res.Status)
	wrong := ok.SetclientidConfirm
	wrong[0] ^= 1
	require.Equal(t, nfsv4.NFS4ERR_STALE_CLIENTID, confirm(wrong))
	require.Equal(t, nfsv4.NFS4_OK, confirm(ok.SetclientidConfirm))
	require.Equal(t, nfsv4.NFS4_OK, confirm(ok.SetclientidConfirm), "a retried confirm")
	c.ClientID = ok.Clientid
	do(t, c, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: c.ClientID}})
	fails(t, c, nfsv4.NFS4ERR_STALE_CLIENTID, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: 42}})
}

func TestOpenConfirmAndSeqids(t *testing.T) {
	e := newEnv(t)
	c := e.client(0, "v40 seqids")
	root := rootFH(t, c)
	// The first OPEN of an owner must be confirmed.
	res := do(t, c, nfstest.PutFH(root), nfstest.Open(c.NextSeqid("o"), c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull("f"), nfstest.Unchecked(0o644)), nfstest.GetFH())
	fh := nfstest.FH(res)
	open := res.Resarray[1].(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4
	require.NotZero(t, open.Rflags&nfsv4.OPEN4_RESULT_CONFIRM)
	fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(open.Stateid, 0, 1))
	confirmArgs := nfstest.Encode(&nfsv4.Compound4args{Argarray: []nfsv4.NfsArgop4{nfstest.PutFH(fh),
		&nfsv4.NfsArgop4_OP_OPEN_CONFIRM{OpopenConfirm: nfsv4.OpenConfirm4args{OpenStateid: open.Stateid, Seqid: c.NextSeqid("o")}}}})
	first, err := c.Raw(ctx, confirmArgs)
	require.NoError(t, err)
	// A retransmission gets the cached reply.
	again, err := c.Raw(ctx, confirmArgs)
	require.NoError(t, err)
	require.Equal(t, first, again)
	cres, err := nfstest.Decode(first)
	require.NoError(t, nfstest.Check(cres, err))
	sid := cres.Resarray[1].(*nfsv4.NfsResop4_OP_OPEN_CONFIRM).OpopenConfirm.(*nfsv4.OpenConfirm4res_NFS4_OK).Resok4.OpenStateid
	require.Equal(t, open.Stateid.Seqid+1, sid.Seqid)

	// The next OPEN of the confirmed owner needs no confirmation.
	res = do(t, c, nfstest.PutFH(root), nfstest.Open(c.NextSeqid("o"), c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("f"), nil))
	open2 := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4
	require.Zero(t, open2.Rflags&nfsv4.OPEN4_RESULT_CONFIRM)
	require.Equal(t, sid.Other, open2.Stateid.Other, "one open state per owner and file")

	// A seqid from the future is BAD_SEQID, and does not advance.
	fails(t, c, nfsv4.NFS4ERR_BAD_SEQID, nfstest.PutFH(fh), nfstest.Close(c.NextSeqid("o")+5, open2.Stateid))
	c.UndoSeqid("o")

	// An OPEN that fails still consumes its seqid.
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutFH(root), nfstest.Open(c.NextSeqid("o"), c.ClientID, "o", 1, nfstest.ClaimNull("missing"), nil))

	// LOCK with a new lock owner, LOCK again, LOCKU, each with seqids;
	// RELEASE_LOCKOWNER only once no lock is held.
	res = do(t, c, nfstest.PutFH(fh), nfstest.LockNew(false, 0, 10, c.NextSeqid("o"), open2.Stateid, 0, c.ClientID, "lo"))
	lsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCK).Oplock.(*nfsv4.Lock4res_NFS4_OK).Resok4.LockStateid
	res = do(t, c, nfstest.PutFH(fh), nfstest.LockExisting(false, 20, 10, lsid, 1))
	lsid = nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCK).Oplock.(*nfsv4.Lock4res_NFS4_OK).Resok4.LockStateid
	release := &nfsv4.NfsArgop4_OP_RELEASE_LOCKOWNER{OpreleaseLockowner: nfsv4.ReleaseLockowner4args{
		LockOwner: nfsv4.StateOwner4{Clientid: c.ClientID, Owner: []byte("lo")}}}
	fails(t, c, nfsv4.NFS4ERR_LOCKS_HELD, release)
	fails(t, c, nfsv4.NFS4ERR_BAD_SEQID, nfstest.PutFH(fh), nfstest.LockU(7, lsid, 0, 100))
	unlock := nfstest.Encode(&nfsv4.Compound4args{Argarray: []nfsv4.NfsArgop4{nfstest.PutFH(fh), nfstest.LockU(2, lsid, 0, 100)}})
	u1, err := c.Raw(ctx, unlock)
	require.NoError(t, err)
	u2, err := c.Raw(ctx, unlock)
	require.NoError(t, err)
	require.Equal(t, u1, u2, "LOCKU replayed")
	do(t, c, release)

	res = do(t, c, nfstest.PutFH(fh), nfstest.Close(c.NextSeqid("o"), open2.Stateid))
	require.Equal(t, nfsv4.NFS4_OK, res.Status)
}

func TestV40ClientReboot(t *testing.T) {
	e := newEnv(t)
	c := e.client(0, "rebooting host")
	fh, sid := createFile(t, c, rootFH(t, c), "f", "o")
	old := c.ClientID
	// The host reboots: a new verifier, a new client ID; confirming it
	// drops the old incarnation's state.
	c.Verifier[7]++
	require.NoError(t, c.SetClientID(ctx))
	require.NotEqual(t, old, c.ClientID)
	fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(sid, 0, 1))
	fails(t, c, nfsv4.NFS4ERR_STALE_CLIENTID, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: old}})
}

func TestV40LeaseRenewal(t *testing.T) {
	e := newEnv(t)
	c := e.client(0, "renewing")
	fh, sid := createFile(t, c, rootFH(t, c), "f", "o")
	for i := 0; i < 5; i++ {
		e.clock.Advance(60 * time.Second)
		do(t, c, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: c.ClientID}})
	}
	do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, 0, 1))
	// Using a stateid renews too.
	for i := 0; i < 3; i++ {
		e.clock.Advance(60 * time.Second)
		do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, 0, 1))
	}
	e.clock.Advance(100 * time.Second)
	e.client(0, "someone else") // any request reaps
	fails(t, c, nfsv4.NFS4ERR_STALE_CLIENTID, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: c.ClientID}})
}

func TestExclusiveCreateV40(t *testing.T) {
	e := newEnv(t)
	c := e.client(0, "excl")
	root := rootFH(t, c)
	verf := [8]byte{7, 7, 7}
	open := func(v [8]byte) nfsv4.NfsArgop4 {
		return nfstest.Open(c.NextSeqid("o"), c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_WRITE, nfstest.ClaimNull("x"),
			&nfsv4.Createhow4_EXCLUSIVE4{Createverf: v})
	}
	res := do(t, c, nfstest.PutFH(root), open(verf), nfstest.GetFH())
	ok := res.Resarray[1].(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4
	require.Empty(t, ok.Attrset, "EXCLUSIVE4 sets no attributes")
	// A retransmitted create (same verifier) succeeds; another one fails.
	do(t, c, nfstest.PutFH(root), open(verf))
	fails(t, c, nfsv4.NFS4ERR_EXIST, nfstest.PutFH(root), open([8]byte{8}))
	// EXCLUSIVE4_1 does not exist in NFSv4.0.
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(root), nfstest.Open(c.NextSeqid("o"), c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_WRITE,
		nfstest.ClaimNull("y"), &nfsv4.Createhow4_EXCLUSIVE4_1{}))
}

func TestTruncateNeedsWriteOpen(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "trunc")
	root := rootFH(t, c)
	fh, _ := createFile(t, c, root, "f", "o")
	res := do(t, c, nfstest.PutFH(fh), nfstest.Open(0, 0, "reader", nfsv4.OPEN4_SHARE_ACCESS_READ, &nfsv4.OpenClaim4_CLAIM_FH{}, nil))
	rsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	zero := uint64(0)
	fails(t, c, nfsv4.NFS4ERR_OPENMODE, nfstest.PutFH(fh), nfstest.SetAttr(rsid, nfstest.Attrs{Size: &zero}))
	fails(t, c, nfsv4.NFS4ERR_ISDIR, nfstest.PutFH(root), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Size: &zero}))
}
