// Package ec2api serves the subset of the Amazon EC2 query API that lets
// users find and manage shelf's network model the way they do on AWS
// (`aws ec2 describe-subnets`, `create-security-group`, …): DescribeVpcs,
// DescribeSubnets, DescribeAvailabilityZones, DescribeSecurityGroups,
// CreateSecurityGroup, DeleteSecurityGroup, AuthorizeSecurityGroupIngress
// and RevokeSecurityGroupIngress.
//
// It is an edge.Service for the SigV4 signing name "ec2": requests are
// form-encoded POSTs (Action=…&Version=2016-11-15), responses are XML in the
// EC2 namespace with a requestId, and errors are EC2's
// <Response><Errors><Error><Code>… documents. It translates the wire to
// calls on the network model of internal/control, which owns the rules;
// every call is authorized as ec2:<Action> through the edge's Authorizer.
//
// ec2api imports edge (the contracts) and control (the domain). It must not
// import meta, fs or any engine.
package ec2api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
)

// APIVersion is the EC2 API version this package speaks.
const APIVersion = "2016-11-15"

// xmlns is the namespace of every response document.
const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Network is the part of *control.Service that ec2api uses.
type Network interface {
	AvailabilityZones() []control.AvailabilityZone
	VPCs() []control.VPC
	Subnets() []control.Subnet
	SecurityGroups(ctx context.Context) ([]control.SecurityGroup, error)
	SecurityGroup(ctx context.Context, id string) (control.SecurityGroup, error)
	CreateSecurityGroup(ctx context.Context, in control.CreateSecurityGroupInput) (control.SecurityGroup, error)
	DeleteSecurityGroup(ctx context.Context, id string) error
	AuthorizeIngress(ctx context.Context, id string, rules []control.Rule) (control.SecurityGroup, error)
	RevokeIngress(ctx context.Context, id string, rules []control.Rule) (control.SecurityGroup, error)
}

var _ Network = (*control.Service)(nil)

// Service is the EC2 query API. It is safe for concurrent use.
type Service struct {
	net     Network
	authz   edge.Authorizer
	account string
	region  string
	log     *slog.Logger
}

var (
	_ edge.Service          = (*Service)(nil)
	_ edge.VersionedService = (*Service)(nil)
	_ edge.ProtocolService  = (*Service)(nil)
)

// Config names the account and region of the resources.
type Config struct {
	Account string
	Region  string
}

// New returns the EC2 API over net; authz decides every call.
func New(net Network, authz edge.Authorizer, log *slog.Logger, cfg Config) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{net: net, authz: authz, account: cfg.Account, region: cfg.Region, log: log}
}

// SigningName is "ec2".
func (s *Service) SigningName() string { return "ec2" }

// APIVersion is 2016-11-15.
func (s *Service) APIVersion() string { return APIVersion }

// Protocol is EC2's query dialect.
func (s *Service) Protocol() edge.Protocol { return edge.EC2Query }

// OperationName is the Action parameter.
func (s *Service) OperationName(r *http.Request, body []byte) string {
	p, err := parseParams(r, body)
	if err != nil {
		return ""
	}
	return p.get("Action")
}

// apiError is an EC2 error: code, HTTP status and message.
type apiError = edge.APIError

