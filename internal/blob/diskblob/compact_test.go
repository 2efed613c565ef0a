package diskblob

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/shelf-efs/shelf/internal/blob"
)

func TestCompactReclaimsSpace(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), SegmentBytes: 16 << 10, DisableAutoCompact: true, CompactLiveRatio: 0.75}
	s := openStore(t, cfg)
	model := make(map[string][]byte)
	for i := range 200 {
		k := fmt.Sprintf("k/%03d", i)
		model[k] = bytes.Repeat([]byte{byte(i)}, 500)
		require.NoError(t, s.Put(ctx, k, model[k]))
	}
	for i := range 200 {
		k := fmt.Sprintf("k/%03d", i)
		switch i % 4 {
		case 0:
			require.NoError(t, s.Delete(ctx, k))
			delete(model, k)
		case 1:
			model[k] = bytes.Repeat([]byte{byte(i)}, 300)
			require.NoError(t, s.Put(ctx, k, model[k]))
		}
	}
	before := s.Stats()
	require.Greater(t, before.DeadBytes, int64(40_000))

	require.NoError(t, s.Compact(ctx))
	after := s.Stats()
	t.Logf("before %+v, after %+v", before, after)
	require.Less(t, after.Segments, before.Segments)
	require.Less(t, after.DeadBytes, before.DeadBytes/4)
	require.Equal(t, len(model), after.Objects)
	// Deleted keys had put records only in the segments just rewritten.
	require.Less(t, after.Tombstones, before.Tombstones)
	requireModel(t, s, model)
	requireDiskMatches(t, s)
	require.NoError(t, s.Close())

	s = openStore(t, cfg)
	defer s.Close()
	requireModel(t, s, model)
	require.Equal(t, after.Objects, s.Stats().Objects)
}

func requireModel(t *testing.T, s *Store, model map[string][]byte) {
	t.Helper()
	var keys []string
	require.NoError(t, s.List(ctx, "", func(key string, size int64) (bool, error) {
		keys = append(keys, key)
		require.Equal(t, int64(len(model[key])), size, key)
		return true, nil
	}))
	want := make([]string, 0, len(model))
	for k, v := range model {
		want = append(want, k)
		got, err := s.Get(ctx, k, 0, -1)
		require.NoError(t, err, k)
		require.Equal(t, v, got, k)
	}
	slices.Sort(want)
	require.Equal(t, want, keys)
}

// requireDiskMatches checks that the segment files on disk are exactly the
// ones the index knows.
func requireDiskMatches(t *testing.T, s *Store) {
	t.Helper()
	des, err := os.ReadDir(s.cfg.Dir)
	require.NoError(t, err)
	var onDisk []uint64
	for _, de := range des {
		if id, ok := parseSegmentName(de.Name()); ok {
			onDisk = append(onDisk, id)
		}
	}
	s.mu.RLock()
	var known []uint64
	for id := range s.mu.segments {
		known = append(known, id)
	}
	s.mu.RUnlock()
	slices.Sort(known)
	require.Equal(t, known, onDisk)
}

// A tombstone must outlive every older version of its key, not only the one
// it deleted: here v1 (segment 1) outlives v2 (segment 2).
func TestCompactKeepsTombstoneOverOlderVersions(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s := openStore(t, cfg)
	filler := bytes.Repeat([]byte("f"), 2000)

	require.NoError(t, s.Put(ctx, "k", []byte("v1"))) // segment 1
	require.NoError(t, s.Put(ctx, "f", filler))       // keeps segment 1 mostly live
	rollForTest(t, s)
	require.NoError(t, s.Put(ctx, "k", []byte("v2"))) // segment 2
	require.NoError(t, s.Put(ctx, "g", filler))
	rollForTest(t, s)
	require.NoError(t, s.Delete(ctx, "k")) // segment 3: kills v2 (and v1)
	require.NoError(t, s.Delete(ctx, "g"))
	require.NoError(t, s.Put(ctx, "h", filler))
	rollForTest(t, s)
	require.NoError(t, s.Put(ctx, "h", []byte("h"))) // segment 4, active
	require.Equal(t, 2, s.Stats().Tombstones)

	// Segments 2 and 3 are mostly dead, segment 1 is not.
	require.NoError(t, s.Compact(ctx))
	requireDiskMatches(t, s)
	require.Equal(t, 2, s.Stats().Segments)
	// g's only put was in segment 2: its tombstone went with it. k's v1 is
	// still in segment 1: its tombstone was copied.
	require.Equal(t, 1, s.Stats().Tombstones)
	require.NoError(t, s.Close())

	s = openStore(t, cfg)
	requireAbsent(t, s, "k")
	requireAbsent(t, s, "g")
	requireValue(t, s, "f", string(filler))

	// Once segment 1 goes too, nothing needs the tombstone.
	require.NoError(t, s.Put(ctx, "f", []byte("f")))
	rollForTest(t, s)
	require.NoError(t, s.Close())
	s = openStore(t, Config{Dir: cfg.Dir, DisableAutoCompact: true, CompactLiveRatio: 1})
	defer s.Close()
	require.NoError(t, s.Compact(ctx))
	require.NoError(t, s.Compact(ctx)) // the first pass moved the tombstone to the active segment
	rollForTest(t, s)
	require.NoError(t, s.Compact(ctx))
	requireDiskMatches(t, s)
	require.Equal(t, 0, s.Stats().Tombstones)
	require.NoError(t, s.Close())
	s = openStore(t, cfg)
	requireAbsent(t, s, "k")
	requireValue(t, s, "f", "f")
	requireValue(t, s, "h", "h")
}

