package iam

import (
	"errors"
	"testing"
)

// fuzzSeeds are documents the fuzzers start from: valid policies of both
// kinds with every kind of element, and near misses.
var fuzzSeeds = []string{
	DefaultFileSystemPolicy,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"elasticfilesystem:*","Resource":"*"}}`,
	`{"Version":"2012-10-17","Id":"p","Statement":[{"Sid":"A","Effect":"Deny","NotAction":["s3:Get*","iam:*"],"NotResource":"arn:aws:s3:::b/${aws:username}/*"}]}`,
	`{"Statement":[{"Sid":"x-1","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/Bob","111122223333"]},"Action":"*","Resource":"arn:aws:elasticfilesystem:*"}]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*","Service":"s.amazonaws.com"},"Action":"elasticfilesystem:Client*","Condition":{
		"StringLike":{"k:s":["a*","${aws:username}${*}"]},"NumericLessThan":{"k:n":10},"Bool":{"aws:SecureTransport":true},
		"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
		"Null":{"k:x":"true"},"BinaryEquals":{"k:b":"AAE="},"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["a","b"]},
		"ForAnyValue:ArnLikeIfExists":{"k:arn":"arn:aws:s:*:1:*"},"NotIpAddressIfExists":{"aws:SourceIp":"192.0.2.1"}}}}`,
	`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Statement":1}}`,
	`{"Statement":[]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${x"}}`,
}

// FuzzParse: parsing never panics, fails only with ErrMalformed, and what
// parses has a canonical form that parses to the same canonical form and
// the same decisions.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	req := Request{Principal: pAlice, Action: ActionClientMount, Resource: fsARN,
		Conditions: map[string][]string{"k:s": {"a"}, "aws:SecureTransport": {"true"}, "aws:SourceIp": {"10.1.1.1"}}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, kind := range []Kind{IdentityPolicy, ResourcePolicy} {
			p, err := ParseWith(doc, Options{Kind: kind})
			if err != nil {
				var pe *PolicyError
				if !errors.Is(err, ErrMalformed) || !errors.As(err, &pe) || pe.Reason == "" {
					t.Fatalf("parse error %v is not a PolicyError wrapping ErrMalformed", err)
				}
				if p != nil {
					t.Fatal("a policy returned with an error")
				}
				continue
			}
			b1, err := p.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			p2, err := ParseWith(b1, Options{Kind: kind})
			if err != nil {
				t.Fatalf("canonical form %s does not parse: %v", b1, err)
			}
			b2, _ := p2.MarshalJSON()
			if string(b1) != string(b2) {
				t.Fatalf("canonical form is not stable:\n%s\n%s", b1, b2)
			}
			for _, who := range []Principal{pAlice, pAnon, pRoot} {
				req.Principal = who
				if d1, d2 := p.Evaluate(req), p2.Evaluate(req); d1 != d2 {
					t.Fatalf("canonical form decides %v, original %v", d2, d1)
				}
			}
		}
	})
}

var (
	denyAllIdentity = mustParseF(IdentityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`)
	denyAllResource = mustParseF(ResourcePolicy, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`)
)

func mustParseF(kind Kind, doc string) *Policy {
	p, err := ParseWith([]byte(doc), Options{Kind: kind})
	if err != nil {
		panic(err)
	}
	return p
}

// FuzzEvaluate: evaluation never panics and an explicit Deny wins: with a
// deny-all policy added the decision is ExplicitDeny, for identity policies
// (except for the root and anonymous callers, whom they do not concern)
// and for resource policies.
func FuzzEvaluate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "elasticfilesystem:ClientMount", fsARN, "k:s", "a", alice, uint8(0))
		f.Add(s, "s3:GetObject", "arn:aws:s3:::b/alice/x", "aws:SourceIp", "10.0.0.1", rootAR, uint8(1))
		f.Add(s, "elasticfilesystem:ClientWrite", fsARN, "aws:SecureTransport", "true", "", uint8(2))
	}
	f.Fuzz(func(t *testing.T, doc, action, resource, key, value, arn string, flags uint8) {
		req := Request{
			Principal:  Principal{ARN: arn, IsRoot: flags&1 != 0, Anonymous: flags&2 != 0},
			Action:     action,
			Resource:   resource,
			Conditions: map[string][]string{key: {value}, "aws:TagKeys": {value, key}},
		}
		if flags&4 != 0 {
			req.Conditions[key] = nil
		}
		idp, _ := ParseWith([]byte(doc), Options{Kind: IdentityPolicy})
		rp, _ := ParseWith([]byte(doc), Options{Kind: ResourcePolicy})
		var ids []*Policy
		if idp != nil {
			ids = []*Policy{idp}
		}
		d := Decide(req, ids, rp)
		if d != Allow && d != ExplicitDeny && d != ImplicitDeny {
			t.Fatalf("decision %v", d)
		}
		if got := Decide(req, ids, denyAllResource); got != ExplicitDeny {
			t.Fatalf("deny-all resource policy: %v", got)
		}
		identityApplies := !req.Principal.IsRoot && !req.Principal.Anonymous && req.Principal.ARN != ""
		if identityApplies && idp != nil && idp.Evaluate(req) == ExplicitDeny && d != ExplicitDeny {
			t.Fatalf("identity policy denies, Decide says %v", d)
		}
		if rp != nil && rp.Evaluate(req) == ExplicitDeny && d != ExplicitDeny {
			t.Fatalf("resource policy denies, Decide says %v", d)
		}
		got := Decide(req, append(ids, denyAllIdentity), rp)
		switch {
		case identityApplies && got != ExplicitDeny:
			t.Fatalf("deny-all identity policy: %v", got)
		case !identityApplies && got != d:
			t.Fatalf("identity policies changed the decision for a root or anonymous caller: %v, then %v", d, got)
		}
	})
}
