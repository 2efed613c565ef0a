package nfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
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
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// TestStatusOfCode checks that every fs.Code has its own NFSv4 status: a
// new code fails here until status.go maps it.
func TestStatusOfCode(t *testing.T) {
	want := map[fs.Code]nfsv4.Nfsstat4{
		fs.IO: nfsv4.NFS4ERR_IO, fs.NotExist: nfsv4.NFS4ERR_NOENT, fs.Exist: nfsv4.NFS4ERR_EXIST,
		fs.Access: nfsv4.NFS4ERR_ACCESS, fs.Perm: nfsv4.NFS4ERR_PERM, fs.NotDir: nfsv4.NFS4ERR_NOTDIR,
		fs.IsDir: nfsv4.NFS4ERR_ISDIR, fs.NotEmpty: nfsv4.NFS4ERR_NOTEMPTY, fs.Invalid: nfsv4.NFS4ERR_INVAL,
		fs.NameTooLong: nfsv4.NFS4ERR_NAMETOOLONG, fs.NoSpace: nfsv4.NFS4ERR_NOSPC, fs.FileTooBig: nfsv4.NFS4ERR_FBIG,
		fs.TooManyLinks: nfsv4.NFS4ERR_MLINK, fs.Stale: nfsv4.NFS4ERR_STALE, fs.KeyUnavailable: nfsv4.NFS4ERR_IO,
		fs.TooDeep: nfsv4.NFS4ERR_NOSPC, fs.Busy: nfsv4.NFS4ERR_DELAY, fs.NoSuchOffset: nfsv4.NFS4ERR_NXIO,
	}
	n := 0
	for c := fs.Code(1); c.String() != fmt.Sprintf("code %d", int(c)); c++ {
		st, ok := want[c]
		require.True(t, ok, "fs.Code %d (%s) has no expected status in this test", int(c), c)
		require.Equal(t, nfsv4.Nfsstat4_name[st], nfsv4.Nfsstat4_name[statusOfCode(c)], "fs.Code %s", c)
		n++
	}
	require.Equal(t, len(want), n, "every code in the table exists")
	require.Equal(t, nfsv4.NFS4ERR_SERVERFAULT, statusOfCode(0))

	require.Equal(t, nfsv4.NFS4_OK, statusOf(nil))
	require.Equal(t, nfsv4.NFS4ERR_DELAY, statusOf(context.DeadlineExceeded))
	require.Equal(t, nfsv4.NFS4ERR_DELAY, statusOf(fmt.Errorf("wrapped: %w", context.Canceled)))
	require.Equal(t, nfsv4.NFS4ERR_IO, statusOf(io.ErrUnexpectedEOF), "unknown errors are IO")
	require.Equal(t, nfsv4.NFS4ERR_STALE, statusOf(fmt.Errorf("x: %w", &fs.Error{Code: fs.Stale})))
}

// TestErrorResults checks that every operation's error result encodes with
// its own opcode and the status.
func TestErrorResults(t *testing.T) {
	for op := nfsv4.OP_ACCESS; op <= nfsv4.OP_CLONE; op++ {
		r := errorResult(op, nfsv4.NFS4ERR_IO)
		require.Equal(t, op, nfstest.Op(r), "op %d", op)
		require.Equal(t, nfsv4.NFS4ERR_IO, nfstest.Status(r))
	}
	r := errorResult(9999, nfsv4.NFS4ERR_IO)
	require.Equal(t, nfsv4.OP_ILLEGAL, nfstest.Op(r))
}

func TestHandleRoundTrip(t *testing.T) {
	h := handleCodec{key: []byte("k")}
	for _, fsID := range []string{"fs-0123456789abcdef0", "fs-12345678", ""} {
		raw := h.encode(fsID, "fsap-0123456789abcdef0", 1<<40+7, 3, fs.TypeSymlink)
		require.LessOrEqual(t, len(raw), nfsv4.NFS4_FHSIZE)
		fh, err := h.decode(raw)
		require.NoError(t, err)
		require.Equal(t, fileHandle{fsID: fsID, apID: "fsap-0123456789abcdef0", ino: 1<<40 + 7, gen: 3, typ: fs.TypeSymlink, raw: raw}, fh)
	}
	// Longest IDs still fit in NFS4_FHSIZE.
	long := string(bytes.Repeat([]byte("x"), maxHandleIDLen))
	require.LessOrEqual(t, len(h.encode(long, long, 1, 1, fs.TypeRegular)), nfsv4.NFS4_FHSIZE)
	_, err := (&handleCodec{key: []byte("other")}).decode(h.encode("fs-1", "", 1, 1, fs.TypeRegular))
	require.ErrorIs(t, err, errBadHandle)
}

