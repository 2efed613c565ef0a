package data_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
)

// patchKey names a patch kept apart in a patchMap.
type patchKey struct {
	a  data.Addr
	id uint64
}

// patchMap keeps patches apart from their records, as the metadata store
// does for internal/fs.
type patchMap map[patchKey][]byte

// keep stores the bytes of r's patches that it holds.
func (m patchMap) keep(a data.Addr, r *data.Record) {
	for _, p := range r.Patches {
		if p.Stored != nil {
			m[patchKey{a, p.ID}] = append([]byte(nil), p.Stored...)
		}
	}
}

func (m patchMap) source(_ context.Context, a data.Addr, ids []uint64) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		b, ok := m[patchKey{a, id}]
		if !ok {
			return nil, fmt.Errorf("patch %x: %w", id, blob.ErrNotFound)
		}
		out[i] = b
	}
	return out, nil
}

// stripped returns r without the patches' bytes, as decoding a record
// with its patches apart gives it.
func stripped(r data.Record) data.Record {
	r.Patches = slices.Clone(r.Patches)
	for i := range r.Patches {
		r.Patches[i].Stored = nil
	}
	return r
}

// TestPatchesMatchModel adds random writes as patches over a stored block
// and checks every version against a byte model: through the cache, without
// it, after a round trip through the record encoding, and with Verify.
func TestPatchesMatchModel(t *testing.T) {
	ctx := context.Background()
	const blockSize, budget = 64 << 10, 16 << 10
	for _, encrypted := range []bool{false, true} {
		rng := mrand.New(mrand.NewPCG(1, 2))
		blobs := memblob.New()
		cached := data.New(blobs, data.Options{})
		uncached := data.New(blobs, data.Options{CacheBytes: -1})
		patches := patchMap{}
		cached.SetPatchSource(patches.source)
		uncached.SetPatchSource(patches.source)
		var key *kms.DataKey
		if encrypted {
			key = testKey(t, 1)
		}
		a := data.Addr{Vol: 1, Ino: 2, Index: 3}
		model := make([]byte, 40<<10)
		_, _ = rand.Read(model)
		rec, err := cached.Save(ctx, key, a, model)
		require.NoError(t, err)
		require.NotEmpty(t, rec.BlobKey)
		patched, rewrites := 0, 0
		for range 300 {
			var writes []data.Write
			for range 1 + rng.IntN(3) {
				n := 1 + rng.IntN(4096)
				off := rng.IntN(blockSize - n)
				w := data.Write{Off: uint32(off), Data: make([]byte, n)}
				_, _ = rand.Read(w.Data)
				writes = append(writes, w)
			}
			next, ok, err := cached.AddPatches(key, a, &rec, writes, budget)
			require.NoError(t, err)
			for _, w := range writes {
				if end := int(w.Off) + len(w.Data); end > len(model) {
					model = append(model, make([]byte, end-len(model))...)
				}
				copy(model[w.Off:], w.Data)
			}
			if ok {
				patched++
				patches.keep(a, &next)
				require.True(t, next.Apart)
				require.Equal(t, rec.BlobKey, next.BlobKey, "a patch shares the object")
				require.LessOrEqual(t, next.StoredBytes(), budget)
				require.LessOrEqual(t, len(next.Patches), data.MaxPatches)
			} else {
				// Past the budget: the caller rewrites the block.
				rewrites++
				next, err = cached.Save(ctx, key, a, model)
				require.NoError(t, err)
				require.Empty(t, next.Patches)
			}
			rec = next
			require.Equal(t, uint32(len(model)), rec.Length)
			dec, err := data.DecodeRecord(rec.Encode())
			require.NoError(t, err)
			require.Equal(t, stripped(rec), dec)
			for _, s := range []*data.Store{cached, uncached} {
				got, err := s.Load(ctx, key, a, &dec)
				require.NoError(t, err)
				require.True(t, bytes.Equal(model, got), "encrypted %v", encrypted)
			}
			require.NoError(t, uncached.Verify(ctx, key, a, &dec))
		}
		require.Greater(t, patched, 100)
		require.Greater(t, rewrites, 5)
	}
}

