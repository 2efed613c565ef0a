package control_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const (
	account = "123456789012"
	region  = "us-east-1"
)

type env struct {
	ctl   *control.Service
	fs    *fs.Service
	kms   *kms.Manager
	meta  meta.Store
	clock *clock.Fake
}

func newEnv(t testing.TB, cfg ...func(*control.Config)) *env {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ck := clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	root := make([]byte, 32)
	_, _ = rand.Read(root)
	km, err := kms.Open(context.Background(), m, root, kms.Config{Account: account, Region: region}, ck)
	require.NoError(t, err)
	fsvc := fs.New(m, data.New(memblob.New(), data.Options{}), km, fs.Options{Clock: ck, NoBackground: true})
	t.Cleanup(func() { _ = fsvc.Close() })
	c := control.Config{Account: account, Region: region}
	for _, f := range cfg {
		f(&c)
	}
	ctl, err := control.New(context.Background(), m, fsvc, km, c, control.Options{Clock: ck})
	require.NoError(t, err)
	return &env{ctl: ctl, fs: fsvc, kms: km, meta: m, clock: ck}
}

func (e *env) create(t testing.TB, in control.CreateFileSystemInput) control.FileSystem {
	t.Helper()
	ctx := context.Background()
	id, err := e.ctl.NewFileSystemID(ctx)
	require.NoError(t, err)
	if in.CreationToken == "" {
		in.CreationToken = "tok-" + id
	}
	d, err := e.ctl.CreateFileSystem(ctx, id, in)
	require.NoError(t, err)
	return d
}

func (e *env) subnet(t testing.TB, az string) string {
	t.Helper()
	for _, sn := range e.ctl.Subnets() {
		if sn.AvailabilityZone.Name == az {
			return sn.ID
		}
	}
	t.Fatalf("no subnet in %s", az)
	return ""
}

func requireCode(t testing.TB, err error, c control.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, c.String(), control.CodeOf(err).String(), "error: %v", err)
}

func f64(v float64) *float64 { return &v }
func yes() *bool             { b := true; return &b }

func TestCreateFileSystemRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, err := e.kms.CreateKey(ctx, kms.CreateKeyInput{Description: "k"})
	require.NoError(t, err)
	require.NoError(t, e.kms.CreateAlias(ctx, "alias/mine", key.KeyID))
	for _, tc := range []struct {
		name string
		in   control.CreateFileSystemInput
		code control.Code
		want func(t *testing.T, d control.FileSystem)
	}{
		{name: "defaults", in: control.CreateFileSystemInput{}, want: func(t *testing.T, d control.FileSystem) {
			require.Equal(t, control.PerformanceGeneralPurpose, d.PerformanceMode)
			require.Equal(t, control.ThroughputBursting, d.ThroughputMode)
			require.False(t, d.Encrypted)
			require.Equal(t, control.StateAvailable, d.LifeCycleState)
			require.Regexp(t, `^fs-[0-9a-f]{17}$`, d.ID)
			require.Equal(t, "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/"+d.ID, d.ARN)
			require.Equal(t, control.ProtectionEnabled, d.ReplicationOverwriteProtection)
		}},
		{name: "encrypted default key", in: control.CreateFileSystemInput{Encrypted: true}, want: func(t *testing.T, d control.FileSystem) {
			mk, err := e.kms.ManagedKey(ctx)
			require.NoError(t, err)
			require.Equal(t, mk.ARN, d.KMSKeyID)
		}},
		{name: "key id", in: control.CreateFileSystemInput{Encrypted: true, KMSKeyID: key.KeyID}, want: func(t *testing.T, d control.FileSystem) {
			require.Equal(t, key.ARN, d.KMSKeyID)
		}},
		{name: "key arn", in: control.CreateFileSystemInput{Encrypted: true, KMSKeyID: key.ARN}},
		{name: "alias name", in: control.CreateFileSystemInput{Encrypted: true, KMSKeyID: "alias/mine"}, want: func(t *testing.T, d control.FileSystem) {
			require.Equal(t, key.ARN, d.KMSKeyID)
		}},
		{name: "alias arn", in: control.CreateFileSystemInput{Encrypted: true, KMSKeyID: "arn:aws:kms:us-east-1:123456789012:alias/mine"}},
		{name: "key without encrypted", in: control.CreateFileSystemInput{KMSKeyID: key.KeyID}, code: control.BadRequest},
		{name: "unknown key", in: control.CreateFileSystemInput{Encrypted: true, KMSKeyID: "alias/nope"}, code: control.BadRequest},
		{name: "provisioned without throughput", in: control.CreateFileSystemInput{ThroughputMode: "provisioned"}, code: control.BadRequest},
		{name: "throughput without provisioned", in: control.CreateFileSystemInput{ProvisionedThroughputInMiBps: f64(10)}, code: control.BadRequest},
		{name: "provisioned", in: control.CreateFileSystemInput{ThroughputMode: "provisioned", ProvisionedThroughputInMiBps: f64(64)}, want: func(t *testing.T, d control.FileSystem) {
			require.InDelta(t, 64, d.ProvisionedThroughputInMiBps, 0)
		}},
		{name: "too much throughput", in: control.CreateFileSystemInput{ThroughputMode: "provisioned", ProvisionedThroughputInMiBps: f64(5000)}, code: control.ThroughputLimitExceeded},
		{name: "maxIO elastic", in: control.CreateFileSystemInput{PerformanceMode: "maxIO", ThroughputMode: "elastic"}, code: control.BadRequest},
		{name: "one zone", in: control.CreateFileSystemInput{AvailabilityZoneName: "us-east-1b"}, want: func(t *testing.T, d control.FileSystem) {
			require.Equal(t, "us-east-1b", d.AvailabilityZoneName)
			require.Equal(t, "use1-az2", d.AvailabilityZoneID)
			b, err := e.ctl.BackupPolicy(ctx, d.ID)
			require.NoError(t, err)
			require.Equal(t, control.StatusEnabled, b)
		}},
		{name: "one zone maxIO", in: control.CreateFileSystemInput{AvailabilityZoneName: "us-east-1a", PerformanceMode: "maxIO"}, code: control.BadRequest},
		{name: "unknown zone", in: control.CreateFileSystemInput{AvailabilityZoneName: "us-west-2a"}, code: control.UnsupportedAvailabilityZone},
		{name: "name tag", in: control.CreateFileSystemInput{Tags: []control.Tag{{Key: "Name", Value: "fs1"}}}, want: func(t *testing.T, d control.FileSystem) {
			require.Equal(t, "fs1", d.Name)
		}},
		{name: "aws tag", in: control.CreateFileSystemInput{Tags: []control.Tag{{Key: "aws:x", Value: "1"}}}, code: control.BadRequest},
		{name: "duplicate tag", in: control.CreateFileSystemInput{Tags: []control.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}, code: control.BadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := e.ctl.NewFileSystemID(ctx)
			require.NoError(t, err)
			tc.in.CreationToken = tc.name
			d, err := e.ctl.CreateFileSystem(ctx, id, tc.in)
			if tc.code != 0 {
				requireCode(t, err, tc.code)
				_, err := e.ctl.FileSystem(ctx, id)
				requireCode(t, err, control.FileSystemNotFound)
				return
			}
			require.NoError(t, err)
			if tc.want != nil {
				tc.want(t, d)
			}
		})
	}
}

