package iam

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// A small vocabulary, so that random statements and requests often meet.
var (
	genActions      = []string{"svc:Read", "svc:Write", "svc:Delete", "other:Get"}
	genActionPats   = []string{"*", "svc:*", "svc:Read", "svc:W*", "other:?et", "SVC:delete", "svc:*e*"}
	genResources    = []string{"arn:aws:svc:r:111122223333:a/1", "arn:aws:svc:r:111122223333:a/2", "arn:aws:svc:r:111122223333:b/alice"}
	genResourcePats = []string{"*", "arn:aws:svc:r:111122223333:a/*", "arn:aws:svc:r:*:*/1", "arn:aws:svc:r:111122223333:b/alice",
		"arn:aws:svc:r:111122223333:b/${aws:username}", "arn:aws:svc:*", "arn:aws:svc:r:111122223333:?/2"}
	genPrincipals    = []Principal{pAlice, pBob, pCarol, pRoot, pAnon}
	genPrincipalSpec = []any{"*", map[string]any{"AWS": "*"}, map[string]any{"AWS": alice}, map[string]any{"AWS": acct},
		map[string]any{"AWS": []string{bob, rootAR}}, map[string]any{"AWS": carol}, map[string]any{"Service": "backup.amazonaws.com"}}
	genConditions = []map[string]any{
		{"StringEquals": map[string]any{"k:a": []string{"x", "y"}}},
		{"StringNotEquals": map[string]any{"k:a": "x"}},
		{"Bool": map[string]any{"aws:SecureTransport": "true"}},
		{"NumericLessThan": map[string]any{"k:n": "5"}},
		{"IpAddress": map[string]any{"aws:SourceIp": "10.0.0.0/8"}},
		{"NotIpAddress": map[string]any{"aws:SourceIp": "10.1.0.0/16"}},
		{"Null": map[string]any{"k:a": "true"}},
		{"ForAllValues:StringEquals": map[string]any{"k:m": []string{"p", "q"}}},
		{"ForAnyValue:StringLike": map[string]any{"k:m": "p*"}},
		{"StringLikeIfExists": map[string]any{"k:a": "x*"}},
		{"StringEquals": map[string]any{"k:a": "${aws:username}"}},
		{"DateLessThan": map[string]any{"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
	}
	genContextValues = map[string][]string{
		"k:a":                 {"x", "y", "z", "alice"},
		"k:n":                 {"1", "5", "9.5"},
		"aws:SecureTransport": {"true", "false"},
		"aws:SourceIp":        {"10.0.0.1", "10.1.2.3", "192.0.2.7", "2001:db8::1"},
		"k:m":                 {"p", "q", "pz", "r"},
		"aws:CurrentTime":     {"2026-01-01T00:00:00Z", "2031-01-01T00:00:00Z"},
	}
)

func genStatement(t *rapid.T, resource bool, label string) map[string]any {
	s := map[string]any{"Effect": rapid.SampledFrom([]string{"Allow", "Deny"}).Draw(t, label+"effect")}
	return fillStatement(t, s, resource, label)
}

func fillStatement(t *rapid.T, s map[string]any, resource bool, label string) map[string]any {
	actions := rapid.SliceOfNDistinct(rapid.SampledFrom(genActionPats), 1, 3, rapid.ID[string]).Draw(t, label+"actions")
	if rapid.Bool().Draw(t, label+"notAction") {
		s["NotAction"] = actions
	} else {
		s["Action"] = actions
	}
	if !resource || rapid.Bool().Draw(t, label+"hasResource") {
		res := rapid.SliceOfNDistinct(rapid.SampledFrom(genResourcePats), 1, 2, rapid.ID[string]).Draw(t, label+"resources")
		if rapid.IntRange(0, 3).Draw(t, label+"notResource") == 0 {
			s["NotResource"] = res
		} else {
			s["Resource"] = res
		}
	}
	if resource {
		spec := rapid.SampledFrom(genPrincipalSpec).Draw(t, label+"principal")
		if rapid.IntRange(0, 3).Draw(t, label+"notPrincipal") == 0 {
			s["NotPrincipal"] = spec
		} else {
			s["Principal"] = spec
		}
	}
	if n := rapid.IntRange(0, 2).Draw(t, label+"nconds"); n > 0 {
		cond := map[string]any{}
		for i := 0; i < n; i++ {
			for op, body := range rapid.SampledFrom(genConditions).Draw(t, label+"cond") {
				cond[op] = body // a repeated operator replaces the earlier one
			}
		}
		s["Condition"] = cond
	}
	return s
}

type genPolicy struct {
	doc  map[string]any
	kind Kind
}

func (g genPolicy) statements() []any { return g.doc["Statement"].([]any) }

func (g genPolicy) with(stmt map[string]any) genPolicy {
	doc := map[string]any{}
	for k, v := range g.doc {
		doc[k] = v
	}
	doc["Statement"] = append(append([]any(nil), g.statements()...), stmt)
	return genPolicy{doc: doc, kind: g.kind}
}

func (g genPolicy) parse(t *rapid.T) *Policy {
	b, err := json.Marshal(g.doc)
	require.NoError(t, err)
	p, err := ParseWith(b, Options{Kind: g.kind})
	require.NoError(t, err, "%s", b)
	return p
}

func drawPolicy(t *rapid.T, kind Kind, label string) genPolicy {
	n := rapid.IntRange(1, 4).Draw(t, label+"n")
	stmts := make([]any, n)
	for i := range stmts {
		stmts[i] = genStatement(t, kind == ResourcePolicy, label)
	}
	doc := map[string]any{"Statement": stmts}
	if rapid.IntRange(0, 4).Draw(t, label+"v2008") > 0 {
		doc["Version"] = Version2012
	}
	return genPolicy{doc: doc, kind: kind}
}

func drawRequest(t *rapid.T) Request {
	ctx := map[string][]string{}
	for key, vals := range genContextValues {
		if rapid.Bool().Draw(t, "has "+key) {
			ctx[key] = rapid.SliceOfNDistinct(rapid.SampledFrom(vals), 0, 2, rapid.ID[string]).Draw(t, key)
		}
	}
	return Request{
		Principal:  rapid.SampledFrom(genPrincipals).Draw(t, "principal"),
		Action:     rapid.SampledFrom(genActions).Draw(t, "action"),
		Resource:   rapid.SampledFrom(genResources).Draw(t, "resource"),
		Conditions: ctx,
	}
}

type genSetup struct {
	identity []genPolicy
	resource *genPolicy
}

func drawSetup(t *rapid.T) genSetup {
	var s genSetup
	for i, n := 0, rapid.IntRange(0, 3).Draw(t, "nidentity"); i < n; i++ {
		s.identity = append(s.identity, drawPolicy(t, IdentityPolicy, "id"))
	}
	if rapid.Bool().Draw(t, "hasResourcePolicy") {
		r := drawPolicy(t, ResourcePolicy, "res")
		s.resource = &r
	}
	return s
}

func (s genSetup) decide(t *rapid.T, req Request) Decision {
	var ids []*Policy
	for _, g := range s.identity {
		ids = append(ids, g.parse(t))
	}
	var res *Policy
	if s.resource != nil {
		res = s.resource.parse(t)
	}
	return Decide(req, ids, res)
}

// withStatement adds stmt to one policy of the setup: an identity policy
// (index < len(identity)) or the resource policy (created if absent).
func (s genSetup) withStatement(t *rapid.T, stmtFor func(resource bool) map[string]any) genSetup {
	out := genSetup{identity: append([]genPolicy(nil), s.identity...), resource: s.resource}
	target := rapid.IntRange(0, len(s.identity)).Draw(t, "target")
	if target < len(s.identity) {
		out.identity[target] = s.identity[target].with(stmtFor(false))
		return out
	}
	r := genPolicy{doc: map[string]any{"Statement": []any{}}, kind: ResourcePolicy}
	if s.resource != nil {
		r = *s.resource
	}
	r = r.with(stmtFor(true))
	out.resource = &r
	return out
}

// TestPropertyDenyNeverAllows: adding a Deny statement never turns a
// refusal into Allow, and changes the decision only to ExplicitDeny.
func TestPropertyDenyNeverAllows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		setup := drawSetup(t)
		req := drawRequest(t)
		before := setup.decide(t, req)
		after := setup.withStatement(t, func(resource bool) map[string]any {
			return fillStatement(t, map[string]any{"Effect": "Deny"}, resource, "extra")
		}).decide(t, req)
		if after != before {
			require.Equal(t, ExplicitDeny, after, "before %v", before)
		}
		if before != Allow {
			require.NotEqual(t, Allow, after)
		}
	})
}

