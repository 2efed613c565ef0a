package iam

import (
	"fmt"
	"strings"
)

// Request is what a policy is evaluated against: who asks to do what to
// which resource, and the request context.
type Request struct {
	Principal Principal
	// Action is service:Operation, e.g. "elasticfilesystem:ClientWrite";
	// matched case-insensitively.
	Action string
	// Resource is the ARN of the resource acted on; matched
	// case-sensitively.
	Resource string
	// Conditions holds the request context keys (aws:SourceIp,
	// aws:SecureTransport, elasticfilesystem:AccessPointArn, …) and their
	// values. Key names are case-insensitive. A key with no values is
	// absent. Values are strings in the form IAM uses: "true"/"false",
	// decimal numbers, RFC 3339 times or epoch seconds, IP addresses, raw
	// bytes for BinaryEquals. aws:PrincipalArn, aws:PrincipalAccount and
	// (for IAM users) aws:username are derived from Principal unless given.
	// The map is only read.
	Conditions map[string][]string
}

// Decision is the outcome of an evaluation. The zero value is
// ImplicitDeny.
type Decision uint8

const (
	// ImplicitDeny: no statement allows the request (and none denies it).
	ImplicitDeny Decision = iota
	// Allow: a statement allows the request and none denies it.
	Allow
	// ExplicitDeny: a Deny statement applies; nothing overrides it.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Allows reports whether d lets the request through.
func Allows(d Decision) bool { return d == Allow }

// Allowed reports whether d lets the request through.
func (d Decision) Allowed() bool { return d == Allow }

// Evaluate evaluates p alone against req: ExplicitDeny if a Deny statement
// applies, else Allow if an Allow statement applies, else ImplicitDeny.
// The statements of a ResourcePolicy apply only to the principals they
// name; those of an IdentityPolicy to whoever the policy is attached to.
// Evaluate applies no root bypass and evaluates an identity policy even for
// an anonymous principal: that is Decide's business.
func (p *Policy) Evaluate(req Request) Decision {
	return p.evaluate(newEvalContext(&req), p.kind == ResourcePolicy)
}

// Decide makes the authorization decision for req within one account, by
// the AWS evaluation logic (IAM User Guide, "Policy evaluation logic"):
//
//  1. An explicit Deny in any identity policy or in the resource policy
//     wins.
//  2. Otherwise the request is allowed if an identity policy allows it or
//     the resource policy allows it to this principal (same account: either
//     is enough).
//  3. Otherwise it is implicitly denied.
//
// The account root bypasses identity policies: it is allowed unless the
// resource policy explicitly denies it. An anonymous principal has no
// identity policies: only the resource policy can allow it, and only
// through Principal "*" or {"AWS": "*"}. identity holds the policies
// attached to the principal (nil entries are skipped); resource is the
// resource's policy, or nil. A statement of the resource policy without
// Principal or NotPrincipal applies to no one.
func Decide(req Request, identity []*Policy, resource *Policy) Decision {
	ctx := newEvalContext(&req)
	allowed := false
	if !ctx.principal.anonymous && !ctx.principal.root {
		for _, p := range identity {
			if p == nil {
				continue
			}
			switch p.evaluate(ctx, p.kind == ResourcePolicy) {
			case ExplicitDeny:
				return ExplicitDeny
			case Allow:
				allowed = true
			}
		}
	}
	if resource != nil {
		switch resource.evaluate(ctx, true) {
		case ExplicitDeny:
			return ExplicitDeny
		case Allow:
			allowed = true
		}
	}
	if allowed || ctx.principal.root {
		return Allow
	}
	return ImplicitDeny
}

func (p *Policy) evaluate(ctx *evalContext, asResource bool) Decision {
	d := ImplicitDeny
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(ctx, asResource) {
			continue
		}
		if !s.allow {
			return ExplicitDeny
		}
		d = Allow
	}
	return d
}

