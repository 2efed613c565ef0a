// Package blobtest is the conformance suite for blob engines: the contract of
// blob.Store written as tests. Every engine runs it from its own tests:
//
//	blobtest.Run(t, func(t *testing.T) func() blob.Store {
//		dir := t.TempDir()
//		return func() blob.Store { return mustOpen(t, dir) }
//	})
//
// It imports only internal/blob of shelf.
package blobtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
)

// Storage prepares fresh, empty backing storage for one test (a temporary
// directory, a bucket prefix…) and returns a function that opens a store on
// it, failing t if it cannot. The suite opens a storage again only after
// closing the store it had open, and expects to find everything that store
// made durable: this is how durability across Close is checked. The suite
// closes every store it opens.
type Storage func(t *testing.T) (open func() blob.Store)

// Run runs the conformance suite. Subtests run in parallel, each on its own
// storage.
func Run(t *testing.T, storage Storage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"Ranges", testRanges},
		{"EmptyObject", testEmptyObject},
		{"LargeObject", testLargeObject},
		{"List", testList},
		{"ListStopsEarly", testListStopsEarly},
		{"ListError", testListError},
		{"ListCallbackUsesStore", testListCallbackUsesStore},
		{"InvalidKeys", testInvalidKeys},
		{"KeyShapes", testKeyShapes},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"Reopen", testReopen},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, open: storage(t)}
			t.Cleanup(h.close)
			tc.fn(t, h)
		})
	}
}

// harness holds the one store a subtest has open on its storage.
type harness struct {
	t    *testing.T
	open func() blob.Store
	cur  blob.Store
}

func (h *harness) store() blob.Store {
	if h.cur == nil {
		h.cur = h.open()
		require.NotNil(h.t, h.cur, "open returned nil")
	}
	return h.cur
}

// reopen closes the store and opens the same storage again.
func (h *harness) reopen() blob.Store {
	h.t.Helper()
	if h.cur != nil {
		s := h.cur
		h.cur = nil
		require.NoError(h.t, s.Close(), "close")
	}
	return h.store()
}

func (h *harness) close() {
	if h.cur != nil {
		require.NoError(h.t, h.cur.Close(), "close")
		h.cur = nil
	}
}

// value returns n deterministic pseudo-random bytes.
func value(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(n))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	require.NoError(t, s.Put(context.Background(), key, data), "put %q", key)
}

func get(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	b, err := s.Get(context.Background(), key, 0, -1)
	require.NoError(t, err, "get %q", key)
	return b
}

func requireNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	_, err := s.Get(context.Background(), key, 0, -1)
	require.ErrorIs(t, err, blob.ErrNotFound, "get %q", key)
}

type listed struct {
	Key  string
	Size int64
}

func list(t *testing.T, s blob.Store, prefix string) []listed {
	t.Helper()
	var got []listed
	err := s.List(context.Background(), prefix, func(key string, size int64) (bool, error) {
		got = append(got, listed{key, size})
		return true, nil
	})
	require.NoError(t, err, "list %q", prefix)
	return got
}

// requireContents checks that s holds exactly model, through Get and List.
func requireContents(t *testing.T, s blob.Store, model map[string][]byte) {
	t.Helper()
	var want []listed
	for k, v := range model {
		require.Equal(t, v, get(t, s, k), "contents of %q", k)
		want = append(want, listed{k, int64(len(v))})
	}
	slices.SortFunc(want, func(a, b listed) int { return strings.Compare(a.Key, b.Key) })
	require.Equal(t, want, list(t, s, ""))
}

func testPutGet(t *testing.T, h *harness) {
	s := h.store()
	for i, n := range []int{1, 7, 4096, 65537} {
		key := fmt.Sprintf("obj/%d", i)
		v := value(uint64(i), n)
		put(t, s, key, v)
		require.Equal(t, v, get(t, s, key))
	}
}

func testOverwrite(t *testing.T, h *harness) {
	s := h.store()
	put(t, s, "k", value(1, 1000))
	put(t, s, "k", value(2, 10))
	require.Equal(t, value(2, 10), get(t, s, "k"))
	put(t, s, "k", value(3, 5000))
	require.Equal(t, value(3, 5000), get(t, s, "k"))
	require.Equal(t, []listed{{"k", 5000}}, list(t, s, ""))
}

