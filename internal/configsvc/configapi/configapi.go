// Package configapi serves the AWS Config API subset that shelf
// implements, over configsvc: PutConfigRule, DescribeConfigRules,
// DeleteConfigRule, StartConfigRulesEvaluation,
// DescribeComplianceByConfigRule, DescribeComplianceByResource,
// GetComplianceDetailsByConfigRule, GetResourceConfigHistory,
// DescribeConfigurationRecorders and DescribeConfigurationRecorderStatus.
//
// It is an edge.Service for the SigV4 signing name "config": the json
// protocol (POST /, X-Amz-Target: StarlingDoveService.<Op>, JSON 1.1
// bodies, timestamps as epoch seconds, errors as {"__type","message"}),
// with AWS Config's error codes. Every call is authorized as config:<Op>
// through the edge's Authorizer.
//
// configapi imports edge (the contracts) and configsvc (the domain). It
// must not import meta, control or any engine.
package configapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/edge/jsonapi"
)

// APIVersion is the AWS Config API version.
const APIVersion = "2014-11-12"

// targetPrefix is the X-Amz-Target prefix of AWS Config.
const targetPrefix = "StarlingDoveService."

// Service is the AWS Config API. It is safe for concurrent use.
type Service struct {
	cfg     *configsvc.Service
	authz   edge.Authorizer
	account string
	region  string
	log     *slog.Logger
}

var (
	_ edge.Service          = (*Service)(nil)
	_ edge.VersionedService = (*Service)(nil)
	_ edge.ProtocolService  = (*Service)(nil)
	_ edge.OperationNamer   = (*Service)(nil)
)

// New returns the Config API over cfg; authz decides every call.
func New(cfg *configsvc.Service, authz edge.Authorizer, account, region string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, authz: authz, account: account, region: region, log: log}
}

// SigningName is "config".
func (s *Service) SigningName() string { return "config" }

// APIVersion is 2014-11-12.
func (s *Service) APIVersion() string { return APIVersion }

// Protocol is json.
func (s *Service) Protocol() edge.Protocol { return edge.JSON }

// OperationName is the operation of X-Amz-Target.
func (s *Service) OperationName(r *http.Request, _ []byte) string {
	return handlers.OperationName(r)
}

type apiError = edge.APIError

var errf = jsonapi.Errf

func internalError() *apiError {
	return &apiError{Code: "InternalFailure", Status: http.StatusInternalServerError, Message: "An internal error occurred."}
}

// call is one request being served.
type call struct {
	ctx       context.Context
	edge      *edge.Call
	op        string
	body      []byte
	resources []string
	params    any
}

type handler func(s *Service, c *call) (any, *apiError)

var handlers = &jsonapi.Table[handler]{Prefixes: []string{targetPrefix}, Ops: map[string]jsonapi.Op[handler]{
	"PutConfigRule":                       {Fn: (*Service).putConfigRule},
	"DescribeConfigRules":                 {Fn: (*Service).describeConfigRules, ReadOnly: true},
	"DeleteConfigRule":                    {Fn: (*Service).deleteConfigRule},
	"StartConfigRulesEvaluation":          {Fn: (*Service).startConfigRulesEvaluation},
	"DescribeComplianceByConfigRule":      {Fn: (*Service).describeComplianceByConfigRule, ReadOnly: true},
	"DescribeComplianceByResource":        {Fn: (*Service).describeComplianceByResource, ReadOnly: true},
	"GetComplianceDetailsByConfigRule":    {Fn: (*Service).getComplianceDetailsByConfigRule, ReadOnly: true},
	"GetResourceConfigHistory":            {Fn: (*Service).getResourceConfigHistory, ReadOnly: true},
	"DescribeConfigurationRecorders":      {Fn: (*Service).describeConfigurationRecorders, ReadOnly: true},
	"DescribeConfigurationRecorderStatus": {Fn: (*Service).describeConfigurationRecorderStatus, ReadOnly: true},
}}

