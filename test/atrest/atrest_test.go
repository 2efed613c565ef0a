// Package atrest checks encryption at rest from the outside: it writes a
// known file name, symlink target and contents through the storage core,
// closes the store, and scans every byte under the data directory.
package atrest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

func secret(prefix string) []byte {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return []byte(prefix + hex.EncodeToString(b))
}

// store writes name/target/content into a new file system and returns the
// data directory after closing everything.
func store(t *testing.T, encrypted bool, name, target, content []byte) string {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	o := fs.CreateOptions{Encrypted: encrypted}
	if encrypted {
		key, err := srv.KMS().ManagedKey(ctx)
		require.NoError(t, err)
		o.KMSKeyID = key.ARN
	}
	f, err := srv.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", o)
	require.NoError(t, err)
	d, err := f.Mkdir(ctx, &fs.Root, fs.RootIno, string(name)+"-dir", 0o755)
	require.NoError(t, err)
	a, _, err := f.Create(ctx, &fs.Root, d.Ino, string(name), 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &fs.Root, a.Ino, 0, content)
	require.NoError(t, err)
	small, _, err := f.Create(ctx, &fs.Root, d.Ino, string(name)+"-small", 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &fs.Root, small.Ino, 0, content[:200]) // an inline block
	require.NoError(t, err)
	_, err = f.Symlink(ctx, &fs.Root, d.Ino, "link", string(target))
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	return cfg.DataDir
}

// found reports which needles occur in any file under dir.
func found(t *testing.T, dir string, needles map[string][]byte) map[string]bool {
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for k, n := range needles {
			if bytes.Contains(b, n) {
				out[k] = true
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestNothingReadableOnDisk(t *testing.T) {
	name, target := secret("name-"), secret("target-")
	content := bytes.Repeat(secret("content-"), 8000) // ~440 KiB: blob blocks
	needles := map[string][]byte{"name": name, "target": target, "content": content[:56], "inline": content[:56]}

	// The control: without encryption the same scan finds them, so the scan
	// itself works.
	plain := found(t, store(t, false, name, target, content), needles)
	require.True(t, plain["content"], "control: contents stored in the clear")
	require.True(t, plain["name"], "control: name stored in the clear")

	enc := found(t, store(t, true, name, target, content), needles)
	require.Empty(t, enc, "encrypted file system leaks plaintext on disk")
}
