package iam

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"statement object", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"elasticfilesystem:*","Resource":"*"}}`},
		{"statement array", IdentityPolicy, `{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"A1","Effect":"Allow","Action":["s3:Get*","s3:List?ucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::111122223333:user/*"}]}`},
		{"no version", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
		{"version 2008", IdentityPolicy, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
		{"service prefix in capitals", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"SQS:SendMessage","Resource":"*"}}`},
		{"condition typed values", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"NumericLessThanEquals":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true},"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]},
			"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:01Z"},"Null":{"aws:TokenIssueTime":"true"},"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
			"ForAnyValue:StringLike":{"aws:TagKeys":["a*"]},"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":"b"},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:1:*"}}}}`},
		{"empty condition", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}}`},
		{"resource policy principal star", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:ClientMount"}}`},
		{"resource policy principal forms", ResourcePolicy, `{"Statement":[{"Sid":"efs-statement-1","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/EfsReadOnly"]},"Action":"elasticfilesystem:ClientMount","Resource":"arn:aws:elasticfilesystem:us-east-2:111122223333:file-system/fs-12345678"},
			{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/Bob","Service":"backup.amazonaws.com"},"Action":"*"}]}`},
		{"default file-system policy", ResourcePolicy, DefaultFileSystemPolicy},
		{"variables", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/${*}","Condition":{"StringLike":{"s3:prefix":"${aws:userid, 'anonymous'}/*"}}}}`},
		{"unterminated variable in 2008 is literal", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${oops"}}`},
		{"whitespace and unicode", IdentityPolicy, "\n\t {\"Statement\" : {\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::b/\u00e9t\u00e9\"}}  \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWith([]byte(tt.doc), Options{Kind: tt.kind})
			require.NoError(t, err)
			require.Equal(t, tt.kind, p.Kind())
			assertRoundTrip(t, p)
		})
	}
}

// assertRoundTrip checks that the canonical form parses to a policy with
// the same canonical form.
func assertRoundTrip(t *testing.T, p *Policy) {
	t.Helper()
	b1, err := p.MarshalJSON()
	require.NoError(t, err)
	p2, err := ParseWith(b1, Options{Kind: p.Kind()})
	require.NoError(t, err, "%s", b1)
	b2, err := p2.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, string(b1), string(b2))
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		doc    string
		reason string // substring of the PolicyError reason
	}{
		{"empty", IdentityPolicy, ``, "ends before"},
		{"not JSON", IdentityPolicy, `{"Statement":`, "ends before"},
		{"syntax", IdentityPolicy, `{"Statement" "x"}`, "syntax error"},
		{"trailing data", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, "after the policy document"},
		{"array document", IdentityPolicy, `[]`, "must be a JSON object"},
		{"invalid UTF-8", IdentityPolicy, "{\"Id\":\"\xff\",\"Statement\":{}}", "UTF-8"},
		{"unknown top-level", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"},"Extra":1}`, `unknown element "Extra"`},
		{"lower-case element", IdentityPolicy, `{"statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, `unknown element "statement"`},
		{"bad version", IdentityPolicy, `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Version must be"},
		{"version number", IdentityPolicy, `{"Version":2012,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Version must be"},
		{"id number", IdentityPolicy, `{"Id":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Id must be a string"},
		{"no statement", IdentityPolicy, `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty statement list", IdentityPolicy, `{"Statement":[]}`, "must not be empty"},
		{"statement string", IdentityPolicy, `{"Statement":"x"}`, "object or an array"},
		{"statement element not object", IdentityPolicy, `{"Statement":[1]}`, "Statement[0] must be an object"},
		{"duplicate key top", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"},"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, `duplicate key "Statement"`},
		{"duplicate key statement", IdentityPolicy, `{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}`, `duplicate key "Effect"`},
		{"duplicate key condition", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true","aws:SecureTransport":"false"}}}}`, `duplicate key "aws:SecureTransport"`},
		{"unknown statement field", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Actions":"x"}}`, `unknown element "Actions"`},
		{"no effect", IdentityPolicy, `{"Statement":{"Action":"*","Resource":"*"}}`, "no Effect"},
		{"bad effect", IdentityPolicy, `{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, `Effect must be "Allow" or "Deny"`},
		{"effect array", IdentityPolicy, `{"Statement":{"Effect":["Allow"],"Action":"*","Resource":"*"}}`, `Effect must be`},
		{"no action", IdentityPolicy, `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "no Action or NotAction"},
		{"action and notaction", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}`, "both Action and NotAction"},
		{"empty action list", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Action must not be empty"},
		{"action number", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}`, "string or an array of strings"},
		{"action array of numbers", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":["s3:Get",5],"Resource":"*"}}`, "Action[1] must be a string"},
		{"action no colon", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}`, "is not an action"},
		{"action empty name", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"s3:","Resource":"*"}}`, "is not an action"},
		{"action wildcard service", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"s*:Get","Resource":"*"}}`, "is not an action"},
		{"action two colons", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}}`, "is not an action"},
		{"action space", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"s3:Get Object","Resource":"*"}}`, "is not an action"},
		{"identity without resource", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*"}}`, "no Resource or NotResource"},
		{"resource and notresource", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}`, "both Resource and NotResource"},
		{"resource not arn", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}`, "is not \"*\" or an ARN"},
		{"resource short arn", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws"}}`, "is not \"*\" or an ARN"},
		{"resource empty service", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws::us-east-1:1:x"}}`, "is not \"*\" or an ARN"},
		{"resource wildcard service", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:::x"}}`, "is not \"*\" or an ARN"},
		{"resource empty list", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":[]}}`, "Resource must not be empty"},
		{"unterminated variable", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username"}}`, "unterminated policy variable"},
		{"empty variable", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${}"}}`, "invalid policy variable"},
		{"bad default", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:userid, anon}"}}`, "invalid default value"},
		{"identity with principal", IdentityPolicy, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "must not have Principal"},
		{"identity with notprincipal", IdentityPolicy, `{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"*","Resource":"*"}}`, "must not have NotPrincipal"},
		{"identity sid not alnum", IdentityPolicy, `{"Statement":{"Sid":"a-b","Effect":"Allow","Action":"*","Resource":"*"}}`, "alphanumeric"},
		{"sid not string", ResourcePolicy, `{"Statement":{"Sid":1,"Effect":"Allow","Principal":"*","Action":"*"}}`, "Sid must be a string"},
		{"duplicate sid", ResourcePolicy, `{"Statement":[{"Sid":"s","Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"s","Effect":"Deny","Principal":"*","Action":"*"}]}`, "must be unique"},
		{"resource policy without principal", ResourcePolicy, `{"Statement":{"Effect":"Allow","Action":"*"}}`, "no Principal or NotPrincipal"},
		{"principal and notprincipal", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}}`, "both Principal and NotPrincipal"},
		{"principal string not star", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":"111122223333","Action":"*"}}`, "only principal written as a string"},
		{"principal empty object", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{},"Action":"*"}}`, "must not be empty"},
		{"principal unknown type", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{"User":"x"},"Action":"*"}}`, `unknown principal type "User"`},
		{"principal partial wildcard", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*"}}`, "invalid principal"},
		{"principal bad account", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"1234"},"Action":"*"}}`, "invalid principal"},
		{"principal number", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{"AWS":111122223333},"Action":"*"}}`, "string or an array"},
		{"principal array of star", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":["*"],"Action":"*"}}`, "must be \"*\" or an object"},
		{"condition not object", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}}`, "Condition must be an object"},
		{"unknown operator", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqual":{"k:s":"a"}}}}`, `unknown condition operator "StringEqual"`},
		{"operator wrong case", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"stringequals":{"k:s":"a"}}}}`, "unknown condition operator"},
		{"NullIfExists", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"k:s":"true"}}}}`, "unknown condition operator"},
		{"ForAnyValue:Null", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:Null":{"k:s":"true"}}}}`, "unknown condition operator"},
		{"bad qualifier", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"k:s":"a"}}}}`, "unknown condition operator"},
		{"operator block not object", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"a"}}}`, "object of condition keys"},
		{"operator block empty", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}}}`, "at least one condition key"},
		{"condition value null", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:s":null}}}}`, "string, number or boolean"},
		{"condition value object", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:s":{"a":"b"}}}}}`, "string, number or boolean"},
		{"condition value nested array", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:s":[["a"]]}}}}`, "string, number or boolean"},
		{"condition value empty array", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:s":[]}}}}`, "empty array"},
		{"condition key empty", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"":"a"}}}}`, "must not be empty"},
		{"numeric not a number", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"k:n":"ten"}}}}`, "is not a number"},
		{"date not a date", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}`, "not an ISO 8601 date"},
		{"bool not a bool", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}`, "not true or false"},
		{"null not a bool", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"k:s":"maybe"}}}}`, "not true or false"},
		{"ip not an ip", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}`, "not an IP address"},
		{"ip with variable", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"${k:ip}"}}}}`, "not an IP address"},
		{"binary not base64", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"k:b":"!!"}}}}`, "not base64"},
		{"condition variable unterminated", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"k:s":"${x"}}}}`, "unterminated policy variable"},
		{"too deep", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:s":[[[[[[["a"]]]]]]]}}}}`, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWith([]byte(tt.doc), Options{Kind: tt.kind})
			require.Error(t, err)
			require.Nil(t, p)
			require.ErrorIs(t, err, ErrMalformed)
			var pe *PolicyError
			require.True(t, errors.As(err, &pe))
			require.Contains(t, pe.Reason, tt.reason)
			require.True(t, strings.HasPrefix(err.Error(), "iam: malformed policy document: "), err.Error())
			msg := pe.Message()
			require.True(t, strings.HasSuffix(msg, "."), msg)
			require.NotEqual(t, strings.ToLower(msg[:1]), msg[:1], msg)
		})
	}
}

func TestParseSizeLimits(t *testing.T) {
	stmt := `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/key"}`
	build := func(n int, sep string) []byte {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = stmt
		}
		return []byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(parts, ","+sep) + `]}`)
	}

	t.Run("ParseWithLimit counts every character", func(t *testing.T) {
		doc := build(3, "")
		_, err := ParseWithLimit(doc, len(doc))
		require.NoError(t, err)
		_, err = ParseWithLimit(doc, len(doc)-1)
		require.ErrorIs(t, err, ErrTooLarge)
		var pe *PolicyError
		require.True(t, errors.As(err, &pe))
		require.Contains(t, pe.Reason, "more than the limit")
	})
	t.Run("characters, not bytes", func(t *testing.T) {
		doc := []byte(`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/` + strings.Repeat("é", 10) + `"}}`)
		n := len([]rune(string(doc)))
		_, err := ParseWithLimit(doc, n)
		require.NoError(t, err)
		_, err = ParseWithLimit(doc, n-1)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("user inline policy ignores whitespace", func(t *testing.T) {
		// 2048 non-whitespace characters pass however much whitespace.
		doc := build(1, "")
		pad := MaxUserInlinePolicyChars - len(doc)
		doc = []byte(`{"Version":"2012-10-17","Id":"` + strings.Repeat("x", pad-len(`,"Id":""`)) + `","Statement":[` + stmt + `]}`)
		require.Equal(t, MaxUserInlinePolicyChars, len(doc))
		spaced := []byte(strings.ReplaceAll(string(doc), ",", ",\n        "))
		_, err := ParseWith(spaced, UserInlinePolicyOptions)
		require.NoError(t, err)
		over := []byte(strings.Replace(string(spaced), `"Id":"`, `"Id":"x`, 1))
		_, err = ParseWith(over, UserInlinePolicyOptions)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("file-system policy counts whitespace", func(t *testing.T) {
		doc := build(1, "")
		doc = append(doc, []byte(strings.Repeat(" ", MaxFileSystemPolicyChars-len(doc)))...)
		doc = []byte(strings.Replace(string(doc), `"Effect"`, `"Principal":"*","Effect"`, 1))
		doc = doc[:MaxFileSystemPolicyChars]
		_, err := ParseWith(doc, FileSystemPolicyOptions)
		require.NoError(t, err)
		_, err = ParseWith(append(doc, ' '), FileSystemPolicyOptions)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("size is checked before syntax", func(t *testing.T) {
		_, err := ParseWithLimit([]byte(strings.Repeat("[", 100)), 10)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("unknown kind", func(t *testing.T) {
		_, err := ParseWith([]byte(`{}`), Options{Kind: 9})
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrMalformed)
	})
}

func TestParseAccessors(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Id":"x1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))
	require.NoError(t, err)
	require.Equal(t, Version2012, p.Version())
	require.Equal(t, "x1", p.ID())
	require.Equal(t, IdentityPolicy, p.Kind())
	require.Equal(t, "identity policy", p.Kind().String())
	require.Equal(t, "resource policy", ResourcePolicy.String())
}

func TestMarshalCanonical(t *testing.T) {
	doc := `{"Id":"i","Version":"2012-10-17","Statement":{"Condition":{"NumericEquals":{"k:n":10},"Bool":{"k:b":[true,"false"]}},
	 "Resource":"*","NotAction":"s3:Get*","Effect":"Deny","Principal":{"Service":"s.amazonaws.com","AWS":"*"},"Sid":"x y"}}`
	p, err := ParseResourcePolicy([]byte(doc))
	require.NoError(t, err)
	b, err := p.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `{"Version":"2012-10-17","Id":"i","Statement":[{"Sid":"x y","Effect":"Deny","Principal":{"AWS":["*"],"Service":["s.amazonaws.com"]},"NotAction":["s3:Get*"],"Resource":["*"],"Condition":{"NumericEquals":{"k:n":["10"]},"Bool":{"k:b":["true","false"]}}}]}`, string(b))
	assertRoundTrip(t, p)
}
