package ec2api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/ec2api"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const account = "123456789012"

type keys map[string]edge.Principal

func (k keys) Lookup(_ context.Context, id string) (edge.Principal, string, error) {
	p, ok := k[id]
	if !ok {
		return edge.Principal{}, "", edge.ErrUnknownAccessKey
	}
	return p, "secret-" + id, nil
}

// denyBob allows everyone but the user bob.
type denyBob struct {
	mu      sync.Mutex
	actions []string
}

func (d *denyBob) Authorize(_ context.Context, call *edge.Call, action, resource string, _ map[string][]string) error {
	d.mu.Lock()
	d.actions = append(d.actions, action+" "+resource)
	d.mu.Unlock()
	if call.Principal.UserName == "bob" {
		return fmt.Errorf("%w: bob", edge.ErrAccessDenied)
	}
	return nil
}

type memAudit struct {
	mu     sync.Mutex
	events []*audit.Event
}

func (m *memAudit) Append(_ context.Context, e *audit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	return nil
}

func (m *memAudit) last() *audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events[len(m.events)-1]
}

type env struct {
	root, bob *ec2.Client
	audit     *memAudit
	authz     *denyBob
	net       *control.Service
	svc       *ec2api.Service
}

func setup(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	netw, err := control.New(ctx, m, nil, nil, control.Config{Account: account, Region: "us-east-1"}, control.Options{})
	require.NoError(t, err)
	e := &env{audit: &memAudit{}, authz: &denyBob{}, net: netw}
	e.svc = ec2api.New(netw, e.authz, nil, ec2api.Config{Account: account, Region: "us-east-1"})
	srv, err := edge.New(edge.Deps{
		Credentials: keys{
			"AKIAROOT": {Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account, AccessKeyID: "AKIAROOT", IsRoot: true},
			"AKIABOB":  {Account: account, ARN: "arn:aws:iam::" + account + ":user/bob", UserName: "bob", UserID: "AIDABOB", AccessKeyID: "AKIABOB"},
		},
		Audit: e.audit, Account: account, Region: "us-east-1",
	}, config.API{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Register(e.svc))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, srv.Close())
	})
	client := func(key string) *ec2.Client {
		return ec2.NewFromConfig(aws.Config{
			Region:           "us-east-1",
			Credentials:      credentials.NewStaticCredentialsProvider(key, "secret-"+key, ""),
			RetryMaxAttempts: 1,
		}, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	}
	e.root, e.bob = client("AKIAROOT"), client("AKIABOB")
	return e
}

func apiCode(t *testing.T, err error) (string, int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	return ae.ErrorCode(), re.HTTPStatusCode()
}

