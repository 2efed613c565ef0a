package control

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/shelf-efs/shelf/internal/meta"
)

// IP address types of a mount target.
const (
	IPAddressTypeIPv4      = "IPV4_ONLY"
	IPAddressTypeIPv6      = "IPV6_ONLY"
	IPAddressTypeDualStack = "DUAL_STACK"
)

// MountTarget describes a mount target.
type MountTarget struct {
	ID, FileSystemID, SubnetID, VPCID string
	OwnerID                           string
	LifeCycleState                    LifeCycleState
	IPAddress                         netip.Addr
	NetworkInterfaceID                string
	AvailabilityZoneName              string
	AvailabilityZoneID                string
	SecurityGroups                    []string
}

func (s *Service) describeMT(rec *mtRecord) MountTarget {
	ip, _ := netip.ParseAddr(rec.IP)
	mt := MountTarget{ID: rec.ID, FileSystemID: rec.FileSystemID, SubnetID: rec.SubnetID, VPCID: rec.VPCID,
		OwnerID: s.cfg.Account, LifeCycleState: rec.State, IPAddress: ip, NetworkInterfaceID: rec.ENI,
		AvailabilityZoneName: rec.AZName, SecurityGroups: slices.Clone(rec.SecurityGroups)}
	if z, ok := s.net.zoneByName[rec.AZName]; ok {
		mt.AvailabilityZoneID = z.ID
	}
	return mt
}

// CreateMountTargetInput holds the parameters of CreateMountTarget.
type CreateMountTargetInput struct {
	FileSystemID string // ID or ARN
	SubnetID     string
	// IPAddress is optional; the first free address of the subnet is used
	// when it is invalid (zero).
	IPAddress     netip.Addr
	IPv6Address   string
	IPAddressType string // "" means IPV4_ONLY
	// SecurityGroups (at most 5) must be in the subnet's VPC; none means
	// the VPC's default group.
	SecurityGroups []string
}

// usableAddr reports whether a is a host address AWS lets a network
// interface have in subnet p: not the network address, not the next three
// (router, DNS, reserved) and not the broadcast address.
func usableAddr(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) {
		return false
	}
	base := p.Masked().Addr().As4()
	x := a.As4()
	off := uint32(x[0]-base[0])<<24 | uint32(x[1]-base[1])<<16 | uint32(x[2]-base[2])<<8 | uint32(x[3]-base[3])
	size := uint32(1) << (32 - p.Bits())
	return off >= 4 && off < size-1
}