// TestPropertyMatchingDenyWins: a Deny that applies to the request makes
// the decision ExplicitDeny whatever else allows it. For the root and
// anonymous callers only the resource policy applies to them.
func TestPropertyMatchingDenyWins(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		setup := drawSetup(t)
		req := drawRequest(t)
		deny := func(resource bool) map[string]any {
			s := map[string]any{"Effect": "Deny", "Action": []string{"*", req.Action}, "Resource": req.Resource}
			if resource {
				s["Principal"] = "*"
			}
			return s
		}
		var got Decision
		if req.Principal.IsRoot || req.Principal.Anonymous {
			r := genPolicy{doc: map[string]any{"Statement": []any{}}, kind: ResourcePolicy}
			if setup.resource != nil {
				r = *setup.resource
			}
			r = r.with(deny(true))
			setup.resource = &r
			got = setup.decide(t, req)
		} else {
			got = setup.withStatement(t, deny).decide(t, req)
		}
		require.Equal(t, ExplicitDeny, got)
	})
}

// TestPropertyAllowNeverOverridesDeny: adding an Allow statement never
// lifts an explicit deny.
func TestPropertyAllowNeverOverridesDeny(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		setup := drawSetup(t)
		req := drawRequest(t)
		before := setup.decide(t, req)
		after := setup.withStatement(t, func(resource bool) map[string]any {
			return fillStatement(t, map[string]any{"Effect": "Allow"}, resource, "extra")
		}).decide(t, req)
		if before == ExplicitDeny {
			require.Equal(t, ExplicitDeny, after)
		} else if before == Allow {
			require.Equal(t, Allow, after)
		}
	})
}

