// Package data stores file contents as blocks. A block is a fixed-size slice
// of a file (the block size is a property of the file system); it is sealed
// with AES-256-GCM when the file system is encrypted, and stored either inline
// in its metadata record (small blocks: one synced metadata commit makes a
// small file durable) or as an object in the blob store. Metadata records
// point at blobs, never the reverse, so a block is replaced by writing a new
// object and switching the record in one metadata transaction: readers see the
// old block or the new one, never a torn mix.
//
// The additional authenticated data of a sealed block binds the file system,
// the inode, the block index and the data-key ID (in the envelope header), so
// a block moved to another file, index or file system fails to open. The
// record also keeps the envelope's random salt (or, unencrypted, a CRC-32C),
// so a blob swapped for an older version of the same block is detected.
//
// data imports blob and kms; it must not import fs or any engine.
package data

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/kms"
)

// DefaultBlockSize is the block size of new file systems.
const DefaultBlockSize = 256 << 10

// DefaultInlineMax is the largest block stored inside its metadata record.
const DefaultInlineMax = 16 << 10

// ErrCorrupt is returned (wrapped) when a block fails authentication or its
// checksum, or its record is malformed. Callers map it to an I/O error.
var ErrCorrupt = errors.New("data: corrupt block")

// DefaultCacheBytes is the default size of the cache of block plaintext.
const DefaultCacheBytes = 64 << 20

// Options tune a Store.
type Options struct {
	// InlineMax is the largest block (in stored bytes) kept in metadata.
	// Zero means DefaultInlineMax; negative disables inlining.
	InlineMax int
	// CacheBytes bounds the cache of recently used block plaintext (objects
	// only; inline blocks come with their metadata). Zero means
	// DefaultCacheBytes; negative disables the cache.
	CacheBytes int
}

// Store reads and writes blocks. It is safe for concurrent use.
type Store struct {
	blobs     blob.Store
	inlineMax int
	cache     *blockCache
	patches   PatchSource
}

// New returns a Store over blobs.
func New(blobs blob.Store, opts Options) *Store {
	if opts.InlineMax == 0 {
		opts.InlineMax = DefaultInlineMax
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	s := &Store{blobs: blobs, inlineMax: opts.InlineMax}
	if opts.CacheBytes > 0 {
		s.cache = newBlockCache(opts.CacheBytes)
	}
	return s
}

// Blobs returns the underlying blob store (for fsck and garbage collection).
func (s *Store) Blobs() blob.Store { return s.blobs }

// Addr names a block: file system (volume), inode and block index.
type Addr struct {
	Vol, Ino, Index uint64
}

func (a Addr) aad() []byte {
	b := make([]byte, 0, 16+24)
	b = append(b, "shelf block v1\x00\x00"...)
	b = binary.BigEndian.AppendUint64(b, a.Vol)
	b = binary.BigEndian.AppendUint64(b, a.Ino)
	return binary.BigEndian.AppendUint64(b, a.Index)
}

// BlobPrefix is the prefix of every blob of a volume.
func BlobPrefix(vol uint64) string { return fmt.Sprintf("v%016x/", vol) }

func newBlobKey(a Addr) (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("data: random: %w", err)
	}
	return fmt.Sprintf("v%016x/%016x/%016x-%s", a.Vol, a.Ino, a.Index, hex.EncodeToString(r[:])), nil
}

// Record is a decoded block record.
type Record struct {
	// Length is the plaintext length of the block, patches included.
	Length uint32
	// Sealed says the stored bytes are an envelope.
	Sealed bool
	// Check is the envelope salt (sealed) or CRC-32C of the plaintext of
	// the stored bytes (the object or the inline bytes).
	Check [16]byte
	// Inline holds the stored bytes of an inline block.
	Inline []byte
	// BlobKey names the object of a non-inline block.
	BlobKey string
	// BaseLength is the plaintext length of the object, which Patches
	// extend or overwrite; without patches it equals Length.
	BaseLength uint32
	// Patches are writes made over the object since it was stored, oldest
	// first (see AddPatches). Only object blocks have patches.
	Patches []Patch
	// Apart says the patches' bytes are stored apart from the record
	// (version 3), not in it (version 2).
	Apart bool
}

