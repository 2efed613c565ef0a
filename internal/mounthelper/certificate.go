package mounthelper

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shelf-efs/shelf/internal/efscert"
)

// ClientSource is what extension 7.4 says the client is.
const ClientSource = "unknown"

// Certifier makes the client certificates of one mount.
type Certifier struct {
	// Key is the certificate key, kept for the life of the tunnel
	// (efscert.GenerateKey makes the RSA-3072 key efs-utils uses).
	Key crypto.Signer
	// Hostname is the subject CN.
	Hostname      string
	FileSystemID  string
	AccessPointID string
	// Region signs the IAM extension.
	Region string
	// Credentials sign the IAM extension; nil leaves it out (tls without
	// iam). They are retrieved again at every renewal, so rotated or
	// refreshed credentials are picked up.
	Credentials aws.CredentialsProvider
	// Version goes to extension 7.4.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Certificate builds a fresh certificate; it is a CertificateSource.
func (c *Certifier) Certificate(ctx context.Context) (*tls.Certificate, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req := efscert.Request{
		Key:           c.Key,
		Hostname:      c.Hostname,
		FileSystemID:  c.FileSystemID,
		AccessPointID: c.AccessPointID,
		Region:        c.Region,
		ClientInfo:    &efscert.ClientInfo{Source: ClientSource, Version: c.Version},
		Now:           now(),
	}
	if c.Credentials != nil {
		creds, err := c.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("AWS credentials: %w", err)
		}
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
			return nil, errors.New("AWS credentials: no access key")
		}
		req.Credentials = &efscert.AWSCredentials{
			AccessKeyID:     creds.AccessKeyID,
			SecretAccessKey: creds.SecretAccessKey,
			SessionToken:    creds.SessionToken,
		}
	}
	cert, err := efscert.Build(req)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: c.Key, Leaf: cert}, nil
}