func (s *Service) checkGroups(r meta.Reader, vpcID string, groups []string) ([]string, error) {
	if len(groups) > MaxSecurityGroupsPerMT {
		return nil, errorf(SecurityGroupLimitExceeded, "A mount target can have at most %d security groups.", MaxSecurityGroupsPerMT)
	}
	var out []string
	for _, g := range groups {
		if slices.Contains(out, g) {
			continue
		}
		rec, err := getSG(r, g)
		if IsCode(err, NetInvalidGroupNotFound) || err == nil && rec.VPCID != vpcID {
			return nil, errorf(SecurityGroupNotFound, "The security group '%s' does not exist in VPC '%s'.", g, vpcID)
		} else if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// CreateMountTarget creates a mount target with its network interface and
// address. Rules: the file system is available; one mount target per
// availability zone and all in one VPC (MountTargetConflict); a One Zone
// file system only in its zone (AvailabilityZonesMismatch); the address is
// a usable free address of the subnet (IpAddressInUse,
// NoFreeAddressesInSubnet).
func (s *Service) CreateMountTarget(ctx context.Context, in CreateMountTargetInput) (MountTarget, error) {
	fsID, err := s.fsID(in.FileSystemID)
	if err != nil {
		return MountTarget{}, err
	}
	sn, err := s.Subnet(in.SubnetID)
	if err != nil {
		return MountTarget{}, err
	}
	switch in.IPAddressType {
	case "", IPAddressTypeIPv4:
	case IPAddressTypeIPv6, IPAddressTypeDualStack:
		return MountTarget{}, errorf(BadRequest, "Subnet '%s' has no IPv6 CIDR block; use IpAddressType IPV4_ONLY.", sn.ID)
	default:
		return MountTarget{}, errorf(BadRequest, "Invalid IpAddressType '%s'.", in.IPAddressType)
	}
	if in.IPv6Address != "" {
		return MountTarget{}, errorf(BadRequest, "Subnet '%s' has no IPv6 CIDR block.", sn.ID)
	}
	if in.IPAddress.IsValid() {
		in.IPAddress = in.IPAddress.Unmap()
		if !usableAddr(sn.CIDR, in.IPAddress) {
			return MountTarget{}, errorf(BadRequest, "IP address %s is not a usable address of subnet %s (%s).", in.IPAddress, sn.ID, sn.CIDR)
		}
	}
	prefs, err := s.AccountPreferences(ctx)
	if err != nil {
		return MountTarget{}, err
	}
	id, err := s.newID("fsmt-", idDigits(prefs))
	if err != nil {
		return MountTarget{}, err
	}
	eni, err := s.newID("eni-", 17)
	if err != nil {
		return MountTarget{}, err
	}
	var rec mtRecord
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		f, err := getFS(t, fsID)
		if err != nil {
			return err
		}
		if err := requireAvailable(f); err != nil {
			return err
		}
		if f.AZName != "" && f.AZName != sn.AvailabilityZone.Name {
			return errorf(AvailabilityZonesMismatch, "One Zone file system '%s' is in %s; subnet '%s' is in %s.", fsID, f.AZName, sn.ID, sn.AvailabilityZone.Name)
		}
		var conflict error
		if err := scanIndex(t, mtByFSPrefix(fsID), "", func(other string) (bool, error) {
			o, err := getMT(t, other)
			if err != nil {
				return false, err
			}
			switch {
			case o.VPCID != sn.VPCID:
				conflict = errorf(MountTargetConflict, "File system '%s' has mount targets in VPC '%s'; all its mount targets must be in one VPC.", fsID, o.VPCID)
			case o.AZName == sn.AvailabilityZone.Name:
				conflict = errorf(MountTargetConflict, "File system '%s' already has mount target '%s' in availability zone %s.", fsID, o.ID, o.AZName)
			}
			return conflict == nil, nil
		}); err != nil {
			return err
		}
		if conflict != nil {
			return conflict
		}
		groups := in.SecurityGroups
		if len(groups) == 0 {
			groups = []string{s.DefaultSecurityGroupID(sn.VPCID)}
		}
		if groups, err = s.checkGroups(t, sn.VPCID, groups); err != nil {
			return err
		}
		ip := in.IPAddress
		if ip.IsValid() {
			if _, err := t.Get(ipKey(ip.String())); err == nil {
				return errorf(IpAddressInUse, "IP address %s is already in use.", ip)
			} else if !errors.Is(err, meta.ErrNotFound) {
				return err
			}
		} else if ip, err = freeAddr(t, sn.CIDR); err != nil {
			return err
		}
		if _, err := t.Get(mtKey(id)); err == nil {
			return errorf(BadRequest, "Mount target ID '%s' is already in use.", id)
		}
		rec = mtRecord{V: recordVersion, ID: id, FileSystemID: fsID, SubnetID: sn.ID, VPCID: sn.VPCID,
			AZName: sn.AvailabilityZone.Name, IP: ip.String(), ENI: eni, SecurityGroups: groups,
			State: StateAvailable, Created: s.now()}
		f.MountTargets++
		if err := putJSON(t, fsKey(fsID), f); err != nil {
			return err
		}
		if err := t.Set(ipKey(rec.IP), []byte(id)); err != nil {
			return err
		}
		if err := t.Set(mtByFSKey(fsID, id), nil); err != nil {
			return err
		}
		return putJSON(t, mtKey(id), &rec)
	})
	if err != nil {
		return MountTarget{}, internal("create mount target", err)
	}
	mt := s.describeMT(&rec)
	s.notify(MountTargetEvent{Kind: MountTargetAdded, MountTarget: mt})
	return mt, nil
}

