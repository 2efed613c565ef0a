package diskblob

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
)

func TestTornTailIsTruncated(t *testing.T) {
	partial := sealedRecord(kindPut, "torn", bytes.Repeat([]byte("x"), 100), 0)[:60]
	tests := []struct {
		name string
		// damage changes the newest segment after a crash; it returns the
		// keys still expected.
		damage func(t *testing.T, path string) []string
	}{
		{"half a header", func(t *testing.T, path string) []string {
			appendFile(t, path, partial[:10])
			return []string{"a", "b", "c"}
		}},
		{"half a record", func(t *testing.T, path string) []string {
			appendFile(t, path, partial)
			return []string{"a", "b", "c"}
		}},
		{"zeros", func(t *testing.T, path string) []string {
			appendFile(t, path, make([]byte, 4096))
			return []string{"a", "b", "c"}
		}},
		{"damaged last record", func(t *testing.T, path string) []string {
			flipByte(t, path, fileSize(t, path)-1)
			return []string{"a", "b"}
		}},
		{"last record cut", func(t *testing.T, path string) []string {
			require.NoError(t, os.Truncate(path, fileSize(t, path)-3))
			return []string{"a", "b"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
			s := openStore(t, cfg)
			for _, k := range []string{"a", "b", "c"} {
				require.NoError(t, s.Put(ctx, k, []byte("value of "+k)))
			}
			id, off := location(t, s, "c")
			crashForTest(t, s)
			path := segPath(cfg.Dir, id)
			want := tc.damage(t, path)

			s = openStore(t, cfg)
			if len(want) == 3 {
				require.Equal(t, off+recordLen("c", 10), fileSize(t, path), "torn bytes kept")
			} else {
				require.Equal(t, off, fileSize(t, path), "torn bytes kept")
			}
			for _, k := range want {
				b, err := s.Get(ctx, k, 0, -1)
				require.NoError(t, err)
				require.Equal(t, "value of "+k, string(b))
			}
			if len(want) == 2 {
				_, err := s.Get(ctx, "c", 0, -1)
				require.ErrorIs(t, err, blob.ErrNotFound)
			}
			require.NoError(t, s.Put(ctx, "d", []byte("after")))
			require.NoError(t, s.Close())

			s = openStore(t, cfg)
			defer s.Close()
			b, err := s.Get(ctx, "d", 0, -1)
			require.NoError(t, err)
			require.Equal(t, "after", string(b))
		})
	}
}

// A record damaged before Close's mark was acknowledged: open must not
// quietly drop it, and everything written after it.
func TestDamageBeforeCloseMarkFailsOpen(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s := openStore(t, cfg)
	require.NoError(t, s.Put(ctx, "a", []byte("aaaa")))
	require.NoError(t, s.Put(ctx, "b", []byte("bbbb")))
	id, off := location(t, s, "a")
	require.NoError(t, s.Close())
	flipByte(t, segPath(cfg.Dir, id), off+recordHeaderLen+2)

	_, err := New(nil, cfg)
	require.ErrorIs(t, err, blob.ErrCorrupt)
	// Nothing was truncated.
	require.Greater(t, fileSize(t, segPath(cfg.Dir, id)), off+recordLen("a", 4))
}

// Without a mark, the watermark of a later record proves that the damaged
// one had been synced.
func TestDamageProvenByWatermarkFailsOpen(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s := openStore(t, cfg)
	require.NoError(t, s.Put(ctx, "a", []byte("aaaa")))
	require.NoError(t, s.Put(ctx, "b", []byte("bbbb"))) // appended after a was synced
	id, off := location(t, s, "a")
	crashForTest(t, s)
	flipByte(t, segPath(cfg.Dir, id), off+recordHeaderLen+2)

	_, err := New(nil, cfg)
	require.ErrorIs(t, err, blob.ErrCorrupt)
}

// Records appended in one group share a watermark: damage in the group
// proves nothing about the records after it, which were never acknowledged.
func TestTornGroupIsTruncated(t *testing.T) {
	dir := t.TempDir()
	var seg bytes.Buffer
	seg.Write(encodeSegmentHeader())
	seg.Write(sealedRecord(kindPut, "old", []byte("synced"), segmentHeaderLen))
	group := int64(seg.Len()) // durable prefix when the group was appended
	recs := [][]byte{
		sealedRecord(kindPut, "x", []byte("one"), group),
		sealedRecord(kindPut, "y", []byte("two"), group),
		sealedRecord(kindPut, "z", []byte("three"), group),
	}
	for _, r := range recs {
		seg.Write(r)
	}
	b := seg.Bytes()
	b[group+int64(len(recs[0]))+recordHeaderLen] ^= 1 // damage y's key
	require.NoError(t, os.WriteFile(segPath(dir, 1), b, 0o600))

	s := openStore(t, Config{Dir: dir, DisableAutoCompact: true})
	defer s.Close()
	got, err := s.Get(ctx, "x", 0, -1)
	require.NoError(t, err)
	require.Equal(t, "one", string(got))
	for _, k := range []string{"y", "z"} {
		_, err := s.Get(ctx, k, 0, -1)
		require.ErrorIs(t, err, blob.ErrNotFound, k)
	}
	require.Equal(t, group+int64(len(recs[0])), fileSize(t, segPath(dir, 1)))
}

func TestDamagedSealedSegmentFailsOpen(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, off int64)
	}{
		{"flipped value byte", func(t *testing.T, path string, off int64) {
			flipByte(t, path, off+recordHeaderLen+5)
		}},
		{"flipped header byte", func(t *testing.T, path string, off int64) {
			flipByte(t, path, off+13)
		}},
		{"cut short", func(t *testing.T, path string, _ int64) {
			require.NoError(t, os.Truncate(path, fileSize(t, path)-1))
		}},
		{"segment header", func(t *testing.T, path string, _ int64) {
			flipByte(t, path, 3)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), SegmentBytes: minSegmentBytes, DisableAutoCompact: true}
			s := openStore(t, cfg)
			require.NoError(t, s.Put(ctx, "first", bytes.Repeat([]byte("f"), 100)))
			for i := range 10 {
				require.NoError(t, s.Put(ctx, "fill/"+string(rune('a'+i)), bytes.Repeat([]byte("x"), 1000)))
			}
			id, off := location(t, s, "first")
			require.Greater(t, s.Stats().Segments, 1)
			require.NoError(t, s.Close())
			tc.damage(t, segPath(cfg.Dir, id), off)
			_, err := New(nil, cfg)
			require.ErrorIs(t, err, blob.ErrCorrupt)
		})
	}
}

