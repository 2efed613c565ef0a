package edge

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/iam"
)

// PolicySource returns the identity policies attached to a principal, as
// JSON documents (internal/iam/users implements it).
type PolicySource interface {
	IdentityPolicies(ctx context.Context, p Principal) ([][]byte, error)
}

// IAMAuthorizer is the Authorizer of shelfd: the principal's identity
// policies evaluated by internal/iam with the AWS evaluation logic. The
// account root is allowed everything without a look at policies. It adds
// the global condition keys of the call to the service's own keys:
//
//	aws:SourceIp  aws:SecureTransport  aws:CurrentTime  aws:EpochTime
//	aws:PrincipalArn  aws:PrincipalAccount  aws:PrincipalType
//	aws:username (IAM users)  aws:userid  aws:RequestedRegion  aws:UserAgent
//
// Values the edge knows replace any the service passed under the same
// names: a service cannot forge the caller's address or identity.
//
// It is safe for concurrent use.
type IAMAuthorizer struct {
	src PolicySource
	log *slog.Logger
	// cache holds parsed policies by the SHA-256 of their document;
	// policies are immutable, so sharing them is safe.
	cache struct {
		sync.Mutex
		m map[[32]byte]*iam.Policy
	}
}

var _ Authorizer = (*IAMAuthorizer)(nil)

// maxCachedPolicies bounds the parsed-policy cache; it is emptied when
// full.
const maxCachedPolicies = 4096

// NewAuthorizer returns the Authorizer over src.
func NewAuthorizer(src PolicySource, log *slog.Logger) *IAMAuthorizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &IAMAuthorizer{src: src, log: log}
	a.cache.m = map[[32]byte]*iam.Policy{}
	return a
}

// AccessDeniedError is a denied authorization. It wraps ErrAccessDenied;
// its message is the one AWS shows and may be sent to the client.
type AccessDeniedError struct {
	PrincipalARN string
	Action       string
	Resource     string
	// Explicit reports an explicit Deny (otherwise no policy allowed it).
	Explicit bool
}

func (e *AccessDeniedError) Error() string {
	why := "because no identity-based policy allows the " + e.Action + " action"
	if e.Explicit {
		why = "with an explicit deny in an identity-based policy"
	}
	return "User: " + e.PrincipalARN + " is not authorized to perform: " + e.Action + " on resource: " + e.Resource + " " + why
}

// Unwrap makes errors.Is(err, ErrAccessDenied) true.
func (e *AccessDeniedError) Unwrap() error { return ErrAccessDenied }

// Authorize decides action on resource for call's principal. It returns
// nil, an *AccessDeniedError, or another error when the policies could not
// be read (the caller answers 500).
func (a *IAMAuthorizer) Authorize(ctx context.Context, call *Call, action, resource string, conditions map[string][]string) error {
	p := call.Principal
	if p.IsRoot {
		return nil
	}
	docs, err := a.src.IdentityPolicies(ctx, p)
	if err != nil {
		return fmt.Errorf("edge: identity policies of %s: %w", p.ARN, err)
	}
	policies := make([]*iam.Policy, 0, len(docs))
	for _, d := range docs {
		pol, err := a.parse(d)
		if err != nil {
			// Stored policies were validated when they were put; one that
			// no longer parses might hold a Deny, so nothing is allowed.
			a.log.Error("stored identity policy does not parse; denying", "principal", p.ARN, "err", err)
			return &AccessDeniedError{PrincipalARN: p.ARN, Action: action, Resource: resource, Explicit: true}
		}
		policies = append(policies, pol)
	}
	req := iam.Request{
		Principal:  iam.Principal{ARN: p.ARN, Account: p.Account, IsRoot: p.IsRoot},
		Action:     action,
		Resource:   resource,
		Conditions: GlobalConditions(call, conditions),
	}
	switch iam.Decide(req, policies, nil) {
	case iam.Allow:
		return nil
	case iam.ExplicitDeny:
		return &AccessDeniedError{PrincipalARN: p.ARN, Action: action, Resource: resource, Explicit: true}
	}
	return &AccessDeniedError{PrincipalARN: p.ARN, Action: action, Resource: resource}
}

// GlobalConditions returns service's keys plus the global condition keys
// of call (see IAMAuthorizer). service is not modified.
func GlobalConditions(call *Call, service map[string][]string) map[string][]string {
	out := make(map[string][]string, len(service)+12)
	for k, v := range service {
		out[k] = v
	}
	p := call.Principal
	t := call.Time.UTC()
	out["aws:SourceIp"] = []string{call.SourceIP}
	out["aws:SecureTransport"] = []string{strconv.FormatBool(call.Secure)}
	out["aws:CurrentTime"] = []string{t.Format(time.RFC3339)}
	out["aws:EpochTime"] = []string{strconv.FormatInt(t.Unix(), 10)}
	out["aws:PrincipalArn"] = []string{p.ARN}
	out["aws:PrincipalAccount"] = []string{p.Account}
	if call.Region != "" {
		out["aws:RequestedRegion"] = []string{call.Region}
	}
	if call.UserAgent != "" {
		out["aws:UserAgent"] = []string{call.UserAgent}
	}
	if p.IsRoot {
		out["aws:PrincipalType"] = []string{"Account"}
		out["aws:userid"] = []string{p.Account}
		delete(out, "aws:username")
	} else {
		out["aws:PrincipalType"] = []string{"User"}
		out["aws:userid"] = []string{p.UserID}
		out["aws:username"] = []string{p.UserName}
	}
	return out
}

func (a *IAMAuthorizer) parse(doc []byte) (*iam.Policy, error) {
	sum := sha256.Sum256(doc)
	a.cache.Lock()
	pol, ok := a.cache.m[sum]
	a.cache.Unlock()
	if ok {
		return pol, nil
	}
	pol, err := iam.Parse(doc)
	if err != nil {
		return nil, err
	}
	a.cache.Lock()
	if len(a.cache.m) >= maxCachedPolicies {
		clear(a.cache.m)
	}
	a.cache.m[sum] = pol
	a.cache.Unlock()
	return pol, nil
}
