package mounthelper

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/efscert"
)

const (
	testFS     = "fs-0123456789abcdef0"
	testAP     = "fsap-0123456789abcdef0"
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
)

type oneKey struct{}

func (oneKey) Lookup(_ context.Context, akid string) (edge.Principal, string, error) {
	if akid != testAKID {
		return edge.Principal{}, "", edge.ErrUnknownAccessKey
	}
	return edge.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/alice", AccessKeyID: akid}, testSecret, nil
}

// mountTarget is a TLS server standing in for shelfd's port 2049: it
// requests a client certificate, verifies it with efscert.Verify, and then
// answers each line with "<principal ARN or anonymous> <serial> <line>".
type mountTarget struct {
	ln     net.Listener
	caPEM  []byte
	caFile string
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

func newMountTarget(t *testing.T, names ...string) *mountTarget {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shelf test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, srvKey.Public(), caKey)
	require.NoError(t, err)

	m := &mountTarget{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	m.caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(m.caFile, m.caPEM, 0o600))
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequestClientCert,
	}
	m.ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		m.ln.Close()
		m.wg.Wait()
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			c, err := m.ln.Accept()
			if err != nil {
				return
			}
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				defer c.Close()
				m.serve(c.(*tls.Conn))
			}()
		}
	}()
	return m
}

func (m *mountTarget) fail(err error) {
	m.mu.Lock()
	m.errs = append(m.errs, err)
	m.mu.Unlock()
}

func (m *mountTarget) serve(c *tls.Conn) {
	if err := c.Handshake(); err != nil {
		m.fail(err)
		return
	}
	st := c.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		m.fail(errors.New("no client certificate"))
		return
	}
	leaf := st.PeerCertificates[0]
	id, err := efscert.Verify(context.Background(), leaf, leaf.PublicKey, efscert.VerifyOptions{
		FileSystemID: testFS, Region: testRegion, Credentials: oneKey{},
	})
	if err != nil {
		m.fail(err)
		return
	}
	who := "anonymous"
	if !id.Anonymous {
		who = id.Principal.ARN
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprintf(c, "%s %s %s %s", who, id.AccessPointID, leaf.SerialNumber, line)
	}
}

// noErrors fails t if the server refused anything.
func (m *mountTarget) noErrors(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Empty(t, m.errs)
}

func (m *mountTarget) port() int { return m.ln.Addr().(*net.TCPAddr).Port }

func (m *mountTarget) pool(t *testing.T) *x509.CertPool {
	p := x509.NewCertPool()
	require.True(t, p.AppendCertsFromPEM(m.caPEM))
	return p
}

func serverName() string { return testFS + ".efs." + testRegion + ".amazonaws.com" }

func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")
}

func certifier(t *testing.T, creds aws.CredentialsProvider, now *time.Time) *Certifier {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &Certifier{
		Key: key, Hostname: "client", FileSystemID: testFS, AccessPointID: testAP, Region: testRegion,
		Credentials: creds, Version: "test", Now: func() time.Time { return *now },
	}
}

// startTunnel serves a tunnel until the test ends.
func startTunnel(t *testing.T, cfg TunnelConfig) *Tunnel {
	t.Helper()
	tun, err := NewTunnel(context.Background(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tun.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return tun
}

type lineConn struct {
	net.Conn
	r *bufio.Reader
}

func dialTunnel(t *testing.T, tun *Tunnel) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", tun.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &lineConn{c, bufio.NewReader(c)}
}

func (c *lineConn) roundTrip(t *testing.T, s string) (string, error) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	if _, err := fmt.Fprintf(c, "%s\n", s); err != nil {
		return "", err
	}
	return c.r.ReadString('\n')
}

func TestTunnelPresentsVerifiedCertificate(t *testing.T) {
	mt := newMountTarget(t, serverName())
	now := time.Now()
	c := certifier(t, staticCreds(), &now)
	tun := startTunnel(t, TunnelConfig{
		Target: fmt.Sprintf("127.0.0.1:%d", mt.port()), ServerName: serverName(), RootCAs: mt.pool(t),
		Certificate: c.Certificate,
	})
	require.GreaterOrEqual(t, tun.Port(), PortRangeLow)
	require.LessOrEqual(t, tun.Port(), PortRangeHigh)
	require.Equal(t, "127.0.0.1", tun.Addr().IP.String())

	got, err := dialTunnel(t, tun).roundTrip(t, "NULL")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("arn:aws:iam::123456789012:user/alice %s %s NULL\n", testAP, tun.Certificate().Leaf.SerialNumber), got)

	t.Run("tls without iam is anonymous", func(t *testing.T) {
		anon := certifier(t, nil, &now)
		tun := startTunnel(t, TunnelConfig{
			Target: fmt.Sprintf("127.0.0.1:%d", mt.port()), ServerName: serverName(), RootCAs: mt.pool(t),
			Certificate: anon.Certificate,
		})
		got, err := dialTunnel(t, tun).roundTrip(t, "x")
		require.NoError(t, err)
		require.Contains(t, got, "anonymous "+testAP+" ")
	})
	mt.noErrors(t)
}

