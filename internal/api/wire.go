package api

import (
	"strconv"
	"time"

	"github.com/shelf-efs/shelf/internal/control"
)

// Wire shapes of the EFS REST-JSON protocol. Inputs use pointers so that a
// missing member is told apart from a zero one; outputs follow the model's
// member names and omit absent optional members.

// epoch is a timestamp sent as epoch seconds in a JSON number (the Go SDK
// rejects strings).
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

type tagIn struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagsIn(in []tagIn) []control.Tag {
	out := make([]control.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, control.Tag{Key: deref(t.Key), Value: deref(t.Value)})
	}
	return out
}

func tagsOut(in []control.Tag) []tagOut {
	out := make([]tagOut, 0, len(in))
	for _, t := range in {
		out = append(out, tagOut(t))
	}
	return out
}

func deref[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

func ptr[T comparable](v T) *T {
	var z T
	if v == z {
		return nil
	}
	return &v
}

type sizeOut struct {
	Value           int64  `json:"Value"`
	Timestamp       *epoch `json:"Timestamp,omitempty"`
	ValueInIA       int64  `json:"ValueInIA"`
	ValueInStandard int64  `json:"ValueInStandard"`
	ValueInArchive  int64  `json:"ValueInArchive"`
}

type protectionOut struct {
	ReplicationOverwriteProtection string `json:"ReplicationOverwriteProtection,omitempty"`
}

type fileSystemOut struct {
	OwnerID                      string         `json:"OwnerId"`
	CreationToken                string         `json:"CreationToken"`
	FileSystemID                 string         `json:"FileSystemId"`
	FileSystemARN                string         `json:"FileSystemArn"`
	CreationTime                 epoch          `json:"CreationTime"`
	LifeCycleState               string         `json:"LifeCycleState"`
	Name                         *string        `json:"Name,omitempty"`
	NumberOfMountTargets         int            `json:"NumberOfMountTargets"`
	SizeInBytes                  sizeOut        `json:"SizeInBytes"`
	PerformanceMode              string         `json:"PerformanceMode"`
	Encrypted                    bool           `json:"Encrypted"`
	KmsKeyID                     *string        `json:"KmsKeyId,omitempty"`
	ThroughputMode               string         `json:"ThroughputMode"`
	ProvisionedThroughputInMibps *float64       `json:"ProvisionedThroughputInMibps,omitempty"`
	AvailabilityZoneName         *string        `json:"AvailabilityZoneName,omitempty"`
	AvailabilityZoneID           *string        `json:"AvailabilityZoneId,omitempty"`
	Tags                         []tagOut       `json:"Tags"`
	FileSystemProtection         *protectionOut `json:"FileSystemProtection,omitempty"`
}

func fileSystemWire(d control.FileSystem) fileSystemOut {
	return fileSystemOut{
		OwnerID: d.OwnerID, CreationToken: d.CreationToken, FileSystemID: d.ID, FileSystemARN: d.ARN,
		CreationTime: epoch(d.CreationTime), LifeCycleState: string(d.LifeCycleState), Name: ptr(d.Name),
		NumberOfMountTargets: d.NumberOfMountTargets,
		SizeInBytes: sizeOut{Value: d.Size.Value, Timestamp: epochPtr(d.Size.Timestamp), ValueInIA: d.Size.ValueInIA,
			ValueInStandard: d.Size.ValueInStandard, ValueInArchive: d.Size.ValueInArchive},
		PerformanceMode: d.PerformanceMode, Encrypted: d.Encrypted, KmsKeyID: ptr(d.KMSKeyID),
		ThroughputMode: d.ThroughputMode, ProvisionedThroughputInMibps: ptr(d.ProvisionedThroughputInMiBps),
		AvailabilityZoneName: ptr(d.AvailabilityZoneName), AvailabilityZoneID: ptr(d.AvailabilityZoneID),
		Tags: tagsOut(d.Tags), FileSystemProtection: &protectionOut{ReplicationOverwriteProtection: d.ReplicationOverwriteProtection},
	}
}

type mountTargetOut struct {
	OwnerID              string  `json:"OwnerId"`
	MountTargetID        string  `json:"MountTargetId"`
	FileSystemID         string  `json:"FileSystemId"`
	SubnetID             string  `json:"SubnetId"`
	LifeCycleState       string  `json:"LifeCycleState"`
	IPAddress            *string `json:"IpAddress,omitempty"`
	NetworkInterfaceID   string  `json:"NetworkInterfaceId"`
	AvailabilityZoneID   string  `json:"AvailabilityZoneId"`
	AvailabilityZoneName string  `json:"AvailabilityZoneName"`
	VpcID                string  `json:"VpcId"`
}

func mountTargetWire(m control.MountTarget) mountTargetOut {
	out := mountTargetOut{OwnerID: m.OwnerID, MountTargetID: m.ID, FileSystemID: m.FileSystemID, SubnetID: m.SubnetID,
		LifeCycleState: string(m.LifeCycleState), NetworkInterfaceID: m.NetworkInterfaceID,
		AvailabilityZoneID: m.AvailabilityZoneID, AvailabilityZoneName: m.AvailabilityZoneName, VpcID: m.VPCID}
	if m.IPAddress.IsValid() {
		ip := m.IPAddress.String()
		out.IPAddress = &ip
	}
	return out
}

type posixUserIO struct {
	UID           *int64  `json:"Uid"`
	GID           *int64  `json:"Gid"`
	SecondaryGIDs []int64 `json:"SecondaryGids,omitempty"`
}

type creationInfoIO struct {
	OwnerUID    *int64  `json:"OwnerUid"`
	OwnerGID    *int64  `json:"OwnerGid"`
	Permissions *string `json:"Permissions"`
}

type rootDirectoryIO struct {
	Path         *string         `json:"Path,omitempty"`
	CreationInfo *creationInfoIO `json:"CreationInfo,omitempty"`
}

type accessPointOut struct {
	ClientToken    string           `json:"ClientToken"`
	Name           *string          `json:"Name,omitempty"`
	Tags           []tagOut         `json:"Tags"`
	AccessPointID  string           `json:"AccessPointId"`
	AccessPointARN string           `json:"AccessPointArn"`
	FileSystemID   string           `json:"FileSystemId"`
	PosixUser      *posixUserIO     `json:"PosixUser,omitempty"`
	RootDirectory  *rootDirectoryIO `json:"RootDirectory,omitempty"`
	OwnerID        string           `json:"OwnerId"`
	LifeCycleState string           `json:"LifeCycleState"`
}

func i64(v uint32) *int64 { x := int64(v); return &x }

func accessPointWire(a control.AccessPoint) accessPointOut {
	out := accessPointOut{ClientToken: a.ClientToken, Name: ptr(a.Name), Tags: tagsOut(a.Tags), AccessPointID: a.ID,
		AccessPointARN: a.ARN, FileSystemID: a.FileSystemID, OwnerID: a.OwnerID, LifeCycleState: string(a.LifeCycleState)}
	if p := a.PosixUser; p != nil {
		out.PosixUser = &posixUserIO{UID: i64(p.UID), GID: i64(p.GID)}
		for _, g := range p.SecondaryGIDs {
			out.PosixUser.SecondaryGIDs = append(out.PosixUser.SecondaryGIDs, int64(g))
		}
	}
	path := a.RootDirectory.Path
	out.RootDirectory = &rootDirectoryIO{Path: &path}
	if ci := a.RootDirectory.CreationInfo; ci != nil {
		perm := ci.Permissions
		out.RootDirectory.CreationInfo = &creationInfoIO{OwnerUID: i64(ci.OwnerUID), OwnerGID: i64(ci.OwnerGID), Permissions: &perm}
	}
	return out
}

type lifecyclePolicyIO struct {
	TransitionToIA                  *string `json:"TransitionToIA,omitempty"`
	TransitionToPrimaryStorageClass *string `json:"TransitionToPrimaryStorageClass,omitempty"`
	TransitionToArchive             *string `json:"TransitionToArchive,omitempty"`
}

type lifecycleOut struct {
	LifecyclePolicies []lifecyclePolicyIO `json:"LifecyclePolicies"`
}

func lifecycleWire(ps []control.LifecyclePolicy) lifecycleOut {
	out := lifecycleOut{LifecyclePolicies: []lifecyclePolicyIO{}}
	for _, p := range ps {
		out.LifecyclePolicies = append(out.LifecyclePolicies, lifecyclePolicyIO{TransitionToIA: ptr(p.TransitionToIA),
			TransitionToPrimaryStorageClass: ptr(p.TransitionToPrimaryStorageClass), TransitionToArchive: ptr(p.TransitionToArchive)})
	}
	return out
}

type backupPolicyIO struct {
	Status *string `json:"Status"`
}

type backupOut struct {
	BackupPolicy backupPolicyIO `json:"BackupPolicy"`
}

type destinationOut struct {
	Status                  string  `json:"Status"`
	FileSystemID            string  `json:"FileSystemId"`
	Region                  string  `json:"Region"`
	LastReplicatedTimestamp *epoch  `json:"LastReplicatedTimestamp,omitempty"`
	OwnerID                 string  `json:"OwnerId"`
	StatusMessage           *string `json:"StatusMessage,omitempty"`
	RoleARN                 *string `json:"RoleArn,omitempty"`
}

type replicationOut struct {
	SourceFileSystemID          string           `json:"SourceFileSystemId"`
	SourceFileSystemRegion      string           `json:"SourceFileSystemRegion"`
	SourceFileSystemARN         string           `json:"SourceFileSystemArn"`
	OriginalSourceFileSystemARN string           `json:"OriginalSourceFileSystemArn"`
	CreationTime                epoch            `json:"CreationTime"`
	Destinations                []destinationOut `json:"Destinations"`
	SourceFileSystemOwnerID     string           `json:"SourceFileSystemOwnerId"`
}

func replicationWire(c control.ReplicationConfiguration) replicationOut {
	out := replicationOut{SourceFileSystemID: c.SourceFileSystemID, SourceFileSystemRegion: c.SourceFileSystemRegion,
		SourceFileSystemARN: c.SourceFileSystemARN, OriginalSourceFileSystemARN: c.OriginalSourceFileSystemARN,
		CreationTime: epoch(c.CreationTime), SourceFileSystemOwnerID: c.SourceFileSystemOwnerID, Destinations: []destinationOut{}}
	for _, d := range c.Destinations {
		out.Destinations = append(out.Destinations, destinationOut{Status: d.Status, FileSystemID: d.FileSystemID,
			Region: d.Region, LastReplicatedTimestamp: epochPtr(d.LastReplicatedTimestamp), OwnerID: d.OwnerID,
			StatusMessage: ptr(d.StatusMessage), RoleARN: ptr(d.RoleARN)})
	}
	return out
}

type resourceIDPreferenceOut struct {
	ResourceIDType string   `json:"ResourceIdType"`
	Resources      []string `json:"Resources"`
}

func preferenceWire(idType string) resourceIDPreferenceOut {
	return resourceIDPreferenceOut{ResourceIDType: idType, Resources: []string{"FILE_SYSTEM", "MOUNT_TARGET"}}
}
