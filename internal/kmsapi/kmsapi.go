// Package kmsapi serves the AWS KMS JSON API (X-Amz-Target:
// TrentService.<Operation>, SigV4 signing name "kms") over the per-account
// KMS of internal/kms, so that `aws kms …` and the AWS SDKs manage shelf's
// keys unchanged.
//
// Every operation on a key is authorized the way AWS KMS does it
// (AWS KMS Developer Guide, "Determining access to a KMS key"): the key
// policy is the primary control; identity policies count only where the
// key policy delegates to the account ("Principal": {"AWS":
// "arn:aws:iam::<account>:root"}); a grant allows its operations to its
// grantee; an explicit Deny anywhere wins. Policies are evaluated by
// internal/iam. Operations on no key (CreateKey, ListKeys, ListAliases)
// need an identity policy, as in AWS. The account root is not exempt from
// key policies.
//
// Errors are the KMS error codes, as "__type" in the JSON body. No
// plaintext, ciphertext or grant token ever reaches a log or the
// CloudTrail record: requestParameters and responseElements leave them out,
// as AWS does.
//
// kmsapi imports edge (the contracts), kms and iam. It must not import
// meta, fs, control or any engine.
package kmsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/edge/jsonapi"
	"github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/kms"
)

// APIVersion is the KMS API version this package speaks.
const APIVersion = "2014-11-01"

// targetPrefix is the X-Amz-Target prefix of KMS operations.
const targetPrefix = "TrentService."

// Service is the KMS API. It is safe for concurrent use.
type Service struct {
	keys     *kms.Manager
	policies edge.PolicySource
	account  string
	region   string
	log      *slog.Logger
	// rotateRoot rotates shelfd's root key (ShelfAdmin.RotateRootKey);
	// nil: not offered.
	rotateRoot func(context.Context) error
	cache      struct {
		sync.Mutex
		m map[[32]byte]*iam.Policy
	}
}

var (
	_ edge.Service          = (*Service)(nil)
	_ edge.VersionedService = (*Service)(nil)
	_ edge.ProtocolService  = (*Service)(nil)
	_ edge.OperationNamer   = (*Service)(nil)
)

// Config names the account and region of the keys.
type Config struct {
	Account string
	Region  string
}

// New returns the KMS API over keys; policies gives the identity policies
// of IAM principals (internal/iam/users implements it).
func New(keys *kms.Manager, policies edge.PolicySource, log *slog.Logger, cfg Config) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{keys: keys, policies: policies, account: cfg.Account, region: cfg.Region, log: log}
	s.cache.m = map[[32]byte]*iam.Policy{}
	return s
}

// SigningName is "kms".
func (s *Service) SigningName() string { return "kms" }

// APIVersion is 2014-11-01.
func (s *Service) APIVersion() string { return APIVersion }

// Protocol is the json protocol.
func (s *Service) Protocol() edge.Protocol { return edge.JSON }

// OperationName is the operation of X-Amz-Target.
func (s *Service) OperationName(r *http.Request, _ []byte) string {
	return handlers.OperationName(r)
}

type apiError = edge.APIError

var errf = jsonapi.Errf

func internalError() *apiError {
	return &apiError{Code: "KMSInternalException", Status: http.StatusInternalServerError, Message: "An internal error occurred."}
}

// call is one request being served.
type call struct {
	ctx  context.Context
	edge *edge.Call
	op   string
	in   request
	// resources touched, for the audit record.
	resources []string
	// response is the output for responseElements (nil for the
	// cryptographic operations, as AWS records them).
	response any
}

type handler func(s *Service, c *call) (any, *apiError)

// maxBodyKeys bounds the members of a request object; the edge bounds the
// body size.
const maxEncryptionContextPairs = 64

// ServeCall serves one KMS request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, ec *edge.Call) edge.Outcome {
	out := edge.Outcome{EventName: "Unknown"}
	if r.Method != http.MethodPost {
		return jsonapi.Fail(w, ec.RequestID, &out, &apiError{Code: "UnsupportedOperationException", Status: http.StatusBadRequest, Message: "KMS requests are POST requests."})
	}
	if r.Header.Get("X-Amz-Target") == AdminRotateRootKeyTarget {
		out.EventName = "RotateRootKey"
		return jsonapi.Reply(w, ec.RequestID, &out, struct{}{}, s.adminRotateRootKey(r.Context(), ec),
			func(error) *apiError { return internalError() })
	}
	op, h, ok := handlers.Lookup(r)
	if !ok {
		return jsonapi.Fail(w, ec.RequestID, &out, errf("UnknownOperationException", "The operation in X-Amz-Target is not supported."))
	}
	out.EventName, out.ReadOnly = op, h.ReadOnly
	c := &call{ctx: r.Context(), edge: ec, op: op}
	if e := decodeRequest(body, &c.in); e != nil {
		return jsonapi.Fail(w, ec.RequestID, &out, e)
	}
	out.RequestParameters = requestParameters(&c.in)
	resp, e := h.Fn(s, c)
	out.Resources, out.ResponseElements = c.resources, c.response
	return jsonapi.Reply(w, ec.RequestID, &out, resp, e, func(err error) *apiError {
		s.log.Error("encode response", "op", op, "req_id", ec.RequestID, "err", err)
		return internalError()
	})
}

