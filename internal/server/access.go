package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/efscert"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// Access control on the NFS listeners (EFS User Guide: "Controlling network
// access", "Using IAM to control file system data access", "Working with
// access points"). Every connection is admitted twice by nfsAccess.connContext:
// when it is accepted (security groups) and, for TLS, after its handshake
// (the client certificate's IAM identity and access point). Each admitted
// connection gets a connGate, which the NFS program asks at the start of
// every COMPOUND what the connection may do; the gate evaluates the
// file-system policy, the principal's identity policies and the access
// point, and keeps the outcome for the permission cache window, so that a
// change of any of them reaches live connections within that window.

// clientIdentity is who a connection proved to be.
type clientIdentity struct {
	// principal is nil for an anonymous client (no IAM in its
	// certificate, or no certificate).
	principal *edge.Principal
	// accessPointID is the access point named by the client certificate.
	accessPointID string
}

// nfsAccess holds what the gates of all connections share.
type nfsAccess struct {
	s      *Server
	log    *slog.Logger
	clock  clock.Clock
	window time.Duration
	audit  *audit.Log

	policies struct {
		sync.Mutex
		m map[[32]byte]*iam.Policy
	}
	// refused counts connections refused by the security groups;
	// denied counts certificates that failed verification.
	refused, denied atomic.Uint64
}

// maxCachedNFSPolicies bounds the parsed-policy cache; it is emptied when
// full.
const maxCachedNFSPolicies = 1024

func newNFSAccess(s *Server) *nfsAccess {
	a := &nfsAccess{s: s, log: s.log.With("component", "nfs-access"), clock: clock.System,
		window: time.Duration(s.cfg.NFS.PermissionCacheWindow), audit: audit.NewLog(s.meta)}
	a.policies.m = map[[32]byte]*iam.Policy{}
	return a
}

// static reports whether c came to a static export of the configuration,
// which no mount target (and no security group) stands behind.
func static(c *rpc.Conn) bool { return strings.HasPrefix(c.MountTargetID, staticMountTargetPrefix) }

// connContext is the rpc.Options.ConnContext of the NFS listeners.
func (a *nfsAccess) connContext(ctx context.Context, c *rpc.Conn) (context.Context, error) {
	if !static(c) {
		ok, err := a.s.control.IngressAllowed(ctx, c.MountTargetID, c.Remote.Addr(), rpc.DefaultPort)
		if err != nil {
			return nil, fmt.Errorf("security groups of %s: %w", c.MountTargetID, err)
		}
		if !ok {
			a.refused.Add(1)
			return nil, fmt.Errorf("no inbound rule of the security groups of %s admits %s on port %d",
				c.MountTargetID, c.Remote.Addr(), rpc.DefaultPort)
		}
	}
	id := clientIdentity{}
	if c.TLS {
		var err error
		if id, err = a.identify(ctx, c); err != nil {
			a.denied.Add(1)
			return nil, err
		}
	}
	g := &connGate{a: a, conn: *c, id: id}
	g.conn.PeerCertificates = nil
	return nfs.WithGate(ctx, g), nil
}

// identify verifies the client certificate of a TLS connection, as
// efs-utils makes it (internal/efscert): a connection without one is
// anonymous, one whose certificate fails verification is refused.
func (a *nfsAccess) identify(ctx context.Context, c *rpc.Conn) (clientIdentity, error) {
	if len(c.PeerCertificates) == 0 {
		return clientIdentity{}, nil
	}
	leaf := c.PeerCertificates[0]
	id, err := efscert.Verify(ctx, leaf, leaf.PublicKey, efscert.VerifyOptions{
		FileSystemID: c.FileSystemID,
		Region:       a.s.cfg.Region,
		Now:          a.clock.Now(),
		Credentials:  a.s.users,
	})
	if err != nil {
		if efscert.ReasonOf(err) == efscert.ReasonInternal {
			return clientIdentity{}, fmt.Errorf("client certificate could not be verified: %w", err)
		}
		return clientIdentity{}, fmt.Errorf("client certificate refused (%s): %w", efscert.ReasonOf(err), err)
	}
	out := clientIdentity{accessPointID: id.AccessPointID}
	if !id.Anonymous {
		p := id.Principal
		out.principal = &p
	}
	return out, nil
}