func errf(code string, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// call is one request being served.
type call struct {
	ctx    context.Context
	edge   *edge.Call
	params params
	// out is filled by the handler for the audit record.
	requestParams any
	responseElems any
	resources     []string
}

type handler func(s *Service, c *call) (any, *apiError)

var handlers = map[string]struct {
	fn       handler
	readOnly bool
}{
	"DescribeVpcs":                  {(*Service).describeVpcs, true},
	"DescribeSubnets":               {(*Service).describeSubnets, true},
	"DescribeAvailabilityZones":     {(*Service).describeAvailabilityZones, true},
	"DescribeSecurityGroups":        {(*Service).describeSecurityGroups, true},
	"CreateSecurityGroup":           {(*Service).createSecurityGroup, false},
	"DeleteSecurityGroup":           {(*Service).deleteSecurityGroup, false},
	"AuthorizeSecurityGroupIngress": {(*Service).authorizeIngress, false},
	"RevokeSecurityGroupIngress":    {(*Service).revokeIngress, false},
}

// ServeCall serves one EC2 query request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, ec *edge.Call) edge.Outcome {
	out := edge.Outcome{}
	fail := func(e *apiError) edge.Outcome {
		edge.WriteError(w, edge.EC2Query, ec.RequestID, e)
		out.ErrorCode, out.ErrorMessage, out.Status = e.Code, e.Message, e.Status
		return out
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return fail(&apiError{Code: "UnsupportedProtocol", Status: http.StatusBadRequest, Message: "The request method must be POST or GET."})
	}
	p, err := parseParams(r, body)
	if err != nil {
		return fail(errf("InvalidParameterValue", "The request is not a valid form-encoded EC2 query."))
	}
	action := p.get("Action")
	out.EventName = action
	if action == "" {
		out.EventName = "Unknown"
		return fail(errf("MissingAction", "The request must contain the parameter Action."))
	}
	h, ok := handlers[action]
	if !ok {
		if len(action) > 64 {
			action = action[:64]
		}
		out.EventName = "Unknown"
		return fail(errf("InvalidAction", "The action %s is not valid for this web service.", action))
	}
	out.ReadOnly = h.readOnly
	if p.get("Version") == "" {
		return fail(errf("MissingParameter", "The request must contain the parameter Version."))
	}
	c := &call{ctx: r.Context(), edge: ec, params: p}
	resp, e := h.fn(s, c)
	out.RequestParameters, out.Resources = compact(c.requestParams), c.resources
	if e != nil {
		return fail(e)
	}
	out.ResponseElements = c.responseElems
	b := marshalResponse(resp)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	out.Status = http.StatusOK
	return out
}

// authorize checks ec2:<action> on resource, then honours DryRun (which
// AWS reports as the error DryRunOperation when the call would succeed).
func (s *Service) authorize(c *call, action, resource string) *apiError {
	err := s.authz.Authorize(c.ctx, c.edge, "ec2:"+action, resource, nil)
	switch {
	case errors.Is(err, edge.ErrAccessDenied):
		return &apiError{Code: "UnauthorizedOperation", Status: http.StatusForbidden,
			Message: "You are not authorized to perform this operation. User: " + c.edge.Principal.ARN + " is not authorized to perform: ec2:" + action + " on resource: " + resource}
	case err != nil:
		s.log.Error("authorization failed", "op", action, "req_id", c.edge.RequestID, "err", err)
		return internalError()
	}
	dry, e := c.params.bool("DryRun")
	if e != nil {
		return e
	}
	if dry {
		return &apiError{Code: "DryRunOperation", Status: http.StatusPreconditionFailed, Message: "Request would have succeeded, but DryRun flag is set."}
	}
	return nil
}

func internalError() *apiError {
	return &apiError{Code: "InternalError", Status: http.StatusInternalServerError,
		Message: "An internal error has occurred."}
}

// controlError maps a control error to EC2's code. Every control code is
// handled (see the exhaustive test): the network codes carry their EC2
// names; EFS codes never come from the calls ec2api makes and become
// InternalError, like any failure below.
func (s *Service) controlError(c *call, err error) *apiError {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Code: "RequestLimitExceeded", Status: http.StatusServiceUnavailable, Message: "Request timed out."}
	}
	var ce *control.Error
	if !errors.As(err, &ce) {
		s.log.Error("network operation failed", "req_id", c.edge.RequestID, "err", err)
		return internalError()
	}
	if e := mapCode(ce.Code, ce.Message); e != nil {
		return e
	}
	s.log.Error("network operation failed", "req_id", c.edge.RequestID, "code", ce.Code.String(), "err", err)
	return internalError()
}

