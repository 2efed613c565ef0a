package kms

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	secret := []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	sealed, err := e.m.SealSecret(ctx, "iam access key AKIAEXAMPLE", secret)
	require.NoError(t, err)
	require.Len(t, sealed, 1+nonceBytes+len(secret)+tagBytes)
	require.False(t, bytes.Contains(sealed, secret))

	got, err := e.m.OpenSecret(ctx, "iam access key AKIAEXAMPLE", sealed)
	require.NoError(t, err)
	require.Equal(t, secret, got)

	// A restart with the same root key opens it; sealing twice differs.
	got, err = e.reopen(t).OpenSecret(ctx, "iam access key AKIAEXAMPLE", sealed)
	require.NoError(t, err)
	require.Equal(t, secret, got)
	again, err := e.m.SealSecret(ctx, "iam access key AKIAEXAMPLE", secret)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again)

	empty, err := e.m.SealSecret(ctx, "p", nil)
	require.NoError(t, err)
	got, err = e.m.OpenSecret(ctx, "p", empty)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestSecretBindings(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	sealed, err := e.m.SealSecret(ctx, "iam access key A", []byte("secret"))
	require.NoError(t, err)

	_, err = e.m.OpenSecret(ctx, "iam access key B", sealed)
	require.ErrorIs(t, err, ErrCorrupt, "another purpose")

	other, err := Open(ctx, newMemStore(), e.root, Config{Account: "210987654321", Region: "us-east-1"}, e.clk)
	require.NoError(t, err)
	_, err = other.OpenSecret(ctx, "iam access key A", sealed)
	require.ErrorIs(t, err, ErrCorrupt, "another account")

	otherRoot, err := Open(ctx, newMemStore(), bytes.Repeat([]byte{8}, RootKeyBytes), testConfig, e.clk)
	require.NoError(t, err)
	_, err = otherRoot.OpenSecret(ctx, "iam access key A", sealed)
	require.ErrorIs(t, err, ErrCorrupt, "another root key")

	// Key material and secrets cannot stand in for each other.
	mat, err := e.m.sealMaterial("k", 1, bytes.Repeat([]byte{1}, materialBytes))
	require.NoError(t, err)
	_, err = e.m.OpenSecret(ctx, "k", mat)
	require.ErrorIs(t, err, ErrCorrupt)
	asMaterial, err := e.m.SealSecret(ctx, "k", bytes.Repeat([]byte{1}, materialBytes))
	require.NoError(t, err)
	_, err = e.m.openMaterial("k", 1, asMaterial)
	require.ErrorIs(t, err, ErrCorrupt)

	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		_, err := e.m.OpenSecret(ctx, "iam access key A", bad)
		require.ErrorIs(t, err, ErrCorrupt, "byte %d altered", i)
	}
	_, err = e.m.OpenSecret(ctx, "iam access key A", sealed[:len(sealed)-1])
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = e.m.OpenSecret(ctx, "iam access key A", nil)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestSecretLimits(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	_, err := e.m.SealSecret(ctx, "p", make([]byte, maxSecretBytes+1))
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = e.m.SealSecret(ctx, "", []byte("x"))
	require.ErrorIs(t, err, ErrInvalidArgument)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.m.SealSecret(cancelled, "p", []byte("x"))
	require.ErrorIs(t, err, context.Canceled)
}

// FuzzOpenSecret: arbitrary sealed values never open (unless they are the
// sealed value itself) and never panic.
func FuzzOpenSecret(f *testing.F) {
	e := newTestEnv(f)
	e.m.rand = mrand.NewChaCha8([32]byte{'s', 'e', 'c'})
	sealed, err := e.m.SealSecret(context.Background(), "p", []byte("plaintext"))
	require.NoError(f, err)
	f.Add(sealed)
	f.Add([]byte{secretVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := e.m.OpenSecret(context.Background(), "p", b)
		if err == nil {
			require.Equal(t, sealed, b, "only the sealed value opens")
			require.Equal(t, []byte("plaintext"), got)
		}
	})
}
