package nfstest_test

import (
	"bytes"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func readData(t *testing.T, c *nfstest.Client, fh []byte, sid nfsv4.Stateid4, off uint64, n uint32) ([]byte, bool) {
	t.Helper()
	res := do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, off, n))
	rd := nfstest.Last(res).(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK)
	return rd.Resok4.Data, rd.Resok4.Eof
}

func TestOpenWriteReadClose(t *testing.T) {
	for _, minor := range []uint32{0, 1} {
		e := newEnv(t)
		c := e.client(minor, "rw")
		root := rootFH(t, c)
		fh, sid := createFile(t, c, root, "f", "owner")

		res := do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, []byte("hello world")))
		w := nfstest.Last(res).(*nfsv4.NfsResop4_OP_WRITE).Opwrite.(*nfsv4.Write4res_NFS4_OK).Resok4
		require.Equal(t, uint32(11), w.Count)
		require.Equal(t, nfsv4.UNSTABLE4, w.Committed, "an unstable write is answered unstable")
		res = do(t, c, nfstest.PutFH(fh), nfstest.Commit())
		cm := nfstest.Last(res).(*nfsv4.NfsResop4_OP_COMMIT).Opcommit.(*nfsv4.Commit4res_NFS4_OK).Resok4
		require.Equal(t, w.Writeverf, cm.Writeverf)

		data, eof := readData(t, c, fh, sid, 6, 100)
		require.Equal(t, "world", string(data))
		require.True(t, eof)
		// The anonymous and the read-bypass stateids read too.
		data, _ = readData(t, c, fh, nfsv4.Stateid4{}, 0, 5)
		require.Equal(t, "hello", string(data))
		bypass := nfsv4.Stateid4{Seqid: nfsv4.NFS4_UINT32_MAX}
		for i := range bypass.Other {
			bypass.Other[i] = 0xff
		}
		data, _ = readData(t, c, fh, bypass, 0, 5)
		require.Equal(t, "hello", string(data))
		fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Write(bypass, 0, []byte("x")))

		// A stateid whose seqid is behind is OLD, ahead BAD; a made-up one
		// BAD.
		if sid.Seqid > 1 {
			old := sid
			old.Seqid--
			fails(t, c, nfsv4.NFS4ERR_OLD_STATEID, nfstest.PutFH(fh), nfstest.Read(old, 0, 1))
		}
		ahead := sid
		ahead.Seqid += 5
		fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(ahead, 0, 1))
		madeUp := sid
		madeUp.Other[11] ^= 0x55
		fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(madeUp, 0, 1))
		stale := sid
		stale.Other[0] ^= 0x55
		fails(t, c, nfsv4.NFS4ERR_STALE_STATEID, nfstest.PutFH(fh), nfstest.Read(stale, 0, 1))
		// The stateid of another file.
		fh2, _ := createFile(t, c, root, "g", "owner")
		fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh2), nfstest.Read(sid, 0, 1))

		seqid := uint32(0)
		if minor == 0 {
			seqid = c.NextSeqid("owner")
		}
		res = do(t, c, nfstest.PutFH(fh), nfstest.Close(seqid, sid))
		require.Equal(t, nfsv4.NFS4_OK, res.Status)
		fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(sid, 0, 1))
	}
}

