package kms

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

const (
	day             = 24 * time.Hour
	managedKeyDescr = "Default key that protects my Elastic File System (EFS) filesystems when no other key is defined"
)

// CreateKey creates a customer managed key, enabled, with rotation off and
// one material version. Description is at most 8192 bytes; at most 50 tags,
// keys of 1 to 128 bytes not starting with "aws:", values of at most 256
// bytes; violations wrap ErrInvalidArgument.
func (m *Manager) CreateKey(ctx context.Context, in CreateKeyInput) (KeyMetadata, error) {
	if len(in.Description) > maxDescriptionBytes {
		return KeyMetadata{}, errf(ErrInvalidArgument, "description is longer than %d bytes", maxDescriptionBytes)
	}
	if err := validateTags(in.Tags); err != nil {
		return KeyMetadata{}, err
	}
	rec, err := m.newKeyRecord(KeyManagerCustomer, in.Description, m.now())
	if err != nil {
		return KeyMetadata{}, err
	}
	if len(in.Tags) > 0 {
		rec.Tags = maps.Clone(in.Tags)
	}
	if len(in.Policy) > MaxKeyPolicyBytes {
		return KeyMetadata{}, errf(ErrInvalidArgument, "key policy is longer than %d bytes", MaxKeyPolicyBytes)
	}
	rec.Policy = in.Policy
	err = m.store.Update(ctx, func(txn meta.Txn) error {
		if _, err := txn.Get(keyRecordKey(m.cfg.Account, rec.ID)); !errors.Is(err, meta.ErrNotFound) {
			if err == nil {
				return fmt.Errorf("kms: create key: key id %s already in use", rec.ID)
			}
			return fmt.Errorf("kms: create key: %w", err)
		}
		return putKeyRecord(txn, rec)
	})
	if err != nil {
		return KeyMetadata{}, err
	}
	m.observe(rec)
	return m.metadata(rec), nil
}

func (m *Manager) newKeyRecord(km KeyManager, description string, now time.Time) (*keyRecord, error) {
	id, err := newKeyID(m.rand)
	if err != nil {
		return nil, err
	}
	mat, err := m.newMaterial(id, 1, now)
	if err != nil {
		return nil, err
	}
	rec := &keyRecord{
		Format:       recordFormat,
		ID:           id,
		Account:      m.cfg.Account,
		Revision:     1,
		CreationDate: now,
		Description:  description,
		KeyManager:   km,
		State:        KeyStateEnabled,
		Materials:    []materialRecord{mat},
	}
	if km == KeyManagerAWS {
		rec.RotationEnabled = true
		rec.RotationPeriodDays = RotationPeriodDays
		rec.NextRotationDate = now.Add(RotationPeriodDays * day)
	}
	return rec, nil
}

func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return errf(ErrInvalidArgument, "%d tags, at most %d allowed", len(tags), maxTags)
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > maxTagKeyBytes:
			return errf(ErrInvalidArgument, "tag key must be 1 to %d bytes", maxTagKeyBytes)
		case strings.HasPrefix(k, "aws:"):
			return errf(ErrInvalidArgument, "tag key %q uses the reserved prefix aws:", k)
		case len(v) > maxTagValueBytes:
			return errf(ErrInvalidArgument, "tag %q: value longer than %d bytes", k, maxTagValueBytes)
		}
	}
	return nil
}

