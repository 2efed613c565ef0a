package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/control"
)

var ctx = context.Background()

func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	require.Equal(t, code, ae.ErrorCode(), "%v", err)
}

func (h *harness) createFS(t testing.TB, in *efs.CreateFileSystemInput) *efs.CreateFileSystemOutput {
	t.Helper()
	if in == nil {
		in = &efs.CreateFileSystemInput{}
	}
	out, err := h.client.CreateFileSystem(ctx, in)
	require.NoError(t, err)
	return out
}

func (h *harness) subnet(t testing.TB, az string) string {
	for _, sn := range h.ctl.Subnets() {
		if sn.AvailabilityZone.Name == az {
			return sn.ID
		}
	}
	t.Fatalf("no subnet in %s", az)
	return ""
}

func TestSDKFileSystems(t *testing.T) {
	h := newHarness(t)
	c := h.client
	out, err := c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("t1"), Encrypted: aws.Bool(true),
		Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("fs1")}}})
	require.NoError(t, err)
	require.Regexp(t, `^fs-[0-9a-f]{17}$`, *out.FileSystemId)
	require.Equal(t, "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/"+*out.FileSystemId, *out.FileSystemArn)
	require.Equal(t, types.LifeCycleStateAvailable, out.LifeCycleState)
	require.Equal(t, "fs1", *out.Name)
	require.Equal(t, account, *out.OwnerId)
	require.True(t, *out.Encrypted)
	require.Contains(t, *out.KmsKeyId, "arn:aws:kms:us-east-1:123456789012:key/")
	require.Equal(t, types.PerformanceModeGeneralPurpose, out.PerformanceMode)
	require.Equal(t, types.ThroughputModeBursting, out.ThroughputMode)
	require.NotNil(t, out.CreationTime)
	require.NotNil(t, out.SizeInBytes.Timestamp)
	require.Equal(t, types.ReplicationOverwriteProtectionEnabled, out.FileSystemProtection.ReplicationOverwriteProtection)
	require.Equal(t, 201, h.lastOutcome().Status)
	id := *out.FileSystemId

	// Idempotency.
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("t1")})
	exists := requireAPIError[*types.FileSystemAlreadyExists](t, err)
	require.Equal(t, id, *exists.FileSystemId)
	require.Equal(t, "FileSystemAlreadyExists", *exists.ErrorCode_)

	// Typed errors of CreateFileSystem.
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{KmsKeyId: aws.String("alias/x")})
	requireAPIError[*types.BadRequest](t, err)
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{ThroughputMode: types.ThroughputModeProvisioned, ProvisionedThroughputInMibps: aws.Float64(5000)})
	requireAPIError[*types.ThroughputLimitExceeded](t, err)
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{AvailabilityZoneName: aws.String("eu-west-1a")})
	requireAPIError[*types.UnsupportedAvailabilityZone](t, err)
	_, err = c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{PerformanceMode: "fast"})
	requireCode(t, err, "ValidationException")

	// Describe by ID, ARN and token.
	for _, in := range []*efs.DescribeFileSystemsInput{
		{FileSystemId: aws.String(id)}, {FileSystemId: out.FileSystemArn}, {CreationToken: aws.String("t1")},
	} {
		d, err := c.DescribeFileSystems(ctx, in)
		require.NoError(t, err)
		require.Len(t, d.FileSystems, 1)
		require.Equal(t, id, *d.FileSystems[0].FileSystemId)
		require.Nil(t, d.NextMarker)
	}
	_, err = c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)
	require.True(t, h.lastOutcome().ReadOnly)

	// Update: 202 and the new throughput.
	u, err := c.UpdateFileSystem(ctx, &efs.UpdateFileSystemInput{FileSystemId: aws.String(id), ThroughputMode: types.ThroughputModeProvisioned,
		ProvisionedThroughputInMibps: aws.Float64(64)})
	require.NoError(t, err)
	require.Equal(t, 64.0, *u.ProvisionedThroughputInMibps)
	require.Equal(t, 202, h.lastOutcome().Status)
	_, err = c.UpdateFileSystem(ctx, &efs.UpdateFileSystemInput{FileSystemId: aws.String(id), ThroughputMode: types.ThroughputModeElastic})
	requireAPIError[*types.TooManyRequests](t, err)
	_, err = c.UpdateFileSystem(ctx, &efs.UpdateFileSystemInput{FileSystemId: aws.String("fs-0123456789abcdef0"), ThroughputMode: types.ThroughputModeElastic})
	requireAPIError[*types.FileSystemNotFound](t, err)

	// Protection.
	p, err := c.UpdateFileSystemProtection(ctx, &efs.UpdateFileSystemProtectionInput{FileSystemId: aws.String(id),
		ReplicationOverwriteProtection: types.ReplicationOverwriteProtectionDisabled})
	require.NoError(t, err)
	require.Equal(t, types.ReplicationOverwriteProtectionDisabled, p.ReplicationOverwriteProtection)
	_, err = c.UpdateFileSystemProtection(ctx, &efs.UpdateFileSystemProtectionInput{FileSystemId: aws.String(id),
		ReplicationOverwriteProtection: types.ReplicationOverwriteProtectionReplicating})
	requireAPIError[*types.BadRequest](t, err)

	// Delete: 204, then not found.
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(id)})
	require.NoError(t, err)
	require.Equal(t, 204, h.lastOutcome().Status)
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(id)})
	requireAPIError[*types.FileSystemNotFound](t, err)
}

