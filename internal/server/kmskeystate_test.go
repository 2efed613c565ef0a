package server

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	kmssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// sdkClients returns the EFS and KMS clients of the account root of s,
// signed with the credentials of <data-dir>/root-credentials only.
func sdkClients(t *testing.T, s *Server) (*efs.Client, *kmssdk.Client) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EFS", "AWS_ENDPOINT_URL_KMS", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	sdkCfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithSharedCredentialsFiles([]string{s.RootCredentialsPath()}),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithRegion("us-east-1"),
		awsconfig.WithRetryMaxAttempts(1),
	)
	require.NoError(t, err)
	url := aws.String(s.APIURL())
	return efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = url }),
		kmssdk.NewFromConfig(sdkCfg, func(o *kmssdk.Options) { o.BaseEndpoint = url })
}

// TestKMSKeyStateReachesAPIAndNFS: an encrypted file system under a
// customer key, read over NFS from its mount target. Disabling the key (or
// scheduling its deletion) makes DescribeFileSystems report "error" and
// READ fail with NFS4ERR_IO; enabling it brings both back.
func TestKMSKeyStateReachesAPIAndNFS(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.NFS.Port = freePort(t)
	cfg.NFS.PermissionCacheWindow = config.Duration(50 * time.Millisecond)
	s := newServer(t, cfg)
	running(t, s)
	efsc, kmsc := sdkClients(t, s)

	key, err := kmsc.CreateKey(ctx, &kmssdk.CreateKeyInput{Description: aws.String("file data")})
	require.NoError(t, err)
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	created, err := efsc.CreateFileSystem(ctx, &efs.CreateFileSystemInput{
		CreationToken: aws.String("kms-state"), Encrypted: aws.Bool(true), KmsKeyId: key.KeyMetadata.Arn})
	require.NoError(t, err)
	fsID := aws.ToString(created.FileSystemId)
	lifeCycleState := func() efstypes.LifeCycleState {
		out, err := efsc.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(fsID)})
		require.NoError(t, err)
		require.Len(t, out.FileSystems, 1)
		return out.FileSystems[0].LifeCycleState
	}
	require.Equal(t, efstypes.LifeCycleStateAvailable, lifeCycleState())

	want := []byte("sealed under a customer managed key")
	f, err := s.FS().FileSystem(ctx, fsID)
	require.NoError(t, err)
	a, _, err := f.Create(ctx, &fs.Root, fs.RootIno, "data", 0o644, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	_, err = f.Write(ctx, &fs.Root, a.Ino, 0, want)
	require.NoError(t, err)

	var subnet string
	for _, sn := range s.Control().Subnets() {
		if sn.VPCID != "" && subnet == "" {
			subnet = sn.ID
		}
	}
	mt, err := s.Control().CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: fsID, SubnetID: subnet})
	require.NoError(t, err)
	addr := net.JoinHostPort(mt.IPAddress.String(), strconv.Itoa(cfg.NFS.Port))
	var conn net.Conn
	require.Eventually(t, func() bool {
		conn, err = net.Dial("tcp", addr)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the mount target's listener comes up")
	tr := nfstest.NewTCP(conn, rpc.Credentials{Flavor: rpc.AuthSys, UID: 0, GID: 0, MachineName: "test"})
	t.Cleanup(func() { tr.Close() })
	c := nfstest.New(tr, 1, "kms-state")
	require.NoError(t, c.Mount(ctx))
	res, err := c.Do(ctx, nfstest.PutRootFH(), nfstest.Lookup("data"), nfstest.GetFH())
	require.NoError(t, nfstest.Check(res, err))
	fh := nfstest.FH(res)

	// read returns the READ's status and, when it succeeded, its bytes;
	// the ops before it must succeed.
	read := func() (nfsv4.Nfsstat4, []byte) {
		res, err := c.Do(ctx, nfstest.PutFH(fh), nfstest.Read(nfsv4.Stateid4{}, 0, 1024))
		require.NoError(t, err)
		r, ok := nfstest.Find[*nfsv4.NfsResop4_OP_READ](res)
		require.True(t, ok, "the COMPOUND failed before READ: %s", nfsv4.Nfsstat4_name[res.Status])
		if ok4, isOK := r.Opread.(*nfsv4.Read4res_NFS4_OK); isOK {
			return nfsv4.NFS4_OK, ok4.Resok4.Data
		}
		return nfstest.Status(r), nil
	}
	st, got := read()
	require.Equal(t, nfsv4.NFS4_OK, st)
	require.Equal(t, want, got)

	// untilRead polls READ until it ends with the wanted status, within a
	// deadline far above the permission cache window.
	untilRead := func(wantStatus nfsv4.Nfsstat4) []byte {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, data := read()
			if st == wantStatus {
				return data
			}
			require.True(t, time.Now().Before(deadline), "READ still answers %s, want %s", nfsv4.Nfsstat4_name[st], nfsv4.Nfsstat4_name[wantStatus])
			time.Sleep(5 * time.Millisecond)
		}
	}

	_, err = kmsc.DisableKey(ctx, &kmssdk.DisableKeyInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	require.Equal(t, efstypes.LifeCycleStateError, lifeCycleState())
	untilRead(nfsv4.NFS4ERR_IO)

	_, err = kmsc.EnableKey(ctx, &kmssdk.EnableKeyInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	require.Equal(t, efstypes.LifeCycleStateAvailable, lifeCycleState())
	require.Equal(t, want, untilRead(nfsv4.NFS4_OK))

	// Pending deletion: the same, and cancelling leaves the key disabled
	// (as in AWS KMS) until it is enabled.
	_, err = kmsc.ScheduleKeyDeletion(ctx, &kmssdk.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)})
	require.NoError(t, err)
	require.Equal(t, efstypes.LifeCycleStateError, lifeCycleState())
	untilRead(nfsv4.NFS4ERR_IO)
	_, err = kmsc.CancelKeyDeletion(ctx, &kmssdk.CancelKeyDeletionInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	require.Equal(t, efstypes.LifeCycleStateError, lifeCycleState())
	_, err = kmsc.EnableKey(ctx, &kmssdk.EnableKeyInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	require.Equal(t, efstypes.LifeCycleStateAvailable, lifeCycleState())
	require.Equal(t, want, untilRead(nfsv4.NFS4_OK))
}
