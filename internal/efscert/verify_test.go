package efscert

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/iam/users"
)

// The store of IAM users is a credential store for certificates too.
var _ Credentials = (*users.Store)(nil)

const (
	testFS     = "fs-0123456789abcdef0"
	testAP     = "fsap-0123456789abcdef0"
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testToken  = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=padding_and-dashes=="
	testRegion = "us-east-1"
)

var testDate = time.Date(2026, 3, 1, 10, 20, 30, 0, time.UTC)

var testPrincipal = edge.Principal{
	Account:     "123456789012",
	ARN:         "arn:aws:iam::123456789012:user/alice",
	UserName:    "alice",
	UserID:      "AIDAEXAMPLEALICE0001",
	AccessKeyID: testAKID,
}

// fakeCreds knows one access key.
type fakeCreds struct{ err error }

func (f fakeCreds) Lookup(_ context.Context, akid string) (edge.Principal, string, error) {
	if f.err != nil {
		return edge.Principal{}, "", f.err
	}
	if akid != testAKID {
		return edge.Principal{}, "", edge.ErrUnknownAccessKey
	}
	return testPrincipal, testSecret, nil
}

// fakeSessionCreds also resolves the one session token it knows.
type fakeSessionCreds struct{ fakeCreds }

func (f fakeSessionCreds) LookupSession(ctx context.Context, akid, token string) (edge.Principal, string, error) {
	if token != testToken {
		return edge.Principal{}, "", edge.ErrUnknownAccessKey
	}
	return f.Lookup(ctx, akid)
}

func readPEM(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk, name)
	return blk.Bytes
}

func opensslKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(readPEM(t, "privateKey.pem"))
	require.NoError(t, err)
	return k.(*rsa.PrivateKey)
}

func opensslCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEM(t, name))
	require.NoError(t, err)
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func opts(creds Credentials) VerifyOptions {
	return VerifyOptions{FileSystemID: testFS, Region: testRegion, Now: testDate.Add(time.Minute), Credentials: creds}
}

// TestOpenSSLCertificates verifies certificates made by openssl exactly as
// efs-utils makes them (testdata/gen.py).
func TestOpenSSLCertificates(t *testing.T) {
	key := opensslKey(t)
	t.Run("iam", func(t *testing.T) {
		id, err := Verify(context.Background(), opensslCert(t, "efs-utils-iam.pem"), key.Public(), opts(fakeCreds{}))
		require.NoError(t, err)
		require.Equal(t, Identity{
			FileSystemID:  testFS,
			AccessPointID: testAP,
			Principal:     testPrincipal,
			SignedAt:      testDate,
			ClientInfo:    ClientInfo{Source: "unknown", Version: "3.2.0"},
			NotAfter:      testDate.Add(3 * time.Hour),
		}, id)
	})
	t.Run("session token refused without session support", func(t *testing.T) {
		_, err := Verify(context.Background(), opensslCert(t, "efs-utils-iam-token.pem"), key.Public(), opts(fakeCreds{}))
		require.ErrorIs(t, err, ErrSessionTokenUnsupported)
	})
	t.Run("session token with session support", func(t *testing.T) {
		id, err := Verify(context.Background(), opensslCert(t, "efs-utils-iam-token.pem"), key.Public(), opts(fakeSessionCreds{}))
		require.NoError(t, err)
		require.Equal(t, testPrincipal, id.Principal)
	})
	t.Run("tls only is anonymous", func(t *testing.T) {
		id, err := Verify(context.Background(), opensslCert(t, "efs-utils-tls.pem"), key.Public(), opts(nil))
		require.NoError(t, err)
		require.True(t, id.Anonymous)
		require.Empty(t, id.AccessPointID)
		require.Equal(t, edge.Principal{}, id.Principal)
	})
}