func TestOpenModes(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "modes")
	root := rootFH(t, c)
	do(t, c, nfstest.PutFH(root), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: ptr(uint32(0o777))}))

	// GUARDED4 on an existing name.
	createFile(t, c, root, "exists", "o")
	mode := uint32(0o600)
	fails(t, c, nfsv4.NFS4ERR_EXIST, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull("exists"), &nfsv4.Createhow4_GUARDED4{Createattrs: (&nfstest.Attrs{Mode: &mode}).Fattr()}))

	// EXCLUSIVE4_1: a retry with the same verifier succeeds, another
	// verifier fails.
	verf := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	excl := func(v [8]byte) nfsv4.NfsArgop4 {
		return nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_WRITE, nfstest.ClaimNull("excl"),
			&nfsv4.Createhow4_EXCLUSIVE4_1{ChCreateboth: nfsv4.Creatverfattr{CvaVerf: v, CvaAttrs: (&nfstest.Attrs{Mode: &mode}).Fattr()}})
	}
	res := do(t, c, nfstest.PutFH(root), excl(verf), nfstest.GetFH())
	fh := nfstest.FH(res)
	do(t, c, nfstest.PutFH(root), excl(verf))
	fails(t, c, nfsv4.NFS4ERR_EXIST, nfstest.PutFH(root), excl([8]byte{9}))
	require.Equal(t, uint32(0o600), attrs(t, c, fh, nfsv4.FATTR4_MODE).Mode)

	// Share deny is refused as EFS does.
	deny := nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("exists"), nil)
	deny.(*nfsv4.NfsArgop4_OP_OPEN).Opopen.ShareDeny = nfsv4.OPEN4_SHARE_DENY_WRITE
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, nfstest.PutFH(root), deny)

	// Opening a directory or a symlink.
	do(t, c, nfstest.PutFH(root), nfstest.Mkdir("d", 0o755))
	do(t, c, nfstest.PutFH(root), nfstest.Symlink("l", "exists"))
	fails(t, c, nfsv4.NFS4ERR_ISDIR, nfstest.PutFH(root), nfstest.Open(0, 0, "o", 1, nfstest.ClaimNull("d"), nil))
	fails(t, c, nfsv4.NFS4ERR_SYMLINK, nfstest.PutFH(root), nfstest.Open(0, 0, "o", 1, nfstest.ClaimNull("l"), nil))

	// UNCHECKED4 with size 0 truncates an existing file (O_TRUNC).
	fh, sid := createFile(t, c, root, "trunc", "o")
	do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, bytes.Repeat([]byte("x"), 100)))
	zero := uint64(0)
	do(t, c, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH, nfstest.ClaimNull("trunc"),
		&nfsv4.Createhow4_UNCHECKED4{Createattrs: (&nfstest.Attrs{Size: &zero}).Fattr()}))
	require.Zero(t, attrs(t, c, fh, nfsv4.FATTR4_SIZE).Size)

	// CLAIM_FH opens by handle; OPEN_DOWNGRADE to read only.
	res = do(t, c, nfstest.PutFH(fh), nfstest.Open(0, 0, "other owner", nfsv4.OPEN4_SHARE_ACCESS_BOTH, &nfsv4.OpenClaim4_CLAIM_FH{}, nil))
	osid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	res = do(t, c, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_OPEN_DOWNGRADE{OpopenDowngrade: nfsv4.OpenDowngrade4args{
		OpenStateid: osid, ShareAccess: nfsv4.OPEN4_SHARE_ACCESS_READ}})
	dsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN_DOWNGRADE).OpopenDowngrade.(*nfsv4.OpenDowngrade4res_NFS4_OK).Resok4.OpenStateid
	require.Equal(t, osid.Seqid+1, dsid.Seqid)
	fails(t, c, nfsv4.NFS4ERR_OPENMODE, nfstest.PutFH(fh), nfstest.Write(dsid, 0, []byte("x")))
	// Upgrading through a downgrade is refused.
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_OPEN_DOWNGRADE{OpopenDowngrade: nfsv4.OpenDowngrade4args{
		OpenStateid: dsid, ShareAccess: nfsv4.OPEN4_SHARE_ACCESS_BOTH}})

	// The current stateid (seqid 1, other 0) names the one OPEN just made.
	current := nfsv4.Stateid4{Seqid: 1}
	res = do(t, c, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH, nfstest.ClaimNull("cur"),
		nfstest.Unchecked(0o644)), nfstest.Write(current, 0, []byte("abc")), nfstest.Close(0, current))
	require.Equal(t, nfsv4.NFS4_OK, res.Status)
	fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(current, 0, 1))
}

func TestTestAndFreeStateid(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "test stateid")
	fh, sid := createFile(t, c, rootFH(t, c), "f", "o")
	bad := sid
	bad.Other[5] ^= 1
	res := do(t, c, &nfsv4.NfsArgop4_OP_TEST_STATEID{OptestStateid: nfsv4.TestStateid4args{TsStateids: []nfsv4.Stateid4{sid, bad, {}}}})
	codes := nfstest.Last(res).(*nfsv4.NfsResop4_OP_TEST_STATEID).OptestStateid.(*nfsv4.TestStateid4res_NFS4_OK).TsrResok4.TsrStatusCodes
	require.Equal(t, []nfsv4.Nfsstat4{nfsv4.NFS4_OK, nfsv4.NFS4ERR_BAD_STATEID, nfsv4.NFS4ERR_BAD_STATEID}, codes)

	// An open stateid cannot be freed; a lock stateid without locks can.
	fails(t, c, nfsv4.NFS4ERR_LOCKS_HELD, &nfsv4.NfsArgop4_OP_FREE_STATEID{OpfreeStateid: nfsv4.FreeStateid4args{FsaStateid: sid}})
	res = do(t, c, nfstest.PutFH(fh), nfstest.LockNew(true, 0, 10, 0, sid, 0, c.ClientID, "lo"))
	lsid := nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCK).Oplock.(*nfsv4.Lock4res_NFS4_OK).Resok4.LockStateid
	fails(t, c, nfsv4.NFS4ERR_LOCKS_HELD, &nfsv4.NfsArgop4_OP_FREE_STATEID{OpfreeStateid: nfsv4.FreeStateid4args{FsaStateid: lsid}})
	res = do(t, c, nfstest.PutFH(fh), nfstest.LockU(0, lsid, 0, 10))
	lsid = nfstest.Last(res).(*nfsv4.NfsResop4_OP_LOCKU).Oplocku.(*nfsv4.Locku4res_NFS4_OK).LockStateid
	do(t, c, &nfsv4.NfsArgop4_OP_FREE_STATEID{OpfreeStateid: nfsv4.FreeStateid4args{FsaStateid: lsid}})
	fails(t, c, nfsv4.NFS4ERR_BAD_STATEID, &nfsv4.NfsArgop4_OP_FREE_STATEID{OpfreeStateid: nfsv4.FreeStateid4args{FsaStateid: lsid}})
}

func TestStateIsPerClient(t *testing.T) {
	e := newEnv(t)
	a := e.client(1, "a")
	b := e.client(1, "b")
	fh, sid := createFile(t, a, rootFH(t, a), "f", "o")
	// Another client cannot use a's stateid.
	fails(t, b, nfsv4.NFS4ERR_BAD_STATEID, nfstest.PutFH(fh), nfstest.Read(sid, 0, 1))
}

func ptr[T any](v T) *T { return &v }
