package kmsapi

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/shelf-efs/shelf/internal/kms"
)

// epoch is a timestamp on the wire of the json protocol: seconds since the
// Unix epoch as a JSON number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("not a timestamp")
	}
	*e = epoch(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

func ts(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type keyMetadata struct {
	AWSAccountID                string   `json:"AWSAccountId"`
	KeyID                       string   `json:"KeyId"`
	Arn                         string   `json:"Arn"`
	CreationDate                *epoch   `json:"CreationDate"`
	Enabled                     bool     `json:"Enabled"`
	Description                 string   `json:"Description"`
	KeyUsage                    string   `json:"KeyUsage"`
	KeyState                    string   `json:"KeyState"`
	DeletionDate                *epoch   `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDays int      `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                      string   `json:"Origin"`
	KeyManager                  string   `json:"KeyManager"`
	CustomerMasterKeySpec       string   `json:"CustomerMasterKeySpec"`
	KeySpec                     string   `json:"KeySpec"`
	EncryptionAlgorithms        []string `json:"EncryptionAlgorithms"`
	MultiRegion                 bool     `json:"MultiRegion"`
}

func metadataWire(md kms.KeyMetadata) *keyMetadata {
	return &keyMetadata{
		AWSAccountID: md.AWSAccountID, KeyID: md.KeyID, Arn: md.ARN, CreationDate: ts(md.CreationDate),
		Enabled: md.Enabled, Description: md.Description, KeyUsage: md.KeyUsage, KeyState: string(md.KeyState),
		DeletionDate: ts(md.DeletionDate), PendingDeletionWindowInDays: md.PendingDeletionWindowInDays,
		Origin: md.Origin, KeyManager: string(md.KeyManager), CustomerMasterKeySpec: md.CustomerMasterKeySpec,
		KeySpec: md.KeySpec, EncryptionAlgorithms: md.EncryptionAlgorithms, MultiRegion: md.MultiRegion,
	}
}

type grantConstraints struct {
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
}

type grantEntry struct {
	KeyID             string            `json:"KeyId"`
	GrantID           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      *epoch            `json:"CreationDate"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *grantConstraints `json:"Constraints,omitempty"`
}

// request is every member of every supported request, as the KMS model
// names them; each operation reads the members it knows. Blob members are
// base64 in JSON, which encoding/json decodes into []byte.
type request struct {
	KeyID                          *string           `json:"KeyId"`
	Description                    *string           `json:"Description"`
	Policy                         *string           `json:"Policy"`
	PolicyName                     *string           `json:"PolicyName"`
	Tags                           []tag             `json:"Tags"`
	TagKeys                        []string          `json:"TagKeys"`
	KeyUsage                       *string           `json:"KeyUsage"`
	KeySpec                        *string           `json:"KeySpec"`
	CustomerMasterKeySpec          *string           `json:"CustomerMasterKeySpec"`
	Origin                         *string           `json:"Origin"`
	MultiRegion                    *bool             `json:"MultiRegion"`
	BypassPolicyLockoutSafetyCheck *bool             `json:"BypassPolicyLockoutSafetyCheck"`
	AliasName                      *string           `json:"AliasName"`
	TargetKeyID                    *string           `json:"TargetKeyId"`
	PendingWindowInDays            *int              `json:"PendingWindowInDays"`
	RotationPeriodInDays           *int              `json:"RotationPeriodInDays"`
	Limit                          *int              `json:"Limit"`
	Marker                         *string           `json:"Marker"`
	Plaintext                      []byte            `json:"Plaintext"`
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	EncryptionContext              map[string]string `json:"EncryptionContext"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceKeyID                    *string           `json:"SourceKeyId"`
	DestinationKeyID               *string           `json:"DestinationKeyId"`
	EncryptionAlgorithm            *string           `json:"EncryptionAlgorithm"`
	SourceEncryptionAlgorithm      *string           `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm *string           `json:"DestinationEncryptionAlgorithm"`
	NumberOfBytes                  *int              `json:"NumberOfBytes"`
	GrantTokens                    []string          `json:"GrantTokens"`
	GranteePrincipal               *string           `json:"GranteePrincipal"`
	RetiringPrincipal              *string           `json:"RetiringPrincipal"`
	Operations                     []string          `json:"Operations"`
	Constraints                    *grantConstraints `json:"Constraints"`
	Name                           *string           `json:"Name"`
	GrantID                        *string           `json:"GrantId"`
	GrantToken                     *string           `json:"GrantToken"`
	DryRun                         *bool             `json:"DryRun"`
	Recipient                      json.RawMessage   `json:"Recipient"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
