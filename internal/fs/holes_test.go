package fs_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
)

// TestHolesModel runs writes (stable and unstable), truncations, ALLOCATE
// and DEALLOCATE against a byte model of the file, and checks reads, the
// size, what Seek reports and the space accounting (fsck) along the way.
func TestHolesModel(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "h", 0o644)
		bs := data.DefaultBlockSize
		const span = 6 * data.DefaultBlockSize
		var model []byte
		rnd := newRand(11)
		grow := func(end int) {
			if end > len(model) {
				model = append(model, make([]byte, end-len(model))...)
			}
		}
		for step := 0; step < 150; step++ {
			switch op := rnd.Intn(10); {
			case op < 3:
				off, n := rnd.Intn(span), 1+rnd.Intn(bs)
				p := make([]byte, n)
				_, _ = rand.Read(p)
				var err error
				if op == 0 {
					_, err = f.WriteUnstable(ctx, root, a.Ino, uint64(off), p)
				} else {
					_, err = f.Write(ctx, root, a.Ino, uint64(off), p)
				}
				require.NoError(t, err)
				grow(off + n)
				copy(model[off:], p)
			case op < 6:
				off, n := rnd.Intn(span), 1+rnd.Intn(3*bs)
				got, err := f.Deallocate(ctx, root, a.Ino, uint64(off), uint64(n))
				require.NoError(t, err)
				if off < len(model) {
					clear(model[off:min(off+n, len(model))])
				}
				require.EqualValues(t, len(model), got.Size, "step %d: DEALLOCATE keeps the size", step)
			case op < 7:
				off, n := rnd.Intn(span), 1+rnd.Intn(bs)
				got, err := f.Allocate(ctx, root, a.Ino, uint64(off), uint64(n))
				require.NoError(t, err)
				grow(off + n)
				require.EqualValues(t, len(model), got.Size)
			case op < 8:
				size := rnd.Intn(span)
				sz := uint64(size)
				_, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz})
				require.NoError(t, err)
				if size < len(model) {
					model = model[:size]
				} else {
					grow(size)
				}
			default:
				checkSeek(t, f, a.Ino, model, uint64(rnd.Intn(span)))
			}
		}
		require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
		got, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.EqualValues(t, len(model), got.Size)
		for off := 0; off < span; off += bs / 3 {
			checkSeek(t, f, a.Ino, model, uint64(off))
		}
		require.NoError(t, e.svc.Collect(ctx, true))
		requireClean(t, e)
	})
}

// checkSeek checks Seek from off against the model: data is never found
// inside zeros it skipped, a hole reads as zeros, and both stay in the file.
func checkSeek(t *testing.T, f *fs.FileSystem, ino uint64, model []byte, off uint64) {
	t.Helper()
	size := uint64(len(model))
	bs := uint64(data.DefaultBlockSize)
	d, deof, derr := f.Seek(ctx, root, ino, off, true)
	h, heof, herr := f.Seek(ctx, root, ino, off, false)
	if off >= size {
		require.Equal(t, fs.NoSuchOffset, fs.CodeOf(derr))
		require.Equal(t, fs.NoSuchOffset, fs.CodeOf(herr))
		return
	}
	require.NoError(t, herr)
	require.True(t, h >= off && h <= size, "hole %d from %d, size %d", h, off, size)
	require.Equal(t, h == size, heof)
	if h < size {
		end := min(size, (h/bs+1)*bs)
		require.Equal(t, make([]byte, end-h), model[h:end], "a hole at %d reads as zeros", h)
	}
	if derr != nil {
		require.Equal(t, fs.NoSuchOffset, fs.CodeOf(derr))
		require.Equal(t, make([]byte, size-off), model[off:], "no data after %d, yet not zeros", off)
		return
	}
	require.True(t, d >= off && d < size, "data %d from %d, size %d", d, off, size)
	require.False(t, deof)
	require.Equal(t, make([]byte, d-off), model[off:d], "data skipped between %d and %d", off, d)
	require.True(t, d == off || h == off, "from %d: either data or a hole starts here", off)
}
