package data_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
)

func testKey(t testing.TB, id uint32) *kms.DataKey {
	m := make([]byte, 32)
	_, _ = rand.Read(m)
	k, err := kms.NewDataKey(id, m)
	require.NoError(t, err)
	return k
}

func TestSaveLoad(t *testing.T) {
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		for _, size := range []int{0, 1, 4096, data.DefaultInlineMax, data.DefaultBlockSize} {
			blobs := memblob.New()
			s := data.New(blobs, data.Options{CacheBytes: -1}) // crypto checks, not the cache
			var key *kms.DataKey
			if encrypted {
				key = testKey(t, 1)
			}
			p := make([]byte, size)
			_, _ = rand.Read(p)
			a := data.Addr{Vol: 1, Ino: 2, Index: 3}
			rec, err := s.Save(ctx, key, a, p)
			require.NoError(t, err)
			dec, err := data.DecodeRecord(rec.Encode())
			require.NoError(t, err)
			require.Equal(t, rec, dec)
			inline := size+map[bool]int{false: 0, true: kms.EnvelopeOverhead}[encrypted] <= data.DefaultInlineMax
			require.Equal(t, inline, rec.BlobKey == "", "size %d", size)
			got, err := s.Load(ctx, key, a, &dec)
			require.NoError(t, err)
			require.True(t, bytes.Equal(p, got))
			if encrypted && size > 0 {
				// A block moved to another inode, index or volume fails.
				for _, moved := range []data.Addr{{Vol: 1, Ino: 9, Index: 3}, {Vol: 1, Ino: 2, Index: 4}, {Vol: 2, Ino: 2, Index: 3}} {
					_, err := s.Load(ctx, key, moved, &dec)
					require.ErrorIs(t, err, data.ErrCorrupt)
				}
				// Another key fails.
				_, err := s.Load(ctx, testKey(t, 1), a, &dec)
				require.ErrorIs(t, err, data.ErrCorrupt)
			}
		}
	}
}