func TestDescribeNetwork(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	zones, err := e.root.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	require.NoError(t, err)
	var names []string
	for _, z := range zones.AvailabilityZones {
		names = append(names, aws.ToString(z.ZoneName)+"="+aws.ToString(z.ZoneId))
		require.Equal(t, types.AvailabilityZoneStateAvailable, z.State)
		require.Equal(t, "us-east-1", aws.ToString(z.RegionName))
	}
	require.Equal(t, []string{"us-east-1a=use1-az1", "us-east-1b=use1-az2", "us-east-1c=use1-az3"}, names)
	one, err := e.root.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1b"}})
	require.NoError(t, err)
	require.Len(t, one.AvailabilityZones, 1)
	_, err = e.root.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1z"}})
	code, _ := apiCode(t, err)
	require.Equal(t, "InvalidParameterValue", code)

	vpcs, err := e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	v := vpcs.Vpcs[0]
	require.True(t, aws.ToBool(v.IsDefault))
	require.Equal(t, "127.0.0.0/16", aws.ToString(v.CidrBlock))
	require.Equal(t, types.VpcStateAvailable, v.State)
	require.Equal(t, account, aws.ToString(v.OwnerId))
	require.Regexp(t, `^vpc-[0-9a-f]{17}$`, aws.ToString(v.VpcId))
	vpcID := aws.ToString(v.VpcId)

	filtered, err := e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.Len(t, filtered.Vpcs, 1)
	none, err := e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("cidr"), Values: []string{"10.*"}}}})
	require.NoError(t, err)
	require.Empty(t, none.Vpcs)
	_, err = e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0000000000000000f"}})
	code, status := apiCode(t, err)
	require.Equal(t, "InvalidVpcID.NotFound", code)
	require.Equal(t, 400, status)
	_, err = e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"nope"}})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidVpcID.Malformed", code)
	_, err = e.root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"x"}}}})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidParameterValue", code)

	subnets, err := e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 3)
	byZone := map[string]types.Subnet{}
	for _, sn := range subnets.Subnets {
		byZone[aws.ToString(sn.AvailabilityZone)] = sn
		require.Equal(t, vpcID, aws.ToString(sn.VpcId))
		require.EqualValues(t, 251, aws.ToInt32(sn.AvailableIpAddressCount))
		require.True(t, aws.ToBool(sn.DefaultForAz))
		require.Equal(t, "arn:aws:ec2:us-east-1:"+account+":subnet/"+aws.ToString(sn.SubnetId), aws.ToString(sn.SubnetArn))
	}
	require.Equal(t, "127.0.1.0/24", aws.ToString(byZone["us-east-1a"].CidrBlock))
	require.Equal(t, "127.0.2.0/24", aws.ToString(byZone["us-east-1b"].CidrBlock))
	require.Equal(t, "127.0.3.0/24", aws.ToString(byZone["us-east-1c"].CidrBlock))
	require.Equal(t, "use1-az3", aws.ToString(byZone["us-east-1c"].AvailabilityZoneId))

	b, err := e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		{Name: aws.String("availability-zone"), Values: []string{"us-east-1b"}},
		{Name: aws.String("vpc-id"), Values: []string{vpcID}},
	}})
	require.NoError(t, err)
	require.Len(t, b.Subnets, 1)
	require.Equal(t, "127.0.2.0/24", aws.ToString(b.Subnets[0].CidrBlock))
	wild, err := e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("cidr-block"), Values: []string{"127.0.?.0/24"}}}})
	require.NoError(t, err)
	require.Len(t, wild.Subnets, 3)
	byID, err := e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(byZone["us-east-1a"].SubnetId)}})
	require.NoError(t, err)
	require.Len(t, byID.Subnets, 1)
	_, err = e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-00000000000000000"}})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidSubnetID.NotFound", code)

	groups, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1)
	def := groups.SecurityGroups[0]
	require.Equal(t, vpcID, aws.ToString(def.VpcId))
	require.Len(t, def.IpPermissions, 1)
	p := def.IpPermissions[0]
	require.Equal(t, "tcp", aws.ToString(p.IpProtocol))
	require.EqualValues(t, 2049, aws.ToInt32(p.FromPort))
	require.EqualValues(t, 2049, aws.ToInt32(p.ToPort))
	require.Equal(t, "127.0.0.0/8", aws.ToString(p.IpRanges[0].CidrIp))
	require.Len(t, def.IpPermissionsEgress, 1)

	// Every call was authorized as ec2:<Action> and recorded.
	require.Contains(t, e.authz.actions, "ec2:DescribeSubnets *")
	ev := e.audit.last()
	require.Equal(t, "DescribeSecurityGroups", ev.EventName)
	require.True(t, ev.ReadOnly)
	require.JSONEq(t, `{"securityGroupSet":{"items":[{"groupName":"default"}]}}`, string(ev.RequestParameters))
}