func testDelete(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	put(t, s, "a", value(1, 10))
	put(t, s, "b", value(2, 10))
	require.NoError(t, s.Delete(ctx, "a"))
	requireNotFound(t, s, "a")
	require.Equal(t, value(2, 10), get(t, s, "b"))
	require.NoError(t, s.Delete(ctx, "a"), "deleting twice")
	require.NoError(t, s.Delete(ctx, "never-existed"), "deleting a missing object")
	require.Equal(t, []listed{{"b", 10}}, list(t, s, ""))

	put(t, s, "a", value(3, 20))
	require.Equal(t, value(3, 20), get(t, s, "a"), "put after delete")
}

func testMissing(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	requireNotFound(t, s, "nothing")
	_, err := s.Get(ctx, "nothing", 5, 10)
	require.ErrorIs(t, err, blob.ErrNotFound, "ranged get")
	put(t, s, "something", []byte("x"))
	requireNotFound(t, s, "somethin")
	requireNotFound(t, s, "something-else")
}

func testRanges(t *testing.T, h *harness) {
	s := h.store()
	v := []byte("0123456789")
	put(t, s, "r", v)
	tests := []struct {
		name           string
		offset, length int64
		want           string
	}{
		{"whole", 0, -1, "0123456789"},
		{"whole exact length", 0, 10, "0123456789"},
		{"middle", 3, 4, "3456"},
		{"to end", 5, -1, "56789"},
		{"other negative length", 5, -7, "56789"},
		{"length past end is cut", 8, 10, "89"},
		{"last byte", 9, 1, "9"},
		{"zero length", 4, 0, ""},
		{"offset at end", 10, 5, ""},
		{"offset at end to end", 10, -1, ""},
		{"offset past end", 11, 5, ""},
		{"offset far past end", 1 << 40, -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Get(context.Background(), "r", tc.offset, tc.length)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func testEmptyObject(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	put(t, s, "nil", nil)
	put(t, s, "empty", []byte{})
	for _, key := range []string{"nil", "empty"} {
		got, err := s.Get(ctx, key, 0, -1)
		require.NoError(t, err, key)
		require.Empty(t, got, key)
		got, err = s.Get(ctx, key, 0, 10)
		require.NoError(t, err, key)
		require.Empty(t, got, key)
	}
	require.Equal(t, []listed{{"empty", 0}, {"nil", 0}}, list(t, s, ""))
	s = h.reopen()
	require.Equal(t, []listed{{"empty", 0}, {"nil", 0}}, list(t, s, ""))
	require.Empty(t, get(t, s, "empty"))
}

func testLargeObject(t *testing.T, h *harness) {
	const size = 4 << 20
	ctx := context.Background()
	s := h.store()
	v := value(42, size)
	put(t, s, "large", v)
	put(t, s, "small", []byte("s"))
	require.True(t, bytes.Equal(v, get(t, s, "large")), "whole object differs")

	got, err := s.Get(ctx, "large", 1<<20, 1<<20)
	require.NoError(t, err)
	require.True(t, bytes.Equal(v[1<<20:2<<20], got), "range differs")
	got, err = s.Get(ctx, "large", size-100, 1000)
	require.NoError(t, err)
	require.True(t, bytes.Equal(v[size-100:], got), "tail differs")
	require.Equal(t, []listed{{"large", size}, {"small", 1}}, list(t, s, ""))

	s = h.reopen()
	require.True(t, bytes.Equal(v, get(t, s, "large")), "whole object differs after reopen")
}

var listKeys = []string{"a", "a/1", "a/10", "a/2", "ab", "b", "b/x", "c.d", "c_d"}

func putListKeys(t *testing.T, s blob.Store) {
	// Insert out of order; sizes differ so that they are checked too.
	for _, i := range []int{4, 0, 8, 2, 6, 1, 7, 3, 5} {
		put(t, s, listKeys[i], value(uint64(i), i*3))
	}
}

func testList(t *testing.T, h *harness) {
	s := h.store()
	putListKeys(t, s)
	entries := func(keys ...string) []listed {
		var out []listed
		for _, k := range keys {
			out = append(out, listed{k, int64(3 * slices.Index(listKeys, k))})
		}
		return out
	}
	tests := []struct {
		prefix string
		want   []listed
	}{
		{"", entries(listKeys...)},
		{"a", entries("a", "a/1", "a/10", "a/2", "ab")},
		{"a/", entries("a/1", "a/10", "a/2")},
		{"a/1", entries("a/1", "a/10")},
		{"b/x", entries("b/x")},
		{"c", entries("c.d", "c_d")},
		{"z", nil},
		{"a/3", nil},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			require.Equal(t, tc.want, list(t, s, tc.prefix))
		})
	}

	require.NoError(t, s.Delete(context.Background(), "a/10"))
	require.Equal(t, entries("a/1", "a/2"), list(t, s, "a/"), "after delete")
}

func testListStopsEarly(t *testing.T, h *harness) {
	s := h.store()
	putListKeys(t, s)
	var got []string
	err := s.List(context.Background(), "", func(key string, _ int64) (bool, error) {
		got = append(got, key)
		return len(got) < 3, nil
	})
	require.NoError(t, err)
	require.Equal(t, listKeys[:3], got)
}

func testListError(t *testing.T, h *harness) {
	s := h.store()
	putListKeys(t, s)
	stop := errors.New("stop here")
	calls := 0
	err := s.List(context.Background(), "", func(string, int64) (bool, error) {
		calls++
		return true, stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

// Scrubbers and garbage collectors read, delete or rewrite what they list.
func testListCallbackUsesStore(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	putListKeys(t, s)
	var seen []string
	err := s.List(ctx, "a", func(key string, size int64) (bool, error) {
		seen = append(seen, key)
		b, err := s.Get(ctx, key, 0, -1)
		if err != nil {
			return false, err
		}
		if int64(len(b)) != size {
			return false, fmt.Errorf("%q: listed size %d, got %d bytes", key, size, len(b))
		}
		if err := s.Delete(ctx, key); err != nil {
			return false, err
		}
		return true, s.Put(ctx, "z/"+key, b)
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "a/1", "a/10", "a/2", "ab"}, seen)
	require.Empty(t, list(t, s, "a"))
	require.Len(t, list(t, s, "z/"), 5)
}

func testInvalidKeys(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	keys := map[string]string{
		"empty":     "",
		"space":     "a b",
		"newline":   "a\nb",
		"nul":       "a\x00b",
		"backslash": `a\b`,
		"colon":     "a:b",
		"non-ascii": "caf\u00e9",
		"too long":  strings.Repeat("k", blob.MaxKeyLength+1),
	}
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			require.False(t, blob.ValidKey(key))
			require.Error(t, s.Put(ctx, key, []byte("x")), "put")
			_, err := s.Get(ctx, key, 0, -1)
			require.Error(t, err, "get")
			require.Error(t, s.Delete(ctx, key), "delete")
		})
	}
	require.Empty(t, list(t, s, ""), "a rejected put stored something")
}

// Valid keys that look like paths must not be interpreted as paths.
func testKeyShapes(t *testing.T, h *harness) {
	s := h.store()
	keys := []string{
		".", "..", "../x", "./x", "/", "//", "/a", "a/", "a//b", "a/./b", "a/../b",
		"-", "_", "A", "a", "LOCK", "x.tmp",
		strings.Repeat("k", blob.MaxKeyLength),
		strings.Repeat("a/", blob.MaxKeyLength/2),
	}
	model := make(map[string][]byte)
	for i, k := range keys {
		require.True(t, blob.ValidKey(k), k)
		v := value(uint64(i), i+1)
		put(t, s, k, v)
		model[k] = v
	}
	requireContents(t, s, model)
	requireContents(t, h.reopen(), model)
}

func testCallerOwnsSlices(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	orig := value(1, 100)
	data := slices.Clone(orig)
	put(t, s, "k", data)
	for i := range data {
		data[i] ^= 0xff // the store must not keep the caller's buffer
	}
	a := get(t, s, "k")
	require.Equal(t, orig, a)
	b := get(t, s, "k")
	for i := range a {
		a[i] = 0 // nor hand out its own memory
	}
	require.Equal(t, orig, b)
	r, err := s.Get(ctx, "k", 10, 20)
	require.NoError(t, err)
	for i := range r {
		r[i] = 0
	}
	require.Equal(t, orig, get(t, s, "k"))
}

func testReopen(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.store()
	model := make(map[string][]byte)
	for i, n := range []int{0, 1, 100, 4096, 64 << 10, 1 << 20} {
		k := fmt.Sprintf("d/%d", i)
		model[k] = value(uint64(i), n)
		put(t, s, k, model[k])
	}
	model["d/1"] = value(100, 50)
	put(t, s, "d/1", model["d/1"])
	require.NoError(t, s.Delete(ctx, "d/2"))
	delete(model, "d/2")
	put(t, s, "gone", []byte("soon"))
	require.NoError(t, s.Delete(ctx, "gone"))

	s = h.reopen()
	requireContents(t, s, model)

	// Writes after a reopen are durable too, and do not disturb old ones.
	model["e/1"] = value(200, 3000)
	put(t, s, "e/1", model["e/1"])
	model["d/0"] = value(201, 10)
	put(t, s, "d/0", model["d/0"])
	require.NoError(t, s.Delete(ctx, "d/3"))
	delete(model, "d/3")
	put(t, s, "d/2", []byte("back"))
	model["d/2"] = []byte("back")

	s = h.reopen()
	requireContents(t, s, model)
	requireContents(t, h.reopen(), model)
}

// sealed values describe themselves, so that a reader can tell a whole value
// from a mix of two writes: 8 bytes of seed, 4 of length, then value(seed).
func sealed(seed uint64, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seed)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, value(seed, n)...)
}

