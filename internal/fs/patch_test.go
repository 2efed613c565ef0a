package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
)

// countingBlobs counts the objects written.
type countingBlobs struct {
	blob.Store
	puts atomic.Int64
}

func (c *countingBlobs) Put(ctx context.Context, key string, p []byte) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, p)
}

// TestSmallWritesPatchBlocks: small writes into stored blocks, stable and
// unstable, with truncations, read back as a byte model says, write far
// fewer objects than writes, leave fsck clean after collection (the objects
// patches share are never collected while in use), and survive a restart.
func TestSmallWritesPatchBlocks(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			e := newEnv(t)
			blobs := &countingBlobs{Store: e.blobs}
			svc := fs.New(e.meta, data.New(blobs, data.Options{}), e.kms, fs.Options{Clock: e.clock, NoBackground: true})
			t.Cleanup(func() { _ = svc.Close() })
			o := fs.CreateOptions{Encrypted: encrypted}
			if encrypted {
				o.KMSKeyID = e.keyID
			}
			f, err := svc.CreateFileSystem(ctx, "fs-0123456789abcdef0", o)
			require.NoError(t, err)
			a := create(t, f, root, fs.RootIno, "db", 0o644)

			bs := data.DefaultBlockSize
			model := make([]byte, 3*bs+1000)
			_, _ = rand.Read(model)
			_, err = f.Write(ctx, root, a.Ino, 0, model)
			require.NoError(t, err)
			rnd := newRand(7)
			before := blobs.puts.Load()
			const writes = 400
			for i := range writes {
				n := 1 + rnd.Intn(4096)
				off := rnd.Intn(len(model) + 2000)
				p := make([]byte, n)
				_, _ = rand.Read(p)
				if i%2 == 0 {
					_, err = f.Write(ctx, root, a.Ino, uint64(off), p)
				} else {
					_, err = f.WriteUnstable(ctx, root, a.Ino, uint64(off), p)
				}
				require.NoError(t, err)
				if off+n > len(model) {
					model = append(model, make([]byte, off+n-len(model))...)
				}
				copy(model[off:], p)
				switch {
				case i%97 == 96: // truncate into a block, then grow
					size := uint64(len(model) - 3000)
					_, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &size})
					require.NoError(t, err)
					model = model[:size]
				case i%50 == 49:
					require.NoError(t, f.Commit(ctx, a.Ino))
					require.NoError(t, svc.Collect(ctx, true))
					require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
					rep, err := svc.Check(ctx, fs.CheckOptions{})
					require.NoError(t, err)
					require.Empty(t, rep.Problems, "%v", rep.Problems)
				}
			}
			puts := blobs.puts.Load() - before
			require.Less(t, puts, int64(writes/3), "small writes are patches, not new objects")
			require.NoError(t, f.Commit(ctx, a.Ino))
			require.NoError(t, svc.Collect(ctx, true))
			require.LessOrEqual(t, e.blobs.Len(), 4, "one object per block once collected")

			_, f2 := e.restart(t, f.ID(), fs.Options{})
			require.True(t, bytes.Equal(model, readAll(t, f2, root, a.Ino)))
			requireClean(t, e)
		})
	}
}

// patchKeys returns the patch keys of volume vol and the patches its block
// records list as kept apart (records that hold their patches list none).
func patchKeys(t *testing.T, m meta.Store, vol uint64) (keys, listed map[[3]uint64]bool) {
	t.Helper()
	keys, listed = map[[3]uint64]bool{}, map[[3]uint64]bool{}
	require.NoError(t, m.View(ctx, func(r meta.Reader) error {
		if err := meta.ScanPrefix(r, meta.VolumePrefix(meta.TablePatch, vol), func(k, _ []byte) (bool, error) {
			key, err := meta.DecodeKey(k)
			keys[[3]uint64{key.Ino, key.Index, key.Patch}] = true
			return true, err
		}); err != nil {
			return err
		}
		return meta.ScanPrefix(r, meta.VolumePrefix(meta.TableBlock, vol), func(k, v []byte) (bool, error) {
			key, err := meta.DecodeKey(k)
			if err != nil {
				return false, err
			}
			rec, err := data.DecodeRecord(v)
			if err != nil {
				return false, err
			}
			for _, p := range rec.Patches {
				if rec.Apart {
					listed[[3]uint64{key.Ino, key.Index, p.ID}] = true
				}
			}
			return true, nil
		})
	}))
	return keys, listed
}