// tlsConfig is the TLS configuration of the NFS listeners: TLS 1.2 and 1.3,
// server certificates of the file system a listener serves, client
// certificates requested but not required (efs-utils presents a
// self-signed one; its trust comes from the SigV4 signature inside).
func (s *Server) nfsTLSConfig(ca *nfsCA, fsOf func(netip.Addr) (string, bool)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequestClientCert,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			var local netip.Addr
			if hello.Conn != nil {
				if ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String()); err == nil {
					local = ap.Addr().Unmap()
				}
			}
			fsID, ok := fsOf(local)
			if !ok {
				return nil, fmt.Errorf("no file system is served on %s", local)
			}
			return ca.certificate(fsID, local)
		},
	}
}

// connGate is the nfs.Gate of one connection.
type connGate struct {
	a    *nfsAccess
	conn rpc.Conn
	id   clientIdentity

	mu        sync.Mutex
	decided   bool
	access    nfs.Access
	until     time.Time
	announced bool
	// ap is the access point as resolved when the connection first used
	// it: a deleted access point keeps serving its connections.
	ap *nfs.AccessPoint
}

var _ nfs.Gate = (*connGate)(nil)

// Access implements nfs.Gate.
func (g *connGate) Access(ctx context.Context) (nfs.Access, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.a.clock.Now()
	if g.decided && now.Before(g.until) {
		return g.access, nil
	}
	acc, err := g.decide(ctx)
	if err != nil {
		return nfs.Access{}, err
	}
	changed := !g.decided || acc.Mount != g.access.Mount || acc.Write != g.access.Write || acc.Root != g.access.Root
	g.access, g.decided, g.until = acc, true, now.Add(g.a.window)
	if changed {
		g.a.recordConnection(ctx, g, !g.announced)
		g.announced = true
	}
	return acc, nil
}

// decide evaluates everything the connection's access depends on.
func (g *connGate) decide(ctx context.Context) (nfs.Access, error) {
	a := g.a
	ctl := a.s.control
	fsID := g.conn.FileSystemID
	isStatic := static(&g.conn)
	if !isStatic {
		mt, err := ctl.MountTarget(ctx, g.conn.MountTargetID)
		if control.IsCode(err, control.MountTargetNotFound) {
			return nfs.Access{}, nil
		} else if err != nil {
			return nfs.Access{}, err
		}
		if mt.LifeCycleState != control.StateAvailable {
			return nfs.Access{}, nil
		}
		ok, err := ctl.IngressAllowed(ctx, g.conn.MountTargetID, g.conn.Remote.Addr(), rpc.DefaultPort)
		if err != nil {
			return nfs.Access{}, err
		}
		if !ok {
			return nfs.Access{}, nil
		}
	}

	var apARN string
	if g.id.accessPointID != "" {
		apARN = ctl.AccessPointARN(g.id.accessPointID)
	}
	allowed, err := g.evaluate(ctx, fsID, apARN, isStatic)
	if err != nil {
		return nfs.Access{}, err
	}
	acc := nfs.Access{
		Mount: allowed[iam.ActionClientMount],
		Write: allowed[iam.ActionClientMount] && allowed[iam.ActionClientWrite],
		Root:  allowed[iam.ActionClientRootAccess],
	}
	if g.id.accessPointID != "" && acc.Mount {
		ap, err := g.accessPoint(ctx, acc.Root)
		if err != nil {
			return nfs.Access{}, err
		}
		if ap == nil {
			acc = nfs.Access{}
		}
		acc.AccessPoint = ap
	}
	return acc, nil
}

