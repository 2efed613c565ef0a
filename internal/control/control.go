// Package control owns every EFS control-plane resource and its rules: file
// systems (their EFS attributes; the contents live in internal/fs), mount
// targets, access points, file-system policies, lifecycle and backup
// policies, replication configurations, tags and account preferences, and
// the network model they live in (VPCs, subnets, security groups; DESIGN.md
// decision 8). Everything is persisted in internal/meta under
// meta.SystemKey("control/…") (records.go holds the layout), one meta
// transaction per change, so a crash never leaves half a resource.
//
// Errors are the closed vocabulary of errors.go (*Error with a Code named
// after the EFS error shapes); the API edge (internal/api) maps them to HTTP
// once. The NFS layer uses MountTargetByIP, AccessPoint, FileSystemPolicy
// and SubscribeMountTargets.
//
// control imports meta, fs (to create and delete file-system contents), kms
// (key metadata), iam (the policy language of file-system policies) and
// clock. It must not import api, edge, nfs or any engine.
package control

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Limits (efs-reference.md §1, "IDs, ARNs and limits" and the limits table).
const (
	DefaultMaxFileSystems          = 1000
	DefaultMaxAccessPointsPerFS    = 10000
	MaxTags                        = 50
	MaxSecurityGroupsPerMT         = 5
	MaxPolicyChars                 = 20000
	MaxProvisionedThroughputMiBps  = 3414
	MaxLifecyclePolicies           = 3
	MaxSecondaryGids               = 16
	MaxRootDirectoryPathComponents = 4
	MaxRootDirectoryPathChars      = 100
	DefaultPageSize                = 100
	// throughputCooldown: decreasing provisioned throughput or changing
	// the throughput mode is allowed once per 24 hours.
	throughputCooldown = 24 * time.Hour
	maxRulesPerGroup   = 60
	maxGroupsPerVPC    = 2500
)

// Volumes creates and deletes file-system contents (*fs.Service implements
// it).
type Volumes interface {
	CreateFileSystem(ctx context.Context, id string, o fs.CreateOptions) (*fs.FileSystem, error)
	DeleteFileSystem(ctx context.Context, id string) error
	FileSystem(ctx context.Context, id string) (*fs.FileSystem, error)
}

// Keys resolves KMS keys (*kms.Manager implements it).
type Keys interface {
	// DescribeKey accepts a key ID, key ARN, alias name or alias ARN.
	DescribeKey(ctx context.Context, ref string) (kms.KeyMetadata, error)
	// ManagedKey returns (creating on first use) aws/elasticfilesystem.
	ManagedKey(ctx context.Context) (kms.KeyMetadata, error)
}

// Config is the configuration of the control plane.
type Config struct {
	// Account is the 12-digit account ID that owns every resource.
	Account string
	// Region appears in ARNs and names the availability zones.
	Region string
	// VPCs are added to the embedded default VPC (DESIGN.md decision 8).
	VPCs []VPCConfig
	// Clients are client address ranges and the security groups they
	// belong to (config network.clients).
	Clients []ClientConfig
	// MaxFileSystems per account (0: DefaultMaxFileSystems).
	MaxFileSystems int
	// MaxAccessPointsPerFileSystem (0: DefaultMaxAccessPointsPerFS).
	MaxAccessPointsPerFileSystem int
}

// VPCConfig describes a configured VPC.
type VPCConfig struct {
	ID      string // vpc-…
	CIDR    netip.Prefix
	Subnets []SubnetConfig
}

// ClientConfig makes the clients in CIDR members of security groups: a rule
// that names one of the groups as its source admits them.
type ClientConfig struct {
	CIDR netip.Prefix
	// Groups are group IDs or names of groups of VPCID (the default VPC
	// when empty).
	Groups []string
	VPCID  string
}

// SubnetConfig describes a configured subnet.
type SubnetConfig struct {
	ID   string // subnet-…
	CIDR netip.Prefix
	// AvailabilityZone is a zone name such as us-east-1a; it must be in the
	// configured region.
	AvailabilityZone string
}

// Options are the injected dependencies that are not stores.
type Options struct {
	Clock  clock.Clock
	Random io.Reader // for IDs; crypto/rand when nil
	Logger *slog.Logger
}

// Service is the control plane of one account in one region. All methods
// are safe for concurrent use; each change is one meta transaction.
type Service struct {
	meta  meta.Store
	vols  Volumes
	keys  Keys
	cfg   Config
	clock clock.Clock
	rand  io.Reader
	log   *slog.Logger

	net *network // immutable after New

	randMu sync.Mutex

	subs struct {
		sync.Mutex
		next int
		fns  map[int]func(MountTargetEvent)
	}
	changes changeHub // SubscribeResources (changes.go)
}

