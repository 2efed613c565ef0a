package iam

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

var testUser = Principal{ARN: "arn:aws:iam::111122223333:user/eng/alice", Account: "111122223333"}

// condTrue evaluates one condition block {op: {key: values}} in an Allow
// statement and reports whether it held. ctx nil means no keys at all.
func condTrue(t *testing.T, version, op, key string, values any, ctx map[string][]string) bool {
	t.Helper()
	doc := map[string]any{
		"Statement": map[string]any{
			"Effect":    "Allow",
			"Action":    "svc:Do",
			"Resource":  "*",
			"Condition": map[string]any{op: map[string]any{key: values}},
		},
	}
	if version != "" {
		doc["Version"] = version
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	p, err := Parse(b)
	require.NoError(t, err, "%s", b)
	d := p.Evaluate(Request{Principal: testUser, Action: "svc:Do", Resource: "arn:aws:svc:us-east-1:111122223333:thing/1", Conditions: ctx})
	require.NotEqual(t, ExplicitDeny, d)
	return d == Allow
}

func kv(key string, values ...string) map[string][]string {
	return map[string][]string{key: values}
}

func TestConditionOperators(t *testing.T) {
	bin := base64.StdEncoding.EncodeToString([]byte("\x00\x01binary"))
	tests := []struct {
		name   string
		op     string
		key    string
		values any
		ctx    map[string][]string
		want   bool
	}{
		// String operators.
		{"StringEquals match", "StringEquals", "k:s", "abc", kv("k:s", "abc"), true},
		{"StringEquals case-sensitive", "StringEquals", "k:s", "abc", kv("k:s", "ABC"), false},
		{"StringEquals star is literal", "StringEquals", "k:s", "a*", kv("k:s", "abc"), false},
		{"StringEquals literal star", "StringEquals", "k:s", "a*", kv("k:s", "a*"), true},
		{"StringEquals values ORed", "StringEquals", "k:s", []string{"x", "abc"}, kv("k:s", "abc"), true},
		{"StringEquals missing key", "StringEquals", "k:s", "abc", nil, false},
		{"StringEquals key case-insensitive", "StringEquals", "K:S", "abc", kv("k:s", "abc"), true},
		{"StringEquals number value stringified", "StringEquals", "k:s", 10, kv("k:s", "10"), true},
		{"StringEquals bool value stringified", "StringEquals", "k:s", true, kv("k:s", "true"), true},
		{"StringNotEquals differs", "StringNotEquals", "k:s", "abc", kv("k:s", "abd"), true},
		{"StringNotEquals equal", "StringNotEquals", "k:s", "abc", kv("k:s", "abc"), false},
		{"StringNotEquals values NORed", "StringNotEquals", "k:s", []string{"a", "b"}, kv("k:s", "b"), false},
		{"StringNotEquals none of values", "StringNotEquals", "k:s", []string{"a", "b"}, kv("k:s", "c"), true},
		{"StringNotEquals missing key is true", "StringNotEquals", "k:s", "abc", nil, true},
		{"StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "k:s", "AbC", kv("k:s", "aBc"), true},
		{"StringEqualsIgnoreCase differs", "StringEqualsIgnoreCase", "k:s", "AbC", kv("k:s", "aBd"), false},
		{"StringNotEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "k:s", "AbC", kv("k:s", "abc"), false},
		{"StringNotEqualsIgnoreCase differs", "StringNotEqualsIgnoreCase", "k:s", "AbC", kv("k:s", "abd"), true},
		{"StringNotEqualsIgnoreCase missing", "StringNotEqualsIgnoreCase", "k:s", "AbC", nil, true},
		{"StringLike star", "StringLike", "k:s", "home/*", kv("k:s", "home/a/b"), true},
		{"StringLike qmark", "StringLike", "k:s", "v?", kv("k:s", "v1"), true},
		{"StringLike qmark one char", "StringLike", "k:s", "v?", kv("k:s", "v12"), false},
		{"StringLike case-sensitive", "StringLike", "k:s", "Home/*", kv("k:s", "home/a"), false},
		{"StringLike empty value", "StringLike", "k:s", []string{"", "home/"}, kv("k:s", ""), true},
		{"StringLike missing", "StringLike", "k:s", "*", nil, false},
		{"StringNotLike", "StringNotLike", "k:s", "home/*", kv("k:s", "etc/x"), true},
		{"StringNotLike matches", "StringNotLike", "k:s", "home/*", kv("k:s", "home/x"), false},
		{"StringNotLike missing", "StringNotLike", "k:s", "home/*", nil, true},

		// Numeric operators.
		{"NumericEquals", "NumericEquals", "k:n", "10", kv("k:n", "10.0"), true},
		{"NumericEquals number literal", "NumericEquals", "k:n", 10, kv("k:n", "10"), true},
		{"NumericEquals differs", "NumericEquals", "k:n", "10", kv("k:n", "11"), false},
		{"NumericEquals exact big", "NumericEquals", "k:n", "9007199254740993", kv("k:n", "9007199254740992"), false},
		{"NumericEquals bad request value", "NumericEquals", "k:n", "10", kv("k:n", "ten"), false},
		{"NumericNotEquals", "NumericNotEquals", "k:n", "10", kv("k:n", "11"), true},
		{"NumericNotEquals equal", "NumericNotEquals", "k:n", "10", kv("k:n", "10"), false},
		{"NumericNotEquals missing", "NumericNotEquals", "k:n", "10", nil, true},
		{"NumericLessThan", "NumericLessThan", "k:n", "10", kv("k:n", "9.5"), true},
		{"NumericLessThan equal", "NumericLessThan", "k:n", "10", kv("k:n", "10"), false},
		{"NumericLessThan negative", "NumericLessThan", "k:n", "-1", kv("k:n", "-2"), true},
		{"NumericLessThanEquals", "NumericLessThanEquals", "k:n", "10", kv("k:n", "10"), true},
		{"NumericLessThanEquals over", "NumericLessThanEquals", "k:n", "10", kv("k:n", "10.01"), false},
		{"NumericGreaterThan", "NumericGreaterThan", "k:n", "10", kv("k:n", "11"), true},
		{"NumericGreaterThan equal", "NumericGreaterThan", "k:n", "10", kv("k:n", "10"), false},
		{"NumericGreaterThanEquals", "NumericGreaterThanEquals", "k:n", "10", kv("k:n", "10"), true},
		{"NumericGreaterThanEquals under", "NumericGreaterThanEquals", "k:n", "10", kv("k:n", "+9"), false},
		{"NumericLessThan missing", "NumericLessThan", "k:n", "10", nil, false},

		// Date operators: ISO 8601 and epoch seconds, compared as instants.
		{"DateEquals RFC3339", "DateEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2020-01-01T01:00:00+01:00"), true},
		{"DateEquals epoch", "DateEquals", "aws:EpochTime", "1577836800", kv("aws:EpochTime", "2020-01-01T00:00:00Z"), true},
		{"DateEquals date only", "DateEquals", "aws:CurrentTime", "2020-01-01", kv("aws:CurrentTime", "1577836800"), true},
		{"DateEquals fraction", "DateEquals", "aws:CurrentTime", "2020-01-01T00:00:00.5Z", kv("aws:CurrentTime", "1577836800.5"), true},
		{"DateNotEquals", "DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2020-01-02T00:00:00Z"), true},
		{"DateNotEquals equal", "DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2020-01-01T00:00:00Z"), false},
		{"DateNotEquals missing", "DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", nil, true},
		{"DateLessThan", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2019-12-31T23:59:59Z"), true},
		{"DateLessThan equal", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2020-01-01T00:00:00Z"), false},
		{"DateLessThanEquals", "DateLessThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "2020-01-01T00:00:00Z"), true},
		{"DateGreaterThan", "DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:01Z", kv("aws:CurrentTime", "2020-06-01T00:00:00Z"), true},
		{"DateGreaterThan before", "DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:01Z", kv("aws:CurrentTime", "2019-06-01T00:00:00Z"), false},
		{"DateGreaterThanEquals", "DateGreaterThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "1577836800"), true},
		{"DateLessThan bad request value", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", kv("aws:CurrentTime", "yesterday"), false},
		{"DateGreaterThan missing", "DateGreaterThan", "aws:TokenIssueTime", "2020-01-01T00:00:00Z", nil, false},

		// Bool.
		{"Bool true", "Bool", "aws:SecureTransport", "true", kv("aws:SecureTransport", "true"), true},
		{"Bool case-insensitive", "Bool", "aws:SecureTransport", "True", kv("aws:SecureTransport", "TRUE"), true},
		{"Bool JSON boolean", "Bool", "aws:SecureTransport", false, kv("aws:SecureTransport", "false"), true},
		{"Bool differs", "Bool", "aws:SecureTransport", "false", kv("aws:SecureTransport", "true"), false},
		{"Bool bad request value", "Bool", "aws:SecureTransport", "true", kv("aws:SecureTransport", "yes"), false},
		{"Bool missing", "Bool", "aws:SecureTransport", "false", nil, false},

		// BinaryEquals: policy holds base64, the request the raw bytes.
		{"BinaryEquals", "BinaryEquals", "k:b", bin, kv("k:b", "\x00\x01binary"), true},
		{"BinaryEquals differs", "BinaryEquals", "k:b", bin, kv("k:b", "binary"), false},
		{"BinaryEquals missing", "BinaryEquals", "k:b", bin, nil, false},

		// IP addresses.
		{"IpAddress in CIDR", "IpAddress", "aws:SourceIp", "203.0.113.0/24", kv("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress outside", "IpAddress", "aws:SourceIp", "203.0.113.0/24", kv("aws:SourceIp", "203.0.114.7"), false},
		{"IpAddress bare is /32", "IpAddress", "aws:SourceIp", "203.0.113.7", kv("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress bare is /32 other", "IpAddress", "aws:SourceIp", "203.0.113.7", kv("aws:SourceIp", "203.0.113.8"), false},
		{"IpAddress unmasked CIDR", "IpAddress", "aws:SourceIp", "203.0.113.9/24", kv("aws:SourceIp", "203.0.113.200"), true},
		{"IpAddress IPv6", "IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64", kv("aws:SourceIp", "2001:db8:1234:5678::1"), true},
		{"IpAddress IPv6 outside", "IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64", kv("aws:SourceIp", "2001:db8:1234:5679::1"), false},
		{"IpAddress v4-mapped request", "IpAddress", "aws:SourceIp", "127.0.0.0/8", kv("aws:SourceIp", "::ffff:127.0.1.10"), true},
		{"IpAddress mixed list", "IpAddress", "aws:SourceIp", []string{"10.0.0.0/8", "2001:db8::/32"}, kv("aws:SourceIp", "2001:db8::5"), true},
		{"IpAddress bad request value", "IpAddress", "aws:SourceIp", "0.0.0.0/0", kv("aws:SourceIp", "localhost"), false},
		{"IpAddress missing", "IpAddress", "aws:SourceIp", "0.0.0.0/0", nil, false},
		{"NotIpAddress outside", "NotIpAddress", "aws:SourceIp", "10.0.0.0/8", kv("aws:SourceIp", "192.0.2.1"), true},
		{"NotIpAddress inside", "NotIpAddress", "aws:SourceIp", "10.0.0.0/8", kv("aws:SourceIp", "10.1.2.3"), false},
		{"NotIpAddress missing", "NotIpAddress", "aws:SourceIp", "10.0.0.0/8", nil, true},

		// ARN operators compare the six components separately.
		{"ArnEquals", "ArnEquals", "aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic", kv("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic"), true},
		{"ArnEquals wildcard", "ArnEquals", "aws:SourceArn", "arn:aws:sns:*:111122223333:*", kv("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic"), true},
		{"ArnLike component-wise", "ArnLike", "aws:SourceArn", "arn:aws:someservice:*:111122223333:finance/*",
			kv("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), false},
		{"StringLike spans components", "StringLike", "aws:SourceArn", "arn:aws:someservice:*:111122223333:finance/*",
			kv("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), true},
		{"ArnLike resource with colons", "ArnLike", "aws:SourceArn", "arn:aws:s:r:1:a:*", kv("aws:SourceArn", "arn:aws:s:r:1:a:b:c"), true},
		{"ArnLike star matches any", "ArnLike", "aws:SourceArn", "*", kv("aws:SourceArn", "arn:aws:s:r:1:a:b"), true},
		{"ArnLike short pattern matches whole", "ArnLike", "aws:SourceArn", "arn:aws:sns:*", kv("aws:SourceArn", "arn:aws:sns:us-east-1:1:t"), true},
		{"ArnLike short pattern other service", "ArnLike", "aws:SourceArn", "arn:aws:sns:*", kv("aws:SourceArn", "arn:aws:sqs:us-east-1:1:q"), false},
		{"ArnNotLike star", "ArnNotLike", "aws:SourceArn", "*", kv("aws:SourceArn", "x"), false},
		{"ArnLike not an ARN", "ArnLike", "aws:SourceArn", "arn:aws:s:r:1:*", kv("aws:SourceArn", "not-an-arn"), false},
		{"ArnLike case-sensitive", "ArnLike", "aws:SourceArn", "arn:aws:s:r:1:Thing", kv("aws:SourceArn", "arn:aws:s:r:1:thing"), false},
		{"ArnNotEquals", "ArnNotEquals", "aws:SourceArn", "arn:aws:s:r:1:a", kv("aws:SourceArn", "arn:aws:s:r:1:b"), true},
		{"ArnNotLike matches", "ArnNotLike", "aws:SourceArn", "arn:aws:s:r:1:*", kv("aws:SourceArn", "arn:aws:s:r:1:b"), false},
		{"ArnNotLike missing", "ArnNotLike", "aws:SourceArn", "arn:aws:s:r:1:*", nil, true},

		// Null tests presence.
		{"Null true absent", "Null", "aws:TokenIssueTime", "true", nil, true},
		{"Null true present", "Null", "aws:TokenIssueTime", "true", kv("aws:TokenIssueTime", "2020-01-01T00:00:00Z"), false},
		{"Null false present", "Null", "aws:TokenIssueTime", "false", kv("aws:TokenIssueTime", "x"), true},
		{"Null false absent", "Null", "aws:TokenIssueTime", "false", nil, false},
		{"Null empty value list is absent", "Null", "k:s", "true", map[string][]string{"k:s": {}}, true},
		{"Null JSON boolean", "Null", "k:s", true, nil, true},

		// ...IfExists: true when absent, the operator otherwise.
		{"StringEqualsIfExists absent", "StringEqualsIfExists", "k:s", "a", nil, true},
		{"StringEqualsIfExists present match", "StringEqualsIfExists", "k:s", "a", kv("k:s", "a"), true},
		{"StringEqualsIfExists present differs", "StringEqualsIfExists", "k:s", "a", kv("k:s", "b"), false},
		{"StringNotEqualsIfExists absent", "StringNotEqualsIfExists", "k:s", "a", nil, true},
		{"StringNotEqualsIfExists equal", "StringNotEqualsIfExists", "k:s", "a", kv("k:s", "a"), false},
		{"StringLikeIfExists", "StringLikeIfExists", "ec2:InstanceType", []string{"t1.*", "t2.*"}, kv("ec2:InstanceType", "m5.large"), false},
		{"NumericLessThanIfExists absent", "NumericLessThanIfExists", "k:n", "1", nil, true},
		{"NumericLessThanIfExists present", "NumericLessThanIfExists", "k:n", "1", kv("k:n", "2"), false},
		{"DateGreaterThanIfExists absent", "DateGreaterThanIfExists", "k:d", "2020-01-01", nil, true},
		{"BoolIfExists absent", "BoolIfExists", "aws:MultiFactorAuthPresent", "false", nil, true},
		{"BoolIfExists present", "BoolIfExists", "aws:MultiFactorAuthPresent", "false", kv("aws:MultiFactorAuthPresent", "true"), false},
		{"BinaryEqualsIfExists absent", "BinaryEqualsIfExists", "k:b", bin, nil, true},
		{"IpAddressIfExists absent", "IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", nil, true},
		{"IpAddressIfExists outside", "IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", kv("aws:SourceIp", "192.0.2.1"), false},
		{"NotIpAddressIfExists inside", "NotIpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", kv("aws:SourceIp", "10.0.0.1"), false},
		{"ArnLikeIfExists absent", "ArnLikeIfExists", "aws:SourceArn", "arn:aws:s:r:1:*", nil, true},
		{"ArnNotLikeIfExists present match", "ArnNotLikeIfExists", "aws:SourceArn", "arn:aws:s:r:1:*", kv("aws:SourceArn", "arn:aws:s:r:1:x"), false},

		// Multivalued request keys without a set qualifier.
		{"StringEquals multivalued any", "StringEquals", "aws:TagKeys", "a", kv("aws:TagKeys", "b", "a"), true},
		{"StringNotEquals multivalued none", "StringNotEquals", "aws:TagKeys", "a", kv("aws:TagKeys", "b", "a"), false},
		{"StringNotEquals multivalued all differ", "StringNotEquals", "aws:TagKeys", "a", kv("aws:TagKeys", "b", "c"), true},

		// ForAnyValue / ForAllValues.
		{"ForAnyValue one matches", "ForAnyValue:StringEquals", "aws:TagKeys", []string{"ID", "PostDateTime"}, kv("aws:TagKeys", "UserName", "Message", "PostDateTime"), true},
		{"ForAnyValue none matches", "ForAnyValue:StringEquals", "aws:TagKeys", []string{"ID", "PostDateTime"}, kv("aws:TagKeys", "UserName"), false},
		{"ForAnyValue missing", "ForAnyValue:StringEquals", "aws:TagKeys", "a", nil, false},
		{"ForAnyValue empty set", "ForAnyValue:StringEquals", "aws:TagKeys", "a", map[string][]string{"aws:TagKeys": {}}, false},
		{"ForAnyValue empty string", "ForAnyValue:StringLike", "aws:TagKeys", "*", kv("aws:TagKeys", ""), false},
		{"ForAllValues all in list", "ForAllValues:StringLike", "k:attrs", []string{"PostDateTime", "Message", "Tags"}, kv("k:attrs", "PostDateTime", "Message"), true},
		{"ForAllValues one outside", "ForAllValues:StringLike", "k:attrs", []string{"PostDateTime", "Message", "Tags"}, kv("k:attrs", "PostDateTime", "UserName"), false},
		{"ForAllValues missing is true", "ForAllValues:StringEquals", "k:attrs", "a", nil, true},
		{"ForAllValues empty set is true", "ForAllValues:StringEquals", "k:attrs", "a", map[string][]string{"k:attrs": {}}, true},
		{"ForAllValues empty string is true", "ForAllValues:StringEquals", "k:attrs", "a", kv("k:attrs", ""), true},
		{"ForAnyValue:StringNotEquals some outside", "ForAnyValue:StringNotEquals", "aws:TagKeys", []string{"a", "b"}, kv("aws:TagKeys", "a", "z"), true},
		{"ForAnyValue:StringNotEquals all inside", "ForAnyValue:StringNotEquals", "aws:TagKeys", []string{"a", "b"}, kv("aws:TagKeys", "a", "b"), false},
		{"ForAllValues:StringNotEquals none inside", "ForAllValues:StringNotEquals", "aws:TagKeys", []string{"a", "b"}, kv("aws:TagKeys", "x", "y"), true},
		{"ForAllValues:StringNotEquals one inside", "ForAllValues:StringNotEquals", "aws:TagKeys", []string{"a", "b"}, kv("aws:TagKeys", "x", "b"), false},
		{"ForAllValues:StringNotEquals missing", "ForAllValues:StringNotEquals", "aws:TagKeys", "a", nil, true},
		{"ForAnyValue:StringNotEquals missing", "ForAnyValue:StringNotEquals", "aws:TagKeys", "a", nil, false},
		{"ForAnyValue IfExists missing", "ForAnyValue:StringEqualsIfExists", "aws:TagKeys", "a", nil, true},
		{"ForAllValues:NumericLessThan", "ForAllValues:NumericLessThan", "k:n", "10", kv("k:n", "1", "2", "9"), true},
		{"ForAnyValue:IpAddress", "ForAnyValue:IpAddress", "k:ips", "10.0.0.0/8", kv("k:ips", "192.0.2.1", "10.9.9.9"), true},
		{"ForAllValues:ArnLike", "ForAllValues:ArnLike", "k:arns", "arn:aws:s:*:1:*", kv("k:arns", "arn:aws:s:r1:1:a", "arn:aws:s:r2:2:a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, condTrue(t, Version2012, tt.op, tt.key, tt.values, tt.ctx))
		})
	}
}

func TestConditionBlockLogic(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
	 "Condition":{
	   "StringEquals":{"aws:PrincipalTag/department":["finance","hr"],"aws:PrincipalTag/role":["audit","security"]},
	   "ArnLike":{"aws:PrincipalArn":["arn:aws:iam::222222222222:user/Ana","arn:aws:iam::222222222222:user/Mary"]}}}}`
	p, err := Parse([]byte(doc))
	require.NoError(t, err)
	base := map[string][]string{
		"aws:PrincipalTag/department": {"hr"},
		"aws:PrincipalTag/role":       {"audit"},
		"aws:PrincipalArn":            {"arn:aws:iam::222222222222:user/Mary"},
	}
	eval := func(mod func(map[string][]string)) Decision {
		ctx := map[string][]string{}
		for k, v := range base {
			ctx[k] = v
		}
		mod(ctx)
		return p.Evaluate(Request{Principal: testUser, Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Conditions: ctx})
	}
	require.Equal(t, Allow, eval(func(map[string][]string) {}), "all keys match (values ORed)")
	require.Equal(t, ImplicitDeny, eval(func(m map[string][]string) { delete(m, "aws:PrincipalTag/role") }), "keys of one operator are ANDed")
	require.Equal(t, ImplicitDeny, eval(func(m map[string][]string) { m["aws:PrincipalArn"] = []string{"arn:aws:iam::222222222222:user/Bob"} }), "operators are ANDed")
}

func TestPolicyVariablesInConditions(t *testing.T) {
	ctx := map[string][]string{"aws:username": {"alice"}, "s3:prefix": {"home/alice/docs"}}
	require.True(t, condTrue(t, Version2012, "StringLike", "s3:prefix", "home/${aws:username}/*", ctx))
	require.False(t, condTrue(t, Version2012, "StringLike", "s3:prefix", "home/${aws:username}/*", map[string][]string{"aws:username": {"bob"}, "s3:prefix": {"home/alice/docs"}}))
	// 2008-10-17 (or no Version): variables are literal text.
	require.False(t, condTrue(t, "", "StringLike", "s3:prefix", "home/${aws:username}/*", ctx))
	require.True(t, condTrue(t, "", "StringLike", "s3:prefix", "home/${aws:username}/*", kv("s3:prefix", "home/${aws:username}/x")))
	// The substituted value is literal: a '*' in it is no wildcard.
	require.False(t, condTrue(t, Version2012, "StringLike", "s3:prefix", "home/${aws:username}", map[string][]string{"aws:username": {"*"}, "s3:prefix": {"home/alice"}}))
	// Special characters.
	require.True(t, condTrue(t, Version2012, "StringLike", "k:s", "a${*}b${?}c${$}", kv("k:s", "a*b?c$")))
	require.False(t, condTrue(t, Version2012, "StringLike", "k:s", "a${*}b", kv("k:s", "axxb")))
	// Unresolved variable invalidates the statement, even for a negated operator.
	require.False(t, condTrue(t, Version2012, "StringNotEquals", "k:s", "${aws:userid}", kv("k:s", "x")))
	// Default value.
	require.True(t, condTrue(t, Version2012, "StringEquals", "k:s", "${aws:userid, 'anonymous'}", kv("k:s", "anonymous")))
	// Derived from the principal: aws:username and aws:PrincipalArn.
	require.True(t, condTrue(t, Version2012, "StringEquals", "k:s", "${aws:username}", kv("k:s", "alice")))
	require.True(t, condTrue(t, Version2012, "ArnEquals", "aws:PrincipalArn", "arn:aws:iam::${aws:PrincipalAccount}:user/eng/*", nil))
	require.True(t, condTrue(t, Version2012, "ArnEquals", "k:a", "${aws:PrincipalArn}", kv("k:a", testUser.ARN)))
	// Multivalued keys are not variables.
	require.False(t, condTrue(t, Version2012, "StringEquals", "k:s", "${k:multi}", map[string][]string{"k:multi": {"a", "b"}, "k:s": {"a"}}))
	// Bool takes variables.
	require.True(t, condTrue(t, Version2012, "Bool", "aws:SecureTransport", "${k:want}", map[string][]string{"k:want": {"true"}, "aws:SecureTransport": {"true"}}))
}

func TestParseNumberAndDate(t *testing.T) {
	for _, s := range []string{"0", "-1", "+2", "3.25", "007"} {
		_, ok := parseNumber(s)
		require.True(t, ok, s)
	}
	for _, s := range []string{"", "-", "1.", ".5", "1e3", "0x10", "1/2", "--1", "+-1", "1.2.3", "NaN", "Inf"} {
		_, ok := parseNumber(s)
		require.False(t, ok, s)
	}
	for _, s := range []string{"2020-01", "2020-01-02", "2020-01-02T03:04Z", "2020-01-02T03:04:05+02:00", "2020-01-02T03:04:05.123Z", "2020-01-02T03:04:05", "0", "1577836800", "-1", "1.5"} {
		_, ok := parseDate(s)
		require.True(t, ok, s)
	}
	for _, s := range []string{"", "yesterday", "2020-13-01", "2020-01-02 03:04:05", "99999999999999999999", "1.", "1e9"} {
		_, ok := parseDate(s)
		require.False(t, ok, s)
	}
}
