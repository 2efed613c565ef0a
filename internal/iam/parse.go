package iam

import (
	"fmt"
	"strings"
)

// statement is one parsed Statement.
type statement struct {
	sid          string
	allow        bool
	notAction    bool
	actions      []actionPattern
	hasResource  bool // Resource or NotResource present
	notResource  bool
	resources    []template
	hasPrincipal bool // Principal or NotPrincipal present
	notPrincipal bool
	principal    principalSpec
	conditions   []condition
}

type actionPattern struct {
	text string
	pat  pattern // lower-cased: actions match case-insensitively
}

func parseDocument(root jsonValue, kind Kind) (*Policy, error) {
	if root.kind != jsonObject {
		return nil, malformedf("the policy document must be a JSON object, not %v", root.kind)
	}
	p := &Policy{kind: kind}
	var stmts *jsonValue
	for i := range root.obj {
		m := &root.obj[i]
		switch m.key {
		case "Version":
			if m.val.kind != jsonString || (m.val.str != Version2012 && m.val.str != Version2008) {
				return nil, malformedf("Version must be %q or %q", Version2012, Version2008)
			}
			p.version = m.val.str
		case "Id":
			if m.val.kind != jsonString {
				return nil, malformedf("Id must be a string, not %v", m.val.kind)
			}
			p.id = m.val.str
		case "Statement":
			stmts = &m.val
		default:
			return nil, malformedf("unknown element %q in the policy document (expected Version, Id, Statement)", m.key)
		}
	}
	if stmts == nil {
		return nil, malformedf("the policy document has no Statement")
	}
	vars := p.version == Version2012
	switch stmts.kind {
	case jsonObject:
		s, err := parseStatement(stmts, kind, vars, "Statement")
		if err != nil {
			return nil, err
		}
		p.statements = []statement{s}
	case jsonArray:
		if len(stmts.arr) == 0 {
			return nil, malformedf("Statement must not be empty")
		}
		p.statements = make([]statement, 0, len(stmts.arr))
		for i := range stmts.arr {
			where := fmt.Sprintf("Statement[%d]", i)
			if stmts.arr[i].kind != jsonObject {
				return nil, malformedf("%s must be an object, not %v", where, stmts.arr[i].kind)
			}
			s, err := parseStatement(&stmts.arr[i], kind, vars, where)
			if err != nil {
				return nil, err
			}
			p.statements = append(p.statements, s)
		}
	default:
		return nil, malformedf("Statement must be an object or an array of objects, not %v", stmts.kind)
	}
	sids := map[string]bool{}
	for _, s := range p.statements {
		if s.sid == "" {
			continue
		}
		if sids[s.sid] {
			return nil, malformedf("statement IDs (Sid) must be unique in a policy: %q appears twice", s.sid)
		}
		sids[s.sid] = true
	}
	return p, nil
}

