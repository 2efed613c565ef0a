// Package servertest runs an in-process shelfd (internal/server) for tests
// that drive it through its API listener with the AWS SDKs or the AWS CLI.
//
// servertest imports server and config; only tests import it.
package servertest

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

// awsEnv are the variables through which the SDKs and the CLI would take
// credentials, a profile or an endpoint other than the test's.
var awsEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_CLOUDTRAIL", "AWS_ENDPOINT_URL_EFS",
	"AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_CONFIG_SERVICE",
}

// ClearAWSEnv empties awsEnv for the duration of the test.
func ClearAWSEnv(t testing.TB) {
	t.Helper()
	for _, k := range awsEnv {
		t.Setenv(k, "")
	}
}

// Config is the default config with the data directory dataDir, no health
// listener, the API on a free loopback port, a free NFS port and no
// free-space floor.
func Config(t testing.TB, dataDir string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.NFS.Port = FreePort(t)
	cfg.Storage.MinFreeBytes = 0
	return cfg
}

// FreePort returns a loopback TCP port that is free now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Server is a running shelfd.
type Server struct {
	*server.Server
	stop func()
}

// Start opens a server on cfg and runs it until Stop, or the end of the
// test.
func Start(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	s, err := server.New(context.Background(), cfg, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	srv := &Server{Server: s, stop: sync.OnceFunc(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, s.Close())
	})}
	t.Cleanup(srv.Stop)
	return srv
}

// StartDefault starts a server on Config with a data directory of its own.
func StartDefault(t testing.TB) *Server {
	t.Helper()
	return Start(t, Config(t, filepath.Join(t.TempDir(), "data")))
}

// Stop stops the server (delivering what shutdown delivers, such as the
// final trail digest) and closes its store; it requires that it stopped
// cleanly. Later calls do nothing.
func (s *Server) Stop() { s.stop() }
