package kms

import (
	"context"
	"fmt"
	"io"
)

// Limits of the cryptographic operations, as in AWS KMS.
const (
	MaxPlaintextBytes    = 4096 // Encrypt
	MaxDataKeyBytes      = 1024 // GenerateDataKey NumberOfBytes
	MaxEncryptionContext = maxContextBytes
)

// BlobKeyID returns the ID of the key that sealed a ciphertext blob,
// without opening it. A blob that is not one of ours wraps ErrCorrupt.
func BlobKeyID(blob []byte) (string, error) {
	id, _, err := parseBlobHeader(blob)
	return id, err
}

// usableKey resolves ref to an enabled key for a cryptographic operation.
func (m *Manager) usableKey(ctx context.Context, ref string) (*keyRecord, error) {
	id, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rec, err := m.loadLive(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State == keyStateDeleted {
		return nil, errf(ErrNotFound, "key %s is deleted", id)
	}
	if err := stateError(id, rec.State); err != nil {
		return nil, err
	}
	return rec, nil
}

// Encrypt seals plaintext (1 to 4096 bytes) under the current material of
// the key named by ref, bound to encCtx. Errors as for GenerateDataKey.
func (m *Manager) Encrypt(ctx context.Context, ref string, plaintext []byte, encCtx map[string]string) (blob []byte, keyARN string, err error) {
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintextBytes {
		return nil, "", errf(ErrInvalidArgument, "plaintext must be 1 to %d bytes", MaxPlaintextBytes)
	}
	rec, err := m.usableKey(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	blob, err = m.sealBlob(rec, plaintext, encCtx)
	if err != nil {
		return nil, "", err
	}
	return blob, m.keyARN(rec.ID), nil
}

// GenerateDataKeyBytes is GenerateDataKey for a data key of n bytes (1 to
// 1024).
func (m *Manager) GenerateDataKeyBytes(ctx context.Context, ref string, n int, encCtx map[string]string) (plaintext, blob []byte, keyARN string, err error) {
	if n < 1 || n > MaxDataKeyBytes {
		return nil, nil, "", errf(ErrInvalidArgument, "a data key must be 1 to %d bytes", MaxDataKeyBytes)
	}
	rec, err := m.usableKey(ctx, ref)
	if err != nil {
		return nil, nil, "", err
	}
	plaintext = make([]byte, n)
	if _, err := io.ReadFull(m.rand, plaintext); err != nil {
		return nil, nil, "", fmt.Errorf("kms: random: %w", err)
	}
	blob, err = m.sealBlob(rec, plaintext, encCtx)
	if err != nil {
		clear(plaintext)
		return nil, nil, "", err
	}
	return plaintext, blob, m.keyARN(rec.ID), nil
}

// ReEncrypt opens blob with srcCtx and seals its plaintext under the key
// named by destRef with destCtx, without returning the plaintext. Errors
// of the source as for Decrypt, of the destination as for Encrypt.
func (m *Manager) ReEncrypt(ctx context.Context, blob []byte, srcCtx map[string]string, destRef string, destCtx map[string]string) (out []byte, srcARN, destARN string, err error) {
	plaintext, srcARN, err := m.Decrypt(ctx, blob, srcCtx)
	if err != nil {
		return nil, "", "", err
	}
	defer clear(plaintext)
	rec, err := m.usableKey(ctx, destRef)
	if err != nil {
		return nil, "", "", err
	}
	out, err = m.sealBlob(rec, plaintext, destCtx)
	if err != nil {
		return nil, "", "", err
	}
	return out, srcARN, m.keyARN(rec.ID), nil
}
