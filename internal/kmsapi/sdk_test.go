package kmsapi_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	kmssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/server/servertest"
)

func startServer(t *testing.T) *servertest.Server {
	t.Helper()
	servertest.ClearAWSEnv(t)
	return servertest.StartDefault(t)
}

type clients struct {
	kms *kmssdk.Client
	efs *efs.Client
	iam *iamsdk.Client
}

func clientsFor(s *servertest.Server, keyID, secret string) clients {
	creds := credentials.NewStaticCredentialsProvider(keyID, secret, "")
	url := aws.String(s.APIURL())
	return clients{
		kms: kmssdk.New(kmssdk.Options{Region: "us-east-1", BaseEndpoint: url, RetryMaxAttempts: 1, Credentials: creds}),
		efs: efs.New(efs.Options{Region: "us-east-1", BaseEndpoint: url, RetryMaxAttempts: 1, Credentials: creds}),
		iam: iamsdk.New(iamsdk.Options{Region: "us-east-1", BaseEndpoint: url, RetryMaxAttempts: 1, Credentials: creds}),
	}
}

func rootClients(t *testing.T, s *servertest.Server) clients {
	t.Helper()
	id, secret, _, err := s.Users().EnsureRootAccessKey(context.Background())
	require.NoError(t, err)
	return clientsFor(s, id, secret)
}

func code(t *testing.T, err error) (string, int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re))
	return ae.ErrorCode(), re.HTTPStatusCode()
}

