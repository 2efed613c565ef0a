package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/meta"
)

var testConfig = Config{Account: "123456789012", Region: "us-east-1"}

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testEnv struct {
	m     *Manager
	store *memStore
	clk   *clock.Fake
	root  []byte
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{store: newMemStore(), clk: clock.NewFake(testStart), root: bytes.Repeat([]byte{7}, RootKeyBytes)}
	e.m = e.reopen(t)
	return e
}

// reopen opens a new Manager over the same store, as after a restart.
func (e *testEnv) reopen(t testing.TB) *Manager {
	t.Helper()
	m, err := Open(context.Background(), e.store, e.root, testConfig, e.clk)
	require.NoError(t, err)
	return m
}

func TestOpenWritesRootCheckOnce(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	snap := e.store.snapshot()
	require.Len(t, snap, 2, "the root-key check and the wrapped store key")
	check := snap[string(meta.SystemKey("root-key-check"))]
	require.Len(t, check, 1+16+32)
	require.Len(t, snap[string(meta.SystemKey("kms-store-key"))], 1+12+32+16)

	_, updatesBefore, _ := e.store.counts()
	_, err := Open(ctx, e.store, e.root, testConfig, e.clk)
	require.NoError(t, err)
	_, updatesAfter, _ := e.store.counts()
	require.Equal(t, updatesBefore, updatesAfter, "reopening with the right key writes nothing")
	require.Equal(t, snap, e.store.snapshot())
}

func TestOpenWrongRootKeyTouchesNothing(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	_, err := e.m.CreateKey(ctx, CreateKeyInput{Description: "k"})
	require.NoError(t, err)
	_, err = e.m.ManagedKey(ctx)
	require.NoError(t, err)

	before := e.store.snapshot()
	_, updatesBefore, writesBefore := e.store.counts()
	wrong := bytes.Repeat([]byte{8}, RootKeyBytes)
	m, err := Open(ctx, e.store, wrong, testConfig, e.clk)
	require.ErrorIs(t, err, ErrWrongRootKey)
	require.Nil(t, m)
	_, updatesAfter, writesAfter := e.store.counts()
	require.Equal(t, updatesBefore, updatesAfter, "no Update transaction at all")
	require.Equal(t, writesBefore, writesAfter)
	require.Equal(t, before, e.store.snapshot())

	// The right key still works afterwards.
	m = e.reopen(t)
	keys, err := m.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
}

func TestOpenRefusesKMSRecordsWithoutCheck(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	_, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	require.NoError(t, e.store.Update(ctx, func(txn meta.Txn) error {
		return txn.Delete(meta.SystemKey("root-key-check"))
	}))
	before := e.store.snapshot()
	_, err = Open(ctx, e.store, e.root, testConfig, e.clk)
	require.ErrorIs(t, err, ErrWrongRootKey)
	require.Equal(t, before, e.store.snapshot())
}

func TestOpenRejectsMalformedCheck(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	require.NoError(t, e.store.Update(ctx, func(txn meta.Txn) error {
		return txn.Set(meta.SystemKey("root-key-check"), []byte{1, 2, 3})
	}))
	_, err := Open(ctx, e.store, e.root, testConfig, e.clk)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestOpenValidatesArguments(t *testing.T) {
	ctx := context.Background()
	root := make([]byte, RootKeyBytes)
	tests := []struct {
		name string
		cfg  Config
		root []byte
	}{
		{"short account", Config{Account: "12345", Region: "us-east-1"}, root},
		{"non-digit account", Config{Account: "12345678901x", Region: "us-east-1"}, root},
		{"empty region", Config{Account: "123456789012"}, root},
		{"bad region", Config{Account: "123456789012", Region: "US East"}, root},
		{"double hyphen region", Config{Account: "123456789012", Region: "us--east-1"}, root},
		{"short root key", testConfig, root[:16]},
		{"nil root key", testConfig, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			_, err := Open(ctx, s, tt.root, tt.cfg, nil)
			require.ErrorIs(t, err, ErrInvalidArgument)
			require.Empty(t, s.snapshot())
		})
	}
	err := Config{}.Validate()
	require.ErrorContains(t, err, "account")
	require.ErrorContains(t, err, "region", "Validate reports every problem")
}

func TestReopenKeepsKeys(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	managed, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	k1, err := e.m.CreateKey(ctx, CreateKeyInput{Description: "one", Tags: map[string]string{"team": "a"}})
	require.NoError(t, err)
	k2, err := e.m.CreateKey(ctx, CreateKeyInput{Description: "two"})
	require.NoError(t, err)
	require.NoError(t, e.m.CreateAlias(ctx, "alias/one", k1.KeyID))
	require.NoError(t, e.m.DisableKey(ctx, k2.KeyID))
	require.NoError(t, e.m.RotateKey(ctx, k1.KeyID))
	wrapped, _, err := e.m.NewFileSystemKey(ctx, "alias/one", "fs-0123456789abcdef0")
	require.NoError(t, err)
	dk, err := e.m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
	require.NoError(t, err)
	sealed, err := dk.Seal(nil, []byte("aad"), []byte("hello"))
	require.NoError(t, err)
	keysBefore, err := e.m.ListKeys(ctx)
	require.NoError(t, err)
	aliasesBefore, err := e.m.ListAliases(ctx)
	require.NoError(t, err)

	m := e.reopen(t)
	for _, want := range []KeyMetadata{managed, k1} {
		got, err := m.DescribeKey(ctx, want.KeyID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := m.DescribeKey(ctx, k2.ARN)
	require.NoError(t, err)
	require.Equal(t, KeyStateDisabled, got.KeyState)
	keys, err := m.ListKeys(ctx)
	require.NoError(t, err)
	require.Equal(t, keysBefore, keys)
	aliases, err := m.ListAliases(ctx)
	require.NoError(t, err)
	require.Equal(t, aliasesBefore, aliases)
	tags, err := m.ListResourceTags(ctx, "alias/one")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"team": "a"}, tags)
	again, err := m.ManagedKey(ctx)
	require.NoError(t, err)
	require.Equal(t, managed.KeyID, again.KeyID)

	dk2, err := m.FileSystemKey(ctx, wrapped, "fs-0123456789abcdef0")
	require.NoError(t, err)
	pt, err := dk2.Open(nil, []byte("aad"), sealed)
	require.NoError(t, err)
	require.Equal(t, "hello", string(pt))
}

func TestStoreHoldsNoPlainKeyMaterial(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	k, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	rec, err := e.m.load(ctx, k.KeyID)
	require.NoError(t, err)
	material, err := e.m.openMaterial(rec.ID, 1, rec.Materials[0].Sealed)
	require.NoError(t, err)
	for k, v := range e.store.snapshot() {
		require.NotContains(t, string(v), string(material), "record %q", k)
		require.NotContains(t, string(v), string(e.root), "record %q", k)
	}
	// Sealed material is bound to its key and version.
	_, err = e.m.openMaterial(rec.ID, 2, rec.Materials[0].Sealed)
	require.ErrorIs(t, err, ErrCorrupt)
	other, err := newKeyID(rand.Reader)
	require.NoError(t, err)
	_, err = e.m.openMaterial(other, 1, rec.Materials[0].Sealed)
	require.ErrorIs(t, err, ErrCorrupt)
}
