package efscert

import (
	"crypto/hmac"
	"crypto/sha1" // efs-utils' PublicKeyHash: a key identifier (RFC 5280 §4.2.1.2), not a security hash
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

// Service is the SigV4 signing name of the embedded signature.
const Service = "elasticfilesystem"

// Expires is the lifetime of the embedded signature from its date: the
// X-Amz-Expires=86400 that efs-utils signs.
const Expires = 86400 * time.Second

// The fixed parts of efs-utils' virtual request (constants.py).
const (
	algorithm    = sigv4.Algorithm
	action       = "Connect"
	expiresParam = "86400"
	// emptyPayloadSHA256 is the hex SHA-256 of the empty payload.
	emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sigv4TimeFormat    = "20060102T150405Z"
	sigv4DateFormat    = "20060102"
)

// signingInput is everything the embedded signature covers.
type signingInput struct {
	publicKeyHash string // hex SHA-1 of the subjectPublicKey bits
	accessKeyID   string
	sessionToken  string // "" when absent
	fileSystemID  string
	region        string
	date          time.Time // UTC, whole seconds
}

// scope is the SigV4 credential scope date/region/service/aws4_request.
func (in signingInput) scope() string {
	return in.date.Format(sigv4DateFormat) + "/" + in.region + "/" + Service + "/aws4_request"
}

// canonicalRequest returns the canonical request exactly as efs-utils'
// create_canonical_request builds it: parameters sorted by name, values
// passed through Python's quote_plus, `host` set to the file-system ID and
// no blank line between the canonical header and the signed-headers line.
func canonicalRequest(in signingInput) string {
	var b strings.Builder
	b.WriteString("GET\n/\n")
	b.WriteString("Action=" + action)
	b.WriteString("&PublicKeyHash=" + quotePlus(in.publicKeyHash))
	b.WriteString("&X-Amz-Algorithm=" + algorithm)
	b.WriteString("&X-Amz-Credential=" + quotePlus(in.accessKeyID+"/"+in.scope()))
	b.WriteString("&X-Amz-Date=" + quotePlus(in.date.Format(sigv4TimeFormat)))
	b.WriteString("&X-Amz-Expires=" + expiresParam)
	if in.sessionToken != "" {
		b.WriteString("&X-Amz-Security-Token=" + quotePlus(in.sessionToken))
	}
	b.WriteString("&X-Amz-SignedHeaders=host\n")
	b.WriteString("host:" + in.fileSystemID + "\n")
	b.WriteString("host\n")
	b.WriteString(emptyPayloadSHA256)
	return b.String()
}

// stringToSign is the standard SigV4 string to sign of a canonical request.
func stringToSign(in signingInput, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return algorithm + "\n" + in.date.Format(sigv4TimeFormat) + "\n" + in.scope() + "\n" + hex.EncodeToString(sum[:])
}

// signature returns the lower-case hex signature of in under secret.
func signature(in signingInput, secret string) []byte {
	key := sigv4.SigningKey(secret, in.date.Format(sigv4DateFormat), in.region, Service)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(stringToSign(in, canonicalRequest(in))))
	out := make([]byte, hex.EncodedLen(m.Size()))
	hex.Encode(out, m.Sum(nil))
	return out
}

// quotePlus encodes s as Python's urllib.parse.quote_plus(s) does (safe=""):
// letters, digits and "_.-~" stay, a space becomes "+", every other byte of
// the UTF-8 encoding becomes %XX with upper-case hex.
func quotePlus(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '.', c == '-', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return b.String()
}

// subjectPublicKeyInfo is RFC 5280's SubjectPublicKeyInfo.
type subjectPublicKeyInfo struct {
	Algorithm asn1.RawValue
	PublicKey asn1.BitString
}

// PublicKeyHash returns the hex SHA-1 of the subjectPublicKey BIT STRING of
// a DER SubjectPublicKeyInfo, without its unused-bits byte (RFC 5280
// §4.2.1.2 method 1): efs-utils' PublicKeyHash, and the certificate's
// subjectKeyIdentifier.
func PublicKeyHash(spkiDER []byte) (string, error) {
	sum, err := publicKeySHA1(spkiDER)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum), nil
}

func publicKeySHA1(spkiDER []byte) ([]byte, error) {
	var spki subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(spkiDER, &spki)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after SubjectPublicKeyInfo")
	}
	if spki.PublicKey.BitLength%8 != 0 {
		return nil, errors.New("subjectPublicKey is not a whole number of bytes")
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}
