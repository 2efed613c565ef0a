package data

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/shelf-efs/shelf/internal/kms"
)

// Patches: a write of a few KiB into a block stored as an object does not
// rewrite the object. The written bytes are sealed on their own (or, in an
// unencrypted file system, checksummed) and appended to the block's record
// as a patch; the record, in the metadata store, is replaced in the write's
// metadata transaction as always, and the object stays as it is. Readers
// apply the patches over the object's plaintext, oldest first. When a block's
// patches would pass the caller's budget, the caller rewrites the block whole
// (a new object, no patches).
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
	// Stored is the envelope of the written bytes (sealed records) or a
	// big-endian CRC-32C (Castagnoli) followed by the bytes.
	Stored []byte
}

// Write is one range of bytes to write into a block.
type Write struct {
	Off  uint32
	Data []byte
}

func (p *Patch) append(out []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, p.Off)
	out = binary.BigEndian.AppendUint64(out, p.ID)
	out = binary.BigEndian.AppendUint32(out, uint32(len(p.Stored)))
	return append(out, p.Stored...)
}

// plainLen returns the length of the patch's plaintext.
func (p *Patch) plainLen(sealed bool) int {
	if sealed {
		return len(p.Stored) - kms.EnvelopeOverhead
	}
	return len(p.Stored) - 4
}

// StoredBytes returns the bytes the record's patches take.
func (r *Record) StoredBytes() int {
	n := 0
	for i := range r.Patches {
		n += patchHeader + len(r.Patches[i].Stored)
	}
	return n
}

// base returns the record of the block's object alone.
func (r *Record) base() Record {
	b := *r
	b.Length, b.Patches = r.BaseLength, nil
	return b
}

// decodePatches parses the patch section of a version 2 record (b starts
// after the check) into r and returns the rest of b (the blob key).
func (r *Record) decodePatches(b []byte) ([]byte, error) {
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
		p := Patch{Off: binary.BigEndian.Uint32(b[0:4]), ID: binary.BigEndian.Uint64(b[4:12])}
		size := binary.BigEndian.Uint32(b[12:16])
		b = b[patchHeader:]
		if uint64(size) > uint64(len(b)) {
			return bad("patch overruns the record")
		}
		p.Stored = append([]byte{}, b[:size]...)
		b = b[size:]
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
	size := 0
	for _, p := range old.Patches {
		lo, hi := p.Off, p.Off+uint32(p.plainLen(old.Sealed))
		covered := false
		for _, w := range writes {
			covered = covered || (w.Off <= lo && hi <= w.Off+uint32(len(w.Data)))
		}
		if !covered {
			r.Patches = append(r.Patches, p)
			size += patchHeader + len(p.Stored)
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
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return Record{}, false, fmt.Errorf("data: random: %w", err)
		}
		p := Patch{Off: w.Off, ID: binary.BigEndian.Uint64(id[:])}
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
		r.Patches = append(r.Patches, p)
		r.Length = max(r.Length, w.Off+uint32(len(w.Data)))
	}
	if len(r.Patches) == 0 {
		return Record{}, false, nil
	}
	return r, true, nil
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
