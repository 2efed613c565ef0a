package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

func TestFsck(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	f, err := srv.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", fs.CreateOptions{})
	require.NoError(t, err)
	a, _, err := f.Create(ctx, &fs.Root, fs.RootIno, "a", 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &fs.Root, a.Ino, 0, bytes.Repeat([]byte("x"), 100_000))
	require.NoError(t, err)
	// An object no record names, as a crash between a block write and its
	// commit leaves.
	require.NoError(t, srv.Blobs().Put(ctx, "v0000000000000001/0000000000000002/0000000000000000-00", []byte("lost")))

	fsck := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"fsck", "--data-dir", dir}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	// While shelfd runs, the store is locked: fsck refuses.
	code, _, stderr := fsck()
	require.Equal(t, exitUsage, code, stderr)
	require.NoError(t, srv.Close())

	code, stdout, stderr := fsck()
	require.Equal(t, exitFailed, code, stderr)
	require.Contains(t, stdout, "leaked-object: v0000000000000001/0000000000000002/0000000000000000-00 (repairable)")
	require.Contains(t, stdout, "1 file systems, 2 inodes")

	code, stdout, stderr = fsck("--repair")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "1 problems, 1 repaired")

	code, stdout, stderr = fsck("--json")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, `"Inodes": 2`)
	require.NotContains(t, stdout, "leaked")

	code, _, stderr = fsck("--data-dir", filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "data directory")
}
