package control

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Performance and throughput modes, backup and protection states.
const (
	PerformanceGeneralPurpose = "generalPurpose"
	PerformanceMaxIO          = "maxIO"
	ThroughputBursting        = "bursting"
	ThroughputProvisioned     = "provisioned"
	ThroughputElastic         = "elastic"
	StatusEnabled             = "ENABLED"
	StatusEnabling            = "ENABLING"
	StatusDisabled            = "DISABLED"
	StatusDisabling           = "DISABLING"
	ProtectionEnabled         = "ENABLED"
	ProtectionDisabled        = "DISABLED"
	ProtectionReplicating     = "REPLICATING"
)

// Size is the metered size of a file system.
type Size struct {
	Value, ValueInStandard, ValueInIA, ValueInArchive int64
	Timestamp                                         time.Time
}

// FileSystem describes a file system as DescribeFileSystems does.
type FileSystem struct {
	ID, ARN, OwnerID, CreationToken string
	CreationTime                    time.Time
	LifeCycleState                  LifeCycleState
	Name                            string
	NumberOfMountTargets            int
	Size                            Size
	PerformanceMode                 string
	Encrypted                       bool
	KMSKeyID                        string // key ARN when Encrypted
	ThroughputMode                  string
	// ProvisionedThroughputInMiBps is set in provisioned mode.
	ProvisionedThroughputInMiBps float64
	AvailabilityZoneName         string
	AvailabilityZoneID           string
	Tags                         []Tag
	// ReplicationOverwriteProtection: ENABLED, DISABLED or REPLICATING.
	ReplicationOverwriteProtection string
}

func (s *Service) describeFS(rec *fsRecord) FileSystem {
	d := FileSystem{
		ID: rec.ID, ARN: s.FileSystemARN(rec.ID), OwnerID: s.cfg.Account, CreationToken: rec.CreationToken,
		CreationTime: rec.Created, LifeCycleState: rec.State, Name: nameOf(rec.Tags),
		NumberOfMountTargets: rec.MountTargets, PerformanceMode: rec.PerformanceMode,
		Encrypted: rec.Encrypted, KMSKeyID: rec.KMSKeyARN, ThroughputMode: rec.ThroughputMode,
		ProvisionedThroughputInMiBps: rec.ProvisionedMiBps, AvailabilityZoneName: rec.AZName,
		Tags: slices.Clone(rec.Tags), ReplicationOverwriteProtection: rec.Protection,
	}
	if d.Tags == nil {
		d.Tags = []Tag{}
	}
	if z, ok := s.net.zoneByName[rec.AZName]; ok {
		d.AvailabilityZoneID = z.ID
	}
	return d
}

// withSize fills in the metered size from the file system's usage. A file
// system whose contents cannot be read (being created or deleted) reports
// zero. It also reports the state of the file system's KMS key
// (withKeyState).
func (s *Service) withSize(ctx context.Context, d *FileSystem) {
	d.Size.Timestamp = s.now()
	if d.LifeCycleState != StateAvailable && d.LifeCycleState != StateUpdating {
		return
	}
	s.withKeyState(ctx, d)
	f, err := s.vols.FileSystem(ctx, d.ID)
	if err != nil {
		return
	}
	st, err := f.StatFS(ctx)
	if err != nil {
		s.log.Debug("statfs for metered size", "fs_id", d.ID, "err", err)
		return
	}
	v := int64(min(st.UsedBytes, uint64(1<<62)))
	d.Size.Value, d.Size.ValueInStandard = v, v
}

// CreateFileSystemInput holds the parameters of CreateFileSystem.
type CreateFileSystemInput struct {
	CreationToken   string
	PerformanceMode string // "" means generalPurpose
	Encrypted       bool
	// KMSKeyID is a key ID, key ARN, alias name or alias ARN; only with
	// Encrypted. Empty means aws/elasticfilesystem.
	KMSKeyID string
	// ThroughputMode "" means bursting.
	ThroughputMode               string
	ProvisionedThroughputInMiBps *float64
	// AvailabilityZoneName makes a One Zone file system.
	AvailabilityZoneName string
	// Backup nil means false, or true for One Zone.
	Backup *bool
	Tags   []Tag
}