func checkSealed(b []byte) error {
	if len(b) < 12 {
		return fmt.Errorf("value of %d bytes is too short", len(b))
	}
	seed := binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint32(b[8:]))
	if !bytes.Equal(b, sealed(seed, n)) {
		return fmt.Errorf("value of %d bytes is not one that was written (seed %d, length %d)", len(b), seed, n)
	}
	return nil
}

func testConcurrent(t *testing.T, h *harness) {
	const (
		writers    = 12
		rounds     = 30
		ownKeys    = 4
		sharedKeys = 3
	)
	ctx := context.Background()
	s := h.store()
	var wg sync.WaitGroup
	finals := make([]map[string][]byte, writers)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			own := make(map[string][]byte)
			finals[w] = own
			for r := range rounds {
				seed := uint64(w*1000 + r)
				k := fmt.Sprintf("own/%02d/%d", w, r%ownKeys)
				switch rng.IntN(4) {
				case 0:
					if err := s.Delete(ctx, k); err != nil {
						t.Errorf("delete %s: %v", k, err)
						return
					}
					delete(own, k)
				default:
					v := sealed(seed, rng.IntN(8<<10))
					if err := s.Put(ctx, k, v); err != nil {
						t.Errorf("put %s: %v", k, err)
						return
					}
					own[k] = v
				}
				b, err := s.Get(ctx, k, 0, -1)
				switch want, ok := own[k]; {
				case !ok && !errors.Is(err, blob.ErrNotFound):
					t.Errorf("get %s after delete: %v", k, err)
					return
				case ok && err != nil:
					t.Errorf("get %s: %v", k, err)
					return
				case ok && !bytes.Equal(b, want):
					t.Errorf("get %s: read %d bytes, not what this goroutine wrote", k, len(b))
					return
				}

				sk := fmt.Sprintf("shared/%d", rng.IntN(sharedKeys))
				switch rng.IntN(5) {
				case 0:
					err = s.Delete(ctx, sk)
				case 1, 2:
					err = s.Put(ctx, sk, sealed(seed, rng.IntN(8<<10)))
				default:
					b, err = s.Get(ctx, sk, 0, -1)
					if errors.Is(err, blob.ErrNotFound) {
						err = nil
					} else if err == nil {
						err = checkSealed(b)
					}
				}
				if err != nil {
					t.Errorf("%s: %v", sk, err)
					return
				}
			}
		})
	}
	listDone := make(chan struct{})
	var listErr error
	go func() {
		defer close(listDone)
		for range 20 {
			prev := ""
			listErr = s.List(ctx, "", func(key string, size int64) (bool, error) {
				if key <= prev {
					return false, fmt.Errorf("list: %q after %q", key, prev)
				}
				if size < 0 {
					return false, fmt.Errorf("list: %q has size %d", key, size)
				}
				prev = key
				return true, nil
			})
			if listErr != nil {
				return
			}
		}
	}()
	wg.Wait()
	<-listDone
	require.NoError(t, listErr)
	if t.Failed() {
		return
	}

	check := func(s blob.Store) {
		for w := range writers {
			for i := range ownKeys {
				k := fmt.Sprintf("own/%02d/%d", w, i)
				if v, ok := finals[w][k]; ok {
					require.Equal(t, v, get(t, s, k), k)
				} else {
					requireNotFound(t, s, k)
				}
			}
		}
		for _, e := range list(t, s, "shared/") {
			b := get(t, s, e.Key)
			require.NoError(t, checkSealed(b), e.Key)
			require.Equal(t, e.Size, int64(len(b)), e.Key)
		}
	}
	check(s)
	check(h.reopen())
}