func FuzzHandle(f *testing.F) {
	h := handleCodec{key: []byte("fuzz key")}
	f.Add(h.encode("fs-0123456789abcdef0", "", 1, 1, fs.TypeDirectory))
	f.Add(h.encode("fs-1", "fsap-1", 99, 2, fs.TypeRegular))
	f.Add([]byte{1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fh, err := h.decode(b)
		if err != nil {
			return
		}
		// Only genuine handles decode, and they encode back to themselves.
		require.Equal(t, b, h.encode(fh.fsID, fh.apID, fh.ino, fh.gen, fh.typ))
	})
}

// fuzzProgram is a Program over a real, in-memory file system.
func fuzzProgram(t testing.TB) *Program {
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ck := clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	svc := fs.New(m, data.New(memblob.New(), data.Options{}), nil, fs.Options{Clock: ck, NoBackground: true})
	t.Cleanup(func() { _ = svc.Close() })
	_, err = svc.CreateFileSystem(context.Background(), "fs-0123456789abcdef0", fs.CreateOptions{})
	require.NoError(t, err)
	return NewProgram(svc, Options{Clock: ck, HandleKey: []byte("0123456789abcdef0123456789abcdef"), Meta: m})
}

func serveBytes(p *Program, args []byte) (rpcv2.AcceptedReplyData, []byte, error) {
	ctx := rpc.WithConn(context.Background(), &rpc.Conn{FileSystemID: "fs-0123456789abcdef0"})
	ctx = rpc.WithCredentials(ctx, &rpc.Credentials{Flavor: rpc.AuthSys, UID: 1000, GID: 1000})
	var out *bytes.Buffer
	rd, err := p.Serve(ctx, Version, 1, io.NopCloser(bytes.NewReader(args)), func(n int) io.Writer {
		out = bytes.NewBuffer(make([]byte, 0, n))
		return out
	})
	if out == nil {
		return rd, nil, err
	}
	return rd, out.Bytes(), err
}