func TestSDKPagination(t *testing.T) {
	h := newHarness(t)
	want := map[string]bool{}
	for range 23 {
		want[*h.createFS(t, nil).FileSystemId] = true
	}
	got := map[string]bool{}
	markers := map[string]bool{}
	pages := 0
	p := efs.NewDescribeFileSystemsPaginator(h.client, &efs.DescribeFileSystemsInput{MaxItems: aws.Int32(5)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, pages, 5)
		for _, f := range out.FileSystems {
			require.False(t, got[*f.FileSystemId])
			got[*f.FileSystemId] = true
		}
		if out.NextMarker != nil {
			require.False(t, markers[*out.NextMarker], "marker repeated")
			markers[*out.NextMarker] = true
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, 5, pages)
	// The default page is 100.
	out, err := h.client.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	require.Len(t, out.FileSystems, 23)
	_, err = h.client.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{Marker: aws.String("not-a-marker")})
	requireAPIError[*types.BadRequest](t, err)
	_, err = h.client.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{MaxItems: aws.Int32(0)})
	requireCode(t, err, "ValidationException")
}

func TestSDKMountTargets(t *testing.T) {
	h := newHarness(t)
	c := h.client
	fsID := h.createFS(t, nil).FileSystemId
	sa, sb := h.subnet(t, "us-east-1a"), h.subnet(t, "us-east-1b")
	mt, err := c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String(sa)})
	require.NoError(t, err)
	require.Regexp(t, `^fsmt-[0-9a-f]{17}$`, *mt.MountTargetId)
	require.Equal(t, "127.0.1.4", *mt.IpAddress)
	require.Regexp(t, `^eni-`, *mt.NetworkInterfaceId)
	require.Equal(t, "us-east-1a", *mt.AvailabilityZoneName)
	require.Equal(t, "use1-az1", *mt.AvailabilityZoneId)
	require.Equal(t, types.LifeCycleStateAvailable, mt.LifeCycleState)

	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String(sa)})
	requireAPIError[*types.MountTargetConflict](t, err)
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String("subnet-0123456789abcdef0")})
	requireAPIError[*types.SubnetNotFound](t, err)
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String(sb), SecurityGroups: []string{"sg-0123456789abcdef0"}})
	requireAPIError[*types.SecurityGroupNotFound](t, err)
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String(sb),
		SecurityGroups: []string{"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006"}})
	requireAPIError[*types.SecurityGroupLimitExceeded](t, err)
	other := h.createFS(t, nil).FileSystemId
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: other, SubnetId: aws.String(sa), IpAddress: aws.String("127.0.1.4")})
	requireAPIError[*types.IpAddressInUse](t, err)
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: aws.String("fs-0123456789abcdef0"), SubnetId: aws.String(sa)})
	requireAPIError[*types.FileSystemNotFound](t, err)
	oz := h.createFS(t, &efs.CreateFileSystemInput{AvailabilityZoneName: aws.String("us-east-1c")}).FileSystemId
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: oz, SubnetId: aws.String(sa)})
	requireAPIError[*types.AvailabilityZonesMismatch](t, err)
	_, err = c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String("subnet-xyz")})
	requireCode(t, err, "ValidationException")

	g, err := h.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "nfs"})
	require.NoError(t, err)
	mt2, err := c.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsID, SubnetId: aws.String(sb),
		IpAddress: aws.String("127.0.2.77"), SecurityGroups: []string{g.ID}})
	require.NoError(t, err)
	require.Equal(t, "127.0.2.77", *mt2.IpAddress)

	d, err := c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.Len(t, d.MountTargets, 2)
	d, err = c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{MountTargetId: mt.MountTargetId})
	require.NoError(t, err)
	require.Len(t, d.MountTargets, 1)
	ap, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID})
	require.NoError(t, err)
	d, err = c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{AccessPointId: ap.AccessPointId})
	require.NoError(t, err)
	require.Len(t, d.MountTargets, 2)
	_, err = c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{})
	requireAPIError[*types.BadRequest](t, err)
	_, err = c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{MountTargetId: aws.String("fsmt-0123456789abcdef0")})
	requireAPIError[*types.MountTargetNotFound](t, err)
	_, err = c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{AccessPointId: aws.String("fsap-0123456789abcdef0")})
	requireAPIError[*types.AccessPointNotFound](t, err)
	pg := efs.NewDescribeMountTargetsPaginator(c, &efs.DescribeMountTargetsInput{FileSystemId: fsID, MaxItems: aws.Int32(1)})
	n := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		n += len(out.MountTargets)
	}
	require.Equal(t, 2, n)

	sg, err := c.DescribeMountTargetSecurityGroups(ctx, &efs.DescribeMountTargetSecurityGroupsInput{MountTargetId: mt2.MountTargetId})
	require.NoError(t, err)
	require.Equal(t, []string{g.ID}, sg.SecurityGroups)
	_, err = c.ModifyMountTargetSecurityGroups(ctx, &efs.ModifyMountTargetSecurityGroupsInput{MountTargetId: mt2.MountTargetId,
		SecurityGroups: []string{h.ctl.DefaultSecurityGroupID(*mt2.VpcId), g.ID}})
	require.NoError(t, err)
	require.Equal(t, 204, h.lastOutcome().Status)
	sg, err = c.DescribeMountTargetSecurityGroups(ctx, &efs.DescribeMountTargetSecurityGroupsInput{MountTargetId: mt2.MountTargetId})
	require.NoError(t, err)
	require.Len(t, sg.SecurityGroups, 2)
	_, err = c.ModifyMountTargetSecurityGroups(ctx, &efs.ModifyMountTargetSecurityGroupsInput{MountTargetId: mt2.MountTargetId, SecurityGroups: []string{"sg-0123456789abcdef0"}})
	requireAPIError[*types.SecurityGroupNotFound](t, err)
	_, err = c.DescribeMountTargetSecurityGroups(ctx, &efs.DescribeMountTargetSecurityGroupsInput{MountTargetId: aws.String("fsmt-0123456789abcdef0")})
	requireAPIError[*types.MountTargetNotFound](t, err)

	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: fsID})
	requireAPIError[*types.FileSystemInUse](t, err)
	f, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.EqualValues(t, 2, f.FileSystems[0].NumberOfMountTargets)
	for _, m := range []*string{mt.MountTargetId, mt2.MountTargetId} {
		_, err = c.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: m})
		require.NoError(t, err)
		require.Equal(t, 204, h.lastOutcome().Status)
	}
	_, err = c.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: mt.MountTargetId})
	requireAPIError[*types.MountTargetNotFound](t, err)
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: fsID})
	require.NoError(t, err)
}

