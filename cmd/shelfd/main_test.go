package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/kms"
)

func noEnv(string) (string, bool) { return "", false }

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	unknownKey := filepath.Join(dir, "unknown.yaml")
	require.NoError(t, os.WriteFile(unknownKey, []byte("data_dir: x\nbogus: 1\n"), 0o600))
	invalid := filepath.Join(dir, "invalid.yaml")
	require.NoError(t, os.WriteFile(invalid, []byte("region: Mars\nnfs: {port: 0}\n"), 0o600))

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown key", []string{"--config", unknownKey}, []string{"bogus"}},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, []string{"no such file"}},
		{"every problem on one line", []string{"--config", invalid}, []string{"region", "; ", "nfs.port"}},
		{"bad log level flag", []string{"--log-level", "chatty", "--data-dir", filepath.Join(dir, "d")}, []string{"log.level"}},
		{"unknown flag", []string{"--frobnicate"}, []string{"frobnicate"}},
		{"stray argument", []string{"serve"}, []string{`unexpected argument "serve"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tt.args, io.Discard, &stderr, noEnv)
			require.Equal(t, exitUsage, code, stderr.String())
			last := lastLine(stderr.String())
			require.True(t, strings.HasPrefix(last, "shelfd: "), last)
			for _, w := range tt.want {
				require.Contains(t, last, w)
			}
		})
	}
	require.NoDirExists(t, filepath.Join(dir, "d"))
}

func TestRunHelpAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"--help"}, &stdout, &stderr, noEnv))
	require.Contains(t, stderr.String(), "-data-dir")
	require.Empty(t, stdout.String())
	stderr.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"--version"}, &stdout, &stderr, noEnv))
	require.Equal(t, "shelfd dev\n", stdout.String())
}

func TestLoadConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shelf.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: /from/file\nroot_key_file: /from/file.key\nlog: {level: warn}\n"), 0o600))
	env := func(k string) (string, bool) {
		if k == "SHELF_ROOT_KEY_FILE" {
			return "/from/env.key", true
		}
		return "", false
	}
	cfg, err := loadConfig([]string{"--config", path, "--data-dir", "/from/flag", "--log-level", "debug"}, io.Discard, io.Discard, env)
	require.NoError(t, err)
	require.Equal(t, "/from/flag", cfg.DataDir)
	require.Equal(t, "/from/env.key", cfg.RootKeyPath())
	require.Equal(t, "debug", cfg.Log.Level)

	cfg, err = loadConfig(nil, io.Discard, io.Discard, noEnv)
	require.NoError(t, err)
	require.Equal(t, "./shelf-data", cfg.DataDir)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// shelfdBinary builds shelfd once per test run.
func shelfdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shelfd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "shelfd")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	require.NoError(t, buildErr, "go build")
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// writeConfig writes a configuration for a temporary data directory with
// JSON logs and the health endpoint and the API on free loopback ports.
func writeConfig(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shelf.yaml")
	cfg := "data_dir: " + dataDir + "\n" +
		"log: {format: json, level: info}\n" +
		"health: {listen: \"127.0.0.1:0\"}\n" +
		"api: {listen: \"127.0.0.1:0\"}\n" +
		"storage: {min_free_bytes: 0}\n"
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// logLine is the part of a JSON log record the tests look at.
type logLine struct {
	Msg  string `json:"msg"`
	Addr string `json:"addr"`
}

func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	bin := shelfdBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "--config", writeConfig(t, dataDir))
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Read the log: the health endpoint announces its address.
	addrc := make(chan string, 1)
	var logMu sync.Mutex
	var logged []string
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logged = append(logged, sc.Text())
			logMu.Unlock()
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "health endpoint listening" {
				addrc <- l.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(60 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("shelfd did not announce its health endpoint; log:\n%s", strings.Join(logged, "\n"))
	}

	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, err = http.Get("http://" + addr + "/healthz")
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(body))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	<-scanDone
	require.NoError(t, cmd.Wait(), "clean exit")
	require.Equal(t, 0, cmd.ProcessState.ExitCode())

	logMu.Lock()
	all := strings.Join(logged, "\n")
	logMu.Unlock()
	require.Contains(t, all, `"msg":"shelfd stopped"`)
	require.Contains(t, all, dataDir, "the data directory is logged")
	require.FileExists(t, filepath.Join(dataDir, "root.key"))
}

func TestBinaryRootKeyErrors(t *testing.T) {
	bin := shelfdBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := writeConfig(t, dataDir)

	// A first start creates the store; an interrupt stops it.
	cmd := exec.Command(bin, "--config", cfg)
	first := &lockedBuffer{}
	cmd.Stderr = first
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		return strings.Contains(first.String(), `"msg":"serving"`)
	}, 60*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), first.String())

	var out bytes.Buffer

	require.NoError(t, os.Remove(filepath.Join(dataDir, "root.key")))
	cmd = exec.Command(bin, "--config", cfg)
	cmd.Stderr = &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, exitFailed, exitErr.ExitCode())
	last := lastLine(out.String())
	require.True(t, strings.HasPrefix(last, "shelfd: "), last)
	require.Contains(t, last, "root key file")
	require.Contains(t, last, "does not exist")
	require.NoFileExists(t, filepath.Join(dataDir, "root.key"))

	// Another root key is refused.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	_, err = kms.LoadRootKey(otherKey, true)
	require.NoError(t, err)
	cmd = exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "SHELF_ROOT_KEY_FILE="+otherKey)
	out.Reset()
	cmd.Stderr = &out
	require.ErrorAs(t, cmd.Run(), &exitErr)
	require.Equal(t, exitFailed, exitErr.ExitCode())
	last = lastLine(out.String())
	require.True(t, strings.HasPrefix(last, "shelfd: "), last)
	require.Contains(t, last, "is not the key of the store")

	// A configuration error is reported before anything is opened.
	cmd = exec.Command(bin, "--data-dir", dataDir, "--log-level", "loud")
	out.Reset()
	cmd.Stderr = &out
	require.ErrorAs(t, cmd.Run(), &exitErr)
	require.Equal(t, exitUsage, exitErr.ExitCode())
	require.Equal(t, 1, strings.Count(out.String(), "\n"), out.String())
	require.Contains(t, out.String(), "log.level")
}

// lockedBuffer is a bytes.Buffer that exec may write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
