// Package server is the composition root of shelfd: it opens the data
// directory, the root key, the storage engines, the KMS, the data store and
// the file-system service, wires them together, and runs the long-lived
// components (the health endpoint, the HTTP edge serving the AWS-style APIs,
// the NFS mount-target listeners) until its context is cancelled.
//
// server is the ONLY package that imports storage engines
// (internal/meta/pebblemeta, internal/blob/diskblob, later sqlmeta and
// s3blob); everything else sees the meta.Store and blob.Store ports. The
// project-rules test (internal/projectrules) enforces this. server must not
// be imported by internal packages other than test helpers: it sits on top.
//
// # Data directory
//
//	<data-dir>/           mode 0700
//	    root.key          root key (unless root_key_file says otherwise), mode 0600
//	    meta/             metadata store (Pebble)
//	    blobs/            blob store (pack files)
//	    root-credentials  an access key of the account root, AWS credentials-file format, mode 0600
//	    tls/              the API's self-signed certificate (api.tls.self_signed only)
//	    trail/            the CloudTrail trail (internal/trail), unless trail.dir says otherwise
//
// A data directory whose meta/ or blobs/ is not empty holds a store. For a
// store, the root key file must exist: shelfd never creates a new root key
// for an existing store (the data would be unreadable), and it refuses a key
// that is not the store's (kms.ErrWrongRootKey). Both checks fail before the
// store is changed.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/iam/users"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/kmsroot"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/trail"
)

// Names inside the data directory.
const (
	metaDirName  = "meta"
	blobsDirName = "blobs"
)

// ErrNoRootKey is returned (wrapped) by New when the data directory holds a
// store but the root key file does not exist.
var ErrNoRootKey = errors.New("server: root key file missing for an existing store")

// ErrAccountMismatch is returned (wrapped) by New when the configured account
// is not the one recorded in the store.
var ErrAccountMismatch = errors.New("server: configured account does not match the store")

// Server is a running shelfd: the opened stores and services, and the
// components that serve them. Create it with New, call Run once, then Close.
type Server struct {
	cfg config.Config
	// rootKeyMu serializes root-key rotations.
	rootKeyMu sync.Mutex
	log       *slog.Logger
	dataDir   string // absolute
	account   string

	// rootKMS is the external KMS holding the root key (root_key.kms),
	// or nil when the root key is a file.
	rootKMS *kmsroot.Source

	meta  meta.Store
	blobs blob.Store
	kms   *kms.Manager
	data  *data.Store
	fs    *fs.Service
	space *spaceCheck

	health *healthEndpoint // nil when disabled
	nfs    *NFSFrontEnd    // nil offline
	nfsCA  *nfsCA          // nil offline or with nfs.tls.disabled
	// control, users and edge are the API front end (api.go); nil offline.
	control *control.Service
	users   *users.Store
	edge    *edge.Server
	trail   *trail.Trail // the CloudTrail trail (api.go); nil offline
	// components are run by Run, in order, and closed by Close in reverse
	// order. Front ends are added here by New (see addFrontEnds).
	components []component

	// closers release what New opened, in reverse order of opening.
	closers []func() error

	running  atomic.Bool // between the start of Run and the cancellation of its ctx
	ran      atomic.Bool
	closeErr error
	close    sync.Once
}

// New opens everything cfg describes and returns a Server that is ready to
// Run. A missing data directory is created, and a new store in it gets a new
// root key. cfg is validated first; every problem is reported. On error,
// whatever New had opened is closed again.
//
// New logs lifecycle events to log (nil discards them).
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	return open(ctx, cfg, log, false)
}

// OpenOffline opens the existing store of cfg.DataDir for offline tools
// (shelf fsck) while shelfd is stopped: the stores, the KMS and the
// file-system service, without its background garbage collector, without
// the free-space reserve, and without any component (the health endpoint
// and front ends are not bound; Run just waits for its context). It never
// creates anything: a data directory that does not exist or holds no store
// is an error. The root key and account checks are those of New.
func OpenOffline(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	cfg.Health.Listen = ""
	return open(ctx, cfg, log, true)
}

