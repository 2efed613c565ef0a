package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

// stoppedServer makes a data directory with a file system and a trail,
// and stops the server again.
func stoppedServer(t *testing.T) string {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	port, err := freeLoopbackPort()
	require.NoError(t, err)
	cfg.NFS.Port = port
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	tg, err := connect(ctx, cfg, srv.APIURL())
	require.NoError(t, err)
	ef := efs.NewFromConfig(tg.sdk, func(o *efs.Options) { o.BaseEndpoint = aws.String(tg.endpoint) })
	_, err = ef.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("t1")})
	require.NoError(t, err)
	require.NoError(t, srv.Trail().DigestNow(ctx))
	stop()
	require.NoError(t, <-done)
	require.NoError(t, srv.Close())
	return dir
}

func shelf(t *testing.T, args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestTrailValidateOffline(t *testing.T) {
	dir := stoppedServer(t)
	start := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, out := shelf(t, "trail", "validate", "--data-dir", dir, "--start-time", start, "--end-time", end)
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `\n(\d+)/(\d+) digest files valid\n`, out)
	require.NotContains(t, out, "INVALID")

	// Delete a log file: reported, exit 1.
	var logs []string
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "trail"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/CloudTrail/") {
			logs = append(logs, p)
		}
		return err
	}))
	require.NotEmpty(t, logs)
	require.NoError(t, os.Remove(logs[0]))
	code, out = shelf(t, "trail", "validate", "--data-dir", dir, "--start-time", start, "--end-time", end)
	require.Equal(t, exitFailed, code, out)
	require.Contains(t, out, filepath.Base(logs[0]))
	require.Contains(t, out, "INVALID: not found")

	code, out = shelf(t, "trail", "validate", "--data-dir", dir)
	require.Equal(t, exitUsage, code, out)
	code, out = shelf(t, "trail", "validate", "--data-dir", dir, "--start-time", "yesterday")
	require.Equal(t, exitUsage, code, out)
}

func TestAuditReportAndVerify(t *testing.T) {
	dir := stoppedServer(t)
	out := filepath.Join(t.TempDir(), "report")
	code, msg := shelf(t, "audit", "report", "--framework", "pci-dss", "--out", out, "--data-dir", dir)
	require.Equal(t, exitOK, code, msg)

	b, err := os.ReadFile(filepath.Join(out, reportJSON))
	require.NoError(t, err)
	var rep Report
	require.NoError(t, json.Unmarshal(b, &rep))
	checks := map[string]string{}
	for _, c := range rep.Checks {
		checks[c.ID] = c.Status
	}
	require.Equal(t, "FAIL", checks["efs-encrypted"], "an unencrypted file system")
	require.Equal(t, "PASS", checks["trail-integrity"], "%+v", rep.Evidence.Trail)
	require.Equal(t, "PASS", checks["trail-logging"])
	// The Config and KMS APIs are served: their evidence is there.
	require.Contains(t, []string{"PASS", "FAIL"}, checks["config-rules"])
	require.Contains(t, []string{"PASS", "FAIL", "NOT_APPLICABLE"}, checks["kms-rotation"], "no customer keys: nothing to rotate")
	require.Len(t, rep.Evidence.FileSystems, 1)
	ids := map[string]bool{}
	for _, c := range rep.Controls {
		ids[c.ID] = true
	}
	require.True(t, ids["PCI DSS 3.5.1"])

	code, msg = shelf(t, "audit", "verify", out)
	require.Equal(t, exitOK, code, msg)

	// Pinned key: the manifest's own verifies, another does not.
	var m Manifest
	mb, err := os.ReadFile(filepath.Join(out, manifestName))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(mb, &m))
	pemFile := func(k ed25519.PublicKey) string {
		der, err := x509.MarshalPKIXPublicKey(k)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), "key.pem")
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
		return p
	}
	code, msg = shelf(t, "audit", "verify", "--public-key", pemFile(m.PublicKey), out)
	require.Equal(t, exitOK, code, msg)
	other, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	code, msg = shelf(t, "audit", "verify", "--public-key", pemFile(other), out)
	require.Equal(t, exitFailed, code, msg)

	copyReport := func() string {
		d := t.TempDir()
		require.NoError(t, os.CopyFS(d, os.DirFS(out)))
		return d
	}
	// Every byte of every file matters.
	for _, name := range []string{reportJSON, reportHTML, manifestName, signatureExt} {
		orig, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		for _, i := range []int{0, len(orig) / 2, len(orig) - 2} {
			d := copyReport()
			b := append([]byte(nil), orig...)
			b[i] ^= 0x01
			require.NoError(t, os.WriteFile(filepath.Join(d, name), b, 0o640))
			code, msg := shelf(t, "audit", "verify", d)
			require.Equal(t, exitFailed, code, "%s byte %d: %s", name, i, msg)
			require.Contains(t, msg, "INVALID")
		}
	}
	d := copyReport()
	require.NoError(t, os.WriteFile(filepath.Join(d, "extra.txt"), []byte("x"), 0o640))
	code, msg = shelf(t, "audit", "verify", d)
	require.Equal(t, exitFailed, code)
	require.Contains(t, msg, "extra.txt: added")
	d = copyReport()
	require.NoError(t, os.Remove(filepath.Join(d, reportHTML)))
	code, msg = shelf(t, "audit", "verify", d)
	require.Equal(t, exitFailed, code)
	require.Contains(t, msg, "report.html: missing")
}
