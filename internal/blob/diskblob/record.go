package diskblob

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/shelf-efs/shelf/internal/blob"
)

// On-disk format, version 1. All integers are little-endian.
//
// A segment file starts with a 16-byte segment header:
//
//	0  [8]byte  "shelfseg"
//	8  uint32   format version (1)
//	12 uint32   CRC-32C of bytes 0..12
//
// followed by records, back to back:
//
//	0  uint32   recordMagic
//	4  uint32   CRC-32C of key ‖ value ‖ header bytes 8..24
//	8  uint8    kind: kindPut, kindTombstone or kindMark
//	9  uint8    reserved, 0
//	10 uint16   key length
//	12 uint32   value length
//	16 uint64   watermark: the prefix of this segment known to be durable
//	            when the record was appended
//	24          key, then value
//
// The checksum covers the body before the header fields so that the body part
// can be computed before the append lock is taken; only the 16 header bytes,
// which include the watermark, are hashed under the lock.
//
// A tombstone's value is the uint64 id of the segment that held the record it
// deleted (0 if unknown). It is informational (offline inspection); compaction
// decides from the in-memory index, which tracks every segment that still
// holds an older version of the key (see compact.go).
//
// A mark carries no key and no value. Close appends one so that, at the next
// open, its watermark proves that every earlier record of the segment was
// durable (see replay in segment.go).
const (
	segmentMagic      = "shelfseg"
	formatVersion     = 1
	segmentHeaderLen  = 16
	recordMagic       = 0x6b6c6273 // "sblk"
	recordHeaderLen   = 24
	tombstoneValueLen = 8

	kindPut       = 1
	kindTombstone = 2
	kindMark      = 3
)

// MaxObjectBytes bounds the size of one object.
const MaxObjectBytes = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncated reports a record that runs past the end of the data.
var errTruncated = io.ErrUnexpectedEOF

// header is a parsed record header.
type header struct {
	kind      byte
	keyLen    int
	valueLen  int
	watermark int64
	crc       uint32
}

func (h header) bodyLen() int { return h.keyLen + h.valueLen }

func (h header) recordLen() int64 { return int64(recordHeaderLen + h.bodyLen()) }

// parseHeader checks the fixed fields of the record header in b, which must
// hold at least recordHeaderLen bytes. It does not check the checksum.
func parseHeader(b []byte) (header, error) {
	if binary.LittleEndian.Uint32(b[0:4]) != recordMagic {
		return header{}, corruptf("bad record magic")
	}
	h := header{
		crc:      binary.LittleEndian.Uint32(b[4:8]),
		kind:     b[8],
		keyLen:   int(binary.LittleEndian.Uint16(b[10:12])),
		valueLen: int(binary.LittleEndian.Uint32(b[12:16])),
	}
	if b[9] != 0 {
		return header{}, corruptf("bad record reserved byte")
	}
	wm := binary.LittleEndian.Uint64(b[16:24])
	if wm > 1<<62 {
		return header{}, corruptf("bad record watermark")
	}
	h.watermark = int64(wm)
	switch h.kind {
	case kindPut:
		if h.keyLen == 0 || h.keyLen > blob.MaxKeyLength || h.valueLen > MaxObjectBytes {
			return header{}, corruptf("bad put record lengths")
		}
	case kindTombstone:
		if h.keyLen == 0 || h.keyLen > blob.MaxKeyLength || h.valueLen != tombstoneValueLen {
			return header{}, corruptf("bad tombstone record lengths")
		}
	case kindMark:
		if h.keyLen != 0 || h.valueLen != 0 {
			return header{}, corruptf("bad mark record lengths")
		}
	default:
		return header{}, corruptf("bad record kind %d", h.kind)
	}
	return h, nil
}

// verify checks the record checksum; hdr is the raw header, body the key and
// value that follow it.
func (h header) verify(hdr, body []byte) error {
	crc := crc32.Update(crc32.Checksum(body, castagnoli), castagnoli, hdr[8:recordHeaderLen])
	if crc != h.crc {
		return corruptf("record checksum mismatch")
	}
	if h.kind != kindMark && !blob.ValidKey(string(body[:h.keyLen])) {
		return corruptf("bad record key")
	}
	return nil
}