// ManagedKey returns the AWS managed key for EFS (alias/aws/elasticfilesystem),
// creating it and its alias in one transaction on first use, so concurrent
// callers all get the same key. The key is always enabled and rotates every
// year; users cannot disable, delete or rotate it on demand.
func (m *Manager) ManagedKey(ctx context.Context) (KeyMetadata, error) {
	var rec *keyRecord
	err := m.store.View(ctx, func(r meta.Reader) error {
		rec = nil
		a, err := getAliasRecord(r, m.cfg.Account, ManagedKeyAlias)
		if err != nil {
			return err
		}
		rec, err = getKeyRecord(r, m.cfg.Account, a.TargetKeyID)
		return err
	})
	if err == nil {
		m.observe(rec)
		return m.metadata(rec), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return KeyMetadata{}, err
	}
	now := m.now()
	fresh, err := m.newKeyRecord(KeyManagerAWS, managedKeyDescr, now)
	if err != nil {
		return KeyMetadata{}, err
	}
	err = m.store.Update(ctx, func(txn meta.Txn) error {
		rec = nil
		a, err := getAliasRecord(txn, m.cfg.Account, ManagedKeyAlias)
		if err == nil { // created meanwhile
			rec, err = getKeyRecord(txn, m.cfg.Account, a.TargetKeyID)
			return err
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		rec = fresh
		if err := putKeyRecord(txn, rec); err != nil {
			return err
		}
		return putAliasRecord(txn, m.cfg.Account, &aliasRecord{
			Format: recordFormat, Name: ManagedKeyAlias, TargetKeyID: rec.ID,
			CreationDate: now, LastUpdatedDate: now,
		})
	})
	if err != nil {
		return KeyMetadata{}, fmt.Errorf("kms: create managed key: %w", err)
	}
	m.observe(rec)
	return m.metadata(rec), nil
}

// DescribeKey returns the metadata of the key named by ref: a key ID, key
// ARN, alias name or alias ARN. Unknown and deleted keys wrap ErrNotFound,
// malformed references ErrInvalidArgument or ErrNotFound (as AWS answers).
func (m *Manager) DescribeKey(ctx context.Context, ref string) (KeyMetadata, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return KeyMetadata{}, err
	}
	return m.metadata(rec), nil
}

// ListKeys lists the account's keys (enabled, disabled and pending deletion;
// not deleted ones) in key-ID order. Due deletions are completed first.
func (m *Manager) ListKeys(ctx context.Context) ([]KeyListEntry, error) {
	if err := m.completeDueDeletions(ctx); err != nil {
		return nil, err
	}
	prefix := keyRecordPrefix(m.cfg.Account)
	var out []KeyListEntry
	err := m.store.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		return meta.ScanPrefix(r, prefix, func(k, v []byte) (bool, error) {
			rec, err := decodeKeyRecord(string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			if rec.State != keyStateDeleted {
				out = append(out, KeyListEntry{KeyID: rec.ID, KeyARN: m.keyARN(rec.ID)})
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kms: list keys: %w", err)
	}
	return out, nil
}

// completeDueDeletions deletes the keys whose deletion date has passed,
// as far as the state cache knows them (every key of this Manager).
func (m *Manager) completeDueDeletions(ctx context.Context) error {
	now := m.now()
	var due []string
	m.mu.Lock()
	for id, ki := range m.mu.keys {
		if ki.state == KeyStatePendingDeletion && !now.Before(ki.deletionDate) {
			due = append(due, id)
		}
	}
	m.mu.Unlock()
	sort.Strings(due)
	for _, id := range due {
		if _, err := m.completeDeletion(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func refuseManaged(rec *keyRecord, op string) error {
	if rec.KeyManager == KeyManagerAWS {
		return errf(ErrUnsupportedOperation, "%s: key %s is an AWS managed key", op, rec.ID)
	}
	return nil
}

func (m *Manager) mutateRef(ctx context.Context, ref string, fn func(rec *keyRecord, now time.Time) (bool, error)) (*keyRecord, error) {
	id, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return m.mutate(ctx, id, fn)
}

// EnableKey enables a disabled key; its data becomes readable again.
// Enabling an enabled key does nothing. A key pending deletion wraps
// ErrInvalidState (cancel the deletion first); an AWS managed key
// ErrUnsupportedOperation.
func (m *Manager) EnableKey(ctx context.Context, ref string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "enable key"); err != nil {
			return false, err
		}
		switch rec.State {
		case KeyStateEnabled:
			return false, nil
		case KeyStateDisabled:
			rec.State = KeyStateEnabled
			return true, nil
		default:
			return false, errf(ErrInvalidState, "key %s is %s", rec.ID, rec.State)
		}
	})
	return err
}

// DisableKey disables a key: it can no longer make or open ciphertext, and
// FileSystemKey fails with ErrKeyDisabled for file systems under it, from
// this call on. Disabling a disabled key does nothing. A key pending
// deletion wraps ErrInvalidState; an AWS managed key ErrUnsupportedOperation.
func (m *Manager) DisableKey(ctx context.Context, ref string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "disable key"); err != nil {
			return false, err
		}
		switch rec.State {
		case KeyStateDisabled:
			return false, nil
		case KeyStateEnabled:
			rec.State = KeyStateDisabled
			return true, nil
		default:
			return false, errf(ErrInvalidState, "key %s is %s", rec.ID, rec.State)
		}
	})
	return err
}

