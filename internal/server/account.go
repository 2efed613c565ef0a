package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/shelf-efs/shelf/internal/awsid"
	"github.com/shelf-efs/shelf/internal/meta"
)

// accountKey records the account that owns the store: 12 ASCII digits. The
// account is part of every ARN and of the additional data that binds KMS key
// material, so a store keeps its account for life.
var accountKey = meta.SystemKey("account")

// recordedAccount returns the account recorded in the store, or "".
func recordedAccount(ctx context.Context, m meta.Store) (string, error) {
	var account string
	err := m.View(ctx, func(r meta.Reader) error {
		v, err := r.Get(accountKey)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !awsid.ValidAccount(string(v)) {
			return fmt.Errorf("recorded account is not 12 digits")
		}
		account = string(v)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("server: read account: %w", err)
	}
	return account, nil
}

// recordAccount records account unless one is recorded already, in which
// case that one must be the same.
func recordAccount(ctx context.Context, m meta.Store, account string) error {
	err := m.Update(ctx, func(t meta.Txn) error {
		v, err := t.Get(accountKey)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return t.Set(accountKey, []byte(account))
		case err != nil:
			return err
		case string(v) != account:
			return fmt.Errorf("%w: store recorded account %s meanwhile", ErrAccountMismatch, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("server: record account: %w", err)
	}
	return nil
}

// newAccount returns a random 12-digit account ID.
func newAccount() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		return "", fmt.Errorf("server: random account: %w", err)
	}
	return fmt.Sprintf("%012d", n), nil
}
