// Package edge is the HTTP front door of shelfd: one listener (default
// 127.0.0.1:8049) for every AWS-style API that shelf serves. It bounds
// request bodies, reads the SigV4 Authorization header to find the signing
// service (elasticfilesystem, ec2, iam, kms, cloudtrail, config, …),
// authenticates the caller with internal/sigv4 against IAM access keys, and
// hands the request to the Service registered under that signing name. Every
// call becomes a CloudTrail-format record (internal/audit).
//
// This file holds the contracts between the edge and the services; the
// server (internal/server) wires them together. edge must not import
// control, fs or any engine.
package edge

import (
	"context"
	"net/http"
	"time"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

// Principal is an authenticated caller.
type Principal struct {
	// Account is the 12-digit account ID.
	Account string
	// ARN is arn:aws:iam::<account>:root for the account root, or
	// arn:aws:iam::<account>:user/<path><name> for an IAM user.
	ARN string
	// UserName is empty for the root.
	UserName string
	// UserID is the IAM unique ID (AIDA…), or the account ID for the root.
	UserID      string
	AccessKeyID string
	IsRoot      bool
}

// Call describes one authenticated API request, as services and the audit
// trail need it.
type Call struct {
	Principal Principal
	// Service is the SigV4 signing name, e.g. "elasticfilesystem".
	Service string
	// Region is the region of the SigV4 credential scope.
	Region    string
	SourceIP  string
	UserAgent string
	// Secure reports a TLS connection (aws:SecureTransport).
	Secure bool
	// TLSVersion ("TLSv1.3") and TLSCipher (OpenSSL-style name, as in
	// CloudTrail's tlsDetails) are empty without TLS.
	TLSVersion string
	TLSCipher  string
	// Host is the Host header the client sent (tlsDetails'
	// clientProvidedHostHeader).
	Host      string
	RequestID string
	// Time is when the edge received the request.
	Time time.Time
}

// Service serves the requests of one signing service. ServeCall writes the
// whole response (status, headers, body in the protocol of the service) and
// returns the audit outcome of the call.
type Service interface {
	// SigningName is the SigV4 service name this Service answers.
	SigningName() string
	// ServeCall handles one authenticated request whose body (already read
	// and bounded) is body.
	ServeCall(w http.ResponseWriter, r *http.Request, body []byte, call *Call) Outcome
}

// Outcome is what a service tells the audit trail about a call.
type Outcome struct {
	// EventName is the API operation, e.g. "CreateFileSystem".
	EventName string
	ReadOnly  bool
	// RequestParameters and ResponseElements are the CloudTrail fields
	// (nil when absent; never secrets).
	RequestParameters any
	ResponseElements  any
	// Resources are the ARNs the call touched.
	Resources []string
	// ErrorCode and ErrorMessage are set when the call failed.
	ErrorCode    string
	ErrorMessage string
	// Status is the HTTP status that was written.
	Status int
}

// Authorizer decides whether a principal may perform an action, with the
// principal's identity policies (root is allowed everything). The condition
// keys carry aws:SourceIp, aws:SecureTransport, aws:CurrentTime,
// aws:PrincipalArn and the service's own keys.
type Authorizer interface {
	// Authorize returns nil when allowed and an error wrapping
	// ErrAccessDenied when not.
	Authorize(ctx context.Context, call *Call, action, resource string, conditions map[string][]string) error
}

// ErrAccessDenied is wrapped by Authorizer errors for a denied action.
var ErrAccessDenied = errAccessDenied{}

type errAccessDenied struct{}

func (errAccessDenied) Error() string { return "access denied" }

// Credentials finds the principal owning an access key and the key's
// secret (internal/iam/users implements it). Lookup returns an error
// wrapping ErrUnknownAccessKey for a key that does not exist or is not
// active; any other error is an internal failure (the client gets a 500).
// It is called once per request, concurrently.
type Credentials interface {
	Lookup(ctx context.Context, accessKeyID string) (p Principal, secret string, err error)
}

// ErrUnknownAccessKey is wrapped by Credentials errors for an access key
// that does not exist or is inactive. It is sigv4's, which the key store
// (internal/iam/users) re-exports.
var ErrUnknownAccessKey = sigv4.ErrUnknownAccessKey

// Protocol is an AWS wire protocol; it decides how errors are rendered.
type Protocol int

// The protocols of the services the edge serves.
const (
	// RESTJSON is rest-json (EFS): X-Amzn-ErrorType header plus a JSON body.
	RESTJSON Protocol = iota
	// JSON is the json protocol (KMS, CloudTrail, Config): POST / with
	// X-Amz-Target; errors carry "__type".
	JSON
	// Query is the query protocol (IAM, STS): form POSTs, XML responses,
	// <ErrorResponse> errors.
	Query
	// EC2Query is EC2's query dialect: <Response><Errors> errors.
	EC2Query
)

// String names the protocol as the service models do.
func (p Protocol) String() string {
	switch p {
	case RESTJSON:
		return "rest-json"
	case JSON:
		return "json"
	case Query:
		return "query"
	case EC2Query:
		return "ec2"
	}
	return "unknown"
}

// ProtocolService is implemented by a Service whose protocol the edge does
// not know by its signing name (see protocolOf); the edge renders its own
// errors (authentication, body size, internal failures) for that service in
// this protocol.
type ProtocolService interface {
	Service
	Protocol() Protocol
}

// VersionedService is implemented by a Service that tells the API version
// recorded as apiVersion in its CloudTrail records; without it the edge
// uses the version it knows for the signing name.
type VersionedService interface {
	Service
	APIVersion() string
}

// OperationNamer is implemented by a Service that can name the operation of
// a request without serving it. The edge uses it for the eventName of calls
// that failed before they reached the service (a bad signature from a known
// key). Without it the edge guesses from the request (Action= for query
// protocols, X-Amz-Target for json) and falls back to "Unknown".
type OperationNamer interface {
	Service
	OperationName(r *http.Request, body []byte) string
}
