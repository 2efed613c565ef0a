package kms

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/meta"
)

func TestRootKeyRotationKeepsEverythingReadable(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{Description: "d"})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-0123456789abcdef0")
	require.NoError(t, err)
	dk, err := e.m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
	require.NoError(t, err)
	env, err := dk.Seal(nil, []byte("aad"), []byte("file data"))
	require.NoError(t, err)
	secret, err := e.m.SealSecret(ctx, "purpose", []byte("s3cret"))
	require.NoError(t, err)
	blob, _, err := e.m.Encrypt(ctx, md.KeyID, []byte("hello"), map[string]string{"a": "b"})
	require.NoError(t, err)

	readable := func(t *testing.T, m *Manager) {
		t.Helper()
		dk, err := m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
		require.NoError(t, err)
		plain, err := dk.Open(nil, []byte("aad"), env)
		require.NoError(t, err)
		require.Equal(t, "file data", string(plain))
		s, err := m.OpenSecret(ctx, "purpose", secret)
		require.NoError(t, err)
		require.Equal(t, "s3cret", string(s))
		p, _, err := m.Decrypt(ctx, blob, map[string]string{"a": "b"})
		require.NoError(t, err)
		require.Equal(t, "hello", string(p))
	}

	newRoot := bytes.Repeat([]byte{9}, RootKeyBytes)
	require.NoError(t, e.m.BeginRootKeyRotation(ctx, newRoot))
	readable(t, e.m) // the running Manager keeps serving

	// Mid-rotation both keys open the store.
	old, err := Open(ctx, e.store, e.root, testConfig, e.clk)
	require.NoError(t, err)
	readable(t, old)
	// A second rotation begun from the old key keeps the old key as the
	// previous one (the file still holds it).
	third := bytes.Repeat([]byte{11}, RootKeyBytes)
	require.NoError(t, old.BeginRootKeyRotation(ctx, third))
	_, err = Open(ctx, e.store, newRoot, testConfig, e.clk)
	require.ErrorIs(t, err, ErrWrongRootKey, "the abandoned key is forgotten")
	m, err := Open(ctx, e.store, e.root, testConfig, e.clk)
	require.NoError(t, err)
	readable(t, m)

	require.NoError(t, old.FinishRootKeyRotation(ctx))
	_, err = Open(ctx, e.store, e.root, testConfig, e.clk)
	require.ErrorIs(t, err, ErrWrongRootKey, "the old root key opens nothing after the rotation")
	m, err = Open(ctx, e.store, third, testConfig, e.clk)
	require.NoError(t, err)
	readable(t, m)
	snap := e.store.snapshot()
	require.NotContains(t, snap, string(meta.SystemKey("root-key-check-prev")))
	require.ErrorIs(t, m.BeginRootKeyRotation(ctx, third), ErrInvalidArgument)
}

func TestOpenWithNewKeyEndsRotation(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	newRoot := bytes.Repeat([]byte{9}, RootKeyBytes)
	require.NoError(t, e.m.BeginRootKeyRotation(ctx, newRoot))
	_, err := Open(ctx, e.store, newRoot, testConfig, e.clk) // the new key was installed, then a crash
	require.NoError(t, err)
	_, err = Open(ctx, e.store, e.root, testConfig, e.clk)
	require.ErrorIs(t, err, ErrWrongRootKey)
}

func TestGrantsAndPolicy(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	pol, err := e.m.GetKeyPolicy(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, DefaultKeyPolicy(testConfig.Account), pol)
	require.NoError(t, e.m.PutKeyPolicy(ctx, md.KeyID, `{"Statement":[]}`))
	ka, err := e.m.Access(ctx, md.ARN)
	require.NoError(t, err)
	require.Equal(t, `{"Statement":[]}`, ka.Policy)

	in := CreateGrantInput{GranteePrincipal: "arn:aws:iam::123456789012:user/u", Operations: []string{"Decrypt", "Encrypt"}, Name: "g",
		Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"k": "v"}}}
	id, tok, err := e.m.CreateGrant(ctx, md.KeyID, in)
	require.NoError(t, err)
	id2, _, err := e.m.CreateGrant(ctx, md.KeyID, in)
	require.NoError(t, err)
	require.Equal(t, id, id2, "same name and parameters: the same grant")
	g, err := e.m.GrantByToken(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, id, g.GrantID)
	require.True(t, g.Constraints.Allows(map[string]string{"k": "v", "x": "y"}))
	require.False(t, g.Constraints.Allows(map[string]string{"k": "w"}))
	_, _, err = e.m.CreateGrant(ctx, md.KeyID, CreateGrantInput{GranteePrincipal: "p", Operations: []string{"Nope"}})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.NoError(t, e.m.RemoveGrant(ctx, md.KeyID, id))
	require.ErrorIs(t, e.m.RemoveGrant(ctx, md.KeyID, id), ErrNotFound)

	managed, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, e.m.PutKeyPolicy(ctx, managed.KeyID, `{}`), ErrUnsupportedOperation)
	pol, err = e.m.GetKeyPolicy(ctx, ManagedKeyAlias)
	require.NoError(t, err)
	require.Contains(t, pol, "kms:ViaService")
}
