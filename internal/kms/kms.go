// Package kms owns every encryption key of shelf and the crypto that uses
// them above the chunk level:
//
//	root key            32 bytes in a file outside the metadata store (LoadRootKey)
//	                    or a data key of an external KMS (internal/kmsroot)
//	 └ KMS key material  per account, like AWS KMS: the AWS-managed
//	    │                 alias/aws/elasticfilesystem key and customer keys, each
//	    │                 with material versions (rotation); sealed by the root
//	    │                 key, stored in meta under table 'K'
//	    └ data keys       GenerateDataKey/Decrypt ciphertext blobs; a file
//	       │              system's key is a data key wrapped with the file
//	       │              system's encryption context (NewFileSystemKey)
//	       └ DataKey      seals chunks, names, symlink targets and xattrs
//	                      (internal/data, internal/fs)
//
// The Manager is the per-account KMS: keys, aliases, enable/disable,
// scheduled deletion and rotation, persisted through meta.Store. A disabled,
// pending-deletion or deleted KMS key makes the data under it unreadable:
// FileSystemKey then fails with an error matching ErrKeyUnavailable.
//
// Key bytes never leave this package, except the data-key plaintext that
// GenerateDataKey and Decrypt exist to return. No error carries key bytes.
//
// This package imports only internal/meta and internal/clock of shelf. It must
// not import internal/fs, internal/data, internal/control or any engine.
package kms

import (
	"errors"
	"fmt"
	"time"

	"github.com/shelf-efs/shelf/internal/awsid"
)

// Errors of the control plane. Every error returned by the Manager wraps at
// most one of these (or one of the ErrKeyUnavailable class, or ErrCorrupt),
// so the API edge can map them with errors.Is.
var (
	// ErrNotFound: no such key or alias (NotFoundException). Deleted keys
	// are not found by control-plane operations.
	ErrNotFound = errors.New("kms: not found")
	// ErrInvalidState: the key's state does not allow the operation
	// (KMSInvalidStateException), e.g. disabling a key pending deletion.
	ErrInvalidState = errors.New("kms: invalid key state")
	// ErrInvalidArgument: a malformed argument (ValidationException,
	// InvalidAliasNameException).
	ErrInvalidArgument = errors.New("kms: invalid argument")
	// ErrAlreadyExists: the alias exists (AlreadyExistsException).
	ErrAlreadyExists = errors.New("kms: already exists")
	// ErrUnsupportedOperation: the operation is not allowed on this key,
	// e.g. disabling or deleting an AWS managed key
	// (UnsupportedOperationException).
	ErrUnsupportedOperation = errors.New("kms: operation not supported for this key")
	// ErrLimitExceeded: too many on-demand rotations (LimitExceededException).
	ErrLimitExceeded = errors.New("kms: limit exceeded")
	// ErrWrongRootKey: the root key is not the one the store was created
	// with. Open writes nothing when it returns this.
	ErrWrongRootKey = errors.New("kms: root key does not match the store")
)

// ErrKeyUnavailable is the error class of the data plane: the KMS key behind
// a ciphertext exists (or existed) but cannot be used now. ErrKeyDisabled,
// ErrKeyPendingDeletion and ErrKeyDeleted all match it with errors.Is.
var ErrKeyUnavailable = errors.New("kms: key unavailable")

// The members of the ErrKeyUnavailable class.
var (
	// ErrKeyDisabled: the key is disabled; its data is readable again once
	// the key is enabled (DisabledException).
	ErrKeyDisabled error = &unavailableError{"kms: key is disabled"}
	// ErrKeyPendingDeletion: the key is scheduled for deletion; cancelling
	// the deletion and enabling the key makes its data readable again
	// (KMSInvalidStateException).
	ErrKeyPendingDeletion error = &unavailableError{"kms: key is pending deletion"}
	// ErrKeyDeleted: the key and its material are gone; data under it is
	// unrecoverable.
	ErrKeyDeleted error = &unavailableError{"kms: key is deleted"}
)

type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// Is makes every member of the class match ErrKeyUnavailable.
func (e *unavailableError) Is(target error) bool { return target == ErrKeyUnavailable }

// errf wraps a sentinel with detail: "kms: invalid key state: key … is …".
func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// Config names the account whose keys a Manager serves and the region that
// appears in ARNs.
type Config struct {
	Account string // 12-digit AWS account ID
	Region  string // e.g. "us-east-1"
}

