package ec2api

import (
	"encoding/base64"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/control"
)

// filter is one Filter.N of a Describe call: the resource matches when any
// of the values matches the named field (values may hold * and ?
// wildcards, as in EC2); a resource must match every filter.
type filter struct {
	name   string
	values []string
}

// maxFilterValues is EC2's limit of values per filter.
const maxFilterValues = 200

func (p params) filters() ([]filter, *apiError) {
	var out []filter
	for i := 1; i <= p.count("Filter"); i++ {
		pre := "Filter." + strconv.Itoa(i)
		f := filter{name: p.get(pre + ".Name"), values: p.list(pre + ".Value")}
		if f.name == "" {
			return nil, errf("InvalidParameterValue", "The filter name must not be empty.")
		}
		if len(f.values) > maxFilterValues {
			return nil, errf("FilterLimitExceeded", "The maximum number of filter values specified on a single call is %d", maxFilterValues)
		}
		out = append(out, f)
	}
	return out, nil
}

// fields returns the values of a filter name for one resource, and whether
// the name is a filter of that resource type.
type fields func(name string) ([]string, bool)

// match reports whether the resource with fields fs passes every filter;
// an unknown filter name is an error, as in EC2.
func match(filters []filter, fs fields) (bool, *apiError) {
	for _, f := range filters {
		vals, ok := fs(f.name)
		if !ok {
			return false, errf("InvalidParameterValue", "The filter '%s' is invalid", trim(f.name))
		}
		if !anyMatch(f.values, vals) {
			return false, nil
		}
	}
	return true, nil
}

func anyMatch(patterns, vals []string) bool {
	for _, p := range patterns {
		for _, v := range vals {
			if globMatch(p, v) {
				return true
			}
		}
	}
	return false
}

// globMatch matches EC2 filter wildcards: * any run, ? one character,
// backslash escapes them.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	// path.Match treats '/' specially and has character classes; escape
	// everything but our wildcards.
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteByte('\\')
				b.WriteByte(pattern[i])
			} else {
				b.WriteString(`\\`)
			}
		case '*', '?':
			b.WriteByte(c)
		case '[', ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	// path.Match's * does not cross '/', which CIDRs contain: split both
	// on '/' is wrong too, so swap '/' for a byte that cannot occur.
	const slash = "\x00"
	ok, err := path.Match(strings.ReplaceAll(b.String(), "/", slash), strings.ReplaceAll(s, "/", slash))
	return err == nil && ok
}

// tagFields answers the tag filters: tag:<key>, tag-key, tag-value.
func tagFields(tags []control.Tag, name string) ([]string, bool) {
	switch {
	case strings.HasPrefix(name, "tag:"):
		var out []string
		for _, t := range tags {
			if t.Key == name[4:] {
				out = append(out, t.Value)
			}
		}
		return out, true
	case name == "tag-key":
		var out []string
		for _, t := range tags {
			out = append(out, t.Key)
		}
		return out, true
	case name == "tag-value":
		var out []string
		for _, t := range tags {
			out = append(out, t.Value)
		}
		return out, true
	}
	return nil, false
}

func tagsXML(tags []control.Tag) tagSet {
	var ts tagSet
	for _, t := range tags {
		ts.Items = append(ts.Items, tagItem{Key: t.Key, Value: t.Value})
	}
	return ts
}

// page applies MaxResults/NextToken to ids (sorted ascending): it returns
// the index range to return and the next token ("" on the last page). The
// token is the last ID returned, so a page never repeats one.
func (p params) page(ids []string) (from, to int, next string, e *apiError) {
	to = len(ids)
	if tok := p.get("NextToken"); tok != "" {
		last, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(last) == 0 {
			return 0, 0, "", errf("InvalidPaginationToken", "The pagination token '%s' is invalid.", trim(tok))
		}
		from = sort.SearchStrings(ids, string(last))
		if from < len(ids) && ids[from] == string(last) {
			from++
		}
	}
	if v := p.get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return 0, 0, "", errf("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", trim(v))
		}
		if from+n < len(ids) {
			to = from + n
			next = base64.RawURLEncoding.EncodeToString([]byte(ids[to-1]))
		}
	}
	return from, to, next, nil
}

