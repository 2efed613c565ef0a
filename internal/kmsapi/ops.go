package kmsapi

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/edge/jsonapi"
	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/kms"
)

var handlers = &jsonapi.Table[handler]{Prefixes: []string{targetPrefix}, Ops: map[string]jsonapi.Op[handler]{
	"CreateKey":                       {Fn: (*Service).createKey},
	"DescribeKey":                     {Fn: (*Service).describeKey, ReadOnly: true},
	"ListKeys":                        {Fn: (*Service).listKeys, ReadOnly: true},
	"EnableKey":                       {Fn: (*Service).enableKey},
	"DisableKey":                      {Fn: (*Service).disableKey},
	"ScheduleKeyDeletion":             {Fn: (*Service).scheduleKeyDeletion},
	"CancelKeyDeletion":               {Fn: (*Service).cancelKeyDeletion},
	"UpdateKeyDescription":            {Fn: (*Service).updateKeyDescription},
	"CreateAlias":                     {Fn: (*Service).createAlias},
	"UpdateAlias":                     {Fn: (*Service).updateAlias},
	"DeleteAlias":                     {Fn: (*Service).deleteAlias},
	"ListAliases":                     {Fn: (*Service).listAliases, ReadOnly: true},
	"EnableKeyRotation":               {Fn: (*Service).enableKeyRotation},
	"DisableKeyRotation":              {Fn: (*Service).disableKeyRotation},
	"GetKeyRotationStatus":            {Fn: (*Service).getKeyRotationStatus, ReadOnly: true},
	"RotateKeyOnDemand":               {Fn: (*Service).rotateKeyOnDemand},
	"GetKeyPolicy":                    {Fn: (*Service).getKeyPolicy, ReadOnly: true},
	"PutKeyPolicy":                    {Fn: (*Service).putKeyPolicy},
	"ListKeyPolicies":                 {Fn: (*Service).listKeyPolicies, ReadOnly: true},
	"CreateGrant":                     {Fn: (*Service).createGrant},
	"ListGrants":                      {Fn: (*Service).listGrants, ReadOnly: true},
	"RetireGrant":                     {Fn: (*Service).retireGrant},
	"RevokeGrant":                     {Fn: (*Service).revokeGrant},
	"Encrypt":                         {Fn: (*Service).encrypt, ReadOnly: true},
	"Decrypt":                         {Fn: (*Service).decrypt, ReadOnly: true},
	"GenerateDataKey":                 {Fn: (*Service).generateDataKey, ReadOnly: true},
	"GenerateDataKeyWithoutPlaintext": {Fn: (*Service).generateDataKeyWithoutPlaintext, ReadOnly: true},
	"ReEncrypt":                       {Fn: (*Service).reEncrypt, ReadOnly: true},
	"GenerateRandom":                  {Fn: (*Service).generateRandom, ReadOnly: true},
	"TagResource":                     {Fn: (*Service).tagResource},
	"UntagResource":                   {Fn: (*Service).untagResource},
	"ListResourceTags":                {Fn: (*Service).listResourceTags, ReadOnly: true},
}}

// Operations lists the supported operations, sorted.
func Operations() []string {
	return slices.Sorted(maps.Keys(handlers.Ops))
}

