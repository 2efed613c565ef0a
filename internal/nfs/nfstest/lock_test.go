package nfstest_test

import (
	"math"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

// locker is one lock owner on one file.
type locker struct {
	t     *testing.T
	c     *nfstest.Client
	fh    []byte
	open  nfsv4.Stateid4
	owner string
	sid   *nfsv4.Stateid4 // lock stateid once the owner has one
}

func newLocker(t *testing.T, c *nfstest.Client, fh []byte, owner string) *locker {
	res := do(t, c, nfstest.PutFH(fh), nfstest.Open(0, 0, owner+" open", nfsv4.OPEN4_SHARE_ACCESS_BOTH, &nfsv4.OpenClaim4_CLAIM_FH{}, nil))
	open := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	return &locker{t: t, c: c, fh: fh, open: open, owner: owner}
}

func (l *locker) lockOp(write bool, off, length uint64) nfsv4.NfsArgop4 {
	if l.sid == nil {
		return nfstest.LockNew(write, off, length, 0, l.open, 0, l.c.ClientID, l.owner)
	}
	return nfstest.LockExisting(write, off, length, *l.sid, 0)
}

// lock takes a lock and returns nil, or the conflicting lock.
func (l *locker) lock(write bool, off, length uint64) *nfsv4.Lock4denied {
	l.t.Helper()
	res, err := l.c.Do(ctx, nfstest.PutFH(l.fh), l.lockOp(write, off, length))
	require.NoError(l.t, err)
	switch r := nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCK).Oplock.(type) {
	case *nfsv4.Lock4res_NFS4_OK:
		sid := r.Resok4.LockStateid
		l.sid = &sid
		return nil
	case *nfsv4.Lock4res_NFS4ERR_DENIED:
		return &r.Denied
	default:
		l.t.Fatalf("LOCK: %s", nfsv4.Nfsstat4_name[res.Status])
		return nil
	}
}

func (l *locker) unlock(off, length uint64) {
	l.t.Helper()
	res := do(l.t, l.c, nfstest.PutFH(l.fh), nfstest.LockU(0, *l.sid, off, length))
	sid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCKU).Oplocku.(*nfsv4.Locku4res_NFS4_OK).LockStateid
	l.sid = &sid
}

// test runs LOCKT for another owner and returns the conflict, if any.
func test(t *testing.T, c *nfstest.Client, fh []byte, owner string, write bool, off, length uint64) *nfsv4.Lock4denied {
	t.Helper()
	res, err := c.Do(ctx, nfstest.PutFH(fh), nfstest.LockT(write, off, length, c.ClientID, owner))
	require.NoError(t, err)
	switch r := nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCKT).Oplockt.(type) {
	case *nfsv4.Lockt4res_NFS4_OK:
		return nil
	case *nfsv4.Lockt4res_NFS4ERR_DENIED:
		return &r.Denied
	default:
		t.Fatalf("LOCKT: %s", nfsv4.Nfsstat4_name[res.Status])
		return nil
	}
}