// NewFileSystemID returns a fresh file-system ID in the account's
// resource-ID format, so that the caller can authorize the call on the ARN
// before CreateFileSystem (which then takes it in id).
func (s *Service) NewFileSystemID(ctx context.Context) (string, error) {
	prefs, err := s.AccountPreferences(ctx)
	if err != nil {
		return "", err
	}
	return s.newID("fs-", idDigits(prefs))
}

// checkThroughput applies the throughput-mode rules.
func checkThroughput(mode string, mibps *float64, perf, az string) error {
	switch mode {
	case ThroughputBursting, ThroughputElastic:
		if mibps != nil {
			return errorf(BadRequest, "ProvisionedThroughputInMibps can be set only with throughput mode provisioned.")
		}
	case ThroughputProvisioned:
		if mibps == nil {
			return errorf(BadRequest, "ProvisionedThroughputInMibps is required when the throughput mode is provisioned.")
		}
		if *mibps < 1 {
			return errorf(BadRequest, "ProvisionedThroughputInMibps must be at least 1.")
		}
		if *mibps > MaxProvisionedThroughputMiBps {
			return errorf(ThroughputLimitExceeded, "The provisioned throughput of %g MiB/s exceeds the limit of %d MiB/s.", *mibps, MaxProvisionedThroughputMiBps)
		}
	default:
		return errorf(BadRequest, "Invalid throughput mode '%s'.", mode)
	}
	if mode == ThroughputElastic && perf == PerformanceMaxIO {
		return errorf(BadRequest, "Elastic throughput is not supported with the maxIO performance mode.")
	}
	return nil
}

// resolveKey returns the ARN of the KMS key for a new encrypted file
// system.
func (s *Service) resolveKey(ctx context.Context, ref string) (string, error) {
	var md kms.KeyMetadata
	var err error
	if ref == "" {
		md, err = s.keys.ManagedKey(ctx)
	} else {
		md, err = s.keys.DescribeKey(ctx, ref)
	}
	switch {
	case errors.Is(err, kms.ErrNotFound), errors.Is(err, kms.ErrInvalidArgument):
		return "", errorf(BadRequest, "Invalid KMS key '%s': the key does not exist.", ref)
	case err != nil:
		return "", internal("describe kms key", err)
	case md.KeyState != kms.KeyStateEnabled:
		return "", errorf(BadRequest, "The KMS key '%s' is %s.", md.ARN, md.KeyState)
	}
	return md.ARN, nil
}

