package data

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/shelf-efs/shelf/internal/kms"
)

// Patches: a write of a few KiB into a block stored as an object does not
// rewrite the object. The written bytes are sealed on their own (or, in an
// unencrypted file system, checksummed) and added to the block's record as a
// patch; the record, in the metadata store, is replaced in the write's
// metadata transaction as always, and the object stays as it is. Readers
// apply the patches over the object's plaintext, oldest first. When a block's
// patches would pass the caller's budget, the caller rewrites the block whole
// (a new object, no patches).
//
// A record made by AddPatches keeps its patches apart (Record.Apart): the
// record lists each patch's offset, ID and stored length, and the caller
// stores each patch's bytes once, under a key of its own in the same
// transaction, so that the next patch rewrites a short list rather than every
// earlier patch. Load fetches them through the Store's PatchSource. Records
// of version 2, which hold their patches' bytes, are still read; the next
// patch moves their patches apart.
//
// A patch's additional authenticated data binds the file system, inode and
// block index, the check of the object it patches (so a patch cannot be
// moved to another version of the block) and its offset.

// MaxPatches bounds the patches of one record.
const MaxPatches = 64

// patchHeader is the encoded size of a patch before its stored bytes:
// offset(4) | id(8) | stored length(4).
const patchHeader = 16

// Patch is a write over a block's object.
type Patch struct {
	// Off is the offset of the written bytes in the block.
	Off uint32
	// ID is random, new with the patch.
	ID uint64
	// Len is the length of the stored bytes.
	Len uint32
	// Stored is the envelope of the written bytes (sealed records) or a
	// big-endian CRC-32C (Castagnoli) followed by the bytes. It is nil in
	// a record decoded with its patches apart until they are fetched.
	Stored []byte
}

// patchRef is the encoded size of a patch kept apart: offset(4) | id(8) |
// stored length(4).
const patchRef = 16

// Write is one range of bytes to write into a block.
type Write struct {
	Off  uint32
	Data []byte
}

// append encodes the patch, with its stored bytes unless apart.
func (p *Patch) append(out []byte, apart bool) []byte {
	out = binary.BigEndian.AppendUint32(out, p.Off)
	out = binary.BigEndian.AppendUint64(out, p.ID)
	out = binary.BigEndian.AppendUint32(out, p.Len)
	if apart {
		return out
	}
	return append(out, p.Stored...)
}

// plainLen returns the length of the patch's plaintext.
func (p *Patch) plainLen(sealed bool) int {
	if sealed {
		return int(p.Len) - kms.EnvelopeOverhead
	}
	return int(p.Len) - 4
}

// StoredBytes returns the bytes the record's patches take, wherever they
// are stored.
func (r *Record) StoredBytes() int {
	n := 0
	for i := range r.Patches {
		n += patchHeader + int(r.Patches[i].Len)
	}
	return n
}

// PatchSource returns the stored bytes of patches kept apart from the
// record of block a, in the order of ids. A patch that is not there (the
// block was replaced after its record was read) yields an error wrapping
// blob.ErrNotFound.
type PatchSource func(ctx context.Context, a Addr, ids []uint64) ([][]byte, error)

// SetPatchSource sets where Load and Verify fetch patches kept apart. It
// must be called before the Store is used.
func (s *Store) SetPatchSource(src PatchSource) { s.patches = src }

// withPatches returns r with the bytes of its patches, fetching those kept
// apart that r does not hold.
func (s *Store) withPatches(ctx context.Context, a Addr, r *Record) (*Record, error) {
	var ids []uint64
	for i := range r.Patches {
		if r.Patches[i].Stored == nil {
			ids = append(ids, r.Patches[i].ID)
		}
	}
	if len(ids) == 0 {
		return r, nil
	}
	if s.patches == nil {
		return nil, fmt.Errorf("data: block %d of inode %d has patches apart and no source for them", a.Index, a.Ino)
	}
	got, err := s.patches(ctx, a, ids)
	if err != nil {
		return nil, err
	}
	if len(got) != len(ids) {
		return nil, fmt.Errorf("data: patch source returned %d of %d patches", len(got), len(ids))
	}
	out := *r
	out.Patches = append([]Patch(nil), r.Patches...)
	j := 0
	for i := range out.Patches {
		p := &out.Patches[i]
		if p.Stored != nil {
			continue
		}
		if len(got[j]) != int(p.Len) {
			return nil, fmt.Errorf("%w: patch %d of block %d of inode %d has %d stored bytes, record says %d", ErrCorrupt, i, a.Index, a.Ino, len(got[j]), p.Len)
		}
		p.Stored = got[j]
		j++
	}
	return &out, nil
}