func parseStatement(v *jsonValue, kind Kind, vars bool, where string) (statement, error) {
	var s statement
	var hasEffect bool
	var principal, resource, action *jsonMember
	for i := range v.obj {
		m := &v.obj[i]
		at := where + "." + m.key
		switch m.key {
		case "Sid":
			if m.val.kind != jsonString {
				return s, malformedf("%s must be a string, not %v", at, m.val.kind)
			}
			if kind == IdentityPolicy && !isAlnum(m.val.str) {
				return s, malformedf("%s %q: statement IDs of identity policies must be alphanumeric", at, m.val.str)
			}
			s.sid = m.val.str
		case "Effect":
			if m.val.kind != jsonString || (m.val.str != "Allow" && m.val.str != "Deny") {
				return s, malformedf("%s must be \"Allow\" or \"Deny\"", at)
			}
			s.allow, hasEffect = m.val.str == "Allow", true
		case "Action", "NotAction":
			if action != nil {
				return s, malformedf("%s has both %s and %s", where, action.key, m.key)
			}
			action = m
		case "Resource", "NotResource":
			if resource != nil {
				return s, malformedf("%s has both %s and %s", where, resource.key, m.key)
			}
			resource = m
		case "Principal", "NotPrincipal":
			if principal != nil {
				return s, malformedf("%s has both %s and %s", where, principal.key, m.key)
			}
			principal = m
		case "Condition":
			conds, err := parseConditions(&m.val, vars, at)
			if err != nil {
				return s, err
			}
			s.conditions = conds
		default:
			return s, malformedf("unknown element %q in %s (expected Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)", m.key, where)
		}
	}
	if !hasEffect {
		return s, malformedf("%s has no Effect", where)
	}
	if action == nil {
		return s, malformedf("%s has no Action or NotAction", where)
	}
	at := where + "." + action.key
	list, err := stringList(&action.val, at)
	if err != nil {
		return s, err
	}
	s.notAction = action.key == "NotAction"
	for i, a := range list {
		if !validAction(a) {
			return s, malformedf("%s: %q is not an action: write \"*\" or service:Action, such as \"elasticfilesystem:ClientMount\" or \"elasticfilesystem:Describe*\"", itemPath(at, i, len(list)), a)
		}
		s.actions = append(s.actions, actionPattern{text: a, pat: compileGlob(strings.ToLower(a))})
	}

	if resource != nil {
		at := where + "." + resource.key
		list, err := stringList(&resource.val, at)
		if err != nil {
			return s, err
		}
		s.hasResource, s.notResource = true, resource.key == "NotResource"
		for i, r := range list {
			ip := itemPath(at, i, len(list))
			if !validResource(r) {
				return s, malformedf("%s: %q is not \"*\" or an ARN (arn:partition:service:region:account:resource, with the service written out)", ip, r)
			}
			t, err := compileTemplate(r, vars)
			if err != nil {
				return s, malformedf("%s: %s", ip, err.(*PolicyError).Reason)
			}
			s.resources = append(s.resources, t)
		}
	} else if kind == IdentityPolicy {
		return s, malformedf("%s has no Resource or NotResource", where)
	}

	if principal != nil {
		if kind == IdentityPolicy {
			return s, malformedf("%s: an identity policy must not have %s", where, principal.key)
		}
		ps, err := parsePrincipal(&principal.val, where+"."+principal.key)
		if err != nil {
			return s, err
		}
		s.hasPrincipal, s.notPrincipal, s.principal = true, principal.key == "NotPrincipal", ps
	} else if kind == ResourcePolicy {
		return s, malformedf("%s has no Principal or NotPrincipal", where)
	}
	return s, nil
}

func itemPath(at string, i, n int) string {
	if n == 1 {
		return at
	}
	return fmt.Sprintf("%s[%d]", at, i)
}

// stringList reads a string or a non-empty array of strings.
func stringList(v *jsonValue, at string) ([]string, error) {
	switch v.kind {
	case jsonString:
		return []string{v.str}, nil
	case jsonArray:
		if len(v.arr) == 0 {
			return nil, malformedf("%s must not be empty", at)
		}
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			if e.kind != jsonString {
				return nil, malformedf("%s[%d] must be a string, not %v", at, i, e.kind)
			}
			out[i] = e.str
		}
		return out, nil
	}
	return nil, malformedf("%s must be a string or an array of strings, not %v", at, v.kind)
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validAction accepts "*" and service:Action, where the service prefix is
// written out (letters, digits, hyphens) and the action name is letters
// and digits with the wildcards * and ?.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '?' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validResource accepts "*" and ARN patterns that name their service
// (arn:partition:service[:…]): IAM refuses "Resource vendor must be fully
// qualified and cannot contain regexes". Fewer than six components are
// accepted, since a trailing '*' spans the rest ("arn:aws:s3:*").
func validResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	return len(parts) >= 3 && parts[0] == "arn" && parts[2] != "" && !strings.ContainsAny(parts[2], "*?")
}

