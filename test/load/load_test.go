// Package load holds the load test of shelfd's NFS front end: 1,000
// concurrent NFSv4.1 client connections doing small operations against a
// real shelfd in process, with the memory and goroutines each connection
// costs the server. It runs with SHELF_LOAD=1 (make load).
package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
	"github.com/shelf-efs/shelf/internal/server"
)

const testFS = "fs-0123456789abcdef0"

// linuxAttrs is what the Linux client asks for in a GETATTR after most
// operations.
var linuxAttrs = []int{nfsv4.FATTR4_TYPE, nfsv4.FATTR4_CHANGE, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_FSID, nfsv4.FATTR4_FILEID,
	nfsv4.FATTR4_MODE, nfsv4.FATTR4_NUMLINKS, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP, nfsv4.FATTR4_RAWDEV,
	nfsv4.FATTR4_SPACE_USED, nfsv4.FATTR4_TIME_ACCESS, nfsv4.FATTR4_TIME_METADATA, nfsv4.FATTR4_TIME_MODIFY,
	nfsv4.FATTR4_MOUNTED_ON_FILEID}

// callTimeout bounds one COMPOUND; a server that stalls a connection
// this long under load fails the test.
const callTimeout = 30 * time.Second

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	require.NoError(t, err, name)
	require.Positive(t, v, name)
	return v
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	require.NoError(t, err, name)
	return v
}

// raiseNoFile makes sure the process may open want files (both ends of
// every connection live in this process), or skips the test.
func raiseNoFile(t *testing.T, want uint64) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		t.Skipf("load: the open-file limit is %d (hard %d) and this test needs %d: raise it (ulimit -Hn) or set SHELF_LOAD_CONNS lower", lim.Cur, lim.Max, want)
	}
	old := lim.Cur
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("load: cannot raise the open-file limit from %d to %d: %v", old, want, err)
	}
	t.Cleanup(func() {
		lim.Cur = old
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	})
}

// memory is the process's live memory: in-use heap spans and goroutine
// stacks, after a full collection.
type memory struct {
	bytes      uint64
	goroutines int
}

func measure() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{bytes: ms.HeapInuse + ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// startServer runs a shelfd on a temp directory with one static NFS export
// on a free loopback port and returns the export's address.
func startServer(t *testing.T) string {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	listen := "127.0.0.1:0"
	cfg.NFS.Exports = []config.NFSExport{{Listen: listen, FileSystemID: testFS, Create: true}}
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
		require.NoError(t, srv.Close())
	})
	addr := srv.NFS().Addr("static:" + listen)
	require.NotNil(t, addr)
	return addr.String()
}

// client is one load connection: an NFSv4.1 client with its own session
// and file.
type client struct {
	tr   *nfstest.TCP
	c    *nfstest.Client
	name string
	data []byte
	// compounds counts the COMPOUNDs answered as expected.
	compounds int
}

// mount dials addr and sets up an NFSv4.1 session (EXCHANGE_ID with owner,
// CREATE_SESSION, RECLAIM_COMPLETE).
func mount(ctx context.Context, addr, owner string) (*client, error) {
	tr, err := nfstest.Dial(ctx, addr, rpc.Credentials{Flavor: rpc.AuthSys, MachineName: owner})
	if err != nil {
		return nil, err
	}
	c := nfstest.New(tr, 1, owner)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := c.Mount(cctx); err != nil {
		tr.Close()
		return nil, fmt.Errorf("mount %s: %w", owner, err)
	}
	return &client{tr: tr, c: c}, nil
}

// do runs ops after a SEQUENCE and wants the COMPOUND to end with status
// want.
func (cl *client) do(ctx context.Context, want nfsv4.Nfsstat4, ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := cl.c.Do(cctx, ops...)
	if err != nil {
		return nil, err
	}
	if res.Status != want {
		return nil, fmt.Errorf("%s: status %s at operation %d, want %s", cl.name,
			nfsv4.Nfsstat4_name[res.Status], len(res.Resarray)-1, nfsv4.Nfsstat4_name[want])
	}
	cl.compounds++
	return res, nil
}