const (
	recordVersion        byte = 1
	recordVersionPatched byte = 2
	recordVersionApart   byte = 3
	flagSealed           byte = 1 << 0
	flagInline           byte = 1 << 1
	maxRecordTail             = 1 << 20
)

// Encode returns the record's stored form. A record without patches is
//
//	version 1 (1) | flags(1) | length(4) | check(16) | inline bytes or blob key
//
// and one with patches (always an object block)
//
//	version 2 (1) | flags(1) | length(4) | check(16) | base length(4) |
//	patch count(2) | patches | blob key
//
// with each patch encoded as in Patch.append; version 3 is version 2 with
// the patches apart: each is only offset(4) | id(8) | stored length(4).
func (r *Record) Encode() []byte {
	flags := byte(0)
	tail := []byte(r.BlobKey)
	if r.Sealed {
		flags |= flagSealed
	}
	if r.BlobKey == "" {
		flags |= flagInline
		tail = r.Inline
	}
	version, size := recordVersion, 22+len(tail)
	apart := r.Apart && len(r.Patches) > 0
	switch {
	case apart:
		version, size = recordVersionApart, size+6+len(r.Patches)*patchRef
	case len(r.Patches) > 0:
		version, size = recordVersionPatched, size+6+r.StoredBytes()
	}
	out := make([]byte, 0, size)
	out = append(out, version, flags)
	out = binary.BigEndian.AppendUint32(out, r.Length)
	out = append(out, r.Check[:]...)
	if len(r.Patches) > 0 {
		out = binary.BigEndian.AppendUint32(out, r.BaseLength)
		out = binary.BigEndian.AppendUint16(out, uint16(len(r.Patches)))
		for i := range r.Patches {
			out = r.Patches[i].append(out, apart)
		}
	}
	return append(out, tail...)
}

// DecodeRecord parses a stored block record. It never panics.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < 22 || b[0] < recordVersion || b[0] > recordVersionApart ||
		b[1]&^(flagSealed|flagInline) != 0 || len(b)-22 > maxRecordTail {
		return Record{}, fmt.Errorf("%w: malformed block record", ErrCorrupt)
	}
	r := Record{Length: binary.BigEndian.Uint32(b[2:6]), Sealed: b[1]&flagSealed != 0}
	copy(r.Check[:], b[6:22])
	r.BaseLength = r.Length
	tail := b[22:]
	if b[0] != recordVersion {
		if b[1]&flagInline != 0 {
			return Record{}, fmt.Errorf("%w: inline block record with patches", ErrCorrupt)
		}
		r.Apart = b[0] == recordVersionApart
		var err error
		if tail, err = r.decodePatches(tail, r.Apart); err != nil {
			return Record{}, err
		}
	}
	if b[1]&flagInline != 0 {
		r.Inline = append([]byte{}, tail...)
	} else {
		if !blob.ValidKey(string(tail)) {
			return Record{}, fmt.Errorf("%w: bad blob key in block record", ErrCorrupt)
		}
		r.BlobKey = string(tail)
	}
	return r, nil
}