// record is a decoded record. key and value alias the decoded buffer.
type record struct {
	kind      byte
	key       []byte
	value     []byte
	watermark int64
}

// decodeRecord decodes the record at the start of b and returns it with its
// length. A record that runs past the end of b yields errTruncated; any other
// inconsistency an error wrapping blob.ErrCorrupt. It never allocates in
// proportion to lengths read from b.
func decodeRecord(b []byte) (record, int, error) {
	if len(b) < recordHeaderLen {
		return record{}, 0, errTruncated
	}
	h, err := parseHeader(b)
	if err != nil {
		return record{}, 0, err
	}
	n := recordHeaderLen + h.bodyLen()
	if len(b) < n {
		return record{}, 0, errTruncated
	}
	body := b[recordHeaderLen:n]
	if err := h.verify(b[:recordHeaderLen], body); err != nil {
		return record{}, 0, err
	}
	return record{
		kind:      h.kind,
		key:       body[:h.keyLen],
		value:     body[h.keyLen:],
		watermark: h.watermark,
	}, n, nil
}

// encoded is a record ready to append: head, then tail (if any).
type encoded struct {
	head []byte // header and key, and the value unless it is large
	tail []byte // a large value, written straight from the caller's buffer
	crc  uint32 // checksum of key and value
}

func (e *encoded) len() int64 { return int64(len(e.head) + len(e.tail)) }

// copyValueMax is the largest value copied next to its header to be
// written in one call; larger ones are written from the caller's buffer with
// a second call, which costs less than the copy.
const copyValueMax = 64 << 10

// encodeRecord lays out a record. Its watermark and final checksum are
// filled in by seal once the append position is known. A large value is
// referenced, not copied: it must not change until the record is written.
func encodeRecord(kind byte, key string, value []byte) encoded {
	n := recordHeaderLen + len(key)
	var tail []byte
	if len(value) <= copyValueMax {
		n += len(value)
	} else {
		tail = value
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b[0:4], recordMagic)
	b[8] = kind
	binary.LittleEndian.PutUint16(b[10:12], uint16(len(key)))
	binary.LittleEndian.PutUint32(b[12:16], uint32(len(value)))
	copy(b[recordHeaderLen:], key)
	crc := crc32.Checksum(b[recordHeaderLen:recordHeaderLen+len(key)], castagnoli)
	if tail == nil {
		copy(b[recordHeaderLen+len(key):], value)
	}
	return encoded{head: b, tail: tail, crc: crc32.Update(crc, castagnoli, value)}
}

func crcOfBody(body []byte) uint32 { return crc32.Checksum(body, castagnoli) }

// seal sets the watermark of the record and its checksum.
func (e *encoded) seal(watermark int64) {
	binary.LittleEndian.PutUint64(e.head[16:24], uint64(watermark))
	binary.LittleEndian.PutUint32(e.head[4:8], crc32.Update(e.crc, castagnoli, e.head[8:recordHeaderLen]))
}

// tombstoneValue encodes the value of a tombstone.
func tombstoneValue(target uint64) []byte {
	return binary.LittleEndian.AppendUint64(nil, target)
}

func encodeSegmentHeader() []byte {
	b := make([]byte, segmentHeaderLen)
	copy(b, segmentMagic)
	binary.LittleEndian.PutUint32(b[8:12], formatVersion)
	binary.LittleEndian.PutUint32(b[12:16], crc32.Checksum(b[:12], castagnoli))
	return b
}

func checkSegmentHeader(b []byte) error {
	if len(b) < segmentHeaderLen || string(b[:8]) != segmentMagic ||
		binary.LittleEndian.Uint32(b[12:16]) != crc32.Checksum(b[:12], castagnoli) {
		return corruptf("bad segment header")
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != formatVersion {
		return fmt.Errorf("diskblob: unsupported segment format version %d", v)
	}
	return nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("diskblob: %s: %w", fmt.Sprintf(format, args...), blob.ErrCorrupt)
}