// idSet checks requested IDs: each must have the prefix (else
// <kind>.Malformed) and exist (else <kind>.NotFound with msg).
func idSet(ids []string, prefix, malformed string, exists func(string) bool, notFound func(string) *apiError) (map[string]bool, *apiError) {
	if len(ids) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, id := range ids {
		if !strings.HasPrefix(id, prefix) {
			return nil, errf(malformed, "Invalid id: \"%s\"", trim(id))
		}
		if !exists(id) {
			return nil, notFound(id)
		}
		set[id] = true
	}
	return set, nil
}

func (s *Service) describeVpcs(c *call) (any, *apiError) {
	ids := c.params.list("VpcId")
	filters, e := c.params.filters()
	c.requestParams = map[string]any{"vpcSet": itemsOf("vpcId", ids), "filterSet": filtersOf(filters)}
	if e != nil {
		return nil, e
	}
	if e := s.authorize(c, "DescribeVpcs", "*"); e != nil {
		return nil, e
	}
	vpcs := s.net.VPCs()
	byID := map[string]control.VPC{}
	for _, v := range vpcs {
		byID[v.ID] = v
	}
	want, e := idSet(ids, "vpc-", "InvalidVpcID.Malformed", func(id string) bool { _, ok := byID[id]; return ok },
		func(id string) *apiError { return errf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id) })
	if e != nil {
		return nil, e
	}
	sort.Slice(vpcs, func(i, j int) bool { return vpcs[i].ID < vpcs[j].ID })
	var keep []control.VPC
	for _, v := range vpcs {
		if want != nil && !want[v.ID] {
			continue
		}
		ok, e := match(filters, func(name string) ([]string, bool) {
			switch name {
			case "vpc-id":
				return []string{v.ID}, true
			case "cidr", "cidr-block-association.cidr-block", "cidrBlock":
				return []string{v.CIDR.String()}, true
			case "cidr-block-association.state":
				return []string{"associated"}, true
			case "is-default", "isDefault":
				return []string{strconv.FormatBool(v.IsDefault)}, true
			case "state":
				return []string{"available"}, true
			case "owner-id":
				return []string{s.account}, true
			case "dhcp-options-id":
				return []string{"default"}, true
			}
			return tagFields(nil, name)
		})
		if e != nil {
			return nil, e
		}
		if ok {
			keep = append(keep, v)
		}
	}
	from, to, next, e := c.params.page(vpcIDs(keep))
	if e != nil {
		return nil, e
	}
	resp := &describeVpcsResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, NextToken: next}
	for _, v := range keep[from:to] {
		resp.VPCs = append(resp.VPCs, vpcItem{
			VPCID: v.ID, OwnerID: s.account, State: "available", CIDRBlock: v.CIDR.String(),
			CIDRBlockAssociationSet: []cidrAssociation{{AssociationID: "vpc-cidr-assoc-" + strings.TrimPrefix(v.ID, "vpc-"),
				CIDRBlock: v.CIDR.String(), CIDRBlockState: cidrBlockState{State: "associated"}}},
			DHCPOptionsID: "default", InstanceTenancy: "default", IsDefault: v.IsDefault,
		})
	}
	return resp, nil
}

