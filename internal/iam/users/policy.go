package users

import (
	"errors"
	"fmt"

	"github.com/shelf-efs/shelf/internal/iam"
)

// validatePolicy checks an inline identity policy document of user with
// the policy engine before it is stored: a document that is not a valid
// identity policy is refused whole (ErrMalformedPolicyDocument, with the
// engine's reason as the message), and nothing is written. A single
// document over MaxUserPolicyChars is refused here as LimitExceeded; the
// limit on all of the user's policies together is checked by PutUserPolicy.
func validatePolicy(user string, doc []byte) error {
	_, err := iam.ParseWith(doc, iam.UserInlinePolicyOptions)
	var pe *iam.PolicyError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, iam.ErrTooLarge):
		return errf(ErrLimitExceeded, "Maximum policy size of %d bytes exceeded for user %s", MaxUserPolicyChars, user)
	case errors.As(err, &pe):
		return errf(ErrMalformedPolicyDocument, "%s", pe.Reason)
	}
	return fmt.Errorf("users: parse policy: %w", err)
}

// policyChars counts a document's characters other than whitespace, as
// IAM counts them against MaxUserPolicyChars.
func policyChars(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}
