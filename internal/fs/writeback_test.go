package fs_test

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
)

// restart returns a new service over e's stores, as a process that crashed
// (the old service is neither closed nor flushed) and started again would
// have, and the file system id in it.
func (e *env) restart(t *testing.T, id string, opts fs.Options) (*fs.Service, *fs.FileSystem) {
	t.Helper()
	opts.Clock, opts.NoBackground = e.clock, true
	svc := fs.New(e.meta, data.New(e.blobs, data.Options{}), e.kms, opts)
	t.Cleanup(func() { _ = svc.Close() })
	f, err := svc.FileSystem(ctx, id)
	require.NoError(t, err)
	return svc, f
}

func TestUnstableWritesAreSeenAtOnceAndCommitted(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "u", 0o644)
		before, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)

		// Pieces of a block, out of order, and one spanning two blocks.
		bs := data.DefaultBlockSize
		model := make([]byte, bs+5000)
		_, _ = rand.Read(model)
		pieces := [][2]int{{4096, 8192}, {0, 4096}, {bs - 100, bs + 5000}, {8192, bs - 100}}
		var last fs.Attr
		for _, p := range pieces {
			got, err := f.WriteUnstable(ctx, root, a.Ino, uint64(p[0]), model[p[0]:p[1]])
			require.NoError(t, err)
			require.Greater(t, got.Change, last.Change, "every write changes the change attribute")
			last = got
		}
		require.EqualValues(t, len(model), last.Size)

		// Attributes, through every path, include the buffered writes.
		ga, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.EqualValues(t, len(model), ga.Size)
		require.Greater(t, ga.Change, before.Change)
		la, err := f.Lookup(ctx, root, fs.RootIno, "u")
		require.NoError(t, err)
		require.Equal(t, ga.Size, la.Size)
		require.Equal(t, ga.Change, la.Change)
		ents, _, err := f.ReadDir(ctx, root, fs.RootIno, 0, 100, true)
		require.NoError(t, err)
		require.Len(t, ents, 1)
		require.Equal(t, ga.Size, ents[0].Attr.Size)
		require.Equal(t, ga.Change, ents[0].Attr.Change)

		// A read sees them (and stores them); the change attribute does not
		// go back when they are stored.
		require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
		stored, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.GreaterOrEqual(t, stored.Change, ga.Change)
		require.Equal(t, ga.Size, stored.Size)

		// More unstable writes, then COMMIT: a crash afterwards keeps them.
		_, err = f.WriteUnstable(ctx, root, a.Ino, 10, []byte("committed"))
		require.NoError(t, err)
		copy(model[10:], "committed")
		require.NoError(t, f.Commit(ctx, a.Ino))
		// Written after the COMMIT and never committed: a crash may lose it.
		_, err = f.WriteUnstable(ctx, root, a.Ino, uint64(len(model)), []byte("lost"))
		require.NoError(t, err)

		_, f2 := e.restart(t, f.ID(), fs.Options{})
		got, err := f2.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.EqualValues(t, len(model), got.Size, "the uncommitted write is lost, and only it")
		require.True(t, bytes.Equal(model, readAll(t, f2, root, a.Ino)))
		requireClean(t, e)
	})
}

func TestUnstableWritesModel(t *testing.T) {
	for _, capBytes := range []int{0, 300 << 10} {
		both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
			svc, f := e.restart(t, f.ID(), fs.Options{WriteBackBytes: capBytes})
			a := create(t, f, root, fs.RootIno, "m", 0o644)
			var model []byte
			rnd := newRand(7)
			const span = 3*data.DefaultBlockSize + 777
			for step := 0; step < 200; step++ {
				switch op := rnd.Intn(20); {
				case op < 12: // write, mostly unstable
					off := rnd.Intn(span)
					n := 1 + rnd.Intn(70_000)
					p := make([]byte, n)
					_, _ = rand.Read(p)
					var got fs.Attr
					var err error
					if op < 10 {
						got, err = f.WriteUnstable(ctx, root, a.Ino, uint64(off), p)
					} else {
						got, err = f.Write(ctx, root, a.Ino, uint64(off), p)
					}
					require.NoError(t, err)
					if off+n > len(model) {
						model = append(model, make([]byte, off+n-len(model))...)
					}
					copy(model[off:], p)
					require.EqualValues(t, len(model), got.Size)
				case op < 14: // truncate
					size := rnd.Intn(span)
					sz := uint64(size)
					got, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz})
					require.NoError(t, err)
					if size < len(model) {
						model = model[:size]
					} else {
						model = append(model, make([]byte, size-len(model))...)
					}
					require.EqualValues(t, size, got.Size)
				case op < 16:
					require.NoError(t, f.Commit(ctx, a.Ino))
				case op < 18:
					got, err := f.GetAttr(ctx, a.Ino)
					require.NoError(t, err)
					require.EqualValues(t, len(model), got.Size)
				default:
					if len(model) == 0 {
						continue
					}
					off := rnd.Intn(len(model))
					n := 1 + rnd.Intn(2*data.DefaultBlockSize)
					buf, eof, err := f.Read(ctx, root, a.Ino, uint64(off), n)
					require.NoError(t, err)
					end := min(off+n, len(model))
					require.True(t, bytes.Equal(model[off:end], buf), "read at %d+%d", off, n)
					require.Equal(t, end == len(model), eof)
				}
			}
			require.NoError(t, f.Commit(ctx, a.Ino))
			require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
			require.NoError(t, svc.Collect(ctx, true))
			requireClean(t, e)
		})
	}
}