func vpcIDs(vs []control.VPC) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func (s *Service) describeSubnets(c *call) (any, *apiError) {
	ids := c.params.list("SubnetId")
	filters, e := c.params.filters()
	c.requestParams = map[string]any{"subnetSet": itemsOf("subnetId", ids), "filterSet": filtersOf(filters)}
	if e != nil {
		return nil, e
	}
	if e := s.authorize(c, "DescribeSubnets", "*"); e != nil {
		return nil, e
	}
	subnets := s.net.Subnets()
	byID := map[string]bool{}
	for _, sn := range subnets {
		byID[sn.ID] = true
	}
	want, e := idSet(ids, "subnet-", "InvalidSubnetID.Malformed", func(id string) bool { return byID[id] },
		func(id string) *apiError {
			return errf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		})
	if e != nil {
		return nil, e
	}
	sort.Slice(subnets, func(i, j int) bool { return subnets[i].ID < subnets[j].ID })
	var keep []control.Subnet
	for _, sn := range subnets {
		if want != nil && !want[sn.ID] {
			continue
		}
		ok, e := match(filters, func(name string) ([]string, bool) {
			switch name {
			case "subnet-id", "subnetId":
				return []string{sn.ID}, true
			case "vpc-id", "vpcId":
				return []string{sn.VPCID}, true
			case "availability-zone", "availabilityZone":
				return []string{sn.AvailabilityZone.Name}, true
			case "availability-zone-id", "availabilityZoneId":
				return []string{sn.AvailabilityZone.ID}, true
			case "cidr-block", "cidr", "cidrBlock":
				return []string{sn.CIDR.String()}, true
			case "default-for-az", "defaultForAz":
				return []string{strconv.FormatBool(sn.DefaultForAZ)}, true
			case "state":
				return []string{"available"}, true
			case "owner-id":
				return []string{s.account}, true
			case "subnet-arn":
				return []string{s.arn("subnet", sn.ID)}, true
			case "available-ip-address-count":
				return []string{strconv.Itoa(availableIPs(sn.CIDR))}, true
			case "map-public-ip-on-launch":
				return []string{"false"}, true
			}
			return tagFields(nil, name)
		})
		if e != nil {
			return nil, e
		}
		if ok {
			keep = append(keep, sn)
		}
	}
	idsKept := make([]string, len(keep))
	for i, sn := range keep {
		idsKept[i] = sn.ID
	}
	from, to, next, e := c.params.page(idsKept)
	if e != nil {
		return nil, e
	}
	resp := &describeSubnetsResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, NextToken: next}
	for _, sn := range keep[from:to] {
		resp.Subnets = append(resp.Subnets, subnetItem{
			SubnetID: sn.ID, SubnetARN: s.arn("subnet", sn.ID), State: "available", OwnerID: s.account,
			VPCID: sn.VPCID, CIDRBlock: sn.CIDR.String(), AvailableIPAddressCount: availableIPs(sn.CIDR),
			AvailabilityZone: sn.AvailabilityZone.Name, AvailabilityZoneID: sn.AvailabilityZone.ID,
			DefaultForAZ: sn.DefaultForAZ,
		})
	}
	return resp, nil
}

// availableIPs is the subnet's size less the five addresses AWS reserves
// (mount targets in it are not subtracted).
func availableIPs(p netip.Prefix) int {
	bits := 32 - p.Bits()
	if bits >= 31 {
		return 1<<31 - 1
	}
	if n := 1<<bits - 5; n > 0 {
		return n
	}
	return 0
}

