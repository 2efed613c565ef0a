package ec2api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/control"
)

func (s *Service) createSecurityGroup(c *call) (any, *apiError) {
	name, descr, vpc := c.params.get("GroupName"), c.params.get("GroupDescription"), c.params.get("VpcId")
	tags, e := c.params.tagSpecifications("security-group")
	c.requestParams = map[string]any{"groupName": name, "groupDescription": descr, "vpcId": vpc}
	if e != nil {
		return nil, e
	}
	if name == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter groupName")
	}
	if !c.params.has("GroupDescription") {
		return nil, errf("MissingParameter", "The request must contain the parameter groupDescription")
	}
	if e := s.authorize(c, "CreateSecurityGroup", s.arn("security-group", "*")); e != nil {
		return nil, e
	}
	g, err := s.net.CreateSecurityGroup(c.ctx, control.CreateSecurityGroupInput{VPCID: vpc, Name: name, Description: descr, Tags: tags})
	if err != nil {
		return nil, s.controlError(c, err)
	}
	arn := s.arn("security-group", g.ID)
	c.resources = []string{arn}
	c.responseElems = map[string]any{"requestId": c.edge.RequestID, "_return": true, "groupId": g.ID, "securityGroupArn": arn}
	resp := &createGroupResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, Return: true, GroupID: g.ID, SecurityGroupARN: arn}
	if len(g.Tags) > 0 {
		ts := tagsXML(g.Tags)
		resp.TagSet = &ts
	}
	return resp, nil
}

// tagSpecifications reads TagSpecification.N for resourceType.
func (p params) tagSpecifications(resourceType string) ([]control.Tag, *apiError) {
	var tags []control.Tag
	for i := 1; i <= p.count("TagSpecification"); i++ {
		pre := "TagSpecification." + strconv.Itoa(i)
		if rt := p.get(pre + ".ResourceType"); rt != resourceType {
			return nil, errf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", trim(rt))
		}
		for j := 1; j <= p.count(pre+".Tag"); j++ {
			tp := pre + ".Tag." + strconv.Itoa(j)
			tags = append(tags, control.Tag{Key: p.get(tp + ".Key"), Value: p.get(tp + ".Value")})
		}
	}
	return tags, nil
}

// groupID resolves GroupId, or GroupName in the default VPC.
func (s *Service) groupID(c *call) (string, *apiError) {
	if id := c.params.get("GroupId"); id != "" {
		if !strings.HasPrefix(id, "sg-") {
			return "", errf("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", trim(id))
		}
		return id, nil
	}
	name := c.params.get("GroupName")
	if name == "" {
		return "", errf("MissingParameter", "The request must contain the parameter groupName or groupId")
	}
	groups, err := s.net.SecurityGroups(c.ctx)
	if err != nil {
		return "", s.controlError(c, err)
	}
	def := s.defaultVPC()
	for _, g := range groups {
		if g.Name == name && g.VPCID == def {
			return g.ID, nil
		}
	}
	return "", errf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", trim(name), def)
}

func (s *Service) deleteSecurityGroup(c *call) (any, *apiError) {
	c.requestParams = map[string]any{"groupId": c.params.get("GroupId"), "groupName": c.params.get("GroupName")}
	id, e := s.groupID(c)
	if e != nil {
		return nil, e
	}
	arn := s.arn("security-group", id)
	c.resources = []string{arn}
	if e := s.authorize(c, "DeleteSecurityGroup", arn); e != nil {
		return nil, e
	}
	if err := s.net.DeleteSecurityGroup(c.ctx, id); err != nil {
		return nil, s.controlError(c, err)
	}
	c.responseElems = map[string]any{"requestId": c.edge.RequestID, "_return": true, "groupId": id}
	return &deleteGroupResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, Return: true, GroupID: id}, nil
}

// maxPermissions bounds the IpPermissions of one call.
const maxPermissions = 100