func TestCreationTokenIdempotency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{CreationToken: "t1"})
	id, err := e.ctl.NewFileSystemID(ctx)
	require.NoError(t, err)
	_, err = e.ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: "t1", Encrypted: true})
	requireCode(t, err, control.FileSystemAlreadyExists)
	var ce *control.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, d.ID, ce.FileSystemID)

	// Concurrent creations with one token make one file system.
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			id, err := e.ctl.NewFileSystemID(ctx)
			require.NoError(t, err)
			if d, err := e.ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: "t2"}); err == nil {
				ids <- d.ID
			} else {
				requireCode(t, err, control.FileSystemAlreadyExists)
			}
		})
	}
	wg.Wait()
	close(ids)
	require.Len(t, ids, 1)

	// After deletion the token is free again.
	require.NoError(t, e.ctl.DeleteFileSystem(ctx, d.ID))
	e.create(t, control.CreateFileSystemInput{CreationToken: "t1"})
}

func TestFileSystemLimit(t *testing.T) {
	e := newEnv(t, func(c *control.Config) { c.MaxFileSystems = 2 })
	ctx := context.Background()
	e.create(t, control.CreateFileSystemInput{})
	d := e.create(t, control.CreateFileSystemInput{})
	id, _ := e.ctl.NewFileSystemID(ctx)
	_, err := e.ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: "x"})
	requireCode(t, err, control.FileSystemLimitExceeded)
	require.NoError(t, e.ctl.DeleteFileSystem(ctx, d.ID))
	e.create(t, control.CreateFileSystemInput{})
}

func TestDescribePagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := map[string]bool{}
	for range 7 {
		want[e.create(t, control.CreateFileSystemInput{}).ID] = true
	}
	got := map[string]bool{}
	markers := map[string]bool{}
	marker := ""
	for {
		page, err := e.ctl.DescribeFileSystems(ctx, control.DescribeFileSystemsInput{Marker: marker, MaxItems: 3})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.FileSystems), 3)
		for _, f := range page.FileSystems {
			require.False(t, got[f.ID], "repeated %s", f.ID)
			got[f.ID] = true
		}
		if page.NextMarker == "" {
			break
		}
		require.False(t, markers[page.NextMarker], "repeated marker")
		markers[page.NextMarker] = true
		marker = page.NextMarker
	}
	require.Equal(t, want, got)
	_, err := e.ctl.DescribeFileSystems(ctx, control.DescribeFileSystemsInput{Marker: "garbage!"})
	requireCode(t, err, control.BadRequest)
	_, err = e.ctl.DescribeFileSystems(ctx, control.DescribeFileSystemsInput{FileSystemID: "fs-00000000000000000"})
	requireCode(t, err, control.FileSystemNotFound)
	_, err = e.ctl.DescribeFileSystems(ctx, control.DescribeFileSystemsInput{CreationToken: "nope"})
	requireCode(t, err, control.FileSystemNotFound)
}

