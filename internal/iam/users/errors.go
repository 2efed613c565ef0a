package users

import (
	"errors"
	"fmt"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

// The closed vocabulary of Store errors. Every error a Store method returns
// is either an *Error whose Kind is one of these (a condition of the
// request, with a message for the client) or an internal failure (storage,
// sealing, a corrupt record), which the API answers with ServiceFailure.
var (
	// ErrNoSuchEntity: the user, access key or policy does not exist
	// (NoSuchEntity, 404).
	ErrNoSuchEntity = errors.New("users: no such entity")
	// ErrEntityAlreadyExists: a user of that name exists, in any case
	// (EntityAlreadyExists, 409).
	ErrEntityAlreadyExists = errors.New("users: entity already exists")
	// ErrDeleteConflict: the user still has access keys or inline
	// policies (DeleteConflict, 409).
	ErrDeleteConflict = errors.New("users: delete conflict")
	// ErrLimitExceeded: two access keys already, 5000 users, or the
	// inline policies of a user over 2048 characters (LimitExceeded, 409).
	ErrLimitExceeded = errors.New("users: limit exceeded")
	// ErrValidation: a parameter breaks a constraint of the IAM model:
	// length, pattern or enumeration (ValidationError, 400).
	ErrValidation = errors.New("users: validation error")
	// ErrMalformedPolicyDocument: the policy document is not a valid
	// identity policy (MalformedPolicyDocument, 400).
	ErrMalformedPolicyDocument = errors.New("users: malformed policy document")
	// ErrUnknownAccessKey: Lookup found no active key of that ID. It is
	// sigv4.ErrUnknownAccessKey, so sigv4.ErrorCode maps it
	// (UnrecognizedClientException, or InvalidClientTokenId for the query
	// protocol).
	ErrUnknownAccessKey = sigv4.ErrUnknownAccessKey
)

// Error is a condition of the request. Message is for the client, in IAM's
// words; it holds only names the client sent, never a secret.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }

// Unwrap returns the Kind.
func (e *Error) Unwrap() error { return e.Kind }

func errf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func noSuchUser(name string) error {
	return errf(ErrNoSuchEntity, "The user with name %s cannot be found.", name)
}

func noSuchKey(id string) error {
	return errf(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
}

func noSuchPolicy(name string) error {
	return errf(ErrNoSuchEntity, "The user policy with name %s cannot be found.", name)
}
