package efscert

import (
	"errors"
	"fmt"
)

// Reason is why a certificate was refused: a closed vocabulary, so that
// callers can count refusals by reason (Reason.String is a metric label).
type Reason int

// The reasons. ReasonInternal is a failure of the verifier (the credential
// store did not answer), not of the client.
const (
	ReasonInternal Reason = iota
	// ReasonMalformed: an extension is missing, malformed, too large or
	// holds a value of the wrong form.
	ReasonMalformed
	// ReasonWrongFileSystem: extension 7.3 names another file system.
	ReasonWrongFileSystem
	// ReasonNotYetValid: the certificate or its signature date lies in the
	// future beyond the allowed clock skew.
	ReasonNotYetValid
	// ReasonExpired: the certificate's notAfter or the signature's
	// X-Amz-Expires window has passed.
	ReasonExpired
	// ReasonKeyMismatch: the key proven in the TLS handshake is not the
	// certificate's key, or the certificate's self-signature is invalid.
	ReasonKeyMismatch
	// ReasonUnknownAccessKey: the access key does not exist or is inactive.
	ReasonUnknownAccessKey
	// ReasonSignatureMismatch: the embedded SigV4 signature is wrong.
	ReasonSignatureMismatch
	// ReasonSessionTokenUnsupported: the certificate carries a session
	// token and the credential store cannot resolve session tokens.
	ReasonSessionTokenUnsupported
)

var reasonNames = [...]string{
	ReasonInternal:                "internal",
	ReasonMalformed:               "malformed",
	ReasonWrongFileSystem:         "wrong_file_system",
	ReasonNotYetValid:             "not_yet_valid",
	ReasonExpired:                 "expired",
	ReasonKeyMismatch:             "key_mismatch",
	ReasonUnknownAccessKey:        "unknown_access_key",
	ReasonSignatureMismatch:       "signature_mismatch",
	ReasonSessionTokenUnsupported: "session_token_unsupported",
}

// String returns the snake_case name of r.
func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Error is a refused certificate. Message says what was wrong, quoting only
// what the client sent (shortened) and never a secret or the expected
// signature. Err is the underlying cause, if any.
type Error struct {
	Reason  Reason
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := "efscert: " + e.Reason.String() + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, efscert.ErrExpired) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinels for errors.Is, one per Reason.
var (
	ErrInternal                = &Error{Reason: ReasonInternal, Message: "internal failure"}
	ErrMalformed               = &Error{Reason: ReasonMalformed, Message: "malformed certificate"}
	ErrWrongFileSystem         = &Error{Reason: ReasonWrongFileSystem, Message: "wrong file system"}
	ErrNotYetValid             = &Error{Reason: ReasonNotYetValid, Message: "not yet valid"}
	ErrExpired                 = &Error{Reason: ReasonExpired, Message: "expired"}
	ErrKeyMismatch             = &Error{Reason: ReasonKeyMismatch, Message: "key mismatch"}
	ErrUnknownAccessKey        = &Error{Reason: ReasonUnknownAccessKey, Message: "unknown access key"}
	ErrSignatureMismatch       = &Error{Reason: ReasonSignatureMismatch, Message: "signature mismatch"}
	ErrSessionTokenUnsupported = &Error{Reason: ReasonSessionTokenUnsupported, Message: "session tokens not supported"}
)

// ReasonOf returns the Reason of err: that of the first *Error in its
// chain, ReasonInternal for any other error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonInternal
}

func refusef(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// printable shortens and sanitises a client-supplied string for an error
// message.
func printable(s string) string {
	const maxQuoted = 64
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "…"
	}
	return fmt.Sprintf("%q", s)
}