func TestSDKAccessPoints(t *testing.T) {
	h := newHarness(t, func(c *control.Config) { c.MaxAccessPointsPerFileSystem = 5 })
	c := h.client
	fsID := h.createFS(t, nil).FileSystemId
	ap, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{ClientToken: aws.String("c1"), FileSystemId: fsID,
		PosixUser: &types.PosixUser{Uid: aws.Int64(1000), Gid: aws.Int64(1000), SecondaryGids: []int64{2000, 3000}},
		RootDirectory: &types.RootDirectory{Path: aws.String("/data"), CreationInfo: &types.CreationInfo{
			OwnerUid: aws.Int64(1000), OwnerGid: aws.Int64(1000), Permissions: aws.String("0755")}},
		Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("ap1")}}})
	require.NoError(t, err)
	require.Regexp(t, `^fsap-[0-9a-f]{17}$`, *ap.AccessPointId)
	require.Equal(t, "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/"+*ap.AccessPointId, *ap.AccessPointArn)
	require.Equal(t, "ap1", *ap.Name)
	require.Equal(t, []int64{2000, 3000}, ap.PosixUser.SecondaryGids)
	require.Equal(t, "0755", *ap.RootDirectory.CreationInfo.Permissions)
	require.Equal(t, types.LifeCycleStateAvailable, ap.LifeCycleState)

	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{ClientToken: aws.String("c1"), FileSystemId: fsID})
	dup := requireAPIError[*types.AccessPointAlreadyExists](t, err)
	require.Equal(t, *ap.AccessPointId, *dup.AccessPointId)
	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)
	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID, RootDirectory: &types.RootDirectory{Path: aws.String("/a/.b")}})
	requireCode(t, err, "ValidationException")
	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID, PosixUser: &types.PosixUser{Uid: aws.Int64(1 << 33), Gid: aws.Int64(0)}})
	requireCode(t, err, "ValidationException")
	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID, RootDirectory: &types.RootDirectory{Path: aws.String("/x"),
		CreationInfo: &types.CreationInfo{OwnerUid: aws.Int64(1), OwnerGid: aws.Int64(1), Permissions: aws.String("999")}}})
	requireCode(t, err, "ValidationException")
	for range 4 {
		_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID})
		require.NoError(t, err)
	}
	_, err = c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID})
	requireAPIError[*types.AccessPointLimitExceeded](t, err)

	d, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: ap.AccessPointId})
	require.NoError(t, err)
	require.Len(t, d.AccessPoints, 1)
	require.Equal(t, "/data", *d.AccessPoints[0].RootDirectory.Path)
	n := 0
	pg := efs.NewDescribeAccessPointsPaginator(c, &efs.DescribeAccessPointsInput{FileSystemId: fsID, MaxResults: aws.Int32(2)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		n += len(out.AccessPoints)
	}
	require.Equal(t, 5, n)
	all, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{})
	require.NoError(t, err)
	require.Len(t, all.AccessPoints, 5)
	_, err = c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: aws.String("fsap-0123456789abcdef0")})
	requireAPIError[*types.AccessPointNotFound](t, err)
	_, err = c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)

	_, err = c.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: ap.AccessPointArn})
	require.NoError(t, err)
	require.Equal(t, 204, h.lastOutcome().Status)
	_, err = c.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: ap.AccessPointId})
	requireAPIError[*types.AccessPointNotFound](t, err)
}

