package mounthelper

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of the tunnel.
const (
	// maxTunnelConns bounds concurrent connections through one tunnel (the
	// kernel opens one per mount; efs-proxy fans out to at most five).
	maxTunnelConns = 64
	// dialTimeout bounds the TCP connect and the TLS handshake to the
	// mount target.
	dialTimeout = 30 * time.Second
)

// CertificateSource makes a fresh client certificate. It is called at
// start and at every renewal, never concurrently with itself.
type CertificateSource func(ctx context.Context) (*tls.Certificate, error)

// TunnelConfig configures a tunnel.
type TunnelConfig struct {
	// ListenHost is the address to listen on; "" means 127.0.0.1.
	// Anything but loopback lets whoever reaches it use the mount with the
	// user's identity.
	ListenHost string
	// Port is the local port; 0 picks a free one in PortRangeLow..High
	// at random, as efs-utils does.
	Port int
	// Target is the mount target, host:port.
	Target string
	// ServerName is the name the target's certificate must carry.
	ServerName string
	// RootCAs are the CAs the target's certificate must chain to; nil means
	// the system pool.
	RootCAs *x509.CertPool
	// Certificate makes the client certificate.
	Certificate CertificateSource
	// RenewEvery is the renewal period; 0 means DefaultRenewEvery.
	RenewEvery time.Duration
	Logger     *slog.Logger
}

// Tunnel accepts local connections and forwards each over its own TLS
// connection to the mount target. Renewal swaps the client certificate for
// connections made afterwards; established connections keep theirs.
type Tunnel struct {
	cfg  TunnelConfig
	ln   net.Listener
	tls  *tls.Config
	cert atomic.Pointer[tls.Certificate]
	log  *slog.Logger
	// renewMu serialises renewals.
	renewMu sync.Mutex
	sem     chan struct{}
	mu      struct {
		sync.Mutex
		conns  map[net.Conn]struct{}
		closed bool
	}
	wg sync.WaitGroup
}

// NewTunnel makes the first certificate and starts listening; Serve then
// forwards connections.
func NewTunnel(ctx context.Context, cfg TunnelConfig) (*Tunnel, error) {
	if cfg.Certificate == nil || cfg.Target == "" || cfg.ServerName == "" {
		return nil, errors.New("mounthelper: tunnel needs a certificate source, a target and a server name")
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "127.0.0.1"
	}
	if cfg.RenewEvery <= 0 {
		cfg.RenewEvery = DefaultRenewEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tunnel{cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, maxTunnelConns)}
	t.mu.conns = map[net.Conn]struct{}{}
	if err := t.Renew(ctx); err != nil {
		return nil, err
	}
	t.tls = &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: cfg.ServerName,
		RootCAs:    cfg.RootCAs,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return t.cert.Load(), nil
		},
	}
	ln, err := listen(ctx, cfg.ListenHost, cfg.Port)
	if err != nil {
		return nil, err
	}
	t.ln = ln
	return t, nil
}

// listen binds host:port, or a random free port of the efs-utils range.
func listen(ctx context.Context, host string, port int) (net.Listener, error) {
	var lc net.ListenConfig
	if port != 0 {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("mounthelper: listen on tlsport %d: %w", port, err)
		}
		return ln, nil
	}
	ports := make([]int, 0, PortRangeHigh-PortRangeLow+1)
	for p := PortRangeLow; p <= PortRangeHigh; p++ {
		ports = append(ports, p)
	}
	rand.Shuffle(len(ports), func(i, j int) { ports[i], ports[j] = ports[j], ports[i] })
	for _, p := range ports {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("mounthelper: listen: %w", err)
		}
	}
	return nil, fmt.Errorf("mounthelper: no free port in %d-%d (use -o tlsport)", PortRangeLow, PortRangeHigh)
}

// Addr is the local address the tunnel listens on.
func (t *Tunnel) Addr() *net.TCPAddr { return t.ln.Addr().(*net.TCPAddr) }

// Port is the local port.
func (t *Tunnel) Port() int { return t.Addr().Port }

// Certificate returns the certificate new connections present.
func (t *Tunnel) Certificate() *tls.Certificate { return t.cert.Load() }

// Renew makes a new client certificate for the connections made from now
// on. On error the current certificate stays.
func (t *Tunnel) Renew(ctx context.Context) error {
	t.renewMu.Lock()
	defer t.renewMu.Unlock()
	c, err := t.cfg.Certificate(ctx)
	if err != nil {
		return fmt.Errorf("mounthelper: client certificate: %w", err)
	}
	t.cert.Store(c)
	return nil
}

// Serve forwards connections and renews the certificate every RenewEvery
// until ctx is done; then it closes the listener and every connection and
// returns once they are gone.
func (t *Tunnel) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.renewLoop(ctx)
	}()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		<-ctx.Done()
		t.shutdown()
	}()
	var err error
	for {
		var c net.Conn
		c, err = t.ln.Accept()
		if err != nil {
			break
		}
		select {
		case t.sem <- struct{}{}:
		default:
			t.log.Warn("tunnel connection refused: too many connections", "limit", maxTunnelConns)
			c.Close()
			continue
		}
		if !t.track(c) {
			<-t.sem
			c.Close()
			break
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() { <-t.sem }()
			t.forward(ctx, c)
		}()
	}
	cancel()
	t.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("mounthelper: accept: %w", err)
}

func (t *Tunnel) renewLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.RenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := t.Renew(ctx); err != nil {
				// The current certificate stays; it is valid for 3 h and
				// the next tick tries again.
				t.log.Error("certificate renewal failed", "err", err)
				continue
			}
			t.log.Info("client certificate renewed")
		}
	}
}

// shutdown closes the listener and every tracked connection.
func (t *Tunnel) shutdown() {
	t.mu.Lock()
	t.mu.closed = true
	conns := make([]net.Conn, 0, len(t.mu.conns))
	for c := range t.mu.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	t.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}

// track registers c for shutdown; false once the tunnel is closing.
func (t *Tunnel) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return false
	}
	t.mu.conns[c] = struct{}{}
	return true
}

func (t *Tunnel) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.mu.conns, c)
	t.mu.Unlock()
}

// forward connects local to the mount target over TLS and copies both ways
// until either side ends.
func (t *Tunnel) forward(ctx context.Context, local net.Conn) {
	defer t.untrack(local)
	defer local.Close()
	setNoDelay(local)
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: t.tls}
	remote, err := d.DialContext(dctx, "tcp", t.cfg.Target)
	if err != nil {
		t.log.Warn("tunnel connection to the mount target failed", "target", t.cfg.Target, "err", err)
		return
	}
	if !t.track(remote) {
		remote.Close()
		return
	}
	defer t.untrack(remote)
	defer remote.Close()
	if tc, ok := remote.(*tls.Conn); ok {
		setNoDelay(tc.NetConn())
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(remote, local)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(local, remote)
		done <- struct{}{}
	}()
	<-done
	// One side ended: end the other, and wait for its copy to stop.
	local.Close()
	remote.Close()
	<-done
}

// setNoDelay turns Nagle's algorithm off: NFS is request/response and small
// RPCs must not wait (aws/efs-utils PR #210).
func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}
