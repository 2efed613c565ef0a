package pebblemeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/metatest"
)

func TestConformanceMem(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := Open("db", Options{FS: vfs.NewMem(), Logger: testLogger(t)})
		require.NoError(t, err)
		return s
	})
}

func TestConformanceDisk(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := Open(t.TempDir(), Options{Logger: testLogger(t)})
		require.NoError(t, err)
		return s
	})
}

// testLogger logs Info and above through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func TestFormatVersion(t *testing.T) {
	ctx := context.Background()
	t.Run("new store records the version", func(t *testing.T) {
		s, err := Open("db", Options{FS: vfs.NewMem()})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.View(ctx, func(r meta.Reader) error {
			v, err := r.Get(meta.KeyFormat)
			require.NoError(t, err)
			require.Equal(t, binary.BigEndian.AppendUint32(nil, meta.FormatVersion), v)
			return nil
		}))
	})
	tests := []struct {
		name  string
		setup func(tx meta.Txn) error
		ok    bool
	}{
		{"same version reopens", func(meta.Txn) error { return nil }, true},
		{"newer version refused", func(tx meta.Txn) error {
			return tx.Set(meta.KeyFormat, binary.BigEndian.AppendUint32(nil, meta.FormatVersion+1))
		}, false},
		{"malformed version refused", func(tx meta.Txn) error {
			return tx.Set(meta.KeyFormat, []byte{1})
		}, false},
		{"data without version refused", func(tx meta.Txn) error {
			if err := tx.Set(meta.SystemKey("x"), nil); err != nil {
				return err
			}
			return tx.Delete(meta.KeyFormat)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s, err := Open("db", Options{FS: fs})
			require.NoError(t, err)
			require.NoError(t, s.Update(ctx, tc.setup))
			require.NoError(t, s.Close())
			s, err = Open("db", Options{FS: fs})
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, s.Close())
				return
			}
			require.ErrorIs(t, err, meta.ErrUnsupportedFormat)
			require.Nil(t, s)
			// The refused store was closed: it can be opened again (and
			// refused again) in the same process.
			_, err = Open("db", Options{FS: fs})
			require.ErrorIs(t, err, meta.ErrUnsupportedFormat)
		})
	}
}

// TestCrashDurable crashes a store (vfs.MemFS.CrashClone keeps only synced
// data) while writers and readers are busy, with memtables small enough to
// rotate the WAL and flush several times. Every Update that returned nil
// before the crash, and every value a View returned before it, must be in
// the reopened store.
func TestCrashDurable(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: fs, MemTableBytes: 1 << 20})
	require.NoError(t, err)
	defer s.Close()

	const writers, perWriter = 8, 200
	value := bytes.Repeat([]byte("x"), 4096) // 6.4 MB: several memtables
	var mu sync.Mutex
	acked := map[string]bool{} // written and acknowledged
	seen := map[string]bool{}  // returned by a View
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				k := meta.InodeKey(uint64(w), uint64(i))
				if err := s.Update(ctx, func(tx meta.Txn) error { return tx.Set(k, value) }); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked[string(k)] = true
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var got []string
			if err := s.View(ctx, func(r meta.Reader) error {
				got = got[:0]
				return meta.ScanPrefix(r, []byte{meta.TableInode}, func(k, _ []byte) (bool, error) {
					got = append(got, string(k))
					return true, nil
				})
			}); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			for _, k := range got {
				seen[k] = true
			}
			mu.Unlock()
		}
	}()

	// Crash once a good part of the writes is done.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= writers*perWriter/2 {
			break
		}
		runtime.Gosched()
	}
	mu.Lock()
	mustHave := maps.Clone(acked)
	maps.Copy(mustHave, seen)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	mu.Unlock()

	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	s2, err := Open("db", Options{FS: crashed})
	require.NoError(t, err)
	defer s2.Close()
	found := map[string]bool{}
	require.NoError(t, s2.View(ctx, func(r meta.Reader) error {
		return meta.ScanPrefix(r, []byte{meta.TableInode}, func(k, v []byte) (bool, error) {
			require.Equal(t, value, v)
			found[string(k)] = true
			return true, nil
		})
	}))
	missing := 0
	for k := range mustHave {
		if !found[k] {
			missing++
		}
	}
	require.Zero(t, missing, "acknowledged or observed writes lost in the crash (of %d)", len(mustHave))
	t.Logf("crash kept %d writes, %d had been acknowledged or observed", len(found), len(mustHave))
}