// TestKeyLifecycleWithFileSystem is the story of the issue: a customer key,
// an alias, an encrypted file system under it, data written, the key
// disabled (reads fail), enabled (reads work), rotated, and the root key
// rotated, with every file readable throughout.
func TestKeyLifecycleWithFileSystem(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	root := rootClients(t, s)

	created, err := root.kms.CreateKey(ctx, &kmssdk.CreateKeyInput{Description: aws.String("team data"),
		Tags: []kmstypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	require.NoError(t, err)
	md := created.KeyMetadata
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, aws.ToString(md.KeyId))
	require.Equal(t, "arn:aws:kms:us-east-1:"+s.Account()+":key/"+aws.ToString(md.KeyId), aws.ToString(md.Arn))
	require.Equal(t, kmstypes.KeyStateEnabled, md.KeyState)
	require.Equal(t, kmstypes.KeyManagerTypeCustomer, md.KeyManager)
	_, err = root.kms.CreateAlias(ctx, &kmssdk.CreateAliasInput{AliasName: aws.String("alias/team"), TargetKeyId: md.KeyId})
	require.NoError(t, err)
	_, err = root.kms.CreateAlias(ctx, &kmssdk.CreateAliasInput{AliasName: aws.String("alias/team"), TargetKeyId: md.KeyId})
	c, _ := code(t, err)
	require.Equal(t, "AlreadyExistsException", c)
	aliases, err := root.kms.ListAliases(ctx, &kmssdk.ListAliasesInput{})
	require.NoError(t, err)
	var names []string
	for _, a := range aliases.Aliases {
		names = append(names, aws.ToString(a.AliasName))
	}
	require.ElementsMatch(t, []string{"alias/team", "alias/aws/elasticfilesystem"}, names)
	byAlias, err := root.kms.DescribeKey(ctx, &kmssdk.DescribeKeyInput{KeyId: aws.String("alias/team")})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(md.KeyId), aws.ToString(byAlias.KeyMetadata.KeyId))
	tags, err := root.kms.ListResourceTags(ctx, &kmssdk.ListResourceTagsInput{KeyId: md.KeyId})
	require.NoError(t, err)
	require.Len(t, tags.Tags, 1)
	pol, err := root.kms.GetKeyPolicy(ctx, &kmssdk.GetKeyPolicyInput{KeyId: md.KeyId})
	require.NoError(t, err)
	require.Contains(t, aws.ToString(pol.Policy), `"arn:aws:iam::`+s.Account()+`:root"`)

	// Encrypt, decrypt, and every kind of bad ciphertext.
	encCtx := map[string]string{"purpose": "test"}
	enc, err := root.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: aws.String("alias/team"), Plaintext: []byte("top secret"), EncryptionContext: encCtx})
	require.NoError(t, err)
	dec, err := root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	require.NoError(t, err)
	require.Equal(t, "top secret", string(dec.Plaintext))
	require.Equal(t, aws.ToString(md.Arn), aws.ToString(dec.KeyId))
	for name, blob := range map[string][]byte{
		"altered":   append(append([]byte{}, enc.CiphertextBlob[:len(enc.CiphertextBlob)-1]...), enc.CiphertextBlob[len(enc.CiphertextBlob)-1]^1),
		"truncated": enc.CiphertextBlob[:20],
		"unknown key": func() []byte {
			b := bytes.Clone(enc.CiphertextBlob)
			b[5] ^= 0xff
			return b
		}(),
	} {
		_, err := root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx})
		c, status := code(t, err)
		require.Equal(t, "InvalidCiphertextException", c, name)
		require.Equal(t, 400, status, name)
	}
	_, err = root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	c, _ = code(t, err)
	require.Equal(t, "InvalidCiphertextException", c, "another encryption context")
	_, err = root.kms.DescribeKey(ctx, &kmssdk.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:us-east-1:" + s.Account() + ":key/00000000-0000-4000-8000-000000000000")})
	c, _ = code(t, err)
	require.Equal(t, "NotFoundException", c)
	_, err = root.kms.DescribeKey(ctx, &kmssdk.DescribeKeyInput{KeyId: aws.String("arn:aws:s3:::bucket")})
	c, _ = code(t, err)
	require.Equal(t, "InvalidArnException", c)
	gdk, err := root.kms.GenerateDataKeyWithoutPlaintext(ctx, &kmssdk.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, KeySpec: kmstypes.DataKeySpecAes256})
	require.NoError(t, err)
	re, err := root.kms.ReEncrypt(ctx, &kmssdk.ReEncryptInput{CiphertextBlob: gdk.CiphertextBlob, DestinationKeyId: aws.String("alias/team"), DestinationEncryptionContext: encCtx})
	require.NoError(t, err)
	d2, err := root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: encCtx})
	require.NoError(t, err)
	require.Len(t, d2.Plaintext, 32)

	// An encrypted file system under the key, with data.
	fsOut, err := root.efs.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("kms-1"), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/team")})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(md.Arn), aws.ToString(fsOut.KmsKeyId))
	fsys, err := s.FS().FileSystem(ctx, aws.ToString(fsOut.FileSystemId))
	require.NoError(t, err)
	content := bytes.Repeat([]byte("shelf "), 50000)
	a, _, err := fsys.Create(ctx, &fs.Root, fs.RootIno, "file", 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = fsys.Write(ctx, &fs.Root, a.Ino, 0, content)
	require.NoError(t, err)
	readable := func() error {
		got, _, err := fsys.Read(ctx, &fs.Root, a.Ino, 0, len(content))
		if err == nil && !bytes.Equal(got, content) {
			return errors.New("content differs")
		}
		if err == nil {
			_, err = fsys.Lookup(ctx, &fs.Root, fs.RootIno, "file")
		}
		return err
	}
	require.NoError(t, readable())

	// Disabled: data and metadata unreadable at once, the cache included.
	_, err = root.kms.DisableKey(ctx, &kmssdk.DisableKeyInput{KeyId: aws.String("alias/team")})
	require.NoError(t, err)
	err = readable()
	require.True(t, fs.IsCode(err, fs.KeyUnavailable), "%v", err)
	_, err = root.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	c, _ = code(t, err)
	require.Equal(t, "DisabledException", c)
	_, err = root.kms.EnableKey(ctx, &kmssdk.EnableKeyInput{KeyId: md.KeyId})
	require.NoError(t, err)
	require.NoError(t, readable())

	// Pending deletion: unreadable; cancel + enable: readable.
	sched, err := root.kms.ScheduleKeyDeletion(ctx, &kmssdk.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
	require.NoError(t, err)
	require.Equal(t, kmstypes.KeyStatePendingDeletion, sched.KeyState)
	require.True(t, fs.IsCode(readable(), fs.KeyUnavailable))
	_, err = root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	c, _ = code(t, err)
	require.Equal(t, "KMSInvalidStateException", c)
	_, err = root.kms.CancelKeyDeletion(ctx, &kmssdk.CancelKeyDeletionInput{KeyId: md.KeyId})
	require.NoError(t, err)
	_, err = root.kms.EnableKey(ctx, &kmssdk.EnableKeyInput{KeyId: md.KeyId})
	require.NoError(t, err)
	require.NoError(t, readable())

	// Rotation keeps old material for old data; new data uses the new.
	_, err = root.kms.RotateKeyOnDemand(ctx, &kmssdk.RotateKeyOnDemandInput{KeyId: md.KeyId})
	require.NoError(t, err)
	_, err = root.kms.EnableKeyRotation(ctx, &kmssdk.EnableKeyRotationInput{KeyId: md.KeyId})
	require.NoError(t, err)
	st, err := root.kms.GetKeyRotationStatus(ctx, &kmssdk.GetKeyRotationStatusInput{KeyId: md.KeyId})
	require.NoError(t, err)
	require.True(t, st.KeyRotationEnabled)
	dec, err = root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	require.NoError(t, err)
	require.Equal(t, "top secret", string(dec.Plaintext))
	require.NoError(t, readable())

	// Root-key rotation while serving.
	require.NoError(t, s.KMS().BeginRootKeyRotation(ctx, bytes.Repeat([]byte{42}, kms.RootKeyBytes)))
	require.NoError(t, s.KMS().FinishRootKeyRotation(ctx))
	require.NoError(t, readable())
	_, err = root.kms.Decrypt(ctx, &kmssdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	require.NoError(t, err)

	// Every KMS call is on record, without plaintext or ciphertext.
	var kmsEvents int
	require.NoError(t, audit.NewLog(s.Meta()).Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
		if e.EventSource != "kms.amazonaws.com" {
			return nil
		}
		kmsEvents++
		require.NoError(t, e.Validate())
		for _, raw := range []string{string(e.RequestParameters), string(e.ResponseElements)} {
			require.NotContains(t, raw, "top secret")
			require.NotContains(t, raw, "dG9wIHNlY3JldA==") // base64 of the plaintext
			require.NotContains(t, raw, "iphertext")
			require.NotContains(t, raw, "laintext")
		}
		return nil
	}))
	require.GreaterOrEqual(t, kmsEvents, 25)
}

