package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	shelffs "github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
)

// testConfig is the default configuration over a fresh temporary data
// directory, with the health endpoint and the API on free loopback ports
// and no free-space reserve (the test machine's disk is not ours to judge).
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	return cfg
}

func newServer(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	s, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// treeState maps every path under dir to its mode, size, modification time
// and content hash.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String() + " " + info.ModTime().Format(time.RFC3339Nano)
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d %x", len(b), sha256.Sum256(b))
		}
		state[path] = desc
		return nil
	})
	require.NoError(t, err)
	return state
}

func TestNewFreshDataDir(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)

	st, err := os.Stat(cfg.DataDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	st, err = os.Stat(filepath.Join(cfg.DataDir, "root.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, sub := range []string{"meta", "blobs"} {
		st, err := os.Stat(filepath.Join(cfg.DataDir, sub))
		require.NoError(t, err, sub)
		require.True(t, st.IsDir(), sub)
	}
	require.Len(t, s.Account(), 12)
	require.NotNil(t, s.FS())
	require.NotNil(t, s.KMS())
	require.NotNil(t, s.Meta())
	require.NotNil(t, s.Blobs())
	require.NotNil(t, s.HealthAddr())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
}

// populate creates an encrypted file system with a file in it, so that a
// reopened server can prove it still reads the store.
func populate(t *testing.T, s *Server) {
	t.Helper()
	ctx := context.Background()
	key, err := s.KMS().ManagedKey(ctx)
	require.NoError(t, err)
	f, err := s.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", shelffs.CreateOptions{Encrypted: true, KMSKeyID: key.KeyID})
	require.NoError(t, err)
	_ = f
}

func requirePopulated(t *testing.T, s *Server) {
	t.Helper()
	ids, err := s.FS().FileSystems(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"fs-0123456789abcdef0"}, ids)
}

func TestReopen(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	account := s.Account()
	populate(t, s)
	require.NoError(t, s.Close())

	s = newServer(t, cfg)
	require.Equal(t, account, s.Account(), "the generated account is recorded in the store")
	requirePopulated(t, s)
	require.NoError(t, s.Close())
}

func TestConfiguredAccount(t *testing.T) {
	cfg := testConfig(t)
	cfg.Account = "123456789012"
	s := newServer(t, cfg)
	require.Equal(t, "123456789012", s.Account())
	require.NoError(t, s.Close())

	// Unconfigured: the recorded account is used.
	cfg.Account = ""
	s = newServer(t, cfg)
	require.Equal(t, "123456789012", s.Account())
	require.NoError(t, s.Close())

	// Another account is refused: KMS key material is bound to the account.
	cfg.Account = "210987654321"
	_, err := New(context.Background(), cfg, nil)
	require.ErrorIs(t, err, ErrAccountMismatch)
	require.ErrorContains(t, err, "123456789012")
}

func TestMissingRootKeyForExistingStore(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	populate(t, s)
	require.NoError(t, s.Close())

	keyPath := filepath.Join(cfg.DataDir, "root.key")
	require.NoError(t, os.Rename(keyPath, keyPath+".bak"))
	before := treeState(t, cfg.DataDir)

	_, err := New(context.Background(), cfg, nil)
	require.ErrorIs(t, err, ErrNoRootKey)
	require.ErrorContains(t, err, keyPath)
	require.ErrorContains(t, err, "does not exist")
	require.Equal(t, before, treeState(t, cfg.DataDir), "nothing in the data directory changed")
	require.NoFileExists(t, keyPath)

	require.NoError(t, os.Rename(keyPath+".bak", keyPath))
	s = newServer(t, cfg)
	requirePopulated(t, s)
}

func TestWrongRootKey(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	populate(t, s)
	require.NoError(t, s.Close())

	// Another valid key file, given through root_key_file.
	other := filepath.Join(t.TempDir(), "other.key")
	_, err := kms.LoadRootKey(other, true)
	require.NoError(t, err)
	wrong := cfg
	wrong.RootKeyFile = other
	_, err = New(context.Background(), wrong, nil)
	require.ErrorIs(t, err, kms.ErrWrongRootKey)
	require.ErrorContains(t, err, other)

	// The store is intact and still opens with its own key.
	s = newServer(t, cfg)
	requirePopulated(t, s)
}

func TestRootKeyFileElsewhere(t *testing.T) {
	cfg := testConfig(t)
	cfg.RootKeyFile = filepath.Join(t.TempDir(), "secrets", "root.key")
	require.NoError(t, os.MkdirAll(filepath.Dir(cfg.RootKeyFile), 0o700))
	s := newServer(t, cfg)
	require.NoError(t, s.Close())
	require.FileExists(t, cfg.RootKeyFile)
	require.NoFileExists(t, filepath.Join(cfg.DataDir, "root.key"))
}

func TestInvalidConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.Region = "Nowhere"
	cfg.NFS.Port = 0
	_, err := New(context.Background(), cfg, nil)
	require.ErrorContains(t, err, "region")
	require.ErrorContains(t, err, "nfs.port")
	require.NoDirExists(t, cfg.DataDir)
}

func TestDataDirIsAFile(t *testing.T) {
	cfg := testConfig(t)
	require.NoError(t, os.WriteFile(cfg.DataDir, nil, 0o600))
	_, err := New(context.Background(), cfg, nil)
	require.ErrorContains(t, err, "not a directory")
}

func TestHealthAddressInUse(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	other := testConfig(t)
	other.Health.Listen = s.HealthAddr().String()
	_, err := New(context.Background(), other, nil)
	require.ErrorContains(t, err, "health endpoint")
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body healthStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body.Status
}

func TestRunServesHealthAndStops(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	base := "http://" + s.HealthAddr().String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	code, status := getStatus(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", status)
	code, status = getStatus(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready", status)

	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Get(base + "/nope")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "the listener is closed")
	require.NoError(t, s.Close())
	require.ErrorContains(t, s.Run(context.Background()), "twice")
}

func TestReadyzStates(t *testing.T) {
	s := newServer(t, testConfig(t))
	h := s.health
	probe := func() (int, string) {
		rec := httptest.NewRecorder()
		h.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body healthStatus
		require.NoError(t, json.NewDecoder(rec.Body).Decode(&body))
		return rec.Code, body.Status
	}
	code, status := probe()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "starting", status)

	s.ran.Store(true)
	s.running.Store(true)
	code, status = probe()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready", status)

	s.running.Store(false)
	code, status = probe()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "stopping", status)

	// A closed metadata store makes the server unavailable.
	s.running.Store(true)
	require.NoError(t, s.meta.Close())
	code, status = probe()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", status)
	s.running.Store(false)
}

func TestHealthDisabled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Health.Listen = ""
	s := newServer(t, cfg)
	require.Nil(t, s.HealthAddr())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, s.Run(ctx))
}

// failing is a component that fails at once.
type failing struct{ closed bool }

func (*failing) Name() string              { return "failing" }
func (*failing) Run(context.Context) error { return io.ErrUnexpectedEOF }
func (f *failing) Close() error            { f.closed = true; return nil }

func TestRunStopsWhenAComponentFails(t *testing.T) {
	s := newServer(t, testConfig(t))
	f := &failing{}
	s.components = append(s.components, f)
	err := s.Run(context.Background())
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.ErrorContains(t, err, "failing")
	require.NoError(t, s.Close())
	require.True(t, f.closed)
}

func TestOpenOffline(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()

	// Nothing is created for a missing or empty data directory.
	_, err := OpenOffline(ctx, cfg, nil)
	require.ErrorContains(t, err, "data directory")
	require.NoDirExists(t, cfg.DataDir)
	require.NoError(t, os.Mkdir(cfg.DataDir, 0o700))
	_, err = OpenOffline(ctx, cfg, nil)
	require.ErrorContains(t, err, "holds no store")
	entries, err := os.ReadDir(cfg.DataDir)
	require.NoError(t, err)
	require.Empty(t, entries)

	s := newServer(t, cfg)
	account := s.Account()
	populate(t, s)
	require.NoError(t, s.Close())

	off, err := OpenOffline(ctx, cfg, nil)
	require.NoError(t, err)
	require.Nil(t, off.HealthAddr(), "offline opens no listener")
	require.Equal(t, account, off.Account())
	requirePopulated(t, off)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, off.Run(cctx))
	require.NoError(t, off.Close())

	keyPath := filepath.Join(cfg.DataDir, "root.key")
	require.NoError(t, os.Rename(keyPath, keyPath+".bak"))
	before := treeState(t, cfg.DataDir)
	_, err = OpenOffline(ctx, cfg, nil)
	require.ErrorIs(t, err, ErrNoRootKey)
	require.Equal(t, before, treeState(t, cfg.DataDir))
}

func TestReserveRefusesGrowth(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := newServer(t, cfg)
	f, err := s.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", shelffs.CreateOptions{})
	require.NoError(t, err)
	_, _, err = f.Create(ctx, &shelffs.Root, shelffs.RootIno, "before", 0o644, shelffs.Guarded, [8]byte{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A reserve larger than any disk: growth fails with NoSpace, removal works.
	cfg.Storage.MinFreeBytes = 1 << 62
	s = newServer(t, cfg)
	f, err = s.FS().FileSystem(ctx, "fs-0123456789abcdef0")
	require.NoError(t, err)
	_, _, err = f.Create(ctx, &shelffs.Root, shelffs.RootIno, "after", 0o644, shelffs.Guarded, [8]byte{})
	require.True(t, shelffs.IsCode(err, shelffs.NoSpace), "got %v", err)
	require.NoError(t, f.Unlink(ctx, &shelffs.Root, shelffs.RootIno, "before"))
}
