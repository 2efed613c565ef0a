package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/iam"
)

// operations is the routing table: every operation of the model with its
// method and path after /2015-02-01/ ("{}" is a path label).
var operations = []operation{
	{"CreateFileSystem", "POST", []string{"file-systems"}, false, (*Service).createFileSystem},
	{"DescribeFileSystems", "GET", []string{"file-systems"}, true, (*Service).describeFileSystems},
	{"DescribeReplicationConfigurations", "GET", []string{"file-systems", "replication-configurations"}, true, (*Service).describeReplicationConfigurations},
	{"UpdateFileSystem", "PUT", []string{"file-systems", "{}"}, false, (*Service).updateFileSystem},
	{"DeleteFileSystem", "DELETE", []string{"file-systems", "{}"}, false, (*Service).deleteFileSystem},
	{"UpdateFileSystemProtection", "PUT", []string{"file-systems", "{}", "protection"}, false, (*Service).updateFileSystemProtection},
	{"PutFileSystemPolicy", "PUT", []string{"file-systems", "{}", "policy"}, false, (*Service).putFileSystemPolicy},
	{"DescribeFileSystemPolicy", "GET", []string{"file-systems", "{}", "policy"}, true, (*Service).describeFileSystemPolicy},
	{"DeleteFileSystemPolicy", "DELETE", []string{"file-systems", "{}", "policy"}, false, (*Service).deleteFileSystemPolicy},
	{"PutLifecycleConfiguration", "PUT", []string{"file-systems", "{}", "lifecycle-configuration"}, false, (*Service).putLifecycleConfiguration},
	{"DescribeLifecycleConfiguration", "GET", []string{"file-systems", "{}", "lifecycle-configuration"}, true, (*Service).describeLifecycleConfiguration},
	{"PutBackupPolicy", "PUT", []string{"file-systems", "{}", "backup-policy"}, false, (*Service).putBackupPolicy},
	{"DescribeBackupPolicy", "GET", []string{"file-systems", "{}", "backup-policy"}, true, (*Service).describeBackupPolicy},
	{"CreateReplicationConfiguration", "POST", []string{"file-systems", "{}", "replication-configuration"}, false, (*Service).createReplicationConfiguration},
	{"DeleteReplicationConfiguration", "DELETE", []string{"file-systems", "{}", "replication-configuration"}, false, (*Service).deleteReplicationConfiguration},
	{"CreateMountTarget", "POST", []string{"mount-targets"}, false, (*Service).createMountTarget},
	{"DescribeMountTargets", "GET", []string{"mount-targets"}, true, (*Service).describeMountTargets},
	{"DeleteMountTarget", "DELETE", []string{"mount-targets", "{}"}, false, (*Service).deleteMountTarget},
	{"DescribeMountTargetSecurityGroups", "GET", []string{"mount-targets", "{}", "security-groups"}, true, (*Service).describeMountTargetSecurityGroups},
	{"ModifyMountTargetSecurityGroups", "PUT", []string{"mount-targets", "{}", "security-groups"}, false, (*Service).modifyMountTargetSecurityGroups},
	{"CreateAccessPoint", "POST", []string{"access-points"}, false, (*Service).createAccessPoint},
	{"DescribeAccessPoints", "GET", []string{"access-points"}, true, (*Service).describeAccessPoints},
	{"DeleteAccessPoint", "DELETE", []string{"access-points", "{}"}, false, (*Service).deleteAccessPoint},
	{"TagResource", "POST", []string{"resource-tags", "{}"}, false, (*Service).tagResource},
	{"UntagResource", "DELETE", []string{"resource-tags", "{}"}, false, (*Service).untagResource},
	{"ListTagsForResource", "GET", []string{"resource-tags", "{}"}, true, (*Service).listTagsForResource},
	{"CreateTags", "POST", []string{"create-tags", "{}"}, false, (*Service).createTags},
	{"DeleteTags", "POST", []string{"delete-tags", "{}"}, false, (*Service).deleteTags},
	{"DescribeTags", "GET", []string{"tags", "{}"}, true, (*Service).describeTags},
	{"DescribeAccountPreferences", "GET", []string{"account-preferences"}, true, (*Service).describeAccountPreferences},
	{"PutAccountPreferences", "PUT", []string{"account-preferences"}, false, (*Service).putAccountPreferences},
}

// authorize asks the Authorizer whether the caller may perform
// elasticfilesystem:action on resource with the given condition keys.
func (s *Service) authorize(q *request, action, resource string, cond map[string][]string) error {
	if !strings.HasSuffix(resource, "*") && !slices.Contains(q.resources, resource) {
		q.resources = append(q.resources, resource)
	}
	if s.authz == nil {
		return nil
	}
	err := s.authz.Authorize(q.ctx, q.call, "elasticfilesystem:"+action, resource, cond)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, edge.ErrAccessDenied):
		return &apiError{status: 403, code: "AccessDeniedException", msg: fmt.Sprintf(
			"User: %s is not authorized to perform: elasticfilesystem:%s on the specified resource", q.call.Principal.ARN, action)}
	}
	return err
}

func conds() map[string][]string { return map[string][]string{} }

