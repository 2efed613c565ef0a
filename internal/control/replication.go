package control

import (
	"context"
	"slices"
	"time"

	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Replication statuses.
const (
	ReplicationEnabled  = "ENABLED"
	ReplicationEnabling = "ENABLING"
	ReplicationDeleting = "DELETING"
	ReplicationError    = "ERROR"
	ReplicationPaused   = "PAUSED"
	ReplicationPausing  = "PAUSING"
)

// Deletion modes of DeleteReplicationConfiguration.
const (
	DeletionAllConfigurations      = "ALL_CONFIGURATIONS"
	DeletionLocalConfigurationOnly = "LOCAL_CONFIGURATION_ONLY"
)

// ReplicationDestination is the destination of a replication configuration.
type ReplicationDestination struct {
	FileSystemID, Region, Status, StatusMessage, OwnerID, RoleARN string
	LastReplicatedTimestamp                                       time.Time
}

// ReplicationConfiguration describes a replication configuration.
type ReplicationConfiguration struct {
	SourceFileSystemID, SourceFileSystemRegion, SourceFileSystemARN string
	OriginalSourceFileSystemARN, SourceFileSystemOwnerID            string
	CreationTime                                                    time.Time
	Destinations                                                    []ReplicationDestination
}

// DestinationInput is the destination of CreateReplicationConfiguration.
type DestinationInput struct {
	// Region "" means this region; other regions are not served by this
	// shelfd.
	Region               string
	AvailabilityZoneName string
	KMSKeyID             string
	FileSystemID         string // an existing destination (ID or ARN)
	RoleARN              string
}

func (s *Service) describeReplication(src *fsRecord) ReplicationConfiguration {
	c := ReplicationConfiguration{SourceFileSystemID: src.ID, SourceFileSystemRegion: s.cfg.Region,
		SourceFileSystemARN: s.FileSystemARN(src.ID), OriginalSourceFileSystemARN: s.FileSystemARN(src.ID),
		SourceFileSystemOwnerID: s.cfg.Account, CreationTime: src.Replication.Created}
	for _, d := range src.Replication.Destinations {
		c.Destinations = append(c.Destinations, ReplicationDestination{FileSystemID: d.FileSystemID, Region: d.Region,
			Status: d.Status, StatusMessage: d.StatusMessage, OwnerID: s.cfg.Account, RoleARN: d.RoleARN,
			LastReplicatedTimestamp: d.LastReplicated})
	}
	return c
}

// CreateReplicationConfiguration creates a replication configuration from
// a source file system to exactly one destination: a new file system
// (encrypted, with backups, bursting, the source's performance mode) or an
// existing one whose overwrite protection is DISABLED. The destination
// becomes read-only (protection REPLICATING). The configuration starts in
// ENABLING; the replication engine (a later issue) reports progress with
// SetReplicationStatus.
func (s *Service) CreateReplicationConfiguration(ctx context.Context, sourceRef string, dests []DestinationInput) (ReplicationConfiguration, error) {
	srcID, err := s.fsID(sourceRef)
	if err != nil {
		return ReplicationConfiguration{}, err
	}
	if len(dests) != 1 {
		return ReplicationConfiguration{}, errorf(BadRequest, "A replication configuration has exactly one destination.")
	}
	d := dests[0]
	if d.Region == "" {
		d.Region = s.cfg.Region
	}
	if d.Region != s.cfg.Region {
		return ReplicationConfiguration{}, errorf(BadRequest, "Replication to region '%s' is not available; this server serves %s only.", d.Region, s.cfg.Region)
	}
	src, err := s.fileSystemRecord(ctx, srcID)
	if err != nil {
		return ReplicationConfiguration{}, err
	}
	if err := requireAvailable(src); err != nil {
		return ReplicationConfiguration{}, err
	}
	if src.Replication != nil || src.ReplicaOf != "" {
		return ReplicationConfiguration{}, errorf(BadRequest, "File system '%s' is already part of a replication configuration.", srcID)
	}
	var destID string
	if d.FileSystemID != "" {
		if d.AvailabilityZoneName != "" || d.KMSKeyID != "" {
			return ReplicationConfiguration{}, errorf(BadRequest, "AvailabilityZoneName and KmsKeyId apply only to a new destination file system.")
		}
		if destID, err = s.fsID(d.FileSystemID); err != nil {
			return ReplicationConfiguration{}, err
		}
		if destID == srcID {
			return ReplicationConfiguration{}, errorf(BadRequest, "The source and destination file systems must differ.")
		}
	} else {
		// A new destination file system, created like EFS does.
		perf := src.PerformanceMode
		if d.AvailabilityZoneName != "" {
			perf = PerformanceGeneralPurpose
		}
		backup := true
		id, err := s.NewFileSystemID(ctx)
		if err != nil {
			return ReplicationConfiguration{}, err
		}
		token, err := s.newID("replication-", 32)
		if err != nil {
			return ReplicationConfiguration{}, err
		}
		created, err := s.CreateFileSystem(ctx, id, CreateFileSystemInput{CreationToken: token, PerformanceMode: perf,
			Encrypted: true, KMSKeyID: d.KMSKeyID, ThroughputMode: ThroughputBursting,
			AvailabilityZoneName: d.AvailabilityZoneName, Backup: &backup})
		if err != nil {
			return ReplicationConfiguration{}, err
		}
		destID = created.ID
		// A new destination accepts replication.
		if _, err := s.updateFS(ctx, destID, "prepare replication destination", func(_ meta.Txn, rec *fsRecord) error {
			rec.Protection = ProtectionDisabled
			return nil
		}); err != nil {
			return ReplicationConfiguration{}, err
		}
	}
	var out ReplicationConfiguration
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		src, err := getFS(t, srcID)
		if err != nil {
			return err
		}
		dst, err := getFS(t, destID)
		if err != nil {
			return err
		}
		switch {
		case src.Replication != nil || src.ReplicaOf != "":
			return errorf(BadRequest, "File system '%s' is already part of a replication configuration.", srcID)
		case dst.Replication != nil || dst.ReplicaOf != "":
			return errorf(BadRequest, "File system '%s' is already part of a replication configuration.", destID)
		case dst.Protection != ProtectionDisabled:
			return errorf(BadRequest, "The replication overwrite protection of destination file system '%s' must be DISABLED.", destID)
		case dst.State != StateAvailable:
			return errorf(IncorrectFileSystemLifeCycleState, "Destination file system '%s' is in state %s.", destID, dst.State)
		case src.Encrypted && !dst.Encrypted:
			return errorf(ConflictException, "The source file system is encrypted but destination '%s' is not.", destID)
		}
		src.Replication = &replication{Created: s.now().Truncate(time.Second), Destinations: []destination{{
			FileSystemID: destID, Region: d.Region, Status: ReplicationEnabling, RoleARN: d.RoleARN}}}
		dst.ReplicaOf = srcID
		dst.Protection = ProtectionReplicating
		if err := putJSON(t, fsKey(destID), dst); err != nil {
			return err
		}
		out = s.describeReplication(src)
		return putJSON(t, fsKey(srcID), src)
	})
	if err != nil {
		if d.FileSystemID == "" {
			// Remove the destination made above, which nothing uses.
			if derr := s.deleteUnusedFS(context.WithoutCancel(ctx), destID); derr != nil {
				s.log.Warn("remove unused replication destination", "fs_id", destID, "err", derr)
			}
		}
		return ReplicationConfiguration{}, internal("create replication configuration", err)
	}
	return out, nil
}