// CreateFileSystem creates file system id (from NewFileSystemID) and its
// empty contents. A CreationToken that the account already used fails with
// FileSystemAlreadyExists carrying that file system's ID. The record is
// written in state creating before the contents are made, and becomes
// available when they are; a crash in between is completed by New.
func (s *Service) CreateFileSystem(ctx context.Context, id string, in CreateFileSystemInput) (FileSystem, error) {
	if !validID(id, "fs-") {
		return FileSystem{}, errorf(BadRequest, "Invalid file system ID.")
	}
	if in.CreationToken == "" || len(in.CreationToken) > 64 {
		return FileSystem{}, errorf(BadRequest, "CreationToken must be 1 to 64 characters.")
	}
	if in.PerformanceMode == "" {
		in.PerformanceMode = PerformanceGeneralPurpose
	}
	if in.ThroughputMode == "" {
		in.ThroughputMode = ThroughputBursting
	}
	switch in.PerformanceMode {
	case PerformanceGeneralPurpose, PerformanceMaxIO:
	default:
		return FileSystem{}, errorf(BadRequest, "Invalid performance mode '%s'.", in.PerformanceMode)
	}
	if err := checkThroughput(in.ThroughputMode, in.ProvisionedThroughputInMiBps, in.PerformanceMode, in.AvailabilityZoneName); err != nil {
		return FileSystem{}, err
	}
	if in.AvailabilityZoneName != "" {
		if _, ok := s.net.zoneByName[in.AvailabilityZoneName]; !ok {
			return FileSystem{}, errorf(UnsupportedAvailabilityZone, "The availability zone '%s' is not supported.", in.AvailabilityZoneName)
		}
		if in.PerformanceMode == PerformanceMaxIO {
			return FileSystem{}, errorf(BadRequest, "One Zone file systems do not support the maxIO performance mode.")
		}
	}
	if in.KMSKeyID != "" && !in.Encrypted {
		return FileSystem{}, errorf(BadRequest, "A KmsKeyId can be given only for an encrypted file system (Encrypted=true).")
	}
	if err := validateTags(in.Tags); err != nil {
		return FileSystem{}, err
	}
	rec := fsRecord{V: recordVersion, ID: id, CreationToken: in.CreationToken, Created: s.now().Truncate(time.Second),
		State: StateCreating, PerformanceMode: in.PerformanceMode, ThroughputMode: in.ThroughputMode,
		Encrypted: in.Encrypted, AZName: in.AvailabilityZoneName, Tags: slices.Clone(in.Tags),
		Backup: StatusDisabled, Protection: ProtectionEnabled}
	if in.ProvisionedThroughputInMiBps != nil {
		rec.ProvisionedMiBps = *in.ProvisionedThroughputInMiBps
	}
	if in.Backup != nil && *in.Backup || in.Backup == nil && in.AvailabilityZoneName != "" {
		rec.Backup = StatusEnabled
	}
	// Idempotency first: a repeated token answers FileSystemAlreadyExists
	// even if the key would now fail to resolve.
	if existing, err := s.fileSystemByToken(ctx, in.CreationToken); err != nil {
		return FileSystem{}, err
	} else if existing != "" {
		return FileSystem{}, &Error{Code: FileSystemAlreadyExists, FileSystemID: existing,
			Message: "File system '" + existing + "' already exists with creation token '" + in.CreationToken + "'"}
	}
	if in.Encrypted {
		arn, err := s.resolveKey(ctx, in.KMSKeyID)
		if err != nil {
			return FileSystem{}, err
		}
		rec.KMSKeyARN = arn
	}
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		if b, err := t.Get(tokenKey(in.CreationToken)); err == nil {
			return &Error{Code: FileSystemAlreadyExists, FileSystemID: string(b),
				Message: "File system '" + string(b) + "' already exists with creation token '" + in.CreationToken + "'"}
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if _, err := t.Get(fsKey(id)); err == nil {
			return errorf(BadRequest, "File system ID '%s' is already in use.", id)
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		n, err := getCount(t, fsCountKey())
		if err != nil {
			return err
		}
		if n >= uint64(s.cfg.MaxFileSystems) {
			return errorf(FileSystemLimitExceeded, "The account has reached its limit of %d file systems.", s.cfg.MaxFileSystems)
		}
		if err := addCount(t, fsCountKey(), 1); err != nil {
			return err
		}
		if err := t.Set(tokenKey(in.CreationToken), []byte(id)); err != nil {
			return err
		}
		return putJSON(t, fsKey(id), &rec)
	})
	if err != nil {
		return FileSystem{}, internal("create file system", err)
	}
	if _, err := s.vols.CreateFileSystem(ctx, id, fs.CreateOptions{Encrypted: rec.Encrypted, KMSKeyID: rec.KMSKeyARN}); err != nil {
		// Undo the record: nothing of the file system remains.
		if uerr := s.finishDelete(context.WithoutCancel(ctx), id); uerr != nil {
			s.log.Error("remove the record of a failed file system creation", "fs_id", id, "err", uerr)
		}
		if fs.IsCode(err, fs.KeyUnavailable) {
			return FileSystem{}, &Error{Code: BadRequest, Message: "The KMS key of the file system is not usable.", Err: err}
		}
		return FileSystem{}, internal("create file system contents", err)
	}
	if err := s.setState(ctx, id, StateCreating, StateAvailable); err != nil {
		return FileSystem{}, err
	}
	rec.State = StateAvailable
	d := s.describeFS(&rec)
	s.withSize(ctx, &d)
	return d, nil
}

func (s *Service) fileSystemByToken(ctx context.Context, token string) (string, error) {
	var id string
	err := s.meta.View(ctx, func(r meta.Reader) error {
		b, err := r.Get(tokenKey(token))
		if errors.Is(err, meta.ErrNotFound) {
			id = ""
			return nil
		}
		id = string(b)
		return err
	})
	return id, internal("look up creation token", err)
}

// setState moves file system id from state from to state to.
func (s *Service) setState(ctx context.Context, id string, from, to LifeCycleState) error {
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getFS(t, id)
		if err != nil {
			return err
		}
		if rec.State != from {
			return nil
		}
		rec.State = to
		return putJSON(t, fsKey(id), rec)
	})
	return internal("set file system state", err)
}

