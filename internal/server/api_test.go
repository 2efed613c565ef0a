package server

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
)

// runServer starts a server on cfg and stops it when the test ends.
func runServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func sdkCode(t *testing.T, err error) (string, int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "no HTTP response: %v", err)
	return ae.ErrorCode(), re.HTTPStatusCode()
}

// TestAPIEndToEnd starts a real server on a temporary data directory and
// drives it with the AWS SDK through its listener: the root credentials
// from <data-dir>/root-credentials, EFS calls, an IAM user denied until a
// policy allows it, the EC2 network API, and the audit trail of it all.
func TestAPIEndToEnd(t *testing.T) {
	// Only the credentials file may supply credentials.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EFS", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_EC2", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	ctx := context.Background()
	cfg := testConfig(t)
	s := newServer(t, cfg)
	runServer(t, s)
	url := s.APIURL()
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)

	credPath := s.RootCredentialsPath()
	st, err := os.Stat(credPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	content, err := os.ReadFile(credPath)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\[default\]\naws_access_key_id = AKIA[A-Z0-9]{16}\naws_secret_access_key = \S{40}\n\z`, string(content))
	require.Contains(t, string(content), "region = us-east-1")

	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithSharedCredentialsFiles([]string{credPath}),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithRegion("us-east-1"),
		awsconfig.WithRetryMaxAttempts(1),
	)
	require.NoError(t, err)
	rootCreds, err := sdkCfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	require.Equal(t, "SharedConfigCredentials: "+credPath, rootCreds.Source)
	rootEFS := efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(url) })
	rootIAM := iamsdk.NewFromConfig(sdkCfg, func(o *iamsdk.Options) { o.BaseEndpoint = aws.String(url) })
	rootEC2 := ec2.NewFromConfig(sdkCfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(url) })

	// EFS as the root: create, describe, delete.
	created, err := rootEFS.CreateFileSystem(ctx, &efs.CreateFileSystemInput{
		CreationToken: aws.String("e2e-1"), Encrypted: aws.Bool(true),
		Tags: []efstypes.Tag{{Key: aws.String("Name"), Value: aws.String("e2e")}},
	})
	require.NoError(t, err)
	fsID := aws.ToString(created.FileSystemId)
	require.Regexp(t, `^fs-[0-9a-f]{17}$`, fsID)
	require.Equal(t, "e2e", aws.ToString(created.Name))
	require.Equal(t, s.Account(), aws.ToString(created.OwnerId))
	require.Eventually(t, func() bool {
		out, err := rootEFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(fsID)})
		return err == nil && len(out.FileSystems) == 1 && out.FileSystems[0].LifeCycleState == efstypes.LifeCycleStateAvailable
	}, 30*time.Second, 20*time.Millisecond)
	all, err := rootEFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	require.Len(t, all.FileSystems, 1)

	// A wrong secret is refused in the EFS protocol.
	bad := efs.New(efs.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(rootCreds.AccessKeyID, "wrong-secret-wrong-secret-wrong-secret-00", "")})
	_, err = bad.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	code, status := sdkCode(t, err)
	require.Equal(t, "InvalidSignatureException", code)
	require.Equal(t, 403, status)

	// An IAM user without a policy is denied; a policy allows it.
	_, err = rootIAM.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	key, err := rootIAM.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	alice := efs.New(efs.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")})
	_, err = alice.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	code, status = sdkCode(t, err)
	require.Equal(t, "AccessDeniedException", code)
	require.Equal(t, 403, status)

	_, err = rootIAM.PutUserPolicy(ctx, &iamsdk.PutUserPolicyInput{
		UserName: aws.String("alice"), PolicyName: aws.String("efs-read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticfilesystem:Describe*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`),
	})
	require.NoError(t, err)
	seen, err := alice.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	require.Len(t, seen.FileSystems, 1)
	_, err = alice.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(fsID)})
	code, _ = sdkCode(t, err)
	require.Equal(t, "AccessDeniedException", code)

	// The EC2 network API shows the embedded default VPC.
	subnets, err := rootEC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 3)

	_, err = rootEFS.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(fsID)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := rootEFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(fsID)})
		var nf *efstypes.FileSystemNotFound
		return errors.As(err, &nf)
	}, 30*time.Second, 20*time.Millisecond)

	// Every call is on record, in order, with who made it.
	type rec struct{ source, name, user, errCode string }
	var recs []rec
	require.NoError(t, audit.NewLog(s.Meta()).Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
		require.NoError(t, e.Validate())
		require.Equal(t, s.Account(), e.RecipientAccountID)
		require.Equal(t, "127.0.0.1", e.SourceIPAddress)
		recs = append(recs, rec{e.EventSource, e.EventName, e.UserIdentity.Type + ":" + e.UserIdentity.UserName, e.ErrorCode})
		return nil
	}))
	want := []rec{
		{"elasticfilesystem.amazonaws.com", "CreateFileSystem", "Root:", ""},
		{"elasticfilesystem.amazonaws.com", "DescribeFileSystems", "Root:", "InvalidSignatureException"},
		{"iam.amazonaws.com", "CreateUser", "Root:", ""},
		{"iam.amazonaws.com", "CreateAccessKey", "Root:", ""},
		{"elasticfilesystem.amazonaws.com", "DescribeFileSystems", "IAMUser:alice", "AccessDeniedException"},
		{"iam.amazonaws.com", "PutUserPolicy", "Root:", ""},
		{"elasticfilesystem.amazonaws.com", "DescribeFileSystems", "IAMUser:alice", ""},
		{"elasticfilesystem.amazonaws.com", "DeleteFileSystem", "IAMUser:alice", "AccessDeniedException"},
		{"ec2.amazonaws.com", "DescribeSubnets", "Root:", ""},
		{"elasticfilesystem.amazonaws.com", "DeleteFileSystem", "Root:", ""},
		{"elasticfilesystem.amazonaws.com", "DescribeFileSystems", "Root:", "FileSystemNotFound"},
	}
	// Drop the DescribeFileSystems polls of the root, whose number varies.
	var got []rec
	for _, r := range recs {
		if r.name == "DescribeFileSystems" && r.user == "Root:" && r.errCode == "" {
			continue
		}
		got = append(got, r)
	}
	require.Equal(t, want, got)

	// The secret never reaches the audit trail.
	require.NoError(t, audit.NewLog(s.Meta()).Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
		require.NotContains(t, string(e.ResponseElements), aws.ToString(key.AccessKey.SecretAccessKey))
		require.NotContains(t, string(e.ResponseElements), rootCreds.SecretAccessKey)
		return nil
	}))
}

// TestRootCredentialsSurviveRestart: a restart keeps the root key and does
// not rewrite the file.
func TestRootCredentialsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	path := s.RootCredentialsPath()
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	st1, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = newServer(t, cfg)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, first, again)
	st2, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, st1.ModTime(), st2.ModTime(), "not rewritten")

	// A deleted file is written again, with the same key.
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(path))
	s = newServer(t, cfg)
	again, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, first, again)
}

// TestAPIAddressInUse: New fails at once when the API port is taken.
func TestAPIAddressInUse(t *testing.T) {
	s := newServer(t, testConfig(t))
	cfg := testConfig(t)
	cfg.API.Listen = strings.TrimPrefix(s.APIURL(), "http://")
	_, err := New(context.Background(), cfg, nil)
	require.ErrorContains(t, err, "listen")
}