// TestKeyPolicyGatesFileSystemCreation: an IAM user allowed to create file
// systems cannot encrypt one with a key whose policy gives it neither
// kms:CreateGrant nor kms:Decrypt; a key policy that does lets it.
func TestKeyPolicyGatesFileSystemCreation(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	root := rootClients(t, s)
	_, err := root.iam.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("bob")})
	require.NoError(t, err)
	_, err = root.iam.PutUserPolicy(ctx, &iamsdk.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("efs"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["elasticfilesystem:*"],"Resource":"*"}]}`)})
	require.NoError(t, err)
	ak, err := root.iam.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("bob")})
	require.NoError(t, err)
	bob := clientsFor(s, aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey))
	bobARN := "arn:aws:iam::" + s.Account() + ":user/bob"

	// The default key policy delegates to IAM, and bob's identity policy
	// has no kms permissions.
	k, err := root.kms.CreateKey(ctx, &kmssdk.CreateKeyInput{})
	require.NoError(t, err)
	_, err = bob.efs.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("b1"), Encrypted: aws.Bool(true), KmsKeyId: k.KeyMetadata.KeyId})
	c, status := code(t, err)
	require.Equal(t, "BadRequest", c)
	require.Equal(t, 400, status)
	require.Contains(t, err.Error(), "kms:")
	_, err = bob.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	c, _ = code(t, err)
	require.Equal(t, "AccessDeniedException", c)
	// The managed key works for him through EFS.
	_, err = bob.efs.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("b0"), Encrypted: aws.Bool(true)})
	require.NoError(t, err)

	// A key policy that names bob for what EFS needs.
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + s.Account() + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"bob","Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":["kms:DescribeKey","kms:CreateGrant","kms:Decrypt","kms:GenerateDataKeyWithoutPlaintext"],"Resource":"*"}]}`
	_, err = root.kms.PutKeyPolicy(ctx, &kmssdk.PutKeyPolicyInput{KeyId: k.KeyMetadata.KeyId, Policy: aws.String(policy)})
	require.NoError(t, err)
	_, err = bob.efs.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("b2"), Encrypted: aws.Bool(true), KmsKeyId: k.KeyMetadata.Arn})
	require.NoError(t, err)
	// Still no Encrypt for bob.
	_, err = bob.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	c, _ = code(t, err)
	require.Equal(t, "AccessDeniedException", c)

	// A grant gives bob Encrypt, within its constraints.
	g, err := root.kms.CreateGrant(ctx, &kmssdk.CreateGrantInput{KeyId: k.KeyMetadata.KeyId, GranteePrincipal: aws.String(bobARN),
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"team": "b"}}})
	require.NoError(t, err)
	_, err = bob.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"team": "b"}})
	require.NoError(t, err)
	_, err = bob.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"team": "c"}})
	c, _ = code(t, err)
	require.Equal(t, "AccessDeniedException", c)
	grants, err := root.kms.ListGrants(ctx, &kmssdk.ListGrantsInput{KeyId: k.KeyMetadata.KeyId})
	require.NoError(t, err)
	require.Len(t, grants.Grants, 1)
	_, err = root.kms.RevokeGrant(ctx, &kmssdk.RevokeGrantInput{KeyId: k.KeyMetadata.KeyId, GrantId: g.GrantId})
	require.NoError(t, err)
	_, err = bob.kms.Encrypt(ctx, &kmssdk.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"team": "b"}})
	c, _ = code(t, err)
	require.Equal(t, "AccessDeniedException", c)

	// A policy that would lock the caller out is refused.
	_, err = root.kms.PutKeyPolicy(ctx, &kmssdk.PutKeyPolicyInput{KeyId: k.KeyMetadata.KeyId,
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":"kms:Decrypt","Resource":"*"}]}`)})
	c, _ = code(t, err)
	require.Equal(t, "MalformedPolicyDocumentException", c)
	require.False(t, strings.Contains(err.Error(), "panic"))
}