// mapCode returns the EC2 error for a network code, nil for codes that are
// internal failures as far as EC2 clients are concerned.
func mapCode(code control.Code, msg string) *apiError {
	switch code {
	case control.NetInvalidVPCNotFound, control.NetInvalidGroupNotFound, control.NetInvalidGroupDuplicate,
		control.NetInvalidPermissionDuplicate, control.NetInvalidPermissionNotFound, control.NetDependencyViolation,
		control.NetCannotDelete, control.NetInvalidParameterValue, control.NetRulesPerGroupLimitExceeded,
		control.NetSecurityGroupLimitExceeded:
		return &apiError{Code: code.String(), Status: http.StatusBadRequest, Message: msg}
	case control.SubnetNotFound:
		return &apiError{Code: "InvalidSubnetID.NotFound", Status: http.StatusBadRequest, Message: msg}
	case control.SecurityGroupNotFound:
		return &apiError{Code: "InvalidGroup.NotFound", Status: http.StatusBadRequest, Message: msg}
	case control.InternalServerError, control.BadRequest, control.ValidationException, control.AccessPointAlreadyExists,
		control.AccessPointLimitExceeded, control.AccessPointNotFound, control.AvailabilityZonesMismatch,
		control.ConflictException, control.FileSystemAlreadyExists, control.FileSystemInUse,
		control.FileSystemLimitExceeded, control.FileSystemNotFound, control.IncorrectFileSystemLifeCycleState,
		control.IncorrectMountTargetState, control.InvalidPolicyException, control.IpAddressInUse,
		control.MountTargetConflict, control.MountTargetNotFound, control.NetworkInterfaceLimitExceeded,
		control.NoFreeAddressesInSubnet, control.PolicyNotFound, control.ReplicationAlreadyExists,
		control.ReplicationNotFound, control.SecurityGroupLimitExceeded, control.ThroughputLimitExceeded,
		control.TooManyRequests, control.UnsupportedAvailabilityZone:
		return nil
	}
	return nil
}

// compact drops the empty members of a requestParameters map, so records
// carry only what the client sent.
func compact(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, x := range m {
		if x == nil || x == "" {
			delete(m, k)
		}
	}
	return m
}

// params is the merged form body and query string of a request.
type params url.Values

func parseParams(r *http.Request, body []byte) (params, error) {
	v := url.Values{}
	if len(body) > 0 {
		ct := r.Header.Get("Content-Type")
		if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, errors.New("not a form")
		}
		b, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		v = b
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	for k, vs := range q {
		if _, ok := v[k]; !ok {
			v[k] = vs
		}
	}
	return params(v), nil
}

func (p params) get(k string) string { return url.Values(p).Get(k) }

func (p params) has(k string) bool { _, ok := p[k]; return ok }

func (p params) bool(k string) (bool, *apiError) {
	switch v := p.get(k); strings.ToLower(v) {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, errf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected a boolean.", trim(v), k)
	}
}

// maxListLen bounds every list parameter (EC2 allows at most 200 filter
// values, 1,000 IDs).
const maxListLen = 1000

// list returns prefix.1, prefix.2, … until the first missing index (EC2
// lists are 1-based and dense; a gap ends the list), at most maxListLen.
func (p params) list(prefix string) []string {
	var out []string
	for i := 1; i <= maxListLen; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if !p.has(k) {
			break
		}
		out = append(out, p.get(k))
	}
	return out
}

// count returns how many consecutive groups prefix.1.*, prefix.2.*, …
// exist (at most maxListLen), in one pass over the parameters.
func (p params) count(prefix string) int {
	seen := map[int]bool{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(num); err == nil && i > 0 && i <= maxListLen {
			seen[i] = true
		}
	}
	n := 0
	for seen[n+1] {
		n++
	}
	return n
}

// trim shortens a client value quoted in a message.
func trim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