func TestSwappedBlockDetected(t *testing.T) {
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		blobs := memblob.New()
		s := data.New(blobs, data.Options{InlineMax: -1, CacheBytes: -1})
		var key *kms.DataKey
		if encrypted {
			key = testKey(t, 1)
		}
		a := data.Addr{Vol: 1, Ino: 2, Index: 0}
		old, err := s.Save(ctx, key, a, []byte("old contents"))
		require.NoError(t, err)
		cur, err := s.Save(ctx, key, a, []byte("new contents"))
		require.NoError(t, err)
		// Put the old object where the new one is: the record's check fails.
		oldBytes, err := blobs.Get(ctx, old.BlobKey, 0, -1)
		require.NoError(t, err)
		require.NoError(t, blobs.Put(ctx, cur.BlobKey, oldBytes))
		_, err = s.Load(ctx, key, a, &cur)
		require.ErrorIs(t, err, data.ErrCorrupt)
		// A flipped byte fails.
		good, err := s.Save(ctx, key, a, []byte("fine"))
		require.NoError(t, err)
		require.True(t, blobs.Corrupt(good.BlobKey, len("fine")/2+map[bool]int{false: 0, true: 40}[encrypted]))
		_, err = s.Load(ctx, key, a, &good)
		require.ErrorIs(t, err, data.ErrCorrupt)
		// A missing object is reported as such.
		require.NoError(t, s.Delete(ctx, old.BlobKey))
		_, err = s.Load(ctx, key, a, &old)
		require.True(t, errors.Is(err, blob.ErrNotFound))
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add((&data.Record{Length: 3, Inline: []byte("abc")}).Encode())
	f.Add((&data.Record{Length: 3, Sealed: true, BlobKey: "v1/2/3-abc"}).Encode())
	f.Add([]byte{1, 2, 0, 0, 0, 0})
	f.Add((&data.Record{Length: 9, BaseLength: 5, Sealed: false, BlobKey: "v1/2/3-abc",
		Patches: []data.Patch{{Off: 4, ID: 7, Len: 9, Stored: []byte{0, 0, 0, 0, 1, 2, 3, 4, 5}}}}).Encode())
	f.Add((&data.Record{Length: 9, BaseLength: 5, Sealed: false, BlobKey: "v1/2/3-abc", Apart: true,
		Patches: []data.Patch{{Off: 4, ID: 7, Len: 9}, {Off: 0, ID: 8, Len: 5}}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := data.DecodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if !bytes.Equal(r.Encode(), b) {
			t.Fatalf("re-encoding %x gave %x", b, r.Encode())
		}
	})
}

func TestCacheServesRecentBlocks(t *testing.T) {
	ctx := context.Background()
	blobs := memblob.New()
	s := data.New(blobs, data.Options{InlineMax: -1})
	key := testKey(t, 1)
	a := data.Addr{Vol: 1, Ino: 2, Index: 0}
	p := make([]byte, 100_000)
	_, _ = rand.Read(p)
	rec, err := s.Save(ctx, key, a, p)
	require.NoError(t, err)
	p[0] ^= 1 // the cache keeps its own copy
	p[0] ^= 1
	// Damage on disk: Load is served from the cache, Verify reads the disk.
	require.True(t, blobs.Corrupt(rec.BlobKey, 500))
	got, err := s.Load(ctx, key, a, &rec)
	require.NoError(t, err)
	require.True(t, bytes.Equal(p, got))
	require.ErrorIs(t, s.Verify(ctx, key, a, &rec), data.ErrCorrupt)
	// A record naming another address or check misses the cache.
	other := rec
	other.Check[0] ^= 1
	_, err = s.Load(ctx, key, a, &other)
	require.ErrorIs(t, err, data.ErrCorrupt)

	// A block written whole is read back from storage, a merged block
	// (SaveOwned) from the cache.
	whole, err := s.SaveWhole(ctx, key, a, p)
	require.NoError(t, err)
	require.True(t, blobs.Corrupt(whole.BlobKey, 500))
	_, err = s.Load(ctx, key, a, &whole)
	require.ErrorIs(t, err, data.ErrCorrupt, "not served from the cache")
	owned, err := s.SaveOwned(ctx, key, a, append([]byte(nil), p...))
	require.NoError(t, err)
	require.True(t, blobs.Corrupt(owned.BlobKey, 500))
	got, err = s.Load(ctx, key, a, &owned)
	require.NoError(t, err)
	require.True(t, bytes.Equal(p, got))
}

// BenchmarkSave measures the CPU cost of storing a full block with and
// without sealing (memblob: no I/O).
func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	p := make([]byte, data.DefaultBlockSize)
	_, _ = rand.Read(p)
	for _, enc := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "encrypted"}[enc], func(b *testing.B) {
			s := data.New(memblob.New(), data.Options{CacheBytes: -1})
			var key *kms.DataKey
			if enc {
				key = testKey(b, 1)
			}
			b.SetBytes(int64(len(p)))
			for i := 0; i < b.N; i++ {
				rec, err := s.Save(ctx, key, data.Addr{Vol: 1, Ino: 2, Index: uint64(i)}, p)
				if err != nil {
					b.Fatal(err)
				}
				_ = s.Delete(ctx, rec.BlobKey)
			}
		})
	}
}

// BenchmarkLoadMiss measures loading a full block that is not in the cache
// (memblob: no I/O), as a random read of a large file mostly does.
func BenchmarkLoadMiss(b *testing.B) {
	ctx := context.Background()
	p := make([]byte, data.DefaultBlockSize)
	_, _ = rand.Read(p)
	for _, enc := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "encrypted"}[enc], func(b *testing.B) {
			s := data.New(memblob.New(), data.Options{CacheBytes: -1})
			var key *kms.DataKey
			if enc {
				key = testKey(b, 1)
			}
			a := data.Addr{Vol: 1, Ino: 2, Index: 3}
			rec, err := s.Save(ctx, key, a, p)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load(ctx, key, a, &rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
