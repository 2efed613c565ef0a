package kmsapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/kms"
)

// denied is the AccessDeniedException of AWS KMS.
func denied(principal, action, resource string) *apiError {
	return errf("AccessDeniedException", "User: %s is not authorized to perform: kms:%s on resource: %s because no resource-based policy allows the kms:%s action",
		principal, action, resource, action)
}

// serviceConditions are the KMS condition keys of a request.
func (s *Service) serviceConditions(encCtx map[string]string, extra map[string][]string) map[string][]string {
	c := map[string][]string{"kms:CallerAccount": {s.account}}
	if len(encCtx) > 0 {
		keys := make([]string, 0, len(encCtx))
		for k, v := range encCtx {
			keys = append(keys, k)
			c["kms:EncryptionContext:"+k] = []string{v}
		}
		sort.Strings(keys)
		c["kms:EncryptionContextKeys"] = keys
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// identityPolicies parses the caller's identity policies. A stored policy
// that no longer parses might hold a Deny: the caller is then denied.
func (s *Service) identityPolicies(ctx context.Context, call *edge.Call) ([]*iam.Policy, bool, error) {
	if call.Principal.IsRoot {
		return nil, true, nil
	}
	docs, err := s.policies.IdentityPolicies(ctx, call.Principal)
	if err != nil {
		return nil, false, err
	}
	out := make([]*iam.Policy, 0, len(docs))
	for _, d := range docs {
		p, err := iam.Parse(d)
		if err != nil {
			return nil, false, nil
		}
		out = append(out, p)
	}
	return out, true, nil
}

// decideKey decides kms:action on key ka for call (see the package
// documentation). It returns nil when allowed, edge.ErrAccessDenied when
// not, or another error when policies could not be read.
func (s *Service) decideKey(ctx context.Context, call *edge.Call, action string, ka *kms.KeyAccess, encCtx map[string]string, extra map[string][]string) error {
	p := call.Principal
	req := iam.Request{
		Principal:  iam.Principal{ARN: p.ARN, Account: p.Account, IsRoot: p.IsRoot},
		Action:     "kms:" + action,
		Resource:   ka.ARN,
		Conditions: edge.GlobalConditions(call, s.serviceConditions(encCtx, extra)),
	}
	keyPolicy, err := s.parsePolicy(ka.Policy)
	if err != nil {
		s.log.Error("stored key policy does not parse; denying", "key_id", ka.KeyID, "err", err)
		return edge.ErrAccessDenied
	}
	identity, ok, err := s.identityPolicies(ctx, call)
	if err != nil {
		return fmt.Errorf("kmsapi: identity policies of %s: %w", p.ARN, err)
	}
	if !ok {
		return edge.ErrAccessDenied
	}
	kp := keyPolicy.Evaluate(req)
	if kp == iam.ExplicitDeny {
		return edge.ErrAccessDenied
	}
	idAllow := p.IsRoot
	for _, pol := range identity {
		switch pol.Evaluate(req) {
		case iam.ExplicitDeny:
			return edge.ErrAccessDenied
		case iam.Allow:
			idAllow = true
		}
	}
	if kp == iam.Allow {
		return nil
	}
	// Delegation: the key policy allows the account (its root) this
	// action, so the identity policies of the account's principals count.
	if idAllow && p.Account == s.account {
		root := req
		root.Principal = iam.Principal{ARN: "arn:aws:iam::" + s.account + ":root", Account: s.account, IsRoot: true}
		if keyPolicy.Evaluate(root) == iam.Allow {
			return nil
		}
	}
	for _, g := range ka.Grants {
		if g.GranteePrincipal == p.ARN && slices.Contains(g.Operations, action) && g.Constraints.Allows(encCtx) {
			return nil
		}
	}
	return edge.ErrAccessDenied
}

// authorizeKey is decideKey as an API error.
func (s *Service) authorizeKey(c *call, action string, ka *kms.KeyAccess, encCtx map[string]string, extra map[string][]string) *apiError {
	if !slices.Contains(c.resources, ka.ARN) {
		c.resources = append(c.resources, ka.ARN)
	}
	err := s.decideKey(c.ctx, c.edge, action, ka, encCtx, extra)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, edge.ErrAccessDenied):
		return denied(c.edge.Principal.ARN, action, ka.ARN)
	}
	s.log.Error("authorization failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
	return internalError()
}

// authorizeAccount decides an operation on no key (CreateKey, ListKeys,
// ListAliases) with the caller's identity policies.
func (s *Service) authorizeAccount(c *call, action string, extra map[string][]string) *apiError {
	p := c.edge.Principal
	if p.IsRoot {
		return nil
	}
	identity, ok, err := s.identityPolicies(c.ctx, c.edge)
	if err != nil {
		s.log.Error("authorization failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
		return internalError()
	}
	req := iam.Request{
		Principal:  iam.Principal{ARN: p.ARN, Account: p.Account},
		Action:     "kms:" + action,
		Resource:   "*",
		Conditions: edge.GlobalConditions(c.edge, s.serviceConditions(nil, extra)),
	}
	if ok && iam.Decide(req, identity, nil) == iam.Allow {
		return nil
	}
	return errf("AccessDeniedException", "User: %s is not authorized to perform: kms:%s on resource: * because no identity-based policy allows the kms:%s action",
		p.ARN, action, action)
}

// access resolves a key reference for an operation, mapping its errors.
// Malformed ARNs are InvalidArnException, as AWS answers.
func (s *Service) access(c *call, ref *string, member string) (*kms.KeyAccess, *apiError) {
	if ref == nil || *ref == "" {
		return nil, errf("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	if e := checkARN(*ref); e != nil {
		return nil, e
	}
	ka, err := s.keys.Access(c.ctx, *ref)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return &ka, nil
}

// authorizedKey resolves the key that the request member names (ref) and
// authorizes action on it with the encryption context encCtx.
func (s *Service) authorizedKey(c *call, ref *string, member, action string, encCtx map[string]string) (*kms.KeyAccess, *apiError) {
	ka, e := s.access(c, ref, member)
	if e != nil {
		return nil, e
	}
	if e := s.authorizeKey(c, action, ka, encCtx, nil); e != nil {
		return nil, e
	}
	return ka, nil
}

// checkARN refuses ARNs that are not KMS key or alias ARNs.
func checkARN(ref string) *apiError {
	if !strings.HasPrefix(ref, "arn:") {
		return nil
	}
	parts := strings.SplitN(ref, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[1], "aws") || parts[2] != "kms" || parts[3] == "" || len(parts[4]) != 12 ||
		!(strings.HasPrefix(parts[5], "key/") || strings.HasPrefix(parts[5], "alias/")) {
		return errf("InvalidArnException", "%q is not a valid KMS key ARN.", truncate(ref, 256))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// efsPermissions are the key permissions EFS needs from the caller to
// encrypt a file system with a key (Amazon EFS User Guide, "Encrypting
// data at rest": kms:CreateGrant, kms:Decrypt and
// kms:GenerateDataKeyWithoutPlaintext; EFS calls KMS on the caller's
// behalf, so kms:ViaService is elasticfilesystem).
var efsPermissions = []string{"DescribeKey", "CreateGrant", "Decrypt", "GenerateDataKeyWithoutPlaintext"}

// CheckKeyUse decides whether call's principal may have EFS use the key
// named by ref for a new file system. An unknown key is not this check's
// business (nil: the control plane answers it); a denied permission
// returns an error wrapping edge.ErrAccessDenied whose message may be shown to
// the client.
func (s *Service) CheckKeyUse(ctx context.Context, call *edge.Call, ref string) error {
	if checkARN(ref) != nil {
		return nil
	}
	ka, err := s.keys.Access(ctx, ref)
	if err != nil {
		return nil
	}
	extra := map[string][]string{
		"kms:ViaService":            {"elasticfilesystem." + s.region + ".amazonaws.com"},
		"kms:GrantIsForAWSResource": {"true"},
	}
	ctxFS := map[string]string{}
	for _, action := range efsPermissions {
		err := s.decideKey(ctx, call, action, &ka, ctxFS, extra)
		if errors.Is(err, edge.ErrAccessDenied) {
			return fmt.Errorf("%w: User: %s is not authorized to perform: kms:%s on resource: %s",
				edge.ErrAccessDenied, call.Principal.ARN, action, ka.ARN)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
