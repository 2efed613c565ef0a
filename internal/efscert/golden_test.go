package efscert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The vectors were produced by testdata/gen.py, an independent rendering of
// efs-utils' create_canonical_request, create_string_to_sign and
// calculate_signature (Python's quote_plus, hashlib, hmac), for the key in
// testdata/privateKey.pem. They pin the exact bytes: the sorted parameters,
// quote_plus, host = file-system ID and the missing blank line.
func TestGoldenVectors(t *testing.T) {
	base := signingInput{
		publicKeyHash: "19cf382d20d471ab43fcd8d2dc0563813b9b1725",
		accessKeyID:   "AKIAIOSFODNN7EXAMPLE",
		fileSystemID:  "fs-0123456789abcdef0",
		region:        "us-east-1",
		date:          time.Date(2026, 3, 1, 10, 20, 30, 0, time.UTC),
	}
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	withToken := base
	withToken.sessionToken = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=padding_and-dashes=="

	tests := []struct {
		name                       string
		in                         signingInput
		canonical, toSign, signHex string
	}{
		{
			name: "long-term key",
			in:   base,
			canonical: "GET\n/\n" +
				"Action=Connect&PublicKeyHash=19cf382d20d471ab43fcd8d2dc0563813b9b1725&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260301%2Fus-east-1%2Felasticfilesystem%2Faws4_request&X-Amz-Date=20260301T102030Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n" +
				"host:fs-0123456789abcdef0\n" +
				"host\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			toSign: "AWS4-HMAC-SHA256\n20260301T102030Z\n20260301/us-east-1/elasticfilesystem/aws4_request\n" +
				"31e93969a2b684ae9f38e761e2530ac08bfd8d7af1a7b4b098613f1ee1bc1a1e",
			signHex: "f7cc8871ed61fc335eec1cec7cf0fcc336134a8fe88b9630d2ffe7f81295c484",
		},
		{
			name: "session token",
			in:   withToken,
			canonical: "GET\n/\n" +
				"Action=Connect&PublicKeyHash=19cf382d20d471ab43fcd8d2dc0563813b9b1725&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260301%2Fus-east-1%2Felasticfilesystem%2Faws4_request&X-Amz-Date=20260301T102030Z&X-Amz-Expires=86400&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%2Bwith%3Dpadding_and-dashes%3D%3D&X-Amz-SignedHeaders=host\n" +
				"host:fs-0123456789abcdef0\n" +
				"host\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			toSign: "AWS4-HMAC-SHA256\n20260301T102030Z\n20260301/us-east-1/elasticfilesystem/aws4_request\n" +
				"668cd302ea953c6d1dafc5db69eaa34ad20e05b6e103b864abbff885d1705ba7",
			signHex: "b17296af4de0a25bfd72823eda03fb3ed431da8b72722c5014e06ba2f007445a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canonicalRequest(tt.in)
			require.Equal(t, tt.canonical, c)
			require.Equal(t, tt.toSign, stringToSign(tt.in, c))
			require.Equal(t, tt.signHex, string(signature(tt.in, secret)))
		})
	}
}

func TestQuotePlus(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AKID/20260301/us-east-1/elasticfilesystem/aws4_request", "AKID%2F20260301%2Fus-east-1%2Felasticfilesystem%2Faws4_request"},
		{"a b+c=d~e_f.g-h", "a+b%2Bc%3Dd~e_f.g-h"},
		{"é", "%C3%A9"},
		{"", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, quotePlus(tt.in), tt.in)
	}
}
