package kms

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Records of this package, schema version 1. All live in meta table 'K'
// (meta.KMSKey) except the root-key check, a system singleton:
//
//	S "root-key-check"                    rootCheckVersion | salt(16) | HMAC-SHA256(32)
//	K "key/"   account "/" keyID          keyRecord, JSON
//	K "alias/" account "/" name           aliasRecord, JSON; name without "alias/"
//
// Key records are never removed: a deleted key leaves a tombstone without
// material, so that ciphertext under it reports ErrKeyDeleted rather than
// "unknown key" and fsck can tell the two apart. Each record carries a format
// number; a record with an unknown format is refused.
const recordFormat = 1

var rootCheckKey = meta.SystemKey("root-key-check")

func keyRecordPrefix(account string) []byte { return meta.KMSKey("key/" + account + "/") }

func keyRecordKey(account, id string) []byte { return meta.KMSKey("key/" + account + "/" + id) }

func aliasRecordPrefix(account string) []byte { return meta.KMSKey("alias/" + account + "/") }

func aliasRecordKey(account, aliasName string) []byte {
	return meta.KMSKey("alias/" + account + "/" + strings.TrimPrefix(aliasName, "alias/"))
}

type keyRecord struct {
	Format       int        `json:"format"`
	ID           string     `json:"id"`
	Account      string     `json:"account"`
	Revision     uint64     `json:"revision"` // incremented by every write
	CreationDate time.Time  `json:"creation_date"`
	Description  string     `json:"description,omitempty"`
	KeyManager   KeyManager `json:"key_manager"`
	State        KeyState   `json:"state"`

	DeletionDate      time.Time `json:"deletion_date,omitzero"`
	PendingWindowDays int       `json:"pending_window_days,omitempty"`
	DeletedDate       time.Time `json:"deleted_date,omitzero"`

	RotationEnabled    bool      `json:"rotation_enabled,omitempty"`
	RotationPeriodDays int       `json:"rotation_period_days,omitempty"`
	NextRotationDate   time.Time `json:"next_rotation_date,omitzero"`
	OnDemandRotations  int       `json:"on_demand_rotations,omitempty"`

	Tags map[string]string `json:"tags,omitempty"`
	// Policy is the key policy document; empty means the default policy
	// of the key's kind (policyOf).
	Policy string        `json:"policy,omitempty"`
	Grants []grantRecord `json:"grants,omitempty"`
	// Materials are the material versions, oldest first; the last one is
	// current. Empty once the key is deleted.
	Materials []materialRecord `json:"materials,omitempty"`
}

type materialRecord struct {
	Version      uint32    `json:"version"`
	CreationDate time.Time `json:"creation_date"`
	Sealed       []byte    `json:"sealed"` // sealed by the root key (sealMaterial)
}

type aliasRecord struct {
	Format          int       `json:"format"`
	Name            string    `json:"name"` // "alias/…"
	TargetKeyID     string    `json:"target_key_id"`
	CreationDate    time.Time `json:"creation_date"`
	LastUpdatedDate time.Time `json:"last_updated_date"`
}

// deletionDue reports whether a key pending deletion has reached its date.
func (r *keyRecord) deletionDue(now time.Time) bool {
	return r.State == KeyStatePendingDeletion && !now.Before(r.DeletionDate)
}

func (r *keyRecord) material(version uint32) (materialRecord, bool) {
	for _, mr := range r.Materials {
		if mr.Version == version {
			return mr, true
		}
	}
	return materialRecord{}, false
}

func (r *keyRecord) current() (materialRecord, bool) {
	if len(r.Materials) == 0 {
		return materialRecord{}, false
	}
	return r.Materials[len(r.Materials)-1], true
}

func decodeKeyRecord(id string, value []byte) (*keyRecord, error) {
	var rec keyRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return nil, fmt.Errorf("%w: key record %s: %v", ErrCorrupt, id, err)
	}
	if rec.Format != recordFormat {
		return nil, fmt.Errorf("%w: key record %s has unsupported format %d", ErrCorrupt, id, rec.Format)
	}
	if rec.ID != id {
		return nil, fmt.Errorf("%w: key record %s names key %q", ErrCorrupt, id, rec.ID)
	}
	switch rec.State {
	case KeyStateEnabled, KeyStateDisabled, KeyStatePendingDeletion:
		if len(rec.Materials) == 0 {
			return nil, fmt.Errorf("%w: key record %s has no material", ErrCorrupt, id)
		}
	case keyStateDeleted:
	default:
		return nil, fmt.Errorf("%w: key record %s has unknown state %q", ErrCorrupt, id, rec.State)
	}
	return &rec, nil
}

func getKeyRecord(r meta.Reader, account, id string) (*keyRecord, error) {
	v, err := r.Get(keyRecordKey(account, id))
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errf(ErrNotFound, "key %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("kms: read key %s: %w", id, err)
	}
	return decodeKeyRecord(id, v)
}

func putKeyRecord(txn meta.Txn, rec *keyRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("kms: encode key %s: %w", rec.ID, err)
	}
	if err := txn.Set(keyRecordKey(rec.Account, rec.ID), v); err != nil {
		return fmt.Errorf("kms: write key %s: %w", rec.ID, err)
	}
	return nil
}

func getAliasRecord(r meta.Reader, account, name string) (*aliasRecord, error) {
	v, err := r.Get(aliasRecordKey(account, name))
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errf(ErrNotFound, "alias %s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("kms: read alias %s: %w", name, err)
	}
	return decodeAliasRecord(name, v)
}

func decodeAliasRecord(name string, v []byte) (*aliasRecord, error) {
	var rec aliasRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("%w: alias record %s: %v", ErrCorrupt, name, err)
	}
	if rec.Format != recordFormat {
		return nil, fmt.Errorf("%w: alias record %s has unsupported format %d", ErrCorrupt, name, rec.Format)
	}
	return &rec, nil
}

func putAliasRecord(txn meta.Txn, account string, rec *aliasRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("kms: encode alias %s: %w", rec.Name, err)
	}
	if err := txn.Set(aliasRecordKey(account, rec.Name), v); err != nil {
		return fmt.Errorf("kms: write alias %s: %w", rec.Name, err)
	}
	return nil
}

// Key IDs are random (version 4) UUIDs in lower case, as AWS KMS uses.

func newKeyID(random io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("kms: random: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b), nil
}

func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// parseUUID accepts the 36-character form in either case.
func parseUUID(s string) ([16]byte, bool) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return b, false
	}
	return b, true
}