// freeAddr returns the lowest usable address of subnet p that no mount
// target uses.
func freeAddr(r meta.Reader, p netip.Prefix) (netip.Addr, error) {
	size := 1 << (32 - p.Bits())
	a := p.Masked().Addr()
	for i := 0; i < size; i, a = i+1, a.Next() {
		if !usableAddr(p, a) {
			continue
		}
		if _, err := r.Get(ipKey(a.String())); errors.Is(err, meta.ErrNotFound) {
			return a, nil
		} else if err != nil {
			return netip.Addr{}, err
		}
	}
	return netip.Addr{}, errorf(NoFreeAddressesInSubnet, "Subnet %s has no free addresses.", p)
}

// DeleteMountTarget deletes a mount target and its network interface.
func (s *Service) DeleteMountTarget(ctx context.Context, ref string) error {
	id, err := mtID(ref)
	if err != nil {
		return err
	}
	var rec *mtRecord
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err = getMT(t, id)
		if err != nil {
			return err
		}
		f, err := getFS(t, rec.FileSystemID)
		if err == nil {
			f.MountTargets = max(0, f.MountTargets-1)
			if err := putJSON(t, fsKey(f.ID), f); err != nil {
				return err
			}
		} else if !IsCode(err, FileSystemNotFound) {
			return err
		}
		for _, k := range [][]byte{ipKey(rec.IP), mtByFSKey(rec.FileSystemID, id), mtKey(id)} {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internal("delete mount target", err)
	}
	s.notify(MountTargetEvent{Kind: MountTargetRemoved, MountTarget: s.describeMT(rec)})
	return nil
}

// DescribeMountTargetsInput selects mount targets by exactly one of
// FileSystemID, MountTargetID and AccessPointID.
type DescribeMountTargetsInput struct {
	FileSystemID, MountTargetID, AccessPointID string
	Marker                                     string
	MaxItems                                   int
}

// MountTargetPage is one page of DescribeMountTargets.
type MountTargetPage struct {
	MountTargets []MountTarget
	NextMarker   string
}

// DescribeMountTargets lists the mount targets of a file system (or of the
// file system of an access point), or one mount target.
func (s *Service) DescribeMountTargets(ctx context.Context, in DescribeMountTargetsInput) (MountTargetPage, error) {
	n := 0
	for _, v := range []string{in.FileSystemID, in.MountTargetID, in.AccessPointID} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return MountTargetPage{}, errorf(BadRequest, "Specify exactly one of FileSystemId, MountTargetId and AccessPointId.")
	}
	after, err := decodeMarker("mt", in.Marker)
	if err != nil {
		return MountTargetPage{}, err
	}
	limit := pageSize(in.MaxItems)
	var page MountTargetPage
	err = s.meta.View(ctx, func(r meta.Reader) error {
		page = MountTargetPage{}
		if in.MountTargetID != "" {
			id, err := mtID(in.MountTargetID)
			if err != nil {
				return err
			}
			rec, err := getMT(r, id)
			if err != nil {
				return err
			}
			if after == "" {
				page.MountTargets = append(page.MountTargets, s.describeMT(rec))
			}
			return nil
		}
		var fsID string
		if in.AccessPointID != "" {
			apID, err := s.apID(in.AccessPointID)
			if err != nil {
				return err
			}
			ap, err := getAP(r, apID)
			if err != nil {
				return err
			}
			fsID = ap.FileSystemID
		} else if fsID, err = s.fsID(in.FileSystemID); err != nil {
			return err
		}
		if _, err := getFS(r, fsID); err != nil {
			return err
		}
		var last string
		return scanIndex(r, mtByFSPrefix(fsID), after, func(id string) (bool, error) {
			if len(page.MountTargets) == limit {
				page.NextMarker = encodeMarker("mt", last)
				return false, nil
			}
			rec, err := getMT(r, id)
			if err != nil {
				return false, err
			}
			page.MountTargets = append(page.MountTargets, s.describeMT(rec))
			last = id
			return true, nil
		})
	})
	if err != nil {
		return MountTargetPage{}, internal("describe mount targets", err)
	}
	return page, nil
}