func (s *Service) deleteUnusedFS(ctx context.Context, id string) error {
	if err := s.vols.DeleteFileSystem(ctx, id); err != nil && !fs.IsCode(err, fs.Stale) {
		return err
	}
	return s.finishDelete(ctx, id)
}

// ReplicationPage is one page of DescribeReplicationConfigurations.
type ReplicationPage struct {
	Replications []ReplicationConfiguration
	NextToken    string
}

// DescribeReplicationConfigurations returns the configuration of one file
// system (source or destination; ReplicationNotFound if it has none) or,
// with ref empty, all of them.
func (s *Service) DescribeReplicationConfigurations(ctx context.Context, ref, token string, max int) (ReplicationPage, error) {
	after, err := decodeMarker("repl", token)
	if err != nil {
		return ReplicationPage{}, err
	}
	limit := pageSize(max)
	var page ReplicationPage
	err = s.meta.View(ctx, func(r meta.Reader) error {
		page = ReplicationPage{}
		if ref != "" {
			id, err := s.fsID(ref)
			if err != nil {
				return err
			}
			rec, err := getFS(r, id)
			if err != nil {
				return err
			}
			if rec.ReplicaOf != "" {
				if rec, err = getFS(r, rec.ReplicaOf); err != nil {
					return err
				}
			}
			if rec.Replication == nil {
				return errorf(ReplicationNotFound, "File system '%s' has no replication configuration.", id)
			}
			if after == "" {
				page.Replications = append(page.Replications, s.describeReplication(rec))
			}
			return nil
		}
		var last string
		return scanFileSystems(r, after, func(rec *fsRecord) (bool, error) {
			if rec.Replication == nil {
				return true, nil
			}
			if len(page.Replications) == limit {
				page.NextToken = encodeMarker("repl", last)
				return false, nil
			}
			page.Replications = append(page.Replications, s.describeReplication(rec))
			last = rec.ID
			return true, nil
		})
	})
	if err != nil {
		return ReplicationPage{}, internal("describe replication configurations", err)
	}
	return page, nil
}

