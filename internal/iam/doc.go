// Package iam is shelf's IAM policy engine: it parses and validates policy
// documents in the IAM JSON policy language and evaluates them. It knows
// nothing of HTTP, NFS or storage: callers bring the principal, action,
// resource and request context (an iam.Request) and get a Decision. It
// must not import any other package of shelf.
//
// # Parsing
//
// Parse, ParseResourcePolicy, ParseWithLimit and ParseWith accept Version
// 2012-10-17 or 2008-10-17 (absent means 2008: no policy variables), Id,
// and Statement as one object or a non-empty array. Each statement has
// Effect, exactly one of Action and NotAction, at most one of Resource and
// NotResource, and Condition; identity policies must name resources and
// must not name principals; resource policies must have Principal or
// NotPrincipal. Strings may be arrays wherever IAM allows. A document with
// unknown or duplicate keys, wrong types, an unknown condition operator, a
// malformed action, resource, principal or typed condition value is
// refused whole with a *PolicyError, whose Reason can be sent to clients as
// the message of MalformedPolicyDocument (IAM) or InvalidPolicyException
// (EFS). Size limits (MaxUserInlinePolicyChars, MaxFileSystemPolicyChars)
// are checked first, and refused with ErrTooLarge.
//
// # Evaluation
//
// Decide applies the AWS evaluation logic for one account: an explicit
// Deny anywhere wins; otherwise an Allow from an identity policy or from
// the resource policy (for the principal it names) allows; otherwise the
// request is implicitly denied. The account root bypasses identity
// policies, and an anonymous principal only matches Principal "*". The
// semantics of each condition operator, of missing keys, IfExists, Null,
// ForAnyValue and ForAllValues follow the IAM User Guide, cited where they
// are implemented (condition.go).
//
// # How shelf uses it
//
// The API edge authorizes every EFS call as elasticfilesystem:<Operation>
// on the resource ARN, with the caller's identity policies and, for calls
// on a file system, its file-system policy as the resource policy.
//
// NFS clients are authorized with the file-system policy as the resource
// policy: ClientMount to mount (read-only), ClientWrite to write,
// ClientRootAccess to act as UID 0 (otherwise root is squashed). A client
// mounting with IAM (efs-utils -o tls,iam) is evaluated as its IAM
// principal with its identity policies; any other client is Anonymous. The
// request context carries elasticfilesystem:AccessPointArn,
// elasticfilesystem:AccessedViaMountTarget, aws:SecureTransport and
// aws:SourceIp. With no file-system policy EFS grants full access (the
// default policy, DefaultFileSystemPolicy); that default is applied by the
// caller, and DescribeFileSystemPolicy then answers PolicyNotFound.
// PutFileSystemPolicy refuses a policy for which LocksOut is true unless
// BypassPolicyLockoutSafetyCheck is set.
package iam
