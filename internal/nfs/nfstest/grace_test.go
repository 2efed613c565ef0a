package nfstest_test

import (
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func reclaimOpen(c *nfstest.Client, owner string) nfsv4.NfsArgop4 {
	return nfstest.Open(0, c.ClientID, owner, nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		&nfsv4.OpenClaim4_CLAIM_PREVIOUS{DelegateType: nfsv4.OPEN_DELEGATE_NONE}, nil)
}

func TestGraceAfterRestart(t *testing.T) {
	e := newEnv(t)
	a := e.client(1, "host a")
	root := rootFH(t, a)
	fh, sid := createFile(t, a, root, "f", "o")
	do(t, a, nfstest.PutFH(fh), nfstest.LockNew(true, 0, 10, 0, sid, 0, a.ClientID, "lo"))

	e.clock.Advance(time.Second)
	e.restart()

	// A client that held no state before the restart waits.
	b := e.client(1, "host b")
	fails(t, b, nfsv4.NFS4ERR_GRACE, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("f"), nil))
	fails(t, b, nfsv4.NFS4ERR_GRACE, nfstest.PutFH(fh), nfstest.LockT(true, 0, 1, b.ClientID, "x"))
	fails(t, b, nfsv4.NFS4ERR_NO_GRACE, nfstest.PutFH(fh), reclaimOpen(b, "o"))
	// Reading with the anonymous stateid is fine during grace.
	do(t, b, nfstest.PutFH(fh), nfstest.Read(nfsv4.Stateid4{}, 0, 1))

	// a's session is gone; it establishes a new client and reclaims.
	res, err := a.Do(ctx, nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADSESSION, res.Status)
	require.NoError(t, a.ExchangeID(ctx))
	require.NoError(t, a.CreateSession(ctx, 4))
	res = do(t, a, nfstest.PutFH(fh), reclaimOpen(a, "o"))
	nsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	op := nfstest.LockNew(true, 0, 10, 0, nsid, 0, a.ClientID, "lo")
	op.(*nfsv4.NfsArgop4_OP_LOCK).Oplock.Reclaim = true
	do(t, a, nfstest.PutFH(fh), op)
	// A non-reclaim lock during grace is refused even for a.
	fails(t, a, nfsv4.NFS4ERR_GRACE, nfstest.PutFH(fh), nfstest.LockNew(true, 50, 10, 0, nsid, 0, a.ClientID, "lo2"))
	do(t, a, &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{})
	fails(t, a, nfsv4.NFS4ERR_COMPLETE_ALREADY, &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{})

	// Every client that had state has reclaimed: the grace period is over.
	fails(t, a, nfsv4.NFS4ERR_NO_GRACE, nfstest.PutFH(fh), reclaimOpen(a, "o"))
	do(t, b, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("f"), nil))
	// The reclaimed lock holds.
	require.NotNil(t, test(t, b, fh, "x", true, 5, 1))
}

func TestGraceEndsByTime(t *testing.T) {
	e := newEnv(t)
	a := e.client(1, "host that never returns")
	root := rootFH(t, a)
	createFile(t, a, root, "f", "o")
	e.restart()
	b := e.client(1, "host b")
	fails(t, b, nfsv4.NFS4ERR_GRACE, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("f"), nil))
	for i := 0; i < 4; i++ {
		e.clock.Advance(25 * time.Second)
		do(t, b, nfstest.PutRootFH()) // b renews its lease
	}
	do(t, b, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("f"), nil))

	// The absent client's record was dropped: the next restart has only
	// b to wait for, and b's RECLAIM_COMPLETE ends the grace at once.
	e.restart()
	b = nfstest.New(e.transport(0, 0), 1, "host b")
	require.NoError(t, b.Mount(ctx)) // Mount sends RECLAIM_COMPLETE
	do(t, b, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("f"), nil))
}

func TestNoGraceWithoutClients(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "only one")
	require.NoError(t, nfstest.Check(c.Compound(ctx, &nfsv4.NfsArgop4_OP_DESTROY_SESSION{
		OpdestroySession: nfsv4.DestroySession4args{DsaSessionid: c.Session}})))
	require.NoError(t, nfstest.Check(c.Compound(ctx, &nfsv4.NfsArgop4_OP_DESTROY_CLIENTID{
		OpdestroyClientid: nfsv4.DestroyClientid4args{DcaClientid: c.ClientID}})))
	// The unmounted client left no record: a restart has no grace period.
	e.restart()
	c = e.client(1, "new")
	createFile(t, c, rootFH(t, c), "f", "o")
}

func TestGraceV40(t *testing.T) {
	e := newEnv(t)
	a := e.client(0, "v40 host")
	root := rootFH(t, a)
	fh, _ := createFile(t, a, root, "f", "o")
	e.restart()
	require.NoError(t, a.SetClientID(ctx))
	a.SetSeqid("o", 0)
	res := do(t, a, nfstest.PutFH(fh), nfstest.Open(a.NextSeqid("o"), a.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		&nfsv4.OpenClaim4_CLAIM_PREVIOUS{DelegateType: nfsv4.OPEN_DELEGATE_NONE}, nil))
	open := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4
	// A reclaim needs no OPEN_CONFIRM: its stateid works at once.
	require.Zero(t, open.Rflags&nfsv4.OPEN4_RESULT_CONFIRM)
	do(t, a, nfstest.PutFH(fh), nfstest.Write(open.Stateid, 0, []byte("reclaimed")))
	// Another client that had no state waits.
	b := e.client(0, "v40 host b")
	fails(t, b, nfsv4.NFS4ERR_GRACE, nfstest.PutFH(root), nfstest.Open(b.NextSeqid("o"), b.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("f"), nil))
	// NFSv4.0 has no RECLAIM_COMPLETE: a's first normal OPEN ends its
	// reclaim, and with it the grace period.
	do(t, a, nfstest.PutFH(root), nfstest.Open(a.NextSeqid("o"), a.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("f"), nil))
	fails(t, a, nfsv4.NFS4ERR_NO_GRACE, nfstest.PutFH(fh), nfstest.Open(a.NextSeqid("o"), a.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		&nfsv4.OpenClaim4_CLAIM_PREVIOUS{DelegateType: nfsv4.OPEN_DELEGATE_NONE}, nil))
}