// base returns the record of the block's object alone.
func (r *Record) base() Record {
	b := *r
	b.Length, b.Patches = r.BaseLength, nil
	return b
}

// decodePatches parses the patch section of a version 2 or 3 record (b
// starts after the check) into r and returns the rest of b (the blob key).
// With apart (version 3) the patches' bytes are not in b.
func (r *Record) decodePatches(b []byte, apart bool) ([]byte, error) {
	bad := func(why string) ([]byte, error) {
		return nil, fmt.Errorf("%w: malformed block record: %s", ErrCorrupt, why)
	}
	if len(b) < 6 {
		return bad("short patch section")
	}
	r.BaseLength = binary.BigEndian.Uint32(b[0:4])
	n := int(binary.BigEndian.Uint16(b[4:6]))
	b = b[6:]
	if n == 0 || n > MaxPatches {
		return bad(fmt.Sprintf("%d patches", n))
	}
	end := r.BaseLength
	r.Patches = make([]Patch, 0, n)
	for range n {
		if len(b) < patchHeader {
			return bad("short patch")
		}
		p := Patch{Off: binary.BigEndian.Uint32(b[0:4]), ID: binary.BigEndian.Uint64(b[4:12]), Len: binary.BigEndian.Uint32(b[12:16])}
		b = b[patchHeader:]
		if !apart {
			if uint64(p.Len) > uint64(len(b)) {
				return bad("patch overruns the record")
			}
			p.Stored = append([]byte{}, b[:p.Len]...)
			b = b[p.Len:]
		} else {
			for i := range r.Patches {
				if r.Patches[i].ID == p.ID {
					return bad("two patches with one ID")
				}
			}
		}
		pl := p.plainLen(r.Sealed)
		if pl <= 0 || uint64(p.Off)+uint64(pl) > uint64(r.Length) {
			return bad("patch outside the block")
		}
		end = max(end, p.Off+uint32(pl))
		r.Patches = append(r.Patches, p)
	}
	if end != r.Length || r.BaseLength > r.Length {
		return bad("length does not match the patches")
	}
	return b, nil
}

func (a Addr) patchAAD(check *[16]byte, off uint32) []byte {
	b := make([]byte, 0, 16+24+16+4)
	b = append(b, "shelf patch v1\x00\x00"...)
	b = binary.BigEndian.AppendUint64(b, a.Vol)
	b = binary.BigEndian.AppendUint64(b, a.Ino)
	b = binary.BigEndian.AppendUint64(b, a.Index)
	b = append(b, check[:]...)
	return binary.BigEndian.AppendUint32(b, off)
}

