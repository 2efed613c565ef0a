package diskblob

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
)

// faultFS injects errors into segment file operations.
type faultFS struct {
	osFS
	mu struct {
		sync.Mutex
		write, sync, create, truncate fault
	}
}

// fault fails calls with err: every call, or with every > 0 every nth one.
type fault struct {
	err          error
	every, calls int
}

func (f *fault) hit() error {
	if f.err == nil {
		return nil
	}
	if f.every > 0 {
		if f.calls++; f.calls%f.every != 0 {
			return nil
		}
	}
	return f.err
}

var errNoSpace = &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}

func (fs *faultFS) set(fn func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fn()
}

func (fs *faultFS) hit(f *fault) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return f.hit()
}

func (fs *faultFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if flag&os.O_CREATE != 0 {
		if err := fs.hit(&fs.mu.create); err != nil {
			return nil, err
		}
	}
	f, err := fs.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

type faultFile struct {
	file
	fs *faultFS
}

func (f faultFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.hit(&f.fs.mu.write); err != nil {
		// Part of the record reaches the file before the disk fills up.
		n, _ := f.file.WriteAt(b[:len(b)/2], off)
		return n, err
	}
	return f.file.WriteAt(b, off)
}

func (f faultFile) Sync() error {
	if err := f.fs.hit(&f.fs.mu.sync); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f faultFile) Truncate(size int64) error {
	if err := f.fs.hit(&f.fs.mu.truncate); err != nil {
		return err
	}
	return f.file.Truncate(size)
}

func openFaulty(t *testing.T, cfg Config) (*Store, *faultFS) {
	t.Helper()
	fs := &faultFS{}
	s, err := newStore(nil, cfg, fs)
	require.NoError(t, err)
	return s, fs
}

func requireValue(t *testing.T, s *Store, key, want string) {
	t.Helper()
	got, err := s.Get(ctx, key, 0, -1)
	require.NoError(t, err, key)
	require.Equal(t, want, string(got), key)
}

func requireAbsent(t *testing.T, s *Store, key string) {
	t.Helper()
	_, err := s.Get(ctx, key, 0, -1)
	require.ErrorIs(t, err, blob.ErrNotFound, key)
}

func TestNoSpace(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		fault func(fs *faultFS)
	}{
		{"append", Config{}, func(fs *faultFS) { fs.mu.write.err = errNoSpace }},
		// Every sync fails, including the one that makes the cut durable.
		{"sync", Config{}, func(fs *faultFS) { fs.mu.sync.err = errNoSpace }},
		{"new segment", Config{SegmentBytes: minSegmentBytes}, func(fs *faultFS) { fs.mu.create.err = errNoSpace }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = t.TempDir()
			cfg.DisableAutoCompact = true
			s, fs := openFaulty(t, cfg)
			require.NoError(t, s.Put(ctx, "a", []byte("before")))
			require.NoError(t, s.Put(ctx, "b", []byte("old b")))
			s.w.Lock()
			seg, end := s.w.active, s.w.off
			s.w.Unlock()

			fs.set(func() { tc.fault(fs) })
			big := make([]byte, minSegmentBytes) // needs a new segment
			require.ErrorIs(t, s.Put(ctx, "b", big), blob.ErrNoSpace, "overwrite")
			if tc.name != "new segment" { // small records still fit
				require.ErrorIs(t, s.Put(ctx, "c", []byte("new")), blob.ErrNoSpace)
				require.ErrorIs(t, s.Delete(ctx, "a"), blob.ErrNoSpace, "delete")
				require.Equal(t, end, fileSize(t, seg.path))
			}

			// Nothing changed, on disk or in memory.
			requireValue(t, s, "a", "before")
			requireValue(t, s, "b", "old b")
			requireAbsent(t, s, "c")
			require.Equal(t, 1, s.Stats().Segments)

			fs.set(func() { fs.mu.write, fs.mu.sync, fs.mu.create = fault{}, fault{}, fault{} })
			require.NoError(t, s.Put(ctx, "c", []byte("space again")))
			require.NoError(t, s.Put(ctx, "d", big))
			require.NoError(t, s.Delete(ctx, "a"))
			require.NoError(t, s.Close())

			s = openStore(t, cfg)
			defer s.Close()
			requireAbsent(t, s, "a")
			requireValue(t, s, "b", "old b")
			requireValue(t, s, "c", "space again")
			requireValue(t, s, "d", string(big))
		})
	}
}

