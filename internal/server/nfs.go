package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// staticMountTargetPrefix names the listeners of config.NFS.Exports, which
// have no mount target: "static:" and the configured listen address.
const staticMountTargetPrefix = "static:"

// NFSFrontEnd is the NFS component: one RPC listener per mount target, all
// served by one rpc.Server (so that shutdown closes every connection).
// Listeners come from the static exports of the configuration at start-up
// and, at run time, from AddListener and RemoveListener, which the control
// plane's mount-target notifications drive (control.SubscribeMountTargets:
// MountTargetAdded → AddListener(ip:port, fsID, mtID), MountTargetRemoved →
// RemoveListener(mtID)).
//
// Its methods are safe for concurrent use.
type NFSFrontEnd struct {
	log    *slog.Logger
	rpc    *rpc.Server
	access *nfsAccess

	mu struct {
		sync.Mutex
		// ctx is Run's context while Run serves, nil before Run and
		// after it stopped (stopped).
		ctx       context.Context
		stopped   bool
		listeners map[string]*nfsListener // by mount target ID
	}
	// serving counts the goroutines running rpc.Server.Serve.
	serving sync.WaitGroup
}

var _ component = (*NFSFrontEnd)(nil)

// nfsListener is one mount target's listener.
type nfsListener struct {
	ln   net.Listener
	tmpl rpc.Conn
	// cancel stops Serve (closing the listener and its connections) and
	// done is closed when Serve has returned; both nil until serving.
	cancel context.CancelFunc
	done   chan struct{}
}

// newNFSFrontEnd returns the component serving programs.
func newNFSFrontEnd(programs map[uint32]rpc.Program, opts rpc.Options, log *slog.Logger) *NFSFrontEnd {
	opts.Logger = log
	n := &NFSFrontEnd{log: log, rpc: rpc.NewServer(programs, opts)}
	n.mu.listeners = make(map[string]*nfsListener)
	return n
}

// fileSystemAt returns the file system served on local address a (a
// listener bound to a, or to every address).
func (n *NFSFrontEnd) fileSystemAt(a netip.Addr) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	wildcard := ""
	for _, l := range n.mu.listeners {
		ap, err := netip.ParseAddrPort(l.ln.Addr().String())
		if err != nil {
			continue
		}
		switch {
		case ap.Addr().Unmap() == a:
			return l.tmpl.FileSystemID, true
		case ap.Addr().IsUnspecified():
			wildcard = l.tmpl.FileSystemID
		}
	}
	return wildcard, wildcard != ""
}

// Stats returns the connection counters of the NFS listeners.
func (n *NFSFrontEnd) Stats() NFSStats {
	st := NFSStats{RPC: n.rpc.Stats()}
	if n.access != nil {
		st.SecurityGroupRefusals = n.access.refused.Load()
		st.CertificateRefusals = n.access.denied.Load()
	}
	return st
}

// NFSStats counts connection events of the NFS listeners.
type NFSStats struct {
	RPC rpc.Stats
	// SecurityGroupRefusals counts connections that no inbound rule of
	// the mount target's security groups admitted.
	SecurityGroupRefusals uint64
	// CertificateRefusals counts TLS connections whose client
	// certificate failed verification.
	CertificateRefusals uint64
}

// Name implements component.
func (n *NFSFrontEnd) Name() string { return "nfs" }

// AddListener binds addr (host:port) for mount target mtID of file system
// fsID and serves it once Run runs (at once if it is running). It fails if
// mtID already has a listener, the address is in use, or the component has
// stopped. It returns the bound address (useful with port 0).
func (n *NFSFrontEnd) AddListener(ctx context.Context, addr, fsID, mtID string) (net.Addr, error) {
	n.mu.Lock()
	_, dup := n.mu.listeners[mtID]
	stopped := n.mu.stopped
	n.mu.Unlock()
	switch {
	case stopped:
		return nil, fmt.Errorf("server: nfs: add listener for %s: %w", mtID, rpc.ErrServerClosed)
	case dup:
		return nil, fmt.Errorf("server: nfs: mount target %s already has a listener", mtID)
	}
	ln, err := rpc.Listen(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("server: nfs: %w", err)
	}
	l := &nfsListener{ln: ln, tmpl: rpc.Conn{FileSystemID: fsID, MountTargetID: mtID}}

	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.mu.listeners[mtID]; dup || n.mu.stopped {
		ln.Close()
		return nil, fmt.Errorf("server: nfs: add listener for %s: lost a race with another change", mtID)
	}
	n.mu.listeners[mtID] = l
	if n.mu.ctx != nil {
		n.serveLocked(l)
	}
	return ln.Addr(), nil
}

