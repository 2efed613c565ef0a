package control

import (
	"context"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/meta"
)

// PutFileSystemPolicyInput holds the parameters of PutFileSystemPolicy.
type PutFileSystemPolicyInput struct {
	FileSystemID string
	Policy       string
	// BypassLockoutSafetyCheck skips the check that the policy leaves the
	// caller able to change it again.
	BypassLockoutSafetyCheck bool
	// Caller and Conditions are the principal making the request and its
	// request context, for the lockout safety check (no check when
	// Caller.ARN is empty).
	Caller     iam.Principal
	Conditions map[string][]string
}

// checkPolicy parses a file-system policy with the IAM policy language
// (internal/iam) as a resource policy of at most 20,000 characters.
func checkPolicy(policy string) (*iam.Policy, error) {
	if utf8.RuneCountInString(policy) > MaxPolicyChars {
		return nil, errorf(ValidationException, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", MaxPolicyChars)
	}
	p, err := iam.ParseWith([]byte(policy), iam.FileSystemPolicyOptions)
	if err != nil {
		var pe *iam.PolicyError
		if errors.As(err, &pe) {
			return nil, &Error{Code: InvalidPolicyException, Message: pe.Message(), Err: err}
		}
		return nil, &Error{Code: InvalidPolicyException, Message: "The policy is not valid.", Err: err}
	}
	return p, nil
}

// PutFileSystemPolicy sets the explicit policy of a file system. An invalid
// policy fails with InvalidPolicyException and is never stored; so does a
// policy that would lock the caller out of PutFileSystemPolicy, unless
// BypassLockoutSafetyCheck.
//
// The lockout check: API calls are authorized with the caller's identity
// policies (or the root's bypass), which let this caller make this call;
// the same request made later is then refused only if the new policy
// explicitly denies it, so the check evaluates the policy for
// elasticfilesystem:PutFileSystemPolicy by the caller on this file system
// with the call's context keys (iam.LocksOut with the identity policies
// taken as allowing).
func (s *Service) PutFileSystemPolicy(ctx context.Context, in PutFileSystemPolicyInput) (string, error) {
	id, err := s.fsID(in.FileSystemID)
	if err != nil {
		return "", err
	}
	pol, err := checkPolicy(in.Policy)
	if err != nil {
		return "", err
	}
	if !in.BypassLockoutSafetyCheck && in.Caller.ARN != "" {
		req := iam.Request{Principal: in.Caller, Action: iam.ActionPutFileSystemPolicy, Resource: s.FileSystemARN(id), Conditions: in.Conditions}
		if pol.Evaluate(req) == iam.ExplicitDeny {
			return "", errorf(InvalidPolicyException, "The policy would prevent you from making future PutFileSystemPolicy requests on this file system; set BypassPolicyLockoutSafetyCheck to apply it anyway.")
		}
	}
	_, err = s.updateFS(ctx, id, "put file system policy", func(t meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		return t.Set(policyKey(id), []byte(in.Policy))
	})
	if err != nil {
		return "", err
	}
	return in.Policy, nil
}

// FileSystemPolicy returns the explicit policy of a file system; explicit
// is false (and policy empty) while the default policy is in effect. The
// NFS layer uses it with the IAM engine.
func (s *Service) FileSystemPolicy(ctx context.Context, ref string) (policy string, explicit bool, err error) {
	id, err := s.fsID(ref)
	if err != nil {
		return "", false, err
	}
	err = s.meta.View(ctx, func(r meta.Reader) error {
		if _, err := getFS(r, id); err != nil {
			return err
		}
		b, err := r.Get(policyKey(id))
		if errors.Is(err, meta.ErrNotFound) {
			policy, explicit = "", false
			return nil
		}
		policy, explicit = string(b), err == nil
		return err
	})
	return policy, explicit, internal("get file system policy", err)
}

// DescribeFileSystemPolicy returns the explicit policy, or PolicyNotFound
// while the default policy is in effect.
func (s *Service) DescribeFileSystemPolicy(ctx context.Context, ref string) (string, error) {
	p, explicit, err := s.FileSystemPolicy(ctx, ref)
	if err != nil {
		return "", err
	}
	if !explicit {
		return "", errorf(PolicyNotFound, "File system '%s' has no explicit policy; the default policy is in effect.", ref)
	}
	return p, nil
}

// DeleteFileSystemPolicy restores the default policy. Deleting when no
// explicit policy exists succeeds.
func (s *Service) DeleteFileSystemPolicy(ctx context.Context, ref string) error {
	_, err := s.updateFS(ctx, ref, "delete file system policy", func(t meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		return t.Delete(policyKey(rec.ID))
	})
	return err
}

var (
	transitionDays = map[string]int{"AFTER_1_DAY": 1, "AFTER_7_DAYS": 7, "AFTER_14_DAYS": 14, "AFTER_30_DAYS": 30,
		"AFTER_60_DAYS": 60, "AFTER_90_DAYS": 90, "AFTER_180_DAYS": 180, "AFTER_270_DAYS": 270, "AFTER_365_DAYS": 365}
)

// PutLifecycleConfiguration replaces the lifecycle policies of a file
// system (an empty list removes them). Each policy holds exactly one
// transition, each kind of transition appears at most once, Archive must
// come later than IA and needs elastic throughput with generalPurpose.
func (s *Service) PutLifecycleConfiguration(ctx context.Context, ref string, policies []LifecyclePolicy) ([]LifecyclePolicy, error) {
	if len(policies) > MaxLifecyclePolicies {
		return nil, errorf(BadRequest, "At most %d lifecycle policies are allowed.", MaxLifecyclePolicies)
	}
	var ia, archive, primary int
	for _, p := range policies {
		n := 0
		if p.TransitionToIA != "" {
			n++
			ia++
			if _, ok := transitionDays[p.TransitionToIA]; !ok {
				return nil, errorf(BadRequest, "Invalid TransitionToIA '%s'.", p.TransitionToIA)
			}
		}
		if p.TransitionToArchive != "" {
			n++
			archive++
			if _, ok := transitionDays[p.TransitionToArchive]; !ok {
				return nil, errorf(BadRequest, "Invalid TransitionToArchive '%s'.", p.TransitionToArchive)
			}
		}
		if p.TransitionToPrimaryStorageClass != "" {
			n++
			primary++
			if p.TransitionToPrimaryStorageClass != "AFTER_1_ACCESS" {
				return nil, errorf(BadRequest, "Invalid TransitionToPrimaryStorageClass '%s'.", p.TransitionToPrimaryStorageClass)
			}
		}
		if n != 1 {
			return nil, errorf(BadRequest, "Each LifecyclePolicy object must have exactly one transition; use separate objects.")
		}
	}
	if ia > 1 || archive > 1 || primary > 1 {
		return nil, errorf(BadRequest, "Each kind of transition may appear only once.")
	}
	var iaDays, archiveDays int
	for _, p := range policies {
		if p.TransitionToIA != "" {
			iaDays = transitionDays[p.TransitionToIA]
		}
		if p.TransitionToArchive != "" {
			archiveDays = transitionDays[p.TransitionToArchive]
		}
	}
	if iaDays > 0 && archiveDays > 0 && archiveDays <= iaDays {
		return nil, errorf(BadRequest, "TransitionToArchive must be later than TransitionToIA.")
	}
	rec, err := s.updateFS(ctx, ref, "put lifecycle configuration", func(_ meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		if archive > 0 && (rec.ThroughputMode != ThroughputElastic || rec.PerformanceMode != PerformanceGeneralPurpose) {
			return errorf(BadRequest, "The Archive storage class needs elastic throughput and the generalPurpose performance mode.")
		}
		rec.Lifecycle = slices.Clone(policies)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nonNil(rec.Lifecycle), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// LifecycleConfiguration returns the lifecycle policies of a file system.
func (s *Service) LifecycleConfiguration(ctx context.Context, ref string) ([]LifecyclePolicy, error) {
	id, err := s.fsID(ref)
	if err != nil {
		return nil, err
	}
	var out []LifecyclePolicy
	err = s.meta.View(ctx, func(r meta.Reader) error {
		rec, err := getFS(r, id)
		if err != nil {
			return err
		}
		out = slices.Clone(rec.Lifecycle)
		return nil
	})
	if err != nil {
		return nil, internal("get lifecycle configuration", err)
	}
	return nonNil(out), nil
}

// BackupPolicy returns the backup status of a file system.
func (s *Service) BackupPolicy(ctx context.Context, ref string) (string, error) {
	fsd, err := s.fileSystemRecord(ctx, ref)
	if err != nil {
		return "", err
	}
	return fsd.Backup, nil
}

// PutBackupPolicy turns automatic backups on (ENABLED) or off (DISABLED).
func (s *Service) PutBackupPolicy(ctx context.Context, ref, status string) (string, error) {
	if status != StatusEnabled && status != StatusDisabled {
		return "", errorf(BadRequest, "The backup policy status must be ENABLED or DISABLED.")
	}
	rec, err := s.updateFS(ctx, ref, "put backup policy", func(_ meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		rec.Backup = status
		return nil
	})
	if err != nil {
		return "", err
	}
	return rec.Backup, nil
}

// UpdateFileSystemProtection sets ReplicationOverwriteProtection to ENABLED
// or DISABLED ("" keeps it). A file system in a replication configuration
// fails with ReplicationAlreadyExists.
func (s *Service) UpdateFileSystemProtection(ctx context.Context, ref, protection string) (string, error) {
	switch protection {
	case "", ProtectionEnabled, ProtectionDisabled:
	default:
		return "", errorf(BadRequest, "ReplicationOverwriteProtection can be set to ENABLED or DISABLED.")
	}
	rec, err := s.updateFS(ctx, ref, "update file system protection", func(_ meta.Txn, rec *fsRecord) error {
		if err := requireAvailable(rec); err != nil {
			return err
		}
		if protection == "" || protection == rec.Protection {
			return nil
		}
		if rec.Replication != nil || rec.ReplicaOf != "" {
			return errorf(ReplicationAlreadyExists, "File system '%s' is part of a replication configuration.", rec.ID)
		}
		rec.Protection = protection
		return nil
	})
	if err != nil {
		return "", err
	}
	return rec.Protection, nil
}

func (s *Service) fileSystemRecord(ctx context.Context, ref string) (*fsRecord, error) {
	id, err := s.fsID(ref)
	if err != nil {
		return nil, err
	}
	var rec *fsRecord
	err = s.meta.View(ctx, func(r meta.Reader) error {
		rec, err = getFS(r, id)
		return err
	})
	return rec, internal("get file system", err)
}

// AccountPreferences returns the resource ID type of new file systems and
// mount targets (LONG_ID unless set).
func (s *Service) AccountPreferences(ctx context.Context) (string, error) {
	var p prefsRecord
	err := s.meta.View(ctx, func(r meta.Reader) error {
		err := getJSON(r, prefsKey(), &p)
		if errors.Is(err, meta.ErrNotFound) {
			p = prefsRecord{ResourceIDType: ResourceIDLong}
			return nil
		}
		return err
	})
	return p.ResourceIDType, internal("get account preferences", err)
}

// PutAccountPreferences sets the resource ID type (LONG_ID: 17 hex digits;
// SHORT_ID: 8) of file systems and mount targets created from now on.
func (s *Service) PutAccountPreferences(ctx context.Context, idType string) (string, error) {
	if idType != ResourceIDLong && idType != ResourceIDShort {
		return "", errorf(BadRequest, "ResourceIdType must be LONG_ID or SHORT_ID.")
	}
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		return putJSON(t, prefsKey(), &prefsRecord{V: recordVersion, ResourceIDType: idType})
	})
	return idType, internal("put account preferences", err)
}