// finishDelete removes every record of file system id: the file system,
// its token, policy, access points and counters.
func (s *Service) finishDelete(ctx context.Context, id string) error {
	var aps []string
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getFS(t, id)
		if IsCode(err, FileSystemNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		aps = aps[:0]
		if err := scanIndex(t, apByFSPrefix(id), "", func(apID string) (bool, error) {
			aps = append(aps, apID)
			return true, nil
		}); err != nil {
			return err
		}
		for _, apID := range aps {
			ap, err := getAP(t, apID)
			if err == nil {
				if err := t.Delete(apTokenKey(ap.ClientToken)); err != nil {
					return err
				}
			} else if !IsCode(err, AccessPointNotFound) {
				return err
			}
			if err := t.Delete(apKey(apID)); err != nil {
				return err
			}
			if err := t.Delete(apByFSKey(id, apID)); err != nil {
				return err
			}
		}
		for _, k := range [][]byte{apCountKey(id), policyKey(id), fsKey(id)} {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		if b, err := t.Get(tokenKey(rec.CreationToken)); err == nil && string(b) == id {
			if err := t.Delete(tokenKey(rec.CreationToken)); err != nil {
				return err
			}
		}
		return addCount(t, fsCountKey(), -1)
	})
	return internal("delete file system records", err)
}

// DescribeFileSystemsInput selects file systems. FileSystemID (an ID or
// ARN) and CreationToken filter; Marker continues a listing.
type DescribeFileSystemsInput struct {
	FileSystemID  string
	CreationToken string
	Marker        string
	MaxItems      int
}

// FileSystemPage is one page of DescribeFileSystems.
type FileSystemPage struct {
	FileSystems []FileSystem
	// NextMarker is empty on the last page.
	NextMarker string
}

// DescribeFileSystems lists file systems in ID order, at most MaxItems
// (default and limit 100) per page. A FileSystemID or CreationToken that
// matches nothing fails with FileSystemNotFound.
func (s *Service) DescribeFileSystems(ctx context.Context, in DescribeFileSystemsInput) (FileSystemPage, error) {
	var page FileSystemPage
	after, err := decodeMarker("fs", in.Marker)
	if err != nil {
		return page, err
	}
	limit := pageSize(in.MaxItems)
	var recs []fsRecord
	err = s.meta.View(ctx, func(r meta.Reader) error {
		recs = recs[:0]
		page.NextMarker = ""
		id := ""
		if in.FileSystemID != "" {
			if id, err = s.fsID(in.FileSystemID); err != nil {
				return err
			}
		}
		if in.CreationToken != "" {
			b, err := r.Get(tokenKey(in.CreationToken))
			if errors.Is(err, meta.ErrNotFound) || err == nil && id != "" && string(b) != id {
				return errorf(FileSystemNotFound, "File system with creation token '%s' does not exist.", in.CreationToken)
			} else if err != nil {
				return err
			}
			id = string(b)
		}
		if id != "" {
			rec, err := getFS(r, id)
			if err != nil {
				return err
			}
			if after == "" {
				recs = append(recs, *rec)
			}
			return nil
		}
		return scanFileSystems(r, after, func(rec *fsRecord) (bool, error) {
			if len(recs) == limit {
				page.NextMarker = encodeMarker("fs", recs[len(recs)-1].ID)
				return false, nil
			}
			recs = append(recs, *rec)
			return true, nil
		})
	})
	if err != nil {
		return FileSystemPage{}, internal("describe file systems", err)
	}
	page.FileSystems = make([]FileSystem, len(recs))
	for i := range recs {
		page.FileSystems[i] = s.describeFS(&recs[i])
		s.withSize(ctx, &page.FileSystems[i])
	}
	return page, nil
}

// FileSystem describes one file system (ID or ARN).
func (s *Service) FileSystem(ctx context.Context, ref string) (FileSystem, error) {
	id, err := s.fsID(ref)
	if err != nil {
		return FileSystem{}, err
	}
	var rec *fsRecord
	err = s.meta.View(ctx, func(r meta.Reader) error {
		rec, err = getFS(r, id)
		return err
	})
	if err != nil {
		return FileSystem{}, internal("get file system", err)
	}
	d := s.describeFS(rec)
	s.withSize(ctx, &d)
	return d, nil
}