// evaluate decides the three Client* actions for the connection's
// principal with the file-system policy (EFS's default when there is none)
// and the principal's identity policies, by the AWS evaluation logic.
//
// A static export (config nfs.exports) counts as a mount target for
// elasticfilesystem:AccessedViaMountTarget, as it is one in all but its
// origin; a file system the control plane does not know is served there
// without restriction.
func (g *connGate) evaluate(ctx context.Context, fsID, apARN string, isStatic bool) (map[string]bool, error) {
	a := g.a
	ctl := a.s.control
	doc, explicit, err := ctl.FileSystemPolicy(ctx, fsID)
	switch {
	case control.IsCode(err, control.FileSystemNotFound) && isStatic:
		// A static export of a file system the control plane does not
		// know: nothing restricts it.
		return map[string]bool{iam.ActionClientMount: true, iam.ActionClientWrite: true, iam.ActionClientRootAccess: true}, nil
	case control.IsCode(err, control.FileSystemNotFound):
		// A mount target of a file system that is gone: nothing is
		// allowed.
		return map[string]bool{}, nil
	case err != nil:
		return nil, err
	case !explicit:
		doc = iam.DefaultFileSystemPolicy
	}
	resource, err := a.parse(doc, iam.ResourcePolicy)
	if err != nil {
		// A stored policy that no longer parses might hold a Deny:
		// nothing is allowed.
		a.log.Error("stored file-system policy does not parse; denying", "fs_id", fsID, "err", err)
		return map[string]bool{}, nil
	}
	principal := iam.Principal{Anonymous: true}
	var identity []*iam.Policy
	if p := g.id.principal; p != nil {
		principal = iam.Principal{ARN: p.ARN, Account: p.Account, IsRoot: p.IsRoot}
		docs, err := a.s.users.IdentityPolicies(ctx, *p)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			pol, err := a.parse(string(d), iam.IdentityPolicy)
			if err != nil {
				a.log.Error("stored identity policy does not parse; denying", "principal", p.ARN, "err", err)
				return map[string]bool{}, nil
			}
			identity = append(identity, pol)
		}
	}
	now := a.clock.Now().UTC()
	cond := map[string][]string{
		iam.KeySecureTransport:        {strconv.FormatBool(g.conn.TLS)},
		iam.KeySourceIP:               {g.conn.Remote.Addr().String()},
		iam.KeyAccessedViaMountTarget: {"true"},
		iam.KeyCurrentTime:            {now.Format(time.RFC3339)},
		iam.KeyEpochTime:              {strconv.FormatInt(now.Unix(), 10)},
	}
	if apARN != "" {
		cond[iam.KeyAccessPointARN] = []string{apARN}
	}
	out := map[string]bool{}
	for _, action := range []string{iam.ActionClientMount, iam.ActionClientWrite, iam.ActionClientRootAccess} {
		req := iam.Request{Principal: principal, Action: action, Resource: ctl.FileSystemARN(fsID), Conditions: cond}
		out[action] = iam.Decide(req, identity, resource) == iam.Allow
	}
	return out, nil
}

// accessPoint resolves the connection's access point: it must be
// available and belong to the file system, and its root directory is
// created with its CreationInfo when missing. It returns nil when the
// client may not mount through it.
func (g *connGate) accessPoint(ctx context.Context, root bool) (*nfs.AccessPoint, error) {
	a := g.a
	ap, err := a.s.control.AccessPoint(ctx, g.id.accessPointID)
	switch {
	case control.IsCode(err, control.AccessPointNotFound):
		// Deleted: connections that used it finish their work (as EFS
		// lets them); new ones are refused.
		return g.ap, nil
	case err != nil:
		return nil, err
	}
	if ap.FileSystemID != g.conn.FileSystemID {
		a.log.Info("nfs mount refused: access point of another file system", "ap_id", ap.ID, "fs_id", g.conn.FileSystemID)
		return nil, nil
	}
	if ap.LifeCycleState != control.StateAvailable {
		return g.ap, nil
	}
	var user *fs.Caller
	if u := ap.PosixUser; u != nil {
		if (u.UID == 0 || u.GID == 0) && !root {
			// An access point that imposes root needs ClientRootAccess.
			a.log.Info("nfs mount refused: access point user is root without ClientRootAccess", "ap_id", ap.ID)
			return nil, nil
		}
		user = &fs.Caller{UID: u.UID, GID: u.GID, Groups: append([]uint32(nil), u.SecondaryGIDs...)}
	}
	ino, err := a.s.accessPointRoot(ctx, ap)
	if err != nil {
		var fe *fs.Error
		if errors.As(err, &fe) && fe.Code != fs.IO {
			a.log.Info("nfs mount refused: access point root directory unusable", "ap_id", ap.ID, "path", ap.RootDirectory.Path, "err", err)
			return nil, nil
		}
		return nil, err
	}
	if ino == 0 {
		return nil, nil
	}
	g.ap = &nfs.AccessPoint{ID: ap.ID, Root: ino, User: user}
	return g.ap, nil
}

// accessPointRoot returns the inode of an access point's root directory,
// creating the missing directories of its path with its CreationInfo
// (owner and permissions) as EFS does at mount time. It returns 0 when the
// path is missing and there is no CreationInfo (the mount must fail).
func (s *Server) accessPointRoot(ctx context.Context, ap control.AccessPoint) (uint64, error) {
	f, err := s.fs.FileSystem(ctx, ap.FileSystemID)
	if err != nil {
		return 0, err
	}
	root := fs.Caller{}
	ino := uint64(fs.RootIno)
	for _, name := range strings.Split(ap.RootDirectory.Path, "/") {
		if name == "" {
			continue
		}
		if name == "." || name == ".." || len(name) > fs.MaxNameBytes || strings.ContainsRune(name, 0) {
			// CreateAccessPoint refuses such paths; a stored one is
			// corrupt.
			return 0, nil
		}
		attr, err := f.Lookup(ctx, &root, ino, name)
		if fs.IsCode(err, fs.NotExist) {
			ci := ap.RootDirectory.CreationInfo
			if ci == nil {
				return 0, nil
			}
			mode, perr := strconv.ParseUint(ci.Permissions, 8, 32)
			if perr != nil || mode > 0o7777 {
				return 0, nil
			}
			uid, gid := ci.OwnerUID, ci.OwnerGID
			attr, _, err = f.Make(ctx, &root, ino, fs.CreateRequest{Name: name, Type: fs.TypeDirectory,
				Mode: uint32(mode), How: fs.Unchecked, UID: &uid, GID: &gid})
		}
		if err != nil {
			return 0, err
		}
		if attr.Type != fs.TypeDirectory {
			return 0, nil
		}
		ino = attr.Ino
	}
	return ino, nil
}