// callConditions adds the global condition keys of a call to c, for
// evaluations made here rather than by the Authorizer (the lockout safety
// check).
func callConditions(call *edge.Call, c map[string][]string) map[string][]string {
	if call.SourceIP != "" {
		host := call.SourceIP
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		c[iam.KeySourceIP] = []string{host}
	}
	c[iam.KeySecureTransport] = []string{strconv.FormatBool(call.Secure)}
	if !call.Time.IsZero() {
		c[iam.KeyCurrentTime] = []string{call.Time.UTC().Format(time.RFC3339)}
		c[iam.KeyEpochTime] = []string{strconv.FormatInt(call.Time.Unix(), 10)}
	}
	c[iam.KeyPrincipalARN] = []string{call.Principal.ARN}
	return c
}

func addRequestTags(c map[string][]string, tags []control.Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		c["aws:RequestTag/"+t.Key] = []string{t.Value}
		keys = append(keys, t.Key)
	}
	c["aws:TagKeys"] = keys
}

// resourceConds returns the aws:ResourceTag keys of an existing resource
// (none if it does not exist: the operation then reports that).
func (s *Service) resourceConds(q *request, res control.Resource) map[string][]string {
	c := conds()
	tags, err := s.ctl.Tags(q.ctx, res)
	if err != nil {
		return c
	}
	for _, t := range tags {
		c["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return c
}

func (s *Service) wildcardARN(kind string) string {
	return fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:%s/*", s.ctl.Region(), s.ctl.Account(), kind)
}

// fsLabel validates the file-system label and authorizes action on it.
func (s *Service) fsLabel(q *request, action, member string) (control.Resource, error) {
	id := q.labels[0]
	q.params[member] = id
	v := &validator{}
	v.str(&id, member, 0, 128, patFileSystemID)
	if err := v.err(); err != nil {
		return control.Resource{}, err
	}
	res, err := s.ctl.ResolveResource(id)
	if err != nil {
		// Another account's or region's ARN: authorize on it as given.
		if aerr := s.authorize(q, action, id, conds()); aerr != nil {
			return control.Resource{}, aerr
		}
		return control.Resource{}, err
	}
	return res, s.authorize(q, action, res.ARN, s.resourceConds(q, res))
}

// ---- file systems ----

type createFileSystemIn struct {
	CreationToken                *string  `json:"CreationToken"`
	PerformanceMode              *string  `json:"PerformanceMode,omitempty"`
	Encrypted                    *bool    `json:"Encrypted,omitempty"`
	KmsKeyID                     *string  `json:"KmsKeyId,omitempty"`
	ThroughputMode               *string  `json:"ThroughputMode,omitempty"`
	ProvisionedThroughputInMibps *float64 `json:"ProvisionedThroughputInMibps,omitempty"`
	AvailabilityZoneName         *string  `json:"AvailabilityZoneName,omitempty"`
	Backup                       *bool    `json:"Backup,omitempty"`
	Tags                         []tagIn  `json:"Tags,omitempty"`
}

func (s *Service) createFileSystem(q *request) (int, any, error) {
	var in createFileSystemIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.CreationToken != nil, "creationToken") {
		v.str(in.CreationToken, "creationToken", 1, 64, patAnyLine)
	}
	v.enum(in.PerformanceMode, "performanceMode", enumPerformanceMode)
	v.str(in.KmsKeyID, "kmsKeyId", 0, 2048, patKmsKeyID)
	v.enum(in.ThroughputMode, "throughputMode", enumThroughputMode)
	if p := in.ProvisionedThroughputInMibps; p != nil && *p < 1 {
		v.add(*p, "provisionedThroughputInMibps", "Member must have value greater than or equal to 1.0")
	}
	v.str(in.AvailabilityZoneName, "availabilityZoneName", 1, 64, patAnyLine)
	v.tags(in.Tags, "tags")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	id, err := s.ctl.NewFileSystemID(q.ctx)
	if err != nil {
		return 0, nil, err
	}
	tags := tagsIn(in.Tags)
	c := conds()
	addRequestTags(c, tags)
	c["elasticfilesystem:Encrypted"] = []string{fmt.Sprint(deref(in.Encrypted))}
	if err := s.authorize(q, "CreateFileSystem", s.ctl.FileSystemARN(id), c); err != nil {
		return 0, nil, err
	}
	if len(tags) > 0 {
		tc := conds()
		addRequestTags(tc, tags)
		if err := s.authorize(q, "TagResource", s.ctl.FileSystemARN(id), tc); err != nil {
			return 0, nil, err
		}
	}
	if deref(in.Encrypted) {
		if err := s.checkKeyUse(q, deref(in.KmsKeyID)); err != nil {
			return 0, nil, err
		}
	}
	d, err := s.ctl.CreateFileSystem(q.ctx, id, control.CreateFileSystemInput{
		CreationToken: *in.CreationToken, PerformanceMode: deref(in.PerformanceMode), Encrypted: deref(in.Encrypted),
		KMSKeyID: deref(in.KmsKeyID), ThroughputMode: deref(in.ThroughputMode),
		ProvisionedThroughputInMiBps: in.ProvisionedThroughputInMibps, AvailabilityZoneName: deref(in.AvailabilityZoneName),
		Backup: in.Backup, Tags: tags})
	if err != nil {
		return 0, nil, err
	}
	return 201, fileSystemWire(d), nil
}

type describeFileSystemsOut struct {
	Marker      *string         `json:"Marker,omitempty"`
	FileSystems []fileSystemOut `json:"FileSystems"`
	NextMarker  *string         `json:"NextMarker,omitempty"`
}

func (s *Service) describeFileSystems(q *request) (int, any, error) {
	v := &validator{}
	maxItems, err := queryInt(q, "MaxItems", v)
	if err != nil {
		return 0, nil, err
	}
	marker, token, fsID := queryStr(q, "Marker"), queryStr(q, "CreationToken"), queryStr(q, "FileSystemId")
	v.str(marker, "marker", 1, 128, patAnyLine)
	v.str(token, "creationToken", 1, 64, patAnyLine)
	v.str(fsID, "fileSystemId", 0, 128, patFileSystemID)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	resource := s.wildcardARN("file-system")
	c := conds()
	if fsID != nil {
		if res, err := s.ctl.ResolveResource(*fsID); err == nil {
			resource, c = res.ARN, s.resourceConds(q, res)
		}
	}
	if err := s.authorize(q, "DescribeFileSystems", resource, c); err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.DescribeFileSystems(q.ctx, control.DescribeFileSystemsInput{FileSystemID: deref(fsID),
		CreationToken: deref(token), Marker: deref(marker), MaxItems: maxItems})
	if err != nil {
		return 0, nil, err
	}
	out := describeFileSystemsOut{Marker: marker, FileSystems: []fileSystemOut{}, NextMarker: ptr(page.NextMarker)}
	for _, d := range page.FileSystems {
		out.FileSystems = append(out.FileSystems, fileSystemWire(d))
	}
	return 200, out, nil
}

type updateFileSystemIn struct {
	ThroughputMode               *string  `json:"ThroughputMode,omitempty"`
	ProvisionedThroughputInMibps *float64 `json:"ProvisionedThroughputInMibps,omitempty"`
}

func (s *Service) updateFileSystem(q *request) (int, any, error) {
	var in updateFileSystemIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	v.enum(in.ThroughputMode, "throughputMode", enumThroughputMode)
	if p := in.ProvisionedThroughputInMibps; p != nil && *p < 1 {
		v.add(*p, "provisionedThroughputInMibps", "Member must have value greater than or equal to 1.0")
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "UpdateFileSystem", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	d, err := s.ctl.UpdateFileSystem(q.ctx, res.ID, control.UpdateFileSystemInput{ThroughputMode: deref(in.ThroughputMode),
		ProvisionedThroughputInMiBps: in.ProvisionedThroughputInMibps})
	if err != nil {
		return 0, nil, err
	}
	return 202, fileSystemWire(d), nil
}

func (s *Service) deleteFileSystem(q *request) (int, any, error) {
	res, err := s.fsLabel(q, "DeleteFileSystem", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.DeleteFileSystem(q.ctx, res.ID)
}

type protectionIn struct {
	ReplicationOverwriteProtection *string `json:"ReplicationOverwriteProtection,omitempty"`
}

func (s *Service) updateFileSystemProtection(q *request) (int, any, error) {
	var in protectionIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	v.enum(in.ReplicationOverwriteProtection, "replicationOverwriteProtection", enumProtection)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "UpdateFileSystemProtection", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.ctl.UpdateFileSystemProtection(q.ctx, res.ID, deref(in.ReplicationOverwriteProtection))
	if err != nil {
		return 0, nil, err
	}
	return 200, protectionOut{ReplicationOverwriteProtection: p}, nil
}

// ---- policies ----

type putPolicyIn struct {
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck,omitempty"`
}

type policyOut struct {
	FileSystemID string `json:"FileSystemId"`
	Policy       string `json:"Policy"`
}

func (s *Service) putFileSystemPolicy(q *request) (int, any, error) {
	var in putPolicyIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.Policy != nil, "policy") {
		v.str(in.Policy, "policy", 1, control.MaxPolicyChars, patPolicy)
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "PutFileSystemPolicy", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.ctl.PutFileSystemPolicy(q.ctx, control.PutFileSystemPolicyInput{FileSystemID: res.ID, Policy: *in.Policy,
		BypassLockoutSafetyCheck: deref(in.BypassPolicyLockoutSafetyCheck),
		Caller:                   iam.Principal{ARN: q.call.Principal.ARN, Account: q.call.Principal.Account, IsRoot: q.call.Principal.IsRoot},
		Conditions:               callConditions(q.call, s.resourceConds(q, res))})
	if err != nil {
		return 0, nil, err
	}
	return 200, policyOut{FileSystemID: res.ID, Policy: p}, nil
}

func (s *Service) describeFileSystemPolicy(q *request) (int, any, error) {
	res, err := s.fsLabel(q, "DescribeFileSystemPolicy", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.ctl.DescribeFileSystemPolicy(q.ctx, res.ID)
	if err != nil {
		return 0, nil, err
	}
	return 200, policyOut{FileSystemID: res.ID, Policy: p}, nil
}

func (s *Service) deleteFileSystemPolicy(q *request) (int, any, error) {
	res, err := s.fsLabel(q, "DeleteFileSystemPolicy", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	return 200, nil, s.ctl.DeleteFileSystemPolicy(q.ctx, res.ID)
}

// ---- lifecycle and backup ----

type putLifecycleIn struct {
	LifecyclePolicies *[]lifecyclePolicyIO `json:"LifecyclePolicies"`
}

func (s *Service) putLifecycleConfiguration(q *request) (int, any, error) {
	var in putLifecycleIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	var policies []control.LifecyclePolicy
	if v.required(in.LifecyclePolicies != nil, "lifecyclePolicies") {
		v.listLen(len(*in.LifecyclePolicies), "lifecyclePolicies", 0, control.MaxLifecyclePolicies)
		for i, p := range *in.LifecyclePolicies {
			at := fmt.Sprintf("lifecyclePolicies.%d.member.", i+1)
			v.enum(p.TransitionToIA, at+"transitionToIA", enumTransitionToIA)
			v.enum(p.TransitionToPrimaryStorageClass, at+"transitionToPrimaryStorageClass", enumTransitionToPrimary)
			v.enum(p.TransitionToArchive, at+"transitionToArchive", enumTransitionToArchive)
			policies = append(policies, control.LifecyclePolicy{TransitionToIA: deref(p.TransitionToIA),
				TransitionToPrimaryStorageClass: deref(p.TransitionToPrimaryStorageClass), TransitionToArchive: deref(p.TransitionToArchive)})
		}
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "PutLifecycleConfiguration", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.ctl.PutLifecycleConfiguration(q.ctx, res.ID, policies)
	if err != nil {
		return 0, nil, err
	}
	return 200, lifecycleWire(out), nil
}

func (s *Service) describeLifecycleConfiguration(q *request) (int, any, error) {
	res, err := s.fsLabel(q, "DescribeLifecycleConfiguration", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.ctl.LifecycleConfiguration(q.ctx, res.ID)
	if err != nil {
		return 0, nil, err
	}
	return 200, lifecycleWire(out), nil
}

type putBackupIn struct {
	BackupPolicy *backupPolicyIO `json:"BackupPolicy"`
}

func (s *Service) putBackupPolicy(q *request) (int, any, error) {
	var in putBackupIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.BackupPolicy != nil, "backupPolicy") && v.required(in.BackupPolicy.Status != nil, "backupPolicy.status") {
		v.enum(in.BackupPolicy.Status, "backupPolicy.status", enumStatus)
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "PutBackupPolicy", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	st, err := s.ctl.PutBackupPolicy(q.ctx, res.ID, *in.BackupPolicy.Status)
	if err != nil {
		return 0, nil, err
	}
	return 200, backupOut{BackupPolicy: backupPolicyIO{Status: &st}}, nil
}

func (s *Service) describeBackupPolicy(q *request) (int, any, error) {
	res, err := s.fsLabel(q, "DescribeBackupPolicy", "fileSystemId")
	if err != nil {
		return 0, nil, err
	}
	st, err := s.ctl.BackupPolicy(q.ctx, res.ID)
	if err != nil {
		return 0, nil, err
	}
	return 200, backupOut{BackupPolicy: backupPolicyIO{Status: &st}}, nil
}

// ---- replication ----

type destinationIn struct {
	Region               *string `json:"Region,omitempty"`
	AvailabilityZoneName *string `json:"AvailabilityZoneName,omitempty"`
	KmsKeyID             *string `json:"KmsKeyId,omitempty"`
	FileSystemID         *string `json:"FileSystemId,omitempty"`
	RoleARN              *string `json:"RoleArn,omitempty"`
}

type createReplicationIn struct {
	Destinations *[]destinationIn `json:"Destinations"`
}

func (s *Service) createReplicationConfiguration(q *request) (int, any, error) {
	var in createReplicationIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	var dests []control.DestinationInput
	if v.required(in.Destinations != nil, "destinations") {
		for i, d := range *in.Destinations {
			at := fmt.Sprintf("destinations.%d.member.", i+1)
			v.str(d.Region, at+"region", 1, 64, patRegionName)
			v.str(d.AvailabilityZoneName, at+"availabilityZoneName", 1, 64, patAnyLine)
			v.str(d.KmsKeyID, at+"kmsKeyId", 0, 2048, patKmsKeyID)
			v.str(d.FileSystemID, at+"fileSystemId", 0, 128, patFileSystemID)
			v.str(d.RoleARN, at+"roleArn", 0, 2048, patRoleARN)
			dests = append(dests, control.DestinationInput{Region: deref(d.Region), AvailabilityZoneName: deref(d.AvailabilityZoneName),
				KMSKeyID: deref(d.KmsKeyID), FileSystemID: deref(d.FileSystemID), RoleARN: deref(d.RoleARN)})
		}
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "CreateReplicationConfiguration", "sourceFileSystemId")
	if err != nil {
		return 0, nil, err
	}
	rc, err := s.ctl.CreateReplicationConfiguration(q.ctx, res.ID, dests)
	if err != nil {
		return 0, nil, err
	}
	return 200, replicationWire(rc), nil
}

type describeReplicationsOut struct {
	Replications []replicationOut `json:"Replications"`
	NextToken    *string          `json:"NextToken,omitempty"`
}

func (s *Service) describeReplicationConfigurations(q *request) (int, any, error) {
	v := &validator{}
	maxResults, err := queryInt(q, "MaxResults", v)
	if err != nil {
		return 0, nil, err
	}
	fsID, token := queryStr(q, "FileSystemId"), queryStr(q, "NextToken")
	v.str(fsID, "fileSystemId", 0, 128, patFileSystemID)
	v.str(token, "nextToken", 1, 128, patAnyLine)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	resource, c := s.wildcardARN("file-system"), conds()
	if fsID != nil {
		if res, err := s.ctl.ResolveResource(*fsID); err == nil {
			resource, c = res.ARN, s.resourceConds(q, res)
		}
	}
	if err := s.authorize(q, "DescribeReplicationConfigurations", resource, c); err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.DescribeReplicationConfigurations(q.ctx, deref(fsID), deref(token), maxResults)
	if err != nil {
		return 0, nil, err
	}
	out := describeReplicationsOut{Replications: []replicationOut{}, NextToken: ptr(page.NextToken)}
	for _, r := range page.Replications {
		out.Replications = append(out.Replications, replicationWire(r))
	}
	return 200, out, nil
}

func (s *Service) deleteReplicationConfiguration(q *request) (int, any, error) {
	mode := queryStr(q, "deletionMode")
	v := &validator{}
	v.enum(mode, "deletionMode", enumDeletionMode)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.fsLabel(q, "DeleteReplicationConfiguration", "sourceFileSystemId")
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.DeleteReplicationConfiguration(q.ctx, res.ID, deref(mode))
}

// ---- mount targets ----

type createMountTargetIn struct {
	FileSystemID   *string   `json:"FileSystemId"`
	SubnetID       *string   `json:"SubnetId"`
	IPAddress      *string   `json:"IpAddress,omitempty"`
	Ipv6Address    *string   `json:"Ipv6Address,omitempty"`
	IPAddressType  *string   `json:"IpAddressType,omitempty"`
	SecurityGroups *[]string `json:"SecurityGroups,omitempty"`
}

func (v *validator) securityGroups(groups *[]string, at string) {
	if groups == nil {
		return
	}
	v.listLen(len(*groups), at, 0, 100)
	for i := range *groups {
		v.str(&(*groups)[i], fmt.Sprintf("%s.%d.member", at, i+1), 11, 43, patSecurityGroup)
	}
}

func (s *Service) createMountTarget(q *request) (int, any, error) {
	var in createMountTargetIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.FileSystemID != nil, "fileSystemId") {
		v.str(in.FileSystemID, "fileSystemId", 0, 128, patFileSystemID)
	}
	if v.required(in.SubnetID != nil, "subnetId") {
		v.str(in.SubnetID, "subnetId", 15, 47, patSubnetID)
	}
	v.str(in.IPAddress, "ipAddress", 7, 15, patIPAddress)
	v.str(in.Ipv6Address, "ipv6Address", 3, 39, "")
	v.enum(in.IPAddressType, "ipAddressType", enumIPAddressType)
	v.securityGroups(in.SecurityGroups, "securityGroups")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	var ip netip.Addr
	if in.IPAddress != nil {
		var err error
		if ip, err = netip.ParseAddr(*in.IPAddress); err != nil {
			return 0, nil, badRequest("Invalid IP address '%s'.", *in.IPAddress)
		}
	}
	resource, c := *in.FileSystemID, conds()
	if res, err := s.ctl.ResolveResource(*in.FileSystemID); err == nil {
		resource, c = res.ARN, s.resourceConds(q, res)
	}
	if err := s.authorize(q, "CreateMountTarget", resource, c); err != nil {
		return 0, nil, err
	}
	mt, err := s.ctl.CreateMountTarget(q.ctx, control.CreateMountTargetInput{FileSystemID: *in.FileSystemID, SubnetID: *in.SubnetID,
		IPAddress: ip, IPv6Address: deref(in.Ipv6Address), IPAddressType: deref(in.IPAddressType), SecurityGroups: deref(in.SecurityGroups)})
	if err != nil {
		return 0, nil, err
	}
	return 200, mountTargetWire(mt), nil
}

type describeMountTargetsOut struct {
	Marker       *string          `json:"Marker,omitempty"`
	MountTargets []mountTargetOut `json:"MountTargets"`
	NextMarker   *string          `json:"NextMarker,omitempty"`
}

// mtResource is the file system a mount target belongs to, for
// authorization (EFS authorizes mount-target calls on the file system).
func (s *Service) mtResource(q *request, mtID string) (string, map[string][]string) {
	mt, err := s.ctl.MountTarget(q.ctx, mtID)
	if err != nil {
		return s.wildcardARN("file-system"), conds()
	}
	res, err := s.ctl.ResolveResource(mt.FileSystemID)
	if err != nil {
		return s.wildcardARN("file-system"), conds()
	}
	return res.ARN, s.resourceConds(q, res)
}

func (s *Service) describeMountTargets(q *request) (int, any, error) {
	v := &validator{}
	maxItems, err := queryInt(q, "MaxItems", v)
	if err != nil {
		return 0, nil, err
	}
	marker, fsID, mtID, apID := queryStr(q, "Marker"), queryStr(q, "FileSystemId"), queryStr(q, "MountTargetId"), queryStr(q, "AccessPointId")
	v.str(marker, "marker", 1, 128, patAnyLine)
	v.str(fsID, "fileSystemId", 0, 128, patFileSystemID)
	v.str(mtID, "mountTargetId", 13, 45, patMountTargetID)
	v.str(apID, "accessPointId", 0, 128, patAccessPointID)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	resource, c := s.wildcardARN("file-system"), conds()
	switch {
	case fsID != nil:
		if res, err := s.ctl.ResolveResource(*fsID); err == nil {
			resource, c = res.ARN, s.resourceConds(q, res)
		}
	case mtID != nil:
		resource, c = s.mtResource(q, *mtID)
	case apID != nil:
		if ap, err := s.ctl.AccessPoint(q.ctx, *apID); err == nil {
			resource = ap.ARN
			if res, err := s.ctl.ResolveResource(ap.ARN); err == nil {
				c = s.resourceConds(q, res)
			}
		}
	}
	if err := s.authorize(q, "DescribeMountTargets", resource, c); err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.DescribeMountTargets(q.ctx, control.DescribeMountTargetsInput{FileSystemID: deref(fsID),
		MountTargetID: deref(mtID), AccessPointID: deref(apID), Marker: deref(marker), MaxItems: maxItems})
	if err != nil {
		return 0, nil, err
	}
	out := describeMountTargetsOut{Marker: marker, MountTargets: []mountTargetOut{}, NextMarker: ptr(page.NextMarker)}
	for _, m := range page.MountTargets {
		out.MountTargets = append(out.MountTargets, mountTargetWire(m))
	}
	return 200, out, nil
}

func (s *Service) mtLabel(q *request, action string) (string, error) {
	id := q.labels[0]
	q.params["mountTargetId"] = id
	v := &validator{}
	v.str(&id, "mountTargetId", 13, 45, patMountTargetID)
	if err := v.err(); err != nil {
		return "", err
	}
	resource, c := s.mtResource(q, id)
	return id, s.authorize(q, action, resource, c)
}

func (s *Service) deleteMountTarget(q *request) (int, any, error) {
	id, err := s.mtLabel(q, "DeleteMountTarget")
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.DeleteMountTarget(q.ctx, id)
}

type securityGroupsIO struct {
	SecurityGroups *[]string `json:"SecurityGroups"`
}

func (s *Service) describeMountTargetSecurityGroups(q *request) (int, any, error) {
	id, err := s.mtLabel(q, "DescribeMountTargetSecurityGroups")
	if err != nil {
		return 0, nil, err
	}
	groups, err := s.ctl.MountTargetSecurityGroups(q.ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if groups == nil {
		groups = []string{}
	}
	return 200, securityGroupsIO{SecurityGroups: &groups}, nil
}

func (s *Service) modifyMountTargetSecurityGroups(q *request) (int, any, error) {
	var in securityGroupsIO
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	v.securityGroups(in.SecurityGroups, "securityGroups")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	id, err := s.mtLabel(q, "ModifyMountTargetSecurityGroups")
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.ModifyMountTargetSecurityGroups(q.ctx, id, deref(in.SecurityGroups))
}

// ---- access points ----

type createAccessPointIn struct {
	ClientToken   *string          `json:"ClientToken"`
	Tags          []tagIn          `json:"Tags,omitempty"`
	FileSystemID  *string          `json:"FileSystemId"`
	PosixUser     *posixUserIO     `json:"PosixUser,omitempty"`
	RootDirectory *rootDirectoryIO `json:"RootDirectory,omitempty"`
}

func (s *Service) createAccessPoint(q *request) (int, any, error) {
	var in createAccessPointIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.ClientToken != nil, "clientToken") {
		v.str(in.ClientToken, "clientToken", 1, 64, patAnyLine)
	}
	if v.required(in.FileSystemID != nil, "fileSystemId") {
		v.str(in.FileSystemID, "fileSystemId", 0, 128, patFileSystemID)
	}
	v.tags(in.Tags, "tags")
	var posix *control.PosixUser
	if p := in.PosixUser; p != nil {
		v.required(p.UID != nil, "posixUser.uid")
		v.required(p.GID != nil, "posixUser.gid")
		v.long(p.UID, "posixUser.uid", 0, maxUint32)
		v.long(p.GID, "posixUser.gid", 0, maxUint32)
		v.listLen(len(p.SecondaryGIDs), "posixUser.secondaryGids", 0, control.MaxSecondaryGids)
		posix = &control.PosixUser{UID: uint32(deref(p.UID)), GID: uint32(deref(p.GID))}
		for i, g := range p.SecondaryGIDs {
			v.long(&g, fmt.Sprintf("posixUser.secondaryGids.%d.member", i+1), 0, maxUint32)
			posix.SecondaryGIDs = append(posix.SecondaryGIDs, uint32(g))
		}
	}
	var root *control.RootDirectory
	if r := in.RootDirectory; r != nil {
		v.str(r.Path, "rootDirectory.path", 1, control.MaxRootDirectoryPathChars, patPath)
		root = &control.RootDirectory{Path: deref(r.Path)}
		if ci := r.CreationInfo; ci != nil {
			v.required(ci.OwnerUID != nil, "rootDirectory.creationInfo.ownerUid")
			v.required(ci.OwnerGID != nil, "rootDirectory.creationInfo.ownerGid")
			if v.required(ci.Permissions != nil, "rootDirectory.creationInfo.permissions") {
				v.str(ci.Permissions, "rootDirectory.creationInfo.permissions", 3, 4, patPermissions)
			}
			v.long(ci.OwnerUID, "rootDirectory.creationInfo.ownerUid", 0, maxUint32)
			v.long(ci.OwnerGID, "rootDirectory.creationInfo.ownerGid", 0, maxUint32)
			root.CreationInfo = &control.CreationInfo{OwnerUID: uint32(deref(ci.OwnerUID)), OwnerGID: uint32(deref(ci.OwnerGID)),
				Permissions: deref(ci.Permissions)}
		}
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	tags := tagsIn(in.Tags)
	resource, c := *in.FileSystemID, conds()
	if res, err := s.ctl.ResolveResource(*in.FileSystemID); err == nil {
		resource, c = res.ARN, s.resourceConds(q, res)
	}
	addRequestTags(c, tags)
	if err := s.authorize(q, "CreateAccessPoint", resource, c); err != nil {
		return 0, nil, err
	}
	if len(tags) > 0 {
		tc := conds()
		addRequestTags(tc, tags)
		if err := s.authorize(q, "TagResource", resource, tc); err != nil {
			return 0, nil, err
		}
	}
	ap, err := s.ctl.CreateAccessPoint(q.ctx, control.CreateAccessPointInput{ClientToken: *in.ClientToken,
		FileSystemID: *in.FileSystemID, PosixUser: posix, RootDirectory: root, Tags: tags})
	if err != nil {
		return 0, nil, err
	}
	q.resources = append(q.resources, ap.ARN)
	return 200, accessPointWire(ap), nil
}

type describeAccessPointsOut struct {
	AccessPoints []accessPointOut `json:"AccessPoints"`
	NextToken    *string          `json:"NextToken,omitempty"`
}

func (s *Service) describeAccessPoints(q *request) (int, any, error) {
	v := &validator{}
	maxResults, err := queryInt(q, "MaxResults", v)
	if err != nil {
		return 0, nil, err
	}
	token, apID, fsID := queryStr(q, "NextToken"), queryStr(q, "AccessPointId"), queryStr(q, "FileSystemId")
	v.str(token, "nextToken", 1, 128, patAnyLine)
	v.str(apID, "accessPointId", 0, 128, patAccessPointID)
	v.str(fsID, "fileSystemId", 0, 128, patFileSystemID)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	resource, c := s.wildcardARN("access-point"), conds()
	for _, ref := range []*string{apID, fsID} {
		if ref != nil {
			if res, err := s.ctl.ResolveResource(*ref); err == nil {
				resource, c = res.ARN, s.resourceConds(q, res)
			}
			break
		}
	}
	if err := s.authorize(q, "DescribeAccessPoints", resource, c); err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.DescribeAccessPoints(q.ctx, control.DescribeAccessPointsInput{AccessPointID: deref(apID),
		FileSystemID: deref(fsID), NextToken: deref(token), MaxResults: maxResults})
	if err != nil {
		return 0, nil, err
	}
	out := describeAccessPointsOut{AccessPoints: []accessPointOut{}, NextToken: ptr(page.NextToken)}
	for _, a := range page.AccessPoints {
		out.AccessPoints = append(out.AccessPoints, accessPointWire(a))
	}
	return 200, out, nil
}

func (s *Service) deleteAccessPoint(q *request) (int, any, error) {
	id := q.labels[0]
	q.params["accessPointId"] = id
	v := &validator{}
	v.str(&id, "accessPointId", 0, 128, patAccessPointID)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.ctl.ResolveResource(id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.authorize(q, "DeleteAccessPoint", res.ARN, s.resourceConds(q, res)); err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.DeleteAccessPoint(q.ctx, res.ID)
}

// ---- tags ----

type tagsIO struct {
	Tags *[]tagIn `json:"Tags"`
}

// resourceLabel validates a ResourceId label (or, for the deprecated tag
// calls, a file-system label) and authorizes action on it.
func (s *Service) resourceLabel(q *request, action, member, pattern string, c map[string][]string) (control.Resource, error) {
	id := q.labels[0]
	q.params[member] = id
	v := &validator{}
	v.str(&id, member, 0, 128, pattern)
	if err := v.err(); err != nil {
		return control.Resource{}, err
	}
	res, err := s.ctl.ResolveResource(id)
	if err != nil {
		if aerr := s.authorize(q, action, id, c); aerr != nil {
			return control.Resource{}, aerr
		}
		return control.Resource{}, err
	}
	for k, val := range s.resourceConds(q, res) {
		c[k] = val
	}
	return res, s.authorize(q, action, res.ARN, c)
}

func (s *Service) decodeTags(q *request, required bool) ([]control.Tag, error) {
	var in tagsIO
	if err := decode(q.body, &in); err != nil {
		return nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.Tags != nil || !required, "tags") && in.Tags != nil {
		v.tags(*in.Tags, "tags")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return tagsIn(deref(in.Tags)), nil
}

func (s *Service) tagResource(q *request) (int, any, error) {
	tags, err := s.decodeTags(q, true)
	if err != nil {
		return 0, nil, err
	}
	c := conds()
	addRequestTags(c, tags)
	res, err := s.resourceLabel(q, "TagResource", "resourceId", patResourceID, c)
	if err != nil {
		return 0, nil, err
	}
	return 200, nil, s.ctl.TagResource(q.ctx, res, tags)
}

func (s *Service) untagResource(q *request) (int, any, error) {
	keys := q.query["tagKeys"]
	q.params["tagKeys"] = keys
	v := &validator{}
	v.tagKeys(keys, "tagKeys")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	c := conds()
	c["aws:TagKeys"] = keys
	res, err := s.resourceLabel(q, "UntagResource", "resourceId", patResourceID, c)
	if err != nil {
		return 0, nil, err
	}
	return 200, nil, s.ctl.UntagResource(q.ctx, res, keys)
}

type listTagsOut struct {
	Tags      []tagOut `json:"Tags"`
	NextToken *string  `json:"NextToken,omitempty"`
}

func (s *Service) listTagsForResource(q *request) (int, any, error) {
	v := &validator{}
	maxResults, err := queryInt(q, "MaxResults", v)
	if err != nil {
		return 0, nil, err
	}
	token := queryStr(q, "NextToken")
	v.str(token, "nextToken", 1, 128, patAnyLine)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.resourceLabel(q, "ListTagsForResource", "resourceId", patResourceID, conds())
	if err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.ListTags(q.ctx, res, deref(token), maxResults)
	if err != nil {
		return 0, nil, err
	}
	return 200, listTagsOut{Tags: tagsOut(page.Tags), NextToken: ptr(page.Next)}, nil
}

func (s *Service) createTags(q *request) (int, any, error) {
	tags, err := s.decodeTags(q, true)
	if err != nil {
		return 0, nil, err
	}
	c := conds()
	addRequestTags(c, tags)
	res, err := s.resourceLabel(q, "CreateTags", "fileSystemId", patFileSystemID, c)
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.TagResource(q.ctx, res, tags)
}

type deleteTagsIn struct {
	TagKeys *[]string `json:"TagKeys"`
}

func (s *Service) deleteTags(q *request) (int, any, error) {
	var in deleteTagsIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.TagKeys != nil, "tagKeys") {
		v.tagKeys(*in.TagKeys, "tagKeys")
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	c := conds()
	c["aws:TagKeys"] = *in.TagKeys
	res, err := s.resourceLabel(q, "DeleteTags", "fileSystemId", patFileSystemID, c)
	if err != nil {
		return 0, nil, err
	}
	return 204, nil, s.ctl.UntagResource(q.ctx, res, *in.TagKeys)
}

type describeTagsOut struct {
	Marker     *string  `json:"Marker,omitempty"`
	Tags       []tagOut `json:"Tags"`
	NextMarker *string  `json:"NextMarker,omitempty"`
}

func (s *Service) describeTags(q *request) (int, any, error) {
	v := &validator{}
	maxItems, err := queryInt(q, "MaxItems", v)
	if err != nil {
		return 0, nil, err
	}
	marker := queryStr(q, "Marker")
	v.str(marker, "marker", 1, 128, patAnyLine)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.resourceLabel(q, "DescribeTags", "fileSystemId", patFileSystemID, conds())
	if err != nil {
		return 0, nil, err
	}
	page, err := s.ctl.ListTags(q.ctx, res, deref(marker), maxItems)
	if err != nil {
		return 0, nil, err
	}
	return 200, describeTagsOut{Marker: marker, Tags: tagsOut(page.Tags), NextMarker: ptr(page.Next)}, nil
}

// ---- account preferences ----

type describePrefsIn struct {
	NextToken  *string `json:"NextToken,omitempty"`
	MaxResults *int64  `json:"MaxResults,omitempty"`
}

type describePrefsOut struct {
	ResourceIDPreference resourceIDPreferenceOut `json:"ResourceIdPreference"`
	NextToken            *string                 `json:"NextToken,omitempty"`
}

func (s *Service) describeAccountPreferences(q *request) (int, any, error) {
	// The model sends NextToken and MaxResults in the body of this GET.
	var in describePrefsIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	v.str(in.NextToken, "nextToken", 1, 128, patAnyLine)
	v.long(in.MaxResults, "maxResults", 1, 1<<31-1)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	if in.NextToken != nil {
		return 0, nil, badRequest("Invalid pagination token.")
	}
	if err := s.authorize(q, "DescribeAccountPreferences", "*", conds()); err != nil {
		return 0, nil, err
	}
	t, err := s.ctl.AccountPreferences(q.ctx)
	if err != nil {
		return 0, nil, err
	}
	return 200, describePrefsOut{ResourceIDPreference: preferenceWire(t)}, nil
}

type putPrefsIn struct {
	ResourceIDType *string `json:"ResourceIdType"`
}

type putPrefsOut struct {
	ResourceIDPreference resourceIDPreferenceOut `json:"ResourceIdPreference"`
}

func (s *Service) putAccountPreferences(q *request) (int, any, error) {
	var in putPrefsIn
	if err := decode(q.body, &in); err != nil {
		return 0, nil, err
	}
	q.recordBody(&in)
	v := &validator{}
	if v.required(in.ResourceIDType != nil, "resourceIdType") {
		v.enum(in.ResourceIDType, "resourceIdType", enumResourceIDType)
	}
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	if err := s.authorize(q, "PutAccountPreferences", "*", conds()); err != nil {
		return 0, nil, err
	}
	t, err := s.ctl.PutAccountPreferences(q.ctx, *in.ResourceIDType)
	if err != nil {
		return 0, nil, err
	}
	return 200, putPrefsOut{ResourceIDPreference: preferenceWire(t)}, nil
}