// MountTarget describes one mount target.
func (s *Service) MountTarget(ctx context.Context, ref string) (MountTarget, error) {
	id, err := mtID(ref)
	if err != nil {
		return MountTarget{}, err
	}
	var mt MountTarget
	err = s.meta.View(ctx, func(r meta.Reader) error {
		rec, err := getMT(r, id)
		if err != nil {
			return err
		}
		mt = s.describeMT(rec)
		return nil
	})
	return mt, internal("get mount target", err)
}

// MountTargets lists every mount target (for NFS listeners at start-up).
func (s *Service) MountTargets(ctx context.Context) ([]MountTarget, error) {
	var out []MountTarget
	err := s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		return meta.ScanPrefix(r, mtKey(""), func(k, _ []byte) (bool, error) {
			var rec mtRecord
			if err := getJSON(r, k, &rec); err != nil {
				return false, err
			}
			out = append(out, s.describeMT(&rec))
			return true, nil
		})
	})
	return out, internal("list mount targets", err)
}

// MountTargetByIP returns the mount target that owns address ip
// (MountTargetNotFound if none does).
func (s *Service) MountTargetByIP(ctx context.Context, ip netip.Addr) (MountTarget, error) {
	var mt MountTarget
	err := s.meta.View(ctx, func(r meta.Reader) error {
		id, err := r.Get(ipKey(ip.Unmap().String()))
		if errors.Is(err, meta.ErrNotFound) {
			return errorf(MountTargetNotFound, "No mount target has address %s.", ip)
		} else if err != nil {
			return err
		}
		rec, err := getMT(r, string(id))
		if err != nil {
			return err
		}
		mt = s.describeMT(rec)
		return nil
	})
	return mt, internal("look up mount target by address", err)
}

// MountTargetSecurityGroups returns the security groups of a mount target.
func (s *Service) MountTargetSecurityGroups(ctx context.Context, ref string) ([]string, error) {
	mt, err := s.MountTarget(ctx, ref)
	if err != nil {
		return nil, err
	}
	if mt.LifeCycleState != StateAvailable {
		return nil, errorf(IncorrectMountTargetState, "Mount target '%s' is in state %s.", mt.ID, mt.LifeCycleState)
	}
	return mt.SecurityGroups, nil
}

// ModifyMountTargetSecurityGroups replaces the security groups of a mount
// target (1 to 5 groups of its VPC).
func (s *Service) ModifyMountTargetSecurityGroups(ctx context.Context, ref string, groups []string) error {
	id, err := mtID(ref)
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return errorf(BadRequest, "Specify at least one security group.")
	}
	var rec *mtRecord
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err = getMT(t, id)
		if err != nil {
			return err
		}
		if rec.State != StateAvailable {
			return errorf(IncorrectMountTargetState, "Mount target '%s' is in state %s.", id, rec.State)
		}
		g, err := s.checkGroups(t, rec.VPCID, groups)
		if err != nil {
			return err
		}
		rec.SecurityGroups = g
		return putJSON(t, mtKey(id), rec)
	})
	if err != nil {
		return internal("modify mount target security groups", err)
	}
	s.notify(MountTargetEvent{Kind: MountTargetChanged, MountTarget: s.describeMT(rec)})
	return nil
}