func TestSDKPolicies(t *testing.T) {
	h := newHarness(t)
	c := h.client
	fsID := h.createFS(t, nil).FileSystemId
	_, err := c.DescribeFileSystemPolicy(ctx, &efs.DescribeFileSystemPolicyInput{FileSystemId: fsID})
	requireAPIError[*types.PolicyNotFound](t, err)
	_, err = c.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsID, Policy: aws.String("{not json")})
	requireAPIError[*types.InvalidPolicyException](t, err)
	_, err = c.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsID, Policy: aws.String(strings.Repeat("x", 20001))})
	requireCode(t, err, "ValidationException")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["elasticfilesystem:ClientMount"],"Resource":"*"}]}`
	p, err := c.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsID, Policy: aws.String(policy), BypassPolicyLockoutSafetyCheck: true})
	require.NoError(t, err)
	require.Equal(t, policy, *p.Policy)
	require.Equal(t, *fsID, *p.FileSystemId)
	got, err := c.DescribeFileSystemPolicy(ctx, &efs.DescribeFileSystemPolicyInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.Equal(t, policy, *got.Policy)
	_, err = c.DeleteFileSystemPolicy(ctx, &efs.DeleteFileSystemPolicyInput{FileSystemId: fsID})
	require.NoError(t, err)
	_, err = c.DescribeFileSystemPolicy(ctx, &efs.DescribeFileSystemPolicyInput{FileSystemId: fsID})
	requireAPIError[*types.PolicyNotFound](t, err)
	// The lockout safety check.
	lockout := `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"elasticfilesystem:PutFileSystemPolicy","Resource":"*"}]}`
	_, err = c.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsID, Policy: aws.String(lockout)})
	requireAPIError[*types.InvalidPolicyException](t, err)
	_, err = c.DescribeFileSystemPolicy(ctx, &efs.DescribeFileSystemPolicyInput{FileSystemId: fsID})
	requireAPIError[*types.PolicyNotFound](t, err)
	_, err = c.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsID, Policy: aws.String(lockout), BypassPolicyLockoutSafetyCheck: true})
	require.NoError(t, err)
	_, err = c.DeleteFileSystemPolicy(ctx, &efs.DeleteFileSystemPolicyInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)
}

func TestSDKLifecycleAndBackup(t *testing.T) {
	h := newHarness(t)
	c := h.client
	fsID := h.createFS(t, nil).FileSystemId
	lc, err := c.DescribeLifecycleConfiguration(ctx, &efs.DescribeLifecycleConfigurationInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.Empty(t, lc.LifecyclePolicies)
	put, err := c.PutLifecycleConfiguration(ctx, &efs.PutLifecycleConfigurationInput{FileSystemId: fsID, LifecyclePolicies: []types.LifecyclePolicy{
		{TransitionToIA: types.TransitionToIARulesAfter30Days}, {TransitionToPrimaryStorageClass: types.TransitionToPrimaryStorageClassRulesAfter1Access}}})
	require.NoError(t, err)
	require.Len(t, put.LifecyclePolicies, 2)
	lc, err = c.DescribeLifecycleConfiguration(ctx, &efs.DescribeLifecycleConfigurationInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.Equal(t, types.TransitionToIARulesAfter30Days, lc.LifecyclePolicies[0].TransitionToIA)
	_, err = c.PutLifecycleConfiguration(ctx, &efs.PutLifecycleConfigurationInput{FileSystemId: fsID, LifecyclePolicies: []types.LifecyclePolicy{
		{TransitionToIA: types.TransitionToIARulesAfter30Days, TransitionToPrimaryStorageClass: types.TransitionToPrimaryStorageClassRulesAfter1Access}}})
	requireAPIError[*types.BadRequest](t, err)
	_, err = c.PutLifecycleConfiguration(ctx, &efs.PutLifecycleConfigurationInput{FileSystemId: fsID, LifecyclePolicies: []types.LifecyclePolicy{}})
	require.NoError(t, err)

	b, err := c.DescribeBackupPolicy(ctx, &efs.DescribeBackupPolicyInput{FileSystemId: fsID})
	require.NoError(t, err)
	require.Equal(t, types.StatusDisabled, b.BackupPolicy.Status)
	pb, err := c.PutBackupPolicy(ctx, &efs.PutBackupPolicyInput{FileSystemId: fsID, BackupPolicy: &types.BackupPolicy{Status: types.StatusEnabled}})
	require.NoError(t, err)
	require.Equal(t, types.StatusEnabled, pb.BackupPolicy.Status)
	_, err = c.PutBackupPolicy(ctx, &efs.PutBackupPolicyInput{FileSystemId: fsID, BackupPolicy: &types.BackupPolicy{Status: "ON"}})
	requireAPIError[*types.ValidationException](t, err)
	_, err = c.DescribeBackupPolicy(ctx, &efs.DescribeBackupPolicyInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)
}

func TestSDKReplication(t *testing.T) {
	h := newHarness(t)
	c := h.client
	src := h.createFS(t, &efs.CreateFileSystemInput{Encrypted: aws.Bool(true)}).FileSystemId
	_, err := c.DescribeReplicationConfigurations(ctx, &efs.DescribeReplicationConfigurationsInput{FileSystemId: src})
	requireAPIError[*types.ReplicationNotFound](t, err)
	rc, err := c.CreateReplicationConfiguration(ctx, &efs.CreateReplicationConfigurationInput{SourceFileSystemId: src,
		Destinations: []types.DestinationToCreate{{Region: aws.String(region)}}})
	require.NoError(t, err)
	require.Equal(t, *src, *rc.SourceFileSystemId)
	require.Len(t, rc.Destinations, 1)
	require.Equal(t, types.ReplicationStatusEnabling, rc.Destinations[0].Status)
	dst := rc.Destinations[0].FileSystemId
	_, err = c.UpdateFileSystemProtection(ctx, &efs.UpdateFileSystemProtectionInput{FileSystemId: dst,
		ReplicationOverwriteProtection: types.ReplicationOverwriteProtectionEnabled})
	requireAPIError[*types.ReplicationAlreadyExists](t, err)
	d, err := c.DescribeReplicationConfigurations(ctx, &efs.DescribeReplicationConfigurationsInput{})
	require.NoError(t, err)
	require.Len(t, d.Replications, 1)
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: src})
	requireAPIError[*types.FileSystemInUse](t, err)
	_, err = c.DeleteReplicationConfiguration(ctx, &efs.DeleteReplicationConfigurationInput{SourceFileSystemId: src,
		DeletionMode: types.DeletionModeLocalConfigurationOnly})
	requireAPIError[*types.BadRequest](t, err)
	_, err = c.DeleteReplicationConfiguration(ctx, &efs.DeleteReplicationConfigurationInput{SourceFileSystemId: src})
	require.NoError(t, err)
	require.Equal(t, 204, h.lastOutcome().Status)
	_, err = c.DeleteReplicationConfiguration(ctx, &efs.DeleteReplicationConfigurationInput{SourceFileSystemId: src})
	requireAPIError[*types.ReplicationNotFound](t, err)
	_, err = c.CreateReplicationConfiguration(ctx, &efs.CreateReplicationConfigurationInput{SourceFileSystemId: src,
		Destinations: []types.DestinationToCreate{{Region: aws.String("eu")}}})
	requireAPIError[*types.ValidationException](t, err)
}

func TestSDKTags(t *testing.T) {
	h := newHarness(t)
	c := h.client
	f := h.createFS(t, &efs.CreateFileSystemInput{Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("a")}}})
	// ARNs travel percent-encoded in the path.
	_, err := c.TagResource(ctx, &efs.TagResourceInput{ResourceId: f.FileSystemArn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("x")}}})
	require.NoError(t, err)
	require.Equal(t, 200, h.lastOutcome().Status)
	l, err := c.ListTagsForResource(ctx, &efs.ListTagsForResourceInput{ResourceId: f.FileSystemArn})
	require.NoError(t, err)
	require.Len(t, l.Tags, 2)
	_, err = c.UntagResource(ctx, &efs.UntagResourceInput{ResourceId: f.FileSystemId, TagKeys: []string{"team", "none"}})
	require.NoError(t, err)
	_, err = c.TagResource(ctx, &efs.TagResourceInput{ResourceId: f.FileSystemId, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
	requireCode(t, err, "ValidationException")
	_, err = c.TagResource(ctx, &efs.TagResourceInput{ResourceId: aws.String("fs-0123456789abcdef0"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	requireAPIError[*types.FileSystemNotFound](t, err)
	_, err = c.ListTagsForResource(ctx, &efs.ListTagsForResourceInput{ResourceId: aws.String("fsap-0123456789abcdef0")})
	requireAPIError[*types.AccessPointNotFound](t, err)
	ap, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: f.FileSystemId})
	require.NoError(t, err)
	_, err = c.TagResource(ctx, &efs.TagResourceInput{ResourceId: ap.AccessPointArn, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("ap")}}})
	require.NoError(t, err)
	d, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: ap.AccessPointId})
	require.NoError(t, err)
	require.Equal(t, "ap", *d.AccessPoints[0].Name)

	// The deprecated calls.
	var many []types.Tag
	for i := range 30 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	_, err = c.CreateTags(ctx, &efs.CreateTagsInput{FileSystemId: f.FileSystemId, Tags: many})
	require.NoError(t, err)
	require.Equal(t, 204, h.lastOutcome().Status)
	n := 0
	pg := efs.NewDescribeTagsPaginator(c, &efs.DescribeTagsInput{FileSystemId: f.FileSystemId, MaxItems: aws.Int32(7)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		n += len(out.Tags)
	}
	require.Equal(t, 31, n)
	lp := efs.NewListTagsForResourcePaginator(c, &efs.ListTagsForResourceInput{ResourceId: f.FileSystemId, MaxResults: aws.Int32(10)})
	n = 0
	for lp.HasMorePages() {
		out, err := lp.NextPage(ctx)
		require.NoError(t, err)
		n += len(out.Tags)
	}
	require.Equal(t, 31, n)
	_, err = c.DeleteTags(ctx, &efs.DeleteTagsInput{FileSystemId: f.FileSystemId, TagKeys: []string{"k1", "k2"}})
	require.NoError(t, err)
	dt, err := c.DescribeTags(ctx, &efs.DescribeTagsInput{FileSystemId: f.FileSystemId})
	require.NoError(t, err)
	require.Len(t, dt.Tags, 29)
	var more []types.Tag
	for i := range 22 {
		more = append(more, types.Tag{Key: aws.String(fmt.Sprint("z", i)), Value: aws.String("")})
	}
	_, err = c.CreateTags(ctx, &efs.CreateTagsInput{FileSystemId: f.FileSystemId, Tags: more})
	requireAPIError[*types.BadRequest](t, err)
	dt, err = c.DescribeTags(ctx, &efs.DescribeTagsInput{FileSystemId: f.FileSystemId})
	require.NoError(t, err)
	require.Len(t, dt.Tags, 29, "a refused change writes nothing")
	_, err = c.DescribeTags(ctx, &efs.DescribeTagsInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireAPIError[*types.FileSystemNotFound](t, err)
}

func TestSDKAccountPreferences(t *testing.T) {
	h := newHarness(t)
	c := h.client
	d, err := c.DescribeAccountPreferences(ctx, &efs.DescribeAccountPreferencesInput{})
	require.NoError(t, err)
	require.Equal(t, types.ResourceIdTypeLongId, d.ResourceIdPreference.ResourceIdType)
	require.Equal(t, []types.Resource{types.ResourceFileSystem, types.ResourceMountTarget}, d.ResourceIdPreference.Resources)
	p, err := c.PutAccountPreferences(ctx, &efs.PutAccountPreferencesInput{ResourceIdType: types.ResourceIdTypeShortId})
	require.NoError(t, err)
	require.Equal(t, types.ResourceIdTypeShortId, p.ResourceIdPreference.ResourceIdType)
	require.Regexp(t, `^fs-[0-9a-f]{8}$`, *h.createFS(t, nil).FileSystemId)
	_, err = c.PutAccountPreferences(ctx, &efs.PutAccountPreferencesInput{ResourceIdType: "MEDIUM"})
	requireCode(t, err, "ValidationException")
}

func TestSDKAccessDenied(t *testing.T) {
	h := newHarness(t)
	c := h.client
	h.authz.reset("CreateFileSystem")
	_, err := c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{Encrypted: aws.Bool(true),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	requireCode(t, err, "AccessDeniedException")
	require.Equal(t, 403, h.lastOutcome().Status)
	calls := h.authz.seen()
	require.Len(t, calls, 1)
	require.Equal(t, "elasticfilesystem:CreateFileSystem", calls[0].Action)
	require.Regexp(t, `^arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-[0-9a-f]{17}$`, calls[0].Resource)
	require.Equal(t, []string{"true"}, calls[0].Conditions["elasticfilesystem:Encrypted"])
	require.Equal(t, []string{"a"}, calls[0].Conditions["aws:RequestTag/team"])
	require.Equal(t, []string{"team"}, calls[0].Conditions["aws:TagKeys"])
	// Nothing was created.
	out, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	require.Empty(t, out.FileSystems)

	h.authz.reset()
	f := h.createFS(t, &efs.CreateFileSystemInput{Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	h.authz.reset("DeleteFileSystem")
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: f.FileSystemId})
	requireCode(t, err, "AccessDeniedException")
	calls = h.authz.seen()
	require.Equal(t, *f.FileSystemArn, calls[0].Resource)
	require.Equal(t, []string{"prod"}, calls[0].Conditions["aws:ResourceTag/env"])
	// Denied before existence is revealed.
	_, err = c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	requireCode(t, err, "AccessDeniedException")
	h.authz.reset()
	_, err = c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: f.FileSystemId})
	require.NoError(t, err)

	// Every operation asks for its own action.
	h.authz.reset()
	_, _ = c.UntagResource(ctx, &efs.UntagResourceInput{ResourceId: f.FileSystemId, TagKeys: []string{"env"}})
	calls = h.authz.seen()
	require.Equal(t, "elasticfilesystem:UntagResource", calls[0].Action)
	require.Equal(t, []string{"env"}, calls[0].Conditions["aws:TagKeys"])
}

func TestAuditOutcome(t *testing.T) {
	h := newHarness(t)
	f := h.createFS(t, &efs.CreateFileSystemInput{CreationToken: aws.String("audit"), Encrypted: aws.Bool(true)})
	out := h.lastOutcome()
	require.Equal(t, "CreateFileSystem", out.EventName)
	require.False(t, out.ReadOnly)
	require.Equal(t, 201, out.Status)
	params := out.RequestParameters.(map[string]any)
	require.Equal(t, "audit", params["creationToken"])
	require.Equal(t, true, params["encrypted"])
	resp := out.ResponseElements.(map[string]any)
	require.Equal(t, *f.FileSystemId, resp["fileSystemId"])
	require.Equal(t, []string{*f.FileSystemArn}, out.Resources)

	_, err := h.client.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: f.FileSystemId})
	require.NoError(t, err)
	out = h.lastOutcome()
	require.Equal(t, "DescribeFileSystems", out.EventName)
	require.True(t, out.ReadOnly)
	require.Nil(t, out.ResponseElements)
	require.Equal(t, map[string]any{"fileSystemId": *f.FileSystemId}, out.RequestParameters)

	_, err = h.client.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	require.Error(t, err)
	out = h.lastOutcome()
	require.Equal(t, "FileSystemNotFound", out.ErrorCode)
	require.Equal(t, 404, out.Status)
	require.NotEmpty(t, out.ErrorMessage)
}

// TestWireFormat checks what the SDK cannot show: epoch numbers, the error
// header and body, and that an ARN in the path is decoded.
func TestWireFormat(t *testing.T) {
	h := newHarness(t)
	resp, body := h.raw("POST", "/2015-02-01/file-systems", strings.NewReader(`{"CreationToken":"w1"}`))
	require.Equal(t, 201, resp.StatusCode)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	_, isNum := m["CreationTime"].(float64)
	require.True(t, isNum, "CreationTime must be a JSON number: %s", body)
	id := m["FileSystemId"].(string)

	resp, body = h.raw("POST", "/2015-02-01/file-systems", strings.NewReader(`{"CreationToken":"w1"}`))
	require.Equal(t, 409, resp.StatusCode)
	require.Equal(t, "FileSystemAlreadyExists", resp.Header.Get("X-Amzn-ErrorType"))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NotEmpty(t, resp.Header.Get("X-Amzn-RequestId"))
	m = nil
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	require.Equal(t, map[string]any{"ErrorCode": "FileSystemAlreadyExists", "FileSystemId": id, "Message": m["Message"]}, m)

	arn := "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/" + id
	resp, body = h.raw("GET", "/2015-02-01/resource-tags/"+url.PathEscape(arn), nil)
	require.Equal(t, 200, resp.StatusCode, body)
	resp, _ = h.raw("GET", "/2015-02-01/tags/"+id+"/", nil)
	require.Equal(t, 200, resp.StatusCode)
}