// TestPatchRules: what AddPatches refuses, and covered patches dropped.
func TestPatchRules(t *testing.T) {
	ctx := context.Background()
	s := data.New(memblob.New(), data.Options{CacheBytes: -1})
	key := testKey(t, 1)
	a := data.Addr{Vol: 1, Ino: 2, Index: 0}
	page := make([]byte, 4096)

	// An inline block has no object to patch.
	small, err := s.Save(ctx, key, a, []byte("abc"))
	require.NoError(t, err)
	_, ok, err := s.AddPatches(key, a, &small, []data.Write{{Off: 0, Data: page}}, 1<<20)
	require.NoError(t, err)
	require.False(t, ok)

	base, err := s.Save(ctx, key, a, make([]byte, 128<<10))
	require.NoError(t, err)
	// A sealed block is not patched without its key, nor the reverse.
	_, ok, err = s.AddPatches(nil, a, &base, []data.Write{{Off: 0, Data: page}}, 1<<20)
	require.NoError(t, err)
	require.False(t, ok)
	// Over the budget.
	_, ok, err = s.AddPatches(key, a, &base, []data.Write{{Off: 0, Data: page}}, 4096)
	require.NoError(t, err)
	require.False(t, ok)

	// Rewriting the same range keeps one patch.
	rec := base
	for i := range 10 {
		page[0] = byte(i)
		rec, ok, err = s.AddPatches(key, a, &rec, []data.Write{{Off: 8192, Data: page}}, 1<<20)
		require.NoError(t, err)
		require.True(t, ok)
		require.Len(t, rec.Patches, 1)
	}
	got, err := s.Load(ctx, key, a, &rec)
	require.NoError(t, err)
	require.Equal(t, byte(9), got[8192])

	// At most MaxPatches.
	rec = base
	for i := range data.MaxPatches {
		rec, ok, err = s.AddPatches(key, a, &rec, []data.Write{{Off: uint32(i * 2), Data: []byte{1}}}, 1<<20)
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, ok, err = s.AddPatches(key, a, &rec, []data.Write{{Off: 1, Data: []byte{1}}}, 1<<20)
	require.NoError(t, err)
	require.False(t, ok)
}

// TestPatchesMoveApart: a version 2 record, which holds its patches' bytes,
// still reads, and the next patch moves its patches apart.
func TestPatchesMoveApart(t *testing.T) {
	ctx := context.Background()
	s := data.New(memblob.New(), data.Options{CacheBytes: -1})
	patches := patchMap{}
	s.SetPatchSource(patches.source)
	key := testKey(t, 1)
	a := data.Addr{Vol: 1, Ino: 2, Index: 0}
	model := make([]byte, 64<<10)
	_, _ = rand.Read(model)
	base, err := s.Save(ctx, key, a, model)
	require.NoError(t, err)
	rec, ok, err := s.AddPatches(key, a, &base, []data.Write{{Off: 100, Data: []byte("first")}}, 1<<20)
	require.NoError(t, err)
	require.True(t, ok)
	copy(model[100:], "first")

	rec.Apart = false
	v2 := rec.Encode()
	require.Equal(t, byte(2), v2[0])
	old, err := data.DecodeRecord(v2)
	require.NoError(t, err)
	require.False(t, old.Apart)
	require.Equal(t, rec, old)
	got, err := s.Load(ctx, key, a, &old)
	require.NoError(t, err)
	require.Equal(t, model, got)
	require.Empty(t, patches, "a version 2 record needs no patch source")

	next, ok, err := s.AddPatches(key, a, &old, []data.Write{{Off: 9000, Data: []byte("second")}}, 1<<20)
	require.NoError(t, err)
	require.True(t, ok)
	copy(model[9000:], "second")
	require.True(t, next.Apart)
	require.Len(t, next.Patches, 2)
	for _, p := range next.Patches {
		require.Len(t, p.Stored, int(p.Len), "the moved patch comes with its bytes for the caller to store")
	}
	v3 := next.Encode()
	require.Equal(t, byte(3), v3[0])
	require.Len(t, v3, 22+6+2*16+len(next.BlobKey), "a version 3 record lists its patches without their bytes")
	patches.keep(a, &next)
	dec, err := data.DecodeRecord(v3)
	require.NoError(t, err)
	got, err = s.Load(ctx, key, a, &dec)
	require.NoError(t, err)
	require.Equal(t, model, got)
}

// TestPatchTampering: a patch is bound to its block, its offset and the
// object it patches, and its bytes are authenticated.
func TestPatchTampering(t *testing.T) {
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		s := data.New(memblob.New(), data.Options{CacheBytes: -1})
		patches := patchMap{}
		s.SetPatchSource(patches.source)
		var key *kms.DataKey
		if encrypted {
			key = testKey(t, 1)
		}
		a := data.Addr{Vol: 1, Ino: 2, Index: 0}
		base, err := s.Save(ctx, key, a, make([]byte, 100<<10))
		require.NoError(t, err)
		rec, ok, err := s.AddPatches(key, a, &base, []data.Write{{Off: 4096, Data: []byte("patched")}}, 1<<20)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Verify(ctx, key, a, &rec))

		dec, err := data.DecodeRecord(rec.Encode())
		require.NoError(t, err)
		// A patch kept apart that is not there: the block was replaced
		// after its record was read, and the reader retries.
		_, err = s.Load(ctx, key, a, &dec)
		require.ErrorIs(t, err, blob.ErrNotFound)
		patches.keep(a, &rec)
		_, err = s.Load(ctx, key, a, &dec)
		require.NoError(t, err)
		// Stored bytes altered, or cut short.
		pk := patchKey{a, rec.Patches[0].ID}
		good := patches[pk]
		patches[pk] = append([]byte(nil), good...)
		patches[pk][len(good)-1] ^= 1
		_, err = s.Load(ctx, key, a, &dec)
		require.ErrorIs(t, err, data.ErrCorrupt)
		require.ErrorIs(t, s.Verify(ctx, key, a, &dec), data.ErrCorrupt)
		patches[pk] = good[:len(good)-1]
		require.ErrorIs(t, s.Verify(ctx, key, a, &dec), data.ErrCorrupt)
		patches[pk] = good
		if !encrypted {
			continue
		}
		// Moved to another offset.
		moved, _ := data.DecodeRecord(rec.Encode())
		moved.Patches[0].Off = 8192
		moved.Length = max(moved.BaseLength, 8192+7)
		_, err = s.Load(ctx, key, a, &moved)
		require.ErrorIs(t, err, data.ErrCorrupt)
		// Moved onto another version of the block.
		other, err := s.Save(ctx, key, a, make([]byte, 100<<10))
		require.NoError(t, err)
		grafted := other
		grafted.Patches, grafted.Apart = rec.Patches, true
		_, err = s.Load(ctx, key, a, &grafted)
		require.ErrorIs(t, err, data.ErrCorrupt)
		// Moved to another block.
		_, err = s.Load(ctx, key, data.Addr{Vol: 1, Ino: 2, Index: 1}, &rec)
		require.ErrorIs(t, err, data.ErrCorrupt)
	}
}