func TestUpdateFileSystem(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{ThroughputMode: "provisioned", ProvisionedThroughputInMiBps: f64(100)})
	for _, step := range []struct {
		name    string
		advance time.Duration
		in      control.UpdateFileSystemInput
		code    control.Code
	}{
		{"nothing", 0, control.UpdateFileSystemInput{}, control.BadRequest},
		{"increase", 0, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(200)}, 0},
		{"increase again", 0, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(300)}, 0},
		{"decrease", 0, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(150)}, 0},
		{"decrease within 24h", time.Hour, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(120)}, control.TooManyRequests},
		{"increase within 24h", 0, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(400)}, 0},
		{"mode within 24h", 0, control.UpdateFileSystemInput{ThroughputMode: "elastic"}, control.TooManyRequests},
		{"mode after 24h", 24 * time.Hour, control.UpdateFileSystemInput{ThroughputMode: "elastic"}, 0},
		{"throughput with elastic", 0, control.UpdateFileSystemInput{ProvisionedThroughputInMiBps: f64(10)}, control.BadRequest},
		{"over limit", 48 * time.Hour, control.UpdateFileSystemInput{ThroughputMode: "provisioned", ProvisionedThroughputInMiBps: f64(9999)}, control.ThroughputLimitExceeded},
	} {
		e.clock.Advance(step.advance)
		_, err := e.ctl.UpdateFileSystem(ctx, d.ID, step.in)
		if step.code != 0 {
			requireCode(t, err, step.code)
		} else {
			require.NoError(t, err, step.name)
		}
	}
	got, err := e.ctl.FileSystem(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, "elastic", got.ThroughputMode)
	require.Zero(t, got.ProvisionedThroughputInMiBps)
}

func TestMountTargetRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	oz := e.create(t, control.CreateFileSystemInput{AvailabilityZoneName: "us-east-1b"})
	sa, sb := e.subnet(t, "us-east-1a"), e.subnet(t, "us-east-1b")

	var events []control.MountTargetEvent
	var mu sync.Mutex
	cancel := e.ctl.SubscribeMountTargets(func(ev control.MountTargetEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	defer cancel()

	mt, err := e.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sa})
	require.NoError(t, err)
	require.Equal(t, "127.0.1.4", mt.IPAddress.String(), "the first four addresses are reserved")
	require.Regexp(t, `^fsmt-[0-9a-f]{17}$`, mt.ID)
	require.Regexp(t, `^eni-[0-9a-f]{17}$`, mt.NetworkInterfaceID)
	require.Equal(t, []string{e.ctl.DefaultSecurityGroupID(mt.VPCID)}, mt.SecurityGroups)
	got, err := e.ctl.MountTargetByIP(ctx, netip.MustParseAddr("127.0.1.4"))
	require.NoError(t, err)
	require.Equal(t, mt.ID, got.ID)

	other, err := e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "other"})
	require.NoError(t, err)
	six := make([]string, 6)
	for i := range six {
		six[i] = other.ID
		if i > 0 {
			g, err := e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: fmt.Sprint("g", i)})
			require.NoError(t, err)
			six[i] = g.ID
		}
	}

	for _, tc := range []struct {
		name string
		in   control.CreateMountTargetInput
		code control.Code
	}{
		{"same zone", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sa}, control.MountTargetConflict},
		{"unknown subnet", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: "subnet-0123456789abcdef0"}, control.SubnetNotFound},
		{"unknown fs", control.CreateMountTargetInput{FileSystemID: "fs-0123456789abcdef0", SubnetID: sb}, control.FileSystemNotFound},
		{"address in use", control.CreateMountTargetInput{FileSystemID: oz.ID, SubnetID: sb, IPAddress: netip.MustParseAddr("127.0.2.4")}, 0},
		{"address taken", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, IPAddress: netip.MustParseAddr("127.0.2.4")}, control.IpAddressInUse},
		{"reserved address", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, IPAddress: netip.MustParseAddr("127.0.2.3")}, control.BadRequest},
		{"broadcast", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, IPAddress: netip.MustParseAddr("127.0.2.255")}, control.BadRequest},
		{"outside subnet", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, IPAddress: netip.MustParseAddr("127.0.1.9")}, control.BadRequest},
		{"six groups", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, SecurityGroups: six}, control.SecurityGroupLimitExceeded},
		{"unknown group", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, SecurityGroups: []string{"sg-0123456789abcdef0"}}, control.SecurityGroupNotFound},
		{"ipv6", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, IPAddressType: "IPV6_ONLY"}, control.BadRequest},
		{"one zone elsewhere", control.CreateMountTargetInput{FileSystemID: oz.ID, SubnetID: sa}, control.AvailabilityZonesMismatch},
		{"second zone", control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: sb, SecurityGroups: six[:5], IPAddress: netip.MustParseAddr("127.0.2.200")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ctl.CreateMountTarget(ctx, tc.in)
			if tc.code != 0 {
				requireCode(t, err, tc.code)
			} else {
				require.NoError(t, err)
			}
		})
	}

	// Another VPC conflicts.
	e2 := newEnv(t, func(c *control.Config) {
		c.VPCs = []control.VPCConfig{{ID: "vpc-0000000000000000a", CIDR: netip.MustParsePrefix("10.9.0.0/16"),
			Subnets: []control.SubnetConfig{{ID: "subnet-0000000000000000c", CIDR: netip.MustParsePrefix("10.9.3.0/28"), AvailabilityZone: "us-east-1c"}}}}
	})
	d2 := e2.create(t, control.CreateFileSystemInput{})
	_, err = e2.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d2.ID, SubnetID: e2.subnet(t, "us-east-1a")})
	require.NoError(t, err)
	_, err = e2.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d2.ID, SubnetID: "subnet-0000000000000000c"})
	requireCode(t, err, control.MountTargetConflict)
	// A /28 has 16 - 5 usable addresses.
	for i := range 11 {
		f := e2.create(t, control.CreateFileSystemInput{})
		_, err := e2.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: f.ID, SubnetID: "subnet-0000000000000000c"})
		require.NoError(t, err, "address %d", i)
	}
	f := e2.create(t, control.CreateFileSystemInput{})
	_, err = e2.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: f.ID, SubnetID: "subnet-0000000000000000c"})
	requireCode(t, err, control.NoFreeAddressesInSubnet)

	// In use: no deletion.
	requireCode(t, e.ctl.DeleteFileSystem(ctx, d.ID), control.FileSystemInUse)
	page, err := e.ctl.DescribeMountTargets(ctx, control.DescribeMountTargetsInput{FileSystemID: d.ID})
	require.NoError(t, err)
	require.Len(t, page.MountTargets, 2)
	requireCode(t, e.ctl.ModifyMountTargetSecurityGroups(ctx, mt.ID, six), control.SecurityGroupLimitExceeded)
	require.NoError(t, e.ctl.ModifyMountTargetSecurityGroups(ctx, mt.ID, []string{other.ID}))
	sgs, err := e.ctl.MountTargetSecurityGroups(ctx, mt.ID)
	require.NoError(t, err)
	require.Equal(t, []string{other.ID}, sgs)
	requireCode(t, e.ctl.DeleteSecurityGroup(ctx, other.ID), control.NetDependencyViolation)
	for _, m := range page.MountTargets {
		require.NoError(t, e.ctl.DeleteMountTarget(ctx, m.ID))
	}
	requireCode(t, e.ctl.DeleteMountTarget(ctx, mt.ID), control.MountTargetNotFound)
	require.NoError(t, e.ctl.DeleteFileSystem(ctx, d.ID))
	_, err = e.ctl.MountTargetByIP(ctx, netip.MustParseAddr("127.0.1.4"))
	requireCode(t, err, control.MountTargetNotFound)
	require.NoError(t, e.ctl.DeleteSecurityGroup(ctx, other.ID))

	mu.Lock()
	defer mu.Unlock()
	kinds := []control.MountTargetEventKind{}
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	require.Equal(t, []control.MountTargetEventKind{control.MountTargetAdded, control.MountTargetAdded, control.MountTargetAdded,
		control.MountTargetChanged, control.MountTargetRemoved, control.MountTargetRemoved}, kinds)
}

func TestSecurityGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	mt, err := e.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: e.subnet(t, "us-east-1a")})
	require.NoError(t, err)
	ok, err := e.ctl.IngressAllowed(ctx, mt.ID, netip.MustParseAddr("127.0.0.1"), 2049)
	require.NoError(t, err)
	require.True(t, ok, "the default group allows NFS from loopback")
	ok, err = e.ctl.IngressAllowed(ctx, mt.ID, netip.MustParseAddr("127.0.0.1"), 22)
	require.NoError(t, err)
	require.False(t, ok)

	g, err := e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "nfs", Description: "d"})
	require.NoError(t, err)
	_, err = e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "nfs"})
	requireCode(t, err, control.NetInvalidGroupDuplicate)
	rule := control.Rule{Protocol: "tcp", FromPort: 2049, ToPort: 2049, CIDR: netip.MustParsePrefix("127.0.0.5/32")}
	_, err = e.ctl.AuthorizeIngress(ctx, g.ID, []control.Rule{rule})
	require.NoError(t, err)
	_, err = e.ctl.AuthorizeIngress(ctx, g.ID, []control.Rule{rule})
	requireCode(t, err, control.NetInvalidPermissionDuplicate)
	_, err = e.ctl.AuthorizeIngress(ctx, g.ID, []control.Rule{{Protocol: "tcp", FromPort: 10, ToPort: 1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}})
	requireCode(t, err, control.NetInvalidParameterValue)
	require.NoError(t, e.ctl.ModifyMountTargetSecurityGroups(ctx, mt.ID, []string{g.ID}))
	for addr, want := range map[string]bool{"127.0.0.5": true, "127.0.0.6": false} {
		ok, err := e.ctl.IngressAllowed(ctx, mt.ID, netip.MustParseAddr(addr), 2049)
		require.NoError(t, err)
		require.Equal(t, want, ok, addr)
	}
	_, err = e.ctl.RevokeIngress(ctx, g.ID, []control.Rule{rule})
	require.NoError(t, err)
	_, err = e.ctl.RevokeIngress(ctx, g.ID, []control.Rule{rule})
	requireCode(t, err, control.NetInvalidPermissionNotFound)
	requireCode(t, e.ctl.DeleteSecurityGroup(ctx, e.ctl.DefaultSecurityGroupID(mt.VPCID)), control.NetCannotDelete)
	require.Len(t, e.ctl.VPCs(), 1)
	require.Len(t, e.ctl.AvailabilityZones(), 3)
}

func TestSecurityGroupClients(t *testing.T) {
	e := newEnv(t, func(c *control.Config) {
		c.Clients = []control.ClientConfig{
			{CIDR: netip.MustParsePrefix("127.0.0.64/26"), Groups: []string{"app-servers"}},
			{CIDR: netip.MustParsePrefix("127.0.0.200/32"), Groups: []string{"default"}},
		}
	})
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	mt, err := e.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: e.subnet(t, "us-east-1a")})
	require.NoError(t, err)
	apps, err := e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "app-servers", Description: "clients"})
	require.NoError(t, err)
	nfs, err := e.ctl.CreateSecurityGroup(ctx, control.CreateSecurityGroupInput{Name: "efs", Description: "mount targets"})
	require.NoError(t, err)
	// The mount target admits NFS from members of app-servers, and from
	// members of the default group.
	_, err = e.ctl.AuthorizeIngress(ctx, nfs.ID, []control.Rule{
		{Protocol: "tcp", FromPort: 2049, ToPort: 2049, SourceGroupID: apps.ID},
		{Protocol: "tcp", FromPort: 2049, ToPort: 2049, SourceGroupID: e.ctl.DefaultSecurityGroupID(mt.VPCID)},
	})
	require.NoError(t, err)
	require.NoError(t, e.ctl.ModifyMountTargetSecurityGroups(ctx, mt.ID, []string{nfs.ID}))
	for addr, want := range map[string]bool{"127.0.0.64": true, "127.0.0.127": true, "127.0.0.128": false, "127.0.0.1": false, "127.0.0.200": true} {
		ok, err := e.ctl.IngressAllowed(ctx, mt.ID, netip.MustParseAddr(addr), 2049)
		require.NoError(t, err)
		require.Equal(t, want, ok, addr)
	}
}

