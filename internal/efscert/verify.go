package efscert

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/x509"
	"errors"
	"time"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/sigv4"
)

// DefaultMaxSkew is the clock skew allowed when MaxSkew is zero: SigV4's
// 15 minutes.
const DefaultMaxSkew = sigv4.MaxClockSkew

// Credentials resolves the access key of an IAM extension, exactly as the
// HTTP edge does (internal/iam/users implements it). Lookup returns an error
// wrapping edge.ErrUnknownAccessKey for a key that does not exist or is not
// active; any other error is an internal failure. It is called
// concurrently.
type Credentials interface {
	Lookup(ctx context.Context, accessKeyID string) (p edge.Principal, secret string, err error)
}

// SessionCredentials is implemented by a credential store that can resolve
// temporary credentials: an access key together with its STS session token.
// It must verify that the token belongs to the key and is unexpired.
// Without it, Verify refuses every certificate that carries a session token
// (ReasonSessionTokenUnsupported): shelf does not issue or check session
// tokens yet, and accepting a token it cannot check would let a stolen
// temporary key outlive its session.
type SessionCredentials interface {
	LookupSession(ctx context.Context, accessKeyID, sessionToken string) (p edge.Principal, secret string, err error)
}

// VerifyOptions are the server's side of a verification.
type VerifyOptions struct {
	// FileSystemID is the file system the connection is for; extension 7.3
	// must name it.
	FileSystemID string
	// Region is the server's region: the region of the signature's
	// credential scope (it is not in the certificate).
	Region string
	// Now is the server's time; zero means time.Now().
	Now time.Time
	// MaxSkew is the clock skew allowed on every time check; zero means
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// Credentials resolves access keys. It may be nil when no IAM extension
	// is expected; a certificate with one is then refused as internal.
	Credentials Credentials
}

// Identity is who a verified certificate speaks for.
type Identity struct {
	// FileSystemID is extension 7.3 (equal to VerifyOptions.FileSystemID).
	FileSystemID string
	// AccessPointID is extension 7.1, "" when the mount names none.
	AccessPointID string
	// Anonymous is true when the certificate has no IAM extension: the
	// client is evaluated as the anonymous principal, as at EFS.
	Anonymous bool
	// Principal is the owner of the access key; zero when Anonymous.
	Principal edge.Principal
	// SignedAt is the signature's X-Amz-Date; zero when Anonymous.
	SignedAt time.Time
	// ClientInfo is extension 7.4 (zero when absent).
	ClientInfo ClientInfo
	// NotAfter is when the certificate expires. A server may re-check a
	// long-lived connection's identity against it.
	NotAfter time.Time
}

