package api

import (
	"context"
	"errors"
	"strings"

	"github.com/shelf-efs/shelf/internal/edge"
)

// KeyUseChecker decides whether a caller may have EFS use a KMS key for a
// new encrypted file system (internal/kmsapi implements it). CheckKeyUse
// returns nil when allowed or when the key does not exist (the control
// plane answers that), an error wrapping edge.ErrAccessDenied with a message
// for the client when not, and any other error for an internal failure.
type KeyUseChecker interface {
	CheckKeyUse(ctx context.Context, call *edge.Call, ref string) error
}

// SetKeyUseChecker makes CreateFileSystem check, with k, that the caller
// may use the customer key it names. Without one, any key is accepted.
// Call it before serving.
func (s *Service) SetKeyUseChecker(k KeyUseChecker) { s.keyUse = k }

// checkKeyUse answers BadRequest, as EFS does, when the caller may not use
// the key (EFS API reference, CreateFileSystem: the caller needs
// kms:CreateGrant, kms:Decrypt and kms:GenerateDataKeyWithoutPlaintext on
// a customer key).
func (s *Service) checkKeyUse(q *request, ref string) error {
	if s.keyUse == nil || ref == "" {
		return nil
	}
	err := s.keyUse.CheckKeyUse(q.ctx, q.call, ref)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, edge.ErrAccessDenied):
		msg := err.Error()
		if i := strings.Index(msg, "User: "); i >= 0 {
			msg = msg[i:]
		}
		return &apiError{status: 400, code: "BadRequest", msg: "The KMS key cannot be used to create the file system. " + msg}
	}
	return err
}
