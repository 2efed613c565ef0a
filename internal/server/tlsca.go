package server

import (
	"bytes"
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
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/atomicfile"
	"github.com/shelf-efs/shelf/internal/meta"
)

// CAFileName is the file in the data directory that holds the certificate
// of shelf's NFS certificate authority (PEM), which `shelf mount -o
// tls,cafile=…` and stunnel's CAfile trust.
const CAFileName = "ca.pem"

// nfsCARecord holds the CA's private key (PKCS #8 DER, sealed by the KMS
// under the root key, purpose nfsCAPurpose) and certificate (DER), so that
// the CA, and the trust clients put in it, survives restarts.
var nfsCARecord = meta.SystemKey("nfs-ca")

const nfsCAPurpose = "nfs-ca"

// Lifetimes of the CA and of the server certificates it issues. Server
// certificates live in memory only and are issued again well before they
// expire.
const (
	caLifetime       = 20 * 365 * 24 * time.Hour
	leafLifetime     = 30 * 24 * time.Hour
	leafRenewBefore  = 7 * 24 * time.Hour
	leafBackdate     = time.Hour
	maxCachedLeaves  = 4096
	caRecordVersion1 = 1
)

// nfsCA issues the server certificates of the NFS listeners.
type nfsCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	region string
	domain string

	mu     sync.Mutex
	leaves map[string]*tls.Certificate // by file system and local address
}

// openNFSCA loads the CA from the store, making it on first start, and
// writes its certificate to <data-dir>/ca.pem.
func (s *Server) openNFSCA(ctx context.Context) (*nfsCA, error) {
	rec, err := s.loadCARecord(ctx)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if rec, err = s.makeCARecord(ctx); err != nil {
			return nil, err
		}
	}
	if len(rec) < 5 || rec[0] != caRecordVersion1 {
		return nil, errors.New("server: nfs ca: stored record has an unknown format")
	}
	n := int(rec[1])<<24 | int(rec[2])<<16 | int(rec[3])<<8 | int(rec[4])
	if n > len(rec)-5 {
		return nil, errors.New("server: nfs ca: stored record is truncated")
	}
	sealed, der := rec[5:5+n], rec[5+n:]
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	keyDER, err := s.kms.OpenSecret(ctx, nfsCAPurpose, sealed)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	clear(keyDER)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("server: nfs ca: stored key does not match the certificate")
	}
	ca := &nfsCA{cert: cert, key: key, region: s.cfg.Region, domain: s.cfg.NFS.TLS.Domain, leaves: map[string]*tls.Certificate{}}
	if err := atomicfile.Write(filepath.Join(s.dataDir, CAFileName), ca.PEM(), 0o644); err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	return ca, nil
}

func (s *Server) loadCARecord(ctx context.Context) ([]byte, error) {
	var rec []byte
	err := s.meta.View(ctx, func(r meta.Reader) error {
		b, err := r.Get(nfsCARecord)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		rec = bytes.Clone(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	return rec, nil
}

// makeCARecord makes a CA and stores it, unless another process stored one
// first; it returns the stored record.
func (s *Server) makeCARecord(ctx context.Context) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"shelf"}, CommonName: "shelf NFS CA " + s.account + " " + s.cfg.Region},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	sealed, err := s.kms.SealSecret(ctx, nfsCAPurpose, keyDER)
	clear(keyDER)
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	n := len(sealed)
	fresh := append([]byte{caRecordVersion1, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, sealed...)
	fresh = append(fresh, der...)
	var rec []byte
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		b, err := t.Get(nfsCARecord)
		switch {
		case err == nil:
			rec = bytes.Clone(b)
			return nil
		case !errors.Is(err, meta.ErrNotFound):
			return err
		}
		rec = fresh
		return t.Set(nfsCARecord, fresh)
	})
	if err != nil {
		return nil, fmt.Errorf("server: nfs ca: %w", err)
	}
	s.log.Info("nfs certificate authority created", "ca_file", filepath.Join(s.dataDir, CAFileName))
	return rec, nil
}

// PEM returns the CA certificate in PEM.
func (ca *nfsCA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Names returns the DNS names a server certificate of fsID carries: the
// file system's name and every zone-specific name below it, as EFS's DNS
// has them (<fs-id>.efs.<region>.<domain>, <az>.<fs-id>.efs.…).
func (ca *nfsCA) Names(fsID string) []string {
	name := fsID + ".efs." + ca.region + "." + ca.domain
	return []string{name, "*." + name}
}

// certificate returns the server certificate of fsID for a listener on
// local, issuing it when there is none or it is about to expire.
func (ca *nfsCA) certificate(fsID string, local netip.Addr) (*tls.Certificate, error) {
	key := fsID + "|" + local.String()
	now := time.Now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves[key]; ok && now.Add(leafRenewBefore).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{Organization: []string{"shelf"}, CommonName: ca.Names(fsID)[0]},
		DNSNames:     ca.Names(fsID),
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if local.IsValid() && !local.IsUnspecified() {
		tmpl.IPAddresses = []net.IP{local.AsSlice()}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: leafKey, Leaf: leaf}
	if len(ca.leaves) >= maxCachedLeaves {
		clear(ca.leaves)
	}
	ca.leaves[key] = c
	return c, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("server: crypto/rand failed: %v", err)) // never happens on Linux
	}
	return n
}
