package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/shelf-efs/shelf/internal/meta"
)

// The network model (DESIGN.md decision 8): a VPC is a set of subnets, each
// a CIDR in one availability zone. VPCs and subnets come from the
// configuration (plus the embedded default VPC) and are immutable at run
// time; security groups are created and changed through the API and
// persisted.

// AvailabilityZone is a zone of the region.
type AvailabilityZone struct {
	Name string // us-east-1a
	ID   string // use1-az1
}

// VPC is a virtual network.
type VPC struct {
	ID        string
	CIDR      netip.Prefix
	IsDefault bool
}

// Subnet is a CIDR of a VPC in one availability zone.
type Subnet struct {
	ID               string
	VPCID            string
	CIDR             netip.Prefix
	AvailabilityZone AvailabilityZone
	DefaultForAZ     bool
}

// Rule is an inbound security-group rule. Exactly one of CIDR and
// SourceGroupID is set.
type Rule struct {
	// Protocol is "tcp", "udp", "icmp" or "-1" (all).
	Protocol string `json:"proto"`
	// FromPort and ToPort bound the port range (both -1 for all ports of
	// protocol -1 and icmp).
	FromPort      int          `json:"from"`
	ToPort        int          `json:"to"`
	CIDR          netip.Prefix `json:"cidr,omitzero"`
	SourceGroupID string       `json:"group,omitempty"`
	Description   string       `json:"descr,omitempty"`
}

// same reports whether two rules grant the same permission (descriptions
// do not count).
func (r Rule) same(o Rule) bool {
	return r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort &&
		r.CIDR == o.CIDR && r.SourceGroupID == o.SourceGroupID
}

// SecurityGroup is a set of inbound rules attached to mount targets.
type SecurityGroup struct {
	ID          string
	VPCID       string
	Name        string
	Description string
	IsDefault   bool
	Rules       []Rule
	Tags        []Tag
}

type network struct {
	zones      []AvailabilityZone
	zoneByName map[string]AvailabilityZone
	vpcs       []VPC
	vpcByID    map[string]VPC
	subnets    []Subnet
	subnetByID map[string]Subnet
	defaultVPC string
}

// DefaultVPCCIDR and the default subnets (DESIGN.md decision 8).
var (
	DefaultVPCCIDR     = netip.MustParsePrefix("127.0.0.0/16")
	defaultSubnetCIDRs = []string{"127.0.1.0/24", "127.0.2.0/24", "127.0.3.0/24"}
	loopback           = netip.MustParsePrefix("127.0.0.0/8")
)

// NFSPort is the port of the NFS service of every mount target.
const NFSPort = 2049

// stableID derives a resource ID that stays the same across restarts for
// an embedded resource.
func stableID(prefix, account, region, name string) string {
	h := sha256.Sum256([]byte("shelf/" + account + "/" + region + "/" + name))
	return prefix + hex.EncodeToString(h[:])[:17]
}

// zoneID names zone letter l of region as AWS does (use1-az1 for
// us-east-1a).
func zoneID(region string, letter byte) string {
	parts := strings.Split(region, "-")
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i == 0:
			b.WriteString(p)
		case i == len(parts)-1:
			b.WriteString(p)
		default:
			switch p {
			case "northeast", "southeast", "northwest", "southwest":
				b.WriteString(p[:1])
				b.WriteByte(p[5])
			case "gov":
				b.WriteByte('g')
			default:
				if p != "" {
					b.WriteByte(p[0])
				}
			}
		}
	}
	return fmt.Sprintf("%s-az%d", b.String(), int(letter-'a')+1)
}