// TestUnstableWriteAttrsDuringFlushes checks the attributes an unstable
// write answers while other callers store the buffer: the size never goes
// below the furthest write, and the change attribute always grows.
func TestUnstableWriteAttrsDuringFlushes(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		_, f = e.restart(t, f.ID(), fs.Options{WriteBackBytes: 1 << 20})
		a := create(t, f, root, fs.RootIno, "w", 0o644)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := f.Commit(ctx, a.Ino); err != nil {
					t.Error(err)
					return
				}
			}
		})
		var last fs.Attr
		end := 0
		for i := range 300 {
			// Mostly below the end, sometimes past it.
			off := (i * 7919) % (end + 1)
			if i%5 == 0 {
				off = end
			}
			p := make([]byte, 1+i%3000)
			got, err := f.WriteUnstable(ctx, root, a.Ino, uint64(off), p)
			require.NoError(t, err)
			end = max(end, off+len(p))
			require.EqualValues(t, end, got.Size, "write %d", i)
			require.Greater(t, got.Change, last.Change, "write %d", i)
			last = got
		}
		close(done)
		wg.Wait()
		got, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.EqualValues(t, end, got.Size)
		require.GreaterOrEqual(t, got.Change, last.Change)
	})
}

func TestUnstableWritesOfRemovedFileAreDropped(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "gone", 0o644)
		_, err := f.WriteUnstable(ctx, root, a.Ino, 0, bytes.Repeat([]byte{1}, 300_000))
		require.NoError(t, err)
		require.NoError(t, f.Unlink(ctx, root, fs.RootIno, "gone"))
		requireCode(t, f.Commit(ctx, a.Ino), fs.Stale)
		require.NoError(t, e.svc.Collect(ctx, true))
		requireClean(t, e)
		// Close stores what is left: nothing, and without error.
		require.NoError(t, e.svc.Close())
	})
}

func TestUnstableWritesKeepSetIDRules(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "suid", 0o6777)
		_, err := f.WriteUnstable(ctx, alice, a.Ino, 0, []byte("x"))
		require.NoError(t, err)
		got, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.Zero(t, got.Mode&(fs.ModeSetUID|fs.ModeSetGID), "a non-root write clears setuid and setgid")
		// Permission is checked when the write is buffered.
		ro := create(t, f, root, fs.RootIno, "ro", 0o644)
		_, err = f.WriteUnstable(ctx, alice, ro.Ino, 0, []byte("x"))
		requireCode(t, err, fs.Access)
	})
}

func TestConcurrentUnstableWritersAndReaders(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		svc, f := e.restart(t, f.ID(), fs.Options{WriteBackBytes: 1 << 20})
		a := create(t, f, root, fs.RootIno, "shared", 0o644)
		const writers, region, rounds = 6, 50_000, 8
		var wg sync.WaitGroup
		errs := make(chan error, 2*writers)
		for w := 0; w < writers; w++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					p := bytes.Repeat([]byte{byte(w*rounds + r + 1)}, region)
					if _, err := f.WriteUnstable(ctx, root, a.Ino, uint64(w*region), p); err != nil {
						errs <- err
						return
					}
					if r%3 == 2 {
						if err := f.Commit(ctx, a.Ino); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
			go func() {
				defer wg.Done()
				// A reader sees each region whole: one value throughout
				// (or zeros before the first write).
				for r := 0; r < rounds; r++ {
					buf, _, err := f.Read(ctx, root, a.Ino, uint64(w*region), region)
					if err != nil {
						errs <- err
						return
					}
					if len(buf) > 0 && !bytes.Equal(buf, bytes.Repeat(buf[:1], len(buf))) {
						errs <- errTorn
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, f.Commit(ctx, a.Ino))
		got := readAll(t, f, root, a.Ino)
		require.Len(t, got, writers*region)
		for w := 0; w < writers; w++ {
			want := bytes.Repeat([]byte{byte(w*rounds + rounds)}, region)
			require.True(t, bytes.Equal(want, got[w*region:(w+1)*region]), "region %d", w)
		}
		require.NoError(t, svc.Collect(ctx, true))
		requireClean(t, e)
	})
}

var errTorn = errorString("a region read torn")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestFailedStoreOfUnstableWritesIsReportedOnce(t *testing.T) {
	e := newEnv(t)
	f := e.newFS(t, true)
	a := create(t, f, root, fs.RootIno, "a", 0o644)

	// COMMIT itself fails to store them.
	_, err := f.WriteUnstable(ctx, root, a.Ino, 0, []byte("hello"))
	require.NoError(t, err)
	require.NoError(t, e.kms.DisableKey(ctx, e.keyID))
	requireCode(t, f.Commit(ctx, a.Ino), fs.KeyUnavailable)
	require.NoError(t, e.kms.EnableKey(ctx, e.keyID))
	require.NoError(t, f.Commit(ctx, a.Ino), "the loss was reported by the failed COMMIT")
	got, err := f.GetAttr(ctx, a.Ino)
	require.NoError(t, err)
	require.Zero(t, got.Size, "the writes are lost")

	// Another path fails to store them: the next COMMIT reports it.
	_, err = f.WriteUnstable(ctx, root, a.Ino, 0, []byte("again"))
	require.NoError(t, err)
	require.NoError(t, e.kms.DisableKey(ctx, e.keyID))
	_, _, err = f.Read(ctx, root, a.Ino, 0, 5)
	requireCode(t, err, fs.KeyUnavailable)
	require.NoError(t, e.kms.EnableKey(ctx, e.keyID))
	requireCode(t, f.Commit(ctx, a.Ino), fs.KeyUnavailable)
	require.NoError(t, f.Commit(ctx, a.Ino))
	requireClean(t, e)
}
