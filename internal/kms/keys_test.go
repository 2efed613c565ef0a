package kms

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/meta"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateKeyMetadata(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{Description: "payroll"})
	require.NoError(t, err)
	require.Regexp(t, uuidV4, md.KeyID)
	require.Equal(t, KeyMetadata{
		AWSAccountID:          "123456789012",
		KeyID:                 md.KeyID,
		ARN:                   "arn:aws:kms:us-east-1:123456789012:key/" + md.KeyID,
		CreationDate:          testStart,
		Enabled:               true,
		Description:           "payroll",
		KeyUsage:              "ENCRYPT_DECRYPT",
		KeyState:              KeyStateEnabled,
		Origin:                "AWS_KMS",
		KeyManager:            KeyManagerCustomer,
		KeySpec:               "SYMMETRIC_DEFAULT",
		CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms:  []string{"SYMMETRIC_DEFAULT"},
	}, md)
	st, err := e.m.GetKeyRotationStatus(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, RotationStatus{KeyID: md.KeyID}, st)
}

func TestCreateKeyValidates(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	many := map[string]string{}
	for i := range 51 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name string
		in   CreateKeyInput
	}{
		{"long description", CreateKeyInput{Description: strings.Repeat("d", 8193)}},
		{"too many tags", CreateKeyInput{Tags: many}},
		{"empty tag key", CreateKeyInput{Tags: map[string]string{"": "v"}}},
		{"long tag key", CreateKeyInput{Tags: map[string]string{strings.Repeat("k", 129): "v"}}},
		{"reserved tag key", CreateKeyInput{Tags: map[string]string{"aws:x": "v"}}},
		{"long tag value", CreateKeyInput{Tags: map[string]string{"k": strings.Repeat("v", 257)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.m.CreateKey(ctx, tt.in)
			require.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
	keys, err := e.m.ListKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestDescribeKeyReferences(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	require.NoError(t, e.m.CreateAlias(ctx, "alias/app/data_1", md.KeyID))

	for _, ref := range []string{
		md.KeyID,
		strings.ToUpper(md.KeyID),
		md.ARN,
		"alias/app/data_1",
		"arn:aws:kms:us-east-1:123456789012:alias/app/data_1",
	} {
		t.Run(ref, func(t *testing.T) {
			got, err := e.m.DescribeKey(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, md, got)
		})
	}
	notFound := []string{
		"not-a-key",
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:210987654321:key/" + md.KeyID, // other account
		"arn:aws:kms:eu-west-1:123456789012:key/" + md.KeyID, // other region
		"arn:aws:s3:us-east-1:123456789012:key/" + md.KeyID,
		"arn:aws:kms:us-east-1:123456789012:key/nope",
		"arn:aws:kms:us-east-1:123456789012:thing/x",
		"alias/missing",
	}
	for _, ref := range notFound {
		t.Run(ref, func(t *testing.T) {
			_, err := e.m.DescribeKey(ctx, ref)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
	for _, ref := range []string{"", "alias/", "alias/sp ace", strings.Repeat("x", 2049)} {
		_, err := e.m.DescribeKey(ctx, ref)
		require.ErrorIs(t, err, ErrInvalidArgument, "ref %q", ref)
	}
}

func TestManagedKeyCreatedOnce(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			md, err := e.m.ManagedKey(ctx)
			if err == nil {
				ids[i] = md.KeyID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	md, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	require.Equal(t, ids[0], md.KeyID)
	require.Equal(t, KeyManagerAWS, md.KeyManager)
	require.Equal(t, KeyStateEnabled, md.KeyState)

	keys, err := e.m.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	aliases, err := e.m.ListAliases(ctx)
	require.NoError(t, err)
	require.Equal(t, []Alias{{
		AliasName:       ManagedKeyAlias,
		AliasARN:        "arn:aws:kms:us-east-1:123456789012:alias/aws/elasticfilesystem",
		TargetKeyID:     md.KeyID,
		CreationDate:    testStart,
		LastUpdatedDate: testStart,
	}}, aliases)

	st, err := e.m.GetKeyRotationStatus(ctx, ManagedKeyAlias)
	require.NoError(t, err)
	require.True(t, st.KeyRotationEnabled)
	require.Equal(t, 365, st.RotationPeriodInDays)
	require.Equal(t, testStart.Add(365*24*time.Hour), st.NextRotationDate)

	// Users cannot manage it.
	ops := map[string]func() error{
		"disable":          func() error { return e.m.DisableKey(ctx, md.KeyID) },
		"enable":           func() error { return e.m.EnableKey(ctx, md.KeyID) },
		"schedule":         func() error { _, err := e.m.ScheduleKeyDeletion(ctx, md.KeyID, 7); return err },
		"rotate":           func() error { return e.m.RotateKey(ctx, md.KeyID) },
		"disable rotation": func() error { return e.m.DisableKeyRotation(ctx, md.KeyID) },
		"enable rotation":  func() error { return e.m.EnableKeyRotation(ctx, md.KeyID) },
		"delete alias":     func() error { return e.m.DeleteAlias(ctx, ManagedKeyAlias) },
		"alias to it":      func() error { return e.m.CreateAlias(ctx, "alias/mine", md.KeyID) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, op(), ErrUnsupportedOperation)
		})
	}
	got, err := e.m.DescribeKey(ctx, ManagedKeyAlias)
	require.NoError(t, err)
	require.Equal(t, md, got)
}

func TestManagedAliasCreatesKeyOnFirstUse(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	// Like AWS, naming the predefined alias creates the managed key.
	wrapped, arn, err := e.m.NewFileSystemKey(ctx, ManagedKeyAlias, "fs-1")
	require.NoError(t, err)
	md, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	require.Equal(t, md.ARN, arn)
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	k1, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	k2, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)

	require.NoError(t, e.m.CreateAlias(ctx, "alias/b", k1.KeyID))
	require.NoError(t, e.m.CreateAlias(ctx, "alias/a", k2.ARN))
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/a", k1.KeyID), ErrAlreadyExists)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/aws/x", k1.KeyID), ErrInvalidArgument)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/x!", k1.KeyID), ErrInvalidArgument)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "nope", k1.KeyID), ErrInvalidArgument)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/c", "alias/a"), ErrInvalidArgument)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/c", "1234abcd-12ab-34cd-56ef-1234567890ab"), ErrNotFound)

	aliases, err := e.m.ListAliases(ctx)
	require.NoError(t, err)
	require.Len(t, aliases, 2)
	require.Equal(t, "alias/a", aliases[0].AliasName)
	require.Equal(t, k2.KeyID, aliases[0].TargetKeyID)
	require.Equal(t, "arn:aws:kms:us-east-1:123456789012:alias/a", aliases[0].AliasARN)
	require.Equal(t, "alias/b", aliases[1].AliasName)

	require.NoError(t, e.m.DeleteAlias(ctx, "alias/a"))
	require.ErrorIs(t, e.m.DeleteAlias(ctx, "alias/a"), ErrNotFound)
	_, err = e.m.DescribeKey(ctx, "alias/a")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = e.m.DescribeKey(ctx, k2.KeyID)
	require.NoError(t, err, "deleting an alias leaves the key")

	_, err = e.m.ScheduleKeyDeletion(ctx, k2.KeyID, 7)
	require.NoError(t, err)
	require.ErrorIs(t, e.m.CreateAlias(ctx, "alias/c", k2.KeyID), ErrInvalidState)
}

func TestKeyStateTransitions(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	id := md.KeyID
	state := func() KeyState {
		t.Helper()
		got, err := e.m.DescribeKey(ctx, id)
		require.NoError(t, err)
		return got.KeyState
	}

	require.NoError(t, e.m.EnableKey(ctx, id), "enabling an enabled key is a no-op")
	require.NoError(t, e.m.DisableKey(ctx, id))
	require.Equal(t, KeyStateDisabled, state())
	require.NoError(t, e.m.DisableKey(ctx, id))
	require.NoError(t, e.m.EnableKey(ctx, id))
	require.Equal(t, KeyStateEnabled, state())

	for _, days := range []int{-1, 6, 31} {
		_, err := e.m.ScheduleKeyDeletion(ctx, id, days)
		require.ErrorIs(t, err, ErrInvalidArgument, "%d days", days)
	}
	_, err = e.m.CancelKeyDeletion(ctx, id)
	require.ErrorIs(t, err, ErrInvalidState)

	got, err := e.m.ScheduleKeyDeletion(ctx, id, 0)
	require.NoError(t, err)
	require.Equal(t, KeyStatePendingDeletion, got.KeyState)
	require.False(t, got.Enabled)
	require.Equal(t, 30, got.PendingDeletionWindowInDays)
	require.Equal(t, testStart.Add(30*24*time.Hour), got.DeletionDate)

	_, err = e.m.ScheduleKeyDeletion(ctx, id, 7)
	require.ErrorIs(t, err, ErrInvalidState)
	require.ErrorIs(t, e.m.EnableKey(ctx, id), ErrInvalidState)
	require.ErrorIs(t, e.m.DisableKey(ctx, id), ErrInvalidState)
	require.ErrorIs(t, e.m.RotateKey(ctx, id), ErrInvalidState)
	require.ErrorIs(t, e.m.EnableKeyRotation(ctx, id), ErrInvalidState)

	keys, err := e.m.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1, "keys pending deletion are listed")
}