func TestAccessPointRules(t *testing.T) {
	e := newEnv(t, func(c *control.Config) { c.MaxAccessPointsPerFileSystem = 3 })
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	ok := func(p string) *control.RootDirectory { return &control.RootDirectory{Path: p} }
	for _, tc := range []struct {
		name string
		in   control.CreateAccessPointInput
		code control.Code
	}{
		{"root", control.CreateAccessPointInput{}, 0},
		{"path", control.CreateAccessPointInput{RootDirectory: &control.RootDirectory{Path: "/a/b/c/d",
			CreationInfo: &control.CreationInfo{OwnerUID: 1, OwnerGID: 2, Permissions: "0755"}},
			PosixUser: &control.PosixUser{UID: 1000, GID: 1000, SecondaryGIDs: []uint32{1, 2}}}, 0},
		{"five components", control.CreateAccessPointInput{RootDirectory: ok("/a/b/c/d/e")}, control.BadRequest},
		{"dot", control.CreateAccessPointInput{RootDirectory: ok("/a/.b")}, control.BadRequest},
		{"trailing slash", control.CreateAccessPointInput{RootDirectory: ok("/a/")}, control.BadRequest},
		{"bad char", control.CreateAccessPointInput{RootDirectory: ok("/a$b")}, control.BadRequest},
		{"long", control.CreateAccessPointInput{RootDirectory: ok("/" + strings.Repeat("x", 100))}, control.BadRequest},
		{"permissions", control.CreateAccessPointInput{RootDirectory: &control.RootDirectory{Path: "/x",
			CreationInfo: &control.CreationInfo{Permissions: "0789"}}}, control.BadRequest},
		{"gids", control.CreateAccessPointInput{PosixUser: &control.PosixUser{SecondaryGIDs: make([]uint32, 17)}}, control.BadRequest},
		{"unknown fs", control.CreateAccessPointInput{FileSystemID: "fs-0123456789abcdef0"}, control.FileSystemNotFound},
		{"third", control.CreateAccessPointInput{Tags: []control.Tag{{Key: "Name", Value: "ap"}}}, 0},
		{"limit", control.CreateAccessPointInput{}, control.AccessPointLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.FileSystemID == "" {
				tc.in.FileSystemID = d.ID
			}
			tc.in.ClientToken = tc.name
			ap, err := e.ctl.CreateAccessPoint(ctx, tc.in)
			if tc.code != 0 {
				requireCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
			require.Regexp(t, `^fsap-[0-9a-f]{17}$`, ap.ID)
			got, err := e.ctl.AccessPoint(ctx, ap.ARN)
			require.NoError(t, err)
			require.Equal(t, ap, got)
		})
	}
	_, err := e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "root", FileSystemID: d.ID})
	requireCode(t, err, control.AccessPointAlreadyExists)
	var ce *control.Error
	require.ErrorAs(t, err, &ce)
	require.NotEmpty(t, ce.AccessPointID)
	require.NoError(t, e.ctl.DeleteAccessPoint(ctx, ce.AccessPointID))
	requireCode(t, e.ctl.DeleteAccessPoint(ctx, ce.AccessPointID), control.AccessPointNotFound)
	_, err = e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "again", FileSystemID: d.ID})
	require.NoError(t, err)
	page, err := e.ctl.DescribeAccessPoints(ctx, control.DescribeAccessPointsInput{FileSystemID: d.ID, MaxResults: 2})
	require.NoError(t, err)
	require.Len(t, page.AccessPoints, 2)
	require.NotEmpty(t, page.NextToken)
	page2, err := e.ctl.DescribeAccessPoints(ctx, control.DescribeAccessPointsInput{FileSystemID: d.ID, MaxResults: 2, NextToken: page.NextToken})
	require.NoError(t, err)
	require.Len(t, page2.AccessPoints, 1)
	require.Empty(t, page2.NextToken)
	// Deleting the file system deletes its access points.
	require.NoError(t, e.ctl.DeleteFileSystem(ctx, d.ID))
	all, err := e.ctl.DescribeAccessPoints(ctx, control.DescribeAccessPointsInput{})
	require.NoError(t, err)
	require.Empty(t, all.AccessPoints)
}

func TestPolicies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	_, err := e.ctl.DescribeFileSystemPolicy(ctx, d.ID)
	requireCode(t, err, control.PolicyNotFound)
	good := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}]}`
	root := iam.Principal{ARN: "arn:aws:iam::123456789012:root", IsRoot: true}
	alice := iam.Principal{ARN: "arn:aws:iam::123456789012:user/alice"}
	denyPut := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"elasticfilesystem:PutFileSystemPolicy","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}]}`
	for _, tc := range []struct {
		name, policy string
		caller       iam.Principal
		bypass       bool
		code         control.Code
	}{
		{name: "not json", policy: "{", code: control.InvalidPolicyException},
		{name: "not object", policy: `[1]`, code: control.InvalidPolicyException},
		{name: "no statement", policy: `{"Version":"2012-10-17"}`, code: control.InvalidPolicyException},
		{name: "bad effect", policy: `{"Statement":{"Effect":"Maybe"}}`, code: control.InvalidPolicyException},
		{name: "no principal", policy: `{"Statement":{"Effect":"Allow","Action":"elasticfilesystem:ClientMount"}}`, code: control.InvalidPolicyException},
		{name: "trailing", policy: good + "x", code: control.InvalidPolicyException},
		{name: "too long", policy: `{"Statement":{"Effect":"Allow","Sid":"` + strings.Repeat("é", 20000) + `"}}`, code: control.ValidationException},
		{name: "locks the caller out", policy: denyPut, caller: alice, code: control.InvalidPolicyException},
		{name: "bypass", policy: denyPut, caller: alice, bypass: true},
		{name: "does not lock root out", policy: denyPut, caller: root},
		{name: "good", policy: good, caller: alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ctl.PutFileSystemPolicy(ctx, control.PutFileSystemPolicyInput{FileSystemID: d.ID, Policy: tc.policy,
				Caller: tc.caller, BypassLockoutSafetyCheck: tc.bypass})
			if tc.code != 0 {
				requireCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
		})
	}
	p, err := e.ctl.DescribeFileSystemPolicy(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, good, p)
	require.NoError(t, e.ctl.DeleteFileSystemPolicy(ctx, d.ID))
	require.NoError(t, e.ctl.DeleteFileSystemPolicy(ctx, d.ID))
	_, err = e.ctl.DescribeFileSystemPolicy(ctx, d.ID)
	requireCode(t, err, control.PolicyNotFound)
}