// TestPatchesApartFollowRecords: the patch keys of a file are exactly those
// its block records list, through patches that replace patches, block
// rewrites, truncation and unlink; fsck finds a stray or missing patch, and
// repairs the stray one.
func TestPatchesApartFollowRecords(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "db", 0o644)
		bs := data.DefaultBlockSize
		model := make([]byte, 3*bs)
		_, _ = rand.Read(model)
		_, err := f.Write(ctx, root, a.Ino, 0, model)
		require.NoError(t, err)
		rnd := newRand(3)
		for i := range 300 {
			p := make([]byte, 1+rnd.Intn(8192))
			_, _ = rand.Read(p)
			off := rnd.Intn(len(model) - len(p))
			_, err := f.Write(ctx, root, a.Ino, uint64(off), p)
			require.NoError(t, err)
			copy(model[off:], p)
			if i%60 == 59 {
				keys, listed := patchKeys(t, e.meta, f.Vol())
				require.NotEmpty(t, keys)
				require.Equal(t, listed, keys)
			}
		}
		require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
		requireClean(t, e)

		// fsck: a stray patch key, and a listed one deleted.
		keys, _ := patchKeys(t, e.meta, f.Vol())
		var gone [3]uint64
		for k := range keys {
			gone = k
			break
		}
		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error {
			if err := tx.Set(meta.PatchKey(f.Vol(), a.Ino, 1, 12345), []byte("stray")); err != nil {
				return err
			}
			return tx.Delete(meta.PatchKey(f.Vol(), gone[0], gone[1], gone[2]))
		}))
		rep, err := e.svc.Check(ctx, fs.CheckOptions{})
		require.NoError(t, err)
		kinds := map[string]int{}
		for _, p := range rep.Problems {
			kinds[p.Kind]++
		}
		require.Equal(t, map[string]int{"stray-patch": 1, "missing-patch": 1, "unreadable-block": 1}, kinds, "%v", rep.Problems)
		rep, err = e.svc.Check(ctx, fs.CheckOptions{Repair: true})
		require.NoError(t, err)
		require.Equal(t, 1, rep.Repaired)
		keys, listed := patchKeys(t, e.meta, f.Vol())
		require.Len(t, keys, len(listed)-1, "the stray key is gone, the missing one still missing")

		// Put back the block whole: its record no longer lists patches.
		_, err = f.Write(ctx, root, a.Ino, uint64(gone[1])*uint64(bs), model[gone[1]*uint64(bs):(gone[1]+1)*uint64(bs)])
		require.NoError(t, err)
		requireClean(t, e)

		// Truncation into the first block, then unlink: no patch is left.
		size := uint64(1000)
		_, err = f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &size})
		require.NoError(t, err)
		keys, listed = patchKeys(t, e.meta, f.Vol())
		require.Equal(t, listed, keys)
		require.True(t, bytes.Equal(model[:size], readAll(t, f, root, a.Ino)))
		requireClean(t, e)
		_, err = f.Write(ctx, root, a.Ino, 0, model[:2*bs])
		require.NoError(t, err)
		for range 20 {
			off := rnd.Intn(2*bs - 100)
			_, err := f.Write(ctx, root, a.Ino, uint64(off), model[off:off+100])
			require.NoError(t, err)
		}
		keys, _ = patchKeys(t, e.meta, f.Vol())
		require.NotEmpty(t, keys)
		require.NoError(t, f.Remove(ctx, root, fs.RootIno, "db"))
		require.NoError(t, e.svc.Collect(ctx, true))
		keys, listed = patchKeys(t, e.meta, f.Vol())
		require.Empty(t, keys)
		require.Empty(t, listed)
		requireClean(t, e)
	})
}

// TestPatchesInRecordsStillRead: a block record that holds its patches'
// bytes (record version 2, before patches were kept apart) reads as before,
// and the next patch moves its patches apart.
func TestPatchesInRecordsStillRead(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "old", 0o644)
		model := make([]byte, data.DefaultBlockSize)
		_, _ = rand.Read(model)
		_, err := f.Write(ctx, root, a.Ino, 0, model)
		require.NoError(t, err)
		_, err = f.Write(ctx, root, a.Ino, 100, []byte("first patch"))
		require.NoError(t, err)
		copy(model[100:], "first patch")

		// Rewrite the record as a version 2 one, its patch inside.
		vol, bk := f.Vol(), meta.BlockKey(f.Vol(), a.Ino, 0)
		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error {
			v, err := tx.Get(bk)
			if err != nil {
				return err
			}
			rec, err := data.DecodeRecord(v)
			if err != nil {
				return err
			}
			require.True(t, rec.Apart)
			require.Len(t, rec.Patches, 1)
			pk := meta.PatchKey(vol, a.Ino, 0, rec.Patches[0].ID)
			if rec.Patches[0].Stored, err = tx.Get(pk); err != nil {
				return err
			}
			rec.Apart = false
			if err := tx.Delete(pk); err != nil {
				return err
			}
			return tx.Set(bk, rec.Encode())
		}))
		keys, listed := patchKeys(t, e.meta, vol)
		require.Empty(t, keys)
		require.Empty(t, listed)
		_, f2 := e.restart(t, f.ID(), fs.Options{}) // nothing cached
		require.True(t, bytes.Equal(model, readAll(t, f2, root, a.Ino)))
		requireClean(t, e)

		_, err = f2.Write(ctx, root, a.Ino, 5000, []byte("second patch"))
		require.NoError(t, err)
		copy(model[5000:], "second patch")
		keys, listed = patchKeys(t, e.meta, vol)
		require.Len(t, keys, 2, "both patches are now apart")
		require.Equal(t, listed, keys)
		require.True(t, bytes.Equal(model, readAll(t, f2, root, a.Ino)))
		requireClean(t, e)
	})
}