// ServeCall serves one request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, ec *edge.Call) edge.Outcome {
	out := edge.Outcome{EventName: "Unknown"}
	if r.Method != http.MethodPost {
		return jsonapi.Fail(w, ec.RequestID, &out, errf("UnknownOperationException", "The json protocol needs POST."))
	}
	op, h, ok := handlers.Lookup(r)
	if !ok {
		return jsonapi.Fail(w, ec.RequestID, &out, errf("UnknownOperationException", "The operation %q is not supported.", clip(r.Header.Get("X-Amz-Target"))))
	}
	out.EventName, out.ReadOnly = op, h.ReadOnly
	c := &call{ctx: r.Context(), edge: ec, op: op, body: body}
	if e := s.authorize(c, "*"); e != nil {
		return jsonapi.Fail(w, ec.RequestID, &out, e)
	}
	resp, e := h.Fn(s, c)
	out.RequestParameters, out.Resources = c.params, c.resources
	return jsonapi.Reply(w, ec.RequestID, &out, resp, e, func(err error) *apiError {
		s.log.Error("encode response failed", "op", op, "req_id", ec.RequestID, "err", err)
		return internalError()
	})
}

// authorize checks config:<op>.
func (s *Service) authorize(c *call, resource string) *apiError {
	err := s.authz.Authorize(c.ctx, c.edge, "config:"+c.op, resource, nil)
	switch {
	case errors.Is(err, edge.ErrAccessDenied):
		return errf("AccessDeniedException", "%s", err.Error())
	case err != nil:
		s.log.Error("authorization failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
		return internalError()
	}
	return nil
}

// decode reads the request body into v (an empty body is {}), and keeps v
// for the audit record.
func decode(c *call, v any) *apiError {
	body := bytes.TrimSpace(c.body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errf("SerializationException", "The value of %s has the wrong type (want %s).", clip(te.Field), te.Type)
		}
		return errf("SerializationException", "The request body is not a valid JSON object.")
	}
	c.params = v
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// domainError maps a configsvc error.
func (s *Service) domainError(c *call, err error) *apiError {
	var inv *configsvc.InvalidError
	var nsr *configsvc.NoSuchRuleError
	switch {
	case errors.As(err, &inv):
		return errf(inv.Code, "%s", inv.Message)
	case errors.As(err, &nsr):
		return errf("NoSuchConfigRuleException", "%s", nsr.Error())
	case errors.Is(err, configsvc.ErrTooManyRules):
		return errf("MaxNumberOfConfigRulesExceededException", "Failed to put config rule because the maximum number of config rules (%d) was reached.", configsvc.MaxRules)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{Code: "ThrottlingException", Status: http.StatusBadRequest, Message: "Request timed out."}
	}
	s.log.Error("config operation failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
	return internalError()
}

// Pagination tokens are opaque to clients: base64url of the operation and
// the sort key of the last item returned. A token is checked to belong to
// the operation; its key only positions the next page.
const maxTokenChars = 1024

func encodeToken(op, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(op + "\x00" + after))
}

func decodeToken(op, tok string) (string, *apiError) {
	if tok == "" {
		return "", nil
	}
	bad := errf("InvalidNextTokenException", "The nextToken provided is invalid.")
	if len(tok) > maxTokenChars {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", bad
	}
	gotOp, after, ok := strings.Cut(string(b), "\x00")
	if !ok || gotOp != op || after == "" {
		return "", bad
	}
	return after, nil
}

// page collects one page of items ordered by a sort key: the items after
// the key that the request's NextToken carries, at most limit of them.
type page[T any] struct {
	op      string
	after   string // "": from the first item
	limit   int
	items   []T
	lastKey string
	// next is the NextToken of the following page ("" for the last page).
	next string
}

// newPage starts the page that token (the request's NextToken, "" for the
// first page) of operation op names.
func newPage[T any](op, token string, limit int) (*page[T], *apiError) {
	after, e := decodeToken(op, token)
	if e != nil {
		return nil, e
	}
	return &page[T]{op: op, after: after, limit: limit, items: []T{}}, nil
}

// skip reports whether the item with sort key key lies before the page.
func (p *page[T]) skip(key string) bool { return p.after != "" && key <= p.after }

// add appends v, whose sort key is key, unless the page is full: then it
// sets next to continue after the last item and returns false.
func (p *page[T]) add(key string, v T) bool {
	if len(p.items) == p.limit {
		p.next = encodeToken(p.op, p.lastKey)
		return false
	}
	p.items, p.lastKey = append(p.items, v), key
	return true
}

// checkLimit validates a Limit parameter (0 means the default).
func checkLimit(name string, n, def, maxN int) (int, *apiError) {
	if n < 0 || n > maxN {
		return 0, errf("InvalidLimitException", "Value '%d' at '%s' failed to satisfy constraint: Member must have value between 0 and %d.", n, name, maxN)
	}
	if n == 0 {
		return def, nil
	}
	return n, nil
}
