package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

func TestCA(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	ca := func() (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"ca", "--data-dir", dir}, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, _, stderr := ca()
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "shelfd writes it")

	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Close())

	code, stdout, stderr := ca()
	require.Equal(t, exitOK, code, stderr)
	block, _ := pem.Decode([]byte(stdout))
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	require.True(t, cert.IsCA)

	require.NoError(t, os.WriteFile(filepath.Join(dir, server.CAFileName), []byte("not a certificate"), 0o644))
	code, _, _ = ca()
	require.Equal(t, exitFailed, code)
}