// ScheduleKeyDeletion puts a key in state PendingDeletion with a deletion
// date pendingWindowDays (7 to 30; 0 means 30) from now. Until then the key
// is unusable but CancelKeyDeletion can save it; once the date has passed
// the key is deleted on next access or Sweep, its material destroyed and
// data under it unrecoverable. A key already pending deletion wraps
// ErrInvalidState; an AWS managed key ErrUnsupportedOperation.
func (m *Manager) ScheduleKeyDeletion(ctx context.Context, ref string, pendingWindowDays int) (KeyMetadata, error) {
	if pendingWindowDays == 0 {
		pendingWindowDays = DefaultPendingWindowDays
	}
	if pendingWindowDays < MinPendingWindowDays || pendingWindowDays > MaxPendingWindowDays {
		return KeyMetadata{}, errf(ErrInvalidArgument, "pending window of %d days, must be %d to %d",
			pendingWindowDays, MinPendingWindowDays, MaxPendingWindowDays)
	}
	rec, err := m.mutateRef(ctx, ref, func(rec *keyRecord, now time.Time) (bool, error) {
		if err := refuseManaged(rec, "schedule key deletion"); err != nil {
			return false, err
		}
		if rec.State == KeyStatePendingDeletion {
			return false, errf(ErrInvalidState, "key %s is already pending deletion", rec.ID)
		}
		rec.State = KeyStatePendingDeletion
		rec.DeletionDate = now.Add(time.Duration(pendingWindowDays) * day)
		rec.PendingWindowDays = pendingWindowDays
		return true, nil
	})
	if err != nil {
		return KeyMetadata{}, err
	}
	return m.metadata(rec), nil
}

// CancelKeyDeletion takes a key out of PendingDeletion into Disabled, as AWS
// does; enable it to use it again. A key not pending deletion wraps
// ErrInvalidState; a key whose deletion date has passed is gone
// (ErrNotFound).
func (m *Manager) CancelKeyDeletion(ctx context.Context, ref string) (KeyMetadata, error) {
	rec, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if rec.State != KeyStatePendingDeletion {
			return false, errf(ErrInvalidState, "key %s is not pending deletion", rec.ID)
		}
		rec.State = KeyStateDisabled
		rec.DeletionDate = time.Time{}
		rec.PendingWindowDays = 0
		return true, nil
	})
	if err != nil {
		return KeyMetadata{}, err
	}
	return m.metadata(rec), nil
}

// usableForManagement checks the state a rotation operation needs.
func usableForManagement(rec *keyRecord) error {
	switch rec.State {
	case KeyStateEnabled:
		return nil
	case KeyStateDisabled:
		return errf(ErrKeyDisabled, "key %s", rec.ID)
	default:
		return errf(ErrInvalidState, "key %s is %s", rec.ID, rec.State)
	}
}

// EnableKeyRotation turns on yearly automatic rotation (done by Sweep). The
// key must be enabled (a disabled key wraps ErrKeyDisabled, one pending
// deletion ErrInvalidState). The AWS managed key always rotates; changing
// that wraps ErrUnsupportedOperation.
func (m *Manager) EnableKeyRotation(ctx context.Context, ref string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, now time.Time) (bool, error) {
		if err := refuseManaged(rec, "enable key rotation"); err != nil {
			return false, err
		}
		if err := usableForManagement(rec); err != nil {
			return false, err
		}
		if rec.RotationEnabled {
			return false, nil
		}
		rec.RotationEnabled = true
		rec.RotationPeriodDays = RotationPeriodDays
		rec.NextRotationDate = now.Add(RotationPeriodDays * day)
		return true, nil
	})
	return err
}

