package rpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/stretchr/testify/require"
)

// selfSigned returns a certificate for cn, usable by a server and a client.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// connLog records what ConnContext was shown.
type connLog struct {
	mu    sync.Mutex
	seen  []Conn
	ctxs  []context.Context
	fail  error
	calls int
}

type connLogKey struct{}

func (l *connLog) hook(ctx context.Context, c *Conn) (context.Context, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.fail != nil {
		return nil, l.fail
	}
	l.seen = append(l.seen, *c)
	ctx = context.WithValue(ctx, connLogKey{}, l.calls)
	l.ctxs = append(l.ctxs, ctx)
	return ctx, nil
}

func (l *connLog) snapshot() []Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Conn(nil), l.seen...)
}

func tlsHarness(t *testing.T) (*harness, *connLog, tls.Certificate) {
	serverCert := selfSigned(t, "fs-0123456789abcdef0.efs.us-east-1.amazonaws.com")
	log := &connLog{}
	h := startHarness(t, Options{
		TLS: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientAuth:   tls.RequestClientCert,
			MinVersion:   tls.VersionTLS12,
		},
		HandshakeTimeout: 2 * time.Second,
		ConnContext:      log.hook,
	})
	return h, log, serverCert
}

func clientTLS(server tls.Certificate, client *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(server.Leaf)
	cfg := &tls.Config{RootCAs: pool, ServerName: server.Leaf.Subject.CommonName, MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	return cfg
}

func echoOver(t *testing.T, c net.Conn, xid uint32, payload string) {
	t.Helper()
	rep := roundTrip(t, c, callMsg(xid, testProg, testVers, procEcho, authNone, authNone, echoArgs([]byte(payload))))
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
	require.Equal(t, echoArgs([]byte(payload)), rep.results)
}

func TestTLSAtFirstByte(t *testing.T) {
	h, log, serverCert := tlsHarness(t)
	clientCert := selfSigned(t, "client-host")

	c := tls.Client(h.dial(), clientTLS(serverCert, &clientCert))
	require.NoError(t, c.Handshake())
	echoOver(t, c, 1, "over tls")
	echoOver(t, c, 2, "again")

	seen := log.snapshot()
	require.Len(t, seen, 2, "admitted when accepted, and again after the handshake")
	require.False(t, seen[0].TLS)
	require.Empty(t, seen[0].PeerCertificates)
	require.True(t, seen[1].TLS)
	require.False(t, seen[1].StartTLS)
	require.Equal(t, seen[0].ID, seen[1].ID)
	require.Len(t, seen[1].PeerCertificates, 1)
	require.Equal(t, "client-host", seen[1].PeerCertificates[0].Subject.CommonName)
	require.Equal(t, "fs-0123456789abcdef0.efs.us-east-1.amazonaws.com", seen[1].ServerName)
	require.NotZero(t, seen[1].TLSVersion)
	require.Equal(t, uint64(1), h.srv.Stats().TLSConns)

	// Without a client certificate the connection is served too: the
	// certificate is requested, not required.
	c2 := tls.Client(h.dial(), clientTLS(serverCert, nil))
	require.NoError(t, c2.Handshake())
	echoOver(t, c2, 3, "anonymous")
}

func TestStartTLSProbe(t *testing.T) {
	h, log, serverCert := tlsHarness(t)
	raw := h.dial()
	// RFC 9289 §4.1: a NULL call with the AUTH_TLS credential.
	probe := callMsg(7, testProg, testVers, 0, rpcv2.OpaqueAuth{Flavor: authTLS, Body: []byte{}}, authNone, nil)
	rep := roundTrip(t, raw, probe)
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
	acc := rep.body.(*rpcv2.ReplyBody_MSG_ACCEPTED)
	require.Equal(t, rpcv2.AUTH_NONE, acc.Areply.Verf.Flavor)
	require.Equal(t, []byte("STARTTLS"), acc.Areply.Verf.Body)

	c := tls.Client(raw, clientTLS(serverCert, nil))
	require.NoError(t, c.Handshake())
	echoOver(t, c, 8, "upgraded")
	seen := log.snapshot()
	require.Len(t, seen, 2)
	require.True(t, seen[1].TLS)
	require.True(t, seen[1].StartTLS)
	st := h.srv.Stats()
	require.Equal(t, uint64(1), st.StartTLS)
	require.Equal(t, uint64(1), st.TLSConns)

	// Once TLS runs, a second probe is an ordinary call with a flavor
	// the authenticator does not know.
	rep = roundTrip(t, c, probe)
	den, ok := rep.body.(*rpcv2.ReplyBody_MSG_DENIED)
	require.True(t, ok)
	require.Equal(t, rpcv2.AUTH_BADCRED, den.Rreply.(*rpcv2.RejectedReply_AUTH_ERROR).Stat)
}

func TestTLSWithoutConfigIsRefused(t *testing.T) {
	h := startHarness(t, Options{})
	c := h.dial()
	_, err := c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0})
	require.NoError(t, err)
	requireClosed(t, c)
	require.Equal(t, uint64(1), h.srv.Stats().TLSRefused)

	// The probe is refused as an unknown flavor: the client goes on in
	// the clear or gives up, as RFC 9289 §4.1 says.
	c = h.dial()
	rep := roundTrip(t, c, callMsg(1, testProg, testVers, 0, rpcv2.OpaqueAuth{Flavor: authTLS, Body: []byte{}}, authNone, nil))
	den, ok := rep.body.(*rpcv2.ReplyBody_MSG_DENIED)
	require.True(t, ok)
	require.Equal(t, rpcv2.AUTH_BADCRED, den.Rreply.(*rpcv2.RejectedReply_AUTH_ERROR).Stat)
	echoOver(t, c, 2, "still served")
}