func (s *Service) describeAvailabilityZones(c *call) (any, *apiError) {
	names, zoneIDs := c.params.list("ZoneName"), c.params.list("ZoneId")
	filters, e := c.params.filters()
	c.requestParams = map[string]any{"availabilityZoneSet": itemsOf("zoneName", names), "availabilityZoneIdSet": itemsOf("zoneId", zoneIDs), "filterSet": filtersOf(filters)}
	if e != nil {
		return nil, e
	}
	if _, e := c.params.bool("AllAvailabilityZones"); e != nil {
		return nil, e
	}
	if e := s.authorize(c, "DescribeAvailabilityZones", "*"); e != nil {
		return nil, e
	}
	zones := s.net.AvailabilityZones()
	for _, n := range names {
		if !containsZone(zones, func(z control.AvailabilityZone) bool { return z.Name == n }) {
			return nil, errf("InvalidParameterValue", "The zone '%s' does not exist.", trim(n))
		}
	}
	for _, id := range zoneIDs {
		if !containsZone(zones, func(z control.AvailabilityZone) bool { return z.ID == id }) {
			return nil, errf("InvalidParameterValue", "The zone ID '%s' does not exist.", trim(id))
		}
	}
	resp := &describeZonesResponse{Xmlns: xmlns, RequestID: c.edge.RequestID}
	for _, z := range zones {
		if len(names)+len(zoneIDs) > 0 && !contains(names, z.Name) && !contains(zoneIDs, z.ID) {
			continue
		}
		ok, e := match(filters, func(name string) ([]string, bool) {
			switch name {
			case "zone-name":
				return []string{z.Name}, true
			case "zone-id":
				return []string{z.ID}, true
			case "region-name":
				return []string{s.region}, true
			case "state":
				return []string{"available"}, true
			case "zone-type":
				return []string{"availability-zone"}, true
			case "group-name", "network-border-group":
				return []string{s.region}, true
			case "opt-in-status":
				return []string{"opt-in-not-required"}, true
			}
			return nil, false
		})
		if e != nil {
			return nil, e
		}
		if ok {
			resp.Zones = append(resp.Zones, zoneItem{
				ZoneName: z.Name, ZoneID: z.ID, ZoneState: "available", OptInStatus: "opt-in-not-required",
				RegionName: s.region, GroupName: s.region, NetworkBorderGroup: s.region, ZoneType: "availability-zone",
			})
		}
	}
	return resp, nil
}