// TestBuildMatchesOpenSSL: with the same key, time and inputs, Build's
// extensions, key identifier, names and validity are byte for byte those
// of the certificate openssl made the efs-utils way.
func TestBuildMatchesOpenSSL(t *testing.T) {
	key := opensslKey(t)
	for _, tc := range []struct {
		file  string
		token string
		iam   bool
		ap    string
	}{
		{"efs-utils-iam.pem", "", true, testAP},
		{"efs-utils-iam-token.pem", testToken, true, testAP},
		{"efs-utils-tls.pem", "", false, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want := opensslCert(t, tc.file)
			req := Request{
				Key: key, Hostname: "client.example.internal", FileSystemID: testFS, AccessPointID: tc.ap,
				Region: testRegion, ClientInfo: &ClientInfo{Source: "unknown", Version: "3.2.0"}, Now: testDate,
			}
			if tc.iam {
				req.Credentials = &AWSCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: tc.token}
			}
			got, err := Build(req)
			require.NoError(t, err)
			require.Equal(t, want.RawSubject, got.RawSubject)
			require.Equal(t, want.RawIssuer, got.RawIssuer)
			require.Equal(t, want.NotBefore, got.NotBefore)
			require.Equal(t, want.NotAfter, got.NotAfter)
			require.Equal(t, want.SubjectKeyId, got.SubjectKeyId)
			require.Equal(t, want.SignatureAlgorithm, got.SignatureAlgorithm)
			require.Equal(t, 3, got.Version)
			require.Equal(t, extensionsByOID(want), extensionsByOID(got))
		})
	}
}

func extensionsByOID(c *x509.Certificate) map[string]pkix.Extension {
	m := map[string]pkix.Extension{}
	for _, e := range c.Extensions {
		m[e.Id.String()] = e
	}
	return m
}

// resign copies cert's template, lets mutate change it and signs it again
// with key.
func resign(t *testing.T, cert *x509.Certificate, key crypto.Signer, mutate func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(7),
		Subject:            cert.Subject,
		NotBefore:          cert.NotBefore,
		NotAfter:           cert.NotAfter,
		SignatureAlgorithm: cert.SignatureAlgorithm,
		SubjectKeyId:       cert.SubjectKeyId,
	}
	for _, e := range cert.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 14}) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func setExt(tmpl *x509.Certificate, oid asn1.ObjectIdentifier, value []byte) {
	for i, e := range tmpl.ExtraExtensions {
		if e.Id.Equal(oid) {
			tmpl.ExtraExtensions[i].Value = value
			return
		}
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oid, Value: value})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	require.NoError(t, err)
	return b
}

func buildIAM(t testing.TB, key crypto.Signer, now time.Time) *x509.Certificate {
	t.Helper()
	c, err := Build(Request{
		Key: key, Hostname: "h", FileSystemID: testFS, AccessPointID: testAP, Region: testRegion,
		Credentials: &AWSCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		ClientInfo:  &ClientInfo{Source: "unknown", Version: "shelf-test"}, Now: now,
	})
	require.NoError(t, err)
	return c
}

