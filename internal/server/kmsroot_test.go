package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	shelffs "github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/kmsroot"
)

// TestRootKeyFromExternalKMS: a second shelfd is the external KMS that
// holds the first one's root key. The first keeps only a ciphertext blob;
// it starts, stores a file, restarts and reads it back; a disabled key
// makes the start fail, clearly, without changing anything; rotation makes
// a new data key and a new blob.
func TestRootKeyFromExternalKMS(t *testing.T) {
	ctx := context.Background()
	holder := newServer(t, testConfig(t))
	running(t, holder)
	_, kmsc := sdkClients(t, holder)
	key, err := kmsc.CreateKey(ctx, &kmssdk.CreateKeyInput{Description: aws.String("root key of another shelfd")})
	require.NoError(t, err)
	keyARN := aws.ToString(key.KeyMetadata.Arn)

	cfg := testConfig(t)
	cfg.RootKey.KMS = config.RootKeyKMS{KeyID: keyARN, Endpoint: holder.APIURL(), Region: "us-east-1",
		CredentialsFile: holder.RootCredentialsPath()}
	const fsID = "fs-0123456789abcdef0"
	want := []byte("readable only while the external key is enabled")

	s, err := New(ctx, cfg, nil)
	require.NoError(t, err)
	mk, err := s.KMS().ManagedKey(ctx)
	require.NoError(t, err)
	f, err := s.FS().CreateFileSystem(ctx, fsID, shelffs.CreateOptions{Encrypted: true, KMSKeyID: mk.ARN})
	require.NoError(t, err)
	a, _, err := f.Create(ctx, &shelffs.Root, shelffs.RootIno, "f", 0o644, shelffs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &shelffs.Root, a.Ino, 0, want)
	require.NoError(t, err)
	dataDir := s.DataDir()
	require.NoError(t, s.Close())

	blobPath := filepath.Join(dataDir, config.RootKeyKMSBlobFileName)
	blob, err := kmsroot.ReadBlob(blobPath)
	require.NoError(t, err)
	require.Equal(t, keyARN, blob.KeyID)
	require.Equal(t, map[string]string{kmsroot.ContextPurpose: "root-key", kmsroot.ContextDataDir: dataDir}, blob.EncryptionContext)
	_, err = os.Stat(filepath.Join(dataDir, config.RootKeyFileName))
	require.ErrorIs(t, err, fs.ErrNotExist, "no root key file is made")
	// The plaintext (as the holder decrypts it) is nowhere in the data
	// directory.
	plain, err := kmsc.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: blob.CiphertextBlob, EncryptionContext: blob.EncryptionContext})
	require.NoError(t, err)
	require.Len(t, plain.Plaintext, kmsroot.KeyBytes)
	requireNotInFiles(t, dataDir, plain.Plaintext)

	readBack := func() {
		t.Helper()
		s, err := New(ctx, cfg, nil)
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close()) }()
		f, err := s.FS().FileSystem(ctx, fsID)
		require.NoError(t, err)
		got, _, err := f.Read(ctx, &shelffs.Root, a.Ino, 0, 100)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	readBack()

	// A disabled key: the start fails and says why; nothing changes.
	_, err = kmsc.DisableKey(ctx, &kmssdk.DisableKeyInput{KeyId: aws.String(keyARN)})
	require.NoError(t, err)
	before := treeState(t, dataDir)
	_, err = New(ctx, cfg, nil)
	require.Error(t, err)
	var disabled *kmstypes.DisabledException
	require.True(t, errors.As(err, &disabled), "%v", err)
	require.Contains(t, err.Error(), "the KMS key is disabled; enable it")
	require.Equal(t, before, treeState(t, dataDir))
	_, err = kmsc.EnableKey(ctx, &kmssdk.EnableKeyInput{KeyId: aws.String(keyARN)})
	require.NoError(t, err)
	readBack()

	// Rotation, online: a new data key and blob; the old blob opens
	// nothing any more.
	s, err = New(ctx, cfg, nil)
	require.NoError(t, err)
	oldBlob, err := os.ReadFile(blobPath)
	require.NoError(t, err)
	require.NoError(t, s.RotateRootKey(ctx))
	f, err = s.FS().FileSystem(ctx, fsID)
	require.NoError(t, err)
	got, _, err := f.Read(ctx, &shelffs.Root, a.Ino, 0, 100)
	require.NoError(t, err, "the running server keeps serving")
	require.Equal(t, want, got)
	require.NoError(t, s.Close())
	newBlob, err := os.ReadFile(blobPath)
	require.NoError(t, err)
	require.NotEqual(t, oldBlob, newBlob)
	readBack()
	require.NoError(t, os.WriteFile(blobPath, oldBlob, 0o600))
	_, err = New(ctx, cfg, nil)
	require.ErrorIs(t, err, kms.ErrWrongRootKey)
	require.NoError(t, os.WriteFile(blobPath, newBlob, 0o600))

	// A blob whose encryption context was altered does not decrypt.
	altered, err := kmsroot.ReadBlob(blobPath)
	require.NoError(t, err)
	altered.EncryptionContext[kmsroot.ContextDataDir] = "/elsewhere"
	require.NoError(t, os.WriteFile(blobPath, altered.Encode(), 0o600))
	_, err = New(ctx, cfg, nil)
	var invalid *kmstypes.InvalidCiphertextException
	require.True(t, errors.As(err, &invalid), "%v", err)
	require.NoError(t, os.WriteFile(blobPath, newBlob, 0o600))

	// A lost blob file is never replaced by a new key.
	require.NoError(t, os.Remove(blobPath))
	_, err = New(ctx, cfg, nil)
	require.ErrorIs(t, err, ErrNoRootKey)
	_, err = os.Stat(blobPath)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// requireNotInFiles fails if any regular file under dir contains secret.
func requireNotInFiles(t *testing.T, dir string, secret []byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		require.False(t, bytes.Contains(b, secret), "%s holds the root key", path)
		return nil
	})
	require.NoError(t, err)
}