func containsZone(zs []control.AvailabilityZone, f func(control.AvailabilityZone) bool) bool {
	for _, z := range zs {
		if f(z) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Service) describeSecurityGroups(c *call) (any, *apiError) {
	ids, names := c.params.list("GroupId"), c.params.list("GroupName")
	filters, e := c.params.filters()
	c.requestParams = map[string]any{"securityGroupIdSet": itemsOf("groupId", ids), "securityGroupSet": itemsOf("groupName", names), "filterSet": filtersOf(filters)}
	if e != nil {
		return nil, e
	}
	if e := s.authorize(c, "DescribeSecurityGroups", "*"); e != nil {
		return nil, e
	}
	groups, err := s.net.SecurityGroups(c.ctx)
	if err != nil {
		return nil, s.controlError(c, err)
	}
	byID := map[string]bool{}
	for _, g := range groups {
		byID[g.ID] = true
	}
	wantIDs, e := idSet(ids, "sg-", "InvalidGroupId.Malformed", func(id string) bool { return byID[id] },
		func(id string) *apiError {
			return errf("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		})
	if e != nil {
		return nil, e
	}
	// GroupName names groups of the default VPC, as in EC2.
	defVPC := s.defaultVPC()
	wantNames := map[string]bool{}
	for _, n := range names {
		found := false
		for _, g := range groups {
			if g.Name == n && g.VPCID == defVPC {
				found = true
			}
		}
		if !found {
			return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", trim(n), defVPC)
		}
		wantNames[n] = true
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	var keep []control.SecurityGroup
	for _, g := range groups {
		if (wantIDs != nil || len(wantNames) > 0) && !wantIDs[g.ID] && !(wantNames[g.Name] && g.VPCID == defVPC) {
			continue
		}
		ok, e := match(filters, func(name string) ([]string, bool) { return s.groupFields(g, name) })
		if e != nil {
			return nil, e
		}
		if ok {
			keep = append(keep, g)
		}
	}
	idsKept := make([]string, len(keep))
	for i, g := range keep {
		idsKept[i] = g.ID
	}
	from, to, next, e := c.params.page(idsKept)
	if e != nil {
		return nil, e
	}
	resp := &describeGroupsResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, NextToken: next}
	for _, g := range keep[from:to] {
		resp.Groups = append(resp.Groups, s.groupXML(g))
	}
	return resp, nil
}

func (s *Service) groupFields(g control.SecurityGroup, name string) ([]string, bool) {
	one := func(v string) ([]string, bool) { return []string{v}, true }
	rules := func(f func(control.Rule) string) ([]string, bool) {
		var out []string
		for _, r := range g.Rules {
			if v := f(r); v != "" {
				out = append(out, v)
			}
		}
		return out, true
	}
	switch name {
	case "group-id":
		return one(g.ID)
	case "group-name":
		return one(g.Name)
	case "description":
		return one(g.Description)
	case "vpc-id":
		return one(g.VPCID)
	case "owner-id":
		return one(s.account)
	case "ip-permission.protocol":
		return rules(func(r control.Rule) string { return r.Protocol })
	case "ip-permission.from-port":
		return rules(func(r control.Rule) string { return strconv.Itoa(r.FromPort) })
	case "ip-permission.to-port":
		return rules(func(r control.Rule) string { return strconv.Itoa(r.ToPort) })
	case "ip-permission.cidr":
		return rules(func(r control.Rule) string {
			if r.CIDR.IsValid() {
				return r.CIDR.String()
			}
			return ""
		})
	case "ip-permission.group-id":
		return rules(func(r control.Rule) string { return r.SourceGroupID })
	case "egress.ip-permission.protocol":
		return one("-1")
	case "egress.ip-permission.cidr":
		return one("0.0.0.0/0")
	}
	return tagFields(g.Tags, name)
}

func (s *Service) defaultVPC() string {
	for _, v := range s.net.VPCs() {
		if v.IsDefault {
			return v.ID
		}
	}
	return ""
}

// arn is the ARN of an EC2 resource of this account.
func (s *Service) arn(kind, id string) string {
	return "arn:aws:ec2:" + s.region + ":" + s.account + ":" + kind + "/" + id
}

// groupXML renders a group, with rules of the same protocol and ports
// merged into one IpPermission as EC2 does. Egress is not modelled: every
// group shows EC2's default allow-all egress rule.
func (s *Service) groupXML(g control.SecurityGroup) securityGroupItem {
	item := securityGroupItem{
		OwnerID: s.account, GroupID: g.ID, GroupName: g.Name, GroupDescription: g.Description, VPCID: g.VPCID,
		SecurityGroupARN: s.arn("security-group", g.ID), TagSet: tagsXML(g.Tags),
		IPPermissionsEgress: []ipPermissionItem{{IPProtocol: "-1", IPRanges: []ipRangeItem{{CIDRIP: "0.0.0.0/0"}}}},
	}
	type key struct {
		proto    string
		from, to int
	}
	index := map[key]int{}
	for _, r := range g.Rules {
		k := key{r.Protocol, r.FromPort, r.ToPort}
		i, ok := index[k]
		if !ok {
			perm := ipPermissionItem{IPProtocol: r.Protocol}
			if r.Protocol != "-1" {
				from, to := r.FromPort, r.ToPort
				perm.FromPort, perm.ToPort = &from, &to
			}
			item.IPPermissions = append(item.IPPermissions, perm)
			i = len(item.IPPermissions) - 1
			index[k] = i
		}
		perm := &item.IPPermissions[i]
		if r.CIDR.IsValid() {
			perm.IPRanges = append(perm.IPRanges, ipRangeItem{CIDRIP: r.CIDR.String(), Description: r.Description})
		} else {
			perm.Groups = append(perm.Groups, groupPairItem{UserID: s.account, GroupID: r.SourceGroupID, Description: r.Description})
		}
	}
	return item
}

// itemsOf renders a list request parameter as CloudTrail does for EC2
// ({"items":[{"vpcId":"vpc-…"}]}), or nil when empty.
func itemsOf(field string, vals []string) any {
	if len(vals) == 0 {
		return nil
	}
	items := make([]map[string]string, len(vals))
	for i, v := range vals {
		items[i] = map[string]string{field: v}
	}
	return map[string]any{"items": items}
}

func filtersOf(fs []filter) any {
	if len(fs) == 0 {
		return nil
	}
	items := make([]map[string]any, len(fs))
	for i, f := range fs {
		vals := make([]map[string]string, len(f.values))
		for j, v := range f.values {
			vals[j] = map[string]string{"value": v}
		}
		items[i] = map[string]any{"name": f.name, "valueSet": map[string]any{"items": vals}}
	}
	return map[string]any{"items": items}
}
