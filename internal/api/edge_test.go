package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/api"
	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/edge"
)

type oneKey struct{ secret string }

func (k oneKey) Lookup(_ context.Context, id string) (edge.Principal, string, error) {
	if id != "AKIAROOTROOTROOT0001" {
		return edge.Principal{}, "", fmt.Errorf("lookup %s: %w", id, edge.ErrUnknownAccessKey)
	}
	return edge.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account, AccessKeyID: id, IsRoot: true}, k.secret, nil
}

type memAudit struct {
	mu     sync.Mutex
	events []*audit.Event
}

func (m *memAudit) Append(_ context.Context, e *audit.Event) error {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	return nil
}

// TestThroughEdge runs the API behind the real edge: the SDK signs, the
// edge verifies the signature and records the audit event.
func TestThroughEdge(t *testing.T) {
	h := newHarness(t)
	rec := &memAudit{}
	srv, err := edge.New(edge.Deps{Credentials: oneKey{"s3cret"}, Audit: rec, Account: account, Region: region, DataDir: t.TempDir()},
		config.API{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Register(api.New(h.ctl, h.authz, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = srv.Close()
	})
	client := func(secret string) *efs.Client {
		return efs.New(efs.Options{Region: region, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKIAROOTROOTROOT0001", SecretAccessKey: secret}, nil
			})})
	}
	c := client("s3cret")
	f, err := c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("edge")})
	require.NoError(t, err)
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("edge")})
	exists := requireAPIError[*types.FileSystemAlreadyExists](t, err)
	require.Equal(t, *f.FileSystemId, *exists.FileSystemId)
	// An ARN in the path is signed double-encoded.
	_, err = c.ListTagsForResource(ctx, &efs.ListTagsForResourceInput{ResourceId: f.FileSystemArn})
	require.NoError(t, err)
	_, err = client("wrong").DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	requireCode(t, err, "InvalidSignatureException")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.GreaterOrEqual(t, len(rec.events), 4)
	require.Equal(t, "CreateFileSystem", rec.events[0].EventName)
	require.Equal(t, "FileSystemAlreadyExists", rec.events[1].ErrorCode)
}
