package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// ErrCorrupt is returned (wrapped) by DataKey.Open when a sealed envelope is
// malformed, was sealed under another key or context, or was altered.
var ErrCorrupt = errors.New("kms: sealed data failed authentication")

// Envelope layout (version 1):
//
//	version(1) | keyID(4) | salt(16) | nonce(12) | ciphertext | tag(16)
//
// Every envelope is sealed with its own AES-256-GCM key derived from the data
// key and a random 128-bit salt (HMAC-SHA256), so no key ever approaches the
// GCM limit on random nonces however much data a file system holds. The
// header (version and key ID) is authenticated together with the caller's
// additional data.
const (
	envelopeVersion byte = 1
	saltBytes            = 16
	nonceBytes           = 12
	tagBytes             = 16
	headerBytes          = 1 + 4 + saltBytes + nonceBytes
	// EnvelopeOverhead is the number of bytes Seal adds to a plaintext.
	EnvelopeOverhead = headerBytes + tagBytes
)

// DataKey is an unwrapped per-file-system data key. It is immutable and safe
// for concurrent use. Its key bytes never leave the kms package.
type DataKey struct {
	id      uint32
	sealKey [32]byte // derives per-envelope keys
	nameKey [32]byte // keys the hash of directory-entry names

	// sealMACs and nameMACs pool HMAC-SHA256 states keyed with sealKey and
	// nameKey: hmac.New hashes the key pads each time, a Reset restores
	// them from the saved state. This is most of the cost of opening a
	// small envelope or hashing a name.
	sealMACs, nameMACs sync.Pool // of hash.Hash
}

// NewDataKey builds a DataKey from 32 bytes of key material. id names the key
// inside its file system and is recorded in every envelope.
func NewDataKey(id uint32, material []byte) (*DataKey, error) {
	if len(material) != 32 {
		return nil, fmt.Errorf("kms: data key must be 32 bytes, got %d", len(material))
	}
	k := &DataKey{id: id}
	copy(k.sealKey[:], hkdfExpand(material, "shelf data key v1: seal"))
	copy(k.nameKey[:], hkdfExpand(material, "shelf data key v1: names"))
	k.sealMACs.New = func() any { return hmac.New(sha256.New, k.sealKey[:]) }
	k.nameMACs.New = func() any { return hmac.New(sha256.New, k.nameKey[:]) }
	return k, nil
}

// ID returns the key's identifier within its file system.
func (k *DataKey) ID() uint32 { return k.id }

func hkdfExpand(prk []byte, info string) []byte {
	m := hmac.New(sha256.New, prk)
	m.Write([]byte(info))
	m.Write([]byte{1})
	return m.Sum(nil)
}

// mac runs fn on an HMAC-SHA256 state from pool, reset to its key.
func mac(pool *sync.Pool, fn func(m hash.Hash)) {
	m := pool.Get().(hash.Hash)
	m.Reset()
	fn(m)
	pool.Put(m)
}

func (k *DataKey) aead(salt []byte) (cipher.AEAD, error) {
	var sum [sha256.Size]byte
	mac(&k.sealMACs, func(m hash.Hash) {
		m.Write(salt)
		m.Sum(sum[:0])
	})
	block, err := aes.NewCipher(sum[:])
	clear(sum[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext, binding aad, and appends the envelope to dst. It
// does not retain either slice.
func (k *DataKey) Seal(dst, aad, plaintext []byte) ([]byte, error) {
	var hdr [headerBytes]byte
	hdr[0] = envelopeVersion
	binary.BigEndian.PutUint32(hdr[1:5], k.id)
	if _, err := rand.Read(hdr[5:]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	g, err := k.aead(hdr[5 : 5+saltBytes])
	if err != nil {
		return nil, err
	}
	out := append(dst, hdr[:]...)
	return g.Seal(out, hdr[5+saltBytes:], plaintext, fullAAD(hdr[:5], aad)), nil
}

// Open authenticates and decrypts an envelope made by Seal with the same aad,
// appending the plaintext to dst. Any mismatch yields an error wrapping
// ErrCorrupt; no unauthenticated byte is ever returned.
func (k *DataKey) Open(dst, aad, envelope []byte) ([]byte, error) {
	return k.open(dst, aad, envelope, false)
}

// OpenInPlace is Open with the plaintext written over the envelope's
// ciphertext instead of into a new buffer: the result aliases envelope, which
// the caller must own and must not use otherwise afterwards, whether or not
// OpenInPlace succeeds.
func (k *DataKey) OpenInPlace(aad, envelope []byte) ([]byte, error) {
	return k.open(nil, aad, envelope, true)
}

func (k *DataKey) open(dst, aad, envelope []byte, inPlace bool) ([]byte, error) {
	if len(envelope) < EnvelopeOverhead {
		return nil, fmt.Errorf("%w: envelope of %d bytes is too short", ErrCorrupt, len(envelope))
	}
	if envelope[0] != envelopeVersion {
		return nil, fmt.Errorf("%w: unknown envelope version %d", ErrCorrupt, envelope[0])
	}
	if id := binary.BigEndian.Uint32(envelope[1:5]); id != k.id {
		return nil, fmt.Errorf("%w: sealed with key %d, not %d", ErrCorrupt, id, k.id)
	}
	g, err := k.aead(envelope[5 : 5+saltBytes])
	if err != nil {
		return nil, err
	}
	if inPlace {
		// crypto/cipher: ciphertext[:0] as dst reuses its storage.
		dst = envelope[headerBytes:headerBytes]
	}
	out, err := g.Open(dst, envelope[5+saltBytes:headerBytes], envelope[headerBytes:], fullAAD(envelope[:5], aad))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return out, nil
}

// EnvelopeKeyID returns the data-key ID recorded in an envelope, so a caller
// holding several keys (after rotation) can pick the right one.
func EnvelopeKeyID(envelope []byte) (uint32, error) {
	if len(envelope) < EnvelopeOverhead || envelope[0] != envelopeVersion {
		return 0, fmt.Errorf("%w: not an envelope", ErrCorrupt)
	}
	return binary.BigEndian.Uint32(envelope[1:5]), nil
}

func fullAAD(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

// NameKey returns a keyed hash of a directory-entry name, so that entries of
// encrypted file systems can be found by point lookups without storing the
// name in the clear. dir scopes the hash to one directory.
func (k *DataKey) NameKey(dir uint64, name string) []byte {
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], dir)
	out := make([]byte, 0, sha256.Size)
	mac(&k.nameMACs, func(m hash.Hash) {
		m.Write(d[:])
		io.WriteString(m, name)
		out = m.Sum(out)
	})
	return out[:16]
}
