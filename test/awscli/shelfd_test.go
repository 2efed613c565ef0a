package awscli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/server/servertest"
)

// buildCmd builds ./cmd/<name> into dir and returns the binary's path.
func buildCmd(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	b := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	b.Dir = repoRoot(t)
	out, err := b.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/%s: %s", name, out)
	return bin
}

// writeConfig writes the shelfd config of a test into work: a data
// directory in work, JSON logs, no health listener, the API on apiListen,
// a free NFS port, no free-space floor, then extra (more YAML).
func writeConfig(t *testing.T, work, apiListen, extra string) (cfgPath, dataDir string) {
	t.Helper()
	dataDir = filepath.Join(work, "data")
	cfgPath = filepath.Join(work, "shelf.yaml")
	cfg := "data_dir: " + dataDir + "\n" +
		"log: {format: json, level: info}\n" +
		"health: {listen: \"\"}\n" +
		"api: {listen: \"" + apiListen + "\"}\n" +
		"nfs: {port: " + strconv.Itoa(servertest.FreePort(t)) + "}\n" +
		"storage: {min_free_bytes: 0}\n" + extra
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	return cfgPath, dataDir
}

// shelfdProc is a running shelfd binary.
type shelfdProc struct {
	cmd     *exec.Cmd
	logs    *lockedBuffer
	scanned chan struct{}
	stopped bool
	// endpoint and creds are the api_url and root_credentials of its
	// "shelfd ready" log line.
	endpoint, creds string
}

// startShelfd starts bin with cfgPath and waits for it to be ready; it is
// stopped at the end of the test if the test has not stopped it.
func startShelfd(t *testing.T, bin, cfgPath string) *shelfdProc {
	t.Helper()
	p := &shelfdProc{cmd: exec.Command(bin, "--config", cfgPath), logs: &lockedBuffer{}, scanned: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	ready := make(chan map[string]any, 1)
	go func() {
		defer close(p.scanned)
		sc := bufio.NewScanner(io.TeeReader(stderr, p.logs))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "shelfd ready" {
				ready <- l
			}
		}
	}()
	select {
	case l := <-ready:
		p.endpoint, _ = l["api_url"].(string)
		p.creds, _ = l["root_credentials"].(string)
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.scanned
		_ = p.cmd.Wait()
		t.Fatalf("shelfd did not start:\n%s", p.logs.String())
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends shelfd with SIGTERM (it delivers the pending records and
// writes a final digest) and checks that it stopped cleanly. Stopping a
// stopped shelfd does nothing.
func (p *shelfdProc) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.scanned
	require.NoError(t, p.cmd.Wait(), "shelfd did not stop cleanly:\n%s", p.logs.String())
}

// cliEnv is the environment of the AWS CLI in a test: an empty home in
// work (no ~/.aws of the developer), the credentials file creds, no config
// file, us-east-1, no pager, no retries; then extra.
func cliEnv(t *testing.T, work, creds string, extra ...string) []string {
	t.Helper()
	home := filepath.Join(work, "home")
	require.NoError(t, os.MkdirAll(home, 0o700))
	return append([]string{
		"PATH=/usr/bin:/bin", "HOME=" + home,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1",
		"NO_PROXY=127.0.0.1,localhost", "LC_ALL=C.UTF-8",
	}, extra...)
}

// runScript runs the check script name (of this folder) with /usr/bin/aws
// against endpoint, with env, and requires that all its checks pass.
// shelfdLogs, if not nil, gives the log of shelfd to show on failure.
func runScript(t *testing.T, name, endpoint string, env []string, shelfdLogs func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	script := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "test", "awscli", name))
	script.Env = append(slices.Clone(env), "AWS="+awsCLI, "ENDPOINT="+endpoint)
	script.WaitDelay = 10 * time.Second
	var out lockedBuffer
	script.Stdout, script.Stderr = &out, &out
	err := script.Run()
	t.Logf("%s output:\n%s", name, out.String())
	if err != nil {
		logs := ""
		if shelfdLogs != nil {
			logs = "\nshelfd log tail:\n" + tail(shelfdLogs(), 40)
		}
		t.Fatalf("%s failed: %v%s", name, err, logs)
	}
	require.Contains(t, out.String(), "checks passed")
}
