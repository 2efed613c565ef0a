package trail

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Sealer seals the private keys with the root key (internal/kms.Manager's
// SealSecret and OpenSecret).
type Sealer interface {
	SealSecret(ctx context.Context, purpose string, plaintext []byte) ([]byte, error)
	OpenSecret(ctx context.Context, purpose string, sealed []byte) ([]byte, error)
}

// Key records, in the metadata store's system table:
//
//	'S' "trail/key/digest"   the RSA key that signs digests
//	'S' "trail/key/report"   the Ed25519 key that signs audit report manifests
//
// Each is a keyRecord in JSON: the public key in the clear, the private key
// sealed by the KMS root (purpose "cloudtrail <kind> signing key <fingerprint>").
// The keys are generated once and never leave the process in the clear.
var (
	digestKeyRecord = meta.SystemKey("trail/key/digest")
	reportKeyRecord = meta.SystemKey("trail/key/report")
)

const (
	keyRecordVersion = 1
	rsaBits          = 2048
	// keyValidity is the ValidityEndTime ListPublicKeys shows for a key
	// (keys are not rotated yet).
	keyValidity = 100 * 365 * 24 * time.Hour
)

type keyRecord struct {
	Version     int       `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Public      []byte    `json:"public"`
	Sealed      []byte    `json:"sealed"`
	Created     time.Time `json:"created"`
}

// PublicKey is a digest-signing public key as ListPublicKeys returns it.
type PublicKey struct {
	// DER is the key in PKCS#1 DER form (ListPublicKeys' Value).
	DER []byte
	// Fingerprint is the digestPublicKeyFingerprint of the digests it
	// signs: the first 16 bytes of SHA-256 of DER, in hex.
	Fingerprint   string
	ValidityStart time.Time
	ValidityEnd   time.Time
}

// RSA parses DER.
func (k PublicKey) RSA() (*rsa.PublicKey, error) { return x509.ParsePKCS1PublicKey(k.DER) }

// Fingerprint returns the fingerprint of a public key in DER form.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:16])
}

// keys are the opened signing keys.
type keys struct {
	digest    *rsa.PrivateKey
	digestPub PublicKey
	report    ed25519.PrivateKey
	reportFP  string
}

func loadOrCreateKey(ctx context.Context, m meta.Store, s Sealer, rnd io.Reader, now time.Time, rec []byte, kind string,
	generate func() (pub, priv []byte, err error)) (*keyRecord, []byte, error) {
	var kr *keyRecord
	err := m.View(ctx, func(r meta.Reader) error {
		v, err := r.Get(rec)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		kr = new(keyRecord)
		return json.Unmarshal(v, kr)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("trail: read %s key: %w", kind, err)
	}
	if kr == nil {
		pub, priv, err := generate()
		if err != nil {
			return nil, nil, fmt.Errorf("trail: generate %s key: %w", kind, err)
		}
		fp := Fingerprint(pub)
		sealed, err := s.SealSecret(ctx, purpose(kind, fp), priv)
		clear(priv)
		if err != nil {
			return nil, nil, fmt.Errorf("trail: seal %s key: %w", kind, err)
		}
		nk := &keyRecord{Version: keyRecordVersion, Fingerprint: fp, Public: pub, Sealed: sealed, Created: now.UTC().Truncate(time.Second)}
		val, _ := json.Marshal(nk)
		err = m.Update(ctx, func(t meta.Txn) error {
			v, err := t.Get(rec)
			switch {
			case err == nil: // created concurrently: keep that one
				kr = new(keyRecord)
				return json.Unmarshal(v, kr)
			case !errors.Is(err, meta.ErrNotFound):
				return err
			}
			kr = nk
			return t.Set(rec, val)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("trail: store %s key: %w", kind, err)
		}
	}
	if kr.Version != keyRecordVersion {
		return nil, nil, fmt.Errorf("trail: %s key record version %d unknown", kind, kr.Version)
	}
	priv, err := s.OpenSecret(ctx, purpose(kind, kr.Fingerprint), kr.Sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("trail: open %s key: %w", kind, err)
	}
	return kr, priv, nil
}

func purpose(kind, fp string) string { return "cloudtrail " + kind + " signing key " + fp }

func openKeys(ctx context.Context, m meta.Store, s Sealer, rnd io.Reader, now time.Time) (*keys, error) {
	kr, priv, err := loadOrCreateKey(ctx, m, s, rnd, now, digestKeyRecord, "digest", func() ([]byte, []byte, error) {
		k, err := rsa.GenerateKey(rnd, rsaBits)
		if err != nil {
			return nil, nil, err
		}
		return x509.MarshalPKCS1PublicKey(&k.PublicKey), x509.MarshalPKCS1PrivateKey(k), nil
	})
	if err != nil {
		return nil, err
	}
	dk, err := x509.ParsePKCS1PrivateKey(priv)
	clear(priv)
	if err != nil {
		return nil, fmt.Errorf("trail: digest key: %w", err)
	}
	out := &keys{digest: dk, digestPub: PublicKey{DER: kr.Public, Fingerprint: kr.Fingerprint, ValidityStart: kr.Created, ValidityEnd: kr.Created.Add(keyValidity)}}

	kr, priv, err = loadOrCreateKey(ctx, m, s, rnd, now, reportKeyRecord, "report", func() ([]byte, []byte, error) {
		pub, k, err := ed25519.GenerateKey(rnd)
		if err != nil {
			return nil, nil, err
		}
		return []byte(pub), k.Seed(), nil
	})
	if err != nil {
		return nil, err
	}
	if len(priv) != ed25519.SeedSize {
		return nil, errors.New("trail: report key has the wrong size")
	}
	out.report = ed25519.NewKeyFromSeed(priv)
	clear(priv)
	out.reportFP = kr.Fingerprint
	return out, nil
}

// ReadPublicKeys returns the digest public keys recorded in m, without
// opening any private key (for offline validation).
func ReadPublicKeys(ctx context.Context, m meta.Store) ([]PublicKey, error) {
	var out []PublicKey
	err := m.View(ctx, func(r meta.Reader) error {
		v, err := r.Get(digestKeyRecord)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var kr keyRecord
		if err := json.Unmarshal(v, &kr); err != nil {
			return err
		}
		out = append(out, PublicKey{DER: kr.Public, Fingerprint: kr.Fingerprint, ValidityStart: kr.Created, ValidityEnd: kr.Created.Add(keyValidity)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trail: read public keys: %w", err)
	}
	return out, nil
}

// signDigest signs the string to sign of a digest; it returns the hex
// signature.
func (k *keys) signDigest(rnd io.Reader, sts string) (string, error) {
	h := sha256.Sum256([]byte(sts))
	sig, err := rsa.SignPKCS1v15(rnd, k.digest, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("trail: sign digest: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// ManifestDomain starts every message the report key signs, so that a
// manifest signature can never pass for anything else.
const ManifestDomain = "shelf audit report manifest v1\n"

// ManifestSignature is a signed audit-report manifest.
type ManifestSignature struct {
	// Algorithm is "Ed25519".
	Algorithm string
	// PublicKey is the raw 32-byte Ed25519 public key.
	PublicKey   []byte
	Fingerprint string
	// Signature is over ManifestDomain followed by the manifest.
	Signature []byte
}

// VerifyManifest checks sig over manifest with the Ed25519 public key pub.
func VerifyManifest(pub, manifest, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), append([]byte(ManifestDomain), manifest...), sig)
}
