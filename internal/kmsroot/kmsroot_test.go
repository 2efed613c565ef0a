package kmsroot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"
)

// fakeAPI answers with fixed outputs or an error.
type fakeAPI struct {
	err       error
	plaintext []byte
	keyID     string
}

func (f *fakeAPI) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &kms.GenerateDataKeyOutput{KeyId: aws.String(f.keyID), Plaintext: bytes.Clone(f.plaintext), CiphertextBlob: []byte("sealed")}, nil
}

func (f *fakeAPI) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &kms.DecryptOutput{KeyId: in.KeyId, Plaintext: bytes.Clone(f.plaintext)}, nil
}

func TestGenerateAndDecrypt(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, KeyBytes)
	src := NewWithAPI(&fakeAPI{plaintext: key, keyID: "arn:aws:kms:us-east-1:123456789012:key/k"}, "alias/root")
	got, b, err := src.Generate(ctx, "/data")
	require.NoError(t, err)
	require.Equal(t, key, got)
	require.Equal(t, "arn:aws:kms:us-east-1:123456789012:key/k", b.KeyID)
	require.Equal(t, map[string]string{ContextPurpose: "root-key", ContextDataDir: "/data"}, b.EncryptionContext)

	path := filepath.Join(t.TempDir(), "blob.json")
	require.NoError(t, WriteBlob(path, b, false))
	require.ErrorIs(t, WriteBlob(path, b, false), fs.ErrExist, "a new store's blob is never replaced")
	require.NoError(t, WriteBlob(path, b, true))
	read, err := ReadBlob(path)
	require.NoError(t, err)
	require.Equal(t, b, read)
	got, err = src.Decrypt(ctx, read)
	require.NoError(t, err)
	require.Equal(t, key, got)

	_, err = ReadBlob(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	short := NewWithAPI(&fakeAPI{plaintext: key[:16], keyID: "k"}, "k")
	_, _, err = short.Generate(ctx, "/data")
	require.ErrorContains(t, err, "16-byte key")
	_, err = short.Decrypt(ctx, read)
	require.ErrorContains(t, err, "16-byte key")
}

func TestErrorsSayWhatToDo(t *testing.T) {
	msg := "m"
	for _, tc := range []struct {
		name string
		err  error
		hint string
	}{
		{"disabled", &types.DisabledException{Message: &msg}, "the KMS key is disabled; enable it"},
		{"pending deletion", &types.KMSInvalidStateException{Message: &msg}, "cancel its deletion"},
		{"not found", &types.NotFoundException{Message: &msg}, "does not exist"},
		{"invalid ciphertext", &types.InvalidCiphertextException{Message: &msg}, "was not sealed by this KMS key"},
		{"unreachable", errors.New("dial tcp: connection refused"), "did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := NewWithAPI(&fakeAPI{err: tc.err}, "alias/root")
			_, err := src.Decrypt(context.Background(), &Blob{KeyID: "k", CiphertextBlob: []byte{1}})
			require.ErrorIs(t, err, tc.err)
			require.ErrorContains(t, err, tc.hint)
			_, _, err = src.Generate(context.Background(), "/d")
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestParseBlobRefuses(t *testing.T) {
	good := (&Blob{KeyID: "k", EncryptionContext: map[string]string{"a": "b"}, CiphertextBlob: []byte{1, 2}}).Encode()
	_, err := ParseBlob(good)
	require.NoError(t, err)
	for name, data := range map[string]string{
		"empty":         ``,
		"not json":      `shelf-root-key v1`,
		"wrong format":  `{"format":"v2","key_id":"k","ciphertext_blob":"AQI="}`,
		"unknown field": `{"format":"shelf-root-key-kms v1","key_id":"k","ciphertext_blob":"AQI=","plaintext":"AQI="}`,
		"no key":        `{"format":"shelf-root-key-kms v1","ciphertext_blob":"AQI="}`,
		"no blob":       `{"format":"shelf-root-key-kms v1","key_id":"k"}`,
		"trailing data": string(good) + `{}`,
		"empty context": `{"format":"shelf-root-key-kms v1","key_id":"k","ciphertext_blob":"AQI=","encryption_context":{"":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBlob([]byte(data))
			require.Error(t, err)
		})
	}
	_, err = ParseBlob(bytes.Repeat([]byte(" "), maxBlobFileBytes+1))
	require.ErrorContains(t, err, "larger than")
}

// FuzzParseBlob: any input either fails cleanly or round-trips through
// Encode.
func FuzzParseBlob(f *testing.F) {
	f.Add((&Blob{KeyID: "arn:aws:kms:us-east-1:123456789012:key/k", EncryptionContext: map[string]string{ContextPurpose: "root-key"},
		CiphertextBlob: []byte("ct")}).Encode())
	f.Add([]byte(`{"format":"shelf-root-key-kms v1","key_id":"k","ciphertext_blob":"AQI="}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBlob(data)
		if err != nil {
			return
		}
		again, err := ParseBlob(b.Encode())
		require.NoError(t, err)
		require.Equal(t, b.KeyID, again.KeyID)
		require.Equal(t, b.CiphertextBlob, again.CiphertextBlob)
		require.Equal(t, len(b.EncryptionContext), len(again.EncryptionContext))
	})
}