// Validate reports every problem of the configuration, wrapping
// ErrInvalidArgument.
func (c Config) Validate() error {
	var errs []error
	if !awsid.ValidAccount(c.Account) {
		errs = append(errs, errf(ErrInvalidArgument, "account %q is not a 12-digit account ID", c.Account))
	}
	if !awsid.ValidRegion(c.Region) {
		errs = append(errs, errf(ErrInvalidArgument, "region %q is not a region name", c.Region))
	}
	return errors.Join(errs...)
}

// KeyState is the state of a KMS key as DescribeKey reports it.
type KeyState string

// Key states. A deleted key has no state a caller can observe: control-plane
// operations answer ErrNotFound and the data plane ErrKeyDeleted.
const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	keyStateDeleted         KeyState = "Deleted" // tombstone, never in KeyMetadata
)

// KeyManager says who manages a key.
type KeyManager string

// Key managers.
const (
	KeyManagerAWS      KeyManager = "AWS"
	KeyManagerCustomer KeyManager = "CUSTOMER"
)

// Constant properties of every key shelf makes (symmetric AES-256-GCM keys
// with material generated by shelf itself).
const (
	KeyUsageEncryptDecrypt              = "ENCRYPT_DECRYPT"
	KeySpecSymmetricDefault             = "SYMMETRIC_DEFAULT"
	OriginAWSKMS                        = "AWS_KMS"
	EncryptionAlgorithmSymmetricDefault = "SYMMETRIC_DEFAULT"
)

// ManagedKeyAlias is the alias of the AWS managed key for EFS, created on
// first use.
const ManagedKeyAlias = "alias/aws/elasticfilesystem"

// FileSystemContextKey is the encryption-context key EFS uses for file-system
// keys: {"aws:elasticfilesystem:filesystem:id": "fs-…"}.
const FileSystemContextKey = "aws:elasticfilesystem:filesystem:id"

// Limits, as in AWS KMS.
const (
	MinPendingWindowDays     = 7
	MaxPendingWindowDays     = 30
	DefaultPendingWindowDays = 30 // used when ScheduleKeyDeletion gets 0
	RotationPeriodDays       = 365
	MaxOnDemandRotations     = 25
	maxDescriptionBytes      = 8192
	maxTags                  = 50
	maxTagKeyBytes           = 128
	maxTagValueBytes         = 256
	maxAliasNameBytes        = 256
	maxRefBytes              = 2048
)

// KeyMetadata describes a KMS key, with the fields AWS DescribeKey returns
// for a symmetric key. Names follow Go conventions (KeyID for KeyId, ARN for
// Arn); the API layer renders the wire form.
type KeyMetadata struct {
	AWSAccountID string
	KeyID        string
	ARN          string
	CreationDate time.Time
	Enabled      bool
	Description  string
	KeyUsage     string // KeyUsageEncryptDecrypt
	KeyState     KeyState
	// DeletionDate and PendingDeletionWindowInDays are set only in state
	// PendingDeletion.
	DeletionDate                time.Time
	PendingDeletionWindowInDays int
	Origin                      string // OriginAWSKMS
	KeyManager                  KeyManager
	KeySpec                     string // KeySpecSymmetricDefault
	CustomerMasterKeySpec       string // deprecated alias of KeySpec, still returned by AWS
	EncryptionAlgorithms        []string
	MultiRegion                 bool
}

// CreateKeyInput holds the parameters of CreateKey.
type CreateKeyInput struct {
	Description string
	Tags        map[string]string
	// Policy is the key policy document (validated by the caller); empty
	// means DefaultKeyPolicy.
	Policy string
}

// KeyListEntry is one entry of ListKeys.
type KeyListEntry struct {
	KeyID  string
	KeyARN string
}

// Alias is one entry of ListAliases.
type Alias struct {
	AliasName       string // "alias/…"
	AliasARN        string
	TargetKeyID     string
	CreationDate    time.Time
	LastUpdatedDate time.Time
}

// RotationStatus is the answer of GetKeyRotationStatus.
type RotationStatus struct {
	KeyID                string
	KeyRotationEnabled   bool
	RotationPeriodInDays int       // set when rotation is enabled
	NextRotationDate     time.Time // set when rotation is enabled
}
