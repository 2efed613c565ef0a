package efscert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
	"unicode/utf8"
)

// The validity window of a certificate around its signing time, as
// efs-utils sets it (NOT_BEFORE_MINS, NOT_AFTER_HOURS).
const (
	NotBeforeSkew = 15 * time.Minute
	Lifetime      = 3 * time.Hour
)

// KeyBits is the RSA key size efs-utils generates (openssl genpkey
// rsa_keygen_bits:3072).
const KeyBits = 3072

// maxCommonNameBytes is X.520's ub-common-name; efs-utils truncates the
// host name to it.
const maxCommonNameBytes = 64

// AWSCredentials sign the IAM extension.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is "" for long-term credentials.
	SessionToken string
}

// Request describes one certificate.
type Request struct {
	// Key is the certificate's key: RSA (efs-utils uses RSA-3072, see
	// GenerateKey) or ECDSA.
	Key crypto.Signer
	// Hostname becomes the subject and issuer CN, truncated to 64 bytes.
	// It must be valid UTF-8.
	Hostname string
	// FileSystemID goes to extension 7.3 and is the signature's host.
	FileSystemID string
	// AccessPointID goes to extension 7.1; "" leaves it out.
	AccessPointID string
	// Credentials sign extension 7.2; nil leaves it out (a mount without
	// -o iam).
	Credentials *AWSCredentials
	// Region is the region of the signature's credential scope; required
	// with Credentials.
	Region string
	// ClientInfo goes to extension 7.4; nil leaves it out (efs-utils always
	// sends it).
	ClientInfo *ClientInfo
	// Now is the signing time; the certificate is valid from Now-15 min to
	// Now+3 h and the signature is dated Now (whole seconds, UTC).
	Now time.Time
	// Rand is the source of the serial number and of signing randomness;
	// nil means crypto/rand.
	Rand io.Reader
}

// GenerateKey makes an RSA-3072 key, as efs-utils does.
func GenerateKey(random io.Reader) (*rsa.PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	return rsa.GenerateKey(random, KeyBits)
}