func validation(member, constraint string) *apiError {
	return errf("ValidationException", "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, constraint)
}

// checkSymmetric refuses key specs and algorithms shelf does not make.
func checkSymmetric(c *call) *apiError {
	in := &c.in
	if v := deref(in.KeyUsage); v != "" && v != kms.KeyUsageEncryptDecrypt {
		return errf("UnsupportedOperationException", "Only KeyUsage ENCRYPT_DECRYPT is supported.")
	}
	for _, v := range []string{deref(in.KeySpec), deref(in.CustomerMasterKeySpec)} {
		if v != "" && v != kms.KeySpecSymmetricDefault && c.op == "CreateKey" {
			return errf("UnsupportedOperationException", "Only the key spec SYMMETRIC_DEFAULT is supported.")
		}
	}
	if v := deref(in.Origin); v != "" && v != kms.OriginAWSKMS {
		return errf("UnsupportedOperationException", "Only the origin AWS_KMS is supported.")
	}
	if deref(in.MultiRegion) {
		return errf("UnsupportedOperationException", "Multi-Region keys are not supported.")
	}
	for _, v := range []*string{in.EncryptionAlgorithm, in.SourceEncryptionAlgorithm, in.DestinationEncryptionAlgorithm} {
		if v != nil && *v != kms.EncryptionAlgorithmSymmetricDefault {
			return validation("encryptionAlgorithm", "Member must satisfy enum value set: [SYMMETRIC_DEFAULT]")
		}
	}
	return nil
}

func tagMap(tags []tag) (map[string]string, *apiError) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t.TagKey] = t.TagValue
	}
	if len(out) != len(tags) {
		return nil, errf("TagException", "The tag keys must be unique.")
	}
	return out, nil
}

