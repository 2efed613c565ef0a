package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shelf-efs/shelf/internal/meta"
)

// reservedAliasPrefix is reserved for AWS managed keys.
const reservedAliasPrefix = "alias/aws/"

// validateAliasName checks "alias/" followed by 1 or more of [A-Za-z0-9/_-],
// 256 bytes at most.
func validateAliasName(name string) error {
	rest, ok := strings.CutPrefix(name, "alias/")
	if !ok || rest == "" || len(name) > maxAliasNameBytes {
		return errf(ErrInvalidArgument, "alias name must be \"alias/\" and a name, at most %d bytes", maxAliasNameBytes)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-') {
			return errf(ErrInvalidArgument, "alias name %q has a character other than letters, digits, /, _ and -", name)
		}
	}
	return nil
}

// CreateAlias points a new alias at a customer key named by its key ID or
// key ARN. Names under "alias/aws/" are reserved (ErrInvalidArgument); an
// existing name wraps ErrAlreadyExists; an AWS managed target
// ErrUnsupportedOperation; a target pending deletion ErrInvalidState.
func (m *Manager) CreateAlias(ctx context.Context, aliasName, targetKeyRef string) error {
	if err := validateAliasName(aliasName); err != nil {
		return err
	}
	if strings.HasPrefix(aliasName, reservedAliasPrefix) {
		return errf(ErrInvalidArgument, "alias names starting with %s are reserved", reservedAliasPrefix)
	}
	p, err := m.parseRef(targetKeyRef)
	if err != nil {
		return err
	}
	if p.keyID == "" {
		return errf(ErrInvalidArgument, "an alias must target a key ID or key ARN, not an alias")
	}
	if _, err := m.loadLive(ctx, p.keyID); err != nil { // completes a due deletion
		return err
	}
	now := m.now()
	return m.store.Update(ctx, func(txn meta.Txn) error {
		rec, err := getKeyRecord(txn, m.cfg.Account, p.keyID)
		if err != nil {
			return err
		}
		switch {
		case rec.State == keyStateDeleted:
			return errf(ErrNotFound, "key %s is deleted", rec.ID)
		case rec.State == KeyStatePendingDeletion:
			return errf(ErrInvalidState, "key %s is pending deletion", rec.ID)
		}
		if err := refuseManaged(rec, "create alias"); err != nil {
			return err
		}
		if _, err := getAliasRecord(txn, m.cfg.Account, aliasName); !errors.Is(err, ErrNotFound) {
			if err == nil {
				return errf(ErrAlreadyExists, "alias %s", aliasName)
			}
			return err
		}
		return putAliasRecord(txn, m.cfg.Account, &aliasRecord{
			Format: recordFormat, Name: aliasName, TargetKeyID: rec.ID,
			CreationDate: now, LastUpdatedDate: now,
		})
	})
}

// DeleteAlias removes an alias; the key is not affected. Aliases under
// "alias/aws/" cannot be deleted (ErrUnsupportedOperation); a missing alias
// wraps ErrNotFound.
func (m *Manager) DeleteAlias(ctx context.Context, aliasName string) error {
	if err := validateAliasName(aliasName); err != nil {
		return err
	}
	if strings.HasPrefix(aliasName, reservedAliasPrefix) {
		return errf(ErrUnsupportedOperation, "alias %s belongs to an AWS managed key", aliasName)
	}
	return m.store.Update(ctx, func(txn meta.Txn) error {
		if _, err := getAliasRecord(txn, m.cfg.Account, aliasName); err != nil {
			return err
		}
		if err := txn.Delete(aliasRecordKey(m.cfg.Account, aliasName)); err != nil {
			return fmt.Errorf("kms: delete alias %s: %w", aliasName, err)
		}
		return nil
	})
}

// ListAliases lists the account's aliases in name order. Aliases of keys
// whose deletion has come due are removed first.
func (m *Manager) ListAliases(ctx context.Context) ([]Alias, error) {
	if err := m.completeDueDeletions(ctx); err != nil {
		return nil, err
	}
	prefix := aliasRecordPrefix(m.cfg.Account)
	var out []Alias
	err := m.store.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		return meta.ScanPrefix(r, prefix, func(k, v []byte) (bool, error) {
			a, err := decodeAliasRecord(string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			out = append(out, Alias{
				AliasName:       a.Name,
				AliasARN:        m.aliasARN(a.Name),
				TargetKeyID:     a.TargetKeyID,
				CreationDate:    a.CreationDate,
				LastUpdatedDate: a.LastUpdatedDate,
			})
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kms: list aliases: %w", err)
	}
	return out, nil
}