// FuzzCompound decodes COMPOUND arguments from random bytes and runs them:
// no panic, a well-formed reply whenever the call is accepted, and a reply
// no larger than the limits allow.
func FuzzCompound(f *testing.F) {
	p := fuzzProgram(f)
	enc := func(minor uint32, ops ...nfsv4.NfsArgop4) []byte {
		return nfstest.Encode(&nfsv4.Compound4args{Minorversion: minor, Argarray: ops})
	}
	mode := uint32(0o644)
	f.Add(enc(0, nfstest.PutRootFH(), nfstest.GetFH(), nfstest.GetAttr(0, 1, 3, 4, 8, 19, 20, 33, 35, 36, 37, 45, 47, 52, 53, 55)))
	f.Add(enc(0, nfstest.PutRootFH(), nfstest.Mkdir("d", 0o755), nfstest.GetFH(), nfstest.Lookup("x"), nfstest.LookupP()))
	f.Add(enc(0, nfstest.PutRootFH(), nfstest.ReadDir(0, [8]byte{}, 100, 1000, 0, 1, 19, 20), nfstest.SaveFH(),
		nfstest.Rename("a", "b"), nfstest.Remove("d")))
	f.Add(enc(0, &nfsv4.NfsArgop4_OP_SETCLIENTID{Opsetclientid: nfsv4.Setclientid4args{Client: nfsv4.NfsClientId4{Id: []byte("c")}}}))
	f.Add(enc(0, nfstest.PutRootFH(), nfstest.Open(1, 1, "o", 3, nfstest.ClaimNull("f"), &nfsv4.Createhow4_UNCHECKED4{
		Createattrs: (&nfstest.Attrs{Mode: &mode}).Fattr()}), nfstest.Write(nfsv4.Stateid4{}, 0, []byte("data")),
		nfstest.Read(nfsv4.Stateid4{}, 0, 10), nfstest.LockT(true, 0, 1, 1, "x"), nfstest.Commit()))
	f.Add(enc(1, &nfsv4.NfsArgop4_OP_EXCHANGE_ID{OpexchangeId: nfsv4.ExchangeId4args{
		EiaClientowner: nfsv4.ClientOwner4{CoOwnerid: []byte("c")}, EiaStateProtect: &nfsv4.StateProtect4A_SP4_NONE{}}}))
	f.Add(enc(1, &nfsv4.NfsArgop4_OP_SEQUENCE{}, nfstest.PutRootFH()))
	f.Add(enc(2, &nfsv4.NfsArgop4_OP_SEQUENCE{}, nfstest.PutRootFH(),
		&nfsv4.NfsArgop4_OP_SEEK{Opseek: nfsv4.Seek4args{SaOffset: 1, SaWhat: nfsv4.NFS4_CONTENT_HOLE}},
		&nfsv4.NfsArgop4_OP_ALLOCATE{Opallocate: nfsv4.Allocate4args{AaLength: 1}},
		&nfsv4.NfsArgop4_OP_DEALLOCATE{Opdeallocate: nfsv4.Deallocate4args{DaLength: 1}}, &nfsv4.NfsArgop4_OP_CLONE{}))
	f.Add(enc(3))
	f.Fuzz(func(t *testing.T, args []byte) {
		// A COMPOUND must finish promptly; a hang dumps every goroutine.
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("COMPOUND %x hangs:\n%s", args, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		rd, reply, err := serveBytes(p, args)
		require.NoError(t, err)
		if rd.GetStat() != rpcv2.SUCCESS {
			require.Equal(t, rpcv2.GARBAGE_ARGS, rd.GetStat())
			return
		}
		require.LessOrEqual(t, len(reply), MaxResponseBytes+64<<10)
		_, err = nfstest.Decode(reply)
		require.NoError(t, err)
	})
}

// BenchmarkHandleDecode verifies a file handle, as every PUTFH does.
func BenchmarkHandleDecode(b *testing.B) {
	h := handleCodec{key: []byte("0123456789abcdef0123456789abcdef")}
	raw := h.encode("fs-0123456789abcdef0", "", 42, 1, fs.TypeRegular)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadWrite checks the zero-copy WRITE decoder against go-xdr's: the
// same arguments, or both refuse, and the same position after them.
func FuzzReadWrite(f *testing.F) {
	enc := func(op nfsv4.NfsArgop4) []byte {
		var b bytes.Buffer
		_, err := op.WriteTo(&b)
		require.NoError(f, err)
		return b.Bytes()
	}
	f.Add(enc(nfstest.Write(nfsv4.Stateid4{Seqid: 7, Other: [12]byte{1, 2, 3}}, 1<<40, []byte("hello"))))
	f.Add(enc(nfstest.Write(nfsv4.Stateid4{}, 0, nil)))
	f.Add(enc(nfstest.Write(nfsv4.Stateid4{}, 3, make([]byte, 4096))))
	f.Add(append(enc(nfstest.Write(nfsv4.Stateid4{}, 3, []byte("abc"))), 0, 0, 0, 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		b = append([]byte{0, 0, 0, byte(nfsv4.OP_WRITE)}, b[4:]...)
		r := bytes.NewReader(b)
		got, gotOK := readOp(b, r)
		want, _, err := nfsv4.ReadNfsArgop4(bytes.NewReader(b))
		require.Equal(t, err == nil, gotOK, "go-xdr says %v", err)
		if !gotOK {
			require.Equal(t, nfsv4.NFS4ERR_BADXDR, got.err)
			return
		}
		gw, ww := got.arg.(*nfsv4.NfsArgop4_OP_WRITE).Opwrite, want.(*nfsv4.NfsArgop4_OP_WRITE).Opwrite
		if len(ww.Data) == 0 {
			ww.Data = nil
		}
		require.Equal(t, ww, gw)
		require.Equal(t, int64(want.GetEncodedSizeBytes()), int64(len(b)-r.Len()))
	})
}
