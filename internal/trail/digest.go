package trail

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Field values of digest files.
const (
	// SignatureAlgorithm is digestSignatureAlgorithm: RSA PKCS#1 v1.5 over
	// SHA-256.
	SignatureAlgorithm = "SHA256withRSA"
	// HashAlgorithm is the hashAlgorithm of log files and previous digests.
	HashAlgorithm = "SHA-256"
	// TimeLayout is the format of every time in a digest.
	TimeLayout = "2006-01-02T15:04:05Z"
)

// LogFile is one entry of a digest's logFiles: a delivered log file. Its
// hashValue is the SHA-256 (hex) of the uncompressed content, as CloudTrail
// computes it (CloudTrail User Guide, "CloudTrail digest file structure").
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// Digest is a CloudTrail digest file, field for field. The previous* fields
// and the event times are null in a starting digest and in a digest
// without log files respectively.
type Digest struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogFile `json:"logFiles"`
}

// requiredDigestKeys are the keys every digest must have (the AWS CLI's
// validate-logs checks the same list before anything else).
var requiredDigestKeys = []string{
	"digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
	"digestPublicKeyFingerprint", "digestSignatureAlgorithm", "previousDigestSignature", "logFiles",
}

// parseDigest decodes an uncompressed digest and checks its required keys.
func parseDigest(b []byte) (*Digest, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	for _, k := range requiredDigestKeys {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("missing key %s", k)
		}
	}
	d := new(Digest)
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	if _, err := time.Parse(TimeLayout, d.DigestEndTime); err != nil {
		return nil, errors.New("digestEndTime is not a time")
	}
	return d, nil
}

// StringToSign is the string CloudTrail signs for a digest (the AWS CLI,
// awscli/customizations/cloudtrail/validation.py, _create_string_to_sign):
//
//	digestEndTime "\n" bucket "/" key "\n" hex(SHA-256(uncompressed digest)) "\n" previousDigestSignature
//
// with "null" for the previous signature of a starting digest. Embedding the
// previous signature chains the digests.
func StringToSign(d *Digest, uncompressed []byte) string {
	prev := "null"
	if d.PreviousDigestSignature != nil {
		prev = *d.PreviousDigestSignature
	}
	sum := sha256.Sum256(uncompressed)
	return d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + hex.EncodeToString(sum[:]) + "\n" + prev
}

// VerifyDigestSignature checks a hex signature of a digest with pub.
func VerifyDigestSignature(pub *rsa.PublicKey, d *Digest, uncompressed []byte, sigHex string) error {
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return errors.New("signature is not hex")
	}
	h := sha256.Sum256([]byte(StringToSign(d, uncompressed)))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

func strPtr(s string) *string { return &s }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
