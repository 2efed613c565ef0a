package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/efscert"
)

func TestParseMountArgs(t *testing.T) {
	a, err := parseMountArgs([]string{"fs-0123456789abcdef0:/data", "/mnt", "-o", "tls,iam", "-onoac", "--state-dir=/tmp/s"})
	require.NoError(t, err)
	require.Equal(t, mountArgs{device: "fs-0123456789abcdef0:/data", mountPoint: "/mnt", options: "tls,iam,noac", listen: "127.0.0.1", stateDir: "/tmp/s"}, a)

	a, err = parseMountArgs([]string{"--tunnel-only", "--listen", "0.0.0.0", "fs-0123456789abcdef0", "-o", "tls"})
	require.NoError(t, err)
	require.True(t, a.tunnelOnly)
	require.Equal(t, "0.0.0.0", a.listen)

	for _, bad := range [][]string{
		{},
		{"fs-0123456789abcdef0"},
		{"fs-0123456789abcdef0", "/mnt", "extra"},
		{"fs-0123456789abcdef0", "/mnt", "-o"},
		{"fs-0123456789abcdef0", "/mnt", "--bogus"},
		{"--listen"},
	} {
		_, err := parseMountArgs(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestMountUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"fs-0123456789abcdef0", "/mnt", "-o", "iam"},
		{"fs-0123456789abcdef0", "/mnt", "-o", "accesspoint=fsap-0123456789abcdef0"},
		{"fs-0123456789abcdef0", "/mnt", "-o", "tls,tlsport=99999"},
		{"nope", "/mnt"},
		{"--tunnel-only", "fs-0123456789abcdef0", "-o", "mounttargetip=127.0.0.1,region=us-east-1"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, exitUsage, run(context.Background(), append([]string{"mount"}, args...), &out, &errb), "%q", args)
		require.NotEmpty(t, errb.String())
	}
}

type tunnelTestKey struct{}

func (tunnelTestKey) Lookup(_ context.Context, akid string) (edge.Principal, string, error) {
	if akid != "AKIAIOSFODNN7EXAMPLE" {
		return edge.Principal{}, "", edge.ErrUnknownAccessKey
	}
	return edge.Principal{ARN: "arn:aws:iam::123456789012:user/alice"}, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil
}

// TestTunnelOnly starts `shelf mount --tunnel-only` with credentials from
// the environment, as a user would, and sends a line through it to a TLS
// server on <mount target>:2049 that verifies the client certificate with
// efscert.Verify.
func TestTunnelOnly(t *testing.T) {
	const fsID = "fs-0123456789abcdef0"
	// A loopback address of its own, so that port 2049 is free.
	ip := fmt.Sprintf("127.%d.%d.%d", 100+mrand.IntN(100), mrand.IntN(250), 2+mrand.IntN(250))
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	name := fsID + ".efs.us-east-1.example.test"
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, srvKey.Public(), caKey)
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", net.JoinHostPort(ip, "2049"), &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequestClientCert,
	})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("listen on %s:2049: %v", ip, err)
		}
		t.Skipf("cannot listen on %s:2049 (needs permission to bind port 2049): %v", ip, err)
	}
	defer ln.Close()
	served := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			served <- err.Error()
			return
		}
		leaf := tc.ConnectionState().PeerCertificates[0]
		id, err := efscert.Verify(context.Background(), leaf, leaf.PublicKey, efscert.VerifyOptions{
			FileSystemID: fsID, Region: "us-east-1", Credentials: tunnelTestKey{},
		})
		if err != nil {
			served <- err.Error()
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "%s %s %s", id.Principal.ARN, id.AccessPointID, line)
		served <- "ok"
	}()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"mount", "--tunnel-only", fsID, "-o",
			"tls,iam,accesspoint=fsap-0123456789abcdef0,region=us-east-1,dnssuffix=example.test,mounttargetip=" + ip + ",cafile=" + caFile,
		}, outW, &stderr)
		outW.Close()
	}()
	portLine, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		<-code
		t.Fatalf("no port printed: %v; stderr: %s", err, stderr.String())
	}
	port, err := strconv.Atoi(strings.TrimSpace(portLine))
	require.NoError(t, err)
	require.GreaterOrEqual(t, port, 20049)
	require.LessOrEqual(t, port, 21049)

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(60*time.Second)))
	fmt.Fprintf(c, "hello\n")
	reply, err := bufio.NewReader(c).ReadString('\n')
	require.Equal(t, "ok", <-served)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:user/alice fsap-0123456789abcdef0 hello\n", reply)
	cancel()
	require.Equal(t, exitOK, <-code)
}