// DisableKeyRotation turns automatic rotation off; existing material
// versions stay. Errors as for EnableKeyRotation.
func (m *Manager) DisableKeyRotation(ctx context.Context, ref string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, _ time.Time) (bool, error) {
		if err := refuseManaged(rec, "disable key rotation"); err != nil {
			return false, err
		}
		if err := usableForManagement(rec); err != nil {
			return false, err
		}
		if !rec.RotationEnabled {
			return false, nil
		}
		rec.RotationEnabled = false
		rec.RotationPeriodDays = 0
		rec.NextRotationDate = time.Time{}
		return true, nil
	})
	return err
}

// GetKeyRotationStatus reports whether automatic rotation is on and when it
// happens next.
func (m *Manager) GetKeyRotationStatus(ctx context.Context, ref string) (RotationStatus, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return RotationStatus{}, err
	}
	return RotationStatus{
		KeyID:                rec.ID,
		KeyRotationEnabled:   rec.RotationEnabled,
		RotationPeriodInDays: rec.RotationPeriodDays,
		NextRotationDate:     rec.NextRotationDate,
	}, nil
}

// RotateKey rotates a customer key now (RotateKeyOnDemand): it adds a
// material version that new ciphertext uses from this call on, and keeps
// the older versions so existing ciphertext still decrypts. The key must be
// enabled; at most 25 on-demand rotations per key (ErrLimitExceeded); the
// AWS managed key rotates only automatically (ErrUnsupportedOperation).
func (m *Manager) RotateKey(ctx context.Context, ref string) error {
	_, err := m.mutateRef(ctx, ref, func(rec *keyRecord, now time.Time) (bool, error) {
		if err := refuseManaged(rec, "rotate key"); err != nil {
			return false, err
		}
		if err := usableForManagement(rec); err != nil {
			return false, err
		}
		if rec.OnDemandRotations >= MaxOnDemandRotations {
			return false, errf(ErrLimitExceeded, "key %s was rotated on demand %d times", rec.ID, rec.OnDemandRotations)
		}
		if err := m.addMaterial(rec, now); err != nil {
			return false, err
		}
		rec.OnDemandRotations++
		return true, nil
	})
	return err
}

func (m *Manager) addMaterial(rec *keyRecord, now time.Time) error {
	cur, _ := rec.current()
	mat, err := m.newMaterial(rec.ID, cur.Version+1, now)
	if err != nil {
		return err
	}
	rec.Materials = append(rec.Materials, mat)
	return nil
}

// ListResourceTags returns a copy of the key's tags.
func (m *Manager) ListResourceTags(ctx context.Context, ref string) (map[string]string, error) {
	rec, err := m.describe(ctx, ref)
	if err != nil {
		return nil, err
	}
	return maps.Clone(rec.Tags), nil
}

// Sweep does the account's scheduled key work: it completes deletions whose
// date has passed and rotates enabled keys whose automatic rotation is due
// (the next one is a rotation period later). Run it periodically; it is
// idempotent and safe to run concurrently with everything else. It returns
// the errors of all keys it could not process, joined.
func (m *Manager) Sweep(ctx context.Context) error {
	now := m.now()
	prefix := keyRecordPrefix(m.cfg.Account)
	var deletions, rotations []string
	err := m.store.View(ctx, func(r meta.Reader) error {
		deletions, rotations = deletions[:0], rotations[:0]
		return meta.ScanPrefix(r, prefix, func(k, v []byte) (bool, error) {
			rec, err := decodeKeyRecord(string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			switch {
			case rec.deletionDue(now):
				deletions = append(deletions, rec.ID)
			case rec.State == KeyStateEnabled && rec.RotationEnabled && !now.Before(rec.NextRotationDate):
				rotations = append(rotations, rec.ID)
			}
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("kms: sweep: %w", err)
	}
	var errs []error
	for _, id := range deletions {
		if _, err := m.completeDeletion(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range rotations {
		_, err := m.mutate(ctx, id, func(rec *keyRecord, now time.Time) (bool, error) {
			if rec.State != KeyStateEnabled || !rec.RotationEnabled || now.Before(rec.NextRotationDate) {
				return false, nil
			}
			if err := m.addMaterial(rec, now); err != nil {
				return false, err
			}
			rec.NextRotationDate = now.Add(time.Duration(rec.RotationPeriodDays) * day)
			return true, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("kms: rotate key %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
