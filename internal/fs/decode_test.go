package fs

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/kms"
)

func sampleInode() *inode {
	now := time.Date(2026, 11, 27, 1, 2, 3, 4, time.UTC)
	return &inode{Attr: Attr{Ino: 42, Type: TypeSymlink, Mode: 0o777, Nlink: 1, UID: 1000, GID: 50, Size: 7,
		Atime: now, Mtime: now, Ctime: now, Btime: now, Change: 9, Generation: 1}, target: []byte("../x/yz"),
		verifier: [8]byte{1, 2, 3}}
}

func TestInodeRoundTrip(t *testing.T) {
	n := sampleInode()
	got, err := decodeInode(n.encode())
	require.NoError(t, err)
	require.Equal(t, n, got)
}

func FuzzDecodeInode(f *testing.F) {
	f.Add(sampleInode().encode())
	dir := &inode{Attr: Attr{Ino: 1, Type: TypeDirectory, Mode: 0o755, Nlink: 2}, nextCookie: 3}
	f.Add(dir.encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeInode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(n.encode(), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzOpenRecord(f *testing.F) {
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	key, err := kms.NewDataKey(1, material)
	require.NoError(f, err)
	aad := inodeAAD(1, 42)
	sealed, err := sealValue(key, aad, sampleInode().encode())
	require.NoError(f, err)
	f.Add(sealed, false)
	f.Add(append([]byte{recordPlain}, sampleInode().encode()...), true)
	f.Fuzz(func(t *testing.T, b []byte, plain bool) {
		k := key
		if plain {
			k = nil
		}
		got, err := openValue(k, aad, b)
		if err != nil {
			return
		}
		if k != nil && !bytes.Equal(b, sealed) {
			// Only the genuine envelope may open under the key.
			t.Fatalf("tampered record opened")
		}
		_, _ = decodeInode(got)
	})
}

func FuzzDecodeCookieEntry(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 1, 1, 'a', 0, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = decodeCookieEntry(nil, 1, 1, 3, b)
	})
}

// TestInodeCacheBound checks that the inode cache keeps at most
// inodeCacheEntries entries, answers only for the key and stored bytes it
// was given, and hands out copies.
func TestInodeCacheBound(t *testing.T) {
	var c inodeCache
	k1, k2 := &kms.DataKey{}, &kms.DataKey{}
	n := sampleInode()
	n.target = []byte("target")
	for i := range uint64(inodeCacheEntries + 100) {
		c.put(fileKey{1, i}, k1, []byte{byte(i), 1}, n)
	}
	require.Len(t, c.entries, inodeCacheEntries)

	c.put(fileKey{2, 7}, k1, []byte("stored"), n)
	got, ok := c.get(fileKey{2, 7}, k1, []byte("stored"))
	require.True(t, ok)
	require.Equal(t, n, got)
	got.target[0] = 'X'
	got.Size++
	again, ok := c.get(fileKey{2, 7}, k1, []byte("stored"))
	require.True(t, ok)
	require.Equal(t, n, again)

	_, ok = c.get(fileKey{2, 7}, k2, []byte("stored"))
	require.False(t, ok, "another key")
	_, ok = c.get(fileKey{2, 7}, k1, []byte("stores"))
	require.False(t, ok, "other bytes")
	_, ok = c.get(fileKey{2, 8}, k1, []byte("stored"))
	require.False(t, ok, "another inode")
}