func newNetwork(cfg Config) (*network, error) {
	n := &network{zoneByName: map[string]AvailabilityZone{}, vpcByID: map[string]VPC{}, subnetByID: map[string]Subnet{}}
	addZone := func(name string) (AvailabilityZone, error) {
		if z, ok := n.zoneByName[name]; ok {
			return z, nil
		}
		rest, ok := strings.CutPrefix(name, cfg.Region)
		if !ok || len(rest) != 1 || rest[0] < 'a' || rest[0] > 'z' {
			return AvailabilityZone{}, fmt.Errorf("control: availability zone %q is not a zone of region %s", name, cfg.Region)
		}
		z := AvailabilityZone{Name: name, ID: zoneID(cfg.Region, rest[0])}
		n.zoneByName[name] = z
		n.zones = append(n.zones, z)
		return z, nil
	}
	def := VPC{ID: stableID("vpc-", cfg.Account, cfg.Region, "default-vpc"), CIDR: DefaultVPCCIDR, IsDefault: true}
	n.defaultVPC = def.ID
	n.vpcs = append(n.vpcs, def)
	n.vpcByID[def.ID] = def
	for i, c := range defaultSubnetCIDRs {
		z, err := addZone(cfg.Region + string(rune('a'+i)))
		if err != nil {
			return nil, err
		}
		sn := Subnet{ID: stableID("subnet-", cfg.Account, cfg.Region, "default-subnet-"+z.Name), VPCID: def.ID,
			CIDR: netip.MustParsePrefix(c), AvailabilityZone: z, DefaultForAZ: true}
		n.subnets = append(n.subnets, sn)
		n.subnetByID[sn.ID] = sn
	}
	var errs []error
	for _, vc := range cfg.VPCs {
		if !validID(vc.ID, "vpc-") {
			errs = append(errs, fmt.Errorf("control: VPC ID %q is not vpc- and 8 to 40 hex digits", vc.ID))
			continue
		}
		if _, dup := n.vpcByID[vc.ID]; dup {
			errs = append(errs, fmt.Errorf("control: VPC %s configured twice", vc.ID))
			continue
		}
		if !vc.CIDR.IsValid() || !vc.CIDR.Addr().Is4() || vc.CIDR.Bits() < 16 || vc.CIDR.Bits() > 28 {
			errs = append(errs, fmt.Errorf("control: VPC %s: CIDR %s must be an IPv4 /16 to /28", vc.ID, vc.CIDR))
			continue
		}
		v := VPC{ID: vc.ID, CIDR: vc.CIDR.Masked()}
		n.vpcs = append(n.vpcs, v)
		n.vpcByID[v.ID] = v
		for _, sc := range vc.Subnets {
			if !validID(sc.ID, "subnet-") {
				errs = append(errs, fmt.Errorf("control: subnet ID %q is not subnet- and 8 to 40 hex digits", sc.ID))
				continue
			}
			if _, dup := n.subnetByID[sc.ID]; dup {
				errs = append(errs, fmt.Errorf("control: subnet %s configured twice", sc.ID))
				continue
			}
			if !sc.CIDR.IsValid() || !sc.CIDR.Addr().Is4() || sc.CIDR.Bits() < 16 || sc.CIDR.Bits() > 28 ||
				!v.CIDR.Contains(sc.CIDR.Addr()) || sc.CIDR.Bits() < v.CIDR.Bits() {
				errs = append(errs, fmt.Errorf("control: subnet %s: CIDR %s must be an IPv4 /16 to /28 inside VPC %s (%s)", sc.ID, sc.CIDR, v.ID, v.CIDR))
				continue
			}
			z, err := addZone(sc.AvailabilityZone)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, o := range n.subnets {
				if o.VPCID == v.ID && o.CIDR.Overlaps(sc.CIDR) {
					errs = append(errs, fmt.Errorf("control: subnet %s overlaps subnet %s", sc.ID, o.ID))
				}
			}
			sn := Subnet{ID: sc.ID, VPCID: v.ID, CIDR: sc.CIDR.Masked(), AvailabilityZone: z}
			n.subnets = append(n.subnets, sn)
			n.subnetByID[sn.ID] = sn
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(n.zones, func(i, j int) bool { return n.zones[i].Name < n.zones[j].Name })
	return n, nil
}

// AvailabilityZones lists the zones of the region that have subnets.
func (s *Service) AvailabilityZones() []AvailabilityZone { return slices.Clone(s.net.zones) }

// VPCs lists the VPCs, the default one first.
func (s *Service) VPCs() []VPC { return slices.Clone(s.net.vpcs) }

// Subnets lists the subnets.
func (s *Service) Subnets() []Subnet { return slices.Clone(s.net.subnets) }

// Subnet returns subnet id, or SubnetNotFound.
func (s *Service) Subnet(id string) (Subnet, error) {
	sn, ok := s.net.subnetByID[id]
	if !ok {
		return Subnet{}, errorf(SubnetNotFound, "The subnet ID '%s' does not exist", id)
	}
	return sn, nil
}

// DefaultSecurityGroupID is the ID of the default group of a VPC.
func (s *Service) DefaultSecurityGroupID(vpcID string) string {
	return stableID("sg-", s.cfg.Account, s.cfg.Region, "default-sg-"+vpcID)
}

// ensureDefaultGroups creates the default security group of every VPC that
// lacks one: the default VPC's allows NFS (TCP 2049) from 127.0.0.0/8,
// others allow everything from members of the group itself, as in AWS.
func (s *Service) ensureDefaultGroups(ctx context.Context) error {
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		for _, v := range s.net.vpcs {
			id := s.DefaultSecurityGroupID(v.ID)
			if _, err := t.Get(sgKey(id)); err == nil {
				continue
			} else if !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			rec := sgRecord{V: recordVersion, ID: id, VPCID: v.ID, Name: "default", Description: "default VPC security group", Default: true}
			if v.IsDefault {
				rec.Rules = []Rule{{Protocol: "tcp", FromPort: NFSPort, ToPort: NFSPort, CIDR: loopback, Description: "NFS from loopback"}}
			} else {
				rec.Rules = []Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, SourceGroupID: id}}
			}
			if err := putJSON(t, sgKey(id), &rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("control: create default security groups: %w", err)
	}
	return nil
}

func (r *sgRecord) group() SecurityGroup {
	return SecurityGroup{ID: r.ID, VPCID: r.VPCID, Name: r.Name, Description: r.Description, IsDefault: r.Default,
		Rules: slices.Clone(r.Rules), Tags: slices.Clone(r.Tags)}
}

func getSG(r meta.Reader, id string) (*sgRecord, error) {
	var rec sgRecord
	if err := getJSON(r, sgKey(id), &rec); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(NetInvalidGroupNotFound, "The security group '%s' does not exist", id)
		}
		return nil, err
	}
	return &rec, nil
}