func TestSecurityGroupLifecycle(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	created, err := e.root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("nfs-clients"), Description: aws.String("NFS from the office"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}}}},
	})
	require.NoError(t, err)
	gid := aws.ToString(created.GroupId)
	require.Regexp(t, `^sg-[0-9a-f]{17}$`, gid)
	require.Equal(t, "arn:aws:ec2:us-east-1:"+account+":security-group/"+gid, aws.ToString(created.SecurityGroupArn))
	require.Len(t, created.Tags, 1)
	ev := e.audit.last()
	require.Equal(t, "CreateSecurityGroup", ev.EventName)
	require.False(t, ev.ReadOnly)
	require.JSONEq(t, `{"groupName":"nfs-clients","groupDescription":"NFS from the office"}`, string(ev.RequestParameters))
	require.Contains(t, string(ev.ResponseElements), gid)
	require.Equal(t, "AWS::EC2::SecurityGroup", ev.Resources[0].Type)

	_, err = e.root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("nfs-clients"), Description: aws.String("again")})
	code, _ := apiCode(t, err)
	require.Equal(t, "InvalidGroup.Duplicate", code)
	require.Equal(t, "InvalidGroup.Duplicate", e.audit.last().ErrorCode)

	other, err := e.root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("other"), Description: aws.String("x")})
	require.NoError(t, err)
	otherID := aws.ToString(other.GroupId)

	auth, err := e.root.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(gid),
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2049), ToPort: aws.Int32(2049),
			IpRanges:         []types.IpRange{{CidrIp: aws.String("10.0.0.0/8"), Description: aws.String("office")}, {CidrIp: aws.String("192.168.0.0/16")}},
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(otherID)}},
		}},
	})
	require.NoError(t, err)
	require.True(t, aws.ToBool(auth.Return))
	require.Len(t, auth.SecurityGroupRules, 3)
	require.Equal(t, "10.0.0.0/8", aws.ToString(auth.SecurityGroupRules[0].CidrIpv4))
	require.Equal(t, otherID, aws.ToString(auth.SecurityGroupRules[2].ReferencedGroupInfo.GroupId))
	ruleID := aws.ToString(auth.SecurityGroupRules[1].SecurityGroupRuleId)
	require.Regexp(t, `^sgr-[0-9a-f]{17}$`, ruleID)

	// The legacy top-level form.
	_, err = e.root.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupName: aws.String("nfs-clients"), IpProtocol: aws.String("udp"), FromPort: aws.Int32(111), ToPort: aws.Int32(111), CidrIp: aws.String("10.1.0.0/16"),
	})
	require.NoError(t, err)

	_, err = e.root.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId:       aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2049), ToPort: aws.Int32(2049), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}},
	})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidPermission.Duplicate", code)
	_, err = e.root.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId:       aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(2), IpRanges: []types.IpRange{{CidrIp: aws.String("300.0.0.0/8")}}}},
	})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidParameterValue", code)

	got, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{gid}})
	require.NoError(t, err)
	g := got.SecurityGroups[0]
	require.Equal(t, "nfs-clients", aws.ToString(g.GroupName))
	require.Equal(t, "NFS from the office", aws.ToString(g.Description))
	require.Len(t, g.IpPermissions, 2, "the three tcp/2049 rules are one permission")
	require.Len(t, g.IpPermissions[0].IpRanges, 2)
	require.Equal(t, "office", aws.ToString(g.IpPermissions[0].IpRanges[0].Description))
	require.Len(t, g.IpPermissions[0].UserIdGroupPairs, 1)

	byTag, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("tag:team"), Values: []string{"stor*"}}}})
	require.NoError(t, err)
	require.Len(t, byTag.SecurityGroups, 1)
	byRule, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("ip-permission.group-id"), Values: []string{otherID}}}})
	require.NoError(t, err)
	require.Len(t, byRule.SecurityGroups, 1)

	// other is referenced by a rule of nfs-clients.
	_, err = e.root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(otherID)})
	code, _ = apiCode(t, err)
	require.Equal(t, "DependencyViolation", code)

	rev, err := e.root.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2049), ToPort: aws.Int32(2049),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(otherID)}}}},
	})
	require.NoError(t, err)
	require.True(t, aws.ToBool(rev.Return))
	_, err = e.root.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(gid), SecurityGroupRuleIds: []string{ruleID}})
	require.NoError(t, err)
	_, err = e.root.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(gid), SecurityGroupRuleIds: []string{ruleID}})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidSecurityGroupRuleId.NotFound", code)
	_, err = e.root.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId:       aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}},
	})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidPermission.NotFound", code)

	got, err = e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{gid}})
	require.NoError(t, err)
	var left []string
	for _, p := range got.SecurityGroups[0].IpPermissions {
		for _, r := range p.IpRanges {
			left = append(left, aws.ToString(p.IpProtocol)+" "+aws.ToString(r.CidrIp))
		}
	}
	sort.Strings(left)
	require.Equal(t, []string{"tcp 10.0.0.0/8", "udp 10.1.0.0/16"}, left)

	_, err = e.root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(otherID)})
	require.NoError(t, err)
	_, err = e.root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("nfs-clients")})
	require.NoError(t, err)
	_, err = e.root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(gid)})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidGroup.NotFound", code)

	def, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	require.NoError(t, err)
	_, err = e.root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: def.SecurityGroups[0].GroupId})
	code, _ = apiCode(t, err)
	require.Equal(t, "CannotDelete", code)
}

