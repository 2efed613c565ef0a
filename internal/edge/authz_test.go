package edge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
)

type policies map[string][]string // user ARN → documents

func (p policies) IdentityPolicies(_ context.Context, pr edge.Principal) ([][]byte, error) {
	if pr.IsRoot {
		panic("root policies are never read")
	}
	if pr.UserName == "broken-store" {
		return nil, errors.New("store down")
	}
	var out [][]byte
	for _, d := range p[pr.ARN] {
		out = append(out, []byte(d))
	}
	return out, nil
}

func TestIAMAuthorizer(t *testing.T) {
	const (
		alice = "arn:aws:iam::123456789012:user/alice"
		fsARN = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678"
	)
	when := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	user := func(name string) edge.Principal {
		return edge.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/" + name, UserName: name, UserID: "AIDA" + name}
	}
	call := func(p edge.Principal, ip string, secure bool) *edge.Call {
		return &edge.Call{Principal: p, SourceIP: ip, Secure: secure, Time: when, Region: "us-east-1", Service: "elasticfilesystem"}
	}
	src := policies{
		alice: {
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticfilesystem:Describe*","Resource":"*"}]}`,
			`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"elasticfilesystem:CreateFileSystem","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
				{"Effect":"Deny","Action":"elasticfilesystem:DeleteFileSystem","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
				{"Effect":"Allow","Action":"elasticfilesystem:DeleteFileSystem","Resource":"*"},
				{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/${aws:username}"},
				{"Effect":"Allow","Action":"elasticfilesystem:TagResource","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}},
				{"Effect":"Allow","Action":"elasticfilesystem:UntagResource","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"User","aws:userid":"AIDAalice","aws:PrincipalAccount":"123456789012"}}}
			]}`,
		},
		"arn:aws:iam::123456789012:user/mallory": {`{"Statement":`},
	}
	a := edge.NewAuthorizer(src, nil)
	root := edge.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:root", UserID: "123456789012", IsRoot: true}

	tests := []struct {
		name     string
		call     *edge.Call
		action   string
		resource string
		cond     map[string][]string
		want     string // "", "implicit", "explicit", "error"
	}{
		{"root bypasses policies", call(root, "10.0.0.1", false), "elasticfilesystem:DeleteFileSystem", fsARN, nil, ""},
		{"allowed by wildcard action", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:DescribeFileSystems", fsARN, nil, ""},
		{"action names are case-insensitive", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:describefilesystems", fsARN, nil, ""},
		{"no statement allows", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:CreateAccessPoint", fsARN, nil, "implicit"},
		{"source address allowed", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:CreateFileSystem", "*", nil, ""},
		{"source address refused", call(user("alice"), "10.1.2.3", false), "elasticfilesystem:CreateFileSystem", "*", nil, "implicit"},
		{"service cannot forge the source address", call(user("alice"), "10.1.2.3", false), "elasticfilesystem:CreateFileSystem", "*",
			map[string][]string{"aws:SourceIp": {"127.0.0.1"}}, "implicit"},
		{"explicit deny wins over allow", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:DeleteFileSystem", fsARN, nil, "explicit"},
		{"deny does not apply over TLS", call(user("alice"), "127.0.0.1", true), "elasticfilesystem:DeleteFileSystem", fsARN, nil, ""},
		{"policy variable aws:username", call(user("alice"), "127.0.0.1", false), "iam:GetUser", alice, nil, ""},
		{"policy variable names only the caller", call(user("alice"), "127.0.0.1", false), "iam:GetUser", "arn:aws:iam::123456789012:user/bob", nil, "implicit"},
		{"aws:CurrentTime", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:TagResource", fsARN, nil, "implicit"},
		{"principal keys", call(user("alice"), "127.0.0.1", false), "elasticfilesystem:UntagResource", fsARN, nil, ""},
		{"user without policies", call(user("bob"), "127.0.0.1", false), "elasticfilesystem:DescribeFileSystems", fsARN, nil, "implicit"},
		{"unparseable stored policy denies", call(user("mallory"), "127.0.0.1", false), "elasticfilesystem:DescribeFileSystems", fsARN, nil, "explicit"},
		{"policy store failure", call(user("broken-store"), "127.0.0.1", false), "elasticfilesystem:DescribeFileSystems", fsARN, nil, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Authorize(context.Background(), tt.call, tt.action, tt.resource, tt.cond)
			var ad *edge.AccessDeniedError
			switch tt.want {
			case "":
				require.NoError(t, err)
			case "error":
				require.Error(t, err)
				require.False(t, errors.Is(err, edge.ErrAccessDenied))
			default:
				require.ErrorIs(t, err, edge.ErrAccessDenied)
				require.ErrorAs(t, err, &ad)
				require.Equal(t, tt.want == "explicit", ad.Explicit)
				require.Contains(t, err.Error(), "is not authorized to perform: "+tt.action)
			}
		})
	}
}

func TestGlobalConditions(t *testing.T) {
	call := &edge.Call{
		Principal: edge.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/alice", UserName: "alice", UserID: "AIDAX"},
		SourceIP:  "127.0.0.1", Secure: true, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("x", 3600)),
		Region: "us-east-1", UserAgent: "aws-cli/2.9.19",
	}
	service := map[string][]string{"elasticfilesystem:Encrypted": {"true"}, "aws:SourceIp": {"6.6.6.6"}}
	got := edge.GlobalConditions(call, service)
	require.Equal(t, map[string][]string{
		"elasticfilesystem:Encrypted": {"true"},
		"aws:SourceIp":                {"127.0.0.1"},
		"aws:SecureTransport":         {"true"},
		"aws:CurrentTime":             {"2026-11-27T09:00:00Z"},
		"aws:EpochTime":               {"1795770000"},
		"aws:PrincipalArn":            {"arn:aws:iam::123456789012:user/alice"},
		"aws:PrincipalAccount":        {"123456789012"},
		"aws:PrincipalType":           {"User"},
		"aws:username":                {"alice"},
		"aws:userid":                  {"AIDAX"},
		"aws:RequestedRegion":         {"us-east-1"},
		"aws:UserAgent":               {"aws-cli/2.9.19"},
	}, got)
	require.Equal(t, []string{"6.6.6.6"}, service["aws:SourceIp"], "the service's map is not changed")
}