// serveLocked starts serving l under Run's context.
func (n *NFSFrontEnd) serveLocked(l *nfsListener) {
	ctx, cancel := context.WithCancel(n.mu.ctx)
	l.cancel, l.done = cancel, make(chan struct{})
	n.serving.Add(1)
	n.log.Info("nfs listening", "addr", l.ln.Addr().String(), "fs_id", l.tmpl.FileSystemID, "mt_id", l.tmpl.MountTargetID)
	go func() {
		defer n.serving.Done()
		defer close(l.done)
		err := n.rpc.Serve(ctx, l.ln, l.tmpl)
		if err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			// One mount target failing does not stop the others.
			n.log.Error("nfs listener failed", "addr", l.ln.Addr().String(), "mt_id", l.tmpl.MountTargetID, "err", err)
			n.mu.Lock()
			if n.mu.listeners[l.tmpl.MountTargetID] == l {
				delete(n.mu.listeners, l.tmpl.MountTargetID)
			}
			n.mu.Unlock()
		}
	}()
}

// RemoveListener stops mount target mtID's listener and closes its
// connections (as EFS does when a mount target is deleted), and returns
// when they are closed. Removing a mount target without a listener is not
// an error.
func (n *NFSFrontEnd) RemoveListener(mtID string) {
	n.mu.Lock()
	l := n.mu.listeners[mtID]
	delete(n.mu.listeners, mtID)
	n.mu.Unlock()
	if l == nil {
		return
	}
	if l.cancel == nil {
		l.ln.Close()
		return
	}
	l.cancel()
	<-l.done
	n.log.Info("nfs listener removed", "addr", l.ln.Addr().String(), "mt_id", mtID)
}

// Addr returns the address of mount target mtID's listener, or nil.
func (n *NFSFrontEnd) Addr(mtID string) net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.mu.listeners[mtID]; l != nil {
		return l.ln.Addr()
	}
	return nil
}

// Run implements component: it serves every listener, including those
// added while it runs, until ctx is cancelled, then closes every listener
// and connection and waits for them.
func (n *NFSFrontEnd) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.mu.stopped {
		n.mu.Unlock()
		return rpc.ErrServerClosed
	}
	n.mu.ctx = ctx
	for _, l := range n.mu.listeners {
		n.serveLocked(l)
	}
	n.mu.Unlock()

	<-ctx.Done()
	n.stop()
	return nil
}

// stop ends serving for good.
func (n *NFSFrontEnd) stop() {
	n.mu.Lock()
	n.mu.stopped = true
	n.mu.ctx = nil
	var unserved []net.Listener
	for id, l := range n.mu.listeners {
		if l.cancel == nil {
			unserved = append(unserved, l.ln)
		}
		delete(n.mu.listeners, id)
	}
	n.mu.Unlock()
	for _, ln := range unserved {
		ln.Close()
	}
	n.rpc.Close()
	n.serving.Wait()
}

// Close implements component: it releases the listeners bound before Run.
func (n *NFSFrontEnd) Close() error {
	n.stop()
	return nil
}

// addNFSFrontEnd creates the NFS component with the static exports of the
// configuration bound, creating their file systems when asked to.
func (s *Server) addNFSFrontEnd(ctx context.Context) error {
	programs, err := s.nfsPrograms(ctx)
	if err != nil {
		return err
	}
	// Room for the largest COMPOUND the program accepts, plus the RPC
	// header (at most two 400-byte opaque_auth and 24 bytes) and record
	// marks.
	opts := rpc.Options{MaxRecordBytes: nfs.MaxRequestBytes + 4<<10}
	access := newNFSAccess(s)
	opts.ConnContext = access.connContext
	var n *NFSFrontEnd
	if !s.cfg.NFS.TLS.Disabled {
		ca, err := s.openNFSCA(ctx)
		if err != nil {
			return err
		}
		s.nfsCA = ca
		opts.TLS = s.nfsTLSConfig(ca, func(a netip.Addr) (string, bool) { return n.fileSystemAt(a) })
	}
	n = newNFSFrontEnd(programs, opts, s.log.With("component", "nfs"))
	n.access = access
	s.nfs = n
	s.components = append(s.components, n)
	for _, e := range s.cfg.NFS.Exports {
		if err := s.prepareExport(ctx, e); err != nil {
			return err
		}
		if _, err := n.AddListener(ctx, e.Listen, e.FileSystemID, staticMountTargetPrefix+e.Listen); err != nil {
			return err
		}
	}
	return nil
}