// Compaction racing with writers of the same keys never lets a copy win
// over a newer write, in memory or after reopening.
func TestCompactRacesWithWriters(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), SegmentBytes: 8 << 10, DisableAutoCompact: true, CompactLiveRatio: 0.9}
	s := openStore(t, cfg)
	const writers, rounds, keys = 6, 60, 5
	var wg sync.WaitGroup
	finals := make([]map[string][]byte, writers)
	for w := range writers {
		finals[w] = make(map[string][]byte)
		wg.Go(func() {
			for r := range rounds {
				k := fmt.Sprintf("w%d/%d", w, r%keys)
				if r%7 == 3 {
					if err := s.Delete(ctx, k); err != nil {
						t.Error(err)
						return
					}
					delete(finals[w], k)
					continue
				}
				v := bytes.Repeat([]byte{byte(r)}, 200+r)
				if err := s.Put(ctx, k, v); err != nil {
					t.Error(err)
					return
				}
				finals[w][k] = v
			}
		})
	}
	done := make(chan struct{})
	var compactErr error
	passes := 0
	go func() {
		defer close(done)
		for {
			select {
			case <-finished(&wg):
				return
			default:
			}
			if compactErr = s.Compact(ctx); compactErr != nil {
				return
			}
			passes++
		}
	}()
	wg.Wait()
	<-done
	require.NoError(t, compactErr)
	t.Logf("%d compaction passes, %+v", passes, s.Stats())
	model := make(map[string][]byte)
	for _, f := range finals {
		for k, v := range f {
			model[k] = v
		}
	}
	requireModel(t, s, model)
	require.NoError(t, s.Close())
	s = openStore(t, cfg)
	defer s.Close()
	requireModel(t, s, model)
}

// finished returns a channel closed once wg is done.
func finished(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

func TestCompactStopsAtDamage(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true, CompactLiveRatio: 0.9}
	s := openStore(t, cfg)
	defer s.Close()
	require.NoError(t, s.Put(ctx, "a", bytes.Repeat([]byte("a"), 1000)))
	require.NoError(t, s.Put(ctx, "b", bytes.Repeat([]byte("b"), 1000)))
	id, off := location(t, s, "b")
	rollForTest(t, s)
	require.NoError(t, s.Delete(ctx, "a"))
	flipByte(t, segPath(cfg.Dir, id), off+recordHeaderLen+10)

	require.ErrorIs(t, s.Compact(ctx), blob.ErrCorrupt)
	requireDiskMatches(t, s)
	require.Equal(t, 2, s.Stats().Segments)
}

// TestCompactModel runs random operations, compactions, rolls, reopens and
// crashes against a map.
func TestCompactModel(t *testing.T) {
	base := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(base, "run")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		cfg := Config{Dir: dir, SegmentBytes: minSegmentBytes, DisableAutoCompact: true}
		open := func(ratio float64) *Store {
			c := cfg
			c.CompactLiveRatio = ratio
			s, err := New(nil, c)
			if err != nil {
				rt.Fatalf("open: %v", err)
			}
			return s
		}
		s := open(0)
		defer func() { _ = s.Close() }()
		model := make(map[string][]byte)
		keyGen := rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f"})
		check := func(rt *rapid.T) {
			var keys []string
			if err := s.List(ctx, "", func(k string, size int64) (bool, error) {
				keys = append(keys, k)
				if size != int64(len(model[k])) {
					rt.Fatalf("list %q: size %d, want %d", k, size, len(model[k]))
				}
				return true, nil
			}); err != nil {
				rt.Fatal(err)
			}
			if len(keys) != len(model) {
				rt.Fatalf("list: %v, model has %d keys", keys, len(model))
			}
			for k, v := range model {
				got, err := s.Get(ctx, k, 0, -1)
				if err != nil || !bytes.Equal(got, v) {
					rt.Fatalf("get %q: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
				}
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"put": func(rt *rapid.T) {
				k := keyGen.Draw(rt, "key")
				v := bytes.Repeat([]byte{rapid.Byte().Draw(rt, "byte")}, rapid.IntRange(0, 1500).Draw(rt, "size"))
				if err := s.Put(ctx, k, v); err != nil {
					rt.Fatal(err)
				}
				model[k] = v
			},
			"delete": func(rt *rapid.T) {
				k := keyGen.Draw(rt, "key")
				if err := s.Delete(ctx, k); err != nil {
					rt.Fatal(err)
				}
				delete(model, k)
			},
			"roll": func(rt *rapid.T) {
				s.w.Lock()
				defer s.w.Unlock()
				if err := s.rollLocked(); err != nil {
					rt.Fatal(err)
				}
			},
			"compact": func(rt *rapid.T) {
				s.cfg.CompactLiveRatio = rapid.SampledFrom([]float64{0.3, 0.6, 1}).Draw(rt, "ratio")
				if err := s.Compact(ctx); err != nil {
					rt.Fatal(err)
				}
			},
			"reopen": func(rt *rapid.T) {
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				s = open(0)
				check(rt)
			},
			"crash": func(rt *rapid.T) {
				s.closing.Store(true)
				s.closeMu.Lock()
				s.closed = true
				s.closeMu.Unlock()
				if err := s.closeFiles(); err != nil {
					rt.Fatal(err)
				}
				_ = s.lockFile.Close()
				s = open(0)
				check(rt)
			},
			"": check,
		})
		st := s.Stats()
		if st.Objects != len(model) {
			rt.Fatalf("stats: %d objects, model has %d", st.Objects, len(model))
		}
		if err := s.Close(); err != nil {
			rt.Fatal(err)
		}
		s = open(0)
		check(rt)
		if got := s.Stats(); got.LiveBytes > st.LiveBytes || got.Objects != st.Objects {
			rt.Fatalf("stats after reopen %+v, before %+v", got, st)
		}
	})
}