// TestViewWaitsForSync checks the durability rule of View: once a View has
// returned a value, a crash does not undo it.
func TestViewWaitsForSync(t *testing.T) {
	ctx := context.Background()
	s, err := Open("db", Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer s.Close()
	// Apply a batch without waiting for its sync, as a concurrent Update
	// would between ApplyNoSyncWait and SyncWait.
	s.writer <- struct{}{}
	b := s.db.NewIndexedBatch()
	require.NoError(t, b.Set([]byte("k"), []byte("v"), nil))
	seq := s.applied.Add(1)
	require.NoError(t, s.db.ApplyNoSyncWait(b, syncWrite))
	<-s.writer

	// A View that saw the batch must wait for its sync: cancel the View's
	// context from inside fn, and the wait gives up with the context's
	// error instead of returning the unsynced value.
	vctx, cancel := context.WithCancel(ctx)
	err = s.View(vctx, func(r meta.Reader) error {
		defer cancel()
		v, err := r.Get([]byte("k"))
		require.Equal(t, "v", string(v))
		return err
	})
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, b.SyncWait())
	s.markSynced(seq)
	require.NoError(t, s.View(ctx, func(r meta.Reader) error {
		_, err := r.Get([]byte("k"))
		return err
	}))
	require.NoError(t, b.Close())
}

func TestPebbleLogsGoToSlog(t *testing.T) {
	h := &recordingHandler{}
	s, err := Open("db", Options{FS: vfs.NewMem(), Logger: slog.New(h)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	msgs := h.messages()
	require.Contains(t, msgs, "pebble event", "pebble's Infof output reaches slog at debug")
	require.Contains(t, msgs, "meta store opened")
}

type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }
func (h *recordingHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

func TestTxnLimits(t *testing.T) {
	s, err := Open("db", Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer s.Close()
	err = s.Update(context.Background(), func(tx meta.Txn) error {
		require.NoError(t, tx.Set([]byte("a"), nil))
		return tx.Scan(nil, nil, func(k, _ []byte) (bool, error) {
			require.ErrorIs(t, tx.Set([]byte("b"), nil), errWriteInScan)
			require.ErrorIs(t, tx.Delete(k), errWriteInScan)
			return true, nil
		})
	})
	require.NoError(t, err)
	err = s.Update(context.Background(), func(tx meta.Txn) error {
		return tx.Set([]byte("huge"), make([]byte, maxTxnBytes))
	})
	require.ErrorIs(t, err, errTooLarge)
}

func BenchmarkMeta(b *testing.B) {
	metatest.Bench(b, func(b *testing.B) meta.Store {
		s, err := Open("db", Options{FS: vfs.NewMem()})
		require.NoError(b, err)
		return s
	})
}

// BenchmarkUpdateSynced measures group commit on a real disk: single-key
// Updates, each durable when it returns, from 1 to 128 writers.
//
//	go test -run '^$' -bench UpdateSynced -benchtime 2000x ./internal/meta/pebblemeta
func BenchmarkUpdateSynced(b *testing.B) {
	for _, writers := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			require.NoError(b, err)
			defer s.Close()
			metatest.BenchUpdateParallel(b, s, writers)
		})
	}
}

// rawSet writes directly through pebble, bypassing Store.
func rawSet(t *testing.T, fs vfs.FS, k, v []byte) {
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: slogLogger{log: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	require.NoError(t, db.Set(k, v, pebble.Sync))
	require.NoError(t, db.Close())
}

func TestForeignDatabaseRefused(t *testing.T) {
	fs := vfs.NewMem()
	rawSet(t, fs, []byte("not shelf"), []byte("x"))
	_, err := Open("db", Options{FS: fs})
	require.ErrorIs(t, err, meta.ErrUnsupportedFormat)
}
