package configsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shelf-efs/shelf/internal/control"
)

// Configuration item statuses (AWS Config's configurationItemStatus).
const (
	StatusOK         = "OK"
	StatusDiscovered = "ResourceDiscovered"
	StatusDeleted    = "ResourceDeleted"
)

// ItemVersion is the configuration item schema version AWS Config uses.
const ItemVersion = "1.3"

// Item is a configuration item, field for field AWS Config's
// ConfigurationItem. Configuration is the resource as the EFS Describe*
// call shows it (without the metered size, which changes with every
// write); SupplementaryConfiguration holds the file system's
// BackupPolicy, FileSystemPolicy and LifecycleConfiguration.
type Item struct {
	Version                    string                     `json:"version"`
	AccountID                  string                     `json:"accountId"`
	CaptureTime                time.Time                  `json:"configurationItemCaptureTime"`
	Status                     string                     `json:"configurationItemStatus"`
	StateID                    string                     `json:"configurationStateId"`
	ARN                        string                     `json:"arn"`
	ResourceType               string                     `json:"resourceType"`
	ResourceID                 string                     `json:"resourceId"`
	ResourceName               string                     `json:"resourceName,omitempty"`
	AWSRegion                  string                     `json:"awsRegion"`
	AvailabilityZone           string                     `json:"availabilityZone"`
	ResourceCreationTime       time.Time                  `json:"resourceCreationTime,omitzero"`
	Tags                       map[string]string          `json:"tags"`
	RelatedEvents              []string                   `json:"relatedEvents"`
	Relationships              []Relationship             `json:"relationships"`
	Configuration              json.RawMessage            `json:"configuration"`
	SupplementaryConfiguration map[string]json.RawMessage `json:"supplementaryConfiguration"`
}

// Relationship is a related resource of a configuration item.
type Relationship struct {
	ResourceType     string `json:"resourceType"`
	ResourceID       string `json:"resourceId"`
	ResourceName     string `json:"resourceName,omitempty"`
	RelationshipName string `json:"relationshipName"`
}

// contentHash identifies what a configuration item says about its
// resource, leaving out when and why it was captured: an item is recorded
// only when this changes.
func (it *Item) contentHash() string {
	c := *it
	c.CaptureTime, c.Status, c.StateID, c.RelatedEvents = time.Time{}, "", "", nil
	b, _ := json.Marshal(&c) // maps marshal in key order
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// Resources is the part of *control.Service the recorder reads.
type Resources interface {
	Account() string
	Region() string
	FileSystem(ctx context.Context, ref string) (control.FileSystem, error)
	DescribeFileSystems(ctx context.Context, in control.DescribeFileSystemsInput) (control.FileSystemPage, error)
	AccessPoint(ctx context.Context, ref string) (control.AccessPoint, error)
	DescribeAccessPoints(ctx context.Context, in control.DescribeAccessPointsInput) (control.AccessPointPage, error)
	MountTarget(ctx context.Context, ref string) (control.MountTarget, error)
	MountTargets(ctx context.Context) ([]control.MountTarget, error)
	BackupPolicy(ctx context.Context, ref string) (string, error)
	FileSystemPolicy(ctx context.Context, ref string) (policy string, explicit bool, err error)
	LifecycleConfiguration(ctx context.Context, ref string) ([]control.LifecyclePolicy, error)
	Subnet(id string) (control.Subnet, error)
	SubscribeResources(fn func(control.ResourceChange)) (cancel func())
}

var _ Resources = (*control.Service)(nil)

// resourceKey names one resource.
type resourceKey struct {
	Type string
	ID   string
}

// ResourceTypes are the resource types the recorder records.
var ResourceTypes = []string{control.ResourceTypeFileSystem, control.ResourceTypeAccessPoint, control.ResourceTypeMountTarget}

func knownType(t string) bool { return slices.Contains(ResourceTypes, t) }

// gone reports a control error saying the resource does not exist.
func gone(err error) bool {
	return control.IsCode(err, control.FileSystemNotFound) || control.IsCode(err, control.AccessPointNotFound) ||
		control.IsCode(err, control.MountTargetNotFound)
}

func tagMap(tags []control.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("configsvc: marshal: %v", err)) // only plain structs and maps are marshalled
	}
	return b
}

