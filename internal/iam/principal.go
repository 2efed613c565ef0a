package iam

import (
	"strings"

	"github.com/shelf-efs/shelf/internal/awsid"
)

// Principal is the caller a request is evaluated for.
type Principal struct {
	// ARN is arn:aws:iam::<account>:root for the account root, or the ARN of
	// an IAM user (arn:aws:iam::<account>:user/<path><name>) or role.
	ARN string
	// Account is the 12-digit account ID; when empty it is taken from ARN.
	Account string
	// IsRoot marks the account root user.
	IsRoot bool
	// Anonymous marks a caller without an identity, such as an NFS client
	// that mounts without IAM. It matches only Principal "*" and
	// {"AWS": "*"}, and no identity policy applies to it. It overrides the
	// other fields.
	Anonymous bool
}

// principalSpec is a parsed Principal or NotPrincipal element.
type principalSpec struct {
	star bool // the string form "*"
	// Values by principal type, in document order.
	aws, canonicalUser, federated, service []string
}

// principalTypes are the keys of a Principal object, in the order
// MarshalJSON writes them.
var principalTypes = []string{"AWS", "CanonicalUser", "Federated", "Service"}

func (ps *principalSpec) list(typ string) *[]string {
	switch typ {
	case "AWS":
		return &ps.aws
	case "CanonicalUser":
		return &ps.canonicalUser
	case "Federated":
		return &ps.federated
	case "Service":
		return &ps.service
	}
	return nil
}

// validAWSPrincipal checks one value of "AWS": "*", a 12-digit account
// ID, or an ARN without wildcards. IAM refuses partial wildcards in
// principals ("You cannot use a wildcard to match part of a principal name
// or ARN", IAM User Guide, Principal).
func validAWSPrincipal(v string) bool {
	if v == "*" || awsid.ValidAccount(v) {
		return true
	}
	if strings.ContainsAny(v, "*?") {
		return false
	}
	parts := strings.SplitN(v, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] != "" && parts[5] != ""
}

// rootAccount returns the account of an account principal: a bare account
// ID or arn:<partition>:iam::<account>:root.
func rootAccount(v string) (string, bool) {
	if awsid.ValidAccount(v) {
		return v, true
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[3] == "" && parts[5] == "root" && awsid.ValidAccount(parts[4]) {
		return parts[4], true
	}
	return "", false
}

// identity is one name a principal answers to.
type identity struct {
	anonymous bool
	account   string // an account, as named by an account principal
	arn       string // an IAM user or role
}

// normPrincipal is the chain of identities of a caller: the account root
// is its account; a user is its ARN and its account; an anonymous caller
// is only anonymous.
type normPrincipal struct {
	anonymous bool
	root      bool
	arn       string
	account   string
	// self is the identity the caller is, not merely belongs to (nil for
	// anonymous); chain is every identity it answers to.
	self  *identity
	chain []identity
}

func normalizePrincipal(p Principal) normPrincipal {
	if p.Anonymous || (p.ARN == "" && p.Account == "") {
		return normPrincipal{anonymous: true, chain: []identity{{anonymous: true}}}
	}
	n := normPrincipal{arn: p.ARN, account: p.Account, root: p.IsRoot}
	if n.account == "" {
		if parts := strings.SplitN(p.ARN, ":", 6); len(parts) == 6 {
			n.account = parts[4]
		}
	}
	if n.root {
		if n.account != "" {
			n.chain = append(n.chain, identity{account: n.account})
		}
		if a, ok := rootAccount(n.arn); ok && a != n.account {
			n.chain = append(n.chain, identity{account: a})
		}
	} else if n.arn != "" {
		n.chain = append(n.chain, identity{arn: n.arn})
	}
	if len(n.chain) > 0 {
		n.self = &n.chain[0]
	}
	if !n.root && n.account != "" {
		n.chain = append(n.chain, identity{account: n.account})
	}
	if len(n.chain) == 0 {
		n.chain = []identity{{anonymous: true}}
	}
	return n
}

// wildcard reports "*" or {"AWS": "*"}: everyone, anonymous callers
// included (IAM User Guide, Principal: the two forms are equivalent).
func (ps *principalSpec) wildcard() bool {
	if ps.star {
		return true
	}
	for _, v := range ps.aws {
		if v == "*" {
			return true
		}
	}
	return false
}

// names reports whether ps names the identity id. Only "AWS" values name
// shelf's principals: service, federated and canonical-user principals
// never make requests here.
func (ps *principalSpec) names(id identity) bool {
	if id.anonymous {
		return false
	}
	for _, v := range ps.aws {
		if a, ok := rootAccount(v); ok {
			if id.account != "" && a == id.account {
				return true
			}
		} else if id.arn != "" && v == id.arn {
			return true
		}
	}
	return false
}

// appliesTo decides whether a statement with this Principal (not=false) or
// NotPrincipal (not=true) element applies to p, given its effect.
//
// An account principal grants to the account root only: for other
// identities of the account it "delegates" to their identity policies
// (IAM User Guide, Principal: AWS account principals), so an Allow needs p
// itself to be named. A Deny that names the account or p applies to p.
// NotPrincipal is the exception list: an Allow skips p when any identity of
// its chain is listed; a Deny skips p only when every identity of the
// chain is listed, because AWS may evaluate the account before the user
// and the guide says to list the account too (IAM User Guide,
// NotPrincipal with Deny). In doubt, each rule grants less and denies more.
func (ps *principalSpec) appliesTo(p *normPrincipal, not, allow bool) bool {
	if ps.wildcard() {
		return !not
	}
	named := func(all bool) bool {
		for _, id := range p.chain {
			if ps.names(id) != all {
				return !all
			}
		}
		return all && len(p.chain) > 0
	}
	switch {
	case !not && allow:
		return p.self != nil && ps.names(*p.self)
	case !not && !allow:
		return named(false)
	case not && allow:
		return !named(false)
	default:
		return !named(true)
	}
}
