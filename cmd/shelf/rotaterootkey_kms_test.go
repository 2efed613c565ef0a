package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	kmssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
	"github.com/shelf-efs/shelf/internal/server/servertest"
)

// TestRotateRootKeyExternalKMS: with the root key held by another shelfd's
// KMS, rotate-root-key --offline replaces the blob file, and the store
// opens with the new one.
func TestRotateRootKeyExternalKMS(t *testing.T) {
	servertest.ClearAWSEnv(t)
	ctx := context.Background()
	holder := servertest.Start(t, servertest.Config(t, filepath.Join(t.TempDir(), "holder")))
	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedCredentialsFiles([]string{holder.RootCredentialsPath()}),
		awsconfig.WithSharedConfigFiles([]string{}), awsconfig.WithRegion("us-east-1"))
	require.NoError(t, err)
	kmsc := kmssdk.NewFromConfig(sdkCfg, func(o *kmssdk.Options) { o.BaseEndpoint = aws.String(holder.APIURL()) })
	key, err := kmsc.CreateKey(ctx, &kmssdk.CreateKeyInput{})
	require.NoError(t, err)
	_, err = kmsc.CreateAlias(ctx, &kmssdk.CreateAliasInput{AliasName: aws.String("alias/shelf-root"), TargetKeyId: key.KeyMetadata.KeyId})
	require.NoError(t, err)

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "shelfd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `data_dir: %s
health: {listen: ""}
api: {listen: "127.0.0.1:0"}
storage: {min_free_bytes: 0}
root_key:
  kms:
    key_id: alias/shelf-root
    endpoint: %s
    credentials_file: %s
`, dataDir, holder.APIURL(), holder.RootCredentialsPath()), 0o600))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	blobPath := cfg.RootKeyKMSBlobPath()
	before, err := os.ReadFile(blobPath)
	require.NoError(t, err)

	var out, errOut bytes.Buffer
	code := run(ctx, []string{"rotate-root-key", "--config", cfgPath, "--offline"}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	require.Equal(t, "root key rotated: "+blobPath+"\n", out.String())
	after, err := os.ReadFile(blobPath)
	require.NoError(t, err)
	require.NotEqual(t, before, after)
	srv, err = server.New(ctx, cfg, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Close())

	// With the holder's key disabled, the offline tool cannot open the
	// store either, and says why.
	_, err = kmsc.DisableKey(ctx, &kmssdk.DisableKeyInput{KeyId: key.KeyMetadata.KeyId})
	require.NoError(t, err)
	out.Reset()
	errOut.Reset()
	code = run(ctx, []string{"rotate-root-key", "--config", cfgPath, "--offline"}, &out, &errOut)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut.String(), "the KMS key is disabled")
	unchanged, err := os.ReadFile(blobPath)
	require.NoError(t, err)
	require.Equal(t, after, unchanged)
}
