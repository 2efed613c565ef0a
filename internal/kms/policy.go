package kms

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Key policies. The Manager stores a key's policy document as text and
// never interprets it: the API edge (internal/kmsapi) parses and evaluates
// it with internal/iam, so this package stays free of policy logic. A key
// without a stored policy (made before policies were kept) has the default
// policy of its kind.

// MaxKeyPolicyBytes is the AWS limit on a key policy document (32 KiB).
const MaxKeyPolicyBytes = 32768

// DefaultKeyPolicy is the policy AWS gives a customer key created without
// one (AWS KMS Developer Guide, "Default key policy"): the account, and
// through it the IAM policies of its principals, may do everything.
func DefaultKeyPolicy(account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// ManagedKeyPolicy is the policy of the AWS managed key for EFS, as AWS
// writes it: principals of the account may use the key only through EFS
// (kms:ViaService), and the account may read its metadata.
func ManagedKeyPolicy(account, region string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "auto-elasticfilesystem-1",
  "Statement" : [ {
    "Sid" : "Allow access to EFS for all principals in the account that are authorized to use EFS",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:ViaService" : "elasticfilesystem.` + region + `.amazonaws.com",
        "kms:CallerAccount" : "` + account + `"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`
}

func (m *Manager) policyOf(rec *keyRecord) string {
	switch {
	case rec.Policy != "":
		return rec.Policy
	case rec.KeyManager == KeyManagerAWS:
		return ManagedKeyPolicy(m.cfg.Account, m.cfg.Region)
	default:
		return DefaultKeyPolicy(m.cfg.Account)
	}
}

// Grant is a grant on a key: GranteePrincipal may perform Operations,
// within Constraints, until the grant is retired or revoked.
type Grant struct {
	KeyID             string
	GrantID           string
	Name              string
	CreationDate      time.Time
	GranteePrincipal  string
	RetiringPrincipal string
	IssuingAccount    string
	Operations        []string
	Constraints       *GrantConstraints
}

// GrantConstraints limit a grant to requests whose encryption context
// equals (EncryptionContextEquals) or includes (EncryptionContextSubset)
// the given pairs.
type GrantConstraints struct {
	EncryptionContextEquals map[string]string `json:"equals,omitempty"`
	EncryptionContextSubset map[string]string `json:"subset,omitempty"`
}

// Allows reports whether the constraints admit a request with encCtx.
func (c *GrantConstraints) Allows(encCtx map[string]string) bool {
	if c == nil {
		return true
	}
	if c.EncryptionContextEquals != nil && !maps.Equal(c.EncryptionContextEquals, encCtx) {
		return false
	}
	for k, v := range c.EncryptionContextSubset {
		if got, ok := encCtx[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// GrantOperations are the operations a grant may allow, as AWS names them.
var GrantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify",
	"GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
}

// Limits of grants, as in AWS KMS.
const (
	MaxGrantsPerKey   = 50000
	maxGrantNameBytes = 256
	maxPrincipalBytes = 256
	grantTokenBytes   = 32
)

type grantRecord struct {
	ID                string            `json:"id"`
	Token             string            `json:"token"` // hex; a bearer reference for RetireGrant
	Name              string            `json:"name,omitempty"`
	CreationDate      time.Time         `json:"creation_date"`
	GranteePrincipal  string            `json:"grantee"`
	RetiringPrincipal string            `json:"retiring,omitempty"`
	Operations        []string          `json:"operations"`
	Constraints       *GrantConstraints `json:"constraints,omitempty"`
}

func (m *Manager) grant(keyID string, g *grantRecord) Grant {
	out := Grant{
		KeyID: m.keyARN(keyID), GrantID: g.ID, Name: g.Name, CreationDate: g.CreationDate,
		GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal,
		IssuingAccount: "arn:aws:iam::" + m.cfg.Account + ":root", Operations: slices.Clone(g.Operations),
	}
	if g.Constraints != nil {
		c := *g.Constraints
		out.Constraints = &c
	}
	return out
}

// KeyAccess is what the API edge needs to authorize a call on a key: the
// key's identity, state, policy and grants.
type KeyAccess struct {
	KeyID      string
	ARN        string
	KeyManager KeyManager
	State      KeyState
	Policy     string
	Grants     []Grant
}

// Access resolves ref (key ID, key ARN, alias name or alias ARN) to a live
// key and returns what authorization needs. Unknown and deleted keys wrap
// ErrNotFound.
func (m *Manager) Access(ctx context.Context, ref string) (KeyAccess, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return KeyAccess{}, err
	}
	ka := KeyAccess{KeyID: rec.ID, ARN: m.keyARN(rec.ID), KeyManager: rec.KeyManager, State: rec.State, Policy: m.policyOf(rec)}
	for i := range rec.Grants {
		ka.Grants = append(ka.Grants, m.grant(rec.ID, &rec.Grants[i]))
	}
	return ka, nil
}

// GetKeyPolicy returns the key's policy document (the default one when
// none was set).
func (m *Manager) GetKeyPolicy(ctx context.Context, ref string) (string, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return "", err
	}
	return m.policyOf(rec), nil
}

// PutKeyPolicy replaces the key's policy. The caller has validated the
// document; it must be 1 to MaxKeyPolicyBytes bytes. The AWS managed key's
// policy cannot be changed (ErrUnsupportedOperation); a key pending
// deletion can (as in AWS).
func (m *Manager) PutKeyPolicy(ctx context.Context, ref, policy string) error {
	if policy == "" || len(policy) > MaxKeyPolicyBytes {
		return errf(ErrInvalidArgument, "key policy must be 1 to %d bytes", MaxKeyPolicyBytes)
	}
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "put key policy"); err != nil {
			return false, err
		}
		if rec.Policy == policy {
			return false, nil
		}
		rec.Policy = policy
		return true, nil
	})
	return err
}

// UpdateKeyDescription replaces the description of a customer key.
func (m *Manager) UpdateKeyDescription(ctx context.Context, ref, description string) error {
	if len(description) > maxDescriptionBytes {
		return errf(ErrInvalidArgument, "description is longer than %d bytes", maxDescriptionBytes)
	}
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "update key description"); err != nil {
			return false, err
		}
		if rec.Description == description {
			return false, nil
		}
		rec.Description = description
		return true, nil
	})
	return err
}

// TagResource adds or replaces tags of a customer key (at most 50 in all).
func (m *Manager) TagResource(ctx context.Context, ref string, tags map[string]string) error {
	if err := validateTags(tags); err != nil {
		return err
	}
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "tag resource"); err != nil {
			return false, err
		}
		merged := maps.Clone(rec.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if err := validateTags(merged); err != nil {
			return false, errf(ErrLimitExceeded, "a key can have at most %d tags", maxTags)
		}
		rec.Tags = merged
		return true, nil
	})
	return err
}

// UntagResource removes tags of a customer key; absent keys are ignored.
func (m *Manager) UntagResource(ctx context.Context, ref string, tagKeys []string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "untag resource"); err != nil {
			return false, err
		}
		changed := false
		for _, k := range tagKeys {
			if _, ok := rec.Tags[k]; ok {
				delete(rec.Tags, k)
				changed = true
			}
		}
		return changed, nil
	})
	return err
}

// UpdateAlias points an existing alias at another customer key. Reserved
// aliases wrap ErrUnsupportedOperation, a missing alias ErrNotFound.
func (m *Manager) UpdateAlias(ctx context.Context, aliasName, targetKeyRef string) error {
	if err := validateAliasName(aliasName); err != nil {
		return err
	}
	if strings.HasPrefix(aliasName, reservedAliasPrefix) {
		return errf(ErrUnsupportedOperation, "alias %s belongs to an AWS managed key", aliasName)
	}
	p, err := m.parseRef(targetKeyRef)
	if err != nil {
		return err
	}
	if p.keyID == "" {
		return errf(ErrInvalidArgument, "an alias must target a key ID or key ARN, not an alias")
	}
	if _, err := m.loadLive(ctx, p.keyID); err != nil {
		return err
	}
	now := m.now()
	return m.store.Update(ctx, func(txn meta.Txn) error {
		rec, err := getKeyRecord(txn, m.cfg.Account, p.keyID)
		if err != nil {
			return err
		}
		switch rec.State {
		case keyStateDeleted:
			return errf(ErrNotFound, "key %s is deleted", rec.ID)
		case KeyStatePendingDeletion:
			return errf(ErrInvalidState, "key %s is pending deletion", rec.ID)
		}
		if err := refuseManaged(rec, "update alias"); err != nil {
			return err
		}
		a, err := getAliasRecord(txn, m.cfg.Account, aliasName)
		if err != nil {
			return err
		}
		a.TargetKeyID, a.LastUpdatedDate = rec.ID, now
		return putAliasRecord(txn, m.cfg.Account, a)
	})
}

// CreateGrantInput holds the parameters of CreateGrant.
type CreateGrantInput struct {
	GranteePrincipal  string
	RetiringPrincipal string
	Operations        []string
	Constraints       *GrantConstraints
	Name              string
}

// CreateGrant adds a grant to a key and returns its ID and token. A grant
// with the same name, grantee, retiring principal, operations and
// constraints as an existing one returns that grant (AWS's idempotency).
// The key must not be pending deletion (ErrInvalidState); a disabled key
// wraps ErrKeyDisabled.
func (m *Manager) CreateGrant(ctx context.Context, ref string, in CreateGrantInput) (grantID, token string, err error) {
	if in.GranteePrincipal == "" || len(in.GranteePrincipal) > maxPrincipalBytes || len(in.RetiringPrincipal) > maxPrincipalBytes {
		return "", "", errf(ErrInvalidArgument, "grantee and retiring principals must be at most %d bytes", maxPrincipalBytes)
	}
	if len(in.Name) > maxGrantNameBytes {
		return "", "", errf(ErrInvalidArgument, "grant name is longer than %d bytes", maxGrantNameBytes)
	}
	if len(in.Operations) == 0 || len(in.Operations) > len(GrantOperations) {
		return "", "", errf(ErrInvalidArgument, "a grant needs 1 to %d operations", len(GrantOperations))
	}
	for _, op := range in.Operations {
		if !slices.Contains(GrantOperations, op) {
			return "", "", errf(ErrInvalidArgument, "%q is not a grant operation", op)
		}
	}
	ops := slices.Clone(in.Operations)
	slices.Sort(ops)
	ops = slices.Compact(ops)
	if c := in.Constraints; c != nil {
		if _, err := canonicalContext(c.EncryptionContextEquals); err != nil {
			return "", "", err
		}
		if _, err := canonicalContext(c.EncryptionContextSubset); err != nil {
			return "", "", err
		}
	}
	idBytes := make([]byte, 32)
	tokBytes := make([]byte, grantTokenBytes)
	if _, err := io.ReadFull(rand.Reader, idBytes); err != nil {
		return "", "", fmt.Errorf("kms: random: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, tokBytes); err != nil {
		return "", "", fmt.Errorf("kms: random: %w", err)
	}
	g := grantRecord{ID: hex.EncodeToString(idBytes), Token: hex.EncodeToString(tokBytes), Name: in.Name,
		GranteePrincipal: in.GranteePrincipal, RetiringPrincipal: in.RetiringPrincipal, Operations: ops, Constraints: in.Constraints}
	_, err = m.mutateRef(ctx, ref, func(rec *keyRecord, now time.Time) (bool, error) {
		if err := stateError(rec.ID, rec.State); err != nil {
			if rec.State == KeyStatePendingDeletion {
				return false, errf(ErrInvalidState, "key %s is pending deletion", rec.ID)
			}
			return false, err
		}
		for _, old := range rec.Grants {
			if in.Name != "" && old.Name == in.Name && old.GranteePrincipal == g.GranteePrincipal &&
				old.RetiringPrincipal == g.RetiringPrincipal && slices.Equal(old.Operations, ops) &&
				constraintsEqual(old.Constraints, g.Constraints) {
				g = old
				return false, nil
			}
		}
		if len(rec.Grants) >= MaxGrantsPerKey {
			return false, errf(ErrLimitExceeded, "key %s has %d grants", rec.ID, len(rec.Grants))
		}
		g.CreationDate = now
		rec.Grants = append(rec.Grants, g)
		return true, nil
	})
	if err != nil {
		return "", "", err
	}
	return g.ID, g.Token, nil
}

func constraintsEqual(a, b *GrantConstraints) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.EncryptionContextEquals, b.EncryptionContextEquals) &&
		maps.Equal(a.EncryptionContextSubset, b.EncryptionContextSubset)
}

// ListGrants lists the grants of a key, oldest first.
func (m *Manager) ListGrants(ctx context.Context, ref string) ([]Grant, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(rec.Grants))
	for i := range rec.Grants {
		out = append(out, m.grant(rec.ID, &rec.Grants[i]))
	}
	return out, nil
}

// GrantByToken finds the key and grant a grant token names (RetireGrant
// by token). An unknown token wraps ErrNotFound.
func (m *Manager) GrantByToken(ctx context.Context, token string) (Grant, error) {
	if token == "" || len(token) > 8192 {
		return Grant{}, errf(ErrInvalidArgument, "grant token must be 1 to 8192 bytes")
	}
	keys, err := m.ListKeys(ctx)
	if err != nil {
		return Grant{}, err
	}
	for _, k := range keys {
		rec, err := m.load(ctx, k.KeyID)
		if err != nil {
			return Grant{}, err
		}
		for i := range rec.Grants {
			if subtle.ConstantTimeCompare([]byte(rec.Grants[i].Token), []byte(token)) == 1 {
				return m.grant(rec.ID, &rec.Grants[i]), nil
			}
		}
	}
	return Grant{}, errf(ErrNotFound, "no grant has this token")
}

// RemoveGrant deletes grant grantID of the key (RetireGrant and
// RevokeGrant; the caller has authorized it). A missing grant wraps
// ErrNotFound.
func (m *Manager) RemoveGrant(ctx context.Context, ref, grantID string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		for i := range rec.Grants {
			if rec.Grants[i].ID == grantID {
				rec.Grants = slices.Delete(rec.Grants, i, i+1)
				return true, nil
			}
		}
		return false, errf(ErrNotFound, "grant %q of key %s", grantID, rec.ID)
	})
	return err
}