func open(ctx context.Context, cfg config.Config, log *slog.Logger, offline bool) (_ *Server, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			_ = s.closeAll()
		}
	}()

	var dir string
	var fresh bool
	if offline {
		dir, err = existingStore(cfg.DataDir)
	} else {
		dir, fresh, err = prepareDataDir(cfg.DataDir, log)
	}
	if err != nil {
		return nil, err
	}
	s.dataDir = dir
	keyPath := cfg.RootKeyPath()
	if !filepath.IsAbs(keyPath) {
		if keyPath, err = filepath.Abs(keyPath); err != nil {
			return nil, fmt.Errorf("server: root key file: %w", err)
		}
	}
	keySource := keyPath
	var rootKey []byte
	if cfg.RootKey.KMS.Enabled() {
		keySource = "the external KMS key " + cfg.RootKey.KMS.KeyID
		rootKey, err = s.loadKMSRootKey(ctx, dir, fresh)
	} else {
		rootKey, err = loadRootKey(keyPath, dir, fresh, log)
	}
	if err != nil {
		return nil, err
	}
	defer clear(rootKey)

	// The metadata store first: the root key and the account are checked
	// against it before anything is written, and before the blob store is
	// opened.
	m, err := openMeta(filepath.Join(dir, metaDirName), cfg.Storage, log)
	if err != nil {
		return nil, err
	}
	s.meta = m
	s.closers = append(s.closers, m.Close)

	recorded, err := recordedAccount(ctx, m)
	if err != nil {
		return nil, err
	}
	account := recorded
	switch {
	case recorded != "" && cfg.Account != "" && cfg.Account != recorded:
		return nil, fmt.Errorf("%w: the store in %s belongs to account %s, the configuration says %s (remove account from the configuration to use the recorded one)",
			ErrAccountMismatch, dir, recorded, cfg.Account)
	case recorded == "" && cfg.Account != "":
		account = cfg.Account
	case recorded == "":
		if account, err = newAccount(); err != nil {
			return nil, err
		}
	}

	k, err := kms.Open(ctx, m, rootKey, kms.Config{Account: account, Region: cfg.Region}, clock.System)
	if errors.Is(err, kms.ErrWrongRootKey) {
		return nil, fmt.Errorf("server: the root key from %s is not the key of the store in %s; nothing was changed (restore the right key file): %w", keySource, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("server: open kms: %w", err)
	}
	s.kms = k
	if recorded == "" && !offline {
		if err := recordAccount(ctx, m, account); err != nil {
			return nil, err
		}
		log.Info("account recorded in the store", "account", account)
	}
	s.account = account

	b, err := openBlobs(filepath.Join(dir, blobsDirName), log)
	if err != nil {
		return nil, err
	}
	s.blobs = b
	s.closers = append(s.closers, b.Close)

	s.data = data.New(b, data.Options{CacheBytes: dataCacheBytes(int64(cfg.Storage.DataCacheBytes))})
	fsOpts := fs.Options{Clock: clock.System, Logger: log.With("component", "fs"),
		WriteBackBytes: writeBackBytes(int64(cfg.Storage.WriteBackBytes))}
	if offline {
		fsOpts.NoBackground = true
	} else {
		s.space = newSpaceCheck(dir, int64(cfg.Storage.MinFreeBytes), clock.System, statfsFree, log)
		fsOpts.SpaceCheck = s.space.Check
	}
	s.fs = fs.New(m, s.data, k, fsOpts)
	s.closers = append(s.closers, s.fs.Close)

	if cfg.Health.Listen != "" {
		h, err := newHealthEndpoint(cfg.Health.Listen, s, log.With("component", "health"))
		if err != nil {
			return nil, err
		}
		s.health = h
		s.components = append(s.components, h)
	}
	if !offline {
		if err := s.addFrontEnds(ctx); err != nil {
			return nil, err
		}
	}

	log.Info("storage opened", "data_dir", dir, "account", account, "region", cfg.Region, "new_store", fresh)
	return s, nil
}

// addFrontEnds is where the front ends join the server, as components
// constructed from their config sub-structs over the services above:
//
//   - the HTTP edge on cfg.API.Listen (api.go): the EFS control-plane API
//     (internal/api over internal/control), the IAM query API
//     (internal/iam/users) and the EC2 network API (internal/ec2api);
//   - the NFS mount-target listeners (internal/nfs over internal/fs), one
//     per mount target address, on cfg.NFS.Port, plus the static exports
//     of cfg.NFS.Exports (nfs.go).
//
// Each binds its listeners in its constructor (so that New fails early on
// an address in use) and serves in Run. The API comes first: it opens the
// control plane, whose mount targets the NFS listeners follow.
func (s *Server) addFrontEnds(ctx context.Context) error {
	if err := s.addAPIFrontEnd(ctx); err != nil {
		return err
	}
	if err := s.addNFSFrontEnd(ctx); err != nil {
		return err
	}
	return s.followMountTargets(ctx)
}

// Run runs every component until ctx is cancelled or one of them fails, then
// stops them all (gracefully: each finishes the requests it has started) and
// waits for them. It returns nil after a cancellation, or the errors of the
// components that failed. Run may be called once; call Close afterwards.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("server: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	errs := make(chan error, len(s.components))
	var wg sync.WaitGroup
	s.running.Store(true)
	for _, c := range s.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				errs <- fmt.Errorf("server: %s: %w", c.Name(), err)
				cancel()
			}
		}()
	}
	s.log.Info("serving", "data_dir", s.dataDir)
	<-ctx.Done()
	s.running.Store(false)
	s.log.Info("shutting down")
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// Close closes every component and store, in the reverse order of opening.
// Call it after Run has returned (or instead of Run). It is idempotent and
// returns the errors of the first call.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.closeErr = s.closeAll()
		s.log.Info("storage closed", "data_dir", s.dataDir)
	})
	return s.closeErr
}

