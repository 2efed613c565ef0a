// Package jsonapi is the scaffolding that the services of the json protocol
// (KMS, AWS Config, CloudTrail) share: POST / with X-Amz-Target:
// <Prefix>.<Operation>, JSON 1.1 bodies, errors as {"__type","message"}.
// It dispatches X-Amz-Target through a table of operations and writes
// results and errors with their audit outcome. Each service keeps its own
// error codes, messages, request decoding and paging.
//
// jsonapi imports edge (the contracts) only; like edge it must not import
// control, fs or any engine.
package jsonapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/edge"
)

// ContentType is the media type of json-protocol bodies.
const ContentType = "application/x-amz-json-1.1"

// Errf is a client error (HTTP 400) with code and a formatted message.
func Errf(code, format string, args ...any) *edge.APIError {
	return &edge.APIError{Code: code, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Op is one operation of a service: its handler and whether it only reads
// (the audit record's readOnly).
type Op[H any] struct {
	Fn       H
	ReadOnly bool
}

// Table maps X-Amz-Target values to operations: the target is one of
// Prefixes followed by a key of Ops. It is read-only once built and safe
// for concurrent use.
type Table[H any] struct {
	Prefixes []string
	Ops      map[string]Op[H]
}

// Lookup returns the operation r's X-Amz-Target names; ok is false for a
// target without a known prefix or with an unknown operation.
func (t *Table[H]) Lookup(r *http.Request) (name string, op Op[H], ok bool) {
	target := r.Header.Get("X-Amz-Target")
	for _, p := range t.Prefixes {
		if name, found := strings.CutPrefix(target, p); found {
			op, ok = t.Ops[name]
			return name, op, ok
		}
	}
	return "", Op[H]{}, false
}

// OperationName is the known operation of r's X-Amz-Target, or "" (see
// edge.OperationNamer).
func (t *Table[H]) OperationName(r *http.Request) string {
	name, _, ok := t.Lookup(r)
	if !ok {
		return ""
	}
	return name
}

// Fail writes e as a json-protocol error and returns out with the error
// recorded; a failed call has no responseElements.
func Fail(w http.ResponseWriter, requestID string, out *edge.Outcome, e *edge.APIError) edge.Outcome {
	edge.WriteError(w, edge.JSON, requestID, e)
	out.ErrorCode, out.ErrorMessage, out.Status = e.Code, e.Message, e.Status
	out.ResponseElements = nil
	return *out
}

// Reply ends a call: it writes e when it is not nil, else resp as the JSON
// body of a 200 response. A resp that does not encode is answered with
// encodeFailed(err) (not nil: each service answers its own internal error).
func Reply(w http.ResponseWriter, requestID string, out *edge.Outcome, resp any, e *edge.APIError, encodeFailed func(error) *edge.APIError) edge.Outcome {
	if e != nil {
		return Fail(w, requestID, out, e)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return Fail(w, requestID, out, encodeFailed(err))
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set(edge.HeaderRequestID, requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	out.Status = http.StatusOK
	return *out
}