func TestLifecycleAndBackup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	el := e.create(t, control.CreateFileSystemInput{ThroughputMode: "elastic"})
	for _, tc := range []struct {
		name string
		fs   string
		in   []control.LifecyclePolicy
		code control.Code
	}{
		{"ia", d.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_30_DAYS"}, {TransitionToPrimaryStorageClass: "AFTER_1_ACCESS"}}, 0},
		{"two in one", d.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_30_DAYS", TransitionToPrimaryStorageClass: "AFTER_1_ACCESS"}}, control.BadRequest},
		{"empty object", d.ID, []control.LifecyclePolicy{{}}, control.BadRequest},
		{"duplicate", d.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_30_DAYS"}, {TransitionToIA: "AFTER_7_DAYS"}}, control.BadRequest},
		{"archive needs elastic", d.ID, []control.LifecyclePolicy{{TransitionToArchive: "AFTER_90_DAYS"}}, control.BadRequest},
		{"archive before ia", el.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_90_DAYS"}, {TransitionToArchive: "AFTER_30_DAYS"}}, control.BadRequest},
		{"archive", el.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_30_DAYS"}, {TransitionToArchive: "AFTER_90_DAYS"}}, 0},
		{"bad value", d.ID, []control.LifecyclePolicy{{TransitionToIA: "AFTER_2_DAYS"}}, control.BadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ctl.PutLifecycleConfiguration(ctx, tc.fs, tc.in)
			if tc.code != 0 {
				requireCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
			got, err := e.ctl.LifecycleConfiguration(ctx, tc.fs)
			require.NoError(t, err)
			require.Equal(t, tc.in, got)
		})
	}
	got, err := e.ctl.PutLifecycleConfiguration(ctx, d.ID, nil)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = e.ctl.UpdateFileSystem(ctx, el.ID, control.UpdateFileSystemInput{ThroughputMode: "bursting"})
	requireCode(t, err, control.BadRequest)

	b, err := e.ctl.BackupPolicy(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, control.StatusDisabled, b)
	_, err = e.ctl.PutBackupPolicy(ctx, d.ID, "ENABLING")
	requireCode(t, err, control.BadRequest)
	b, err = e.ctl.PutBackupPolicy(ctx, d.ID, "ENABLED")
	require.NoError(t, err)
	require.Equal(t, "ENABLED", b)
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{Tags: []control.Tag{{Key: "Name", Value: "a"}}})
	res, err := e.ctl.ResolveResource(d.ARN)
	require.NoError(t, err)
	require.NoError(t, e.ctl.TagResource(ctx, res, []control.Tag{{Key: "Name", Value: "b"}, {Key: "x", Value: "1"}}))
	got, err := e.ctl.FileSystem(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, "b", got.Name)
	require.NoError(t, e.ctl.UntagResource(ctx, res, []string{"Name", "missing"}))
	tags, err := e.ctl.Tags(ctx, res)
	require.NoError(t, err)
	require.Equal(t, []control.Tag{{Key: "x", Value: "1"}}, tags)
	many := make([]control.Tag, 50)
	for i := range many {
		many[i] = control.Tag{Key: fmt.Sprint("k", i), Value: "v"}
	}
	requireCode(t, e.ctl.TagResource(ctx, res, many), control.BadRequest)
	require.NoError(t, e.ctl.TagResource(ctx, res, many[:49]))
	page, err := e.ctl.ListTags(ctx, res, "", 20)
	require.NoError(t, err)
	n := len(page.Tags)
	for page.Next != "" {
		page, err = e.ctl.ListTags(ctx, res, page.Next, 20)
		require.NoError(t, err)
		n += len(page.Tags)
	}
	require.Equal(t, 50, n)
	_, err = e.ctl.ResolveResource("arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/" + d.ID)
	requireCode(t, err, control.FileSystemNotFound)
	res2, err := e.ctl.ResolveResource("fsap-0123456789abcdef0")
	require.NoError(t, err)
	requireCode(t, e.ctl.TagResource(ctx, res2, many[:1]), control.AccessPointNotFound)
}

func TestReplication(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.create(t, control.CreateFileSystemInput{Encrypted: true})
	_, err := e.ctl.DescribeReplicationConfigurations(ctx, src.ID, "", 0)
	requireCode(t, err, control.ReplicationNotFound)
	_, err = e.ctl.CreateReplicationConfiguration(ctx, src.ID, []control.DestinationInput{{Region: "eu-west-1"}})
	requireCode(t, err, control.BadRequest)
	rc, err := e.ctl.CreateReplicationConfiguration(ctx, src.ID, []control.DestinationInput{{}})
	require.NoError(t, err)
	require.Len(t, rc.Destinations, 1)
	require.Equal(t, control.ReplicationEnabling, rc.Destinations[0].Status)
	dst, err := e.ctl.FileSystem(ctx, rc.Destinations[0].FileSystemID)
	require.NoError(t, err)
	require.True(t, dst.Encrypted)
	require.Equal(t, control.ProtectionReplicating, dst.ReplicationOverwriteProtection)
	_, err = e.ctl.UpdateFileSystemProtection(ctx, dst.ID, control.ProtectionEnabled)
	requireCode(t, err, control.ReplicationAlreadyExists)
	requireCode(t, e.ctl.DeleteFileSystem(ctx, src.ID), control.FileSystemInUse)
	page, err := e.ctl.DescribeReplicationConfigurations(ctx, dst.ID, "", 0)
	require.NoError(t, err)
	require.Equal(t, src.ID, page.Replications[0].SourceFileSystemID)
	requireCode(t, e.ctl.DeleteReplicationConfiguration(ctx, src.ID, control.DeletionLocalConfigurationOnly), control.BadRequest)
	require.NoError(t, e.ctl.DeleteReplicationConfiguration(ctx, src.ID, ""))
	dst, err = e.ctl.FileSystem(ctx, dst.ID)
	require.NoError(t, err)
	require.Equal(t, control.ProtectionEnabled, dst.ReplicationOverwriteProtection)

	// An existing destination needs protection DISABLED.
	plain := e.create(t, control.CreateFileSystemInput{Encrypted: true})
	_, err = e.ctl.CreateReplicationConfiguration(ctx, src.ID, []control.DestinationInput{{FileSystemID: plain.ID}})
	requireCode(t, err, control.BadRequest)
	p, err := e.ctl.UpdateFileSystemProtection(ctx, plain.ID, control.ProtectionDisabled)
	require.NoError(t, err)
	require.Equal(t, control.ProtectionDisabled, p)
	unenc := e.create(t, control.CreateFileSystemInput{})
	_, err = e.ctl.UpdateFileSystemProtection(ctx, unenc.ID, control.ProtectionDisabled)
	require.NoError(t, err)
	_, err = e.ctl.CreateReplicationConfiguration(ctx, src.ID, []control.DestinationInput{{FileSystemID: unenc.ID}})
	requireCode(t, err, control.ConflictException)
	_, err = e.ctl.CreateReplicationConfiguration(ctx, src.ID, []control.DestinationInput{{FileSystemID: plain.ID}})
	require.NoError(t, err)
	require.NoError(t, e.ctl.SetReplicationStatus(ctx, src.ID, control.ReplicationEnabled, "", e.clock.Now()))
	all, err := e.ctl.DescribeReplicationConfigurations(ctx, "", "", 0)
	require.NoError(t, err)
	require.Len(t, all.Replications, 1)
	require.Equal(t, control.ReplicationEnabled, all.Replications[0].Destinations[0].Status)
}

func TestAccountPreferences(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, err := e.ctl.AccountPreferences(ctx)
	require.NoError(t, err)
	require.Equal(t, control.ResourceIDLong, p)
	_, err = e.ctl.PutAccountPreferences(ctx, "MEDIUM_ID")
	requireCode(t, err, control.BadRequest)
	_, err = e.ctl.PutAccountPreferences(ctx, control.ResourceIDShort)
	require.NoError(t, err)
	d := e.create(t, control.CreateFileSystemInput{})
	require.Regexp(t, `^fs-[0-9a-f]{8}$`, d.ID)
}

func TestRecoveryAfterCrash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.create(t, control.CreateFileSystemInput{})
	// Simulate a crash after the record was written in creating, before
	// the contents existed: delete the contents and reset the state.
	require.NoError(t, e.fs.DeleteFileSystem(ctx, d.ID))
	require.NoError(t, control.ForceState(ctx, e.meta, d.ID, control.StateCreating))
	ctl, err := control.New(ctx, e.meta, e.fs, e.kms, control.Config{Account: account, Region: region}, control.Options{Clock: e.clock})
	require.NoError(t, err)
	got, err := ctl.FileSystem(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, control.StateAvailable, got.LifeCycleState)
	_, err = e.fs.FileSystem(ctx, d.ID)
	require.NoError(t, err)

	require.NoError(t, control.ForceState(ctx, e.meta, d.ID, control.StateDeleting))
	ctl, err = control.New(ctx, e.meta, e.fs, e.kms, control.Config{Account: account, Region: region}, control.Options{Clock: e.clock})
	require.NoError(t, err)
	_, err = ctl.FileSystem(ctx, d.ID)
	requireCode(t, err, control.FileSystemNotFound)
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range control.Codes() {
		require.NotContains(t, c.String(), "Code(")
		if c >= control.NetInvalidVPCNotFound {
			continue // EC2 codes may repeat EFS names (SecurityGroupLimitExceeded)
		}
		require.False(t, seen[c.String()], c.String())
		seen[c.String()] = true
	}
}