// updateFS runs fn on the record of file system ref inside one transaction
// and stores it unless fn returns an error. fn sees only existing records.
func (s *Service) updateFS(ctx context.Context, ref string, op string, fn func(t meta.Txn, rec *fsRecord) error) (*fsRecord, error) {
	id, err := s.fsID(ref)
	if err != nil {
		return nil, err
	}
	var out *fsRecord
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getFS(t, id)
		if err != nil {
			return err
		}
		if err := fn(t, rec); err != nil {
			return err
		}
		out = rec
		return putJSON(t, fsKey(id), rec)
	})
	return out, internal(op, err)
}

func requireAvailable(rec *fsRecord) error {
	if rec.State != StateAvailable {
		return errorf(IncorrectFileSystemLifeCycleState, "File system '%s' is in state %s, not available.", rec.ID, rec.State)
	}
	return nil
}

// UpdateFileSystemInput changes the throughput of a file system.
type UpdateFileSystemInput struct {
	ThroughputMode               string // "" keeps the mode
	ProvisionedThroughputInMiBps *float64
}

// UpdateFileSystem changes the throughput mode or provisioned throughput.
// Changing the mode or decreasing the throughput is allowed once per 24
// hours (TooManyRequests); increases are always allowed.
func (s *Service) UpdateFileSystem(ctx context.Context, ref string, in UpdateFileSystemInput) (FileSystem, error) {
	if in.ThroughputMode == "" && in.ProvisionedThroughputInMiBps == nil {
		return FileSystem{}, errorf(BadRequest, "Specify ThroughputMode or ProvisionedThroughputInMibps.")
	}
	now := s.now()
	rec, err := s.updateFS(ctx, ref, "update file system", func(_ meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		mode := in.ThroughputMode
		if mode == "" {
			mode = rec.ThroughputMode
		}
		if err := checkThroughput(mode, in.ProvisionedThroughputInMiBps, rec.PerformanceMode, rec.AZName); err != nil {
			return err
		}
		var mibps float64
		if in.ProvisionedThroughputInMiBps != nil {
			mibps = *in.ProvisionedThroughputInMiBps
		}
		restricted := mode != rec.ThroughputMode || mode == ThroughputProvisioned && mibps < rec.ProvisionedMiBps
		if restricted && !rec.ThroughputChanged.IsZero() && now.Sub(rec.ThroughputChanged) < throughputCooldown {
			return errorf(TooManyRequests, "The throughput mode can be changed, and provisioned throughput decreased, only once every 24 hours; the next change is allowed after %s.",
				rec.ThroughputChanged.Add(throughputCooldown).UTC().Format(time.RFC3339))
		}
		if restricted {
			rec.ThroughputChanged = now
		}
		rec.ThroughputMode, rec.ProvisionedMiBps = mode, mibps
		if mode != ThroughputElastic {
			for _, p := range rec.Lifecycle {
				if p.TransitionToArchive != "" {
					return errorf(BadRequest, "The file system has a TransitionToArchive lifecycle policy, which needs elastic throughput.")
				}
			}
		}
		return nil
	})
	if err != nil {
		return FileSystem{}, err
	}
	d := s.describeFS(rec)
	s.withSize(ctx, &d)
	return d, nil
}

// DeleteFileSystem deletes a file system and its contents. It fails with
// FileSystemInUse while it has mount targets or is part of a replication
// configuration. The file system is marked deleting first; its contents
// and records are then removed (New completes a deletion a crash
// interrupted).
func (s *Service) DeleteFileSystem(ctx context.Context, ref string) error {
	rec, err := s.updateFS(ctx, ref, "delete file system", func(_ meta.Txn, rec *fsRecord) error {
		switch {
		case rec.State == StateDeleting:
			return nil
		case rec.State != StateAvailable:
			return errorf(IncorrectFileSystemLifeCycleState, "File system '%s' is in state %s.", rec.ID, rec.State)
		case rec.MountTargets > 0:
			return errorf(FileSystemInUse, "File system '%s' has mount targets; delete them first.", rec.ID)
		case rec.Replication != nil || rec.ReplicaOf != "":
			return errorf(FileSystemInUse, "File system '%s' is part of a replication configuration; delete the replication configuration first.", rec.ID)
		}
		rec.State = StateDeleting
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.vols.DeleteFileSystem(ctx, rec.ID); err != nil && !fs.IsCode(err, fs.Stale) {
		return internal("delete file system contents", err)
	}
	return s.finishDelete(ctx, rec.ID)
}