// The Describe* shapes of EFS (the 2015-02-01 API), as configuration.
type fsConfig struct {
	OwnerID                      string         `json:"OwnerId"`
	CreationToken                string         `json:"CreationToken"`
	FileSystemID                 string         `json:"FileSystemId"`
	FileSystemArn                string         `json:"FileSystemArn"`
	CreationTime                 float64        `json:"CreationTime"`
	LifeCycleState               string         `json:"LifeCycleState"`
	Name                         string         `json:"Name,omitempty"`
	NumberOfMountTargets         int            `json:"NumberOfMountTargets"`
	PerformanceMode              string         `json:"PerformanceMode"`
	Encrypted                    bool           `json:"Encrypted"`
	KmsKeyID                     string         `json:"KmsKeyId,omitempty"`
	ThroughputMode               string         `json:"ThroughputMode"`
	ProvisionedThroughputInMibps float64        `json:"ProvisionedThroughputInMibps,omitempty"`
	AvailabilityZoneName         string         `json:"AvailabilityZoneName,omitempty"`
	AvailabilityZoneID           string         `json:"AvailabilityZoneId,omitempty"`
	Tags                         []tagConfig    `json:"Tags"`
	FileSystemProtection         map[string]any `json:"FileSystemProtection"`
}

type tagConfig struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagList(tags []control.Tag) []tagConfig {
	out := make([]tagConfig, 0, len(tags))
	for _, t := range tags {
		out = append(out, tagConfig(t))
	}
	return out
}

type apConfig struct {
	ClientToken    string         `json:"ClientToken"`
	Name           string         `json:"Name,omitempty"`
	Tags           []tagConfig    `json:"Tags"`
	AccessPointID  string         `json:"AccessPointId"`
	AccessPointArn string         `json:"AccessPointArn"`
	FileSystemID   string         `json:"FileSystemId"`
	PosixUser      map[string]any `json:"PosixUser,omitempty"`
	RootDirectory  map[string]any `json:"RootDirectory"`
	OwnerID        string         `json:"OwnerId"`
	LifeCycleState string         `json:"LifeCycleState"`
}