// TestTunnelRenewal: after Renew, new connections present the new
// certificate while a connection made before keeps working on the old one.
func TestTunnelRenewal(t *testing.T) {
	mt := newMountTarget(t, serverName())
	// The first certificate was made 61 minutes ago; the renewal happens
	// now (the server checks both against its real clock).
	now := time.Now().Add(-61 * time.Minute)
	c := certifier(t, staticCreds(), &now)
	tun := startTunnel(t, TunnelConfig{
		Target: fmt.Sprintf("127.0.0.1:%d", mt.port()), ServerName: serverName(), RootCAs: mt.pool(t),
		Certificate: c.Certificate,
	})
	old := tun.Certificate().Leaf
	first := dialTunnel(t, tun)
	got, err := first.roundTrip(t, "before")
	require.NoError(t, err)
	require.Contains(t, got, " "+old.SerialNumber.String()+" before")

	now = time.Now()
	require.NoError(t, tun.Renew(context.Background()))
	renewed := tun.Certificate().Leaf
	require.NotEqual(t, old.SerialNumber, renewed.SerialNumber)
	require.Equal(t, now.Truncate(time.Second).Add(-15*time.Minute).UTC(), renewed.NotBefore)

	second := dialTunnel(t, tun)
	got, err = second.roundTrip(t, "after")
	require.NoError(t, err)
	require.Contains(t, got, " "+renewed.SerialNumber.String()+" after")

	got, err = first.roundTrip(t, "still")
	require.NoError(t, err)
	require.Contains(t, got, " "+old.SerialNumber.String()+" still")

	t.Run("a failed renewal keeps the certificate", func(t *testing.T) {
		bad := &Certifier{Key: c.Key, Hostname: "client", FileSystemID: testFS, Region: testRegion,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("expired token")
			}), Now: c.Now}
		tun.cfg.Certificate = bad.Certificate
		require.Error(t, tun.Renew(context.Background()))
		require.Equal(t, renewed, tun.Certificate().Leaf)
	})
	mt.noErrors(t)
}

func TestTunnelRefusesWrongServer(t *testing.T) {
	mt := newMountTarget(t, serverName())
	other := newMountTarget(t, serverName())
	now := time.Now()
	c := certifier(t, staticCreds(), &now)
	for _, tc := range []struct {
		name       string
		roots      *x509.CertPool
		serverName string
	}{
		{"another CA", other.pool(t), serverName()},
		{"another name", mt.pool(t), testFS + ".efs.eu-west-1.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tun := startTunnel(t, TunnelConfig{
				Target: fmt.Sprintf("127.0.0.1:%d", mt.port()), ServerName: tc.serverName, RootCAs: tc.roots,
				Certificate: c.Certificate,
			})
			_, err := dialTunnel(t, tun).roundTrip(t, "x")
			require.Error(t, err, "the tunnel closes the local connection")
			require.NotErrorIs(t, err, os.ErrDeadlineExceeded)
		})
	}
}

func TestTunnelFixedPortAndShutdown(t *testing.T) {
	mt := newMountTarget(t, serverName())
	now := time.Now()
	c := certifier(t, staticCreds(), &now)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	tun, err := NewTunnel(context.Background(), TunnelConfig{
		Port: port, Target: fmt.Sprintf("127.0.0.1:%d", mt.port()), ServerName: serverName(), RootCAs: mt.pool(t),
		Certificate: c.Certificate,
	})
	require.NoError(t, err)
	require.Equal(t, port, tun.Port())

	_, err = NewTunnel(context.Background(), TunnelConfig{
		Port: port, Target: "127.0.0.1:1", ServerName: serverName(), Certificate: c.Certificate,
	})
	require.ErrorContains(t, err, "tlsport")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tun.Serve(ctx) }()
	conn := dialTunnel(t, tun)
	_, err = conn.roundTrip(t, "x")
	require.NoError(t, err)
	cancel()
	require.NoError(t, <-done)
	_, err = conn.r.ReadString('\n')
	require.Error(t, err, "shutdown closes open connections")
}
