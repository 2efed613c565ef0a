package kms

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Wrapped file-system key layout (version 1), made by NewFileSystemKey:
//
//	version(1) | dataKeyID(4) | ciphertext blob (see ciphertext.go)
//
// The blob holds the 32-byte data key, sealed with the encryption context
// {FileSystemContextKey: fsID, "shelf:data-key-id": decimal dataKeyID}, so
// neither the file system nor the data-key ID can be swapped.
const (
	wrappedVersion     byte = 1
	wrappedHeaderBytes      = 1 + 4
	dataKeyIDContext        = "shelf:data-key-id"
	// FirstDataKeyID is the ID NewFileSystemKey gives a file system's data key.
	FirstDataKeyID uint32 = 1
)

func fileSystemContext(fsID string, dataKeyID uint32) map[string]string {
	return map[string]string{
		FileSystemContextKey: fsID,
		dataKeyIDContext:     strconv.FormatUint(uint64(dataKeyID), 10),
	}
}

func parseWrapped(wrapped []byte) (dataKeyID uint32, blob []byte, err error) {
	if len(wrapped) < wrappedHeaderBytes || wrapped[0] != wrappedVersion {
		return 0, nil, fmt.Errorf("%w: not a wrapped file-system key", ErrCorrupt)
	}
	return binary.BigEndian.Uint32(wrapped[1:5]), wrapped[wrappedHeaderBytes:], nil
}

func validateFSID(fsID string) error {
	if fsID == "" || len(fsID) > 128 {
		return errf(ErrInvalidArgument, "file system ID must be 1 to 128 bytes")
	}
	return nil
}

// NewFileSystemKey makes the data key of a new file system: 32 random bytes
// wrapped by the KMS key named by ref (see GenerateDataKey for references
// and errors) and bound to fsID. It returns the wrapped key, to be stored
// with the file system, and the ARN of the KMS key. The data key has ID
// FirstDataKeyID.
func (m *Manager) NewFileSystemKey(ctx context.Context, ref, fsID string) (wrapped []byte, keyARN string, err error) {
	if err := validateFSID(fsID); err != nil {
		return nil, "", err
	}
	plaintext, blob, keyARN, err := m.GenerateDataKey(ctx, ref, fileSystemContext(fsID, FirstDataKeyID))
	if err != nil {
		return nil, "", fmt.Errorf("kms: new key for file system %s: %w", fsID, err)
	}
	clear(plaintext)
	wrapped = make([]byte, wrappedHeaderBytes, wrappedHeaderBytes+len(blob))
	wrapped[0] = wrappedVersion
	binary.BigEndian.PutUint32(wrapped[1:5], FirstDataKeyID)
	return append(wrapped, blob...), keyARN, nil
}

// FileSystemKey unwraps the data key of file system fsID. Every call checks
// the state of the KMS key in memory, without I/O, before anything else: a
// disabled key wraps ErrKeyDisabled, one pending deletion
// ErrKeyPendingDeletion, a deleted one ErrKeyDeleted (all match
// ErrKeyUnavailable), so a file system's data is unreadable from the moment
// its KMS key is disabled until it is enabled again. Unwrapped keys are
// cached, so only the first call per key does I/O and decryption. A wrapped
// key that is malformed, altered or belongs to another file system wraps
// ErrCorrupt. wrapped is not retained; the returned DataKey is shared and
// immutable.
func (m *Manager) FileSystemKey(ctx context.Context, wrapped []byte, fsID string) (*DataKey, error) {
	dataKeyID, blob, err := parseWrapped(wrapped)
	if err != nil {
		return nil, fmt.Errorf("kms: key of file system %s: %w", fsID, err)
	}
	keyID, _, err := parseBlobHeader(blob)
	if err != nil {
		return nil, fmt.Errorf("kms: key of file system %s: %w", fsID, err)
	}
	if err := m.checkState(ctx, keyID); err != nil {
		return nil, fmt.Errorf("kms: key of file system %s: %w", fsID, err)
	}
	cacheKey := fsID + "\x00" + string(wrapped)
	m.mu.Lock()
	dk := m.mu.fsKeys[keyID][cacheKey]
	m.mu.Unlock()
	if dk != nil {
		return dk, nil
	}

	plaintext, _, err := m.Decrypt(ctx, blob, fileSystemContext(fsID, dataKeyID))
	if err != nil {
		return nil, fmt.Errorf("kms: key of file system %s: %w", fsID, err)
	}
	dk, err = NewDataKey(dataKeyID, plaintext)
	clear(plaintext)
	if err != nil {
		return nil, fmt.Errorf("kms: key of file system %s: %w", fsID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ki, ok := m.mu.keys[keyID]; !ok || ki.state == keyStateDeleted {
		return dk, nil // deleted meanwhile: do not cache
	}
	byKey := m.mu.fsKeys[keyID]
	if byKey == nil {
		byKey = make(map[string]*DataKey)
		m.mu.fsKeys[keyID] = byKey
	}
	if cached := byKey[cacheKey]; cached != nil {
		return cached, nil
	}
	byKey[cacheKey] = dk
	return dk, nil
}

// checkState answers from the state cache whether key id is usable. A key
// not yet cached is loaded once; a pending deletion whose date has passed
// is completed.
func (m *Manager) checkState(ctx context.Context, id string) error {
	m.mu.Lock()
	ki, ok := m.mu.keys[id]
	m.mu.Unlock()
	if !ok {
		rec, err := m.load(ctx, id)
		if err != nil {
			return err
		}
		ki = keyInfo{state: rec.State, deletionDate: rec.DeletionDate, revision: rec.Revision}
	}
	if ki.state == KeyStatePendingDeletion && !m.now().Before(ki.deletionDate) {
		rec, err := m.completeDeletion(ctx, id)
		if err != nil {
			return err
		}
		ki.state = rec.State
	}
	return stateError(id, ki.state)
}