// New opens the control plane over store. It builds the network model
// (the default VPC plus cfg.VPCs), creates the default security groups that
// are missing, and finishes creations and deletions that a crash
// interrupted.
func New(ctx context.Context, store meta.Store, vols Volumes, keys Keys, cfg Config, opts Options) (*Service, error) {
	if cfg.MaxFileSystems == 0 {
		cfg.MaxFileSystems = DefaultMaxFileSystems
	}
	if cfg.MaxAccessPointsPerFileSystem == 0 {
		cfg.MaxAccessPointsPerFileSystem = DefaultMaxAccessPointsPerFS
	}
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Account) != 12 {
		return nil, fmt.Errorf("control: account %q is not a 12-digit account ID", cfg.Account)
	}
	if cfg.Region == "" {
		return nil, errors.New("control: no region")
	}
	n, err := newNetwork(cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{vols: vols, keys: keys, cfg: cfg, clock: opts.Clock, rand: opts.Random,
		log: opts.Logger, net: n}
	s.subs.fns = map[int]func(MountTargetEvent){}
	s.meta = watchChanges(store, &s.changes)
	if err := s.ensureDefaultGroups(ctx); err != nil {
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Account is the account ID that owns the resources.
func (s *Service) Account() string { return s.cfg.Account }

// Region is the region of the resources.
func (s *Service) Region() string { return s.cfg.Region }

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// recover completes what a crash interrupted: file systems left in
// creating get their contents (or are removed if that fails), file systems
// left in deleting are deleted.
func (s *Service) recover(ctx context.Context) error {
	var pending []fsRecord
	err := s.meta.View(ctx, func(r meta.Reader) error {
		pending = pending[:0]
		return scanFileSystems(r, "", func(rec *fsRecord) (bool, error) {
			if rec.State == StateCreating || rec.State == StateDeleting {
				pending = append(pending, *rec)
			}
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("control: recover: %w", err)
	}
	for i := range pending {
		rec := &pending[i]
		switch rec.State {
		case StateCreating:
			if _, err := s.vols.FileSystem(ctx, rec.ID); err != nil {
				if _, err := s.vols.CreateFileSystem(ctx, rec.ID, fs.CreateOptions{Encrypted: rec.Encrypted, KMSKeyID: rec.KMSKeyARN}); err != nil && !fs.IsCode(err, fs.Exist) {
					s.log.Warn("file system creation failed after restart; removing it", "fs_id", rec.ID, "err", err)
					if err := s.finishDelete(ctx, rec.ID); err != nil {
						return err
					}
					continue
				}
			}
			if err := s.setState(ctx, rec.ID, StateCreating, StateAvailable); err != nil {
				return err
			}
			s.log.Info("file system creation completed after restart", "fs_id", rec.ID)
		case StateDeleting:
			if err := s.vols.DeleteFileSystem(ctx, rec.ID); err != nil && !fs.IsCode(err, fs.Stale) {
				return fmt.Errorf("control: recover deletion of %s: %w", rec.ID, err)
			}
			if err := s.finishDelete(ctx, rec.ID); err != nil {
				return err
			}
			s.log.Info("file system deletion completed after restart", "fs_id", rec.ID)
		}
	}
	return nil
}

// MountTargetEventKind says what happened to a mount target.
type MountTargetEventKind int

// Mount target events.
const (
	MountTargetAdded MountTargetEventKind = iota + 1
	MountTargetRemoved
	// MountTargetChanged: its security groups changed.
	MountTargetChanged
)

// MountTargetEvent is delivered to subscribers after the change committed.
type MountTargetEvent struct {
	Kind        MountTargetEventKind
	MountTarget MountTarget
}

// SubscribeMountTargets registers fn to be called after every committed
// change of a mount target, from the goroutine that made the change and
// with no lock held; fn must not block for long. Events of concurrent
// changes may arrive in any order, so a listener that needs the truth
// re-reads MountTargets. The returned function unsubscribes.
func (s *Service) SubscribeMountTargets(fn func(MountTargetEvent)) (cancel func()) {
	s.subs.Lock()
	id := s.subs.next
	s.subs.next++
	s.subs.fns[id] = fn
	s.subs.Unlock()
	return func() {
		s.subs.Lock()
		delete(s.subs.fns, id)
		s.subs.Unlock()
	}
}

func (s *Service) notify(ev MountTargetEvent) {
	s.subs.Lock()
	fns := make([]func(MountTargetEvent), 0, len(s.subs.fns))
	for _, fn := range s.subs.fns {
		fns = append(fns, fn)
	}
	s.subs.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}