// rules reads the permissions of an Authorize/Revoke call: IpPermissions.N
// (IpProtocol, FromPort, ToPort, IpRanges.M.CidrIp/Description,
// Groups.M.GroupId/GroupName/Description), or the older top-level
// IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName.
func (s *Service) rules(c *call, groups func() ([]control.SecurityGroup, *apiError), vpcID string) ([]control.Rule, any, *apiError) {
	p := c.params
	var rules []control.Rule
	var audit []map[string]any
	n := p.count("IpPermissions")
	if n > maxPermissions {
		return nil, nil, errf("InvalidParameterValue", "At most %d permissions may be given in one call.", maxPermissions)
	}
	type perm struct {
		proto, from, to  string
		cidrs, cidrDescr []string
		groupIDs, names  []string
		groupDescr       []string
		v6, prefixLists  int
	}
	var perms []perm
	for i := 1; i <= n; i++ {
		pre := "IpPermissions." + strconv.Itoa(i)
		pm := perm{proto: p.get(pre + ".IpProtocol"), from: p.get(pre + ".FromPort"), to: p.get(pre + ".ToPort")}
		for j := 1; j <= p.count(pre+".IpRanges"); j++ {
			rp := pre + ".IpRanges." + strconv.Itoa(j)
			pm.cidrs = append(pm.cidrs, p.get(rp+".CidrIp"))
			pm.cidrDescr = append(pm.cidrDescr, p.get(rp+".Description"))
		}
		for j := 1; j <= p.count(pre+".Groups"); j++ {
			gp := pre + ".Groups." + strconv.Itoa(j)
			pm.groupIDs = append(pm.groupIDs, p.get(gp+".GroupId"))
			pm.names = append(pm.names, p.get(gp+".GroupName"))
			pm.groupDescr = append(pm.groupDescr, p.get(gp+".Description"))
		}
		pm.v6, pm.prefixLists = p.count(pre+".Ipv6Ranges"), p.count(pre+".PrefixListIds")
		perms = append(perms, pm)
	}
	if n == 0 && (p.has("IpProtocol") || p.has("CidrIp") || p.has("SourceSecurityGroupName")) {
		pm := perm{proto: p.get("IpProtocol"), from: p.get("FromPort"), to: p.get("ToPort")}
		if v := p.get("CidrIp"); v != "" {
			pm.cidrs, pm.cidrDescr = []string{v}, []string{""}
		}
		if v := p.get("SourceSecurityGroupName"); v != "" {
			pm.groupIDs, pm.names, pm.groupDescr = []string{""}, []string{v}, []string{""}
			if pm.proto == "" {
				pm.proto = "-1"
			}
		}
		perms = append(perms, pm)
	}
	if len(perms) == 0 {
		return nil, nil, errf("MissingParameter", "No permissions given: the request must contain IpPermissions")
	}
	for _, pm := range perms {
		if pm.v6 > 0 || pm.prefixLists > 0 {
			return nil, nil, errf("InvalidParameterValue", "IPv6 ranges and prefix lists are not supported by this endpoint.")
		}
		proto, e := protocol(pm.proto)
		if e != nil {
			return nil, nil, e
		}
		from, to := -1, -1
		if proto != "-1" {
			var ok bool
			if from, ok = port(pm.from); !ok {
				return nil, nil, errf("InvalidParameterValue", "Invalid value '%s' for fromPort.", trim(pm.from))
			}
			if to, ok = port(pm.to); !ok {
				return nil, nil, errf("InvalidParameterValue", "Invalid value '%s' for toPort.", trim(pm.to))
			}
		}
		if len(pm.cidrs)+len(pm.groupIDs) == 0 {
			return nil, nil, errf("MissingParameter", "A permission needs an IP range or a source security group.")
		}
		entry := map[string]any{"ipProtocol": proto, "fromPort": from, "toPort": to}
		var ranges, srcGroups []map[string]string
		for k, cidr := range pm.cidrs {
			pfx, err := netip.ParsePrefix(cidr)
			if err != nil {
				return nil, nil, errf("InvalidParameterValue", "CIDR block %s is malformed", trim(cidr))
			}
			rules = append(rules, control.Rule{Protocol: proto, FromPort: from, ToPort: to, CIDR: pfx, Description: pm.cidrDescr[k]})
			ranges = append(ranges, map[string]string{"cidrIp": cidr})
		}
		for k, gid := range pm.groupIDs {
			if gid == "" {
				name := pm.names[k]
				all, e := groups()
				if e != nil {
					return nil, nil, e
				}
				for _, g := range all {
					if g.Name == name && g.VPCID == vpcID {
						gid = g.ID
					}
				}
				if gid == "" {
					return nil, nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", trim(name), vpcID)
				}
			}
			rules = append(rules, control.Rule{Protocol: proto, FromPort: from, ToPort: to, SourceGroupID: gid, Description: pm.groupDescr[k]})
			srcGroups = append(srcGroups, map[string]string{"groupId": gid})
		}
		if ranges != nil {
			entry["ipRanges"] = map[string]any{"items": ranges}
		}
		if srcGroups != nil {
			entry["groups"] = map[string]any{"items": srcGroups}
		}
		audit = append(audit, entry)
	}
	return rules, map[string]any{"items": audit}, nil
}

// protocol normalizes IpProtocol: names or IANA numbers of tcp, udp, icmp,
// and -1 (or "all") for every protocol.
func protocol(v string) (string, *apiError) {
	switch strings.ToLower(v) {
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "-1", "all":
		return "-1", nil
	case "":
		return "", errf("MissingParameter", "The request must contain the parameter ipProtocol")
	}
	return "", errf("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", trim(v))
}