func TestVerifyRefusals(t *testing.T) {
	key := ecKey(t)
	other := ecKey(t)
	good := buildIAM(t, key, testDate)
	iamClaim := func(c *x509.Certificate) IAMClaim {
		cl, err := Parse(c)
		require.NoError(t, err)
		return *cl.IAM
	}
	// reSignedIAM replaces the IAM extension by one signed over in with
	// the test secret, in a certificate re-signed with key.
	reSignedIAM := func(in signingInput, sig []byte) *x509.Certificate {
		return resign(t, good, key, func(tmpl *x509.Certificate) {
			setExt(tmpl, OIDIAM, mustMarshal(t, iamASN1{AccessKeyID: in.accessKeyID, Signature: sig, Date: in.date}))
		})
	}
	keyHash, err := PublicKeyHash(good.RawSubjectPublicKeyInfo)
	require.NoError(t, err)
	in := signingInput{publicKeyHash: keyHash, accessKeyID: testAKID, fileSystemID: testFS, region: testRegion, date: testDate}

	tests := []struct {
		name    string
		cert    *x509.Certificate
		peerKey crypto.PublicKey
		opts    func(*VerifyOptions)
		want    *Error
	}{
		{name: "tampered signature", cert: reSignedIAM(in, func() []byte {
			s := []byte(iamClaim(good).Signature)
			// Another hex digit: still 64 characters of hex.
			if s[10] == '0' {
				s[10] = '1'
			} else {
				s[10] = '0'
			}
			return s
		}()), want: ErrSignatureMismatch},
		{name: "wrong file system", cert: good, opts: func(o *VerifyOptions) { o.FileSystemID = "fs-00000000000000001" }, want: ErrWrongFileSystem},
		{name: "signed for another file system", cert: resign(t, good, key, func(tmpl *x509.Certificate) {
			setExt(tmpl, OIDFileSystemID, mustMarshal(t, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("fs-00000000000000001")}))
		}), opts: func(o *VerifyOptions) { o.FileSystemID = "fs-00000000000000001" }, want: ErrSignatureMismatch},
		{name: "wrong region", cert: good, opts: func(o *VerifyOptions) { o.Region = "eu-west-1" }, want: ErrSignatureMismatch},
		{name: "certificate expired", cert: good, opts: func(o *VerifyOptions) { o.Now = testDate.Add(3*time.Hour + 16*time.Minute) }, want: ErrExpired},
		{name: "certificate not yet valid", cert: good, opts: func(o *VerifyOptions) { o.Now = testDate.Add(-31 * time.Minute) }, want: ErrNotYetValid},
		{name: "signature expired in a long-lived certificate", cert: resign(t, good, key, func(tmpl *x509.Certificate) {
			tmpl.NotAfter = testDate.Add(72 * time.Hour)
		}), opts: func(o *VerifyOptions) { o.Now = testDate.Add(Expires + time.Second) }, want: ErrExpired},
		{name: "signature dated in the future", cert: reSignedIAM(func() signingInput {
			f := in
			f.date = testDate.Add(20 * time.Minute)
			return f
		}(), signature(func() signingInput { f := in; f.date = testDate.Add(20 * time.Minute); return f }(), testSecret)), want: ErrNotYetValid},
		{name: "key does not match", cert: good, peerKey: other.Public(), want: ErrKeyMismatch},
		{name: "no peer key", cert: good, peerKey: nil, want: ErrKeyMismatch},
		{name: "signature bound to another key", cert: resign(t, good, other, nil), peerKey: other.Public(), want: ErrSignatureMismatch},
		{name: "bad self-signature", cert: func() *x509.Certificate {
			der := append([]byte(nil), good.Raw...)
			der[len(der)-5] ^= 0xff
			c, err := x509.ParseCertificate(der)
			require.NoError(t, err)
			return c
		}(), want: ErrKeyMismatch},
		{name: "standard canonical request with the blank line", cert: reSignedIAM(in, func() []byte {
			// A verifier following the SigV4 documentation literally
			// would expect this signature; efs-utils never sends it.
			std := canonicalRequest(in)
			std = std[:len(std)-len("host\n"+emptyPayloadSHA256)] + "\nhost\n" + emptyPayloadSHA256
			require.Contains(t, std, "host:"+testFS+"\n\nhost\n")
			return hmacHex(t, in, std)
		}()), want: ErrSignatureMismatch},
		{name: "unknown access key", cert: reSignedIAM(func() signingInput { f := in; f.accessKeyID = "AKIAUNKNOWN000000000"; return f }(),
			signature(func() signingInput { f := in; f.accessKeyID = "AKIAUNKNOWN000000000"; return f }(), testSecret)), want: ErrUnknownAccessKey},
		{name: "credential store fails", cert: good, opts: func(o *VerifyOptions) { o.Credentials = fakeCreds{err: errors.New("disk on fire")} }, want: ErrInternal},
		{name: "no credential store", cert: good, opts: func(o *VerifyOptions) { o.Credentials = nil }, want: ErrInternal},
		{name: "no file-system extension", cert: resign(t, good, key, func(tmpl *x509.Certificate) {
			var keep []pkix.Extension
			for _, e := range tmpl.ExtraExtensions {
				if !e.Id.Equal(OIDFileSystemID) {
					keep = append(keep, e)
				}
			}
			tmpl.ExtraExtensions = keep
		}), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(fakeCreds{})
			if tt.opts != nil {
				tt.opts(&o)
			}
			peer := tt.peerKey
			if peer == nil && tt.name != "no peer key" {
				peer = tt.cert.PublicKey
			}
			_, err := Verify(context.Background(), tt.cert, peer, o)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.want, "%v", err)
			require.Equal(t, tt.want.Reason, ReasonOf(err))
		})
	}
}

