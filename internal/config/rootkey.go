package config

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/shelf-efs/shelf/internal/awsid"
)

// RootKeyKMSBlobFileName is the file, inside the data directory, that keeps
// the ciphertext blob of the root key when an external KMS holds it.
const RootKeyKMSBlobFileName = "root-key.kms.json"

// maxKMSKeyIDBytes bounds root_key.kms.key_id, as AWS KMS bounds KeyId.
const maxKMSKeyIDBytes = 2048

// RootKey configures where the root key comes from when it is not a file.
type RootKey struct {
	// KMS, when its KeyID is set, makes an AWS-KMS-compatible service hold
	// the root key: shelfd keeps only the key's ciphertext blob, in
	// <data_dir>/root-key.kms.json, and has the service decrypt it at
	// every start. It excludes root_key_file (and SHELF_ROOT_KEY_FILE).
	KMS RootKeyKMS `yaml:"kms"`
}

// RootKeyKMS is the external KMS that holds the root key: a real AWS KMS or
// another shelfd's KMS API, reached with the AWS SDK.
type RootKeyKMS struct {
	// KeyID names a symmetric KMS key: key ID, key ARN, alias name or
	// alias ARN.
	KeyID string `yaml:"key_id"`
	// Endpoint is the service's URL (http or https). Empty means the AWS
	// KMS endpoint of Region.
	Endpoint string `yaml:"endpoint"`
	// Region signs the requests; empty means the top-level region.
	Region string `yaml:"region"`
	// Profile is the profile to use in the AWS shared configuration and
	// credentials files; empty means the SDK's default.
	Profile string `yaml:"profile"`
	// CredentialsFile, when set, is the only source of credentials: an
	// AWS shared-credentials file (Profile, or "default", is read from
	// it). Empty means the SDK's default credential chain (environment,
	// shared files, container and instance roles).
	CredentialsFile string `yaml:"credentials_file"`
	// CAFile is a PEM bundle of the certificate authorities that the
	// endpoint's TLS certificate is checked against, besides the
	// system's (e.g. another shelfd's self-signed certificate).
	CAFile string `yaml:"ca_file"`
}

// Enabled reports whether an external KMS holds the root key.
func (k RootKeyKMS) Enabled() bool { return k.KeyID != "" }

// RootKeyKMSBlobPath is the file that keeps the root key's ciphertext blob
// when an external KMS holds the root key.
func (c *Config) RootKeyKMSBlobPath() string {
	return filepath.Join(c.DataDir, RootKeyKMSBlobFileName)
}

func (c *Config) validateRootKey(bad func(format string, args ...any)) {
	k := c.RootKey.KMS
	if !k.Enabled() {
		if k.Endpoint != "" || k.Region != "" || k.Profile != "" || k.CredentialsFile != "" || k.CAFile != "" {
			bad("root_key.kms needs key_id: the other fields apply only to the key it names")
		}
		return
	}
	if c.RootKeyFile != "" {
		bad("root_key.kms excludes root_key_file (and %s): the root key comes from one place", EnvRootKeyFile)
	}
	if len(k.KeyID) > maxKMSKeyIDBytes || strings.IndexFunc(k.KeyID, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		bad("root_key.kms.key_id %q is not a KMS key ID, key ARN, alias name or alias ARN", k.KeyID)
	}
	if k.Endpoint != "" {
		u, err := url.Parse(k.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("root_key.kms.endpoint %q is not an http or https URL such as https://kms.us-east-1.amazonaws.com", k.Endpoint)
		}
	}
	if k.Region != "" && !awsid.ValidRegion(k.Region) {
		bad("root_key.kms.region %q is not a region name such as %s", k.Region, DefaultRegion)
	}
	if strings.ContainsAny(k.Profile, "[]\n\r\x00") {
		bad("root_key.kms.profile %q is not a profile name", k.Profile)
	}
}