// DeleteReplicationConfiguration ends the replication of a file system
// (given as the source or the destination). The destination becomes
// writable again with overwrite protection ENABLED.
// LOCAL_CONFIGURATION_ONLY applies only across regions or accounts, so it
// is a BadRequest here.
func (s *Service) DeleteReplicationConfiguration(ctx context.Context, ref, mode string) error {
	switch mode {
	case "", DeletionAllConfigurations:
	case DeletionLocalConfigurationOnly:
		return errorf(BadRequest, "LOCAL_CONFIGURATION_ONLY applies only to cross-Region or cross-account replication.")
	default:
		return errorf(BadRequest, "Invalid deletion mode '%s'.", mode)
	}
	id, err := s.fsID(ref)
	if err != nil {
		return err
	}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getFS(t, id)
		if err != nil {
			return err
		}
		if rec.ReplicaOf != "" {
			if rec, err = getFS(t, rec.ReplicaOf); err != nil {
				return err
			}
		}
		if rec.Replication == nil {
			return errorf(ReplicationNotFound, "File system '%s' has no replication configuration.", id)
		}
		for _, d := range rec.Replication.Destinations {
			dst, err := getFS(t, d.FileSystemID)
			if IsCode(err, FileSystemNotFound) {
				continue
			} else if err != nil {
				return err
			}
			dst.ReplicaOf = ""
			dst.Protection = ProtectionEnabled
			if err := putJSON(t, fsKey(dst.ID), dst); err != nil {
				return err
			}
		}
		rec.Replication = nil
		return putJSON(t, fsKey(rec.ID), rec)
	})
	return internal("delete replication configuration", err)
}

// SetReplicationStatus records the state of the replication from source
// (for the replication engine): status, an optional message and the time
// up to which changes have reached the destination.
func (s *Service) SetReplicationStatus(ctx context.Context, sourceRef, status, message string, lastReplicated time.Time) error {
	valid := []string{ReplicationEnabled, ReplicationEnabling, ReplicationDeleting, ReplicationError, ReplicationPaused, ReplicationPausing}
	if !slices.Contains(valid, status) {
		return errorf(BadRequest, "Invalid replication status '%s'.", status)
	}
	_, err := s.updateFS(ctx, sourceRef, "set replication status", func(_ meta.Txn, rec *fsRecord) error {
		if rec.Replication == nil {
			return errorf(ReplicationNotFound, "File system '%s' has no replication configuration.", rec.ID)
		}
		for i := range rec.Replication.Destinations {
			d := &rec.Replication.Destinations[i]
			d.Status, d.StatusMessage = status, message
			if !lastReplicated.IsZero() {
				d.LastReplicated = lastReplicated.UTC()
			}
		}
		return nil
	})
	return err
}
