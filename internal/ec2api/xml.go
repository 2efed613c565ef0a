package ec2api

import (
	"encoding/xml"
)

// The response documents, element for element as EC2 writes them (and as
// the SDK's ec2query deserializers read them: lists are <item> elements).

type tagItem struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type tagSet struct {
	Items []tagItem `xml:"item"`
}

type cidrBlockState struct {
	State string `xml:"state"`
}

type cidrAssociation struct {
	AssociationID  string         `xml:"associationId"`
	CIDRBlock      string         `xml:"cidrBlock"`
	CIDRBlockState cidrBlockState `xml:"cidrBlockState"`
}

type vpcItem struct {
	VPCID                   string            `xml:"vpcId"`
	OwnerID                 string            `xml:"ownerId"`
	State                   string            `xml:"state"`
	CIDRBlock               string            `xml:"cidrBlock"`
	CIDRBlockAssociationSet []cidrAssociation `xml:"cidrBlockAssociationSet>item"`
	DHCPOptionsID           string            `xml:"dhcpOptionsId"`
	TagSet                  tagSet            `xml:"tagSet"`
	InstanceTenancy         string            `xml:"instanceTenancy"`
	IsDefault               bool              `xml:"isDefault"`
}

type describeVpcsResponse struct {
	XMLName   xml.Name  `xml:"DescribeVpcsResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	RequestID string    `xml:"requestId"`
	VPCs      []vpcItem `xml:"vpcSet>item"`
	NextToken string    `xml:"nextToken,omitempty"`
}

type subnetItem struct {
	SubnetID                    string `xml:"subnetId"`
	SubnetARN                   string `xml:"subnetArn"`
	State                       string `xml:"state"`
	OwnerID                     string `xml:"ownerId"`
	VPCID                       string `xml:"vpcId"`
	CIDRBlock                   string `xml:"cidrBlock"`
	AvailableIPAddressCount     int    `xml:"availableIpAddressCount"`
	AvailabilityZone            string `xml:"availabilityZone"`
	AvailabilityZoneID          string `xml:"availabilityZoneId"`
	DefaultForAZ                bool   `xml:"defaultForAz"`
	MapPublicIPOnLaunch         bool   `xml:"mapPublicIpOnLaunch"`
	AssignIPv6AddressOnCreation bool   `xml:"assignIpv6AddressOnCreation"`
	TagSet                      tagSet `xml:"tagSet"`
}

type describeSubnetsResponse struct {
	XMLName   xml.Name     `xml:"DescribeSubnetsResponse"`
	Xmlns     string       `xml:"xmlns,attr"`
	RequestID string       `xml:"requestId"`
	Subnets   []subnetItem `xml:"subnetSet>item"`
	NextToken string       `xml:"nextToken,omitempty"`
}

type zoneItem struct {
	ZoneName           string   `xml:"zoneName"`
	ZoneID             string   `xml:"zoneId"`
	ZoneState          string   `xml:"zoneState"`
	OptInStatus        string   `xml:"optInStatus"`
	MessageSet         struct{} `xml:"messageSet"`
	RegionName         string   `xml:"regionName"`
	GroupName          string   `xml:"groupName"`
	NetworkBorderGroup string   `xml:"networkBorderGroup"`
	ZoneType           string   `xml:"zoneType"`
}

type describeZonesResponse struct {
	XMLName   xml.Name   `xml:"DescribeAvailabilityZonesResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	RequestID string     `xml:"requestId"`
	Zones     []zoneItem `xml:"availabilityZoneInfo>item"`
}

