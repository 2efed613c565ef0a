package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

// TestBench runs shelf bench briefly against an in-process shelfd serving an
// encrypted file system on a static export, and checks that every row of
// the table has non-zero numbers.
func TestBench(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true, Encrypted: true}}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, s.Close())
	})
	addr := s.NFS().Addr("static:127.0.0.1:0")
	require.NotNil(t, addr)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"bench", "--server", addr.String(), "--conns", "2", "--workers", "4",
		"--duration", "300ms", "--size", "4MiB"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
	t.Log(stdout.String())

	want := []string{"seqwrite-1MiB", "seqread-1MiB", "randread-4KiB", "randwrite-4KiB", "create", "stat", "rename", "delete"}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2+len(want))
	for i, name := range want {
		f := strings.Fields(lines[2+i])
		require.Len(t, f, 5, lines[2+i])
		require.Equal(t, name, f[0])
		v, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err)
		require.Positive(t, v, name)
		for _, lat := range f[3:] {
			ms, err := strconv.ParseFloat(strings.TrimSuffix(lat, "ms"), 64)
			require.NoError(t, err)
			require.Positive(t, ms, name)
		}
	}
}