// Verify checks the certificate a client presented in a TLS handshake, the
// way efs-utils' certificate must be checked (aws/efs-utils
// certificate_utils.py is the only public description; the server side is
// inferred from it):
//
//  1. the efs-utils extensions parse (Parse);
//  2. extension 7.3 names opts.FileSystemID;
//  3. peerKey — the key the client proved it holds in the handshake, the
//     leaf's public key as crypto/tls reports it — is the certificate's
//     key, and the certificate's self-signature is valid;
//  4. now lies within the certificate's validity, widened by MaxSkew;
//  5. with an IAM extension: its date is not later than now+MaxSkew and
//     not older than 86400 s (X-Amz-Expires); the access key resolves; the
//     canonical request is rebuilt byte for byte with PublicKeyHash
//     computed from the certificate's key, host = the file-system ID and
//     the credential scope in opts.Region; and the HMAC matches, compared in
//     constant time.
//
// Without an IAM extension the identity is anonymous. Refusals are *Error
// values (ReasonOf gives the reason); a failing credential store gives
// ReasonInternal wrapping its error. Verify is safe for concurrent use.
func Verify(ctx context.Context, cert *x509.Certificate, peerKey crypto.PublicKey, opts VerifyOptions) (Identity, error) {
	if cert == nil {
		return Identity{}, refusef(ReasonMalformed, "no certificate")
	}
	claims, err := Parse(cert)
	if err != nil {
		return Identity{}, err
	}
	if claims.FileSystemID != opts.FileSystemID {
		return Identity{}, refusef(ReasonWrongFileSystem, "the certificate is for %s, not %s", claims.FileSystemID, printable(opts.FileSystemID))
	}
	if err := checkKey(cert, peerKey); err != nil {
		return Identity{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := opts.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if now.Add(skew).Before(cert.NotBefore) {
		return Identity{}, refusef(ReasonNotYetValid, "the certificate is valid from %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.Add(-skew).After(cert.NotAfter) {
		return Identity{}, refusef(ReasonExpired, "the certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	id := Identity{
		FileSystemID:  claims.FileSystemID,
		AccessPointID: claims.AccessPointID,
		NotAfter:      cert.NotAfter,
	}
	if claims.ClientInfo != nil {
		id.ClientInfo = *claims.ClientInfo
	}
	if claims.IAM == nil {
		id.Anonymous = true
		return id, nil
	}
	p, err := verifyIAM(ctx, cert, claims, opts, now, skew)
	if err != nil {
		return Identity{}, err
	}
	id.Principal = p
	id.SignedAt = claims.IAM.Date
	return id, nil
}

// checkKey proves that the certificate belongs to the TLS peer.
func checkKey(cert *x509.Certificate, peerKey crypto.PublicKey) error {
	k, ok := peerKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || peerKey == nil || !k.Equal(cert.PublicKey) {
		return refusef(ReasonKeyMismatch, "the key proven in the TLS handshake is not the certificate's key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return &Error{Reason: ReasonKeyMismatch, Message: "the certificate's self-signature is invalid", Err: err}
	}
	return nil
}

func verifyIAM(ctx context.Context, cert *x509.Certificate, claims Claims, opts VerifyOptions, now time.Time, skew time.Duration) (edge.Principal, error) {
	c := claims.IAM
	if c.Date.After(now.Add(skew)) {
		return edge.Principal{}, refusef(ReasonNotYetValid, "the signature is dated %s, in the future", c.Date.Format(sigv4TimeFormat))
	}
	if now.After(c.Date.Add(Expires)) {
		return edge.Principal{}, refusef(ReasonExpired, "the signature dated %s expired after %s", c.Date.Format(sigv4TimeFormat), Expires)
	}
	if opts.Credentials == nil {
		return edge.Principal{}, refusef(ReasonInternal, "no credential store to resolve access keys")
	}
	var (
		p      edge.Principal
		secret string
		err    error
	)
	if c.SessionToken != "" {
		sc, ok := opts.Credentials.(SessionCredentials)
		if !ok {
			return edge.Principal{}, refusef(ReasonSessionTokenUnsupported, "session tokens (temporary credentials) are not accepted; sign with a long-term access key")
		}
		p, secret, err = sc.LookupSession(ctx, c.AccessKeyID, c.SessionToken)
	} else {
		p, secret, err = opts.Credentials.Lookup(ctx, c.AccessKeyID)
	}
	switch {
	case errors.Is(err, edge.ErrUnknownAccessKey):
		return edge.Principal{}, &Error{Reason: ReasonUnknownAccessKey, Message: "access key " + printable(c.AccessKeyID) + " is unknown or inactive"}
	case err != nil:
		return edge.Principal{}, &Error{Reason: ReasonInternal, Message: "look up access key", Err: err}
	}
	keyHash, herr := PublicKeyHash(cert.RawSubjectPublicKeyInfo)
	if herr != nil {
		return edge.Principal{}, &Error{Reason: ReasonMalformed, Message: "subjectPublicKeyInfo", Err: herr}
	}
	want := signature(signingInput{
		publicKeyHash: keyHash,
		accessKeyID:   c.AccessKeyID,
		sessionToken:  c.SessionToken,
		fileSystemID:  claims.FileSystemID,
		region:        opts.Region,
		date:          c.Date,
	}, secret)
	if !hmac.Equal(want, []byte(c.Signature)) {
		return edge.Principal{}, refusef(ReasonSignatureMismatch, "the IAM signature does not match (access key %s, region %s)", printable(c.AccessKeyID), printable(opts.Region))
	}
	return p, nil
}