func (s *Server) closeAll() error {
	var errs []error
	for i := len(s.components) - 1; i >= 0; i-- {
		if err := s.components[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: close %s: %w", s.components[i].Name(), err))
		}
	}
	s.components = nil
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, fmt.Errorf("server: close: %w", err))
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// DataDir is the absolute path of the data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Account is the account ID that owns this server's resources.
func (s *Server) Account() string { return s.account }

// FS is the file-system service.
func (s *Server) FS() *fs.Service { return s.fs }

// KMS is the account's key manager.
func (s *Server) KMS() *kms.Manager { return s.kms }

// Meta is the metadata store.
func (s *Server) Meta() meta.Store { return s.meta }

// Blobs is the blob store.
func (s *Server) Blobs() blob.Store { return s.blobs }

// Data is the block store over Blobs.
func (s *Server) Data() *data.Store { return s.data }

// NFS is the NFS front end (its listeners), or nil for an offline server.
func (s *Server) NFS() *NFSFrontEnd { return s.nfs }

// Control is the control plane (nil for an offline server).
func (s *Server) Control() *control.Service { return s.control }

// Trail is the CloudTrail trail (nil for an offline server).
func (s *Server) Trail() *trail.Trail { return s.trail }

// Users is the IAM user store (nil for an offline server).
func (s *Server) Users() *users.Store { return s.users }

// APIURL is the endpoint URL of the HTTP edge (http://127.0.0.1:8049 or
// https://…), or "" for an offline server.
func (s *Server) APIURL() string {
	if s.edge == nil {
		return ""
	}
	return s.edge.URL()
}

// RootCredentialsPath is <data-dir>/root-credentials.
func (s *Server) RootCredentialsPath() string {
	return filepath.Join(s.dataDir, RootCredentialsFileName)
}

// HealthAddr is the address the health endpoint listens on, or nil when it
// is disabled.
func (s *Server) HealthAddr() net.Addr {
	if s.health == nil {
		return nil
	}
	return s.health.Addr()
}

// prepareDataDir creates the data directory (mode 0700) if it is missing and
// reports whether it holds no store yet. It returns the absolute path.
func prepareDataDir(dir string, log *slog.Logger) (abs string, fresh bool, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("server: data directory: %w", err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", false, fmt.Errorf("server: create data directory: %w", err)
		}
		log.Info("data directory created", "data_dir", abs)
		return abs, true, nil
	case err != nil:
		return "", false, fmt.Errorf("server: data directory: %w", err)
	case !st.IsDir():
		return "", false, fmt.Errorf("server: data directory %s is not a directory", abs)
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory is accessible by group or others; chmod 700 it", "data_dir", abs, "mode", fmt.Sprintf("%04o", st.Mode().Perm()))
	}
	for _, sub := range []string{metaDirName, blobsDirName} {
		nonEmpty, err := dirHasEntries(filepath.Join(abs, sub))
		if err != nil {
			return "", false, fmt.Errorf("server: data directory: %w", err)
		}
		if nonEmpty {
			return abs, false, nil
		}
	}
	return abs, true, nil
}

// existingStore returns the absolute path of dir if it holds a store, and an
// error otherwise. It changes nothing.
func existingStore(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("server: data directory: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("server: data directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("server: data directory %s is not a directory", abs)
	}
	nonEmpty, err := dirHasEntries(filepath.Join(abs, metaDirName))
	if err != nil {
		return "", fmt.Errorf("server: data directory: %w", err)
	}
	if !nonEmpty {
		return "", fmt.Errorf("server: %s holds no store (its %s directory is missing or empty)", abs, metaDirName)
	}
	return abs, nil
}

// dirHasEntries reports whether dir exists and is not empty.
func dirHasEntries(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return true, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return false, nil
}

// loadRootKey reads the root key, creating it only for a fresh data
// directory.
func loadRootKey(path, dataDir string, fresh bool, log *slog.Logger) ([]byte, error) {
	_, statErr := os.Stat(path)
	existed := statErr == nil
	key, err := kms.LoadRootKey(path, fresh)
	switch {
	case err == nil:
	case !fresh && errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %s holds a store but the root key file %s does not exist; restore it from your backup (shelfd never makes a new key for an existing store: the data could not be read with it); nothing was changed",
			ErrNoRootKey, dataDir, path)
	default:
		return nil, fmt.Errorf("server: root key: %w", err)
	}
	if !existed {
		log.Warn("root key created: back it up and keep it secret, losing it loses all data", "root_key_file", path)
	}
	return key, nil
}