func TestScheduleDeletionThenDeleted(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	require.NoError(t, e.m.CreateAlias(ctx, "alias/doomed", md.KeyID))
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)
	encCtx := map[string]string{"k": "v"}
	_, blob, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(t, err)
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)

	sched, err := e.m.ScheduleKeyDeletion(ctx, md.ARN, 7)
	require.NoError(t, err)
	require.Equal(t, testStart.Add(7*24*time.Hour), sched.DeletionDate)

	// Just before the date: pending, unusable, not yet gone.
	e.clk.Set(sched.DeletionDate.Add(-time.Second))
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyPendingDeletion)
	require.ErrorIs(t, err, ErrKeyUnavailable)
	_, _, err = e.m.Decrypt(ctx, blob, encCtx)
	require.ErrorIs(t, err, ErrKeyPendingDeletion)
	_, _, _, err = e.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.ErrorIs(t, err, ErrKeyPendingDeletion)
	got, err := e.m.DescribeKey(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, KeyStatePendingDeletion, got.KeyState)

	// At the date the key is gone, checked lazily on access.
	e.clk.Set(sched.DeletionDate)
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyDeleted)
	require.ErrorIs(t, err, ErrKeyUnavailable)
	_, err = e.m.DescribeKey(ctx, md.KeyID)
	require.ErrorIs(t, err, ErrNotFound)
	_, _, err = e.m.Decrypt(ctx, blob, encCtx)
	require.ErrorIs(t, err, ErrKeyDeleted)
	_, _, _, err = e.m.GenerateDataKey(ctx, md.KeyID, nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = e.m.CancelKeyDeletion(ctx, md.KeyID)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, e.m.EnableKey(ctx, md.KeyID), ErrNotFound)
	_, err = e.m.DescribeKey(ctx, "alias/doomed")
	require.ErrorIs(t, err, ErrNotFound, "aliases of a deleted key are removed")
	keys, err := e.m.ListKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)

	// The material is destroyed: only a tombstone stays, and a new Manager
	// over the same store cannot recover the data either.
	requireTombstone(t, e.store, md.KeyID)
	m := e.reopen(t)
	_, err = m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyDeleted)
}

