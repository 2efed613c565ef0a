package kms

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerateDataKeyRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	require.NoError(t, e.m.CreateAlias(ctx, "alias/app", md.KeyID))
	encCtx := map[string]string{"aws:elasticfilesystem:filesystem:id": "fs-1", "x": ""}

	for _, ref := range []string{md.KeyID, md.ARN, "alias/app", "arn:aws:kms:us-east-1:123456789012:alias/app"} {
		pt, blob, arn, err := e.m.GenerateDataKey(ctx, ref, encCtx)
		require.NoError(t, err)
		require.Len(t, pt, 32)
		require.Len(t, blob, blobOverhead+32)
		require.Equal(t, md.ARN, arn)
		require.False(t, bytes.Contains(blob, pt), "plaintext is not in the blob")

		got, arn, err := e.m.Decrypt(ctx, blob, map[string]string{"x": "", "aws:elasticfilesystem:filesystem:id": "fs-1"})
		require.NoError(t, err)
		require.Equal(t, pt, got)
		require.Equal(t, md.ARN, arn)
	}

	// Nil and empty contexts are the same context.
	pt, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.NoError(t, err)
	got, _, err := e.m.Decrypt(ctx, blob, map[string]string{})
	require.NoError(t, err)
	require.Equal(t, pt, got)
}

func TestDecryptEncryptionContextMismatch(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	encCtx := map[string]string{"a": "bc", "fs": "fs-1"}
	_, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(t, err)

	tests := map[string]map[string]string{
		"nil":           nil,
		"other value":   {"a": "bc", "fs": "fs-2"},
		"missing pair":  {"fs": "fs-1"},
		"extra pair":    {"a": "bc", "fs": "fs-1", "b": ""},
		"shifted bytes": {"ab": "c", "fs": "fs-1"},
		"renamed key":   {"A": "bc", "fs": "fs-1"},
	}
	for name, other := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.m.Decrypt(ctx, blob, other)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}

	_, _, _, err = e.m.GenerateDataKey(ctx, md.KeyID, map[string]string{"big": strings.Repeat("x", 8193)})
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestCanonicalContextIsInjective(t *testing.T) {
	pairs := []map[string]string{
		nil,
		{"": ""},
		{"a": "bc"},
		{"ab": "c"},
		{"a": "b", "c": "d"},
		{"a": "b\x01\x01c\x01d"},
	}
	seen := map[string]int{}
	for i, p := range pairs {
		enc, err := canonicalContext(p)
		require.NoError(t, err)
		if j, dup := seen[string(enc)]; dup {
			t.Fatalf("contexts %d and %d encode the same", i, j)
		}
		seen[string(enc)] = i
	}
}

func TestDecryptTamperedBlob(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	require.NoError(t, e.m.RotateKey(ctx, md.KeyID))
	encCtx := map[string]string{"k": "v"}
	_, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(t, err)

	for i := range blob {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(blob)
			bad[i] ^= mask
			_, _, err := e.m.Decrypt(ctx, bad, encCtx)
			require.Error(t, err, "byte %d mask %#x", i, mask)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound), "byte %d: %v", i, err)
		}
	}
	for n := range len(blob) {
		_, _, err := e.m.Decrypt(ctx, blob[:n], encCtx)
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
	}
	_, _, err = e.m.Decrypt(ctx, append(bytes.Clone(blob), 0), encCtx)
	require.ErrorIs(t, err, ErrCorrupt)
	_, _, err = e.m.Decrypt(ctx, make([]byte, maxBlobBytes+1), encCtx)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestDataPlaneRefusesUnusableKeys(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	pt, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.NoError(t, err)

	require.NoError(t, e.m.DisableKey(ctx, md.KeyID))
	_, _, _, err = e.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.ErrorIs(t, err, ErrKeyDisabled)
	require.ErrorIs(t, err, ErrKeyUnavailable)
	_, _, err = e.m.Decrypt(ctx, blob, nil)
	require.ErrorIs(t, err, ErrKeyDisabled)

	require.NoError(t, e.m.EnableKey(ctx, md.KeyID))
	got, _, err := e.m.Decrypt(ctx, blob, nil)
	require.NoError(t, err)
	require.Equal(t, pt, got)
}

func TestDecryptBlobOfAnotherRootKey(t *testing.T) {
	ctx := context.Background()
	a := newTestEnv(t)
	b := newTestEnv(t)
	b.root[0] ^= 1
	b.store = newMemStore()
	b.m = b.reopen(t)
	md, err := a.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	_, blob, _, err := a.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.NoError(t, err)
	_, _, err = b.m.Decrypt(ctx, blob, nil)
	require.ErrorIs(t, err, ErrNotFound, "another store does not know the key")
}

// FuzzDecryptBlob feeds arbitrary blobs and contexts to Decrypt: it must never
// panic, and nothing but the genuine blob with its genuine context decrypts.
// Randomness is seeded so that every fuzz worker process has the same key
// and the same genuine blob (the seeds come from the coordinator process).
func FuzzDecryptBlob(f *testing.F) {
	ctx := context.Background()
	e := newTestEnv(f)
	e.m.rand = mrand.NewChaCha8([32]byte{'f', 'u', 'z', 'z'})
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(f, err)
	require.NoError(f, e.m.RotateKey(ctx, md.KeyID))
	encCtx := map[string]string{"k": "v"}
	pt, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(f, err)

	f.Add(blob, "k", "v")
	f.Add(blob, "k", "w")
	f.Add(blob, "", "")
	f.Add(blob[:len(blob)-1], "k", "v")
	flipped := bytes.Clone(blob)
	flipped[len(flipped)-1] ^= 1
	f.Add(flipped, "k", "v")
	relabelled := bytes.Clone(blob)
	relabelled[20] = 1
	f.Add(relabelled, "k", "v")
	f.Add([]byte{1}, "k", "v")
	f.Add(make([]byte, blobOverhead+32), "k", "v")

	f.Fuzz(func(t *testing.T, candidate []byte, key, value string) {
		c := map[string]string{}
		if key != "" || value != "" {
			c[key] = value
		}
		got, _, err := e.m.Decrypt(ctx, candidate, c)
		if err != nil {
			return
		}
		if !bytes.Equal(candidate, blob) || key != "k" || value != "v" {
			t.Fatalf("a tampered blob or context decrypted (%d bytes, context %q=%q)", len(candidate), key, value)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("the genuine blob decrypted to other bytes")
		}
	})
}
