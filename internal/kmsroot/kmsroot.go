// Package kmsroot keeps shelfd's root key in an external AWS-KMS-compatible
// service (a real AWS KMS, or another shelfd's KMS API) reached with the AWS
// SDK. The root key is a data key of a KMS key there: GenerateDataKey makes
// it once, shelfd keeps only its ciphertext blob in a file (Blob), and
// Decrypt returns the plaintext at every start. The plaintext is never
// written anywhere; whoever controls the KMS key (key policy, DisableKey,
// ScheduleKeyDeletion) controls whether shelfd can open its store.
//
// Every request carries an encryption context that names the data
// directory the key belongs to, so that the external service's key policy
// can restrict its use and its audit trail says which store asked. The
// context is recorded in the blob file, so moving the data directory does
// not break Decrypt.
//
// kmsroot does no cryptography itself: the root key it returns is used by
// internal/kms exactly like a root key read from a file. It imports only
// internal/config of shelf and must not import internal/kms or any engine.
package kmsroot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/shelf-efs/shelf/internal/config"
)

// KeyBytes is the size of the root key (a KMS AES_256 data key).
const KeyBytes = 32

// callTimeout bounds each request to the external service.
const callTimeout = 30 * time.Second

// Encryption-context keys. "aws:" is reserved by AWS KMS; these are shelf's.
const (
	ContextPurpose = "shelf:purpose"
	ContextDataDir = "shelf:data-dir"
	purposeRootKey = "root-key"
)

// API is the part of the KMS client that kmsroot uses; *kms.Client
// implements it.
type API interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Source makes and opens root keys with one KMS key of an external service.
// It is safe for concurrent use.
type Source struct {
	api   API
	keyID string
}

// New returns the Source that cfg describes, with an AWS SDK client.
// Requests are signed for cfg.Region, or region when that is empty. The
// credentials come from cfg.CredentialsFile only when it is set, otherwise
// from the SDK's default chain (with cfg.Profile). New makes no request.
func New(ctx context.Context, cfg config.RootKeyKMS, region string) (*Source, error) {
	if !cfg.Enabled() {
		return nil, errors.New("kmsroot: no key_id configured")
	}
	if cfg.Region != "" {
		region = cfg.Region
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if cfg.Profile != "" && cfg.CredentialsFile == "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kmsroot: root_key.kms.ca_file: %w", err)
		}
		opts = append(opts, awsconfig.WithCustomCABundle(bytes.NewReader(pem)))
	}
	if cfg.CredentialsFile != "" {
		profile := cfg.Profile
		if profile == "" {
			profile = "default"
		}
		shared, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
			o.CredentialsFiles = []string{cfg.CredentialsFile}
			o.ConfigFiles = []string{}
		})
		if err != nil {
			return nil, fmt.Errorf("kmsroot: root_key.kms.credentials_file %s, profile %s: %w", cfg.CredentialsFile, profile, err)
		}
		if !shared.Credentials.HasKeys() {
			return nil, fmt.Errorf("kmsroot: root_key.kms.credentials_file %s holds no access key for profile %s", cfg.CredentialsFile, profile)
		}
		opts = append(opts,
			awsconfig.WithSharedConfigFiles([]string{}),
			awsconfig.WithSharedCredentialsFiles([]string{}),
			awsconfig.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: shared.Credentials}))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kmsroot: aws configuration: %w", err)
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return NewWithAPI(client, cfg.KeyID), nil
}

// NewWithAPI returns a Source over api that makes root keys with keyID.
func NewWithAPI(api API, keyID string) *Source { return &Source{api: api, keyID: keyID} }

// KeyID is the configured KMS key, which Generate uses.
func (s *Source) KeyID() string { return s.keyID }

// Generate makes a new root key with GenerateDataKey (AES_256) under the
// configured KMS key, bound to an encryption context naming dataDir. It
// returns the plaintext, which belongs to the caller (clear it after use),
// and the blob to keep.
func (s *Source) Generate(ctx context.Context, dataDir string) ([]byte, *Blob, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ec := map[string]string{ContextPurpose: purposeRootKey, ContextDataDir: dataDir}
	out, err := s.api.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(s.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec,
	})
	if err != nil {
		return nil, nil, explain("GenerateDataKey", s.keyID, err)
	}
	if len(out.Plaintext) != KeyBytes || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, fmt.Errorf("kmsroot: GenerateDataKey with KMS key %s returned a %d-byte key, want %d", s.keyID, len(out.Plaintext), KeyBytes)
	}
	keyID := aws.ToString(out.KeyId)
	if keyID == "" {
		keyID = s.keyID
	}
	b := &Blob{KeyID: keyID, EncryptionContext: ec, CiphertextBlob: out.CiphertextBlob}
	if err := b.validate(); err != nil {
		clear(out.Plaintext)
		return nil, nil, fmt.Errorf("kmsroot: GenerateDataKey with KMS key %s: %w", s.keyID, err)
	}
	return out.Plaintext, b, nil
}

// Decrypt returns the root key that b holds, asking the KMS key that
// sealed it (b.KeyID, which may differ from the configured key until the
// next rotation) with b's encryption context. The plaintext belongs to the
// caller.
func (s *Source) Decrypt(ctx context.Context, b *Blob) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := s.api.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(b.KeyID), CiphertextBlob: b.CiphertextBlob, EncryptionContext: b.EncryptionContext,
	})
	if err != nil {
		return nil, explain("Decrypt", b.KeyID, err)
	}
	if len(out.Plaintext) != KeyBytes {
		clear(out.Plaintext)
		return nil, fmt.Errorf("kmsroot: Decrypt with KMS key %s returned a %d-byte key, want %d", b.KeyID, len(out.Plaintext), KeyBytes)
	}
	return out.Plaintext, nil
}

// explain wraps an error of the external service with what the operator
// can do about it. The SDK error stays in the chain (errors.As finds
// *types.DisabledException and the others).
func explain(op, keyID string, err error) error {
	var hint string
	var (
		disabled  *types.DisabledException
		state     *types.KMSInvalidStateException
		notFound  *types.NotFoundException
		invalidCT *types.InvalidCiphertextException
		incorrect *types.IncorrectKeyException
		api       smithy.APIError
	)
	switch {
	case errors.As(err, &disabled):
		hint = "the KMS key is disabled; enable it (aws kms enable-key) and start again"
	case errors.As(err, &state):
		hint = "the KMS key cannot be used in its current state (pending deletion?); cancel its deletion (aws kms cancel-key-deletion), enable it, and start again"
	case errors.As(err, &notFound):
		hint = "the KMS key does not exist (check root_key.kms.key_id, endpoint and region)"
	case errors.As(err, &invalidCT), errors.As(err, &incorrect):
		hint = "the blob file was not sealed by this KMS key with this encryption context (restore the right " + config.RootKeyKMSBlobFileName + ")"
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		hint = "the credentials may not use the KMS key (the key policy must allow kms:" + op + ")"
	default:
		hint = "the external KMS did not answer (check root_key.kms.endpoint, region and credentials)"
	}
	return fmt.Errorf("kmsroot: %s with KMS key %s failed: %s: %w", op, keyID, hint, err)
}
