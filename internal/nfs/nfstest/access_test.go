package nfstest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

// fakeGate is a Gate whose answer the test changes.
type fakeGate struct {
	mu  sync.Mutex
	a   nfs.Access
	err error
}

func (g *fakeGate) Access(context.Context) (nfs.Access, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.a, g.err
}

func (g *fakeGate) set(a nfs.Access, err error) {
	g.mu.Lock()
	g.a, g.err = a, err
	g.mu.Unlock()
}

// gatedClient returns a mounted client of uid:gid whose connection has g.
func (e *env) gatedClient(t *testing.T, g nfs.Gate, minor uint32, owner string, uid, gid uint32) (*nfstest.Client, error) {
	t.Helper()
	tr := e.transport(uid, gid)
	tr.Context = func(ctx context.Context) context.Context { return nfs.WithGate(ctx, g) }
	c := nfstest.New(tr, minor, owner)
	return c, c.Mount(ctx)
}

func TestAccessMountDenied(t *testing.T) {
	e := newEnv(t)
	g := &fakeGate{a: nfs.Access{}}
	c, err := e.gatedClient(t, g, 1, "denied", 0, 0)
	require.NoError(t, err, "the session is set up; the file system is what is refused")
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutRootFH())
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutPubFH())

	// A handle obtained while allowed stops working once ClientMount is
	// revoked.
	g.set(nfs.FullAccess, nil)
	root := rootFH(t, c)
	g.set(nfs.Access{}, nil)
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root))

	// A gate that cannot decide makes the client retry.
	g.set(nfs.FullAccess, errors.New("metadata unavailable"))
	res, err := c.Do(ctx, nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_DELAY, res.Status)
}

func TestAccessReadOnly(t *testing.T) {
	e := newEnv(t)
	g := &fakeGate{a: nfs.FullAccess}
	c, err := e.gatedClient(t, g, 1, "ro", 0, 0)
	require.NoError(t, err)
	root := rootFH(t, c)
	fh, sid := createFile(t, c, root, "f", "ro")
	do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, []byte("before")))
	do(t, c, nfstest.PutFH(root), nfstest.Mkdir("d", 0o755))

	g.set(nfs.Access{Mount: true, Root: true}, nil)
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(fh), nfstest.Write(sid, 0, []byte("after")))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Mkdir("e", 0o755))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Remove("d"))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.SaveFH(), nfstest.Rename("d", "e"))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(fh), nfstest.SaveFH(), nfstest.PutFH(root), nfstest.Link("g"))
	mode := uint32(0o600)
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(fh), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: &mode}))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Open(0, c.ClientID, "ro", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("new"), nfstest.Unchecked(0o644)))
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Open(0, c.ClientID, "ro", nfsv4.OPEN4_SHARE_ACCESS_WRITE,
		&nfsv4.OpenClaim4_CLAIM_NULL{File: "f"}, nil))

	// Reading still works, and ACCESS grants no write bits.
	res := do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, 0, 100))
	require.Equal(t, []byte("before"), nfstest.Last(res).(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK).Resok4.Data)
	res = do(t, c, nfstest.PutFH(root), nfstest.Access(nfsv4.ACCESS4_READ|nfsv4.ACCESS4_MODIFY|nfsv4.ACCESS4_EXTEND|nfsv4.ACCESS4_DELETE|nfsv4.ACCESS4_LOOKUP))
	got := nfstest.Last(res).(*nfsv4.NfsResop4_OP_ACCESS).Opaccess.(*nfsv4.Access4res_NFS4_OK).Resok4
	require.Equal(t, uint32(nfsv4.ACCESS4_READ|nfsv4.ACCESS4_LOOKUP), got.Access)
	do(t, c, nfstest.PutRootFH(), nfstest.Lookup("d"), nfstest.GetAttr(nfsv4.FATTR4_MODE))
}