// AddPatches returns old (a record of block a) with writes added as
// patches, dropping the old patches that the writes cover whole, or false
// when the result would pass budget (stored patch bytes) or MaxPatches, or
// when old is not an object block. The object itself is neither read nor
// written: the new record shares old's BlobKey. key is nil for unencrypted
// file systems.
func (s *Store) AddPatches(key *kms.DataKey, a Addr, old *Record, writes []Write, budget int) (Record, bool, error) {
	if old.BlobKey == "" || old.Sealed != (key != nil) {
		return Record{}, false, nil
	}
	r := *old
	r.Patches = nil
	r.Apart = true
	size := 0
	for _, p := range old.Patches {
		lo, hi := p.Off, p.Off+uint32(p.plainLen(old.Sealed))
		covered := false
		for _, w := range writes {
			covered = covered || (w.Off <= lo && hi <= w.Off+uint32(len(w.Data)))
		}
		if !covered {
			r.Patches = append(r.Patches, p)
			size += patchHeader + int(p.Len)
		}
	}
	overhead := 4
	if key != nil {
		overhead = kms.EnvelopeOverhead
	}
	for _, w := range writes {
		size += patchHeader + overhead + len(w.Data)
	}
	if len(r.Patches)+len(writes) > MaxPatches || size > budget {
		return Record{}, false, nil
	}
	// The length is recomputed from the kept patches: a dropped patch
	// never extends the block further than the write covering it.
	r.Length = r.BaseLength
	for _, p := range r.Patches {
		r.Length = max(r.Length, p.Off+uint32(p.plainLen(r.Sealed)))
	}
	for _, w := range writes {
		if len(w.Data) == 0 {
			continue
		}
		id, err := r.newPatchID()
		if err != nil {
			return Record{}, false, err
		}
		p := Patch{Off: w.Off, ID: id}
		if key != nil {
			sealed, err := key.Seal(nil, a.patchAAD(&r.Check, w.Off), w.Data)
			if err != nil {
				return Record{}, false, fmt.Errorf("data: seal patch of block %d of inode %d: %w", a.Index, a.Ino, err)
			}
			p.Stored = sealed
		} else {
			p.Stored = binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(w.Data)), crc32.Checksum(w.Data, castagnoli))
			p.Stored = append(p.Stored, w.Data...)
		}
		p.Len = uint32(len(p.Stored))
		r.Patches = append(r.Patches, p)
		r.Length = max(r.Length, w.Off+uint32(len(w.Data)))
	}
	if len(r.Patches) == 0 {
		return Record{}, false, nil
	}
	return r, true, nil
}

// newPatchID returns a random patch ID that none of r's patches has (a
// patch kept apart is stored under its ID).
func (r *Record) newPatchID() (uint64, error) {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("data: random: %w", err)
		}
		id := binary.BigEndian.Uint64(b[:])
		if !slices.ContainsFunc(r.Patches, func(p Patch) bool { return p.ID == id }) {
			return id, nil
		}
	}
}

// applyPatches returns a new buffer holding base (the object's plaintext)
// with r's patches applied, after authenticating each.
func (r *Record) applyPatches(key *kms.DataKey, a Addr, base []byte) ([]byte, error) {
	out := make([]byte, r.Length)
	copy(out, base)
	for i := range r.Patches {
		p := &r.Patches[i]
		var plain []byte
		switch {
		case len(p.Stored) != int(p.Len) || len(p.Stored) < 4:
			return nil, fmt.Errorf("%w: patch %d of block %d of inode %d has %d stored bytes, record says %d", ErrCorrupt, i, a.Index, a.Ino, len(p.Stored), p.Len)
		case r.Sealed && key == nil:
			return nil, fmt.Errorf("%w: block %d of inode %d is sealed but the file system has no key", ErrCorrupt, a.Index, a.Ino)
		case r.Sealed:
			var err error
			if plain, err = key.Open(out[p.Off:p.Off], a.patchAAD(&r.Check, p.Off), p.Stored); err != nil {
				return nil, fmt.Errorf("%w: patch %d of block %d of inode %d: %v", ErrCorrupt, i, a.Index, a.Ino, err)
			}
		default:
			plain = p.Stored[4:]
			if crc32.Checksum(plain, castagnoli) != binary.BigEndian.Uint32(p.Stored) {
				return nil, fmt.Errorf("%w: patch %d of block %d of inode %d fails its checksum", ErrCorrupt, i, a.Index, a.Ino)
			}
			copy(out[p.Off:], plain)
		}
		if int(p.Off)+len(plain) > len(out) {
			return nil, fmt.Errorf("%w: patch %d of block %d of inode %d is outside the block", ErrCorrupt, i, a.Index, a.Ino)
		}
	}
	return out, nil
}
