package kms

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFileSystemKeyRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, arn, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-0123456789abcdef0")
	require.NoError(t, err)
	require.Equal(t, md.ARN, arn)

	dk, err := e.m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
	require.NoError(t, err)
	require.Equal(t, FirstDataKeyID, dk.ID())
	again, err := e.m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
	require.NoError(t, err)
	require.Same(t, dk, again, "unwrapped keys are cached")

	// The data key is the one sealed in the wrapped blob: Decrypt with the
	// file-system context yields the same key material.
	pt, _, err := e.m.Decrypt(ctx, wrapped[wrappedHeaderBytes:], fileSystemContext("fs-0123456789abcdef0", 1))
	require.NoError(t, err)
	fromPT, err := NewDataKey(1, pt)
	require.NoError(t, err)
	sealed, err := dk.Seal(nil, []byte("aad"), []byte("data"))
	require.NoError(t, err)
	opened, err := fromPT.Open(nil, []byte("aad"), sealed)
	require.NoError(t, err)
	require.Equal(t, "data", string(opened))

	other, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-0123456789abcdef0")
	require.NoError(t, err)
	dk2, err := e.m.FileSystemKey(ctx, other, "fs-0123456789abcdef0")
	require.NoError(t, err)
	require.NotEqual(t, dk.NameKey(1, "x"), dk2.NameKey(1, "x"), "every call makes a new data key")

	_, _, err = e.m.NewFileSystemKey(ctx, md.KeyID, "")
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestFileSystemKeyBoundToFileSystem(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)

	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-2")
	require.ErrorIs(t, err, ErrCorrupt)

	renumbered := bytes.Clone(wrapped)
	renumbered[4] = 2
	_, err = e.m.FileSystemKey(ctx, renumbered, "fs-1")
	require.ErrorIs(t, err, ErrCorrupt, "the data-key ID is authenticated")

	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0, 1}, wrapped[:len(wrapped)-1]} {
		_, err = e.m.FileSystemKey(ctx, bad, "fs-1")
		require.ErrorIs(t, err, ErrCorrupt)
	}
	for i := range wrapped {
		bad := bytes.Clone(wrapped)
		bad[i] ^= 0x10
		_, err = e.m.FileSystemKey(ctx, bad, "fs-1")
		require.Error(t, err, "byte %d", i)
	}
}

func TestDisabledKeyMakesFileSystemUnreadable(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)
	dk, err := e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)

	require.NoError(t, e.m.DisableKey(ctx, md.KeyID))
	views, updates, _ := e.store.counts()
	for range 3 {
		_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
		require.ErrorIs(t, err, ErrKeyDisabled)
		require.ErrorIs(t, err, ErrKeyUnavailable)
		require.NotErrorIs(t, err, ErrKeyDeleted)
	}
	views2, updates2, _ := e.store.counts()
	require.Equal(t, views, views2, "the state check is in memory")
	require.Equal(t, updates, updates2)

	require.NoError(t, e.m.EnableKey(ctx, md.KeyID))
	got, err := e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
	require.Same(t, dk, got)

	// The state survives a restart.
	require.NoError(t, e.m.DisableKey(ctx, md.KeyID))
	m := e.reopen(t)
	_, err = m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyDisabled)
	require.NoError(t, m.EnableKey(ctx, md.KeyID))
	_, err = m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
}

func TestFileSystemKeyCachedCallDoesNoIO(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	managed, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, managed.ARN, "fs-1")
	require.NoError(t, err)
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
	views, updates, _ := e.store.counts()
	for range 10 {
		_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
		require.NoError(t, err)
	}
	views2, updates2, _ := e.store.counts()
	require.Equal(t, views, views2)
	require.Equal(t, updates, updates2)
}

func TestFileSystemKeyConcurrentWithStateChanges(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				_, err := e.m.FileSystemKey(ctx, wrapped, "fs-1")
				if err != nil && !errors.Is(err, ErrKeyDisabled) {
					t.Errorf("unexpected error: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if err := e.m.DisableKey(ctx, md.KeyID); err != nil {
				t.Errorf("disable: %v", err)
			}
			if err := e.m.EnableKey(ctx, md.KeyID); err != nil {
				t.Errorf("enable: %v", err)
			}
		}
	})
	wg.Wait()
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err, "the last state change was enable")
}