// applies reports whether statement s applies to the request: its action,
// principal (in a resource policy), resource and every condition match.
// Elements are ANDed; the values of one element are ORed, or NORed for
// NotAction, NotResource and NotPrincipal.
func (s *statement) applies(ctx *evalContext, asResource bool) bool {
	matched := false
	for i := range s.actions {
		if s.actions[i].pat.match(ctx.action) {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return false
	}
	if asResource {
		if !s.hasPrincipal || !s.principal.appliesTo(&ctx.principal, s.notPrincipal, s.allow) {
			return false
		}
	}
	if s.hasResource {
		matched = false
		for i := range s.resources {
			p, ok := s.resources[i].resolve(ctx)
			if !ok {
				return false // an unresolved variable invalidates the statement
			}
			if !matched && p.match(ctx.resource) {
				matched = true
			}
		}
		if matched == s.notResource {
			return false
		}
	}
	for i := range s.conditions {
		if ok, valid := s.conditions[i].eval(ctx); !ok || !valid {
			return false
		}
	}
	return true
}

// evalContext is a Request prepared for evaluation.
type evalContext struct {
	action    string // lower-cased
	resource  string
	principal normPrincipal
	keys      map[string][]string // lower-cased key names
}

func newEvalContext(req *Request) *evalContext {
	ctx := &evalContext{
		action:    strings.ToLower(req.Action),
		resource:  req.Resource,
		principal: normalizePrincipal(req.Principal),
		keys:      make(map[string][]string, len(req.Conditions)+3),
	}
	for k, v := range req.Conditions {
		lk := strings.ToLower(k)
		if len(v) == 0 {
			continue
		}
		if prev, dup := ctx.keys[lk]; dup {
			// The same key in two spellings: one key with both sets.
			ctx.keys[lk] = append(append([]string(nil), prev...), v...)
			continue
		}
		ctx.keys[lk] = v
	}
	p := &ctx.principal
	if !p.anonymous {
		derive := func(key, val string) {
			if _, given := ctx.keys[key]; !given && val != "" {
				ctx.keys[key] = []string{val}
			}
		}
		derive("aws:principalarn", p.arn)
		derive("aws:principalaccount", p.account)
		if !p.root {
			if parts := strings.SplitN(p.arn, ":", 6); len(parts) == 6 && parts[2] == "iam" && strings.HasPrefix(parts[5], "user/") {
				derive("aws:username", parts[5][strings.LastIndexByte(parts[5], '/')+1:])
			}
		}
	}
	return ctx
}

// values returns the values of a lower-cased key; none when absent.
func (c *evalContext) values(key string) []string { return c.keys[key] }

// variable returns the value of a policy variable. Only single-valued keys
// can be variables (IAM User Guide, single-valued vs. multivalued context
// keys).
func (c *evalContext) variable(name string) (string, bool) {
	v := c.keys[name]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// LocksOut is the lockout safety check of EFS PutFileSystemPolicy. The
// check "determines whether the policy in the request will lock out, or
// prevent, the IAM principal that is making the request from making future
// PutFileSystemPolicy requests on this file system" (EFS API reference,
// BypassPolicyLockoutSafetyCheck). It is not about NFS clients: a policy
// without ClientMount passes it.
//
// caller is the PutFileSystemPolicy request being served: its principal,
// the file system ARN as Resource and the call's condition keys; its
// Action is replaced by elasticfilesystem:PutFileSystemPolicy. identity
// holds the caller's identity policies. LocksOut reports whether, with
// policy as the file-system policy, that same request would no longer be
// allowed. The future request is assumed to come with today's context
// keys, so a condition on the time or the source address can still lock
// the caller out later. The API refuses the policy with
// InvalidPolicyException when LocksOut is true, unless the request sets
// BypassPolicyLockoutSafetyCheck.
func LocksOut(policy *Policy, caller Request, identity []*Policy) bool {
	caller.Action = ActionPutFileSystemPolicy
	return Decide(caller, identity, policy) != Allow
}