// prepareExport checks that a static export's file system exists, or
// creates it when the export says so.
func (s *Server) prepareExport(ctx context.Context, e config.NFSExport) error {
	_, err := s.fs.FileSystem(ctx, e.FileSystemID)
	switch {
	case err == nil:
		return nil
	case !fs.IsCode(err, fs.Stale):
		return fmt.Errorf("server: nfs export %s: %w", e.Listen, err)
	case !e.Create:
		return fmt.Errorf("server: nfs export %s: file system %s does not exist (set create: true to create it)", e.Listen, e.FileSystemID)
	}
	var o fs.CreateOptions
	if e.Encrypted {
		key, err := s.kms.ManagedKey(ctx)
		if err != nil {
			return fmt.Errorf("server: nfs export %s: managed key: %w", e.Listen, err)
		}
		o = fs.CreateOptions{Encrypted: true, KMSKeyID: key.KeyID}
	}
	if _, err := s.fs.CreateFileSystem(ctx, e.FileSystemID, o); err != nil {
		return fmt.Errorf("server: nfs export %s: %w", e.Listen, err)
	}
	s.log.Info("file system created for a static nfs export", "fs_id", e.FileSystemID, "encrypted", e.Encrypted)
	return nil
}

// nfsPrograms returns the RPC programs of the NFS listeners: the NFS
// program (100003, version 4) over the file-system service.
func (s *Server) nfsPrograms(ctx context.Context) (map[uint32]rpc.Program, error) {
	key, err := s.nfsHandleKey(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	p := nfs.NewProgram(s.fs, nfs.Options{
		Clock:     clock.System,
		Logger:    s.log.With("component", "nfs"),
		HandleKey: key,
		Meta:      s.meta,
	})
	return map[uint32]rpc.Program{rpc.ProgramNFS: p.Serve}, nil
}

// nfsHandleKeyRecord holds the MAC key of NFS file handles, sealed by the
// KMS under the root key (kms.SealSecret, purpose nfsHandleKeyPurpose). It
// is made once per store, so that file handles survive restarts.
var nfsHandleKeyRecord = meta.SystemKey("nfs-handle-key")

const (
	nfsHandleKeyPurpose = "nfs-handle-key"
	nfsHandleKeyBytes   = 32
)

// nfsHandleKey returns the store's file-handle key, making it on first use.
func (s *Server) nfsHandleKey(ctx context.Context) ([]byte, error) {
	read := func() ([]byte, error) {
		var sealed []byte
		err := s.meta.View(ctx, func(r meta.Reader) error {
			b, err := r.Get(nfsHandleKeyRecord)
			if errors.Is(err, meta.ErrNotFound) {
				return nil
			}
			sealed = bytes.Clone(b)
			return err
		})
		return sealed, err
	}
	sealed, err := read()
	if err != nil {
		return nil, fmt.Errorf("server: nfs handle key: %w", err)
	}
	if sealed == nil {
		key := make([]byte, nfsHandleKeyBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("server: nfs handle key: %w", err)
		}
		fresh, err := s.kms.SealSecret(ctx, nfsHandleKeyPurpose, key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("server: nfs handle key: %w", err)
		}
		// Keep the first key stored if another process made one too.
		err = s.meta.Update(ctx, func(txn meta.Txn) error {
			b, err := txn.Get(nfsHandleKeyRecord)
			switch {
			case err == nil:
				sealed = bytes.Clone(b)
				return nil
			case !errors.Is(err, meta.ErrNotFound):
				return err
			}
			sealed = fresh
			return txn.Set(nfsHandleKeyRecord, fresh)
		})
		if err != nil {
			return nil, fmt.Errorf("server: nfs handle key: %w", err)
		}
	}
	key, err := s.kms.OpenSecret(ctx, nfsHandleKeyPurpose, sealed)
	if err != nil {
		return nil, fmt.Errorf("server: nfs handle key: %w", err)
	}
	if len(key) != nfsHandleKeyBytes {
		clear(key)
		return nil, fmt.Errorf("server: nfs handle key: stored key has %d bytes", len(key))
	}
	return key, nil
}