// AdminRotateRootKeyTarget is the X-Amz-Target of shelf's own operation
// that rotates the root key of the running shelfd (`shelf
// rotate-root-key`). It is not part of AWS KMS; only the account root may
// call it.
const AdminRotateRootKeyTarget = "ShelfAdmin.RotateRootKey"

// SetRootKeyRotator offers ShelfAdmin.RotateRootKey, served by fn. Call it
// before serving.
func (s *Service) SetRootKeyRotator(fn func(context.Context) error) { s.rotateRoot = fn }

func (s *Service) adminRotateRootKey(ctx context.Context, ec *edge.Call) *apiError {
	switch {
	case s.rotateRoot == nil:
		return errf("UnknownOperationException", "The operation in X-Amz-Target is not supported.")
	case !ec.Principal.IsRoot:
		return errf("AccessDeniedException", "User: %s is not authorized to rotate the root key: only the account root may.", ec.Principal.ARN)
	}
	if err := s.rotateRoot(ctx); err != nil {
		s.log.Error("root key rotation failed", "req_id", ec.RequestID, "err", err)
		return internalError()
	}
	return nil
}

// decodeRequest parses a JSON request body; an empty body is an empty
// request. Malformed JSON or members of the wrong type are a
// SerializationException, as AWS answers.
func decodeRequest(body []byte, in *request) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(in); err != nil {
		return errf("SerializationException", "The request body is not a valid KMS request.")
	}
	if dec.More() {
		return errf("SerializationException", "The request body has data after the JSON object.")
	}
	for _, m := range []map[string]string{in.EncryptionContext, in.SourceEncryptionContext, in.DestinationEncryptionContext} {
		if len(m) > maxEncryptionContextPairs {
			return errf("ValidationException", "An encryption context can have at most %d pairs.", maxEncryptionContextPairs)
		}
	}
	return nil
}

// mapError turns an error of internal/kms into a KMS error. Causes other
// than the vocabulary of kms go to the log only.
func (s *Service) mapError(c *call, err error) *apiError {
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(tagError)):
		return errf("TagException", "%s", clientMessage(err, "A tag is not valid."))
	case errors.Is(err, kms.ErrNotFound):
		return errf("NotFoundException", "%s", clientMessage(err, "The key or alias does not exist."))
	case errors.Is(err, kms.ErrInvalidArgument):
		return errf("ValidationException", "%s", clientMessage(err, "A parameter is not valid."))
	case errors.Is(err, kms.ErrAlreadyExists):
		return errf("AlreadyExistsException", "%s", clientMessage(err, "The alias already exists."))
	case errors.Is(err, kms.ErrUnsupportedOperation):
		return errf("UnsupportedOperationException", "%s", clientMessage(err, "The operation is not supported for this key."))
	case errors.Is(err, kms.ErrLimitExceeded):
		return errf("LimitExceededException", "%s", clientMessage(err, "A limit was exceeded."))
	case errors.Is(err, kms.ErrKeyDisabled):
		return errf("DisabledException", "%s", clientMessage(err, "The key is disabled."))
	case errors.Is(err, kms.ErrKeyPendingDeletion), errors.Is(err, kms.ErrKeyDeleted), errors.Is(err, kms.ErrInvalidState):
		return errf("KMSInvalidStateException", "%s", clientMessage(err, "The key state does not allow this operation."))
	case errors.Is(err, kms.ErrCorrupt):
		return errf("InvalidCiphertextException", "The ciphertext is not valid for this key and encryption context.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{Code: "KMSInternalException", Status: http.StatusInternalServerError, Message: "The request was cancelled."}
	}
	s.log.Error("kms operation failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
	return internalError()
}

// clientMessage is err's message without the "kms: <sentinel>: " prefix,
// capitalized. Messages of internal/kms name keys and aliases, never key
// bytes or data.
func clientMessage(err error, fallback string) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	if msg == "" || len(msg) > 512 {
		return fallback
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// parsePolicy parses a key policy, cached by its SHA-256.
func (s *Service) parsePolicy(doc string) (*iam.Policy, error) {
	sum := sha256.Sum256([]byte(doc))
	s.cache.Lock()
	p, ok := s.cache.m[sum]
	s.cache.Unlock()
	if ok {
		return p, nil
	}
	p, err := iam.ParseWith([]byte(doc), keyPolicyOptions)
	if err != nil {
		return nil, err
	}
	s.cache.Lock()
	if len(s.cache.m) >= 1024 {
		clear(s.cache.m)
	}
	s.cache.m[sum] = p
	s.cache.Unlock()
	return p, nil
}

var keyPolicyOptions = iam.Options{Kind: iam.ResourcePolicy, MaxChars: kms.MaxKeyPolicyBytes}
