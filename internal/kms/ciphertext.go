package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Ciphertext blob layout (version 1), made by GenerateDataKey:
//
//	version(1) | keyID(16, binary UUID) | materialVersion(4) | salt(16) | nonce(12) | ciphertext | tag(16)
//
// The header names the KMS key and the material version that sealed the
// blob. Each blob is sealed with AES-256-GCM under its own key,
// HMAC-SHA256(material, label | salt), so no material key approaches the
// GCM random-nonce limit. The AAD is the header (version, key ID, material
// version) followed by the canonical encoding of the encryption context, so
// neither can be changed without failing authentication.
const (
	blobVersion     byte = 1
	blobHeaderBytes      = 1 + 16 + 4
	blobPrefixBytes      = blobHeaderBytes + saltBytes + nonceBytes
	blobOverhead         = blobPrefixBytes + tagBytes
	maxBlobBytes         = 6144 // as AWS KMS
	materialBytes        = 32
	dataKeyBytes         = 32
	maxContextBytes      = 8192
)

// parseBlobHeader returns the key ID and material version a blob names.
func parseBlobHeader(blob []byte) (string, uint32, error) {
	if len(blob) < blobOverhead || len(blob) > maxBlobBytes {
		return "", 0, fmt.Errorf("%w: ciphertext blob of %d bytes", ErrCorrupt, len(blob))
	}
	if blob[0] != blobVersion {
		return "", 0, fmt.Errorf("%w: unknown ciphertext blob version %d", ErrCorrupt, blob[0])
	}
	return formatUUID([16]byte(blob[1:17])), binary.BigEndian.Uint32(blob[17:21]), nil
}

// canonicalContext encodes an encryption context injectively and
// independently of map order: uvarint(count), then for each pair in
// ascending key order uvarint(len(key)) key uvarint(len(value)) value. A nil
// and an empty context encode the same.
func canonicalContext(encCtx map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(encCtx))
	size := 0
	for k, v := range encCtx {
		keys = append(keys, k)
		size += len(k) + len(v)
	}
	if size > maxContextBytes {
		return nil, errf(ErrInvalidArgument, "encryption context is larger than %d bytes", maxContextBytes)
	}
	sort.Strings(keys)
	out := binary.AppendUvarint(make([]byte, 0, size+4*len(keys)+binary.MaxVarintLen64), uint64(len(keys)))
	for _, k := range keys {
		v := encCtx[k]
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return out, nil
}

func blobAEAD(material, salt []byte) (cipher.AEAD, error) {
	h := hmac.New(sha256.New, material)
	h.Write([]byte("shelf kms blob v1"))
	h.Write(salt)
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealBlob encrypts plaintext under the current material of rec.
func (m *Manager) sealBlob(rec *keyRecord, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	cc, err := canonicalContext(encCtx)
	if err != nil {
		return nil, err
	}
	mr, ok := rec.current()
	if !ok {
		return nil, errf(ErrKeyDeleted, "key %s", rec.ID)
	}
	material, err := m.openMaterial(rec.ID, mr.Version, mr.Sealed)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	id, _ := parseUUID(rec.ID)
	out := make([]byte, blobPrefixBytes, blobOverhead+len(plaintext))
	out[0] = blobVersion
	copy(out[1:17], id[:])
	binary.BigEndian.PutUint32(out[17:21], mr.Version)
	if _, err := io.ReadFull(m.rand, out[blobHeaderBytes:]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	g, err := blobAEAD(material, out[blobHeaderBytes:blobHeaderBytes+saltBytes])
	if err != nil {
		return nil, err
	}
	aad := append(append([]byte(nil), out[:blobHeaderBytes]...), cc...)
	return g.Seal(out, out[blobHeaderBytes+saltBytes:blobPrefixBytes], plaintext, aad), nil
}

// openBlob decrypts a blob made by sealBlob with a record of the key it
// names. Every failure to authenticate wraps ErrCorrupt.
func (m *Manager) openBlob(rec *keyRecord, version uint32, blob []byte, encCtx map[string]string) ([]byte, error) {
	cc, err := canonicalContext(encCtx)
	if err != nil {
		return nil, err
	}
	mr, ok := rec.material(version)
	if !ok {
		return nil, fmt.Errorf("%w: key %s has no material version %d", ErrCorrupt, rec.ID, version)
	}
	material, err := m.openMaterial(rec.ID, mr.Version, mr.Sealed)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	g, err := blobAEAD(material, blob[blobHeaderBytes:blobHeaderBytes+saltBytes])
	if err != nil {
		return nil, err
	}
	aad := append(append([]byte(nil), blob[:blobHeaderBytes]...), cc...)
	out, err := g.Open(nil, blob[blobHeaderBytes+saltBytes:blobPrefixBytes], blob[blobPrefixBytes:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext blob does not authenticate under key %s and this encryption context", ErrCorrupt, rec.ID)
	}
	return out, nil
}

// GenerateDataKey returns a fresh 32-byte data key, in plaintext and as a
// ciphertext blob sealed under the current material of the KMS key named by
// ref (key ID, key ARN, alias name or alias ARN) with encCtx bound to it,
// and the key's ARN. The key must be enabled: a disabled one wraps
// ErrKeyDisabled, one pending deletion ErrKeyPendingDeletion, a deleted one
// ErrNotFound. The caller owns plaintext and should clear it after use.
func (m *Manager) GenerateDataKey(ctx context.Context, ref string, encCtx map[string]string) (plaintext, ciphertextBlob []byte, keyARN string, err error) {
	id, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, nil, "", err
	}
	rec, err := m.loadLive(ctx, id)
	if err != nil {
		return nil, nil, "", err
	}
	if rec.State == keyStateDeleted {
		return nil, nil, "", errf(ErrNotFound, "key %s is deleted", id)
	}
	if err := stateError(id, rec.State); err != nil {
		return nil, nil, "", err
	}
	plaintext = make([]byte, dataKeyBytes)
	if _, err := io.ReadFull(m.rand, plaintext); err != nil {
		return nil, nil, "", fmt.Errorf("kms: random: %w", err)
	}
	blob, err := m.sealBlob(rec, plaintext, encCtx)
	if err != nil {
		clear(plaintext)
		return nil, nil, "", err
	}
	return plaintext, blob, m.keyARN(id), nil
}

// Decrypt opens a ciphertext blob made by GenerateDataKey, given the same
// encryption context, and returns the data key and the ARN of the KMS key
// that sealed it (the blob names the key and its material version, which
// stays available after rotation). A malformed or altered blob, or another
// context, wraps ErrCorrupt; a key that is not enabled wraps a member of
// ErrKeyUnavailable (ErrKeyDeleted once its material is destroyed); a key
// this account never had wraps ErrNotFound. Neither argument is retained;
// the caller owns plaintext and should clear it after use.
func (m *Manager) Decrypt(ctx context.Context, ciphertextBlob []byte, encCtx map[string]string) (plaintext []byte, keyARN string, err error) {
	id, version, err := parseBlobHeader(ciphertextBlob)
	if err != nil {
		return nil, "", err
	}
	rec, err := m.loadLive(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := stateError(id, rec.State); err != nil {
		return nil, "", err
	}
	plaintext, err = m.openBlob(rec, version, ciphertextBlob, encCtx)
	if err != nil {
		return nil, "", err
	}
	return plaintext, m.keyARN(id), nil
}
