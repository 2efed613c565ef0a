package pebblemeta

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/meta"
)

// walFull injects ENOSPC into writes and syncs of WAL files once on is set,
// as a full disk would.
func walFull(on *atomic.Bool) errorfs.Injector {
	return errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !on.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync,
			errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return fmt.Errorf("injected: %w", syscall.ENOSPC)
		}
		return nil
	})
}

// TestWALFailure fills the "disk" under busy writers. Pebble would panic (and
// then deadlock) on the commit after a failed WAL write; the store must
// instead return errors, fail every later call, close without hanging, and
// lose no acknowledged write.
func TestWALFailure(t *testing.T) {
	for _, writers := range []int{1, 32} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			ctx := context.Background()
			mem := vfs.NewCrashableMem()
			var full atomic.Bool
			s, err := Open("db", Options{FS: errorfs.Wrap(mem, walFull(&full))})
			require.NoError(t, err)

			var mu sync.Mutex
			acked := map[string]bool{}
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			var started sync.WaitGroup
			started.Add(writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						k := meta.InodeKey(uint64(w), uint64(i))
						err := s.Update(ctx, func(tx meta.Txn) error { return tx.Set(k, make([]byte, 512)) })
						if i == 0 {
							started.Done()
						}
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						acked[string(k)] = true
						mu.Unlock()
					}
				}()
			}
			started.Wait()
			full.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.ErrorIs(t, err, syscall.ENOSPC)
			}

			// Every later call fails with the same cause.
			require.ErrorIs(t, s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("x"), nil) }), syscall.ENOSPC)
			require.ErrorIs(t, s.View(ctx, func(meta.Reader) error { return nil }), syscall.ENOSPC)

			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				require.ErrorIs(t, err, syscall.ENOSPC)
			case <-time.After(time.Minute):
				t.Fatal("Close hung after a WAL failure")
			}

			// "Restart" on what reached the disk: nothing acknowledged is lost.
			s, err = Open("db", Options{FS: mem.CrashClone(vfs.CrashCloneCfg{})})
			require.NoError(t, err)
			defer s.Close()
			found := 0
			require.NoError(t, s.View(ctx, func(r meta.Reader) error {
				for k := range acked {
					_, err := r.Get([]byte(k))
					if errors.Is(err, meta.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					found++
				}
				return nil
			}))
			require.Equal(t, len(acked), found, "acknowledged writes lost")
			require.NoError(t, s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("after"), nil) }))
		})
	}
}

// TestWALFailureWithoutLatch shows why walFault exists: without it, the
// commit after a failed WAL sync reaches pebble's panic, which Store
// recovers; the store fails and Close skips pebble's (blocking) Close.
func TestWALFailureWithoutLatch(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	s, err := Open("db", Options{FS: errorfs.Wrap(vfs.NewMem(), walFull(&full))})
	require.NoError(t, err)
	s.walFault = &walFault{} // a latch nobody sets
	require.NoError(t, s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("a"), nil) }))
	full.Store(true)
	err = s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("b"), nil) })
	require.ErrorIs(t, err, syscall.ENOSPC)

	// Force further commits into pebble, as a racing writer would.
	s.durable.Lock()
	s.durable.err = nil
	s.durable.Unlock()
	var panicked bool
	for i := range 200 {
		err = s.Update(ctx, func(tx meta.Txn) error { return tx.Set(fmt.Appendf(nil, "c%d", i), make([]byte, 4096)) })
		require.Error(t, err)
		s.durable.Lock()
		panicked = s.durable.wedged
		s.durable.err = nil
		s.durable.Unlock()
		if panicked {
			break
		}
	}
	require.True(t, panicked, "pebble did not panic on a commit after a WAL failure")
	s.fail(errors.New("test"), true)
	require.Error(t, s.Close())
}

// waitFor spins until cond holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// TestDiskFull fills the "disk" for sstables only, as a real full disk does
// first (pebble recycles WAL files, so the WAL keeps its space): the flush
// fails and pebble would stall every writer. The store must refuse writes
// with meta.ErrNoSpace, keep serving reads, and accept writes again once
// space is back, without a restart.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && strings.HasSuffix(op.Path, ".sst") && op.Kind == errorfs.OpFileWrite {
			return fmt.Errorf("injected: %w", syscall.ENOSPC)
		}
		return nil
	})
	s, err := Open("db", Options{
		FS:             errorfs.Wrap(vfs.NewMem(), inj),
		MemTableBytes:  256 << 10,
		NoSpaceBackoff: time.Millisecond,
	})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("before"), nil) }))

	full.Store(true)
	stop := make(chan struct{})
	writerErr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerErr <- nil
				return
			default:
			}
			err := s.Update(ctx, func(tx meta.Txn) error { return tx.Set(fmt.Appendf(nil, "k%d", i), make([]byte, 4096)) })
			if err != nil {
				writerErr <- err
				return
			}
		}
	}()
	waitFor(t, "the store to notice the full disk", s.space.full.Load)

	err = s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("refused"), nil) })
	require.ErrorIs(t, err, meta.ErrNoSpace)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, s.View(ctx, func(r meta.Reader) error {
		_, err := r.Get([]byte("before"))
		return err
	}))

	full.Store(false) // space freed: pebble's retried flush succeeds
	waitFor(t, "writes to resume", func() bool { return !s.space.full.Load() })
	require.NoError(t, s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("after"), nil) }))
	close(stop)
	if err := <-writerErr; err != nil {
		require.ErrorIs(t, err, meta.ErrNoSpace)
	}
	require.NoError(t, s.failure(), "a full disk must not fail the store")
}

// TestDiskFullFreedSpace checks the other way out of the full state: an
// Update that finds enough free space lets writes through.
func TestDiskFullFreedSpace(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewMem()
	s, err := Open("db", Options{FS: mem})
	require.NoError(t, err)
	defer s.Close()
	s.onBackgroundError(fmt.Errorf("write 000001.sst: %w", syscall.ENOSPC))
	set := func() error { return s.Update(ctx, func(tx meta.Txn) error { return tx.Set([]byte("k"), nil) }) }
	require.ErrorIs(t, set(), meta.ErrNoSpace) // MemFS reports no usage

	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: s.minFreeBytes - 1, TotalBytes: 1 << 40})
	require.ErrorIs(t, set(), meta.ErrNoSpace)
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: s.minFreeBytes, TotalBytes: 1 << 40})
	require.NoError(t, set())
}
