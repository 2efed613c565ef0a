package users

import (
	"fmt"
	"unicode/utf8"

	"github.com/shelf-efs/shelf/internal/iam"
)

// Constraints of the IAM 2010-05-08 model for the parameters this package
// takes. Violations are ValidationError, worded as IAM words them.
const (
	maxUserNameLen   = 64
	maxPathLen       = 512
	maxPolicyNameLen = 128
	maxPolicyDocLen  = 131072
	maxMarkerLen     = 320
	minKeyIDLen      = 16
	maxKeyIDLen      = 128
	// DefaultMaxItems and MaxMaxItems bound the pages of the List calls.
	DefaultMaxItems = 100
	MaxMaxItems     = 1000
	// MaxUsers is the IAM quota of users per account.
	MaxUsers = 5000
	// MaxAccessKeysPerUser is the IAM quota of access keys per user (and
	// for the root).
	MaxAccessKeysPerUser = 2
	// MaxUserPolicyChars bounds the inline policies of one user together,
	// counted without whitespace (the IAM quota).
	MaxUserPolicyChars = iam.MaxUserInlinePolicyChars
)

// Access key states.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

func invalid(member, value, constraint string) error {
	return errf(ErrValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must %s", value, member, constraint)
}

func missing(member string) error {
	return errf(ErrValidation, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

func checkLen(member, v string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(v)
	switch {
	case n < minLen:
		return invalid(member, v, fmt.Sprintf("have length greater than or equal to %d", minLen))
	case n > maxLen:
		return invalid(member, shorten(v), fmt.Sprintf("have length less than or equal to %d", maxLen))
	}
	return nil
}

// shorten keeps error messages bounded when they quote a long value.
func shorten(v string) string {
	if len(v) > 128 {
		return v[:128] + "…"
	}
	return v
}

// isNameChar is the class [\w+=,.@-] of user and policy names.
func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-'
}

func validateName(member, v string, maxLen int) error {
	if v == "" {
		return missing(member)
	}
	if err := checkLen(member, v, 1, maxLen); err != nil {
		return err
	}
	for i := 0; i < len(v); i++ {
		if !isNameChar(v[i]) {
			return invalid(member, v, `satisfy regular expression pattern: [\w+=,.@-]+`)
		}
	}
	return nil
}

func validateUserName(v string) error { return validateName("userName", v, maxUserNameLen) }

func validatePolicyName(v string) error { return validateName("policyName", v, maxPolicyNameLen) }

// validatePath checks a user path: "/" or "/" + printable ASCII + "/".
func validatePath(v string) error {
	if err := checkLen("path", v, 1, maxPathLen); err != nil {
		return err
	}
	if v == "/" {
		return nil
	}
	ok := len(v) >= 3 && v[0] == '/' && v[len(v)-1] == '/'
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= 0x21 && v[i] <= 0x7e
	}
	if !ok {
		return invalid("path", v, `satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	}
	return nil
}

// validatePathPrefix checks the PathPrefix of ListUsers.
func validatePathPrefix(v string) error {
	if err := checkLen("pathPrefix", v, 1, maxPathLen); err != nil {
		return err
	}
	ok := v[0] == '/'
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= 0x21 && v[i] <= 0x7f
	}
	if !ok {
		return invalid("pathPrefix", v, `satisfy regular expression pattern: \u002F[\u0021-\u007F]*`)
	}
	return nil
}

func validateKeyID(v string) error {
	if v == "" {
		return missing("accessKeyId")
	}
	if err := checkLen("accessKeyId", v, minKeyIDLen, maxKeyIDLen); err != nil {
		return err
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return invalid("accessKeyId", v, `satisfy regular expression pattern: [\w]+`)
		}
	}
	return nil
}

func validateStatus(v string) error {
	switch v {
	case "":
		return missing("status")
	case StatusActive, StatusInactive:
		return nil
	}
	return invalid("status", shorten(v), "satisfy enum value set: [Active, Inactive]")
}

// validatePage checks MaxItems and Marker and returns the page size.
func validatePage(maxItems int, marker string) (int, error) {
	switch {
	case maxItems == 0:
		maxItems = DefaultMaxItems
	case maxItems < 1:
		return 0, invalid("maxItems", fmt.Sprint(maxItems), "have value greater than or equal to 1")
	case maxItems > MaxMaxItems:
		return 0, invalid("maxItems", fmt.Sprint(maxItems), fmt.Sprintf("have value less than or equal to %d", MaxMaxItems))
	}
	if marker != "" {
		if err := checkLen("marker", marker, 1, maxMarkerLen); err != nil {
			return 0, err
		}
	}
	return maxItems, nil
}
