package kms

import (
	"context"
	"fmt"
	"io"
)

// System secrets: small values that shelf itself must be able to read back
// in plaintext, such as the secret access keys of IAM users (SigV4 needs
// the secret to recompute a signature, so it cannot be hashed). They are
// sealed with AES-256-GCM under the key that seals KMS key material, which
// is derived from the root key and never stored; the AAD starts with a
// different label than that of key material, so a sealed secret can never
// be opened as material or the other way round:
//
//	secretVersion(1) | nonce(12) | ciphertext | tag(16)
//	AAD = "shelf kms secret v1\x00" account "\x00" purpose
//
// The nonce is random. This key seals one value per material version and
// per secret, orders of magnitude below the 2^32 limit of random GCM nonces.
const (
	secretVersion  byte = 1
	maxSecretBytes      = 4096
	maxPurposeLen       = 1024
)

func secretAAD(account, purpose string) []byte {
	return []byte("shelf kms secret v1\x00" + account + "\x00" + purpose)
}

// SealSecret seals plaintext (at most 4096 bytes) for this account, bound to
// purpose: OpenSecret opens it only with the same purpose, so callers bind
// each secret to what it belongs to (e.g. "iam access key AKIA…"), and a
// sealed value copied to another record does not open. The result is safe
// to store anywhere. plaintext is not retained. Safe for concurrent use;
// ctx is unused today (sealing is local) but kept for an external KMS.
func (m *Manager) SealSecret(ctx context.Context, purpose string, plaintext []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(plaintext) > maxSecretBytes {
		return nil, errf(ErrInvalidArgument, "secret is %d bytes, more than %d", len(plaintext), maxSecretBytes)
	}
	if purpose == "" || len(purpose) > maxPurposeLen {
		return nil, errf(ErrInvalidArgument, "secret purpose must be 1 to %d bytes", maxPurposeLen)
	}
	out := make([]byte, 1+nonceBytes, 1+nonceBytes+len(plaintext)+tagBytes)
	out[0] = secretVersion
	if _, err := io.ReadFull(m.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	return m.materialAEAD.Seal(out, out[1:], plaintext, secretAAD(m.cfg.Account, purpose)), nil
}

// OpenSecret opens a value sealed by SealSecret with the same purpose, for
// the same account and root key. Anything else (another purpose, account
// or root key, a truncated or altered value) fails with an error wrapping
// ErrCorrupt that quotes nothing of the value. The returned slice belongs to
// the caller.
func (m *Manager) OpenSecret(ctx context.Context, purpose string, sealed []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(sealed) < 1+nonceBytes+tagBytes || len(sealed) > 1+nonceBytes+maxSecretBytes+tagBytes || sealed[0] != secretVersion {
		return nil, fmt.Errorf("%w: sealed secret is malformed", ErrCorrupt)
	}
	out, err := m.materialAEAD.Open(nil, sealed[1:1+nonceBytes], sealed[1+nonceBytes:], secretAAD(m.cfg.Account, purpose))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed secret does not open with the root key for this purpose", ErrCorrupt)
	}
	return out, nil
}
