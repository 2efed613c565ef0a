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
	Secure     bool
	TLSVersion string
	TLSCipher  string
	RequestID  string
	Time       time.Time
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
