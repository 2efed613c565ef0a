package iam

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a compiled wildcard string: each element is a literal rune
// (>= 0) or one of the wildcards below. Keeping wildcards apart from runes
// lets substituted variable values and ${*}, ${?} stay literal.
type pattern []int32

const (
	wildStar  int32 = -1 // '*': any run of characters, possibly empty
	wildQmark int32 = -2 // '?': exactly one character
)

// compileGlob compiles s with '*' and '?' as wildcards and nothing else
// special.
func compileGlob(s string) pattern {
	p := make(pattern, 0, len(s))
	for _, r := range s {
		p = appendRune(p, r)
	}
	return p
}

func appendRune(p pattern, r rune) pattern {
	switch r {
	case '*':
		return append(p, wildStar)
	case '?':
		return append(p, wildQmark)
	}
	return append(p, r)
}

func appendLiteral(p pattern, s string) pattern {
	for _, r := range s {
		p = append(p, r)
	}
	return p
}

// match reports whether s matches p. Characters are Unicode code points;
// matching is case-sensitive (callers lower both sides for actions). The
// star loop backtracks only to the last star, so the cost is O(len(p)·len(s)).
func (p pattern) match(s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case wildStar:
				starP, starS = pi, si
				pi++
				continue
			case wildQmark:
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			default:
				if r, n := utf8.DecodeRuneInString(s[si:]); r == rune(c) {
					si += n
					pi++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si, pi = starS, starP+1
	}
	for pi < len(p) && p[pi] == wildStar {
		pi++
	}
	return pi == len(p)
}

// String renders p with its wildcards as '*' and '?'; literal '*' and '?'
// render the same, so String is for equality operators and messages only.
func (p pattern) String() string {
	var b strings.Builder
	for _, c := range p {
		switch c {
		case wildStar:
			b.WriteByte('*')
		case wildQmark:
			b.WriteByte('?')
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}

// splitARN splits p at its first five literal colons: the six components
// of an ARN (arn:partition:service:region:account:resource), the last of
// which may hold colons. ok is false with fewer than six components.
func (p pattern) splitARN() (parts [6]pattern, ok bool) {
	n, start := 0, 0
	for i, c := range p {
		if c == ':' && n < 5 {
			parts[n] = p[start:i]
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return parts, false
	}
	parts[5] = p[start:]
	return parts, true
}

// matchARN matches an ARN component by component, as ArnLike does: "Each
// of the six colon-delimited components of the ARN is checked separately"
// (IAM User Guide, ARN condition operators), so a wildcard never spans one
// of the first five colons. A value of fewer than six components does not
// match.
func matchARN(pat [6]pattern, s string) bool {
	comps := strings.SplitN(s, ":", 6)
	if len(comps) != 6 {
		return false
	}
	for i := range pat {
		if !pat[i].match(comps[i]) {
			return false
		}
	}
	return true
}

// A template is a string of the policy where policy variables may occur:
// Resource, NotResource and the values of string, ARN and Bool
// conditions. In a 2012-10-17 policy "${name}" is replaced by the value of
// the request's single-valued key name, "${name, 'default'}" falls back to
// default, and ${*}, ${?}, ${$} stand for the literal characters (IAM User
// Guide, "IAM policy elements: Variables and tags").
type template struct {
	text  string
	parts []tmplPart // nil when the template has no variable
	// static is the compiled template when it has no variable.
	static pattern
}

type tmplPart struct {
	lit     pattern // literal text with wildcards; nil for a variable
	name    string  // lower-cased key name of a variable
	def     string
	hasDef  bool
	isVar   bool
	literal string // ${*}, ${?}, ${$}: the literal character
}

// compileTemplate compiles s; with vars false (a 2008-10-17 policy) "${"
// has no meaning.
func compileTemplate(s string, vars bool) (template, error) {
	t := template{text: s}
	if !vars || !strings.Contains(s, "${") {
		t.static = compileGlob(s)
		return t, nil
	}
	rest := s
	hasVar := false
	for rest != "" {
		i := strings.Index(rest, "${")
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: compileGlob(rest)})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: compileGlob(rest[:i])})
		}
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return template{}, malformedf("unterminated policy variable in %q", s)
		}
		body := rest[:j]
		rest = rest[j+1:]
		switch body {
		case "*", "?", "$":
			t.parts = append(t.parts, tmplPart{literal: body})
			continue
		}
		v, err := parseVariable(body, s)
		if err != nil {
			return template{}, err
		}
		t.parts = append(t.parts, v)
		hasVar = true
	}
	if !hasVar {
		// Only ${*}, ${?}, ${$}: resolve once.
		t.static, _ = t.resolve(nil)
		t.parts = nil
	}
	return t, nil
}

// parseVariable parses the inside of "${...}": a key name, optionally
// followed by ", 'default'".
func parseVariable(body, whole string) (tmplPart, error) {
	name, def, hasDef := strings.Cut(body, ",")
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n'$") {
		return tmplPart{}, malformedf("invalid policy variable ${%s} in %q", body, whole)
	}
	v := tmplPart{isVar: true, name: strings.ToLower(name)}
	if hasDef {
		d := strings.TrimSpace(def)
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return tmplPart{}, malformedf("invalid default value in policy variable ${%s} in %q: quote it as 'value'", body, whole)
		}
		v.def, v.hasDef = d[1:len(d)-1], true
	}
	return v, nil
}

// hasVars reports whether resolving t needs the request.
func (t *template) hasVars() bool { return t.parts != nil }

// resolve substitutes the variables of t from ctx. ok is false when a
// variable has no value and no default: "any attempt to match it fails and
// causes the statement to be invalid" (IAM User Guide, variables), so the
// caller drops the whole statement.
func (t *template) resolve(ctx *evalContext) (pattern, bool) {
	if t.parts == nil && t.static != nil {
		return t.static, true
	}
	var p pattern
	for _, part := range t.parts {
		switch {
		case part.isVar:
			v, ok := ctx.variable(part.name)
			if !ok {
				if !part.hasDef {
					return nil, false
				}
				v = part.def
			}
			p = appendLiteral(p, v)
		case part.literal != "":
			p = appendLiteral(p, part.literal)
		default:
			p = append(p, part.lit...)
		}
	}
	if p == nil {
		p = pattern{}
	}
	return p, true
}