type ipRangeItem struct {
	CIDRIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type groupPairItem struct {
	UserID      string `xml:"userId"`
	GroupID     string `xml:"groupId"`
	Description string `xml:"description,omitempty"`
}

type ipPermissionItem struct {
	IPProtocol    string          `xml:"ipProtocol"`
	FromPort      *int            `xml:"fromPort,omitempty"`
	ToPort        *int            `xml:"toPort,omitempty"`
	Groups        []groupPairItem `xml:"groups>item"`
	IPRanges      []ipRangeItem   `xml:"ipRanges>item"`
	IPv6Ranges    struct{}        `xml:"ipv6Ranges"`
	PrefixListIDs struct{}        `xml:"prefixListIds"`
}

type securityGroupItem struct {
	OwnerID             string             `xml:"ownerId"`
	GroupID             string             `xml:"groupId"`
	GroupName           string             `xml:"groupName"`
	GroupDescription    string             `xml:"groupDescription"`
	VPCID               string             `xml:"vpcId"`
	SecurityGroupARN    string             `xml:"securityGroupArn"`
	IPPermissions       []ipPermissionItem `xml:"ipPermissions>item"`
	IPPermissionsEgress []ipPermissionItem `xml:"ipPermissionsEgress>item"`
	TagSet              tagSet             `xml:"tagSet"`
}

type describeGroupsResponse struct {
	XMLName   xml.Name            `xml:"DescribeSecurityGroupsResponse"`
	Xmlns     string              `xml:"xmlns,attr"`
	RequestID string              `xml:"requestId"`
	Groups    []securityGroupItem `xml:"securityGroupInfo>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

type createGroupResponse struct {
	XMLName          xml.Name `xml:"CreateSecurityGroupResponse"`
	Xmlns            string   `xml:"xmlns,attr"`
	RequestID        string   `xml:"requestId"`
	Return           bool     `xml:"return"`
	GroupID          string   `xml:"groupId"`
	SecurityGroupARN string   `xml:"securityGroupArn"`
	TagSet           *tagSet  `xml:"tagSet,omitempty"`
}

type deleteGroupResponse struct {
	XMLName   xml.Name `xml:"DeleteSecurityGroupResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
	GroupID   string   `xml:"groupId"`
}

type referencedGroup struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type ruleItem struct {
	SecurityGroupRuleID  string           `xml:"securityGroupRuleId"`
	GroupID              string           `xml:"groupId"`
	GroupOwnerID         string           `xml:"groupOwnerId"`
	IsEgress             bool             `xml:"isEgress"`
	IPProtocol           string           `xml:"ipProtocol"`
	FromPort             int              `xml:"fromPort"`
	ToPort               int              `xml:"toPort"`
	CIDRIPv4             string           `xml:"cidrIpv4,omitempty"`
	ReferencedGroupInfo  *referencedGroup `xml:"referencedGroupInfo,omitempty"`
	Description          string           `xml:"description,omitempty"`
	SecurityGroupRuleARN string           `xml:"securityGroupRuleArn"`
	TagSet               tagSet           `xml:"tagSet"`
}

type authorizeIngressResponse struct {
	XMLName   xml.Name   `xml:"AuthorizeSecurityGroupIngressResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	RequestID string     `xml:"requestId"`
	Return    bool       `xml:"return"`
	Rules     []ruleItem `xml:"securityGroupRuleSet>item"`
}

type revokedRuleItem struct {
	SecurityGroupRuleID string `xml:"securityGroupRuleId"`
	GroupID             string `xml:"groupId"`
	IsEgress            bool   `xml:"isEgress"`
	IPProtocol          string `xml:"ipProtocol"`
	FromPort            int    `xml:"fromPort"`
	ToPort              int    `xml:"toPort"`
	CIDRIPv4            string `xml:"cidrIpv4,omitempty"`
	ReferencedGroupID   string `xml:"referencedGroupId,omitempty"`
	Description         string `xml:"description,omitempty"`
}

type revokeIngressResponse struct {
	XMLName   xml.Name          `xml:"RevokeSecurityGroupIngressResponse"`
	Xmlns     string            `xml:"xmlns,attr"`
	RequestID string            `xml:"requestId"`
	Return    bool              `xml:"return"`
	Revoked   []revokedRuleItem `xml:"revokedSecurityGroupRuleSet>item"`
}

func marshalResponse(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		// The response types always marshal: a failure is a broken
		// invariant, which the edge turns into a 500.
		panic("ec2api: marshal response: " + err.Error())
	}
	return append([]byte(xml.Header), b...)
}
