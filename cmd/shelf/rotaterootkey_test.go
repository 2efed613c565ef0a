package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

func TestRotateRootKeyOnlineAndOffline(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.NFS.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()

	key, err := srv.KMS().ManagedKey(ctx)
	require.NoError(t, err)
	f, err := srv.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", fs.CreateOptions{Encrypted: true, KMSKeyID: key.ARN})
	require.NoError(t, err)
	a, _, err := f.Create(ctx, &fs.Root, fs.RootIno, "f", 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &fs.Root, a.Ino, 0, []byte("kept across rotations"))
	require.NoError(t, err)

	keyPath := cfg.RootKeyPath()
	before, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"rotate-root-key", "--data-dir", cfg.DataDir, "--endpoint-url", srv.APIURL()}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	after, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	require.NotEqual(t, before, after)
	got, _, err := f.Read(ctx, &fs.Root, a.Ino, 0, 100)
	require.NoError(t, err, "the running server keeps serving")
	require.Equal(t, "kept across rotations", string(got))
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, srv.Close())

	// Offline, then a restart with the file as it is now.
	code = run(ctx, []string{"rotate-root-key", "--data-dir", cfg.DataDir, "--offline"}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	third, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	require.NotEqual(t, after, third)
	srv, err = server.New(ctx, cfg, nil)
	require.NoError(t, err)
	defer srv.Close()
	f, err = srv.FS().FileSystem(ctx, "fs-0123456789abcdef0")
	require.NoError(t, err)
	got, _, err = f.Read(ctx, &fs.Root, a.Ino, 0, 100)
	require.NoError(t, err)
	require.Equal(t, "kept across rotations", string(got))

	// The old key file opens nothing.
	require.NoError(t, srv.Close())
	require.NoError(t, os.WriteFile(keyPath, before, 0o600))
	_, err = server.New(ctx, cfg, nil)
	require.Error(t, err)
}