// Build makes a certificate as efs-utils v3.2.0 does (certificate_utils.py
// create_certificate): self-signed X.509 v3 with SHA-256, CN=<hostname>,
// notBefore Now-15 min, notAfter Now+3 h, a subjectKeyIdentifier and the
// non-critical extensions 7.1 (optional), 7.2 (optional), 7.3 and 7.4
// (optional). The serial number is random (efs-utils' openssl ca counts
// from 0 per mount; nothing checks it). It returns the parsed certificate;
// its Raw field is the DER.
func Build(req Request) (*x509.Certificate, error) {
	if req.Key == nil {
		return nil, errors.New("efscert: build: no key")
	}
	var sigAlg x509.SignatureAlgorithm
	switch req.Key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg = x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		sigAlg = x509.ECDSAWithSHA256
	default:
		return nil, fmt.Errorf("efscert: build: unsupported key type %T (RSA or ECDSA)", req.Key.Public())
	}
	if !fileSystemIDPattern.MatchString(req.FileSystemID) {
		return nil, fmt.Errorf("efscert: build: %q is not a file-system ID", req.FileSystemID)
	}
	if req.AccessPointID != "" && !accessPointIDPattern.MatchString(req.AccessPointID) {
		return nil, fmt.Errorf("efscert: build: %q is not an access point ID", req.AccessPointID)
	}
	if !utf8.ValidString(req.Hostname) {
		return nil, errors.New("efscert: build: the host name is not valid UTF-8")
	}
	if req.Now.IsZero() {
		return nil, errors.New("efscert: build: no signing time")
	}
	random := req.Rand
	if random == nil {
		random = rand.Reader
	}
	now := req.Now.UTC().Truncate(time.Second)

	spki, err := x509.MarshalPKIXPublicKey(req.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("efscert: build: %w", err)
	}
	keyID, err := publicKeySHA1(spki)
	if err != nil {
		return nil, fmt.Errorf("efscert: build: %w", err)
	}

	var exts []pkix.Extension
	if req.AccessPointID != "" {
		v, err := asn1.MarshalWithParams(req.AccessPointID, "utf8")
		if err != nil {
			return nil, fmt.Errorf("efscert: build: access point: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: OIDAccessPoint, Value: v})
	}
	if req.Credentials != nil {
		v, err := iamExtension(req.Credentials, signingInput{
			publicKeyHash: fmt.Sprintf("%x", keyID),
			accessKeyID:   req.Credentials.AccessKeyID,
			sessionToken:  req.Credentials.SessionToken,
			fileSystemID:  req.FileSystemID,
			region:        req.Region,
			date:          now,
		})
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: OIDIAM, Value: v})
	}
	fsID, err := asn1.MarshalWithParams(req.FileSystemID, "utf8")
	if err != nil {
		return nil, fmt.Errorf("efscert: build: file-system ID: %w", err)
	}
	exts = append(exts, pkix.Extension{Id: OIDFileSystemID, Value: fsID})
	if req.ClientInfo != nil {
		ci := *req.ClientInfo
		if len(ci.Source) > maxClientInfoFieldBytes || len(ci.Version) > maxClientInfoFieldBytes ||
			!clientInfoTextPattern.MatchString(ci.Source) || !clientInfoTextPattern.MatchString(ci.Version) {
			return nil, errors.New("efscert: build: client info must be printable ASCII of at most 128 characters")
		}
		v, err := asn1.Marshal(struct {
			Source  string `asn1:"utf8"`
			Version string `asn1:"utf8"`
		}{ci.Source, ci.Version})
		if err != nil {
			return nil, fmt.Errorf("efscert: build: client info: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: OIDClientInfo, Value: v})
	}

	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("efscert: build: serial: %w", err)
	}
	// openssl writes the CN as a UTF8String (string_mask utf8only);
	// crypto/x509 would pick PrintableString, so the name is encoded here.
	name, err := asn1.Marshal(pkix.RDNSequence{{{
		Type:  asn1.ObjectIdentifier{2, 5, 4, 3},
		Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(truncateUTF8(req.Hostname, maxCommonNameBytes))},
	}}})
	if err != nil {
		return nil, fmt.Errorf("efscert: build: subject: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial.Add(serial, big.NewInt(1)),
		RawSubject:         name,
		NotBefore:          now.Add(-NotBeforeSkew),
		NotAfter:           now.Add(Lifetime),
		SignatureAlgorithm: sigAlg,
		SubjectKeyId:       keyID,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, req.Key.Public(), req.Key)
	if err != nil {
		return nil, fmt.Errorf("efscert: build: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("efscert: build: parse: %w", err)
	}
	return cert, nil
}

// iamExtension signs in and encodes extension 7.2.
func iamExtension(c *AWSCredentials, in signingInput) ([]byte, error) {
	if !accessKeyIDPattern.MatchString(c.AccessKeyID) {
		return nil, errors.New("efscert: build: the access key ID is malformed")
	}
	if c.SessionToken != "" && (len(c.SessionToken) > maxSessionTokenBytes || !sessionTokenPattern.MatchString(c.SessionToken)) {
		return nil, errors.New("efscert: build: the session token is malformed")
	}
	if c.SecretAccessKey == "" {
		return nil, errors.New("efscert: build: no secret access key")
	}
	if in.region == "" {
		return nil, errors.New("efscert: build: no region to sign for")
	}
	v, err := asn1.Marshal(iamASN1{
		AccessKeyID:  c.AccessKeyID,
		Signature:    signature(in, c.SecretAccessKey),
		Date:         in.date,
		SessionToken: c.SessionToken,
	})
	if err != nil {
		return nil, fmt.Errorf("efscert: build: IAM extension: %w", err)
	}
	if len(v) > maxIAMExtensionBytes {
		return nil, errors.New("efscert: build: the IAM extension is too large")
	}
	return v, nil
}

// iamASN1 is the DER layout of extension 7.2.
type iamASN1 struct {
	AccessKeyID  string    `asn1:"utf8"`
	Signature    []byte    // OCTET STRING of the ASCII hex signature
	Date         time.Time `asn1:"utc"`
	SessionToken string    `asn1:"optional,explicit,tag:0,utf8"`
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
