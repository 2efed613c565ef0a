package rpc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	xdr "github.com/buildbarn/go-xdr/pkg/runtime"
)

// authTLS is the AUTH_TLS flavor of RFC 9289 §4.1.
const authTLS = 7

// startTLSVerifier is the reply verifier that accepts an AUTH_TLS probe
// (RFC 9289 §4.1): AUTH_NONE with the eight bytes "STARTTLS".
var startTLSVerifier = rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE, Body: []byte("STARTTLS")}

// admit asks Options.ConnContext whether to serve the connection as it is
// now, and installs the context it returns. It reports false (and counts
// a refusal) when the connection must be closed.
func (c *conn) admit() bool {
	hook := c.s.opts.ConnContext
	if hook == nil {
		return true
	}
	ctx, err := hook(WithConn(c.base, c.info), c.info)
	if err != nil {
		c.s.stats.refused.Add(1)
		c.log.Info("rpc: connection refused", "tls", c.info.TLS, "reason", err.Error())
		return false
	}
	if ctx == nil {
		ctx = WithConn(c.base, c.info)
	}
	c.ctx = ctx
	return true
}

// startTLS runs the server side of a TLS handshake over br (whose buffer
// may already hold the ClientHello) and the connection, then admits the
// connection again with what the handshake proved. It returns the reader
// of the decrypted stream, or nil when the connection must be closed.
// probe tells an RFC 9289 upgrade from TLS at the first byte. No call may
// be in progress.
func (c *conn) startTLS(br *bufio.Reader, probe bool) *bufio.Reader {
	raw := &prefixedConn{Conn: c.nc, r: br}
	tc := tls.Server(raw, c.s.opts.TLS)
	ctx, cancel := context.WithTimeout(c.base, c.s.opts.HandshakeTimeout)
	defer cancel()
	if err := c.nc.SetDeadline(time.Now().Add(c.s.opts.HandshakeTimeout)); err != nil {
		return nil
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		c.s.stats.tlsFailed.Add(1)
		c.log.Info("rpc: TLS handshake failed", "starttls", probe, "err", err)
		return nil
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return nil
	}
	st := tc.ConnectionState()
	info := *c.info
	info.TLS, info.StartTLS = true, probe
	info.TLSVersion, info.CipherSuite, info.ServerName = st.Version, st.CipherSuite, st.ServerName
	info.PeerCertificates = st.PeerCertificates
	c.info = &info
	c.wmu.Lock()
	c.nc = tc
	c.wmu.Unlock()
	c.s.stats.tlsConns.Add(1)
	if probe {
		c.s.stats.startTLS.Add(1)
	}
	c.log.Debug("rpc: TLS established", "starttls", probe, "version", tls.VersionName(st.Version),
		"cipher", tls.CipherSuiteName(st.CipherSuite), "client_cert", len(st.PeerCertificates) > 0)
	if !c.admit() {
		return nil
	}
	return bufio.NewReaderSize(tc, readBufferBytes)
}

// prefixedConn is a net.Conn whose reads drain a bufio.Reader first: the
// bytes read while telling TLS from RPC belong to the handshake.
type prefixedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// isTLSProbe reports whether rec is an RFC 9289 AUTH_TLS probe: a call of
// the NULL procedure whose credential flavor is AUTH_TLS.
func isTLSProbe(rec []byte) bool {
	r := bytes.NewReader(rec)
	if _, _, err := xdr.ReadUnsignedInt(r); err != nil {
		return false
	}
	if mtype, _, err := xdr.ReadInt(r); err != nil || mtype != msgCall {
		return false
	}
	var call rpcv2.CallBody
	if _, err := call.ReadFrom(r); err != nil {
		return false
	}
	return call.Rpcvers == rpcVersion && call.Proc == 0 && call.Cred.Flavor == authTLS
}

// acceptProbe answers an AUTH_TLS probe with the STARTTLS verifier.
func (c *conn) acceptProbe(rec []byte) {
	xid, _, _ := xdr.ReadUnsignedInt(bytes.NewReader(rec))
	c.accept(xid, startTLSVerifier, &rpcv2.AcceptedReplyData_SUCCESS{}, nil)
}

var _ io.Reader = (*prefixedConn)(nil)