// SecurityGroups lists every security group in ID order.
func (s *Service) SecurityGroups(ctx context.Context) ([]SecurityGroup, error) {
	var out []SecurityGroup
	err := s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		return meta.ScanPrefix(r, sgKey(""), func(k, v []byte) (bool, error) {
			var rec sgRecord
			if err := getJSON(r, k, &rec); err != nil {
				return false, err
			}
			out = append(out, rec.group())
			return true, nil
		})
	})
	return out, internal("list security groups", err)
}

// SecurityGroup returns group id (NetInvalidGroupNotFound if missing).
func (s *Service) SecurityGroup(ctx context.Context, id string) (SecurityGroup, error) {
	var g SecurityGroup
	err := s.meta.View(ctx, func(r meta.Reader) error {
		rec, err := getSG(r, id)
		if err != nil {
			return err
		}
		g = rec.group()
		return nil
	})
	return g, internal("get security group", err)
}

// CreateSecurityGroupInput describes a new group.
type CreateSecurityGroupInput struct {
	VPCID       string // "" means the default VPC
	Name        string // 1–255 characters, unique in the VPC, not "default" or sg-…
	Description string // 0–255 characters
	Tags        []Tag
}

// CreateSecurityGroup creates a group with no inbound rules.
func (s *Service) CreateSecurityGroup(ctx context.Context, in CreateSecurityGroupInput) (SecurityGroup, error) {
	if in.VPCID == "" {
		in.VPCID = s.net.defaultVPC
	}
	if _, ok := s.net.vpcByID[in.VPCID]; !ok {
		return SecurityGroup{}, errorf(NetInvalidVPCNotFound, "The vpc ID '%s' does not exist", in.VPCID)
	}
	if in.Name == "" || len(in.Name) > 255 || strings.EqualFold(in.Name, "default") || strings.HasPrefix(strings.ToLower(in.Name), "sg-") {
		return SecurityGroup{}, errorf(NetInvalidParameterValue, "Invalid security group name '%s'", in.Name)
	}
	if len(in.Description) > 255 {
		return SecurityGroup{}, errorf(NetInvalidParameterValue, "The security group description is longer than 255 characters")
	}
	if err := validateTags(in.Tags); err != nil {
		return SecurityGroup{}, &Error{Code: NetInvalidParameterValue, Message: err.(*Error).Message}
	}
	id, err := s.newID("sg-", 17)
	if err != nil {
		return SecurityGroup{}, err
	}
	rec := sgRecord{V: recordVersion, ID: id, VPCID: in.VPCID, Name: in.Name, Description: in.Description, Tags: in.Tags}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		n := 0
		var dup bool
		err := meta.ScanPrefix(t, sgKey(""), func(k, v []byte) (bool, error) {
			var o sgRecord
			if err := getJSON(t, k, &o); err != nil {
				return false, err
			}
			if o.VPCID == in.VPCID {
				n++
				dup = dup || o.Name == in.Name
			}
			return true, nil
		})
		switch {
		case err != nil:
			return err
		case dup:
			return errorf(NetInvalidGroupDuplicate, "The security group '%s' already exists for VPC '%s'", in.Name, in.VPCID)
		case n >= maxGroupsPerVPC:
			return errorf(NetSecurityGroupLimitExceeded, "The maximum number of security groups for VPC '%s' has been reached.", in.VPCID)
		}
		return putJSON(t, sgKey(id), &rec)
	})
	if err != nil {
		return SecurityGroup{}, internal("create security group", err)
	}
	return rec.group(), nil
}

