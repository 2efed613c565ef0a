package awscli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/server/servertest"
)

// TestAWSCLIKMS runs kms.sh with /usr/bin/aws against an in-process shelfd,
// then checks that every KMS call is on record without secrets.
func TestAWSCLIKMS(t *testing.T) {
	need(t, awsCLI, "the AWS CLI v2")
	need(t, "/usr/bin/jq", "jq")
	ctx := context.Background()
	work := t.TempDir()
	srv := servertest.Start(t, servertest.Config(t, filepath.Join(work, "data")))

	runScript(t, "kms.sh", srv.APIURL(), cliEnv(t, work, srv.RootCredentialsPath()), nil)

	var kmsEvents int
	require.NoError(t, audit.NewLog(srv.Meta()).Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
		if e.EventSource != "kms.amazonaws.com" {
			return nil
		}
		kmsEvents++
		require.NoError(t, e.Validate())
		require.NotContains(t, string(e.RequestParameters), "Plaintext")
		require.NotContains(t, string(e.RequestParameters), "ciphertextBlob")
		require.NotContains(t, string(e.RequestParameters), "YXR0YWNr") // base64 of the plaintext's start
		return nil
	}))
	require.GreaterOrEqual(t, kmsEvents, 25)
}