// round is one round of small operations: GETATTR of the root, LOOKUP of
// a missing name, and OPEN (create) + WRITE 4 KiB + CLOSE of the client's
// own file: four COMPOUNDs.
func (cl *client) round(ctx context.Context) error {
	if _, err := cl.do(ctx, nfsv4.NFS4_OK, nfstest.PutRootFH(), nfstest.GetAttr(linuxAttrs...)); err != nil {
		return err
	}
	if _, err := cl.do(ctx, nfsv4.NFS4ERR_NOENT, nfstest.PutRootFH(), nfstest.Lookup("missing-"+cl.name)); err != nil {
		return err
	}
	res, err := cl.do(ctx, nfsv4.NFS4_OK, nfstest.PutRootFH(), nfstest.Open(0, 0, "load", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull(cl.name), nfstest.Unchecked(0o644)), nfstest.GetFH())
	if err != nil {
		return err
	}
	open, ok := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
	if !ok {
		return fmt.Errorf("%s: no OPEN result", cl.name)
	}
	sid := open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	_, err = cl.do(ctx, nfsv4.NFS4_OK, nfstest.PutFH(nfstest.FH(res)), nfstest.Write(sid, 0, cl.data), nfstest.Close(0, sid))
	return err
}

// probe mounts a fresh connection, reads the root's attributes and closes
// it: the server must keep serving newcomers while under load.
func probe(ctx context.Context, addr string, i int) (time.Duration, error) {
	start := time.Now()
	cl, err := mount(ctx, addr, fmt.Sprintf("load-probe-%d", i))
	if err != nil {
		return 0, err
	}
	defer cl.tr.Close()
	cl.name = "probe"
	if _, err := cl.do(ctx, nfsv4.NFS4_OK, nfstest.PutRootFH(), nfstest.GetAttr(linuxAttrs...)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// TestThousandConnections holds SHELF_LOAD_CONNS (1,000) NFSv4.1
// connections to a real shelfd, each with its own client ID and session,
// doing small operations concurrently for SHELF_LOAD_DURATION (3s), while
// fresh connections keep being served; then, with every connection open
// and idle, it measures what each costs the process (heap in use plus
// goroutine stacks, and goroutines). The clients hold no goroutine and
// only their socket while idle, so the growth is the server's: its
// connection reader, the NFSv4.1 client record and session (with its
// reply cache), and the file each client made.
func TestThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("load: skipped with -short")
	}
	if os.Getenv("SHELF_LOAD") != "1" {
		t.Skip("load: set SHELF_LOAD=1 to run (make load)")
	}
	n := envInt(t, "SHELF_LOAD_CONNS", 1000)
	dur := envDuration(t, "SHELF_LOAD_DURATION", 3*time.Second)
	raiseNoFile(t, max(4096, uint64(2*n+512)))
	ctx := context.Background()

	addr := startServer(t)
	// Warm up: one client's full round brings in everything made lazily
	// (the file system's caches, the state tables) before the baseline.
	warm, err := mount(ctx, addr, "load-warm-up")
	require.NoError(t, err)
	warm.name, warm.data = "warm-up", make([]byte, 4096)
	require.NoError(t, warm.round(ctx))
	require.NoError(t, warm.tr.Close())
	before := measure()

	// Connect and mount every client, all at once.
	clients := make([]*client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	var mounted sync.WaitGroup
	mounted.Add(n)
	var deadline time.Time
	mountStart := time.Now()
	for i := range n {
		wg.Go(func() {
			cl, err := mount(ctx, addr, fmt.Sprintf("load-client-%04d", i))
			mounted.Done()
			if err != nil {
				errs[i] = err
				return
			}
			clients[i] = cl
			cl.name = fmt.Sprintf("f%04d", i)
			cl.data = make([]byte, 4096)
			for j := range cl.data {
				cl.data[j] = byte(i + j)
			}
			<-start
			for time.Now().Before(deadline) {
				if err := cl.round(ctx); err != nil {
					errs[i] = err
					return
				}
			}
			cl.tr.Idle()
		})
	}
	mounted.Wait()
	mountTime := time.Since(mountStart)

	// Fresh connections are served while the load runs.
	probeDone := make(chan struct{})
	var probes atomic.Int64
	var probeMax atomic.Int64
	var probeErr error
	loadStart := time.Now()
	deadline = loadStart.Add(dur)
	close(start)
	go func() {
		defer close(probeDone)
		for i := 0; time.Now().Before(deadline); i++ {
			d, err := probe(ctx, addr, i)
			if err != nil {
				probeErr = err
				return
			}
			probes.Add(1)
			if int64(d) > probeMax.Load() {
				probeMax.Store(int64(d))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	wg.Wait()
	loadTime := time.Since(loadStart)
	<-probeDone

	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed < 10 {
				t.Errorf("connection %d: %v", i, err)
			}
			failed++
		}
	}
	require.Zero(t, failed, "connections that failed")
	require.NoError(t, probeErr, "a fresh connection during the load")
	require.Positive(t, probes.Load())

	compounds, minCompounds := 0, int(^uint(0)>>1)
	for _, cl := range clients {
		compounds += cl.compounds
		minCompounds = min(minCompounds, cl.compounds)
	}
	require.GreaterOrEqual(t, minCompounds, 4, "every connection finished at least one round")

	// Every connection open and idle: what do they hold?
	idle := measure()
	// The server still serves a newcomer with all of them open.
	_, err = probe(ctx, addr, -1)
	require.NoError(t, err, "a fresh connection with every load connection open")

	// Every file is there with its 4 KiB.
	checker, err := mount(ctx, addr, "load-checker")
	require.NoError(t, err)
	checker.name = "checker"
	for i := range n {
		res, err := checker.do(ctx, nfsv4.NFS4_OK, nfstest.PutRootFH(), nfstest.Lookup(fmt.Sprintf("f%04d", i)),
			nfstest.GetAttr(nfsv4.FATTR4_SIZE))
		require.NoError(t, err)
		ga, ok := nfstest.Find[*nfsv4.NfsResop4_OP_GETATTR](res)
		require.True(t, ok)
		info, err := nfstest.DecodeAttrs(ga.Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
		require.NoError(t, err)
		require.EqualValues(t, 4096, info.Size, "f%04d", i)
	}
	require.NoError(t, checker.tr.Close())

	// Closing the connections gives back what the connections themselves
	// hold (the NFSv4.1 client state stays until its lease runs out).
	for _, cl := range clients {
		require.NoError(t, cl.tr.Close())
	}
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before.goroutines+2 }, 30*time.Second, 50*time.Millisecond,
		"the server's connection goroutines end when the clients close")
	after := measure()

	perConn := float64(int64(idle.bytes)-int64(before.bytes)) / float64(n)
	perConnOnly := float64(int64(idle.bytes)-int64(after.bytes)) / float64(n)
	goroutinesPerConn := float64(idle.goroutines-before.goroutines) / float64(n)
	opsPerSec := float64(compounds) / loadTime.Seconds()
	roundsPerSec := opsPerSec / 4

	t.Logf("%d connections: mounted in %v; %d COMPOUNDs in %v = %.0f COMPOUNDs/s (%.0f rounds/s); %d fresh connections during the load, slowest %v",
		n, mountTime.Round(time.Millisecond), compounds, loadTime.Round(time.Millisecond), opsPerSec, roundsPerSec,
		probes.Load(), time.Duration(probeMax.Load()).Round(time.Millisecond))
	t.Logf("memory (heap in use + stacks): %.1f MiB before, %.1f MiB with %d idle connections, %.1f MiB after closing them",
		mib(before.bytes), mib(idle.bytes), n, mib(after.bytes))
	t.Logf("per connection: %.1f KiB (%.1f KiB of it freed by closing the connection), %.2f goroutines",
		perConn/1024, perConnOnly/1024, goroutinesPerConn)

	fmt.Printf("\n%-58s %14s\n", fmt.Sprintf("shelfd, %d NFSv4.1 connections", n), "")
	row := func(name, v string) { fmt.Printf("%-58s %14s\n", name, v) }
	row("memory per connection (heap in use + stacks), KiB", fmt.Sprintf("%.1f", perConn/1024))
	row("  of which freed when the connection closes, KiB", fmt.Sprintf("%.1f", perConnOnly/1024))
	row("goroutines per idle connection", fmt.Sprintf("%.2f", goroutinesPerConn))
	row("COMPOUNDs/s, all connections (SEQUENCE + 1-3 ops)", fmt.Sprintf("%.0f", opsPerSec))
	row("rounds/s (GETATTR, LOOKUP miss, OPEN, WRITE 4 KiB+CLOSE)", fmt.Sprintf("%.0f", roundsPerSec))
	row("session setup of all connections, s", fmt.Sprintf("%.2f", mountTime.Seconds()))
	row("slowest fresh connection during the load, ms", fmt.Sprintf("%d", time.Duration(probeMax.Load()).Milliseconds()))
	fmt.Println()

	require.Less(t, perConn, float64(1<<20), "memory per connection")
	require.Less(t, goroutinesPerConn, 4.0, "goroutines per idle connection")
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
