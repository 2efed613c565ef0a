package kms

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func testDataKey(t testing.TB, id uint32, fill byte) *DataKey {
	t.Helper()
	k, err := NewDataKey(id, bytes.Repeat([]byte{fill}, 32))
	require.NoError(t, err)
	return k
}

func TestNewDataKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		_, err := NewDataKey(1, make([]byte, n))
		require.Error(t, err, "%d bytes", n)
	}
}

func TestDataKeySealOpen(t *testing.T) {
	k := testDataKey(t, 1, 0xaa)
	aad := []byte("fs-1/ino-2/chunk-3")

	t.Run("round trip", func(t *testing.T) {
		for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("data"), 4096)} {
			env, err := k.Seal(nil, aad, pt)
			require.NoError(t, err)
			require.Len(t, env, len(pt)+EnvelopeOverhead)
			id, err := EnvelopeKeyID(env)
			require.NoError(t, err)
			require.Equal(t, uint32(1), id)
			got, err := k.Open(nil, aad, env)
			require.NoError(t, err)
			require.Equal(t, string(pt), string(got))
		}
	})
	t.Run("appends to dst", func(t *testing.T) {
		env, err := k.Seal([]byte("head"), aad, []byte("body"))
		require.NoError(t, err)
		require.Equal(t, "head", string(env[:4]))
		got, err := k.Open([]byte("pre"), aad, env[4:])
		require.NoError(t, err)
		require.Equal(t, "prebody", string(got))
	})
	t.Run("random per seal", func(t *testing.T) {
		a, err := k.Seal(nil, aad, []byte("same"))
		require.NoError(t, err)
		b, err := k.Seal(nil, aad, []byte("same"))
		require.NoError(t, err)
		require.NotEqual(t, a, b)
	})

	env, err := k.Seal(nil, aad, []byte("secret payload"))
	require.NoError(t, err)

	t.Run("aad mismatch", func(t *testing.T) {
		for _, other := range [][]byte{nil, []byte("fs-1/ino-2/chunk-4"), append(bytes.Clone(aad), 0)} {
			_, err := k.Open(nil, other, env)
			require.ErrorIs(t, err, ErrCorrupt)
		}
	})
	t.Run("key id mismatch", func(t *testing.T) {
		_, err := testDataKey(t, 2, 0xaa).Open(nil, aad, env)
		require.ErrorIs(t, err, ErrCorrupt, "same material, other id")
		relabelled := bytes.Clone(env)
		relabelled[4] = 2
		_, err = testDataKey(t, 2, 0xaa).Open(nil, aad, relabelled)
		require.ErrorIs(t, err, ErrCorrupt, "the key id in the header is authenticated")
	})
	t.Run("other material", func(t *testing.T) {
		_, err := testDataKey(t, 1, 0xab).Open(nil, aad, env)
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("flipped bytes", func(t *testing.T) {
		for i := range env {
			for bit := range 8 {
				bad := bytes.Clone(env)
				bad[i] ^= 1 << bit
				_, err := k.Open(nil, aad, bad)
				require.ErrorIs(t, err, ErrCorrupt, "byte %d bit %d", i, bit)
			}
		}
	})
	t.Run("truncation and extension", func(t *testing.T) {
		for n := range len(env) {
			_, err := k.Open(nil, aad, env[:n])
			require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
		}
		_, err := k.Open(nil, aad, append(bytes.Clone(env), 0))
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("not an envelope", func(t *testing.T) {
		_, err := EnvelopeKeyID([]byte{1, 2, 3})
		require.ErrorIs(t, err, ErrCorrupt)
		bad := bytes.Clone(env)
		bad[0] = 9
		_, err = EnvelopeKeyID(bad)
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("errors hold no plaintext", func(t *testing.T) {
		_, err := k.Open(nil, []byte("other"), env)
		require.NotContains(t, err.Error(), "secret")
	})
}

func TestDataKeyOpenInPlace(t *testing.T) {
	k := testDataKey(t, 1, 1)
	plain := bytes.Repeat([]byte("in place "), 1000)
	env, err := k.Seal(nil, []byte("aad"), plain)
	require.NoError(t, err)

	got, err := k.OpenInPlace([]byte("aad"), bytes.Clone(env))
	require.NoError(t, err)
	require.Equal(t, plain, got)

	_, err = k.OpenInPlace([]byte("other"), bytes.Clone(env))
	require.ErrorIs(t, err, ErrCorrupt)
	bad := bytes.Clone(env)
	bad[len(bad)/2] ^= 1
	_, err = k.OpenInPlace([]byte("aad"), bad)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = k.OpenInPlace([]byte("aad"), env[:EnvelopeOverhead-1])
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestDataKeyNameKey(t *testing.T) {
	k := testDataKey(t, 1, 1)
	a := k.NameKey(7, "report.pdf")
	require.Len(t, a, 16)
	require.Equal(t, a, k.NameKey(7, "report.pdf"), "deterministic")
	require.NotEqual(t, a, k.NameKey(8, "report.pdf"), "scoped to the directory")
	require.NotEqual(t, a, k.NameKey(7, "report.pdF"))
	require.NotEqual(t, a, testDataKey(t, 1, 2).NameKey(7, "report.pdf"), "keyed")
}

// FuzzOpenEnvelope checks that sealing round-trips for any plaintext and
// AAD, that a flipped bit anywhere in a fresh envelope is rejected, and that
// a candidate opens under the fixed AAD only if it is a genuine seal of the
// fixed plaintext. (Seal draws its salt from crypto/rand, so each fuzz worker
// process seals its own copy; every genuine copy opens, anything else must
// not.)
func FuzzOpenEnvelope(f *testing.F) {
	k := testDataKey(f, 3, 0x5c)
	fixedAAD := []byte("fs-1/ino-9")
	fixedPT := []byte("fixed plaintext")
	fixed, err := k.Seal(nil, fixedAAD, fixedPT)
	require.NoError(f, err)

	f.Add([]byte("hello"), []byte("aad"), fixed, uint16(0), byte(1))
	f.Add([]byte{}, []byte{}, fixed[:len(fixed)-1], uint16(40), byte(0x80))
	f.Add(bytes.Repeat([]byte{0}, 100), []byte(nil), []byte{}, uint16(9999), byte(0xff))
	bad := bytes.Clone(fixed)
	bad[10] ^= 4
	f.Add([]byte("x"), []byte("y"), bad, uint16(5), byte(2))

	f.Fuzz(func(t *testing.T, plaintext, aad, candidate []byte, pos uint16, mask byte) {
		env, err := k.Seal(nil, aad, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Open(nil, aad, env)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("round trip failed: %v", err)
		}
		if mask != 0 {
			tampered := bytes.Clone(env)
			tampered[int(pos)%len(tampered)] ^= mask
			if _, err := k.Open(nil, aad, tampered); err == nil {
				t.Fatalf("envelope with byte %d xor %#x opened", int(pos)%len(tampered), mask)
			}
		}
		if got, err := k.Open(nil, fixedAAD, candidate); err == nil {
			if len(candidate) != len(fixed) || !bytes.Equal(candidate[:5], fixed[:5]) || !bytes.Equal(got, fixedPT) {
				t.Fatalf("a tampered envelope opened")
			}
		}
		if got, err := k.Open(nil, fixedAAD, fixed); err != nil || !bytes.Equal(got, fixedPT) {
			t.Fatalf("the genuine envelope no longer opens: %v", err)
		}
	})
}

// BenchmarkDataKeyOpenSmall opens a metadata-sized envelope (an inode record)
// and hashes a directory-entry name: the cryptography of one LOOKUP on an
// encrypted file system.
func BenchmarkDataKeyOpenSmall(b *testing.B) {
	k, err := NewDataKey(1, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	aad := []byte("inode 42")
	env, err := k.Seal(nil, aad, make([]byte, 96))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(nil, aad, env); err != nil {
			b.Fatal(err)
		}
		_ = k.NameKey(42, "file-000123")
	}
}
