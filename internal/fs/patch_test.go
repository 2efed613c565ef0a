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
