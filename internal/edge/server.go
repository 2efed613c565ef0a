package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/config"
)

// Limits the edge applies to every client.
const (
	// MaxBodyBytes bounds a request body. The largest legitimate bodies
	// are policy documents (EFS file-system policies up to 20,000
	// characters, IAM policies in form bodies), far below this.
	MaxBodyBytes = 1 << 20
	// maxHeaderBytes bounds the request line and headers.
	maxHeaderBytes = 64 << 10
	// requestTimeout is the deadline of one call, service work included.
	requestTimeout = 60 * time.Second
	// shutdownTimeout bounds the graceful shutdown: requests still running
	// after it are abandoned.
	shutdownTimeout = 10 * time.Second
	// auditTimeout bounds the storing of one audit record.
	auditTimeout = 30 * time.Second
	// DefaultMaxInFlight is the default of Deps.MaxInFlight.
	DefaultMaxInFlight = 256
)

// Recorder receives the CloudTrail record of every call (audit.Log
// implements it). Append returns once the record is durable; the edge
// writes the HTTP response only after that.
type Recorder interface {
	Append(ctx context.Context, e *audit.Event) error
}

// Deps are what the edge needs from the rest of shelfd.
type Deps struct {
	// Credentials authenticates access keys (required).
	Credentials Credentials
	// Audit records every call (required).
	Audit Recorder
	// Account is the 12-digit account of this shelfd (recipientAccountId).
	Account string
	// Region is the configured region; requests must be signed for it
	// (IAM, a global service, may also be signed for us-east-1).
	Region string
	// DataDir is where a self-signed certificate is kept (<DataDir>/tls).
	DataDir string
	// MaxInFlight bounds the requests served at once; more are refused
	// with the protocol's throttling error (clients retry those). 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
	// Clock defaults to clock.System; Rand (request and event IDs) to
	// crypto/rand.Reader; Logger to a discarding logger.
	Clock  clock.Clock
	Rand   io.Reader
	Logger *slog.Logger
}

// Server is the HTTP edge: one listener, services registered by signing
// name. It is a component of internal/server: New binds the listener, Run
// serves until its context ends and then shuts down gracefully, Close
// releases the listener.
type Server struct {
	deps     Deps
	log      *slog.Logger
	clock    clock.Clock
	ln       net.Listener
	srv      *http.Server
	tls      *tls.Config // nil: plain HTTP
	certPEM  []byte      // the serving certificate, for clients of a self-signed one
	services struct {
		sync.RWMutex
		m map[string]Service
	}
	randMu   sync.Mutex    // guards deps.Rand
	inFlight chan struct{} // a slot per request being served
}

// New checks deps, loads or creates the TLS certificate that cfg asks for
// and binds cfg.Listen, so that an address in use fails at once. Services
// are added with Register before Run.
func New(deps Deps, cfg config.API) (*Server, error) {
	if deps.Credentials == nil || deps.Audit == nil {
		return nil, errors.New("edge: Credentials and Audit are required")
	}
	if deps.Account == "" || deps.Region == "" {
		return nil, errors.New("edge: Account and Region are required")
	}
	if deps.Clock == nil {
		deps.Clock = clock.System
	}
	if deps.Rand == nil {
		deps.Rand = rand.Reader
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.MaxInFlight <= 0 {
		deps.MaxInFlight = DefaultMaxInFlight
	}
	s := &Server{deps: deps, log: deps.Logger, clock: deps.Clock, inFlight: make(chan struct{}, deps.MaxInFlight)}
	s.services.m = map[string]Service{}
	if cfg.TLS.Enabled() {
		tc, certPEM, err := loadTLS(cfg, deps.DataDir, deps.Clock.Now(), s.log)
		if err != nil {
			return nil, err
		}
		s.tls, s.certPEM = tc, certPEM
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("edge: listen: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      requestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Register adds svc under its signing name. Registering a name twice is an
// error. Register may be called concurrently with serving.
func (s *Server) Register(svc Service) error {
	name := svc.SigningName()
	if name == "" {
		return errors.New("edge: service without a signing name")
	}
	s.services.Lock()
	defer s.services.Unlock()
	if _, ok := s.services.m[name]; ok {
		return fmt.Errorf("edge: service %q registered twice", name)
	}
	s.services.m[name] = svc
	return nil
}

func (s *Server) service(name string) Service {
	s.services.RLock()
	defer s.services.RUnlock()
	return s.services.m[name]
}

// Services lists the registered signing names (for logs).
func (s *Server) Services() []string {
	s.services.RLock()
	defer s.services.RUnlock()
	names := make([]string, 0, len(s.services.m))
	for n := range s.services.m {
		names = append(names, n)
	}
	return names
}

// Name is the component name.
func (s *Server) Name() string { return "api" }

// Addr is the listening address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the endpoint URL clients use: http://host:port or https://….
func (s *Server) URL() string {
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// CertificatePEM is the serving certificate (nil without TLS), so that a
// client can trust a self-signed one.
func (s *Server) CertificatePEM() []byte { return s.certPEM }

// Run serves until ctx is cancelled, then stops accepting requests and waits
// (at most shutdownTimeout) for those running to finish.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() {
		if s.tls != nil {
			served <- s.srv.ServeTLS(s.ln, "", "")
			return
		}
		served <- s.srv.Serve(s.ln)
	}()
	s.log.Info("API listening", "addr", s.ln.Addr().String(), "url", s.URL(), "tls", s.tls != nil)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close releases the listener. It is safe after Run and without it.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return err
	}
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// newID returns a random UUID (version 4), for request and event IDs.
func (s *Server) newID() string {
	var b [16]byte
	s.randMu.Lock()
	_, err := io.ReadFull(s.deps.Rand, b[:])
	s.randMu.Unlock()
	if err != nil {
		// crypto/rand does not fail; an injected reader that does is a
		// broken test setup.
		panic("edge: read random: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}