// validatePolicy parses a key policy document for CreateKey and
// PutKeyPolicy, and applies the lockout safety check: unless bypassed, the
// caller must keep the right to PutKeyPolicy on the key.
func (s *Service) validatePolicy(c *call, doc, keyARN string) *apiError {
	p, err := s.parsePolicy(doc)
	if err != nil {
		msg := "The key policy is not valid."
		var pe *iam.PolicyError
		if errors.As(err, &pe) {
			msg = "The key policy is not valid: " + pe.Message()
		}
		return errf("MalformedPolicyDocumentException", "%s", msg)
	}
	if deref(c.in.BypassPolicyLockoutSafetyCheck) {
		return nil
	}
	ka := &kms.KeyAccess{ARN: keyARN, Policy: doc}
	_ = p
	if err := s.decideKey(c.ctx, c.edge, "PutKeyPolicy", ka, nil, nil); err != nil {
		return errf("MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

func (s *Service) createKey(c *call) (any, *apiError) {
	if e := checkSymmetric(c); e != nil {
		return nil, e
	}
	tags, e := tagMap(c.in.Tags)
	if e != nil {
		return nil, e
	}
	if e := s.authorizeAccount(c, "CreateKey", nil); e != nil {
		return nil, e
	}
	policy := deref(c.in.Policy)
	if c.in.Policy != nil {
		if len(policy) == 0 || len(policy) > kms.MaxKeyPolicyBytes {
			return nil, validation("policy", "Member must have length between 1 and 32768")
		}
		if e := s.validatePolicy(c, policy, "arn:aws:kms:"+s.region+":"+s.account+":key/*"); e != nil {
			return nil, e
		}
	}
	md, err := s.keys.CreateKey(c.ctx, kms.CreateKeyInput{Description: deref(c.in.Description), Tags: tags, Policy: policy})
	if err != nil {
		return nil, s.mapError(c, err)
	}
	c.resources = append(c.resources, md.ARN)
	out := map[string]any{"KeyMetadata": metadataWire(md)}
	c.response = out
	return out, nil
}

func (s *Service) describeKey(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "DescribeKey", nil)
	if e != nil {
		return nil, e
	}
	md, err := s.keys.DescribeKey(c.ctx, ka.KeyID)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return map[string]any{"KeyMetadata": metadataWire(md)}, nil
}

// page applies Limit (1 to 1000, default 100) and Marker (an index in
// decimal) to n items.
func page(c *call, n int) (lo, hi int, next string, e *apiError) {
	limit := 100
	if c.in.Limit != nil {
		if *c.in.Limit < 1 || *c.in.Limit > 1000 {
			return 0, 0, "", validation("limit", "Member must have value between 1 and 1000")
		}
		limit = *c.in.Limit
	}
	if m := deref(c.in.Marker); m != "" {
		v, err := strconv.Atoi(m)
		if err != nil || v < 0 || v > n {
			return 0, 0, "", errf("InvalidMarkerException", "The marker is not valid.")
		}
		lo = v
	}
	hi = min(lo+limit, n)
	if hi < n {
		next = strconv.Itoa(hi)
	}
	return lo, hi, next, nil
}

func pageOut(out map[string]any, next string) map[string]any {
	out["Truncated"] = next != ""
	if next != "" {
		out["NextMarker"] = next
	}
	return out
}

func (s *Service) listKeys(c *call) (any, *apiError) {
	if e := s.authorizeAccount(c, "ListKeys", nil); e != nil {
		return nil, e
	}
	keys, err := s.keys.ListKeys(c.ctx)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	lo, hi, next, e := page(c, len(keys))
	if e != nil {
		return nil, e
	}
	list := make([]map[string]string, 0, hi-lo)
	for _, k := range keys[lo:hi] {
		list = append(list, map[string]string{"KeyId": k.KeyID, "KeyArn": k.KeyARN})
	}
	return pageOut(map[string]any{"Keys": list}, next), nil
}

// keyOp is an operation on one key that returns nothing.
func (s *Service) keyOp(c *call, action string, fn func(id string) error) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", action, nil)
	if e != nil {
		return nil, e
	}
	if err := fn(ka.KeyID); err != nil {
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) enableKey(c *call) (any, *apiError) {
	return s.keyOp(c, "EnableKey", func(id string) error { return s.keys.EnableKey(c.ctx, id) })
}

func (s *Service) disableKey(c *call) (any, *apiError) {
	return s.keyOp(c, "DisableKey", func(id string) error { return s.keys.DisableKey(c.ctx, id) })
}

func (s *Service) updateKeyDescription(c *call) (any, *apiError) {
	if c.in.Description == nil {
		return nil, validation("description", "Member must not be null")
	}
	return s.keyOp(c, "UpdateKeyDescription", func(id string) error { return s.keys.UpdateKeyDescription(c.ctx, id, *c.in.Description) })
}

func (s *Service) scheduleKeyDeletion(c *call) (any, *apiError) {
	days := deref(c.in.PendingWindowInDays)
	if c.in.PendingWindowInDays != nil && (days < kms.MinPendingWindowDays || days > kms.MaxPendingWindowDays) {
		return nil, validation("pendingWindowInDays", "Member must have value between 7 and 30")
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "ScheduleKeyDeletion", nil)
	if e != nil {
		return nil, e
	}
	md, err := s.keys.ScheduleKeyDeletion(c.ctx, ka.KeyID, days)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	out := map[string]any{"KeyId": md.ARN, "DeletionDate": ts(md.DeletionDate), "KeyState": string(md.KeyState),
		"PendingWindowInDays": md.PendingDeletionWindowInDays}
	c.response = out
	return out, nil
}

func (s *Service) cancelKeyDeletion(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "CancelKeyDeletion", nil)
	if e != nil {
		return nil, e
	}
	md, err := s.keys.CancelKeyDeletion(c.ctx, ka.KeyID)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	out := map[string]any{"KeyId": md.ARN}
	c.response = out
	return out, nil
}

func aliasName(c *call) (string, *apiError) {
	n := deref(c.in.AliasName)
	if n == "" {
		return "", validation("aliasName", "Member must not be null")
	}
	if len(n) > 256 || !strings.HasPrefix(n, "alias/") {
		return "", errf("ValidationException", "Alias must start with the prefix \"alias/\" and be at most 256 characters.")
	}
	return n, nil
}

func (s *Service) createAlias(c *call) (any, *apiError) {
	name, e := aliasName(c)
	if e != nil {
		return nil, e
	}
	ka, e := s.authorizedKey(c, c.in.TargetKeyID, "targetKeyId", "CreateAlias", nil)
	if e != nil {
		return nil, e
	}
	if err := s.keys.CreateAlias(c.ctx, name, ka.KeyID); err != nil {
		if errors.Is(err, kms.ErrInvalidArgument) {
			return nil, errf("InvalidAliasNameException", "%s", clientMessage(err, "The alias name is not valid."))
		}
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) updateAlias(c *call) (any, *apiError) {
	name, e := aliasName(c)
	if e != nil {
		return nil, e
	}
	ka, e := s.access(c, c.in.TargetKeyID, "targetKeyId")
	if e != nil {
		return nil, e
	}
	// The key the alias points at now must allow it too.
	if cur, err := s.keys.Access(c.ctx, name); err == nil {
		if e := s.authorizeKey(c, "UpdateAlias", &cur, nil, nil); e != nil {
			return nil, e
		}
	}
	if e := s.authorizeKey(c, "UpdateAlias", ka, nil, nil); e != nil {
		return nil, e
	}
	if err := s.keys.UpdateAlias(c.ctx, name, ka.KeyID); err != nil {
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) deleteAlias(c *call) (any, *apiError) {
	name, e := aliasName(c)
	if e != nil {
		return nil, e
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return nil, errf("NotFoundException", "Alias %s is reserved for an AWS managed key and cannot be deleted.", name)
	}
	if _, e := s.authorizedKey(c, &name, "aliasName", "DeleteAlias", nil); e != nil {
		return nil, e
	}
	if err := s.keys.DeleteAlias(c.ctx, name); err != nil {
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) listAliases(c *call) (any, *apiError) {
	var filter string
	if c.in.KeyID != nil {
		ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "ListAliases", nil)
		if e != nil {
			return nil, e
		}
		filter = ka.KeyID
	} else if e := s.authorizeAccount(c, "ListAliases", nil); e != nil {
		return nil, e
	}
	// Like AWS, list the predefined alias of the managed key even before
	// the key exists: creating it on first listing keeps both views equal.
	if _, err := s.keys.ManagedKey(c.ctx); err != nil {
		return nil, s.mapError(c, err)
	}
	aliases, err := s.keys.ListAliases(c.ctx)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	if filter != "" {
		aliases = slices.DeleteFunc(aliases, func(a kms.Alias) bool { return a.TargetKeyID != filter })
	}
	lo, hi, next, e := page(c, len(aliases))
	if e != nil {
		return nil, e
	}
	list := make([]map[string]any, 0, hi-lo)
	for _, a := range aliases[lo:hi] {
		list = append(list, map[string]any{"AliasName": a.AliasName, "AliasArn": a.AliasARN, "TargetKeyId": a.TargetKeyID,
			"CreationDate": ts(a.CreationDate), "LastUpdatedDate": ts(a.LastUpdatedDate)})
	}
	return pageOut(map[string]any{"Aliases": list}, next), nil
}

func (s *Service) enableKeyRotation(c *call) (any, *apiError) {
	if p := c.in.RotationPeriodInDays; p != nil && *p != kms.RotationPeriodDays {
		return nil, errf("UnsupportedOperationException", "Only a rotation period of %d days is supported.", kms.RotationPeriodDays)
	}
	return s.keyOp(c, "EnableKeyRotation", func(id string) error { return s.keys.EnableKeyRotation(c.ctx, id) })
}

func (s *Service) disableKeyRotation(c *call) (any, *apiError) {
	return s.keyOp(c, "DisableKeyRotation", func(id string) error { return s.keys.DisableKeyRotation(c.ctx, id) })
}

func (s *Service) getKeyRotationStatus(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "GetKeyRotationStatus", nil)
	if e != nil {
		return nil, e
	}
	st, err := s.keys.GetKeyRotationStatus(c.ctx, ka.KeyID)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	out := map[string]any{"KeyId": ka.ARN, "KeyRotationEnabled": st.KeyRotationEnabled}
	if st.KeyRotationEnabled {
		out["RotationPeriodInDays"] = st.RotationPeriodInDays
		out["NextRotationDate"] = ts(st.NextRotationDate)
	}
	return out, nil
}

func (s *Service) rotateKeyOnDemand(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "RotateKeyOnDemand", nil)
	if e != nil {
		return nil, e
	}
	if err := s.keys.RotateKey(c.ctx, ka.KeyID); err != nil {
		return nil, s.mapError(c, err)
	}
	out := map[string]any{"KeyId": ka.KeyID}
	c.response = out
	return out, nil
}

func policyName(c *call) *apiError {
	if n := c.in.PolicyName; n != nil && *n != "default" {
		return errf("NotFoundException", "The key has no policy named %q; its only policy is \"default\".", truncate(*n, 128))
	}
	return nil
}

func (s *Service) getKeyPolicy(c *call) (any, *apiError) {
	if e := policyName(c); e != nil {
		return nil, e
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "GetKeyPolicy", nil)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Policy": ka.Policy, "PolicyName": "default"}, nil
}

func (s *Service) listKeyPolicies(c *call) (any, *apiError) {
	if _, e := s.authorizedKey(c, c.in.KeyID, "keyId", "ListKeyPolicies", nil); e != nil {
		return nil, e
	}
	return map[string]any{"PolicyNames": []string{"default"}, "Truncated": false}, nil
}

func (s *Service) putKeyPolicy(c *call) (any, *apiError) {
	if e := policyName(c); e != nil {
		return nil, e
	}
	doc := deref(c.in.Policy)
	if len(doc) == 0 || len(doc) > kms.MaxKeyPolicyBytes {
		return nil, validation("policy", "Member must have length between 1 and 32768")
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "PutKeyPolicy", nil)
	if e != nil {
		return nil, e
	}
	if ka.KeyManager == kms.KeyManagerAWS {
		return nil, s.mapError(c, s.keys.PutKeyPolicy(c.ctx, ka.KeyID, doc))
	}
	if e := s.validatePolicy(c, doc, ka.ARN); e != nil {
		return nil, e
	}
	if err := s.keys.PutKeyPolicy(c.ctx, ka.KeyID, doc); err != nil {
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) createGrant(c *call) (any, *apiError) {
	in := &c.in
	if deref(in.GranteePrincipal) == "" {
		return nil, validation("granteePrincipal", "Member must not be null")
	}
	if len(in.Operations) == 0 {
		return nil, validation("operations", "Member must not be null")
	}
	ka, e := s.access(c, in.KeyID, "keyId")
	if e != nil {
		return nil, e
	}
	extra := map[string][]string{"kms:GrantOperations": in.Operations, "kms:GranteePrincipal": {*in.GranteePrincipal}}
	if in.RetiringPrincipal != nil {
		extra["kms:RetiringPrincipal"] = []string{*in.RetiringPrincipal}
	}
	if e := s.authorizeKey(c, "CreateGrant", ka, nil, extra); e != nil {
		return nil, e
	}
	gi := kms.CreateGrantInput{GranteePrincipal: *in.GranteePrincipal, RetiringPrincipal: deref(in.RetiringPrincipal),
		Operations: in.Operations, Name: deref(in.Name)}
	if in.Constraints != nil {
		gi.Constraints = &kms.GrantConstraints{EncryptionContextEquals: in.Constraints.EncryptionContextEquals,
			EncryptionContextSubset: in.Constraints.EncryptionContextSubset}
	}
	id, token, err := s.keys.CreateGrant(c.ctx, ka.KeyID, gi)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	c.response = map[string]any{"grantId": id}
	return map[string]any{"GrantId": id, "GrantToken": token}, nil
}

func (s *Service) listGrants(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "ListGrants", nil)
	if e != nil {
		return nil, e
	}
	grants := ka.Grants
	if id := deref(c.in.GrantID); id != "" {
		grants = slices.DeleteFunc(slices.Clone(grants), func(g kms.Grant) bool { return g.GrantID != id })
	}
	if p := deref(c.in.GranteePrincipal); p != "" {
		grants = slices.DeleteFunc(slices.Clone(grants), func(g kms.Grant) bool { return g.GranteePrincipal != p })
	}
	lo, hi, next, e := page(c, len(grants))
	if e != nil {
		return nil, e
	}
	list := make([]grantEntry, 0, hi-lo)
	for _, g := range grants[lo:hi] {
		ge := grantEntry{KeyID: g.KeyID, GrantID: g.GrantID, Name: g.Name, CreationDate: ts(g.CreationDate),
			GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: g.IssuingAccount,
			Operations: g.Operations}
		if g.Constraints != nil {
			ge.Constraints = &grantConstraints{EncryptionContextEquals: g.Constraints.EncryptionContextEquals,
				EncryptionContextSubset: g.Constraints.EncryptionContextSubset}
		}
		list = append(list, ge)
	}
	return pageOut(map[string]any{"Grants": list}, next), nil
}

// retireGrant removes a grant named by its token, or by key and grant ID.
// The retiring principal, the grantee (when the grant allows RetireGrant)
// or a principal with kms:RetireGrant in the key policy may retire it.
func (s *Service) retireGrant(c *call) (any, *apiError) {
	var g kms.Grant
	switch {
	case deref(c.in.GrantToken) != "":
		var err error
		if g, err = s.keys.GrantByToken(c.ctx, *c.in.GrantToken); err != nil {
			if errors.Is(err, kms.ErrNotFound) {
				return nil, errf("InvalidGrantTokenException", "The grant token is not valid.")
			}
			return nil, s.mapError(c, err)
		}
	case deref(c.in.KeyID) != "" && deref(c.in.GrantID) != "":
		ka, e := s.access(c, c.in.KeyID, "keyId")
		if e != nil {
			return nil, e
		}
		i := slices.IndexFunc(ka.Grants, func(g kms.Grant) bool { return g.GrantID == *c.in.GrantID })
		if i < 0 {
			return nil, errf("InvalidGrantIdException", "The grant ID is not valid.")
		}
		g = ka.Grants[i]
	default:
		return nil, errf("ValidationException", "Give GrantToken, or KeyId and GrantId.")
	}
	p := c.edge.Principal.ARN
	allowed := g.RetiringPrincipal == p || g.GranteePrincipal == p && slices.Contains(g.Operations, "RetireGrant")
	ka, err := s.keys.Access(c.ctx, g.KeyID)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	c.resources = append(c.resources, ka.ARN)
	if !allowed {
		if e := s.authorizeKey(c, "RetireGrant", &ka, nil, nil); e != nil {
			return nil, e
		}
	}
	if err := s.keys.RemoveGrant(c.ctx, ka.KeyID, g.GrantID); err != nil {
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) revokeGrant(c *call) (any, *apiError) {
	if deref(c.in.GrantID) == "" {
		return nil, validation("grantId", "Member must not be null")
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "RevokeGrant", nil)
	if e != nil {
		return nil, e
	}
	if err := s.keys.RemoveGrant(c.ctx, ka.KeyID, *c.in.GrantID); err != nil {
		if errors.Is(err, kms.ErrNotFound) {
			return nil, errf("InvalidGrantIdException", "The grant ID is not valid.")
		}
		return nil, s.mapError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) encrypt(c *call) (any, *apiError) {
	if e := checkSymmetric(c); e != nil {
		return nil, e
	}
	if len(c.in.Plaintext) == 0 || len(c.in.Plaintext) > kms.MaxPlaintextBytes {
		return nil, validation("plaintext", "Member must have length between 1 and 4096")
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "Encrypt", c.in.EncryptionContext)
	if e != nil {
		return nil, e
	}
	blob, arn, err := s.keys.Encrypt(c.ctx, ka.KeyID, c.in.Plaintext, c.in.EncryptionContext)
	clear(c.in.Plaintext)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": kms.EncryptionAlgorithmSymmetricDefault}, nil
}

// blobKey finds the key a ciphertext blob names. Anything that is not a
// blob of this account is an InvalidCiphertextException, as AWS answers:
// it never says whether a key exists elsewhere.
func (s *Service) blobKey(c *call, blob []byte) (*kms.KeyAccess, *apiError) {
	if len(blob) == 0 || len(blob) > 6144 {
		return nil, validation("ciphertextBlob", "Member must have length between 1 and 6144")
	}
	id, err := kms.BlobKeyID(blob)
	if err != nil {
		return nil, errf("InvalidCiphertextException", "The ciphertext is not valid.")
	}
	ka, err := s.keys.Access(c.ctx, id)
	if errors.Is(err, kms.ErrNotFound) {
		return nil, errf("InvalidCiphertextException", "The ciphertext refers to a key that does not exist or that you do not have access to.")
	}
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return &ka, nil
}

// ciphertextKey finds the key of the request's CiphertextBlob, checks it
// against the key the caller named in ref (if any) and authorizes action on
// it with the encryption context encCtx.
func (s *Service) ciphertextKey(c *call, ref *string, action string, encCtx map[string]string) (*kms.KeyAccess, *apiError) {
	ka, e := s.blobKey(c, c.in.CiphertextBlob)
	if e != nil {
		return nil, e
	}
	if e := s.sameKey(c, ref, ka); e != nil {
		return nil, e
	}
	if e := s.authorizeKey(c, action, ka, encCtx, nil); e != nil {
		return nil, e
	}
	return ka, nil
}

// sameKey checks a KeyId the caller gave against the key of a blob.
func (s *Service) sameKey(c *call, ref *string, ka *kms.KeyAccess) *apiError {
	if ref == nil {
		return nil
	}
	if e := checkARN(*ref); e != nil {
		return e
	}
	want, err := s.keys.Access(c.ctx, *ref)
	if err != nil {
		return s.mapError(c, err)
	}
	if want.KeyID != ka.KeyID {
		return errf("IncorrectKeyException", "The key ID in the request does not identify the key that encrypted the ciphertext.")
	}
	return nil
}

func (s *Service) decrypt(c *call) (any, *apiError) {
	if e := checkSymmetric(c); e != nil {
		return nil, e
	}
	if _, e := s.ciphertextKey(c, c.in.KeyID, "Decrypt", c.in.EncryptionContext); e != nil {
		return nil, e
	}
	plain, arn, err := s.keys.Decrypt(c.ctx, c.in.CiphertextBlob, c.in.EncryptionContext)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return map[string]any{"Plaintext": plain, "KeyId": arn, "EncryptionAlgorithm": kms.EncryptionAlgorithmSymmetricDefault}, nil
}

// dataKeyBytes reads NumberOfBytes or KeySpec (exactly one).
func dataKeyBytes(c *call) (int, *apiError) {
	spec, n := deref(c.in.KeySpec), c.in.NumberOfBytes
	switch {
	case spec != "" && n != nil, spec == "" && n == nil:
		return 0, errf("ValidationException", "Give either KeySpec or NumberOfBytes.")
	case n != nil:
		if *n < 1 || *n > kms.MaxDataKeyBytes {
			return 0, validation("numberOfBytes", "Member must have value between 1 and 1024")
		}
		return *n, nil
	case spec == "AES_256":
		return 32, nil
	case spec == "AES_128":
		return 16, nil
	}
	return 0, validation("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]")
}

func (s *Service) dataKey(c *call, action string) (plain, blob []byte, arn string, e *apiError) {
	n, e := dataKeyBytes(c)
	if e != nil {
		return nil, nil, "", e
	}
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", action, c.in.EncryptionContext)
	if e != nil {
		return nil, nil, "", e
	}
	plain, blob, arn, err := s.keys.GenerateDataKeyBytes(c.ctx, ka.KeyID, n, c.in.EncryptionContext)
	if err != nil {
		return nil, nil, "", s.mapError(c, err)
	}
	return plain, blob, arn, nil
}

func (s *Service) generateDataKey(c *call) (any, *apiError) {
	plain, blob, arn, e := s.dataKey(c, "GenerateDataKey")
	if e != nil {
		return nil, e
	}
	return map[string]any{"CiphertextBlob": blob, "Plaintext": plain, "KeyId": arn}, nil
}

func (s *Service) generateDataKeyWithoutPlaintext(c *call) (any, *apiError) {
	plain, blob, arn, e := s.dataKey(c, "GenerateDataKeyWithoutPlaintext")
	if e != nil {
		return nil, e
	}
	clear(plain)
	return map[string]any{"CiphertextBlob": blob, "KeyId": arn}, nil
}

func (s *Service) reEncrypt(c *call) (any, *apiError) {
	if e := checkSymmetric(c); e != nil {
		return nil, e
	}
	if _, e := s.ciphertextKey(c, c.in.SourceKeyID, "ReEncryptFrom", c.in.SourceEncryptionContext); e != nil {
		return nil, e
	}
	dst, e := s.authorizedKey(c, c.in.DestinationKeyID, "destinationKeyId", "ReEncryptTo", c.in.DestinationEncryptionContext)
	if e != nil {
		return nil, e
	}
	blob, srcARN, dstARN, err := s.keys.ReEncrypt(c.ctx, c.in.CiphertextBlob, c.in.SourceEncryptionContext, dst.KeyID, c.in.DestinationEncryptionContext)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return map[string]any{"CiphertextBlob": blob, "SourceKeyId": srcARN, "KeyId": dstARN,
		"SourceEncryptionAlgorithm": kms.EncryptionAlgorithmSymmetricDefault, "DestinationEncryptionAlgorithm": kms.EncryptionAlgorithmSymmetricDefault}, nil
}

func (s *Service) generateRandom(c *call) (any, *apiError) {
	n := deref(c.in.NumberOfBytes)
	if n < 1 || n > kms.MaxDataKeyBytes {
		return nil, validation("numberOfBytes", "Member must have value between 1 and 1024")
	}
	if e := s.authorizeAccount(c, "GenerateRandom", nil); e != nil {
		return nil, e
	}
	b, err := randomBytes(n)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	return map[string]any{"Plaintext": b}, nil
}

func (s *Service) tagResource(c *call) (any, *apiError) {
	if len(c.in.Tags) == 0 {
		return nil, validation("tags", "Member must not be null")
	}
	tags, e := tagMap(c.in.Tags)
	if e != nil {
		return nil, e
	}
	return s.keyOp(c, "TagResource", func(id string) error {
		err := s.keys.TagResource(c.ctx, id, tags)
		if errors.Is(err, kms.ErrInvalidArgument) {
			return tagError{err}
		}
		return err
	})
}

// tagError marks a tag validation failure (TagException).
type tagError struct{ error }

func (s *Service) untagResource(c *call) (any, *apiError) {
	if len(c.in.TagKeys) == 0 {
		return nil, validation("tagKeys", "Member must not be null")
	}
	return s.keyOp(c, "UntagResource", func(id string) error { return s.keys.UntagResource(c.ctx, id, c.in.TagKeys) })
}

func (s *Service) listResourceTags(c *call) (any, *apiError) {
	ka, e := s.authorizedKey(c, c.in.KeyID, "keyId", "ListResourceTags", nil)
	if e != nil {
		return nil, e
	}
	tags, err := s.keys.ListResourceTags(c.ctx, ka.KeyID)
	if err != nil {
		return nil, s.mapError(c, err)
	}
	keys := slices.Sorted(maps.Keys(tags))
	list := make([]tag, 0, len(keys))
	for _, k := range keys {
		list = append(list, tag{TagKey: k, TagValue: tags[k]})
	}
	return map[string]any{"Tags": list, "Truncated": false}, nil
}