func port(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= -1 && n <= 65535
}

// ruleID derives a stable security-group rule ID (sgr-…) from the rule,
// since the network model stores rules without IDs.
func ruleID(groupID string, r control.Rule) string {
	h := sha256.Sum256([]byte(groupID + "|" + r.Protocol + "|" + strconv.Itoa(r.FromPort) + "|" + strconv.Itoa(r.ToPort) + "|" + r.CIDR.String() + "|" + r.SourceGroupID))
	return "sgr-" + hex.EncodeToString(h[:])[:17]
}

// changeIngress is the common part of Authorize and Revoke.
func (s *Service) changeIngress(c *call, action string) (string, []control.Rule, *apiError) {
	c.requestParams = map[string]any{"groupId": c.params.get("GroupId"), "groupName": c.params.get("GroupName")}
	id, e := s.groupID(c)
	if e != nil {
		return "", nil, e
	}
	arn := s.arn("security-group", id)
	c.resources = []string{arn}
	var loaded []control.SecurityGroup
	all := func() ([]control.SecurityGroup, *apiError) {
		if loaded == nil {
			gs, err := s.net.SecurityGroups(c.ctx)
			if err != nil {
				return nil, s.controlError(c, err)
			}
			loaded = gs
		}
		return loaded, nil
	}
	g, err := s.net.SecurityGroup(c.ctx, id)
	if err != nil {
		return "", nil, s.controlError(c, err)
	}
	var rules []control.Rule
	if ruleIDs := c.params.list("SecurityGroupRuleId"); action == "RevokeSecurityGroupIngress" && len(ruleIDs) > 0 {
		for _, rid := range ruleIDs {
			found := false
			for _, r := range g.Rules {
				if ruleID(g.ID, r) == rid {
					rules, found = append(rules, r), true
				}
			}
			if !found {
				return "", nil, errf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", trim(rid))
			}
		}
		c.requestParams.(map[string]any)["securityGroupRuleIdSet"] = itemsOf("securityGroupRuleId", ruleIDs)
	} else {
		var perms any
		rules, perms, e = s.rules(c, all, g.VPCID)
		c.requestParams.(map[string]any)["ipPermissions"] = perms
		if e != nil {
			return "", nil, e
		}
	}
	if e := s.authorize(c, action, arn); e != nil {
		return "", nil, e
	}
	return id, rules, nil
}

func (s *Service) authorizeIngress(c *call) (any, *apiError) {
	id, rules, e := s.changeIngress(c, "AuthorizeSecurityGroupIngress")
	if e != nil {
		return nil, e
	}
	if _, err := s.net.AuthorizeIngress(c.ctx, id, rules); err != nil {
		return nil, s.controlError(c, err)
	}
	resp := &authorizeIngressResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, Return: true}
	var ids []string
	for _, r := range rules {
		rid := ruleID(id, r)
		ids = append(ids, rid)
		item := ruleItem{
			SecurityGroupRuleID: rid, GroupID: id, GroupOwnerID: s.account, IPProtocol: r.Protocol,
			FromPort: r.FromPort, ToPort: r.ToPort, Description: r.Description,
			SecurityGroupRuleARN: s.arn("security-group-rule", rid),
		}
		if r.CIDR.IsValid() {
			item.CIDRIPv4 = r.CIDR.String()
		} else {
			item.ReferencedGroupInfo = &referencedGroup{GroupID: r.SourceGroupID, UserID: s.account}
		}
		resp.Rules = append(resp.Rules, item)
	}
	c.responseElems = map[string]any{"requestId": c.edge.RequestID, "_return": true, "securityGroupRuleSet": itemsOf("securityGroupRuleId", ids)}
	return resp, nil
}

func (s *Service) revokeIngress(c *call) (any, *apiError) {
	id, rules, e := s.changeIngress(c, "RevokeSecurityGroupIngress")
	if e != nil {
		return nil, e
	}
	if _, err := s.net.RevokeIngress(c.ctx, id, rules); err != nil {
		return nil, s.controlError(c, err)
	}
	resp := &revokeIngressResponse{Xmlns: xmlns, RequestID: c.edge.RequestID, Return: true}
	for _, r := range rules {
		item := revokedRuleItem{SecurityGroupRuleID: ruleID(id, r), GroupID: id, IPProtocol: r.Protocol,
			FromPort: r.FromPort, ToPort: r.ToPort, Description: r.Description, ReferencedGroupID: r.SourceGroupID}
		if r.CIDR.IsValid() {
			item.CIDRIPv4 = r.CIDR.String()
		}
		resp.Revoked = append(resp.Revoked, item)
	}
	c.responseElems = map[string]any{"requestId": c.edge.RequestID, "_return": true}
	return resp, nil
}