func hmacHex(t *testing.T, in signingInput, canonical string) []byte {
	t.Helper()
	// signature() over an arbitrary canonical request.
	key := signingKeyFor(in, testSecret)
	return hmacSHA256Hex(key, stringToSign(in, canonical))
}

func TestVerifyAccepts(t *testing.T) {
	key := ecKey(t)
	good := buildIAM(t, key, testDate)
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"at signing", testDate},
		{"clock behind by the skew", testDate.Add(-14 * time.Minute)},
		{"near the end of the certificate", testDate.Add(3*time.Hour + 14*time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(fakeCreds{})
			o.Now = tc.now
			id, err := Verify(context.Background(), good, key.Public(), o)
			require.NoError(t, err)
			require.Equal(t, testPrincipal, id.Principal)
			require.Equal(t, testAP, id.AccessPointID)
			require.False(t, id.Anonymous)
			require.Equal(t, ClientInfo{Source: "unknown", Version: "shelf-test"}, id.ClientInfo)
		})
	}
	t.Run("signature valid for a day in a long-lived certificate", func(t *testing.T) {
		c := resign(t, good, key, func(tmpl *x509.Certificate) { tmpl.NotAfter = testDate.Add(72 * time.Hour) })
		o := opts(fakeCreds{})
		o.Now = testDate.Add(Expires - time.Second)
		_, err := Verify(context.Background(), c, key.Public(), o)
		require.NoError(t, err)
	})
	t.Run("rsa key", func(t *testing.T) {
		k := opensslKey(t)
		c := buildIAM(t, k, testDate)
		_, err := Verify(context.Background(), c, k.Public(), opts(fakeCreds{}))
		require.NoError(t, err)
	})
}

func TestBuildRefusesBadInput(t *testing.T) {
	key := ecKey(t)
	base := Request{Key: key, Hostname: "h", FileSystemID: testFS, Region: testRegion, Now: testDate}
	tests := []struct {
		name string
		edit func(*Request)
	}{
		{"no key", func(r *Request) { r.Key = nil }},
		{"bad file system", func(r *Request) { r.FileSystemID = "fs-XYZ" }},
		{"bad access point", func(r *Request) { r.AccessPointID = "fsap-1" }},
		{"no time", func(r *Request) { r.Now = time.Time{} }},
		{"bad access key", func(r *Request) {
			r.Credentials = &AWSCredentials{AccessKeyID: "AKID\n", SecretAccessKey: "s"}
		}},
		{"bad session token", func(r *Request) {
			r.Credentials = &AWSCredentials{AccessKeyID: testAKID, SecretAccessKey: "s", SessionToken: "a b"}
		}},
		{"no region", func(r *Request) {
			r.Region = ""
			r.Credentials = &AWSCredentials{AccessKeyID: testAKID, SecretAccessKey: "s"}
		}},
		{"client info not ASCII", func(r *Request) { r.ClientInfo = &ClientInfo{Source: "é", Version: "1"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			_, err := Build(r)
			require.Error(t, err)
		})
	}
}

func TestBuildShape(t *testing.T) {
	key := ecKey(t)
	long := "a-very-long-host-name-that-goes-on-and-on-and-on-and-on-and-on-and-on.example"
	c, err := Build(Request{Key: key, Hostname: long, FileSystemID: testFS, Now: testDate.Add(500 * time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, long[:64], c.Subject.CommonName)
	require.Equal(t, c.RawSubject, c.RawIssuer)
	require.Equal(t, testDate.Add(-15*time.Minute), c.NotBefore)
	require.Equal(t, testDate.Add(3*time.Hour), c.NotAfter)
	require.Equal(t, x509.ECDSAWithSHA256, c.SignatureAlgorithm)
	for _, e := range c.Extensions {
		require.False(t, e.Critical, e.Id.String())
	}
	cl, err := Parse(c)
	require.NoError(t, err)
	require.Equal(t, Claims{FileSystemID: testFS}, cl)
	require.Equal(t, "h\u00e9", truncateUTF8("h\u00e9\u00e9", 3))
}