// TestPropertyDecideComposesEvaluate: Decide agrees with the per-policy
// evaluations, and the canonical form of each policy decides the same.
func TestPropertyDecideComposesEvaluate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		setup := drawSetup(t)
		req := drawRequest(t)
		var ids, ids2 []*Policy
		anyDeny, anyAllow := false, false
		skipIdentity := req.Principal.IsRoot || req.Principal.Anonymous
		reparse := func(p *Policy) *Policy {
			b, err := p.MarshalJSON()
			require.NoError(t, err)
			p2, err := ParseWith(b, Options{Kind: p.Kind()})
			require.NoError(t, err, "%s", b)
			return p2
		}
		for _, g := range setup.identity {
			p := g.parse(t)
			ids = append(ids, p)
			ids2 = append(ids2, reparse(p))
			if skipIdentity {
				continue
			}
			switch p.Evaluate(req) {
			case ExplicitDeny:
				anyDeny = true
			case Allow:
				anyAllow = true
			}
		}
		var res, res2 *Policy
		if setup.resource != nil {
			res = setup.resource.parse(t)
			res2 = reparse(res)
			switch res.Evaluate(req) {
			case ExplicitDeny:
				anyDeny = true
			case Allow:
				anyAllow = true
			}
		}
		want := ImplicitDeny
		switch {
		case anyDeny:
			want = ExplicitDeny
		case anyAllow || req.Principal.IsRoot && !req.Principal.Anonymous:
			want = Allow
		}
		require.Equal(t, want, Decide(req, ids, res))
		require.Equal(t, want, Decide(req, ids2, res2))
	})
}
