package diskblob

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		kind      byte
		key       string
		value     []byte
		watermark int64
	}{
		{"put", kindPut, "fs-1/ab.c", []byte("hello"), 16},
		{"empty put", kindPut, "k", nil, 1 << 40},
		{"tombstone", kindTombstone, "k", tombstoneValue(7), 0},
		{"mark", kindMark, "", nil, 123},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := sealedRecord(tc.kind, tc.key, tc.value, tc.watermark)
			b = append(b, "trailing bytes"...)
			rec, n, err := decodeRecord(b)
			require.NoError(t, err)
			require.Equal(t, recordHeaderLen+len(tc.key)+len(tc.value), n)
			require.Equal(t, tc.kind, rec.kind)
			require.Equal(t, tc.key, string(rec.key))
			require.Equal(t, len(tc.value), len(rec.value))
			require.True(t, bytes.Equal(tc.value, rec.value))
			require.Equal(t, tc.watermark, rec.watermark)

			_, _, err = decodeRecord(b[:n-1])
			require.ErrorIs(t, err, errTruncated)
		})
	}
}

// Every single-bit error is caught, wherever it lands.
func TestRecordDetectsEveryBitFlip(t *testing.T) {
	b := sealedRecord(kindPut, "some/key", []byte("some value bytes"), 16)
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		_, _, err := decodeRecord(c)
		require.Error(t, err, "bit %d", i)
	}
}

func TestRecordRejects(t *testing.T) {
	valid := sealedRecord(kindPut, "k", []byte("v"), 16)
	tests := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"bad kind", func(b []byte) []byte { b[8] = 9; return b }},
		{"reserved byte", func(b []byte) []byte { b[9] = 1; return b }},
		{"empty key", func(b []byte) []byte {
			return sealedRecord(kindPut, "", []byte("v"), 0)
		}},
		{"invalid key with valid checksum", func(b []byte) []byte {
			return sealedRecord(kindPut, "a b", []byte("v"), 0)
		}},
		{"tombstone of wrong size", func(b []byte) []byte {
			return sealedRecord(kindTombstone, "k", []byte("v"), 0)
		}},
		{"mark with a key", func(b []byte) []byte {
			return sealedRecord(kindMark, "k", nil, 0)
		}},
		{"huge value", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[12:16], MaxObjectBytes+1)
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeRecord(tc.edit(bytes.Clone(valid)))
			require.ErrorIs(t, err, blob.ErrCorrupt)
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(sealedRecord(kindPut, "k", []byte("v"), 16))
	f.Add(sealedRecord(kindPut, "fs-1/blocks/0001", bytes.Repeat([]byte("x"), 300), 1<<20))
	f.Add(sealedRecord(kindTombstone, "key/x", tombstoneValue(3), 100))
	f.Add(sealedRecord(kindMark, "", nil, 40))
	f.Add(sealedRecord(kindPut, "k", make([]byte, 300), 16)[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errTruncated) && !errors.Is(err, blob.ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if n < recordHeaderLen || n > len(b) {
			t.Fatalf("length %d of %d bytes", n, len(b))
		}
		if binary.LittleEndian.Uint32(b) != recordMagic {
			t.Fatal("accepted a bad magic")
		}
		crc := crc32.Update(crc32.Checksum(b[recordHeaderLen:n], castagnoli), castagnoli, b[8:recordHeaderLen])
		if crc != binary.LittleEndian.Uint32(b[4:8]) {
			t.Fatal("accepted a record whose checksum does not match")
		}
		if rec.kind != kindMark && !blob.ValidKey(string(rec.key)) {
			t.Fatalf("accepted invalid key %q", rec.key)
		}
		// Decoding is the exact inverse of encoding.
		if again := sealedRecord(rec.kind, string(rec.key), rec.value, rec.watermark); !bytes.Equal(again, b[:n]) {
			t.Fatal("re-encoding differs")
		}
	})
}