func TestGetDetectsDamage(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
	s := openStore(t, cfg)
	defer s.Close()
	v := bytes.Repeat([]byte("0123456789"), 1000)
	require.NoError(t, s.Put(ctx, "victim", v))
	require.NoError(t, s.Put(ctx, "bystander", v))
	id, off := location(t, s, "victim")
	flipByte(t, segPath(cfg.Dir, id), off+recordHeaderLen+int64(len("victim"))+9000)

	for _, r := range [][2]int64{{0, -1}, {0, 10}, {9000, 1}} {
		_, err := s.Get(ctx, "victim", r[0], r[1])
		require.ErrorIs(t, err, blob.ErrCorrupt, "range %v", r)
	}
	got, err := s.Get(ctx, "bystander", 0, -1)
	require.NoError(t, err)
	require.Equal(t, v, got)
}

func TestIncompleteNewSegmentIsReinitialized(t *testing.T) {
	for _, size := range []int{0, 5, segmentHeaderLen} {
		cfg := Config{Dir: t.TempDir(), DisableAutoCompact: true}
		s := openStore(t, cfg)
		require.NoError(t, s.Put(ctx, "a", []byte("a")))
		require.NoError(t, s.Close())
		// A crash while the next segment was being created.
		require.NoError(t, os.WriteFile(segPath(cfg.Dir, 2), make([]byte, size), 0o600))

		s = openStore(t, cfg)
		require.NoError(t, s.Put(ctx, "b", []byte("b")))
		require.NoError(t, s.Close())
		s = openStore(t, cfg)
		for _, k := range []string{"a", "b"} {
			got, err := s.Get(ctx, k, 0, -1)
			require.NoError(t, err)
			require.Equal(t, k, string(got))
		}
		require.NoError(t, s.Close())
	}
}

func TestUnsupportedFormatVersion(t *testing.T) {
	dir := t.TempDir()
	h := encodeSegmentHeader()
	h[8] = 2
	copy(h[12:], crcOfBodyLE(h[:12]))
	require.NoError(t, os.WriteFile(segPath(dir, 1), append(h, make([]byte, 100)...), 0o600))
	_, err := New(nil, Config{Dir: dir})
	require.ErrorContains(t, err, "unsupported segment format version 2")
}

func crcOfBodyLE(b []byte) []byte {
	c := crcOfBody(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}
