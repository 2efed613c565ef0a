package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

const (
	// healthShutdownTimeout bounds the graceful shutdown of the endpoint.
	healthShutdownTimeout = 5 * time.Second
	// readyProbeTimeout bounds the metadata read of /readyz.
	readyProbeTimeout = 2 * time.Second
)

// healthEndpoint serves, on its own listener (health.listen):
//
//	GET /healthz  200 {"status":"ok"}: the process is alive.
//	GET /readyz   200 {"status":"ready"} while the server runs and its
//	              metadata store answers a read; otherwise 503 with
//	              status "starting", "stopping" or "unavailable".
//
// Answers never carry paths, keys or error text; causes go to the log.
type healthEndpoint struct {
	ln  net.Listener
	srv *http.Server
	s   *Server
	log *slog.Logger
}

var _ component = (*healthEndpoint)(nil)

func newHealthEndpoint(addr string, s *Server, log *slog.Logger) (*healthEndpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: health endpoint: %w", err)
	}
	h := &healthEndpoint{ln: ln, s: s, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("GET /stats", h.stats)
	h.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return h, nil
}

func (h *healthEndpoint) Name() string { return "health" }

// Addr is the listening address (useful with port 0).
func (h *healthEndpoint) Addr() net.Addr { return h.ln.Addr() }

func (h *healthEndpoint) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(h.ln) }()
	h.log.Info("health endpoint listening", "addr", h.ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthShutdownTimeout)
	defer cancel()
	err := h.srv.Shutdown(sctx)
	if err != nil {
		_ = h.srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (h *healthEndpoint) Close() error {
	// Run's Shutdown has closed the listener already if Run was called.
	if err := h.srv.Close(); err != nil {
		return err
	}
	if err := h.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

type healthStatus struct {
	Status string `json:"status"`
}

func (h *healthEndpoint) healthz(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, "ok")
}

func (h *healthEndpoint) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case !h.s.ran.Load():
		writeStatus(w, http.StatusServiceUnavailable, "starting")
		return
	case !h.s.running.Load():
		writeStatus(w, http.StatusServiceUnavailable, "stopping")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyProbeTimeout)
	defer cancel()
	err := h.s.meta.View(ctx, func(rd meta.Reader) error {
		_, err := rd.Get(meta.KeyFormat)
		return err
	})
	if err != nil {
		h.log.Warn("readiness probe failed", "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	writeStatus(w, http.StatusOK, "ready")
}

// connStats is the body of GET /stats: counters of refused and TLS
// connections of the NFS listeners since the start.
type connStats struct {
	NFS struct {
		Connections           int    `json:"connections"`
		SecurityGroupRefusals uint64 `json:"securityGroupRefusals"`
		CertificateRefusals   uint64 `json:"certificateRefusals"`
		TLSRefused            uint64 `json:"tlsRefused"`
		TLSHandshakeFailures  uint64 `json:"tlsHandshakeFailures"`
		TLSConnections        uint64 `json:"tlsConnections"`
		StartTLS              uint64 `json:"startTLS"`
	} `json:"nfs"`
}

func (h *healthEndpoint) stats(w http.ResponseWriter, _ *http.Request) {
	var out connStats
	if n := h.s.nfs; n != nil {
		st := n.Stats()
		out.NFS.Connections = n.rpc.NumConns()
		out.NFS.SecurityGroupRefusals = st.SecurityGroupRefusals
		out.NFS.CertificateRefusals = st.CertificateRefusals
		out.NFS.TLSRefused = st.RPC.TLSRefused
		out.NFS.TLSHandshakeFailures = st.RPC.TLSHandshakeFailures
		out.NFS.TLSConnections = st.RPC.TLSConns
		out.NFS.StartTLS = st.RPC.StartTLS
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(healthStatus{Status: status})
}