func requireTombstone(t *testing.T, s *memStore, id string) {
	t.Helper()
	v, ok := s.snapshot()[string(keyRecordKey(testConfig.Account, id))]
	require.True(t, ok)
	rec, err := decodeKeyRecord(id, v)
	require.NoError(t, err)
	require.Equal(t, keyStateDeleted, rec.State)
	require.Empty(t, rec.Materials)
	require.NotContains(t, string(v), "sealed")
}

func TestSweepCompletesDeletion(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	doomed, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	kept, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, doomed.KeyID, "fs-1")
	require.NoError(t, err)
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
	_, err = e.m.ScheduleKeyDeletion(ctx, doomed.KeyID, 10)
	require.NoError(t, err)

	require.NoError(t, e.m.Sweep(ctx))
	_, err = e.m.DescribeKey(ctx, doomed.KeyID)
	require.NoError(t, err, "not due yet")

	e.clk.Advance(10 * 24 * time.Hour)
	require.NoError(t, e.m.Sweep(ctx))
	requireTombstone(t, e.store, doomed.KeyID)
	_, err = e.m.DescribeKey(ctx, kept.KeyID)
	require.NoError(t, err)

	// The state cache saw the deletion: no I/O to refuse.
	views, updates, _ := e.store.counts()
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyDeleted)
	views2, updates2, _ := e.store.counts()
	require.Equal(t, views, views2)
	require.Equal(t, updates, updates2)
	require.NoError(t, e.m.Sweep(ctx), "idempotent")
}

