// Package awscli tests shelfd with Debian's AWS CLI v2 (/usr/bin/aws,
// package awscli): TestAWSCLI builds shelfd, starts it on a temporary data
// directory and runs awscli.sh against it with the root credentials that
// shelfd wrote, as a user would.
//
// The CLI and jq are installed by scripts/ci-deps. On a developer machine
// without them the test skips, saying so; in CI (CI=true) it fails.
// Another, older `aws` may come first on PATH (a pip-installed v1): the
// test always runs /usr/bin/aws.
package awscli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

// awsCLI is Debian's AWS CLI v2.
const awsCLI = "/usr/bin/aws"

// need skips (developer machine) or fails (CI) when a tool is missing.
func need(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := what + " (" + path + ") is not installed: run scripts/ci-deps (it installs Debian's awscli and jq)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// freePort returns a loopback TCP port that is free now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAWSCLI(t *testing.T) {
	need(t, awsCLI, "the AWS CLI v2")
	need(t, "/usr/bin/jq", "jq")
	out, err := exec.Command(awsCLI, "--version").CombinedOutput()
	require.NoError(t, err, string(out))
	if !strings.HasPrefix(string(out), "aws-cli/2.") {
		t.Fatalf("%s is not the AWS CLI v2: %s", awsCLI, out)
	}

	root := repoRoot(t)
	work := t.TempDir()
	bin := filepath.Join(work, "shelfd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/shelfd")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/shelfd: %v\n%s", err, b)
	}

	dataDir := filepath.Join(work, "data")
	cfgPath := filepath.Join(work, "shelf.yaml")
	cfg := "data_dir: " + dataDir + "\n" +
		"log: {format: json, level: info}\n" +
		"health: {listen: \"\"}\n" +
		"api: {listen: \"127.0.0.1:0\"}\n" +
		"nfs: {port: " + strconv.Itoa(freePort(t)) + "}\n" +
		"storage: {min_free_bytes: 0}\n"
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	cmd := exec.Command(bin, "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	logs := &lockedBuffer{}
	ready := make(chan map[string]any, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(io.TeeReader(stderr, logs))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "shelfd ready" {
				ready <- l
			}
		}
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-scanned
		err := cmd.Wait()
		require.NoError(t, err, "shelfd did not stop cleanly:\n%s", logs.String())
	}
	t.Cleanup(stop)

	var line map[string]any
	select {
	case line = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("shelfd did not start:\n%s", logs.String())
	}
	endpoint, _ := line["api_url"].(string)
	creds, _ := line["root_credentials"].(string)
	require.True(t, strings.HasPrefix(endpoint, "http://127.0.0.1:"), "api_url %q", endpoint)
	require.Equal(t, filepath.Join(dataDir, "root-credentials"), creds)
	require.Contains(t, logs.String(), "AWS_SHARED_CREDENTIALS_FILE="+creds, "shelfd says how to use the credentials")

	home := filepath.Join(work, "home")
	require.NoError(t, os.MkdirAll(home, 0o700))
	script := exec.Command("bash", filepath.Join(root, "test", "awscli", "awscli.sh"))
	script.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home, // no ~/.aws of the developer
		"AWS=" + awsCLI,
		"ENDPOINT=" + endpoint,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"NO_PROXY=127.0.0.1,localhost",
		"LC_ALL=C.UTF-8",
	}
	var scriptOut lockedBuffer
	script.Stdout, script.Stderr = &scriptOut, &scriptOut
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	require.NoError(t, script.Start())
	go func() { done <- script.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = script.Process.Kill()
		err = <-done
	}
	t.Logf("awscli.sh output:\n%s", scriptOut.String())
	if err != nil {
		t.Fatalf("awscli.sh failed: %v\nshelfd log tail:\n%s", err, tail(logs.String(), 40))
	}
	require.Contains(t, scriptOut.String(), "checks passed")

	stop()
	// The secret access keys never reach the log.
	secret := secretOf(t, creds)
	require.NotContains(t, logs.String(), secret)

	checkAuditTrail(t, cfgPath, secret)
}

// checkAuditTrail opens the stopped store and checks the CloudTrail
// records of the script's calls.
func checkAuditTrail(t *testing.T, cfgPath, secret string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	srv, err := server.OpenOffline(ctx, cfg, nil)
	require.NoError(t, err)
	defer srv.Close()
	names := map[string]int{}
	var n uint64
	var badSig, denied bool
	require.NoError(t, audit.NewLog(srv.Meta()).Scan(ctx, 1, func(seq uint64, e *audit.Event) error {
		n++
		require.Equal(t, n, seq, "gap-free")
		require.NoError(t, e.Validate())
		require.Contains(t, e.UserAgent, "aws-cli/2.9.19")
		require.Equal(t, "127.0.0.1", e.SourceIPAddress)
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.NotContains(t, string(b), secret)
		names[e.EventSource+" "+e.EventName]++
		badSig = badSig || e.ErrorCode == "InvalidSignatureException" && e.UserIdentity.Type == audit.IdentityRoot
		denied = denied || e.ErrorCode == "AccessDeniedException" && e.UserIdentity.UserName == "cli-bob"
		return nil
	}))
	t.Logf("%d audit records", n)
	for _, want := range []string{
		"elasticfilesystem.amazonaws.com CreateFileSystem", "elasticfilesystem.amazonaws.com CreateMountTarget",
		"elasticfilesystem.amazonaws.com CreateAccessPoint", "elasticfilesystem.amazonaws.com PutFileSystemPolicy",
		"elasticfilesystem.amazonaws.com PutLifecycleConfiguration", "elasticfilesystem.amazonaws.com TagResource",
		"elasticfilesystem.amazonaws.com UntagResource", "elasticfilesystem.amazonaws.com DeleteFileSystem",
		"ec2.amazonaws.com DescribeSubnets", "ec2.amazonaws.com CreateSecurityGroup", "iam.amazonaws.com PutUserPolicy",
	} {
		require.Positive(t, names[want], "no record of %s", want)
	}
	require.True(t, badSig, "the call with a wrong secret is on record")
	require.True(t, denied, "the denied call is on record")
}

func secretOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "aws_secret_access_key = "); ok {
			return v
		}
	}
	t.Fatalf("no secret in %s", path)
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