func parsePrincipal(v *jsonValue, at string) (principalSpec, error) {
	var ps principalSpec
	switch v.kind {
	case jsonString:
		if v.str != "*" {
			return ps, malformedf("%s: the only principal written as a string is \"*\"; write {\"AWS\": %q}", at, v.str)
		}
		ps.star = true
		return ps, nil
	case jsonObject:
	default:
		return ps, malformedf("%s must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::111122223333:user/name\"}, not %v", at, v.kind)
	}
	if len(v.obj) == 0 {
		return ps, malformedf("%s must not be empty", at)
	}
	for i := range v.obj {
		m := &v.obj[i]
		dst := ps.list(m.key)
		if dst == nil {
			return ps, malformedf("%s: unknown principal type %q (expected AWS, Service, Federated, CanonicalUser)", at, m.key)
		}
		mat := at + "." + m.key
		list, err := stringList(&m.val, mat)
		if err != nil {
			return ps, err
		}
		for j, s := range list {
			ip := itemPath(mat, j, len(list))
			switch {
			case s == "":
				return ps, malformedf("%s must not be empty", ip)
			case m.key == "AWS" && !validAWSPrincipal(s):
				return ps, malformedf("%s: invalid principal %q: write \"*\", a 12-digit account ID or an ARN without wildcards", ip, s)
			case m.key != "AWS" && s != "*" && strings.ContainsAny(s, "*?"):
				return ps, malformedf("%s: invalid principal %q: wildcards are not allowed in principals", ip, s)
			}
		}
		*dst = list
	}
	return ps, nil
}

func parseConditions(v *jsonValue, vars bool, at string) ([]condition, error) {
	if v.kind != jsonObject {
		return nil, malformedf("%s must be an object, not %v", at, v.kind)
	}
	var out []condition
	for i := range v.obj {
		opm := &v.obj[i]
		opAt := at + "." + opm.key
		info, qual, ifExists, ok := parseOperator(opm.key)
		if !ok {
			return nil, malformedf("%s: unknown condition operator %q", at, opm.key)
		}
		if opm.val.kind != jsonObject {
			return nil, malformedf("%s must be an object of condition keys, not %v", opAt, opm.val.kind)
		}
		if len(opm.val.obj) == 0 {
			return nil, malformedf("%s must name at least one condition key", opAt)
		}
		for j := range opm.val.obj {
			km := &opm.val.obj[j]
			kAt := opAt + "." + km.key
			if strings.TrimSpace(km.key) == "" {
				return nil, malformedf("%s: a condition key must not be empty", opAt)
			}
			texts, err := conditionValues(&km.val, kAt)
			if err != nil {
				return nil, err
			}
			c := condition{opText: opm.key, op: info, qual: qual, ifExists: ifExists, key: km.key, keyLower: strings.ToLower(km.key)}
			for n, t := range texts {
				cv, err := parseCondValue(info, t, vars, itemPath(kAt, n, len(texts)))
				if err != nil {
					return nil, err
				}
				c.values = append(c.values, cv)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a condition value or a non-empty array of them.
// Numbers and booleans are taken as the strings they are written as
// (10 → "10", true → "true"), as IAM does.
func conditionValues(v *jsonValue, at string) ([]string, error) {
	scalar := func(e *jsonValue, at string) (string, error) {
		switch e.kind {
		case jsonString, jsonNumber:
			return e.str, nil
		case jsonBool:
			if e.b {
				return "true", nil
			}
			return "false", nil
		}
		return "", malformedf("%s must be a string, number or boolean, not %v", at, e.kind)
	}
	if v.kind != jsonArray {
		s, err := scalar(v, at)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	if len(v.arr) == 0 {
		return nil, malformedf("%s must not be an empty array", at)
	}
	out := make([]string, len(v.arr))
	for i := range v.arr {
		s, err := scalar(&v.arr[i], fmt.Sprintf("%s[%d]", at, i))
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
