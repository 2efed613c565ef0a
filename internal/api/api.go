// Package api is the EFS control-plane API (REST-JSON, version 2015-02-01)
// as an edge.Service under the SigV4 signing name "elasticfilesystem": it
// routes each request to one of the 31 operations, decodes and validates it
// against the API model, authorizes it with the edge.Authorizer
// (elasticfilesystem:<Operation> on the resource ARN, with the EFS
// condition keys), calls internal/control, and writes the response or the
// error exactly as EFS does (X-Amzn-ErrorType header plus an
// {"ErrorCode","Message"} body). It returns the audit outcome of every call.
//
// api only translates the wire to control calls; the rules live in
// control. It imports control, edge and iam (names of condition keys) and
// must not import fs, meta, kms or any engine.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
)

// Protocol constants.
const (
	SigningName = "elasticfilesystem"
	APIVersion  = "2015-02-01"
	pathPrefix  = "/" + APIVersion + "/"
	// MaxBodyBytes bounds a request body: the largest valid one is a
	// 20,000-character policy, at most 6 bytes a character once escaped.
	MaxBodyBytes = 256 << 10
)

// Service serves the EFS API. It is safe for concurrent use.
type Service struct {
	ctl   *control.Service
	authz edge.Authorizer
	log   *slog.Logger
	// keyUse checks KMS key permissions for CreateFileSystem (optional).
	keyUse KeyUseChecker
}

var _ edge.Service = (*Service)(nil)

// New returns the EFS API over ctl. Every call is authorized with authz.
func New(ctl *control.Service, authz edge.Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{ctl: ctl, authz: authz, log: log}
}

// SigningName is "elasticfilesystem".
func (s *Service) SigningName() string { return SigningName }

// APIVersion is the version recorded in audit records.
func (s *Service) APIVersion() string { return APIVersion }

// OperationName names the operation of a request without serving it
// ("" when no operation matches).
func (s *Service) OperationName(r *http.Request, _ []byte) string {
	op, _, _ := route(r.Method, r.URL.EscapedPath())
	if op == nil {
		return ""
	}
	return op.name
}

// apiError is an error decided by the transport itself (decoding, model
// validation, routing, authorization).
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: "BadRequest", msg: fmt.Sprintf(format, args...)}
}

// request is one call being served.
type request struct {
	ctx    context.Context
	call   *edge.Call
	http   *http.Request
	body   []byte
	labels []string
	query  url.Values
	// params are the CloudTrail requestParameters.
	params    map[string]any
	resources []string
}

type handler func(s *Service, q *request) (status int, resp any, err error)

type operation struct {
	name     string
	method   string
	segments []string // "{}" is a label
	readOnly bool
	handler  handler
}

