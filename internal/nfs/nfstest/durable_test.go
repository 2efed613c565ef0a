package nfstest_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

// gatedFS holds every WAL sync while its gate is closed.
type gatedFS struct {
	vfs.FS
	mu   sync.Mutex
	open chan struct{} // closed while syncs may pass
}

func newGatedFS() *gatedFS {
	g := &gatedFS{FS: vfs.NewMem(), open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedFS) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gatedFS) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gatedFS) wait() {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	<-ch
}

func (g *gatedFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &gatedFile{File: f, g: g}, nil
}

func (g *gatedFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.Create(name, c)
	return g.wrap(name, f, err)
}

func (g *gatedFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.ReuseForWrite(oldname, newname, c)
	return g.wrap(newname, f, err)
}

type gatedFile struct {
	vfs.File
	g *gatedFS
}

func (f *gatedFile) Sync() error     { f.g.wait(); return f.File.Sync() }
func (f *gatedFile) SyncData() error { f.g.wait(); return f.File.SyncData() }
func (f *gatedFile) SyncTo(n int64) (bool, error) {
	f.g.wait()
	return f.File.SyncTo(n)
}

// TestRepliesWaitForWhatTheyObserved: a client whose LOOKUP sees a
// directory that another client's MKDIR has made but not yet synced gets its
// reply only after the sync, so no reply shows what a crash could undo.
func TestRepliesWaitForWhatTheyObserved(t *testing.T) {
	g := newGatedFS()
	e := newEnvFS(t, clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)), g)
	a, b := e.client(1, "creator"), e.client(1, "observer")
	root := rootFH(t, a)
	// A first MKDIR reserves inode numbers (a synced transaction of its
	// own), so the next one is one transaction.
	_, err := a.Do(ctx, nfstest.PutFH(root), nfstest.Mkdir("first", 0o755))
	require.NoError(t, err)

	g.hold()
	defer g.release() // also when the test fails, so that the store can close
	created := make(chan error, 1)
	go func() {
		_, err := a.Do(ctx, nfstest.PutFH(root), nfstest.Mkdir("new", 0o755))
		created <- err
	}()
	// The observer looks "new" up again and again: NOENT while the MKDIR
	// is not applied, then (once it is visible, not yet synced) its LOOKUP
	// must wait for the sync.
	observed := make(chan nfsv4.Nfsstat4, 1024)
	var replies atomic.Int64
	go func() {
		for {
			res, err := b.Do(ctx, nfstest.PutFH(root), nfstest.Lookup("new"))
			if err != nil {
				close(observed)
				return
			}
			replies.Add(1)
			observed <- res.Status
			if res.Status == nfsv4.NFS4_OK {
				close(observed)
				return
			}
		}
	}()
	// Wait until the observer stops getting replies: it is waiting for
	// the MKDIR's sync.
	for last := int64(-1); ; {
		time.Sleep(50 * time.Millisecond)
		n := replies.Load()
		if n == last {
			break
		}
		last = n
		require.Less(t, n, int64(1000), "the MKDIR never became visible")
	}
	for range len(observed) {
		require.Equal(t, nfsv4.NFS4ERR_NOENT, <-observed, "an answer before the MKDIR it saw was durable")
	}
	select {
	case err := <-created:
		t.Fatalf("MKDIR answered %v before it was durable", err)
	default:
	}
	g.release()
	require.NoError(t, <-created)
	var last nfsv4.Nfsstat4
	for st := range observed {
		last = st
	}
	require.Equal(t, nfsv4.NFS4_OK, last)
}
