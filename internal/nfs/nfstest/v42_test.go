package nfstest_test

import (
	"bytes"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func seek(sid nfsv4.Stateid4, off uint64, what nfsv4.DataContent4) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_SEEK{Opseek: nfsv4.Seek4args{SaStateid: sid, SaOffset: off, SaWhat: what}}
}

func allocate(sid nfsv4.Stateid4, off, length uint64) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_ALLOCATE{Opallocate: nfsv4.Allocate4args{AaStateid: sid, AaOffset: off, AaLength: length}}
}

func deallocate(sid nfsv4.Stateid4, off, length uint64) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_DEALLOCATE{Opdeallocate: nfsv4.Deallocate4args{DaStateid: sid, DaOffset: off, DaLength: length}}
}

// TestNFSv42 covers the NFSv4.2 operations shelf implements (SEEK,
// ALLOCATE, DEALLOCATE), the optional ones it refuses, and the minor
// version itself.
func TestNFSv42(t *testing.T) {
	e := newEnv(t)
	c := e.client(2, "v42")
	fh, sid := createFile(t, c, rootFH(t, c), "f", "v42")
	bs := uint64(data.DefaultBlockSize)
	seekTo := func(off uint64, what nfsv4.DataContent4) (uint64, bool) {
		t.Helper()
		res := do(t, c, nfstest.PutFH(fh), seek(sid, off, what))
		r := nfstest.Last(res).(*nfsv4.NfsResop4_OP_SEEK).Opseek.(*nfsv4.Seek4res_NFS4_OK).Resok4
		return r.SrOffset, r.SrEof
	}
	size := func() uint64 { return attrs(t, c, fh, nfsv4.FATTR4_SIZE).Size }
	read := func(off uint64, n uint32) []byte {
		t.Helper()
		res := do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, off, n))
		return nfstest.Last(res).(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK).Resok4.Data
	}

	// Data in blocks 1 and 3 of five; holes elsewhere.
	one := bytes.Repeat([]byte{1}, int(bs))
	do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, bs, one), nfstest.Write(sid, 3*bs+10, []byte("three")))
	do(t, c, nfstest.PutFH(fh), allocate(sid, 0, 5*bs))
	require.Equal(t, 5*bs, size(), "ALLOCATE extends the file")
	do(t, c, nfstest.PutFH(fh), allocate(sid, 0, 10))
	require.Equal(t, 5*bs, size(), "ALLOCATE never shrinks it")
	require.Equal(t, make([]byte, 100), read(5*bs-100, 100), "allocated space reads as zeros")

	for _, tc := range []struct {
		off    uint64
		what   nfsv4.DataContent4
		want   uint64
		eof    bool
		status nfsv4.Nfsstat4
	}{
		{off: 0, what: nfsv4.NFS4_CONTENT_DATA, want: bs},
		{off: 0, what: nfsv4.NFS4_CONTENT_HOLE, want: 0},
		{off: bs + 7, what: nfsv4.NFS4_CONTENT_DATA, want: bs + 7},
		{off: bs + 7, what: nfsv4.NFS4_CONTENT_HOLE, want: 2 * bs},
		{off: 2 * bs, what: nfsv4.NFS4_CONTENT_DATA, want: 3 * bs},
		{off: 3 * bs, what: nfsv4.NFS4_CONTENT_HOLE, want: 4 * bs},
		{off: 4 * bs, what: nfsv4.NFS4_CONTENT_DATA, status: nfsv4.NFS4ERR_NXIO},
		{off: 5*bs - 1, what: nfsv4.NFS4_CONTENT_HOLE, want: 5*bs - 1},
		{off: 5 * bs, what: nfsv4.NFS4_CONTENT_HOLE, status: nfsv4.NFS4ERR_NXIO},
		{off: 5 * bs, what: nfsv4.NFS4_CONTENT_DATA, status: nfsv4.NFS4ERR_NXIO},
	} {
		if tc.status != nfsv4.NFS4_OK {
			fails(t, c, tc.status, nfstest.PutFH(fh), seek(sid, tc.off, tc.what))
			continue
		}
		got, eof := seekTo(tc.off, tc.what)
		require.Equal(t, tc.want, got, "SEEK %s from %d", nfsv4.DataContent4_name[tc.what], tc.off)
		require.Equal(t, got == 5*bs, eof)
	}
	// Without a hole before the end, the end is the hole.
	do(t, c, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_SETATTR{Opsetattr: nfsv4.Setattr4args{Stateid: sid,
		ObjAttributes: (&nfstest.Attrs{Size: ptr(2 * bs)}).Fattr()}})
	got, eof := seekTo(bs, nfsv4.NFS4_CONTENT_HOLE)
	require.Equal(t, 2*bs, got)
	require.True(t, eof)

	// DEALLOCATE: a range across a block boundary, then a whole block.
	do(t, c, nfstest.PutFH(fh), deallocate(sid, bs-100, 200))
	require.Equal(t, 2*bs, size(), "DEALLOCATE keeps the size")
	want := append(make([]byte, 200), one[:100]...)
	require.Equal(t, want, read(bs-100, 300))
	do(t, c, nfstest.PutFH(fh), deallocate(sid, bs, bs))
	require.Equal(t, make([]byte, bs), read(bs, uint32(bs)))
	fails(t, c, nfsv4.NFS4ERR_NXIO, nfstest.PutFH(fh), seek(sid, 0, nfsv4.NFS4_CONTENT_DATA))
	got, _ = seekTo(10, nfsv4.NFS4_CONTENT_HOLE)
	require.Equal(t, uint64(10), got)
	require.Equal(t, uint64(0), attrs(t, c, fh, nfsv4.FATTR4_SPACE_USED).SpaceUsed, "the punched blocks are freed")
	do(t, c, nfstest.PutFH(fh), deallocate(sid, 10*bs, 1)) // past the end: nothing to do

	// Bad arguments.
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), allocate(sid, 0, 0))
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), deallocate(sid, 0, 0))
	fails(t, c, nfsv4.NFS4ERR_FBIG, nfstest.PutFH(fh), allocate(sid, 1<<62, 1<<62))
	fails(t, c, nfsv4.NFS4ERR_UNION_NOTSUPP, nfstest.PutFH(fh), seek(sid, 0, 7))
	fails(t, c, nfsv4.NFS4ERR_ISDIR, nfstest.PutRootFH(), seek(sid, 0, nfsv4.NFS4_CONTENT_DATA))
	fails(t, c, nfsv4.NFS4ERR_NOFILEHANDLE, allocate(sid, 0, 1))
	bad := sid
	bad.Other[11] ^= 0xff
	fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), deallocate(bad, 0, 1))

	// A stateid opened for reading may SEEK, not ALLOCATE.
	res := do(t, c, nfstest.PutRootFH(), nfstest.Open(0, c.ClientID, "reader", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("f"), nfstest.Unchecked(0o644)))
	rsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	do(t, c, nfstest.PutFH(fh), seek(rsid, 0, nfsv4.NFS4_CONTENT_HOLE))
	fails(t, c, nfsv4.NFS4ERR_OPENMODE, nfstest.PutFH(fh), allocate(rsid, 0, 1))

	// The optional operations shelf does not implement, and opcodes past 4.2.
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_CLONE{})
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_READ_PLUS{})
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_COPY{})
	// 4.0-only operations stay refused.
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: c.ClientID}})

	// 4.1 on the same server still has no 4.2 operations.
	c1 := e.client(1, "v41")
	fails(t, c1, nfsv4.NFS4ERR_OP_ILLEGAL, nfstest.PutFH(fh), seek(sid, 0, nfsv4.NFS4_CONTENT_DATA))
}
