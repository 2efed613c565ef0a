package efscert

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse: arbitrary extension values never panic, every refusal is a
// ReasonMalformed *Error, and whatever parses is in canonical DER: encoding
// the claims again gives back the very bytes (so no two encodings of one
// claim are accepted).
func FuzzParse(f *testing.F) {
	f.Add(utf8DER(testFS), utf8DER(testAP), iamDER(testAKID, goodHex, "260301102030Z", tlv(0x0c, []byte(testToken))),
		tlv(0x30, tlv(0x0c, []byte("unknown")), tlv(0x0c, []byte("3.2.0"))))
	f.Add(utf8DER(testFS), []byte(nil), iamDER(testAKID, goodHex, "260301102030Z", nil), []byte(nil))
	f.Add([]byte{0x0c, 0x81, 0x01, 'a'}, []byte{0x0c}, []byte{0x30, 0x80, 0, 0}, []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, fsv, apv, iamv, infov []byte) {
		exts := []pkix.Extension{{Id: OIDFileSystemID, Value: fsv}}
		if apv != nil {
			exts = append(exts, pkix.Extension{Id: OIDAccessPoint, Value: apv})
		}
		if iamv != nil {
			exts = append(exts, pkix.Extension{Id: OIDIAM, Value: iamv})
		}
		if infov != nil {
			exts = append(exts, pkix.Extension{Id: OIDClientInfo, Value: infov})
		}
		cl, err := Parse(&x509.Certificate{Extensions: exts})
		if err != nil {
			require.Equal(t, ReasonMalformed, ReasonOf(err), "%v", err)
			return
		}
		mustEqual := func(want []byte, v any, params string) {
			got, err := asn1.MarshalWithParams(v, params)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "%x re-encodes as %x", want, got)
		}
		mustEqual(fsv, cl.FileSystemID, "utf8")
		if apv != nil {
			mustEqual(apv, cl.AccessPointID, "utf8")
		}
		if iamv != nil {
			require.Len(t, cl.IAM.Signature, 64)
			mustEqual(iamv, iamASN1{cl.IAM.AccessKeyID, []byte(cl.IAM.Signature), cl.IAM.Date, cl.IAM.SessionToken}, "")
		}
		if infov != nil {
			mustEqual(infov, struct {
				A string `asn1:"utf8"`
				B string `asn1:"utf8"`
			}{cl.ClientInfo.Source, cl.ClientInfo.Version}, "")
		}
	})
}

// FuzzVerify: a verifier fed arbitrary IAM extensions inside a validly
// self-signed certificate refuses them without panicking, and accepts only
// the genuine signature.
func FuzzVerify(f *testing.F) {
	key := ecKey(f)
	good := buildIAM(f, key, testDate)
	var genuine []byte
	for _, e := range good.Extensions {
		if e.Id.Equal(OIDIAM) {
			genuine = e.Value
		}
	}
	f.Add(genuine)
	f.Add(iamDER(testAKID, goodHex, "260301102030Z", nil))
	f.Fuzz(func(t *testing.T, iamv []byte) {
		c := *good
		c.Extensions = []pkix.Extension{{Id: OIDFileSystemID, Value: utf8DER(testFS)}, {Id: OIDIAM, Value: iamv}}
		_, err := Verify(context.Background(), &c, key.Public(), opts(fakeCreds{}))
		if bytes.Equal(iamv, genuine) {
			require.NoError(t, err)
		} else {
			require.Error(t, err)
		}
	})
}
