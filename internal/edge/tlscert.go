package edge

// TLS for the edge: a certificate from configured PEM files, or a
// self-signed one that shelfd generates once and keeps in the data
// directory. Generating a certificate is transport setup, not the
// encryption of stored data that internal/kms and internal/data own.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/shelf-efs/shelf/internal/atomicfile"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/shelf-efs/shelf/internal/config"
)

// Names of the self-signed certificate inside the data directory.
const (
	tlsDirName      = "tls"
	selfCertName    = "api-cert.pem"
	selfKeyName     = "api-key.pem"
	selfCertValid   = 397 * 24 * time.Hour // what browsers accept for a leaf
	selfCertRenewIn = 30 * 24 * time.Hour  // regenerate when less is left
)

// loadTLS returns the server TLS configuration for cfg and the serving
// certificate in PEM.
func loadTLS(cfg config.API, dataDir string, now time.Time, log *slog.Logger) (*tls.Config, []byte, error) {
	certFile, keyFile := cfg.TLS.CertFile, cfg.TLS.KeyFile
	if cfg.TLS.SelfSigned {
		if dataDir == "" {
			return nil, nil, errors.New("edge: a self-signed certificate needs a data directory")
		}
		dir := filepath.Join(dataDir, tlsDirName)
		certFile, keyFile = filepath.Join(dir, selfCertName), filepath.Join(dir, selfKeyName)
		if err := ensureSelfSigned(dir, certFile, keyFile, cfg.Listen, now, log); err != nil {
			return nil, nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("edge: load TLS certificate: %w", err)
	}
	var certPEM bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, certPEM.Bytes(), nil
}

// ensureSelfSigned keeps a valid self-signed certificate in certFile and
// keyFile, generating a new one when they are missing, unreadable, or about
// to expire.
func ensureSelfSigned(dir, certFile, keyFile, listen string, now time.Time, log *slog.Logger) error {
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && c.Leaf != nil && now.Add(selfCertRenewIn).Before(c.Leaf.NotAfter) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("edge: TLS directory: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(listen, now)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return err
	}
	log.Info("self-signed API certificate created; clients must trust it (aws --ca-bundle)", "cert_file", certFile)
	return nil
}

// selfSigned makes an ECDSA P-256 certificate for localhost, the loopback
// addresses and the listen host.
func selfSigned(listen string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("edge: generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("edge: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "shelfd API", Organization: []string{"shelf"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfCertValid),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that clients can use it as its own CA bundle
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() && !ip.IsLoopback() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("edge: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("edge: encode TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes data to path whole or not at all.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := atomicfile.Write(path, data, mode); err != nil {
		return fmt.Errorf("edge: write %s: %w", filepath.Base(path), err)
	}
	return nil
}
