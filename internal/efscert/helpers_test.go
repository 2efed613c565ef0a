package efscert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

func signingKeyFor(in signingInput, secret string) []byte {
	return sigv4.SigningKey(secret, in.date.Format(sigv4DateFormat), in.region, Service)
}

func hmacSHA256Hex(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return []byte(hex.EncodeToString(m.Sum(nil)))
}
