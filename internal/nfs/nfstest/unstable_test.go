package nfstest_test

import (
	"bytes"
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

// crashEnv serves a store through a program that can crash: crash drops the
// service (with its buffered writes, unflushed) and the program, and starts
// new ones over the same stores, as kill -9 and a restart would.
type crashEnv struct {
	t     *testing.T
	meta  meta.Store
	blobs *memblob.Store
	clock *clock.Fake
	opts  nfs.Options
	prog  atomic.Pointer[nfs.Program]
}

func newCrashEnv(t *testing.T) *crashEnv {
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ck := clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	e := &crashEnv{t: t, meta: m, blobs: memblob.New(), clock: ck,
		opts: nfs.Options{Clock: ck, HandleKey: []byte("0123456789abcdef0123456789abcdef"), LeaseTime: 90 * time.Second}}
	svc := e.start()
	_, err = svc.CreateFileSystem(ctx, testFS, fs.CreateOptions{})
	require.NoError(t, err)
	return e
}

func (e *crashEnv) start() *fs.Service {
	svc := fs.New(e.meta, data.New(e.blobs, data.Options{}), nil, fs.Options{Clock: e.clock, NoBackground: true})
	e.prog.Store(nfs.NewProgram(svc, e.opts))
	return svc
}

// crash replaces the service and program without storing what the old
// service buffered (it is never used again).
func (e *crashEnv) crash() {
	e.clock.Advance(time.Second) // a later boot: a new write verifier
	e.start()
}

func (e *crashEnv) client(minor uint32, owner string) *nfstest.Client {
	tr := &nfstest.Direct{
		Serve: func(ctx context.Context, vers, proc uint32, args io.ReadCloser, nrv func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
			return e.prog.Load().Serve(ctx, vers, proc, args, nrv)
		},
		Conn: rpc.Conn{ID: 1, FileSystemID: testFS},
		Cred: rpc.Credentials{Flavor: rpc.AuthSys},
	}
	c := nfstest.New(tr, minor, owner)
	require.NoError(e.t, c.Mount(ctx))
	return c
}

func writeHow(t *testing.T, c *nfstest.Client, fh []byte, sid nfsv4.Stateid4, off uint64, p []byte, how nfsv4.StableHow4) nfsv4.Write4resok {
	t.Helper()
	res := do(t, c, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_WRITE{Opwrite: nfsv4.Write4args{
		Stateid: sid, Offset: off, Stable: how, Data: p}})
	w := nfstest.Last(res).(*nfsv4.NfsResop4_OP_WRITE).Opwrite.(*nfsv4.Write4res_NFS4_OK).Resok4
	require.EqualValues(t, len(p), w.Count)
	return w
}

func commitVerf(t *testing.T, c *nfstest.Client, fh []byte) [nfsv4.NFS4_VERIFIER_SIZE]byte {
	t.Helper()
	res := do(t, c, nfstest.PutFH(fh), nfstest.Commit())
	return nfstest.Last(res).(*nfsv4.NfsResop4_OP_COMMIT).Opcommit.(*nfsv4.Commit4res_NFS4_OK).Resok4.Writeverf
}

func TestUnstableWriteCommitAndVerifier(t *testing.T) {
	for _, minor := range []uint32{0, 1} {
		e := newCrashEnv(t)
		a := e.client(minor, "writer")
		fh, sid := createFile(t, a, rootFH(t, a), "f", "owner")

		w := writeHow(t, a, fh, sid, 0, []byte("hello world"), nfsv4.UNSTABLE4)
		require.Equal(t, nfsv4.UNSTABLE4, w.Committed)
		verf := w.Writeverf

		// Another client sees the unstable write at once: size, change and
		// data.
		b := e.client(minor, "reader")
		info := attrs(t, b, fh, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_CHANGE)
		require.EqualValues(t, 11, info.Size)
		data, eof := readData(t, b, fh, nfsv4.Stateid4{}, 0, 100)
		require.Equal(t, "hello world", string(data))
		require.True(t, eof)

		// More unstable writes change the change attribute every time.
		w2 := writeHow(t, a, fh, sid, 11, []byte("!"), nfsv4.UNSTABLE4)
		require.Equal(t, verf, w2.Writeverf)
		info2 := attrs(t, b, fh, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_CHANGE)
		require.EqualValues(t, 12, info2.Size)
		require.Greater(t, info2.Change, info.Change)

		// COMMIT answers the same verifier: nothing was lost.
		require.Equal(t, verf, commitVerf(t, a, fh))

		// Stable writes are answered FILE_SYNC4; DATA_SYNC4 may be
		// answered with the stronger FILE_SYNC4.
		for _, how := range []nfsv4.StableHow4{nfsv4.DATA_SYNC4, nfsv4.FILE_SYNC4} {
			ws := writeHow(t, a, fh, sid, 0, []byte("H"), how)
			require.Equal(t, nfsv4.FILE_SYNC4, ws.Committed)
			require.Equal(t, verf, ws.Writeverf)
		}

		// An unstable write made durable by COMMIT alone, then one that is
		// never committed, then a crash.
		writeHow(t, a, fh, sid, 12, []byte("?"), nfsv4.UNSTABLE4)
		require.Equal(t, verf, commitVerf(t, a, fh))
		writeHow(t, a, fh, sid, 13, []byte(" and more"), nfsv4.UNSTABLE4)
		e.crash()
		c := e.client(minor, "after")
		after := commitVerf(t, c, fh)
		require.NotEqual(t, verf, after, "the verifier changes on restart, so the client resends")
		// What was committed, or written stable, survived; the uncommitted
		// write did not.
		data, eof = readData(t, c, fh, nfsv4.Stateid4{}, 0, 100)
		require.Equal(t, "Hello world!?", string(data))
		require.True(t, eof)
		require.EqualValues(t, 13, attrs(t, c, fh, nfsv4.FATTR4_SIZE).Size)
	}
}

func TestUnstableWritesThenTruncateAndCloseToOpen(t *testing.T) {
	e := newCrashEnv(t)
	a := e.client(1, "writer")
	root := rootFH(t, a)
	fh, sid := createFile(t, a, root, "g", "owner")
	big := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640,000 bytes, three blocks
	for off := 0; off < len(big); off += 64 << 10 {
		writeHow(t, a, fh, sid, uint64(off), big[off:min(off+64<<10, len(big))], nfsv4.UNSTABLE4)
	}
	// A truncation after unstable writes applies to them.
	do(t, a, nfstest.PutFH(fh), nfstest.SetAttr(sid, nfstest.Attrs{Size: ptr(uint64(300_000))}))
	require.EqualValues(t, 300_000, attrs(t, a, fh, nfsv4.FATTR4_SIZE).Size)
	writeHow(t, a, fh, sid, 299_990, []byte("tail"), nfsv4.UNSTABLE4)
	do(t, a, nfstest.PutFH(fh), nfstest.Close(0, sid))

	// Close-to-open: another client opening after the CLOSE sees
	// everything, even before anyone commits.
	b := e.client(1, "reader")
	want := append(append([]byte(nil), big[:299_990]...), "tail"...)
	want = append(want, big[299_994:300_000]...)
	res := do(t, b, nfstest.PutFH(root), nfstest.Lookup("g"), nfstest.GetAttr(nfsv4.FATTR4_SIZE))
	ga := nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK)
	info, err := nfstest.DecodeAttrs(ga.Resok4.ObjAttributes)
	require.NoError(t, err)
	require.EqualValues(t, len(want), info.Size)
	var got []byte
	for off := uint64(0); ; {
		data, eof := readData(t, b, fh, nfsv4.Stateid4{}, off, 128<<10)
		got = append(got, data...)
		off += uint64(len(data))
		if eof {
			break
		}
	}
	require.True(t, bytes.Equal(want, got))
}
