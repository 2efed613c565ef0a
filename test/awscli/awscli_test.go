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
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

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

	work := t.TempDir()
	cfgPath, dataDir := writeConfig(t, work, "127.0.0.1:0", "")
	p := startShelfd(t, buildCmd(t, work, "shelfd"), cfgPath)
	require.True(t, strings.HasPrefix(p.endpoint, "http://127.0.0.1:"), "api_url %q", p.endpoint)
	require.Equal(t, filepath.Join(dataDir, "root-credentials"), p.creds)
	require.Contains(t, p.logs.String(), "AWS_SHARED_CREDENTIALS_FILE="+p.creds, "shelfd says how to use the credentials")

	runScript(t, "awscli.sh", p.endpoint, cliEnv(t, work, p.creds), p.logs.String)

	p.stop(t)
	// The secret access keys never reach the log.
	secret := secretOf(t, p.creds)
	require.NotContains(t, p.logs.String(), secret)

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
