package nfstest_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// serveTCP serves e's program with the RPC layer on addr and returns the
// bound address.
func (e *env) serveTCP(t *testing.T, addr string) net.Addr {
	t.Helper()
	srv := rpc.NewServer(map[uint32]rpc.Program{
		rpc.ProgramNFS: rpc.Versions(rpc.NFSVersion, rpc.NFSVersion, func(ctx context.Context, vers, proc uint32, args io.ReadCloser, nrv func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
			return e.prog.Load().Serve(ctx, vers, proc, args, nrv)
		}),
	}, rpc.Options{MaxRecordBytes: nfs.MaxRequestBytes + 8<<10})
	ln, err := rpc.Listen(ctx, addr)
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(sctx, ln, rpc.Conn{FileSystemID: testFS, MountTargetID: "fsmt-0123456789abcdef0"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr()
}

// TestTCP runs a session through the RPC layer over TCP.
func TestTCP(t *testing.T) {
	e := newEnv(t)
	addr := e.serveTCP(t, "127.0.0.1:0")
	for _, minor := range []uint32{0, 1} {
		tr, err := nfstest.Dial(ctx, addr.String(), rpc.Credentials{Flavor: rpc.AuthSys})
		require.NoError(t, err)
		defer tr.Close()
		c := nfstest.New(tr, minor, "tcp client")
		require.NoError(t, c.Null(ctx))
		require.NoError(t, c.Mount(ctx))
		root := rootFH(t, c)
		name := []string{"zero", "one"}[minor]
		fh, sid := createFile(t, c, root, name, "owner")
		big := make([]byte, nfs.MaxIOBytes)
		for i := range big {
			big[i] = byte(i * 7)
		}
		do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, big))
		res := do(t, c, nfstest.PutFH(fh), nfstest.Read(sid, 0, nfs.MaxIOBytes))
		rd := nfstest.Last(res).(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK)
		require.Equal(t, big, rd.Resok4.Data)
	}
}

// TestServeForKernel serves an empty file system on $SHELF_NFS_SERVE
// (host:port) until interrupted, for the kernel-nfs harness:
//
//	SHELF_NFS_SERVE=127.0.0.1:12049 go test -run TestServeForKernel -timeout 0 ./internal/nfs/nfstest
//	sudo scripts/kernel-nfs-run --server 127.0.0.1:12049 --vers 4.1 -- 'echo hi > f; cat f'
func TestServeForKernel(t *testing.T) {
	addr := os.Getenv("SHELF_NFS_SERVE")
	if addr == "" {
		t.Skip("set SHELF_NFS_SERVE=host:port to serve the kernel client")
	}
	e := newEnvClock(t, clock.System)
	e.opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.opts.LeaseTime = 0
	e.opts.Clock = clock.System
	e.restart()
	t.Logf("serving %s on %s", testFS, e.serveTCP(t, addr))
	// SIGUSR1, or a file named RESTART-NFS in the root (created by the
	// guest), restarts the NFS program (same store and handle key, no
	// state), as a restart of shelfd would: clients reclaim during grace.
	go func() {
		f, err := e.svc.FileSystem(ctx, testFS)
		if err != nil {
			return
		}
		for range time.Tick(200 * time.Millisecond) {
			if _, err := f.Lookup(ctx, &fs.Root, fs.RootIno, "RESTART-NFS"); err == nil {
				_ = f.Remove(ctx, &fs.Root, fs.RootIno, "RESTART-NFS")
				t.Log("restarting the NFS program")
				e.restart()
			}
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return
		}
		t.Log("restarting the NFS program")
		e.restart()
	}
}