// Writers racing on a disk that keeps filling up: whatever Put acknowledged
// survives, whatever failed is absent, and errors say why.
func TestNoSpaceConcurrent(t *testing.T) {
	for _, which := range []string{"write", "sync"} {
		t.Run(which, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), SegmentBytes: 64 << 10, DisableAutoCompact: true}
			s, fs := openFaulty(t, cfg)
			fs.set(func() {
				f := &fs.mu.write
				if which == "sync" {
					f = &fs.mu.sync
				}
				*f = fault{err: errNoSpace, every: 3}
			})
			const writers, puts = 8, 25
			var wg sync.WaitGroup
			ok := make([][]bool, writers)
			for w := range writers {
				ok[w] = make([]bool, puts)
				wg.Go(func() {
					for i := range puts {
						key := fmt.Sprintf("w%d/%d", w, i)
						err := s.Put(ctx, key, []byte(key))
						if err != nil && !errors.Is(err, blob.ErrNoSpace) {
							t.Errorf("put %s: %v", key, err)
						}
						ok[w][i] = err == nil
					}
				})
			}
			wg.Wait()
			fs.set(func() { fs.mu.write, fs.mu.sync = fault{}, fault{} })
			require.NoError(t, s.Put(ctx, "last", []byte("last")))

			check := func(s *Store) {
				acked := 0
				for w := range writers {
					for i := range puts {
						key := fmt.Sprintf("w%d/%d", w, i)
						if ok[w][i] {
							acked++
							requireValue(t, s, key, key)
						} else {
							requireAbsent(t, s, key)
						}
					}
				}
				t.Logf("%d of %d puts acknowledged", acked, writers*puts)
			}
			check(s)
			require.NoError(t, s.Close())
			s = openStore(t, cfg)
			defer s.Close()
			check(s)
			requireValue(t, s, "last", "last")
		})
	}
}

// A failed append that cannot be cut off right away is cut off before the
// next one; until then appends fail.
func TestFailedCutIsRetried(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s, fs := openFaulty(t, cfg)
	require.NoError(t, s.Put(ctx, "a", []byte("a")))
	fs.set(func() {
		fs.mu.write.err = errNoSpace
		fs.mu.truncate.err = errors.New("truncate failed")
	})
	require.ErrorIs(t, s.Put(ctx, "b", make([]byte, 100)), blob.ErrNoSpace)
	fs.set(func() { fs.mu.write = fault{} })
	require.ErrorContains(t, s.Put(ctx, "c", []byte("c")), "truncate failed")
	requireValue(t, s, "a", "a")

	fs.set(func() { fs.mu.truncate = fault{} })
	require.NoError(t, s.Put(ctx, "c", []byte("c")))
	require.NoError(t, s.Close())

	s = openStore(t, cfg)
	defer s.Close()
	requireValue(t, s, "a", "a")
	requireAbsent(t, s, "b")
	requireValue(t, s, "c", "c")
}

// A crash while a failed append could not be cut off leaves half a record
// after the last good one: a torn tail.
func TestCrashBeforeCut(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s, fs := openFaulty(t, cfg)
	require.NoError(t, s.Put(ctx, "a", []byte("a")))
	fs.set(func() {
		fs.mu.write.err = errNoSpace
		fs.mu.truncate.err = errors.New("truncate failed")
	})
	require.ErrorIs(t, s.Put(ctx, "b", make([]byte, 100)), blob.ErrNoSpace)
	crashForTest(t, s)

	s = openStore(t, cfg)
	defer s.Close()
	requireValue(t, s, "a", "a")
	requireAbsent(t, s, "b")
}