type mtConfig struct {
	OwnerID              string   `json:"OwnerId"`
	MountTargetID        string   `json:"MountTargetId"`
	FileSystemID         string   `json:"FileSystemId"`
	SubnetID             string   `json:"SubnetId"`
	LifeCycleState       string   `json:"LifeCycleState"`
	IPAddress            string   `json:"IpAddress,omitempty"`
	NetworkInterfaceID   string   `json:"NetworkInterfaceId"`
	AvailabilityZoneID   string   `json:"AvailabilityZoneId"`
	AvailabilityZoneName string   `json:"AvailabilityZoneName"`
	VpcID                string   `json:"VpcId"`
	SecurityGroups       []string `json:"SecurityGroups"`
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// regional is the availabilityZone of a resource that is not in one zone.
const regional = "Regional"

// snapshotFileSystem builds the item of a file system (without capture
// time, status and state ID), or reports that it does not exist.
func (s *Service) snapshotFileSystem(ctx context.Context, id string, mts []control.MountTarget, aps []control.AccessPoint) (*Item, error) {
	d, err := s.res.FileSystem(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.LifeCycleState == control.StateDeleted {
		return nil, &control.Error{Code: control.FileSystemNotFound}
	}
	backup, err := s.res.BackupPolicy(ctx, id)
	if err != nil {
		return nil, err
	}
	lc, err := s.res.LifecycleConfiguration(ctx, id)
	if err != nil {
		return nil, err
	}
	policy, explicit, err := s.res.FileSystemPolicy(ctx, id)
	if err != nil {
		return nil, err
	}
	cfg := fsConfig{OwnerID: d.OwnerID, CreationToken: d.CreationToken, FileSystemID: d.ID, FileSystemArn: d.ARN,
		CreationTime: epoch(d.CreationTime), LifeCycleState: string(d.LifeCycleState), Name: d.Name,
		NumberOfMountTargets: d.NumberOfMountTargets, PerformanceMode: d.PerformanceMode, Encrypted: d.Encrypted,
		KmsKeyID: d.KMSKeyID, ThroughputMode: d.ThroughputMode, ProvisionedThroughputInMibps: d.ProvisionedThroughputInMiBps,
		AvailabilityZoneName: d.AvailabilityZoneName, AvailabilityZoneID: d.AvailabilityZoneID, Tags: tagList(d.Tags),
		FileSystemProtection: map[string]any{"ReplicationOverwriteProtection": d.ReplicationOverwriteProtection}}
	lcs := make([]map[string]string, 0, len(lc))
	for _, p := range lc {
		m := map[string]string{}
		if p.TransitionToIA != "" {
			m["TransitionToIA"] = p.TransitionToIA
		}
		if p.TransitionToPrimaryStorageClass != "" {
			m["TransitionToPrimaryStorageClass"] = p.TransitionToPrimaryStorageClass
		}
		if p.TransitionToArchive != "" {
			m["TransitionToArchive"] = p.TransitionToArchive
		}
		lcs = append(lcs, m)
	}
	supp := map[string]json.RawMessage{
		"BackupPolicy":           mustJSON(map[string]string{"Status": backup}),
		"LifecycleConfiguration": mustJSON(map[string]any{"LifecyclePolicies": lcs}),
	}
	if explicit {
		// The policy text is JSON; keep it as the document it is.
		if json.Valid([]byte(policy)) {
			supp["FileSystemPolicy"] = json.RawMessage(policy)
		} else {
			supp["FileSystemPolicy"] = mustJSON(policy)
		}
	}
	it := &Item{Version: ItemVersion, AccountID: s.account, ARN: d.ARN, ResourceType: control.ResourceTypeFileSystem,
		ResourceID: d.ID, ResourceName: d.Name, AWSRegion: s.region, AvailabilityZone: regional,
		ResourceCreationTime: d.CreationTime.UTC(), Tags: tagMap(d.Tags), RelatedEvents: []string{},
		Relationships: []Relationship{}, Configuration: mustJSON(cfg), SupplementaryConfiguration: supp}
	if d.AvailabilityZoneName != "" {
		it.AvailabilityZone = d.AvailabilityZoneName
	}
	for _, mt := range mts {
		if mt.FileSystemID == id {
			it.Relationships = append(it.Relationships, Relationship{ResourceType: control.ResourceTypeMountTarget,
				ResourceID: mt.ID, RelationshipName: "Is attached to MountTarget"})
		}
	}
	for _, ap := range aps {
		if ap.FileSystemID == id {
			it.Relationships = append(it.Relationships, Relationship{ResourceType: control.ResourceTypeAccessPoint,
				ResourceID: ap.ID, ResourceName: ap.Name, RelationshipName: "Is associated with AccessPoint"})
		}
	}
	return it, nil
}

func (s *Service) snapshotAccessPoint(ctx context.Context, id string) (*Item, error) {
	ap, err := s.res.AccessPoint(ctx, id)
	if err != nil {
		return nil, err
	}
	cfg := apConfig{ClientToken: ap.ClientToken, Name: ap.Name, Tags: tagList(ap.Tags), AccessPointID: ap.ID,
		AccessPointArn: ap.ARN, FileSystemID: ap.FileSystemID, OwnerID: ap.OwnerID, LifeCycleState: string(ap.LifeCycleState),
		RootDirectory: map[string]any{"Path": ap.RootDirectory.Path}}
	if ci := ap.RootDirectory.CreationInfo; ci != nil {
		cfg.RootDirectory["CreationInfo"] = map[string]any{"OwnerUid": ci.OwnerUID, "OwnerGid": ci.OwnerGID, "Permissions": ci.Permissions}
	}
	if pu := ap.PosixUser; pu != nil {
		m := map[string]any{"Uid": pu.UID, "Gid": pu.GID}
		if len(pu.SecondaryGIDs) > 0 {
			m["SecondaryGids"] = pu.SecondaryGIDs
		}
		cfg.PosixUser = m
	}
	return &Item{Version: ItemVersion, AccountID: s.account, ARN: ap.ARN, ResourceType: control.ResourceTypeAccessPoint,
		ResourceID: ap.ID, ResourceName: ap.Name, AWSRegion: s.region, AvailabilityZone: regional,
		ResourceCreationTime: ap.CreationTime.UTC(), Tags: tagMap(ap.Tags), RelatedEvents: []string{},
		Relationships: []Relationship{{ResourceType: control.ResourceTypeFileSystem, ResourceID: ap.FileSystemID,
			RelationshipName: "Is attached to FileSystem"}},
		Configuration: mustJSON(cfg), SupplementaryConfiguration: map[string]json.RawMessage{}}, nil
}

func (s *Service) mountTargetItem(mt control.MountTarget) *Item {
	cfg := mtConfig{OwnerID: mt.OwnerID, MountTargetID: mt.ID, FileSystemID: mt.FileSystemID, SubnetID: mt.SubnetID,
		LifeCycleState: string(mt.LifeCycleState), NetworkInterfaceID: mt.NetworkInterfaceID,
		AvailabilityZoneID: mt.AvailabilityZoneID, AvailabilityZoneName: mt.AvailabilityZoneName, VpcID: mt.VPCID,
		SecurityGroups: slices.Clone(mt.SecurityGroups)}
	if mt.IPAddress.IsValid() {
		cfg.IPAddress = mt.IPAddress.String()
	}
	if cfg.SecurityGroups == nil {
		cfg.SecurityGroups = []string{}
	}
	rels := []Relationship{
		{ResourceType: control.ResourceTypeFileSystem, ResourceID: mt.FileSystemID, RelationshipName: "Is attached to FileSystem"},
		{ResourceType: "AWS::EC2::Subnet", ResourceID: mt.SubnetID, RelationshipName: "Is contained in Subnet"},
		{ResourceType: "AWS::EC2::VPC", ResourceID: mt.VPCID, RelationshipName: "Is contained in Vpc"},
	}
	for _, g := range mt.SecurityGroups {
		rels = append(rels, Relationship{ResourceType: "AWS::EC2::SecurityGroup", ResourceID: g, RelationshipName: "Is associated with SecurityGroup"})
	}
	supp := map[string]json.RawMessage{}
	if s.publicSubnets[mt.SubnetID] {
		// What efs-mount-target-public-accessible looks at: the subnet
		// assigns public addresses (shelf's network config marks it).
		supp["Subnet"] = mustJSON(map[string]any{"SubnetId": mt.SubnetID, "MapPublicIpOnLaunch": true})
	} else {
		supp["Subnet"] = mustJSON(map[string]any{"SubnetId": mt.SubnetID, "MapPublicIpOnLaunch": false})
	}
	return &Item{Version: ItemVersion, AccountID: s.account, ARN: s.mountTargetARN(mt.ID), ResourceType: control.ResourceTypeMountTarget,
		ResourceID: mt.ID, AWSRegion: s.region, AvailabilityZone: mt.AvailabilityZoneName,
		Tags: map[string]string{}, RelatedEvents: []string{}, Relationships: rels,
		Configuration: mustJSON(cfg), SupplementaryConfiguration: supp}
}

func (s *Service) mountTargetARN(id string) string {
	return "arn:aws:elasticfilesystem:" + s.region + ":" + s.account + ":mount-target/" + id
}

// snapshot builds the current item of one resource; (nil, nil) means the
// resource does not exist.
func (s *Service) snapshot(ctx context.Context, k resourceKey) (*Item, error) {
	var it *Item
	var err error
	switch k.Type {
	case control.ResourceTypeFileSystem:
		var mts []control.MountTarget
		var aps []control.AccessPoint
		if mts, err = s.res.MountTargets(ctx); err != nil {
			return nil, err
		}
		if aps, err = s.accessPointsOf(ctx, k.ID); err != nil && !gone(err) {
			return nil, err
		}
		it, err = s.snapshotFileSystem(ctx, k.ID, mts, aps)
	case control.ResourceTypeAccessPoint:
		it, err = s.snapshotAccessPoint(ctx, k.ID)
	case control.ResourceTypeMountTarget:
		var mt control.MountTarget
		if mt, err = s.res.MountTarget(ctx, k.ID); err == nil {
			it = s.mountTargetItem(mt)
		}
	default:
		return nil, fmt.Errorf("configsvc: unknown resource type %q", k.Type)
	}
	if gone(err) {
		return nil, nil
	}
	return it, err
}

func (s *Service) accessPointsOf(ctx context.Context, fsID string) ([]control.AccessPoint, error) {
	var out []control.AccessPoint
	token := ""
	for {
		page, err := s.res.DescribeAccessPoints(ctx, control.DescribeAccessPointsInput{FileSystemID: fsID, NextToken: token, MaxResults: 100})
		if err != nil {
			return nil, err
		}
		out = append(out, page.AccessPoints...)
		if page.NextToken == "" {
			return out, nil
		}
		token = page.NextToken
	}
}

// listResources returns the keys of every existing resource.
func (s *Service) listResources(ctx context.Context) ([]resourceKey, error) {
	var keys []resourceKey
	marker := ""
	for {
		page, err := s.res.DescribeFileSystems(ctx, control.DescribeFileSystemsInput{Marker: marker, MaxItems: 100})
		if err != nil {
			return nil, err
		}
		for _, f := range page.FileSystems {
			keys = append(keys, resourceKey{control.ResourceTypeFileSystem, f.ID})
			aps, err := s.accessPointsOf(ctx, f.ID)
			if err != nil && !gone(err) {
				return nil, err
			}
			for _, ap := range aps {
				keys = append(keys, resourceKey{control.ResourceTypeAccessPoint, ap.ID})
			}
		}
		if page.NextMarker == "" {
			break
		}
		marker = page.NextMarker
	}
	mts, err := s.res.MountTargets(ctx)
	if err != nil {
		return nil, err
	}
	for _, mt := range mts {
		keys = append(keys, resourceKey{control.ResourceTypeMountTarget, mt.ID})
	}
	return keys, nil
}

// nextStateID returns a configurationStateId greater than prev: the
// capture time in milliseconds, bumped when two items share one.
func nextStateID(prev string, now time.Time) string {
	id := now.UnixMilli()
	if p, err := strconv.ParseInt(prev, 10, 64); err == nil && p >= id {
		id = p + 1
	}
	return strconv.FormatInt(id, 10)
}

var errStopped = errors.New("configsvc: stopped")
