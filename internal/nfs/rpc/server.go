package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	// DefaultMaxInFlight is the Linux client's default number of session
	// slots (nfs.max_session_slots=64): a client using them all is never
	// held back by the cap.
	DefaultMaxInFlight = 64
	// DefaultMaxConns bounds the connections of one Server.
	DefaultMaxConns = 16384
	// DefaultWriteTimeout bounds writing one reply: a client that stops
	// reading its replies loses its connection.
	DefaultWriteTimeout = 2 * time.Minute
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("rpc: server closed")

// Options tune a Server. Zero fields take the defaults.
type Options struct {
	// MaxRecordBytes bounds an incoming record, fragment headers
	// included (DefaultMaxRecordBytes). A larger record closes the
	// connection before anything is allocated for it.
	MaxRecordBytes int
	// MaxInFlight bounds the calls of one connection that are read but
	// not yet answered (DefaultMaxInFlight). When it is reached the
	// connection is not read until a reply has been written, so a
	// connection holds at most MaxInFlight records in memory.
	MaxInFlight int
	// MaxConns bounds the open connections of the Server
	// (DefaultMaxConns); connections beyond it are closed at once.
	MaxConns int
	// WriteTimeout bounds writing one reply (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Authenticator checks credentials (SysAuthenticator).
	Authenticator Authenticator
	// Logger receives connection events at Debug and problems at Warn
	// (nil discards them).
	Logger *slog.Logger

	// TLS, when set, serves TLS on the same port as plain RPC: a
	// connection whose first byte is a TLS handshake record (0x16) is a
	// TLS connection (efs-utils' tunnel), and a plain connection may
	// upgrade with the AUTH_TLS probe of RFC 9289 (Linux's xprtsec=tls).
	// Without it both are refused. Set MinVersion; ClientAuth
	// RequestClientCert lets ConnContext see the client's certificate.
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS handshake (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// ConnContext, when set, admits connections: it is called when a
	// connection is accepted (before anything is read from it) and again
	// when its TLS handshake completes, with the connection as it is then
	// (Conn.TLS, Conn.PeerCertificates). It returns the context the calls
	// of the connection run in, which must derive from ctx, or an error,
	// which closes the connection at once. It must be safe for
	// concurrent use.
	ConnContext func(ctx context.Context, c *Conn) (context.Context, error)
}

// DefaultHandshakeTimeout bounds a TLS handshake.
const DefaultHandshakeTimeout = 10 * time.Second

// Stats counts connection events of a Server since it started.
type Stats struct {
	// Refused counts connections that ConnContext refused.
	Refused uint64
	// TLSRefused counts TLS connections and probes refused because TLS is
	// not configured.
	TLSRefused uint64
	// TLSHandshakeFailures counts TLS handshakes that failed or timed out.
	TLSHandshakeFailures uint64
	// TLSConns counts connections that completed a TLS handshake, and
	// StartTLS those of them that upgraded with the RFC 9289 probe.
	TLSConns, StartTLS uint64
}

// Server serves RPC programs on stream connections with record marking
// (RFC 5531 §11). Create it with NewServer; call Serve once per listener,
// from as many goroutines as there are listeners; Close ends everything.
//
// Every connection has one reader goroutine, which reads whole records
// (bounded by MaxRecordBytes) and hands each to a goroutine of its own
// (bounded by MaxInFlight). Each reply is encoded whole and written with one
// Write under the connection's write lock, so replies never interleave.
type Server struct {
	programs map[uint32]Program
	opts     Options
	log      *slog.Logger

	mu struct {
		sync.Mutex
		closed bool
		serves map[*serveState]struct{}
		conns  map[*conn]struct{}
	}
	// conns counts connection goroutines, so that Close can wait for them.
	conns sync.WaitGroup
	// workers runs the calls of all connections.
	workers  *workerPool
	stopOnce sync.Once

	stats struct {
		refused, tlsRefused, tlsFailed, tlsConns, startTLS atomic.Uint64
	}
}

// Stats returns the connection counters.
func (s *Server) Stats() Stats {
	return Stats{
		Refused:              s.stats.refused.Load(),
		TLSRefused:           s.stats.tlsRefused.Load(),
		TLSHandshakeFailures: s.stats.tlsFailed.Load(),
		TLSConns:             s.stats.tlsConns.Load(),
		StartTLS:             s.stats.startTLS.Load(),
	}
}

// nextConnID numbers connections for the life of the process.
var nextConnID atomic.Uint64

// NewServer returns a Server for programs, keyed by program number. The map
// is not copied; do not change it afterwards. Wrap a program in Versions to
// have NULL and version mismatches answered for it.
func NewServer(programs map[uint32]Program, opts Options) *Server {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Authenticator == nil {
		opts.Authenticator = SysAuthenticator
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	s := &Server{programs: programs, opts: opts, log: opts.Logger, workers: newWorkerPool()}
	s.mu.serves = make(map[*serveState]struct{})
	s.mu.conns = make(map[*conn]struct{})
	return s
}

type serveState struct {
	cancel context.CancelFunc
}

// Serve accepts connections on ln and serves them until ctx is cancelled,
// Close is called or ln fails. It then closes ln and every connection it
// accepted, waits for their goroutines, and returns: nil after a
// cancellation of ctx, ErrServerClosed after Close, or the accept error.
// Serve takes ownership of ln.
//
// tmpl describes what ln serves (FileSystemID, MountTargetID); every
// connection gets a copy with its own ID and addresses, which requests
// carry in their context (ConnFromContext).
func (s *Server) Serve(ctx context.Context, ln net.Listener, tmpl Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &serveState{cancel: cancel}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.serves[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.serves, st)
		s.mu.Unlock()
	}()

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	log := s.log.With("listen", ln.Addr().String(), "fs_id", tmpl.FileSystemID, "mt_id", tmpl.MountTargetID)
	log.Debug("rpc: serving")

	var wg sync.WaitGroup
	var err error
	backoff := time.Duration(0)
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if retryableAccept(aerr) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("rpc: accept failed, retrying", "err", aerr, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			err = fmt.Errorf("rpc: accept on %s: %w", ln.Addr(), aerr)
			break
		}
		backoff = 0
		c := s.newConn(ctx, nc, tmpl, log)
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.conns.Done()
			c.serve()
		}()
	}
	ln.Close()
	cancel()
	wg.Wait()
	log.Debug("rpc: stopped serving")
	if err == nil {
		s.mu.Lock()
		if s.mu.closed {
			err = ErrServerClosed
		}
		s.mu.Unlock()
	}
	return err
}

func retryableAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// newConn registers a new connection, or closes nc and returns nil when the
// server is closed or full. On success the caller must run c.serve and
// then call s.conns.Done.
func (s *Server) newConn(ctx context.Context, nc net.Conn, tmpl Conn, log *slog.Logger) *conn {
	info := tmpl
	info.ID = nextConnID.Add(1)
	info.Local = addrPort(nc.LocalAddr())
	info.Remote = addrPort(nc.RemoteAddr())
	info.TLS = false

	s.mu.Lock()
	if s.mu.closed || len(s.mu.conns) >= s.opts.MaxConns {
		closed := s.mu.closed
		s.mu.Unlock()
		nc.Close()
		if !closed {
			log.Warn("rpc: connection refused: too many connections", "remote", info.Remote.String(), "max_conns", s.opts.MaxConns)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		s:        s,
		nc:       nc,
		info:     &info,
		cancel:   cancel,
		inflight: make(chan struct{}, s.opts.MaxInFlight),
		log:      log.With("conn_id", info.ID, "remote", info.Remote.String()),
	}
	c.base = context.WithValue(ctx, disconnectKey{}, cancel)
	c.ctx = WithConn(c.base, c.info)
	s.mu.conns[c] = struct{}{}
	s.conns.Add(1)
	s.mu.Unlock()
	return c
}

func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
}

// Close stops every Serve call and closes every connection (requests in
// progress see their context cancelled; their replies are dropped), then
// waits until every connection goroutine has ended. Serve calls return
// ErrServerClosed, including later ones. Close is idempotent and returns
// nil.
func (s *Server) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	var cancels []context.CancelFunc
	for st := range s.mu.serves {
		cancels = append(cancels, st.cancel)
	}
	for c := range s.mu.conns {
		cancels = append(cancels, c.cancel)
	}
	s.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	s.conns.Wait()
	// No connection is left to start a call.
	s.stopOnce.Do(s.workers.stop)
	return nil
}

// NumConns returns the number of open connections.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// addrPort converts a TCP address; IPv4-mapped IPv6 addresses become IPv4.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if t, ok := a.(*net.TCPAddr); ok {
		ap = t.AddrPort()
	} else if a != nil {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