// parse returns the parsed policy of doc, from a cache by its hash.
func (a *nfsAccess) parse(doc string, kind iam.Kind) (*iam.Policy, error) {
	sum := sha256.Sum256(append([]byte{byte(kind)}, doc...))
	a.policies.Lock()
	p, ok := a.policies.m[sum]
	a.policies.Unlock()
	if ok {
		return p, nil
	}
	opts := iam.Options{Kind: kind}
	if kind == iam.ResourcePolicy {
		opts = iam.FileSystemPolicyOptions
	}
	p, err := iam.ParseWith([]byte(doc), opts)
	if err != nil {
		return nil, err
	}
	a.policies.Lock()
	if len(a.policies.m) >= maxCachedNFSPolicies {
		clear(a.policies.m)
	}
	a.policies.m[sum] = p
	a.policies.Unlock()
	return p, nil
}

// recordConnection writes the CloudTrail record of a connection's
// authorization: NewClientConnection the first time, UpdateClientConnection
// when its permitted actions change (EFS User Guide, "Logging Amazon EFS
// API calls with AWS CloudTrail").
func (a *nfsAccess) recordConnection(ctx context.Context, g *connGate, first bool) {
	name := "UpdateClientConnection"
	if first {
		name = "NewClientConnection"
	}
	s := a.s
	id := audit.UserIdentity{Type: audit.IdentityUnknown, AccountID: s.account, InvokedBy: "elasticfilesystem.amazonaws.com"}
	if p := g.id.principal; p != nil {
		id = audit.UserIdentity{Type: audit.IdentityIAMUser, PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.Account,
			AccessKeyID: p.AccessKeyID, UserName: p.UserName, InvokedBy: "elasticfilesystem.amazonaws.com"}
		if p.IsRoot {
			id.Type, id.PrincipalID, id.UserName = audit.IdentityRoot, p.Account, ""
		}
	}
	details := map[string]any{
		"permissions": map[string]bool{
			"ClientMount": g.access.Mount, "ClientWrite": g.access.Write, "ClientRootAccess": g.access.Root,
		},
		"sourceIpAddress": g.conn.Remote.Addr().String(),
		"mountTargetId":   g.conn.MountTargetID,
		"secureTransport": g.conn.TLS,
	}
	if g.id.accessPointID != "" {
		details["accessPointId"] = g.id.accessPointID
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return
	}
	e := &audit.Event{
		EventVersion:        audit.EventVersion,
		UserIdentity:        id,
		EventTime:           audit.FormatTime(a.clock.Now()),
		EventSource:         audit.EventSource("elasticfilesystem"),
		EventName:           name,
		AWSRegion:           s.cfg.Region,
		SourceIPAddress:     "AWS Internal",
		UserAgent:           "elasticfilesystem",
		EventID:             newEventID(),
		ReadOnly:            true,
		EventType:           audit.EventTypeServiceEvent,
		ManagementEvent:     true,
		RecipientAccountID:  s.account,
		ServiceEventDetails: raw,
		EventCategory:       audit.CategoryManagement,
		Resources: []audit.Resource{{ARN: s.control.FileSystemARN(g.conn.FileSystemID), AccountID: s.account,
			Type: "AWS::EFS::FileSystem"}},
	}
	if g.id.accessPointID != "" {
		e.Resources = append(e.Resources, audit.Resource{ARN: s.control.AccessPointARN(g.id.accessPointID),
			AccountID: s.account, Type: "AWS::EFS::AccessPoint"})
	}
	if err := a.audit.Append(ctx, e); err != nil {
		a.log.Error("nfs connection event not recorded", "event", name, "err", err)
	}
}

// newEventID returns a random (version 4) UUID for an eventID.
func newEventID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("server: crypto/rand failed: %v", err)) // never happens on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
