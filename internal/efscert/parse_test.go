package efscert

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// certWith returns a certificate value holding exts; Parse reads only the
// extensions, so nothing needs signing.
func certWith(exts ...pkix.Extension) *x509.Certificate {
	return &x509.Certificate{Extensions: exts}
}

func utf8DER(s string) []byte {
	b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)})
	return b
}

func tlv(tag byte, content ...[]byte) []byte {
	body := bytes.Join(content, nil)
	n := len(body)
	switch {
	case n < 0x80:
		return append([]byte{tag, byte(n)}, body...)
	case n < 0x100:
		return append([]byte{tag, 0x81, byte(n)}, body...)
	default:
		return append([]byte{tag, 0x82, byte(n >> 8), byte(n)}, body...)
	}
}

const goodHex = "f7cc8871ed61fc335eec1cec7cf0fcc336134a8fe88b9630d2ffe7f81295c484"

func iamDER(akid, sig, date string, token []byte) []byte {
	parts := [][]byte{tlv(0x0c, []byte(akid)), tlv(0x04, []byte(sig)), tlv(0x17, []byte(date))}
	if token != nil {
		parts = append(parts, tlv(0xa0, token))
	}
	return tlv(0x30, parts...)
}

func TestParse(t *testing.T) {
	fs := pkix.Extension{Id: OIDFileSystemID, Value: utf8DER(testFS)}
	cl, err := Parse(certWith(
		pkix.Extension{Id: OIDAccessPoint, Value: utf8DER(testAP)},
		pkix.Extension{Id: OIDIAM, Value: iamDER(testAKID, goodHex, "260301102030Z", tlv(0x0c, []byte(testToken)))},
		fs,
		pkix.Extension{Id: OIDClientInfo, Value: tlv(0x30, tlv(0x0c, []byte("unknown")), tlv(0x0c, []byte("3.2.0")))},
		pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 4843, 7, 99}, Value: []byte{0xff}},
	))
	require.NoError(t, err)
	require.Equal(t, Claims{
		AccessPointID: testAP,
		FileSystemID:  testFS,
		IAM:           &IAMClaim{AccessKeyID: testAKID, Signature: goodHex, Date: testDate, SessionToken: testToken},
		ClientInfo:    &ClientInfo{Source: "unknown", Version: "3.2.0"},
	}, cl)

	cl, err = Parse(certWith(pkix.Extension{Id: OIDIAM, Value: iamDER(testAKID, goodHex, "700101000000Z", nil)}, fs))
	require.NoError(t, err)
	require.Equal(t, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), cl.IAM.Date, "RFC 5280 century rule")
}