// DeleteSecurityGroup deletes a group that no mount target uses and no
// other group's rule references. Default groups cannot be deleted.
func (s *Service) DeleteSecurityGroup(ctx context.Context, id string) error {
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getSG(t, id)
		if err != nil {
			return err
		}
		if rec.Default {
			return errorf(NetCannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", id)
		}
		var inUse string
		err = meta.ScanPrefix(t, mtKey(""), func(k, v []byte) (bool, error) {
			var mt mtRecord
			if err := getJSON(t, k, &mt); err != nil {
				return false, err
			}
			if slices.Contains(mt.SecurityGroups, id) {
				inUse = mt.ID
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if inUse != "" {
			return errorf(NetDependencyViolation, "resource %s has a dependent object", id)
		}
		err = meta.ScanPrefix(t, sgKey(""), func(k, v []byte) (bool, error) {
			var o sgRecord
			if err := getJSON(t, k, &o); err != nil {
				return false, err
			}
			for _, r := range o.Rules {
				if o.ID != id && r.SourceGroupID == id {
					inUse = o.ID
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if inUse != "" {
			return errorf(NetDependencyViolation, "resource %s has a dependent object", id)
		}
		return t.Delete(sgKey(id))
	})
	return internal("delete security group", err)
}

func (s *Service) checkRules(t meta.Reader, g *sgRecord, rules []Rule) error {
	if len(rules) == 0 {
		return errorf(NetInvalidParameterValue, "No permissions given")
	}
	for _, r := range rules {
		switch r.Protocol {
		case "tcp", "udp":
			if r.FromPort < 0 || r.ToPort > 65535 || r.FromPort > r.ToPort {
				return errorf(NetInvalidParameterValue, "Invalid port range %d-%d", r.FromPort, r.ToPort)
			}
		case "icmp":
			if r.FromPort < -1 || r.FromPort > 255 || r.ToPort < -1 || r.ToPort > 255 {
				return errorf(NetInvalidParameterValue, "Invalid ICMP type or code %d/%d", r.FromPort, r.ToPort)
			}
		case "-1":
			if r.FromPort != -1 || r.ToPort != -1 {
				return errorf(NetInvalidParameterValue, "Ports must be -1 for all protocols")
			}
		default:
			return errorf(NetInvalidParameterValue, "Invalid IP protocol '%s'", r.Protocol)
		}
		if r.CIDR.IsValid() == (r.SourceGroupID != "") {
			return errorf(NetInvalidParameterValue, "A rule needs either a CIDR or a source group")
		}
		if r.CIDR.IsValid() && (!r.CIDR.Addr().Is4() || r.CIDR != r.CIDR.Masked()) {
			return errorf(NetInvalidParameterValue, "Invalid CIDR '%s'", r.CIDR)
		}
		if r.SourceGroupID != "" && r.SourceGroupID != g.ID {
			src, err := getSG(t, r.SourceGroupID)
			if err != nil {
				return err
			}
			if src.VPCID != g.VPCID {
				return errorf(NetInvalidGroupNotFound, "The security group '%s' does not exist in VPC '%s'", r.SourceGroupID, g.VPCID)
			}
		}
		if len(r.Description) > 255 {
			return errorf(NetInvalidParameterValue, "Rule description is longer than 255 characters")
		}
	}
	return nil
}

// AuthorizeIngress adds inbound rules to group id. A rule that the group
// already has fails the whole call with NetInvalidPermissionDuplicate.
func (s *Service) AuthorizeIngress(ctx context.Context, id string, rules []Rule) (SecurityGroup, error) {
	var g SecurityGroup
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getSG(t, id)
		if err != nil {
			return err
		}
		if err := s.checkRules(t, rec, rules); err != nil {
			return err
		}
		for i, r := range rules {
			for _, o := range append(slices.Clone(rec.Rules), rules[:i]...) {
				if o.same(r) {
					return errorf(NetInvalidPermissionDuplicate, "the specified rule already exists")
				}
			}
		}
		rec.Rules = append(rec.Rules, rules...)
		if len(rec.Rules) > maxRulesPerGroup {
			return errorf(NetRulesPerGroupLimitExceeded, "The maximum number of rules per security group has been reached.")
		}
		g = rec.group()
		return putJSON(t, sgKey(id), rec)
	})
	return g, internal("authorize ingress", err)
}

// RevokeIngress removes inbound rules from group id; a rule the group does
// not have fails the call with NetInvalidPermissionNotFound.
func (s *Service) RevokeIngress(ctx context.Context, id string, rules []Rule) (SecurityGroup, error) {
	var g SecurityGroup
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getSG(t, id)
		if err != nil {
			return err
		}
		if len(rules) == 0 {
			return errorf(NetInvalidParameterValue, "No permissions given")
		}
		for _, r := range rules {
			i := slices.IndexFunc(rec.Rules, r.same)
			if i < 0 {
				return errorf(NetInvalidPermissionNotFound, "The specified rule does not exist in this security group.")
			}
			rec.Rules = slices.Delete(rec.Rules, i, i+1)
		}
		g = rec.group()
		return putJSON(t, sgKey(id), rec)
	})
	return g, internal("revoke ingress", err)
}

// clientGroups returns the IDs of the security groups that the configured
// clients at src belong to (Config.Clients), resolving group names in the
// client's VPC.
func (s *Service) clientGroups(r meta.Reader, src netip.Addr) ([]string, error) {
	var out []string
	for _, c := range s.cfg.Clients {
		if !c.CIDR.Contains(src) {
			continue
		}
		vpc := c.VPCID
		if vpc == "" {
			for _, v := range s.net.vpcs {
				if v.IsDefault {
					vpc = v.ID
				}
			}
		}
		for _, g := range c.Groups {
			if strings.HasPrefix(g, "sg-") {
				out = append(out, g)
				continue
			}
			if g == "default" {
				out = append(out, s.DefaultSecurityGroupID(vpc))
				continue
			}
			err := meta.ScanPrefix(r, sgKey(""), func(k, v []byte) (bool, error) {
				var rec sgRecord
				if err := getJSON(r, k, &rec); err != nil {
					return false, err
				}
				if rec.VPCID == vpc && rec.Name == g {
					out = append(out, rec.ID)
				}
				return true, nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// IngressAllowed reports whether the security groups of mount target mtID
// admit a TCP connection from src to port. A source-group rule admits the
// addresses of mount targets that belong to that group, and the configured
// clients that belong to it (Config.Clients).
func (s *Service) IngressAllowed(ctx context.Context, mtID string, src netip.Addr, port int) (bool, error) {
	src = src.Unmap()
	var ok bool
	err := s.meta.View(ctx, func(r meta.Reader) error {
		mt, err := getMT(r, mtID)
		if err != nil {
			return err
		}
		var srcGroups []string
		srcLoaded := false
		for _, gid := range mt.SecurityGroups {
			g, err := getSG(r, gid)
			if IsCode(err, NetInvalidGroupNotFound) {
				continue
			} else if err != nil {
				return err
			}
			for _, rule := range g.Rules {
				if rule.Protocol != "tcp" && rule.Protocol != "-1" {
					continue
				}
				if rule.Protocol == "tcp" && (port < rule.FromPort || port > rule.ToPort) {
					continue
				}
				if rule.CIDR.IsValid() {
					if rule.CIDR.Contains(src) {
						ok = true
						return nil
					}
					continue
				}
				if !srcLoaded {
					srcLoaded = true
					groups, err := s.clientGroups(r, src)
					if err != nil {
						return err
					}
					srcGroups = append(srcGroups, groups...)
					var other mtRecord
					id, err := r.Get(ipKey(src.String()))
					if err == nil {
						if err := getJSON(r, mtKey(string(id)), &other); err == nil {
							srcGroups = append(srcGroups, other.SecurityGroups...)
						}
					} else if !errors.Is(err, meta.ErrNotFound) {
						return err
					}
				}
				if slices.Contains(srcGroups, rule.SourceGroupID) {
					ok = true
					return nil
				}
			}
		}
		return nil
	})
	return ok, internal("check ingress", err)
}
