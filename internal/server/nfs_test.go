package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// nfsNull sends an NFSv4 NULL call on c and returns the reply's accept
// status.
func nfsNull(t *testing.T, c net.Conn, xid uint32) rpcv2.AcceptStat {
	t.Helper()
	none := rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE, Body: []byte{}}
	msg := rpcv2.RpcMsg{Xid: xid, Body: &rpcv2.RpcMsgBody_CALL{Cbody: rpcv2.CallBody{
		Rpcvers: 2, Prog: rpc.ProgramNFS, Vers: rpc.NFSVersion, Proc: 0, Cred: none, Verf: none,
	}}}
	var b bytes.Buffer
	b.Write(make([]byte, 4))
	_, err := msg.WriteTo(&b)
	require.NoError(t, err)
	rec := b.Bytes()
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4)|0x8000_0000)
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = c.Write(rec)
	require.NoError(t, err)

	var hdr [4]byte
	_, err = io.ReadFull(c, hdr[:])
	require.NoError(t, err)
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])&^0x8000_0000)
	_, err = io.ReadFull(c, body)
	require.NoError(t, err)
	var reply rpcv2.RpcMsg
	_, err = reply.ReadFrom(bytes.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, xid, reply.Xid)
	acc, ok := reply.Body.(*rpcv2.RpcMsgBody_REPLY).Rbody.(*rpcv2.ReplyBody_MSG_ACCEPTED)
	require.True(t, ok)
	return acc.Areply.ReplyData.GetStat()
}

func dialNFS(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// requireClosedByServer reads c until the server closes it.
func requireClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err := io.ReadAll(c)
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET)
	}
}

func TestNFSStaticExportsAndListeners(t *testing.T) {
	cfg := testConfig(t)
	cfg.NFS.Exports = []config.NFSExport{
		{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true, Encrypted: true},
		{Listen: "[::1]:0", FileSystemID: "fs-01234567", Create: true},
	}
	s := newServer(t, cfg)
	ctx := context.Background()
	f, err := s.FS().FileSystem(ctx, "fs-0123456789abcdef0")
	require.NoError(t, err, "create: true created the file system")
	require.True(t, f.Encrypted())
	require.Contains(t, f.KMSKeyARN(), ":key/")
	f, err = s.FS().FileSystem(ctx, "fs-01234567")
	require.NoError(t, err)
	require.False(t, f.Encrypted())

	n := s.NFS()
	require.NotNil(t, n)
	static := n.Addr("static:127.0.0.1:0")
	require.NotNil(t, static)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()

	c1 := dialNFS(t, static)
	require.Equal(t, rpcv2.SUCCESS, nfsNull(t, c1, 1))
	require.Equal(t, rpcv2.SUCCESS, nfsNull(t, dialNFS(t, n.Addr("static:[::1]:0")), 2))

	// A listener added at run time is served at once (a static one: no
	// mount target of the control plane, so no security group, stands
	// behind it).
	mtAddr, err := n.AddListener(ctx, "127.0.0.1:0", "fs-0123456789abcdef0", "static:mt-under-test")
	require.NoError(t, err)
	c2 := dialNFS(t, mtAddr)
	require.Equal(t, rpcv2.SUCCESS, nfsNull(t, c2, 3))
	_, err = n.AddListener(ctx, "127.0.0.1:0", "fs-0123456789abcdef0", "static:mt-under-test")
	require.ErrorContains(t, err, "already has a listener")
	_, err = n.AddListener(ctx, static.String(), "fs-0123456789abcdef0", "static:mt-other")
	require.ErrorContains(t, err, "address already in use")

	// Removing it closes its connections and only those.
	n.RemoveListener("static:mt-under-test")
	requireClosedByServer(t, c2)
	_, err = net.Dial("tcp", mtAddr.String())
	require.Error(t, err)
	require.Nil(t, n.Addr("static:mt-under-test"))
	n.RemoveListener("static:mt-under-test") // no-op
	require.Equal(t, rpcv2.SUCCESS, nfsNull(t, c1, 4))

	// Shutdown closes every connection.
	cancel()
	require.NoError(t, <-ran)
	requireClosedByServer(t, c1)
	_, err = n.AddListener(ctx, "127.0.0.1:0", "fs-0123456789abcdef0", "fsmt-2")
	require.ErrorIs(t, err, rpc.ErrServerClosed)
}

func TestNFSExportErrors(t *testing.T) {
	t.Run("missing file system", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0"}}
		_, err := New(context.Background(), cfg, nil)
		require.ErrorContains(t, err, "file system fs-0123456789abcdef0 does not exist (set create: true to create it)")
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		cfg := testConfig(t)
		cfg.NFS.Exports = []config.NFSExport{{Listen: ln.Addr().String(), FileSystemID: "fs-0123456789abcdef0", Create: true}}
		_, err = New(context.Background(), cfg, nil)
		require.ErrorContains(t, err, "address already in use")
	})
}

// TestNFSCloseWithoutRun: listeners bound by New are released by Close.
func TestNFSCloseWithoutRun(t *testing.T) {
	cfg := testConfig(t)
	cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true}}
	s, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	addr := s.NFS().Addr("static:127.0.0.1:0")
	require.NoError(t, s.Close())
	ln, err := net.Listen("tcp", addr.String())
	require.NoError(t, err, "the address is free again")
	ln.Close()
}

// TestNFSProgramServesAndHandlesSurviveRestart mounts the static export
// with the nfstest client, then restarts the server over the same data
// directory: the root's file handle still works (the handle key is kept,
// sealed, in the store).
func TestNFSProgramServesAndHandlesSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true}}
	ctx := context.Background()

	rootFH := func(s *Server) []byte {
		runCtx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- s.Run(runCtx) }()
		defer func() {
			cancel()
			require.NoError(t, <-ran)
		}()
		tr, err := nfstest.Dial(ctx, s.NFS().Addr("static:127.0.0.1:0").String(), rpc.Credentials{Flavor: rpc.AuthSys})
		require.NoError(t, err)
		defer tr.Close()
		c := nfstest.New(tr, 1, "server test")
		require.NoError(t, c.Mount(ctx))
		res, err := c.Do(ctx, nfstest.PutRootFH(), nfstest.GetFH())
		require.NoError(t, nfstest.Check(res, err))
		fh := nfstest.FH(res)
		require.NotEmpty(t, fh)
		return fh
	}
	s1, err := New(ctx, cfg, nil)
	require.NoError(t, err)
	fh1 := rootFH(s1)
	require.NoError(t, s1.Close())

	s2 := newServer(t, cfg)
	fh2 := rootFH(s2)
	require.Equal(t, fh1, fh2, "the root's handle is the same after a restart")
}