// ServeCall serves one authenticated request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, call *edge.Call) (out edge.Outcome) {
	if call.RequestID != "" {
		w.Header().Set("X-Amzn-RequestId", call.RequestID)
	}
	op, labels, err := route(r.Method, r.URL.EscapedPath())
	if op != nil {
		out.EventName, out.ReadOnly = op.name, op.readOnly
	} else {
		out.EventName = "UnknownOperation"
	}
	q := &request{ctx: r.Context(), call: call, http: r, body: body, labels: labels, query: r.URL.Query(), params: map[string]any{}}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving EFS call", "op", out.EventName, "req_id", call.RequestID, "err", fmt.Sprint(p))
			out = s.writeError(w, &out, &apiError{status: 500, code: "InternalServerError", msg: "An internal error occurred."})
		}
	}()
	if err == nil && len(body) > MaxBodyBytes {
		err = badRequest("The request body is larger than %d bytes.", MaxBodyBytes)
	}
	if err != nil {
		return s.writeError(w, &out, err)
	}
	status, resp, err := op.handler(s, q)
	if len(q.params) > 0 {
		out.RequestParameters = q.params
	}
	out.Resources = q.resources
	if err != nil {
		return s.writeError(w, &out, err)
	}
	out.Status = status
	if resp == nil {
		w.WriteHeader(status)
		return out
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return s.writeError(w, &out, err)
	}
	if !op.readOnly {
		out.ResponseElements = trailJSON(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return out
}

// errorStatus maps a control code to the HTTP status of its EFS error
// shape. Every code is handled (TestErrorMapping checks it); the network
// codes never reach this API and answer 400 BadRequest.
func errorStatus(c control.Code) (int, string) {
	switch c {
	case control.BadRequest, control.ValidationException, control.AvailabilityZonesMismatch,
		control.InvalidPolicyException, control.SecurityGroupLimitExceeded, control.SecurityGroupNotFound,
		control.SubnetNotFound, control.ThroughputLimitExceeded, control.UnsupportedAvailabilityZone:
		return 400, c.String()
	case control.AccessPointLimitExceeded, control.FileSystemLimitExceeded:
		return 403, c.String()
	case control.AccessPointNotFound, control.FileSystemNotFound, control.MountTargetNotFound,
		control.PolicyNotFound, control.ReplicationNotFound:
		return 404, c.String()
	case control.AccessPointAlreadyExists, control.ConflictException, control.FileSystemAlreadyExists,
		control.FileSystemInUse, control.IncorrectFileSystemLifeCycleState, control.IncorrectMountTargetState,
		control.IpAddressInUse, control.MountTargetConflict, control.NetworkInterfaceLimitExceeded,
		control.NoFreeAddressesInSubnet, control.ReplicationAlreadyExists:
		return 409, c.String()
	case control.TooManyRequests:
		return 429, c.String()
	case control.InternalServerError:
		return 500, c.String()
	case control.NetInvalidVPCNotFound, control.NetInvalidGroupNotFound, control.NetInvalidGroupDuplicate,
		control.NetInvalidPermissionDuplicate, control.NetInvalidPermissionNotFound, control.NetDependencyViolation,
		control.NetCannotDelete, control.NetInvalidParameterValue, control.NetRulesPerGroupLimitExceeded,
		control.NetSecurityGroupLimitExceeded:
		return 400, "BadRequest"
	}
	return 500, "InternalServerError"
}

// writeError renders err as EFS does: the status of the error shape, the
// code in X-Amzn-ErrorType, and {"ErrorCode","Message"} plus the shape's
// extra member. Causes from the layers below go only to the log.
func (s *Service) writeError(w http.ResponseWriter, out *edge.Outcome, err error) edge.Outcome {
	status, code, msg := 500, "InternalServerError", "An internal error occurred."
	body := map[string]any{}
	var ae *apiError
	var ce *control.Error
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.msg
	case errors.As(err, &ce):
		status, code = errorStatus(ce.Code)
		msg = ce.Message
		if ce.Code == control.FileSystemAlreadyExists {
			body["FileSystemId"] = ce.FileSystemID
		}
		if ce.Code == control.AccessPointAlreadyExists {
			body["AccessPointId"] = ce.AccessPointID
		}
		if ce.Code == control.InternalServerError {
			s.log.Error("EFS call failed", "op", out.EventName, "err", err)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, code, msg = 500, "InternalServerError", "The request was cancelled."
	default:
		s.log.Error("EFS call failed", "op", out.EventName, "err", err)
	}
	body["ErrorCode"], body["Message"] = code, msg
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("X-Amzn-ErrorType", code)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	out.Status, out.ErrorCode, out.ErrorMessage = status, code, msg
	out.ResponseElements = nil
	return *out
}

// route finds the operation of method and the escaped path, and its path
// labels (unescaped). An unknown route yields UnknownOperationException; a
// known route with an empty label yields BadRequest.
func route(method, escapedPath string) (*operation, []string, error) {
	unknown := &apiError{status: 404, code: "UnknownOperationException", msg: "No operation matches " + method + " " + escapedPath}
	rest, ok := strings.CutPrefix(escapedPath, pathPrefix)
	if !ok {
		return nil, nil, unknown
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, nil, badRequest("The request path is not correctly escaped.")
		}
		segs[i] = u
	}
	// DescribeTags ends in a slash: tags/{id}/.
	if len(segs) == 3 && segs[0] == "tags" && segs[2] == "" {
		segs = segs[:2]
	}
	var found *operation
	var labels []string
	for i := range operations {
		op := &operations[i]
		if op.method != method || len(op.segments) != len(segs) {
			continue
		}
		var ls []string
		match := true
		for j, want := range op.segments {
			if want == "{}" {
				if segs[j] == "replication-configurations" && op.segments[0] == "file-systems" && len(op.segments) == 2 {
					match = false
					break
				}
				ls = append(ls, segs[j])
			} else if want != segs[j] {
				match = false
				break
			}
		}
		if match {
			found, labels = op, ls
			break
		}
	}
	if found == nil {
		return nil, nil, unknown
	}
	for _, l := range labels {
		if l == "" {
			return found, labels, badRequest("A path parameter of %s is empty.", found.name)
		}
	}
	return found, labels, nil
}

// decode parses a JSON object body into v. Unknown members are ignored, as
// AWS does for forward compatibility; anything that is not one JSON object
// of the right member types is a BadRequest.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badRequest("Invalid type for member %s: expected %s.", te.Field, te.Type)
		}
		return badRequest("The request body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("The request body has data after its JSON object.")
	}
	return nil
}

// queryInt parses an optional integer query parameter (≥ 1 per the model).
func queryInt(q *request, name string, v *validator) (int, error) {
	s := q.query.Get(name)
	if s == "" {
		if _, present := q.query[name]; present {
			return 0, badRequest("Invalid value for %s: ''.", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, badRequest("Invalid value for %s: '%s' is not an integer.", name, s)
	}
	n64 := n
	v.long(&n64, lowerFirst(name), 1, 1<<31-1)
	q.params[lowerFirst(name)] = n
	return int(n), nil
}

// queryStr returns an optional query parameter and records it.
func queryStr(q *request, name string) *string {
	vals, ok := q.query[name]
	if !ok {
		return nil
	}
	s := vals[0]
	q.params[lowerFirst(name)] = s
	return &s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// trailJSON turns a JSON document into the CloudTrail form: the same
// values with lower-camel-case member names.
func trailJSON(b []byte) any {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return lowerKeys(v)
}

func lowerKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[lowerFirst(k)] = lowerKeys(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = lowerKeys(x[i])
		}
		return x
	}
	return v
}

// recordBody records a decoded request body as CloudTrail
// requestParameters.
func (q *request) recordBody(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if m, ok := trailJSON(b).(map[string]any); ok {
		for k, e := range m {
			q.params[k] = e
		}
	}
}