func TestPagination(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for i := range 11 {
		_, err := e.root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%02d", i)), Description: aws.String("d")})
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	pages := 0
	pg := ec2.NewDescribeSecurityGroupsPaginator(e.root, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, g := range out.SecurityGroups {
			require.False(t, seen[aws.ToString(g.GroupId)], "repeated %s", aws.ToString(g.GroupId))
			seen[aws.ToString(g.GroupId)] = true
		}
	}
	require.Equal(t, 3, pages)
	require.Len(t, seen, 12) // 11 and the default group

	_, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(2)})
	code, _ := apiCode(t, err)
	require.Equal(t, "InvalidParameterValue", code)
	_, err = e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{NextToken: aws.String("!!!")})
	code, _ = apiCode(t, err)
	require.Equal(t, "InvalidPaginationToken", code)
}

func TestAuthorization(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	_, err := e.bob.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	code, status := apiCode(t, err)
	require.Equal(t, "UnauthorizedOperation", code)
	require.Equal(t, 403, status)
	ev := e.audit.last()
	require.Equal(t, "UnauthorizedOperation", ev.ErrorCode)
	require.Equal(t, "bob", ev.UserIdentity.UserName)

	_, err = e.bob.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x")})
	code, _ = apiCode(t, err)
	require.Equal(t, "UnauthorizedOperation", code)
	groups, err := e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1, "nothing was created")

	_, err = e.root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), DryRun: aws.Bool(true)})
	code, status = apiCode(t, err)
	require.Equal(t, "DryRunOperation", code)
	require.Equal(t, 412, status)
	groups, err = e.root.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1, "a dry run creates nothing")
}

// TestBadRequests drives ServeCall directly with requests the SDK cannot
// send.
func TestBadRequests(t *testing.T) {
	e := setup(t)
	for _, tt := range []struct {
		name, body, code string
	}{
		{"no action", "Version=2016-11-15", "MissingAction"},
		{"unknown action", "Action=RunInstances&Version=2016-11-15", "InvalidAction"},
		{"no version", "Action=DescribeVpcs", "MissingParameter"},
		{"bad boolean", "Action=DescribeVpcs&Version=2016-11-15&DryRun=maybe", "InvalidParameterValue"},
		{"empty filter name", "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Value.1=x", "InvalidParameterValue"},
		{"no permissions", "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupName=default", "MissingParameter"},
		{"bad protocol", "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupName=default&IpPermissions.1.IpProtocol=gre&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8", "InvalidParameterValue"},
		{"ipv6", "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupName=default&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=2&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=::/0", "InvalidParameterValue"},
		{"group name missing", "Action=DeleteSecurityGroup&Version=2016-11-15", "MissingParameter"},
		{"malformed group id", "Action=DeleteSecurityGroup&Version=2016-11-15&GroupId=xyz", "InvalidGroupId.Malformed"},
		{"create without name", "Action=CreateSecurityGroup&Version=2016-11-15&GroupDescription=d", "MissingParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			w := httptest.NewRecorder()
			call := &edge.Call{Principal: edge.Principal{Account: account, IsRoot: true}, RequestID: "req-1", Service: "ec2"}
			out := e.svc.ServeCall(w, r, []byte(tt.body), call)
			require.Equal(t, tt.code, out.ErrorCode)
			require.Equal(t, 400, w.Code)
			require.Contains(t, w.Body.String(), "<Code>"+tt.code+"</Code>")
			require.Contains(t, w.Body.String(), "<RequestID>req-1</RequestID>")
			require.NotEmpty(t, out.EventName)
		})
	}
}