func TestAccessRootSquash(t *testing.T) {
	e := newEnv(t)
	g := &fakeGate{a: nfs.Access{Mount: true, Write: true}}
	c, err := e.gatedClient(t, g, 1, "squashed", 0, 0)
	require.NoError(t, err)
	root := rootFH(t, c)
	// "/" is root:root 0755: a squashed root may not create in it.
	fails(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Mkdir("d", 0o755))

	g.set(nfs.FullAccess, nil)
	do(t, c, nfstest.PutFH(root), nfstest.Mkdir("pub", 0o777))
	g.set(nfs.Access{Mount: true, Write: true}, nil)
	res := do(t, c, nfstest.PutFH(root), nfstest.Lookup("pub"), nfstest.Mkdir("mine", 0o755), nfstest.GetAttr(nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP))
	info, err := nfstest.DecodeAttrs(nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
	require.NoError(t, err)
	require.Equal(t, "65534", info.Owner)
	require.Equal(t, "65534", info.Group)

	// Other users are not touched.
	c2, err := e.gatedClient(t, g, 1, "user", 1000, 1000)
	require.NoError(t, err)
	res = do(t, c2, nfstest.PutRootFH(), nfstest.Lookup("pub"), nfstest.Mkdir("u", 0o755), nfstest.GetAttr(nfsv4.FATTR4_OWNER))
	info, err = nfstest.DecodeAttrs(nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
	require.NoError(t, err)
	require.Equal(t, "1000", info.Owner)
}

func TestAccessPointScope(t *testing.T) {
	e := newEnv(t)
	admin := e.client(1, "admin")
	root := rootFH(t, admin)
	do(t, admin, nfstest.PutFH(root), nfstest.Mkdir("outside", 0o755))
	do(t, admin, nfstest.PutFH(root), nfstest.Mkdir("data", 0o755))
	apRootRes := do(t, admin, nfstest.PutFH(root), nfstest.Lookup("data"), nfstest.GetAttr(nfsv4.FATTR4_FILEID), nfstest.GetFH())
	apRootFH := nfstest.FH(apRootRes)
	f, err := e.svc.FileSystem(ctx, testFS)
	require.NoError(t, err)
	caller := fs.Caller{}
	dataAttr, err := f.Lookup(ctx, &caller, fs.RootIno, "data")
	require.NoError(t, err)
	_, err = f.SetAttr(ctx, &caller, dataAttr.Ino, fs.SetAttrs{UID: ptr(uint32(1001)), GID: ptr(uint32(1002))})
	require.NoError(t, err)

	ap := &nfs.AccessPoint{ID: "fsap-0123456789abcdef0", Root: dataAttr.Ino,
		User: &fs.Caller{UID: 1001, GID: 1002, Groups: []uint32{5000}}}
	g := &fakeGate{a: nfs.Access{Mount: true, Write: true, AccessPoint: ap}}
	// The client claims to be root; the access point's user replaces it.
	c, err := e.gatedClient(t, g, 1, "ap", 0, 0)
	require.NoError(t, err)
	apRoot := rootFH(t, c)
	require.NotEqual(t, apRootFH, apRoot, "handles carry the access point")
	info := attrs(t, c, apRoot, nfsv4.FATTR4_FILEID)
	require.Equal(t, dataAttr.Ino, info.Fileid, "the access point's directory is the root")

	// LOOKUPP at the root stays there.
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutFH(apRoot), nfstest.LookupP())
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutRootFH(), nfstest.LookupP())
	// ".." is not a name.
	fails(t, c, nfsv4.NFS4ERR_BADNAME, nfstest.PutRootFH(), nfstest.Lookup(".."))
	// Handles from outside the access point are refused, even genuine
	// ones.
	fails(t, c, nfsv4.NFS4ERR_STALE, nfstest.PutFH(root))
	fails(t, c, nfsv4.NFS4ERR_STALE, nfstest.PutFH(apRootFH))

	// New files belong to the access point's user.
	fh, _ := createFile(t, c, apRoot, "f", "ap")
	info = attrs(t, c, fh, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP)
	require.Equal(t, "1001", info.Owner)
	require.Equal(t, "1002", info.Group)
	sub := nfstest.FH(do(t, c, nfstest.PutFH(apRoot), nfstest.Mkdir("sub", 0o755), nfstest.GetFH()))
	parent := nfstest.FH(do(t, c, nfstest.PutFH(sub), nfstest.LookupP(), nfstest.GetFH()))
	require.Equal(t, apRoot, parent)

	// A directory moved out of the access point's root since its handle
	// was issued cannot be reached with that handle any more.
	do(t, admin, nfstest.PutFH(root), nfstest.Lookup("data"), nfstest.SaveFH(), nfstest.PutFH(root), nfstest.Rename("sub", "moved-out"))
	fails(t, c, nfsv4.NFS4ERR_STALE, nfstest.PutFH(sub))
	do(t, admin, nfstest.PutFH(root), nfstest.SaveFH(), nfstest.Lookup("data"), nfstest.Rename("moved-out", "sub"))
	do(t, c, nfstest.PutFH(sub), nfstest.GetAttr(nfsv4.FATTR4_MODE))

	// The access point's handles are no good without it.
	fails(t, admin, nfsv4.NFS4ERR_STALE, nfstest.PutFH(fh))
	// And the admin sees the file where it is.
	do(t, admin, nfstest.PutFH(root), nfstest.Lookup("data"), nfstest.Lookup("f"))
}