func TestTLSGarbageHandshake(t *testing.T) {
	h, _, serverCert := tlsHarness(t)
	for _, junk := range [][]byte{
		{0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef},
		append([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, make([]byte, 64)...),
	} {
		c := h.dial()
		_, err := c.Write(junk)
		require.NoError(t, err)
		_, _ = c.Write(make([]byte, 16))
		requireClosedOrReset(t, c)
	}
	// A client that sends half a handshake and stops is cut off by the
	// handshake timeout.
	c := h.dial()
	_, err := c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00})
	require.NoError(t, err)
	requireClosedOrReset(t, c)
	// The handshake's context closes the connection before the failed
	// handshake returns and is counted.
	require.Eventually(t, func() bool { return h.srv.Stats().TLSHandshakeFailures == 3 }, 10*time.Second, time.Millisecond)
	require.Equal(t, uint64(3), h.srv.Stats().TLSHandshakeFailures)

	// Garbage after a good handshake is garbage inside TLS: the
	// connection dies, others are not affected.
	good := tls.Client(h.dial(), clientTLS(serverCert, nil))
	require.NoError(t, good.Handshake())
	bad := h.dial()
	tc := tls.Client(bad, clientTLS(serverCert, nil))
	require.NoError(t, tc.Handshake())
	_, err = bad.Write([]byte("not a TLS record at all"))
	require.NoError(t, err)
	requireClosedOrReset(t, tc)
	echoOver(t, good, 1, "unaffected")
}

// requireClosedOrReset waits until the server ends c, whatever it sent
// (a TLS alert) before.
func requireClosedOrReset(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection not closed: %v", err)
			return
		}
	}
}

func TestConnContextRefusesAndDisconnects(t *testing.T) {
	h, log, _ := tlsHarness(t)
	log.mu.Lock()
	log.fail = errors.New("source not in any security group")
	log.mu.Unlock()
	c := h.dial()
	requireClosed(t, c)
	require.Equal(t, uint64(1), h.srv.Stats().Refused)

	log.mu.Lock()
	log.fail = nil
	log.mu.Unlock()
	c = h.dial()
	echoOver(t, c, 1, "admitted")
	log.mu.Lock()
	ctx := log.ctxs[len(log.ctxs)-1]
	log.mu.Unlock()
	require.Equal(t, 2, ctx.Value(connLogKey{}), "calls run in the context ConnContext returned")
	Disconnect(ctx)
	requireClosed(t, c)
	Disconnect(context.Background()) // no connection: nothing happens
}