// TestControlCodesMapped: every control code maps to an EC2 error or,
// for EFS-only codes, to InternalError — never to an unhandled code.
func TestControlCodesMapped(t *testing.T) {
	e := setup(t)
	for _, c := range control.Codes() {
		t.Run(c.String(), func(t *testing.T) {
			got := ec2api.MapCodeForTest(e.svc, c)
			switch c {
			case control.NetInvalidVPCNotFound, control.NetInvalidGroupNotFound, control.NetInvalidGroupDuplicate,
				control.NetInvalidPermissionDuplicate, control.NetInvalidPermissionNotFound, control.NetDependencyViolation,
				control.NetCannotDelete, control.NetInvalidParameterValue, control.NetRulesPerGroupLimitExceeded,
				control.NetSecurityGroupLimitExceeded:
				require.Equal(t, c.String(), got.Code)
				require.Equal(t, 400, got.Status)
			case control.SubnetNotFound:
				require.Equal(t, "InvalidSubnetID.NotFound", got.Code)
			case control.SecurityGroupNotFound:
				require.Equal(t, "InvalidGroup.NotFound", got.Code)
			default:
				require.Equal(t, "InternalError", got.Code)
				require.Equal(t, 500, got.Status)
				require.NotContains(t, got.Message, "cause-detail", "the cause stays out of the answer")
			}
		})
	}
}

func TestRequestParametersAreJSON(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	_, err := e.root.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{"vpc-1", "vpc-2"}}}})
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(e.audit.last().RequestParameters, &v))
	require.Equal(t, map[string]any{"filterSet": map[string]any{"items": []any{map[string]any{
		"name": "vpc-id", "valueSet": map[string]any{"items": []any{map[string]any{"value": "vpc-1"}, map[string]any{"value": "vpc-2"}}},
	}}}}, v)
}

// FuzzServeCall feeds arbitrary form bodies to every action: the service
// answers each with a response or an EC2 error, never a panic, and never
// an unmapped failure.
func FuzzServeCall(f *testing.F) {
	for _, seed := range []string{
		"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-*",
		"Action=DescribeSubnets&Version=2016-11-15&MaxResults=5&NextToken=AAAA",
		"Action=DescribeSecurityGroups&Version=2016-11-15&GroupName.1=default&Filter.1.Name=ip-permission.cidr&Filter.1.Value.1=127.*",
		"Action=CreateSecurityGroup&Version=2016-11-15&GroupName=g&GroupDescription=d&TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=k",
		"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupName=default&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=2&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8",
		"Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupName=default&SecurityGroupRuleId.1=sgr-0",
		"Action=DeleteSecurityGroup&Version=2016-11-15&GroupId=sg-0",
		"Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=us-east-1a&AllAvailabilityZones=true",
		"%zz&Action",
	} {
		f.Add(seed)
	}
	e := setup(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w := httptest.NewRecorder()
		call := &edge.Call{Principal: edge.Principal{Account: account, IsRoot: true}, RequestID: "req-f", Service: "ec2"}
		out := e.svc.ServeCall(w, r, []byte(body), call)
		if out.ErrorCode == "" {
			require.Equal(t, 200, w.Code)
			return
		}
		require.NotEqual(t, "InternalError", out.ErrorCode, "body %q: %s", body, w.Body.String())
		require.Contains(t, w.Body.String(), "<Code>"+out.ErrorCode+"</Code>")
	})
}