func TestCancelKeyDeletion(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	wrapped, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)
	_, err = e.m.ScheduleKeyDeletion(ctx, md.KeyID, 7)
	require.NoError(t, err)
	e.clk.Advance(6 * 24 * time.Hour)

	got, err := e.m.CancelKeyDeletion(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, KeyStateDisabled, got.KeyState, "AWS leaves a cancelled key disabled")
	require.True(t, got.DeletionDate.IsZero())
	require.Zero(t, got.PendingDeletionWindowInDays)

	e.clk.Advance(30 * 24 * time.Hour)
	require.NoError(t, e.m.Sweep(ctx))
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.ErrorIs(t, err, ErrKeyDisabled)
	require.NoError(t, e.m.EnableKey(ctx, md.KeyID))
	_, err = e.m.FileSystemKey(ctx, wrapped, "fs-1")
	require.NoError(t, err)
}

// blobVersionOf returns the material version a ciphertext blob names.
func blobVersionOf(t *testing.T, blob []byte) uint32 {
	t.Helper()
	_, v, err := parseBlobHeader(blob)
	require.NoError(t, err)
	return v
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	encCtx := map[string]string{"purpose": "test"}
	pt1, blob1, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(t, err)
	require.Equal(t, uint32(1), blobVersionOf(t, blob1))
	wrapped1, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-1")
	require.NoError(t, err)

	require.NoError(t, e.m.RotateKey(ctx, md.ARN))
	pt2, blob2, _, err := e.m.GenerateDataKey(ctx, md.KeyID, encCtx)
	require.NoError(t, err)
	require.Equal(t, uint32(2), blobVersionOf(t, blob2), "new data keys use the new material")
	wrapped2, _, err := e.m.NewFileSystemKey(ctx, md.KeyID, "fs-2")
	require.NoError(t, err)
	require.Equal(t, uint32(2), blobVersionOf(t, wrapped2[wrappedHeaderBytes:]))

	for _, c := range []struct {
		blob, pt []byte
	}{{blob1, pt1}, {blob2, pt2}} {
		got, arn, err := e.m.Decrypt(ctx, c.blob, encCtx)
		require.NoError(t, err)
		require.Equal(t, c.pt, got)
		require.Equal(t, md.ARN, arn)
	}
	m := e.reopen(t)
	for _, w := range []struct {
		wrapped []byte
		fs      string
	}{{wrapped1, "fs-1"}, {wrapped2, "fs-2"}} {
		_, err := m.FileSystemKey(ctx, w.wrapped, w.fs)
		require.NoError(t, err, "old material stays for decryption")
	}

	// Material version 1 under the rotated key is distinct from version 2:
	// a blob re-labelled with the other version does not open.
	forged := append([]byte(nil), blob1...)
	forged[20] = 2
	_, _, err = e.m.Decrypt(ctx, forged, encCtx)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestRotateKeyLimitsAndStates(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	for range MaxOnDemandRotations {
		require.NoError(t, e.m.RotateKey(ctx, md.KeyID))
	}
	require.ErrorIs(t, e.m.RotateKey(ctx, md.KeyID), ErrLimitExceeded)

	require.NoError(t, e.m.DisableKey(ctx, md.KeyID))
	require.ErrorIs(t, e.m.RotateKey(ctx, md.KeyID), ErrKeyDisabled)
	require.ErrorIs(t, e.m.EnableKeyRotation(ctx, md.KeyID), ErrKeyDisabled)
}

func TestAutomaticRotation(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	md, err := e.m.CreateKey(ctx, CreateKeyInput{})
	require.NoError(t, err)
	managed, err := e.m.ManagedKey(ctx)
	require.NoError(t, err)
	require.NoError(t, e.m.EnableKeyRotation(ctx, md.KeyID))
	require.NoError(t, e.m.EnableKeyRotation(ctx, md.KeyID), "idempotent")
	st, err := e.m.GetKeyRotationStatus(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, RotationStatus{
		KeyID: md.KeyID, KeyRotationEnabled: true, RotationPeriodInDays: 365,
		NextRotationDate: testStart.Add(365 * 24 * time.Hour),
	}, st)

	version := func(ref string) uint32 {
		_, blob, _, err := e.m.GenerateDataKey(ctx, ref, nil)
		require.NoError(t, err)
		return blobVersionOf(t, blob)
	}
	e.clk.Advance(364 * 24 * time.Hour)
	require.NoError(t, e.m.Sweep(ctx))
	require.Equal(t, uint32(1), version(md.KeyID))
	require.Equal(t, uint32(1), version(managed.KeyID))

	e.clk.Advance(24 * time.Hour)
	require.NoError(t, e.m.Sweep(ctx))
	require.Equal(t, uint32(2), version(md.KeyID))
	require.Equal(t, uint32(2), version(managed.KeyID), "the managed key always rotates")
	require.NoError(t, e.m.Sweep(ctx))
	require.Equal(t, uint32(2), version(md.KeyID), "next rotation is a period later")

	require.NoError(t, e.m.DisableKeyRotation(ctx, md.KeyID))
	st, err = e.m.GetKeyRotationStatus(ctx, md.KeyID)
	require.NoError(t, err)
	require.Equal(t, RotationStatus{KeyID: md.KeyID}, st)
	e.clk.Advance(2 * 365 * 24 * time.Hour)
	require.NoError(t, e.m.Sweep(ctx))
	require.Equal(t, uint32(2), version(md.KeyID))
	require.Equal(t, uint32(3), version(managed.KeyID))
}

func TestControlPlaneErrorsAreWrapped(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	err := e.m.DisableKey(ctx, "1234abcd-12ab-34cd-56ef-1234567890ab")
	require.ErrorIs(t, err, ErrNotFound)
	require.True(t, strings.HasPrefix(err.Error(), "kms: "), err.Error())
	require.False(t, errors.Is(err, ErrKeyUnavailable))
	// A failing store is reported, not swallowed.
	boom := errors.New("boom")
	s := &failingStore{memStore: e.store, err: boom}
	m, err := Open(ctx, e.store, e.root, testConfig, e.clk)
	require.NoError(t, err)
	m.store = s
	_, err = m.CreateKey(ctx, CreateKeyInput{})
	require.ErrorIs(t, err, boom)
}

type failingStore struct {
	*memStore
	err error
}

func (s *failingStore) Update(ctx context.Context, fn func(meta.Txn) error) error { return s.err }
