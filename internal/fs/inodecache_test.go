package fs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
)

// TestInodeCacheFollowsStoredRecord checks that inode reads answer what
// the stored record says, whatever was read before: after each change, and
// after the record is put back to an older version underneath the file
// system.
func TestInodeCacheFollowsStoredRecord(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "f", 0o644)
		key := meta.InodeKey(f.Vol(), a.Ino)
		raw := func() []byte {
			var v []byte
			require.NoError(t, e.meta.View(ctx, func(r meta.Reader) error {
				b, err := r.Get(key)
				v = append([]byte(nil), b...)
				return err
			}))
			return v
		}
		for i := range uint32(20) {
			mode, uid := 0o600+i, 1000+i
			_, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Mode: &mode, UID: &uid})
			require.NoError(t, err)
			got, err := f.GetAttr(ctx, a.Ino)
			require.NoError(t, err)
			require.Equal(t, mode, got.Mode&0o7777)
			require.Equal(t, uid, got.UID)
		}
		old := raw()
		mode := uint32(0o640)
		_, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Mode: &mode})
		require.NoError(t, err)
		got, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.Equal(t, mode, got.Mode&0o7777)

		// The older record, put back: its attributes, not the cached ones.
		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error { return tx.Set(key, old) }))
		got, err = f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.Equal(t, uint32(0o600+19), got.Mode&0o7777)
		require.Equal(t, uint32(1000+19), got.UID)

		// A record that does not open is an error, not a cache hit.
		bad := append([]byte(nil), old...)
		bad[len(bad)-1] ^= 1
		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error { return tx.Set(key, bad) }))
		_, err = f.GetAttr(ctx, a.Ino)
		if f.Encrypted() {
			requireCode(t, err, fs.IO)
		}

		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error { return tx.Set(key, old) }))
		require.NoError(t, f.Remove(ctx, root, fs.RootIno, "f"))
		_, err = f.GetAttr(ctx, a.Ino)
		requireCode(t, err, fs.Stale)
	})
}