func TestLocks(t *testing.T) {
	e := newEnv(t)
	a := e.client(1, "host a")
	b := e.client(1, "host b")
	fh, _ := createFile(t, a, rootFH(t, a), "locked", "o")
	la := newLocker(t, a, fh, "pid 1")
	lb := newLocker(t, b, fh, "pid 2")

	t.Run("conflict reports owner and range", func(t *testing.T) {
		require.Nil(t, la.lock(true, 100, 100))
		d := lb.lock(false, 150, 10)
		require.NotNil(t, d)
		require.Equal(t, uint64(100), d.Offset)
		require.Equal(t, uint64(100), d.Length)
		require.Equal(t, nfsv4.WRITE_LT, d.Locktype)
		require.Equal(t, a.ClientID, d.Owner.Clientid)
		require.Equal(t, "pid 1", string(d.Owner.Owner))
		require.Nil(t, lb.lock(true, 200, 10), "adjacent, no overlap")
		lb.unlock(200, 10)
	})
	t.Run("split on unlock", func(t *testing.T) {
		la.unlock(120, 10) // [100,120) and [130,200) remain
		require.Nil(t, test(t, b, fh, "pid 2", true, 120, 10))
		require.NotNil(t, test(t, b, fh, "pid 2", true, 110, 1))
		require.NotNil(t, test(t, b, fh, "pid 2", true, 199, 1))
		require.Nil(t, lb.lock(true, 120, 10))
		lb.unlock(120, 10)
	})
	t.Run("merge and downgrade", func(t *testing.T) {
		require.Nil(t, la.lock(true, 120, 10)) // merges back to [100,200)
		require.Nil(t, la.lock(false, 100, 100))
		// Now a read lock: other readers get in, writers do not.
		require.Nil(t, test(t, b, fh, "pid 2", false, 100, 100))
		d := test(t, b, fh, "pid 2", true, 150, 1)
		require.NotNil(t, d)
		require.Equal(t, nfsv4.READ_LT, d.Locktype)
		require.Equal(t, uint64(100), d.Length, "the ranges merged into one")
	})
	t.Run("upgrade", func(t *testing.T) {
		require.Nil(t, lb.lock(false, 150, 10))
		// a cannot upgrade while b reads part of the range.
		require.NotNil(t, la.lock(true, 100, 100))
		lb.unlock(0, math.MaxUint64)
		require.Nil(t, la.lock(true, 100, 100))
		require.NotNil(t, test(t, b, fh, "pid 2", false, 150, 1))
	})
	t.Run("to end of file", func(t *testing.T) {
		require.Nil(t, la.lock(true, 1<<40, math.MaxUint64))
		d := test(t, b, fh, "pid 2", false, 1<<50, 1)
		require.NotNil(t, d)
		require.Equal(t, uint64(math.MaxUint64), d.Length)
		la.unlock(1<<40, math.MaxUint64)
	})
	t.Run("bad ranges", func(t *testing.T) {
		fails(t, a, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), la.lockOp(true, 0, 0))
		fails(t, a, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), la.lockOp(true, math.MaxUint64-5, 10))
	})
	t.Run("the same owner never conflicts with itself", func(t *testing.T) {
		require.Nil(t, test(t, a, fh, "pid 1", true, 100, 100))
	})
	t.Run("lease expiry releases locks", func(t *testing.T) {
		require.NotNil(t, test(t, b, fh, "pid 2", true, 100, 1))
		// b keeps renewing; a goes silent.
		for i := 0; i < 4; i++ {
			e.clock.Advance(30 * time.Second)
			do(t, b, nfstest.PutRootFH())
		}
		require.Nil(t, test(t, b, fh, "pid 2", true, 100, 1))
		require.Nil(t, lb.lock(true, 0, math.MaxUint64))
	})
}

func TestLockLimits(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "many locks")
	fh, _ := createFile(t, c, rootFH(t, c), "f", "o")
	l := newLocker(t, c, fh, "pid")
	// Disjoint ranges up to EFS's 512 locks per file.
	for i := uint64(0); i < 512; i++ {
		require.Nil(t, l.lock(true, 2*i, 1))
	}
	fails(t, c, nfsv4.NFS4ERR_RESOURCE, nfstest.PutFH(fh), l.lockOp(true, 2000, 1))
	// Merging keeps the count down: filling the gaps makes one lock.
	require.Nil(t, l.lock(true, 0, 1024))
	require.Nil(t, l.lock(true, 2000, 1))
}

func TestLockGracelessErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "reclaim")
	fh, sid := createFile(t, c, rootFH(t, c), "f", "o")
	// No grace period: a reclaim is refused.
	op := nfstest.LockNew(true, 0, 1, 0, sid, 0, c.ClientID, "lo")
	op.(*nfsv4.NfsArgop4_OP_LOCK).Oplock.Reclaim = true
	fails(t, c, nfsv4.NFS4ERR_NO_GRACE, nfstest.PutFH(fh), op)
	// Locks on a directory.
	fails(t, c, nfsv4.NFS4ERR_ISDIR, nfstest.PutRootFH(), nfstest.LockNew(true, 0, 1, 0, sid, 0, c.ClientID, "lo"))
}