func crcCheck(p []byte) (c [16]byte) {
	binary.BigEndian.PutUint32(c[:], crc32.Checksum(p, castagnoli))
	return c
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save stores plaintext as block a and returns its record, and keeps a copy
// of the plaintext in the cache. key is nil for unencrypted file systems.
// When Save returns, a non-inline block's object is durable; the caller
// makes the record durable in its metadata transaction (if that never
// commits, the object is garbage that fsck reclaims). Save does not keep
// plaintext.
func (s *Store) Save(ctx context.Context, key *kms.DataKey, a Addr, plaintext []byte) (Record, error) {
	return s.save(ctx, key, a, plaintext, cacheCopy)
}

// SaveOwned is Save for a plaintext buffer that the caller gives up: the
// cache keeps it instead of a copy, so the caller must never modify it
// again.
func (s *Store) SaveOwned(ctx context.Context, key *kms.DataKey, a Addr, plaintext []byte) (Record, error) {
	return s.save(ctx, key, a, plaintext, cacheOwned)
}

// SaveWhole is Save for a block written whole, which is not kept in the
// cache: blocks written in a stream are seldom read back at once, and
// caching them would replace what is read with what is written (and, in a
// large cache, take fresh memory for every block).
func (s *Store) SaveWhole(ctx context.Context, key *kms.DataKey, a Addr, plaintext []byte) (Record, error) {
	return s.save(ctx, key, a, plaintext, cacheNone)
}

// cacheMode says what save does with the plaintext.
type cacheMode int

const (
	cacheCopy  cacheMode = iota // the cache keeps a copy
	cacheOwned                  // the cache keeps the buffer
	cacheNone                   // the cache is left alone
)

// sealBuffers holds envelope buffers between Saves (blob.Store.Put keeps
// nothing), so that sealing a block does not allocate and clear a new
// block-sized buffer each time.
var sealBuffers sync.Pool

func (s *Store) save(ctx context.Context, key *kms.DataKey, a Addr, plaintext []byte, mode cacheMode) (Record, error) {
	r := Record{Length: uint32(len(plaintext)), BaseLength: uint32(len(plaintext))}
	stored := plaintext
	if key != nil {
		var buf []byte
		if b, ok := sealBuffers.Get().(*[]byte); ok && cap(*b) >= len(plaintext)+kms.EnvelopeOverhead {
			buf = (*b)[:0]
		}
		sealed, err := key.Seal(buf, a.aad(), plaintext)
		if err != nil {
			return Record{}, fmt.Errorf("data: seal block %d of inode %d: %w", a.Index, a.Ino, err)
		}
		defer sealBuffers.Put(&sealed)
		r.Sealed = true
		copy(r.Check[:], sealed[5:21])
		stored = sealed
	} else {
		r.Check = crcCheck(plaintext)
	}
	if len(stored) <= s.inlineMax {
		r.Inline = append([]byte{}, stored...)
		return r, nil
	}
	bk, err := newBlobKey(a)
	if err != nil {
		return Record{}, err
	}
	if err := s.blobs.Put(ctx, bk, stored); err != nil {
		return Record{}, fmt.Errorf("data: store block %d of inode %d: %w", a.Index, a.Ino, err)
	}
	r.BlobKey = bk
	switch mode {
	case cacheCopy:
		s.cache.put(cacheKey(a, &r), append([]byte(nil), plaintext...))
	case cacheOwned:
		s.cache.put(cacheKey(a, &r), plaintext)
	}
	return r, nil
}

// blockID names a version of a block in the cache: the object key alone
// is not enough, since the same bytes must also be bound to the address and
// the record's check to be the right block, and a block with patches is
// another version than its object.
type blockID struct {
	blobKey string
	addr    Addr
	check   [16]byte
	// patches and lastPatch name the record's list of patches: a patch's
	// ID is random and new with the patch, and every list of patches is
	// made by one AddPatches, which ends it with its new patches.
	patches   int
	lastPatch uint64
}

func cacheKey(a Addr, r *Record) blockID {
	k := blockID{blobKey: r.BlobKey, addr: a, check: r.Check, patches: len(r.Patches)}
	if k.patches > 0 {
		k.lastPatch = r.Patches[k.patches-1].ID
	}
	return k
}

// Load returns the plaintext of the block described by r, its patches
// applied. A block that fails its check yields an error wrapping ErrCorrupt;
// a missing object yields an error wrapping blob.ErrNotFound (callers may
// retry with a fresh record: the block may have been replaced concurrently).
// The returned slice may be shared with the cache: callers must not modify
// it.
func (s *Store) Load(ctx context.Context, key *kms.DataKey, a Addr, r *Record) ([]byte, error) {
	if r.BlobKey == "" {
		return s.load(ctx, key, a, r)
	}
	ck := cacheKey(a, r)
	if plain, ok := s.cache.get(ck); ok && len(plain) == int(r.Length) {
		// The cache holds only plaintext that was sealed or opened
		// under this file system's key, but the key's state still
		// decides whether it may be read.
		if r.Sealed && key == nil {
			return nil, fmt.Errorf("%w: block %d of inode %d is sealed but the file system has no key", ErrCorrupt, a.Index, a.Ino)
		}
		return plain, nil
	}
	var plain []byte
	var err error
	if len(r.Patches) == 0 {
		plain, err = s.load(ctx, key, a, r)
	} else {
		// The object's plaintext is cached on its own as well: the
		// next patch makes a new version of the block over it.
		base := r.base()
		var full *Record
		if full, err = s.withPatches(ctx, a, r); err == nil {
			if plain, err = s.Load(ctx, key, a, &base); err == nil {
				plain, err = full.applyPatches(key, a, plain)
			}
		}
	}
	if err == nil {
		s.cache.put(ck, plain)
	}
	return plain, err
}

// Verify reads the block from storage, bypassing the cache, and checks it
// like Load does (fsck uses it).
func (s *Store) Verify(ctx context.Context, key *kms.DataKey, a Addr, r *Record) error {
	base := r.base()
	plain, err := s.load(ctx, key, a, &base)
	if err == nil && len(r.Patches) > 0 {
		var full *Record
		if full, err = s.withPatches(ctx, a, r); err == nil {
			_, err = full.applyPatches(key, a, plain)
		}
	}
	return err
}

// load reads and opens the stored bytes of a record without patches.
func (s *Store) load(ctx context.Context, key *kms.DataKey, a Addr, r *Record) ([]byte, error) {
	stored := r.Inline
	if r.BlobKey != "" {
		var err error
		stored, err = s.blobs.Get(ctx, r.BlobKey, 0, -1)
		if err != nil {
			if errors.Is(err, blob.ErrCorrupt) {
				return nil, fmt.Errorf("%w: block %d of inode %d: %v", ErrCorrupt, a.Index, a.Ino, err)
			}
			return nil, fmt.Errorf("data: load block %d of inode %d: %w", a.Index, a.Ino, err)
		}
	}
	var plain []byte
	switch {
	case r.Sealed && key == nil:
		return nil, fmt.Errorf("%w: block %d of inode %d is sealed but the file system has no key", ErrCorrupt, a.Index, a.Ino)
	case r.Sealed:
		if len(stored) < kms.EnvelopeOverhead || !bytes.Equal(stored[5:21], r.Check[:]) {
			return nil, fmt.Errorf("%w: block %d of inode %d is not the version its record names", ErrCorrupt, a.Index, a.Ino)
		}
		var err error
		if r.BlobKey != "" {
			// The object's bytes are ours (blob.Store.Get): open them
			// where they are rather than into a second block-sized
			// buffer. Inline bytes belong to the record.
			plain, err = key.OpenInPlace(a.aad(), stored)
		} else {
			plain, err = key.Open(nil, a.aad(), stored)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: block %d of inode %d: %v", ErrCorrupt, a.Index, a.Ino, err)
		}
	default:
		if crcCheck(stored) != r.Check {
			return nil, fmt.Errorf("%w: block %d of inode %d fails its checksum", ErrCorrupt, a.Index, a.Ino)
		}
		plain = stored
		if r.BlobKey == "" {
			plain = append([]byte{}, stored...)
		}
	}
	if len(plain) != int(r.BaseLength) {
		return nil, fmt.Errorf("%w: block %d of inode %d has %d bytes, record says %d", ErrCorrupt, a.Index, a.Ino, len(plain), r.BaseLength)
	}
	return plain, nil
}

// Delete removes a block's object (inline blocks have none). Deleting twice
// is harmless.
func (s *Store) Delete(ctx context.Context, blobKey string) error {
	if blobKey == "" {
		return nil
	}
	if err := s.blobs.Delete(ctx, blobKey); err != nil {
		return fmt.Errorf("data: delete block object: %w", err)
	}
	return nil
}
