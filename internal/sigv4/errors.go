package sigv4

import (
	"errors"
	"fmt"
	"net/http"
)

// The closed vocabulary of authentication failures. Every error returned by
// this package is an *Error whose Kind is one of these, so callers test with
// errors.Is.
var (
	// ErrMissingAuthentication: the request carries no signature at all.
	ErrMissingAuthentication = errors.New("sigv4: missing authentication token")
	// ErrIncompleteSignature: the signature is malformed (bad algorithm,
	// credential scope, SignedHeaders or date), or `host` is not signed.
	ErrIncompleteSignature = errors.New("sigv4: incomplete signature")
	// ErrSignatureDoesNotMatch: the signature is well-formed but wrong, the
	// credential scope date is not the request's date, or the
	// x-amz-content-sha256 header is not the body's hash.
	ErrSignatureDoesNotMatch = errors.New("sigv4: signature does not match")
	// ErrSignatureExpired: the request time is more than MaxClockSkew away
	// from the server's clock (either way), or a presigned request expired.
	ErrSignatureExpired = errors.New("sigv4: signature expired")
	// ErrUnknownAccessKey: no active access key has the ID of the
	// credential. sigv4 never returns it; the key store does (internal/iam/
	// users re-exports it) and ErrorCode maps it.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
)

// Error is an authentication failure. Message is what the client is told,
// in AWS's words; it quotes only what the client sent (shortened), never a
// secret or the expected signature.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }

// Unwrap returns the Kind, so errors.Is(err, ErrSignatureExpired) works.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, msg string) *Error { return &Error{Kind: kind, Message: msg} }

func newErrorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode maps an authentication failure to the error code, HTTP status
// and message of the JSON and REST-JSON protocols (EFS, KMS, CloudTrail,
// Config), which the CLI and SDKs turn into typed errors:
//
//	ErrMissingAuthentication  MissingAuthenticationTokenException  403
//	ErrIncompleteSignature    IncompleteSignatureException         400
//	ErrSignatureDoesNotMatch  InvalidSignatureException            403
//	ErrSignatureExpired       InvalidSignatureException            403
//	ErrUnknownAccessKey       UnrecognizedClientException          403
//	anything else             InternalFailure                      500
//
// The message of an *Error is its Message; other errors get a fixed text
// and their cause stays out of the answer.
func ErrorCode(err error) (code string, status int, message string) {
	return mapError(err, jsonCodes)
}

// QueryErrorCode is ErrorCode for the query protocol (IAM, STS), whose
// codes have no "Exception" suffix and name an unknown key differently:
//
//	ErrMissingAuthentication  MissingAuthenticationToken  403
//	ErrIncompleteSignature    IncompleteSignature         400
//	ErrSignatureDoesNotMatch  SignatureDoesNotMatch       403
//	ErrSignatureExpired       SignatureDoesNotMatch       403
//	ErrUnknownAccessKey       InvalidClientTokenId        403
//	anything else             InternalFailure             500
func QueryErrorCode(err error) (code string, status int, message string) {
	return mapError(err, queryCodes)
}

type codeSet struct {
	missing, incomplete, mismatch, expired, unknownKey string
}

var jsonCodes = codeSet{
	missing:    "MissingAuthenticationTokenException",
	incomplete: "IncompleteSignatureException",
	mismatch:   "InvalidSignatureException",
	expired:    "InvalidSignatureException",
	unknownKey: "UnrecognizedClientException",
}

var queryCodes = codeSet{
	missing:    "MissingAuthenticationToken",
	incomplete: "IncompleteSignature",
	mismatch:   "SignatureDoesNotMatch",
	expired:    "SignatureDoesNotMatch",
	unknownKey: "InvalidClientTokenId",
}

const unknownKeyMessage = "The security token included in the request is invalid."

func mapError(err error, c codeSet) (string, int, string) {
	message := func(fallback string) string {
		if e, ok := errors.AsType[*Error](err); ok && e.Message != "" {
			return e.Message
		}
		return fallback
	}
	switch {
	case errors.Is(err, ErrMissingAuthentication):
		return c.missing, http.StatusForbidden, message("Missing Authentication Token")
	case errors.Is(err, ErrIncompleteSignature):
		return c.incomplete, http.StatusBadRequest, message("The request signature does not conform to AWS standards.")
	case errors.Is(err, ErrSignatureExpired):
		return c.expired, http.StatusForbidden, message("Signature expired.")
	case errors.Is(err, ErrSignatureDoesNotMatch):
		return c.mismatch, http.StatusForbidden, message(signatureMismatchMessage)
	case errors.Is(err, ErrUnknownAccessKey):
		return c.unknownKey, http.StatusForbidden, unknownKeyMessage
	default:
		return "InternalFailure", http.StatusInternalServerError, "The request processing has failed because of an unknown error, exception or failure."
	}
}

// CheckScope returns an ErrSignatureDoesNotMatch error unless the credential
// scope of a names one of regions (the edge calls it after routing by
// a.Service, with the regions it serves).
func CheckScope(a Authorization, regions ...string) error {
	for _, r := range regions {
		if a.Region == r {
			return nil
		}
	}
	return newErrorf(ErrSignatureDoesNotMatch, "Credential should be scoped to a valid region, not '%s'.", printable(a.Region))
}
