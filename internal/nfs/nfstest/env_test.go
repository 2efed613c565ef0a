package nfstest_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

var ctx = context.Background()

const testFS = "fs-0123456789abcdef0"

// env is a real fs.Service on Pebble in memory and memblob, with one file
// system, served by an nfs.Program on a fake clock.
type env struct {
	t     testing.TB
	meta  meta.Store
	svc   *fs.Service
	clock *clock.Fake
	opts  nfs.Options
	prog  atomic.Pointer[nfs.Program]
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvClock(t, clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)))
}

func newEnvClock(t testing.TB, ck clock.Clock) *env {
	t.Helper()
	return newEnvFS(t, ck, vfs.NewMem())
}

// newEnvFS is newEnvClock with the metadata store on mfs.
func newEnvFS(t testing.TB, ck clock.Clock, mfs vfs.FS) *env {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: mfs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	svc := fs.New(m, data.New(memblob.New(), data.Options{}), nil, fs.Options{Clock: ck, NoBackground: true})
	t.Cleanup(func() { _ = svc.Close() })
	_, err = svc.CreateFileSystem(ctx, testFS, fs.CreateOptions{})
	require.NoError(t, err)
	e := &env{t: t, meta: m, svc: svc}
	e.clock, _ = ck.(*clock.Fake)
	e.opts = nfs.Options{Clock: ck, HandleKey: []byte("0123456789abcdef0123456789abcdef"), Meta: m,
		LeaseTime: 90 * time.Second}
	e.prog.Store(nfs.NewProgram(svc, e.opts))
	return e
}

// restart replaces the program, as a restart of shelfd would: same store,
// same handle key, no state.
func (e *env) restart() { e.prog.Store(nfs.NewProgram(e.svc, e.opts)) }

// transport returns a transport for a caller with uid and gid. It calls
// whatever program e has at the time of the call.
func (e *env) transport(uid, gid uint32) *nfstest.Direct {
	return &nfstest.Direct{
		Serve: func(ctx context.Context, vers, proc uint32, args io.ReadCloser, nrv func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
			return e.prog.Load().Serve(ctx, vers, proc, args, nrv)
		},
		Conn: rpc.Conn{ID: 1, FileSystemID: testFS},
		Cred: rpc.Credentials{Flavor: rpc.AuthSys, UID: uid, GID: gid},
	}
}

// client returns a mounted client of minor version minor as root.
func (e *env) client(minor uint32, owner string) *nfstest.Client {
	return e.clientAs(minor, owner, 0, 0)
}

func (e *env) clientAs(minor uint32, owner string, uid, gid uint32) *nfstest.Client {
	e.t.Helper()
	c := nfstest.New(e.transport(uid, gid), minor, owner)
	require.NoError(e.t, c.Mount(ctx))
	return c
}

// do runs ops and requires success.
func do(t *testing.T, c *nfstest.Client, ops ...nfsv4.NfsArgop4) *nfsv4.Compound4res {
	t.Helper()
	res, err := c.Do(ctx, ops...)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, res.Status, "status %s", nfsv4.Nfsstat4_name[res.Status])
	return res
}

// fails runs ops and requires that the last result fails with st.
func fails(t *testing.T, c *nfstest.Client, st nfsv4.Nfsstat4, ops ...nfsv4.NfsArgop4) *nfsv4.Compound4res {
	t.Helper()
	res, err := c.Do(ctx, ops...)
	require.NoError(t, err)
	require.Equal(t, nfsv4.Nfsstat4_name[st], nfsv4.Nfsstat4_name[res.Status])
	require.Equal(t, st, nfstest.Status(nfstest.Last(res)))
	return res
}

// rootFH returns the root handle.
func rootFH(t *testing.T, c *nfstest.Client) []byte {
	return nfstest.FH(do(t, c, nfstest.PutRootFH(), nfstest.GetFH()))
}

// createFile creates name in dir (OPEN UNCHECKED4, mode 0644) and returns
// its handle and open stateid.
func createFile(t *testing.T, c *nfstest.Client, dir []byte, name, owner string) ([]byte, nfsv4.Stateid4) {
	t.Helper()
	seqid := uint32(0)
	if c.Minor == 0 {
		seqid = c.NextSeqid(owner)
	}
	res := do(t, c, nfstest.PutFH(dir), nfstest.Open(seqid, c.ClientID, owner, nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull(name), nfstest.Unchecked(0o644)), nfstest.GetFH())
	open, ok := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
	require.True(t, ok)
	okRes := open.Opopen.(*nfsv4.Open4res_NFS4_OK)
	sid := okRes.Resok4.Stateid
	if okRes.Resok4.Rflags&nfsv4.OPEN4_RESULT_CONFIRM != 0 {
		res := do(t, c, nfstest.PutFH(nfstest.FH(res)), &nfsv4.NfsArgop4_OP_OPEN_CONFIRM{OpopenConfirm: nfsv4.OpenConfirm4args{
			OpenStateid: sid, Seqid: c.NextSeqid(owner)}})
		sid = nfstest.Last(res).(*nfsv4.NfsResop4_OP_OPEN_CONFIRM).OpopenConfirm.(*nfsv4.OpenConfirm4res_NFS4_OK).Resok4.OpenStateid
	}
	return nfstest.FH(res), sid
}

// attrs returns the decoded attributes of fh.
func attrs(t *testing.T, c *nfstest.Client, fh []byte, bits ...int) *nfstest.Info {
	t.Helper()
	res := do(t, c, nfstest.PutFH(fh), nfstest.GetAttr(bits...))
	ga := nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK)
	info, err := nfstest.DecodeAttrs(ga.Resok4.ObjAttributes)
	require.NoError(t, err)
	return info
}
