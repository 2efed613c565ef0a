package iam

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy language versions (the Version element). A policy without Version
// follows 2008-10-17: no policy variables, "${...}" is literal text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Size limits of AWS, in characters.
const (
	// MaxUserInlinePolicyChars bounds an inline policy of an IAM user,
	// counted without whitespace (IAM quotas).
	MaxUserInlinePolicyChars = 2048
	// MaxManagedPolicyChars bounds a customer managed policy, counted
	// without whitespace (IAM quotas).
	MaxManagedPolicyChars = 6144
	// MaxFileSystemPolicyChars bounds an EFS file-system policy, whitespace
	// included (the Policy member of PutFileSystemPolicy, max 20,000).
	MaxFileSystemPolicyChars = 20000
)

// Kind tells which elements a policy must and must not have.
type Kind uint8

const (
	// IdentityPolicy is attached to a user: no Principal or NotPrincipal,
	// and every statement names its resources (Resource or NotResource).
	IdentityPolicy Kind = iota + 1
	// ResourcePolicy is attached to a resource, such as an EFS file-system
	// policy: every statement names a Principal or NotPrincipal; Resource
	// may be left out, meaning the resource the policy is attached to.
	ResourcePolicy
)

func (k Kind) String() string {
	switch k {
	case IdentityPolicy:
		return "identity policy"
	case ResourcePolicy:
		return "resource policy"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Errors of Parse. Every parse error is a *PolicyError wrapping one of
// these, so that the API edge can map it with errors.Is: ErrMalformed to
// MalformedPolicyDocument (IAM) or InvalidPolicyException (EFS), ErrTooLarge
// to LimitExceeded (IAM) or InvalidPolicyException (EFS).
var (
	ErrMalformed = errors.New("iam: malformed policy document")
	ErrTooLarge  = errors.New("iam: policy document too large")
)

// PolicyError says why a document is not an acceptable policy. Reason names
// the element at fault and quotes nothing but the document's own text, so
// it may be sent to the client (Message gives it sentence case).
type PolicyError struct {
	Err    error // ErrMalformed or ErrTooLarge
	Reason string
}

func (e *PolicyError) Error() string { return e.Err.Error() + ": " + e.Reason }
func (e *PolicyError) Unwrap() error { return e.Err }

// Message is Reason as a sentence, in the style of AWS error messages:
// capitalized, ending with a period.
func (e *PolicyError) Message() string {
	m := e.Reason
	if m == "" {
		return m
	}
	r, n := utf8.DecodeRuneInString(m)
	m = string(unicode.ToUpper(r)) + m[n:]
	if !strings.HasSuffix(m, ".") {
		m += "."
	}
	return m
}

func malformedf(format string, args ...any) error {
	return &PolicyError{Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
}

// Options says how to parse a document.
type Options struct {
	// Kind is IdentityPolicy when zero.
	Kind Kind
	// MaxChars bounds the size of the document in characters (Unicode code
	// points); zero means no bound.
	MaxChars int
	// IgnoreWhitespace leaves space, tab, CR and LF out of the count, as IAM
	// does for identity policies.
	IgnoreWhitespace bool
}

// Options of the AWS limits.
var (
	// UserInlinePolicyOptions: an inline policy of an IAM user.
	UserInlinePolicyOptions = Options{Kind: IdentityPolicy, MaxChars: MaxUserInlinePolicyChars, IgnoreWhitespace: true}
	// FileSystemPolicyOptions: an EFS file-system policy.
	FileSystemPolicyOptions = Options{Kind: ResourcePolicy, MaxChars: MaxFileSystemPolicyChars}
)

// Policy is a parsed, validated policy document. It is immutable and safe
// for concurrent use. Keep the original document text to show it back to
// users (GetUserPolicy, DescribeFileSystemPolicy); MarshalJSON gives a
// canonical form, not the original.
type Policy struct {
	kind       Kind
	version    string // "" when absent
	id         string
	statements []statement
}

// Kind reports the kind the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// Version reports the Version element, "" when absent.
func (p *Policy) Version() string { return p.version }

// ID reports the Id element, "" when absent.
func (p *Policy) ID() string { return p.id }

// Parse parses an identity policy, of any size. A document that is not a
// valid policy is rejected whole, with a *PolicyError.
func Parse(doc []byte) (*Policy, error) {
	return ParseWith(doc, Options{Kind: IdentityPolicy})
}

// ParseResourcePolicy parses a resource policy (such as an EFS file-system
// policy), of any size.
func ParseResourcePolicy(doc []byte) (*Policy, error) {
	return ParseWith(doc, Options{Kind: ResourcePolicy})
}

// ParseWithLimit parses an identity policy of at most maxChars characters,
// whitespace included.
func ParseWithLimit(doc []byte, maxChars int) (*Policy, error) {
	return ParseWith(doc, Options{Kind: IdentityPolicy, MaxChars: maxChars})
}

// ParseWith parses a document as opts say. The size is checked before
// anything else, so an oversized document costs one pass over its bytes.
func ParseWith(doc []byte, opts Options) (*Policy, error) {
	kind := opts.Kind
	if kind == 0 {
		kind = IdentityPolicy
	}
	if kind != IdentityPolicy && kind != ResourcePolicy {
		return nil, fmt.Errorf("iam: parse: unknown policy kind %d", kind)
	}
	if !utf8.Valid(doc) {
		return nil, malformedf("the policy document is not valid UTF-8")
	}
	if opts.MaxChars > 0 && len(doc) > opts.MaxChars {
		if n := countChars(doc, opts.IgnoreWhitespace); n > opts.MaxChars {
			what := "characters"
			if opts.IgnoreWhitespace {
				what = "characters other than whitespace"
			}
			return nil, &PolicyError{Err: ErrTooLarge, Reason: fmt.Sprintf(
				"the policy document has %d %s, more than the limit of %d", n, what, opts.MaxChars)}
		}
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	return parseDocument(root, kind)
}

func countChars(doc []byte, ignoreWhitespace bool) int {
	if !ignoreWhitespace {
		return utf8.RuneCount(doc)
	}
	n := 0
	for _, r := range string(doc) {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}