func TestParseRefusesMalformed(t *testing.T) {
	fs := pkix.Extension{Id: OIDFileSystemID, Value: utf8DER(testFS)}
	ext := func(oid asn1.ObjectIdentifier, v []byte) []pkix.Extension {
		if oid.Equal(OIDFileSystemID) {
			return []pkix.Extension{{Id: oid, Value: v}}
		}
		return []pkix.Extension{fs, {Id: oid, Value: v}}
	}
	date := "260301102030Z"
	tests := []struct {
		name string
		exts []pkix.Extension
		want string
	}{
		{"no extensions", nil, "no file-system ID"},
		{"fs: PrintableString", ext(OIDFileSystemID, tlv(0x13, []byte(testFS))), "unexpected element"},
		{"fs: trailing data", ext(OIDFileSystemID, append(utf8DER(testFS), 0)), "trailing"},
		{"fs: not an ID", ext(OIDFileSystemID, utf8DER("fs-../../etc")), "not a file-system ID"},
		{"fs: huge", ext(OIDFileSystemID, utf8DER(strings.Repeat("a", 600))), "more than 512"},
		{"fs: invalid UTF-8", ext(OIDFileSystemID, tlv(0x0c, []byte{0xff, 0xfe})), "not valid UTF-8"},
		{"fs: empty value", ext(OIDFileSystemID, nil), "missing"},
		{"fs: truncated", ext(OIDFileSystemID, utf8DER(testFS)[:5]), "bad DER"},
		{"fs: non-minimal length", ext(OIDFileSystemID, append([]byte{0x0c, 0x81, byte(len(testFS))}, testFS...)), "bad DER"},
		{"fs: indefinite length", ext(OIDFileSystemID, append(append([]byte{0x0c, 0x80}, testFS...), 0, 0)), "bad DER"},
		{"ap: not an ID", ext(OIDAccessPoint, utf8DER("fsap-XYZ")), "not an access point ID"},
		{"ap: constructed", ext(OIDAccessPoint, tlv(0x2c, utf8DER(testAP))), "unexpected element"},
		{"iam: not a SEQUENCE", ext(OIDIAM, tlv(0x31, tlv(0x0c, []byte(testAKID)))), "unexpected element"},
		{"iam: trailing data", ext(OIDIAM, append(iamDER(testAKID, goodHex, date, nil), 5, 0)), "trailing"},
		{"iam: huge", ext(OIDIAM, iamDER(testAKID, goodHex, date, tlv(0x0c, bytes.Repeat([]byte{'A'}, 11<<10)))), "more than"},
		{"iam: token too long", ext(OIDIAM, iamDER(testAKID, goodHex, date, tlv(0x0c, bytes.Repeat([]byte{'A'}, 9<<10)))), "not a session token"},
		{"iam: token with a space", ext(OIDIAM, iamDER(testAKID, goodHex, date, tlv(0x0c, []byte("a b")))), "not a session token"},
		{"iam: token implicit", ext(OIDIAM, tlv(0x30, tlv(0x0c, []byte(testAKID)), tlv(0x04, []byte(goodHex)), tlv(0x17, []byte(date)), tlv(0x80, []byte(testToken)))), "unexpected element"},
		{"iam: token trailing", ext(OIDIAM, iamDER(testAKID, goodHex, date, append(tlv(0x0c, []byte(testToken)), 0x05, 0x00))), "trailing"},
		{"iam: element after token", ext(OIDIAM, tlv(0x30, tlv(0x0c, []byte(testAKID)), tlv(0x04, []byte(goodHex)), tlv(0x17, []byte(date)), tlv(0xa0, tlv(0x0c, []byte("t"))), tlv(0x05))), "unexpected element after"},
		{"iam: no signature", ext(OIDIAM, tlv(0x30, tlv(0x0c, []byte(testAKID)))), "signature: missing"},
		{"iam: access key with newline", ext(OIDIAM, iamDER(testAKID+"\n", goodHex, date, nil)), "not an access key ID"},
		{"iam: access key too short", ext(OIDIAM, iamDER("AKID", goodHex, date, nil)), "not an access key ID"},
		{"iam: upper-case hex", ext(OIDIAM, iamDER(testAKID, strings.ToUpper(goodHex), date, nil)), "64 lower-case hex"},
		{"iam: binary signature", ext(OIDIAM, iamDER(testAKID, goodHex[:32], date, nil)), "64 lower-case hex"},
		{"iam: GeneralizedTime", ext(OIDIAM, tlv(0x30, tlv(0x0c, []byte(testAKID)), tlv(0x04, []byte(goodHex)), tlv(0x18, []byte("20260301102030Z")))), "unexpected element"},
		{"iam: UTCTime without seconds", ext(OIDIAM, iamDER(testAKID, goodHex, "2603011020Z", nil)), "YYMMDDHHMMSSZ"},
		{"iam: UTCTime with offset", ext(OIDIAM, iamDER(testAKID, goodHex, "260301102030+0100"[:13], nil)), "YYMMDDHHMMSSZ"},
		{"iam: UTCTime month 13", ext(OIDIAM, iamDER(testAKID, goodHex, "261301102030Z", nil)), "YYMMDDHHMMSSZ"},
		{"info: one field", ext(OIDClientInfo, tlv(0x30, tlv(0x0c, []byte("unknown")))), "efs_utils_version: missing"},
		{"info: three fields", ext(OIDClientInfo, tlv(0x30, tlv(0x0c, []byte("a")), tlv(0x0c, []byte("b")), tlv(0x0c, []byte("c")))), "unexpected element after"},
		{"info: control character", ext(OIDClientInfo, tlv(0x30, tlv(0x0c, []byte("a\x1b[2J")), tlv(0x0c, []byte("b")))), "printable ASCII"},
		{"info: source too long", ext(OIDClientInfo, tlv(0x30, tlv(0x0c, bytes.Repeat([]byte{'a'}, 129)), tlv(0x0c, []byte("b")))), "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(certWith(tt.exts...))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrMalformed)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
