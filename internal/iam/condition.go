package iam

import (
	"bytes"
	"encoding/base64"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition operators, as in IAM User Guide, "IAM JSON policy elements:
// Condition operators". Each negated operator is evaluated as the negation
// of its positive form.
type opBase uint8

const (
	opStringEquals opBase = iota + 1
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike // ArnEquals and ArnLike "behave identically"
	opNull
)

type opInfo struct {
	base    opBase
	negated bool
}

var operators = map[string]opInfo{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// usesTemplate reports the operators whose values may hold policy
// variables: string and ARN operators, and Bool (the operator reference
// lists Bool as supporting variables).
func (b opBase) usesTemplate() bool {
	switch b {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike, opBool:
		return true
	}
	return false
}

type qualifier uint8

const (
	qualNone qualifier = iota
	qualForAnyValue
	qualForAllValues
)

// condition is one (operator, key) pair of a Condition element.
type condition struct {
	opText   string // the operator as written, e.g. "ForAnyValue:StringLikeIfExists"
	op       opInfo
	qual     qualifier
	ifExists bool
	key      string // as written
	keyLower string
	values   []condValue
}

// condValue is one policy value, pre-parsed for its operator.
type condValue struct {
	text   string
	tmpl   template     // string, ARN and Bool operators
	arn    [6]pattern   // ArnLike without variables
	arnOK  bool         // arn holds six components
	num    *big.Rat     // Numeric*
	time   time.Time    // Date*
	prefix netip.Prefix // IpAddress
	bin    []byte       // BinaryEquals
	b      bool         // Null, and Bool without variables
}

// parseOperator splits "ForAllValues:StringLikeIfExists" into its parts.
// Operator names are matched exactly, as IAM writes them.
func parseOperator(name string) (opInfo, qualifier, bool, bool) {
	rest := name
	q := qualNone
	if r, ok := strings.CutPrefix(rest, "ForAnyValue:"); ok {
		q, rest = qualForAnyValue, r
	} else if r, ok := strings.CutPrefix(rest, "ForAllValues:"); ok {
		q, rest = qualForAllValues, r
	}
	info, ok := operators[rest]
	ifExists := false
	if !ok {
		base, cut := strings.CutSuffix(rest, "IfExists")
		if !cut {
			return opInfo{}, 0, false, false
		}
		info, ok = operators[base]
		ifExists = true
	}
	if !ok {
		return opInfo{}, 0, false, false
	}
	// "You can add IfExists to the end of any condition operator name
	// except the Null condition"; a set of "key is absent" answers means
	// nothing either.
	if info.base == opNull && (ifExists || q != qualNone) {
		return opInfo{}, 0, false, false
	}
	return info, q, ifExists, true
}

// parseCondValue validates and pre-parses one policy value. Values that
// can never match (a Numeric value that is no number, an IpAddress value
// that is no address) are rejected, so that a Deny never silently stops
// applying.
func parseCondValue(op opInfo, text string, vars bool, where string) (condValue, error) {
	cv := condValue{text: text}
	var err error
	switch op.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike:
		cv.tmpl, err = compileTemplate(text, vars)
	case opArnLike:
		cv.tmpl, err = compileTemplate(text, vars)
		if err == nil && !cv.tmpl.hasVars() {
			cv.arn, cv.arnOK = cv.tmpl.static.splitARN()
		}
	case opBool:
		cv.tmpl, err = compileTemplate(text, vars)
		if err == nil && !cv.tmpl.hasVars() {
			var ok bool
			if cv.b, ok = parseBool(cv.tmpl.static.String()); !ok {
				return cv, malformedf("%s: %q is not true or false", where, text)
			}
		}
	case opNull:
		var ok bool
		if cv.b, ok = parseBool(text); !ok {
			return cv, malformedf("%s: %q is not true or false", where, text)
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		var ok bool
		if cv.num, ok = parseNumber(text); !ok {
			return cv, malformedf("%s: %q is not a number", where, text)
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		var ok bool
		if cv.time, ok = parseDate(text); !ok {
			return cv, malformedf("%s: %q is not an ISO 8601 date or epoch seconds", where, text)
		}
	case opIPAddress:
		var ok bool
		if cv.prefix, ok = parseCIDR(text); !ok {
			return cv, malformedf("%s: %q is not an IP address or CIDR block", where, text)
		}
	case opBinaryEquals:
		if cv.bin, err = base64.StdEncoding.DecodeString(text); err != nil {
			return cv, malformedf("%s: %q is not base64", where, text)
		}
	}
	if err != nil {
		return cv, malformedf("%s: %s", where, err.(*PolicyError).Reason)
	}
	return cv, nil
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseNumber accepts an optionally signed decimal: digits with an
// optional fraction. Exponents are refused: "1e999999999" would cost
// unbounded memory as an exact rational.
func parseNumber(s string) (*big.Rat, bool) {
	t := s
	if t != "" && (t[0] == '-' || t[0] == '+') {
		t = t[1:]
	}
	if t == "" || len(t) > 100 {
		return nil, false
	}
	intPart, frac, hasFrac := strings.Cut(t, ".")
	if intPart == "" || !allDigits(intPart) || hasFrac && (frac == "" || !allDigits(frac)) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(t)
	if ok && s[0] == '-' {
		r.Neg(r)
	}
	return r, ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dateLayouts are the W3C profile of ISO 8601 that the Date operators take
// (IAM User Guide: "one of the W3C implementations of the ISO 8601 date
// formats or in epoch (UNIX) time"), plus a time of day without zone,
// read as UTC. time.Parse accepts fractional seconds after the seconds.
var dateLayouts = []string{
	"2006-01",
	"2006-01-02",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05",
}

// parseDate reads an ISO 8601 date or epoch seconds. A string of digits
// (with an optional fraction) is always epoch seconds, so the W3C
// year-only form "YYYY" is not supported.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	digits := strings.TrimPrefix(s, "-")
	sec, frac, hasFrac := strings.Cut(digits, ".")
	if sec != "" && allDigits(sec) && (!hasFrac || frac != "" && allDigits(frac)) {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || n > 1<<40 {
			return time.Time{}, false
		}
		var nanos int64
		if hasFrac {
			f := (frac + "000000000")[:9]
			nanos, _ = strconv.ParseInt(f, 10, 64)
		}
		if strings.HasPrefix(s, "-") {
			n, nanos = -n, -nanos
		}
		return time.Unix(n, nanos).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseCIDR reads "203.0.113.0/24", "2001:DB8::/64" or a bare address,
// which "uses the default prefix value of /32" (/128 for IPv6).
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval evaluates the condition against the request. valid is false when a
// policy variable of the condition cannot be resolved, which invalidates
// the whole statement.
//
// The rules, from the IAM User Guide:
//   - A key absent from the request makes the condition false, except that
//     a negated operator (StringNotEquals, NotIpAddress, ArnNotLike, …) is
//     then true; ...IfExists is true for an absent key; Null tests presence
//     itself ("Condition operators", the Important note and
//     "...IfExists condition operators").
//   - With several policy values for the key, a positive operator is true
//     if any matches (OR); a negated one if none matches (NOR)
//     ("Conditions with multiple context keys or values").
//   - ForAnyValue is true if some request value passes the per-value test;
//     ForAllValues if every request value passes it. With no request
//     values ("an empty data set (for example, an empty string)")
//     ForAllValues is true and ForAnyValue false ("Creating a condition
//     with multiple keys or values").
//   - A multivalued key under an unqualified operator: a positive operator
//     is true if any request value matches, a negated one if none does, so
//     that the negated operator stays the negation of the positive one.
func (c *condition) eval(ctx *evalContext) (result, valid bool) {
	vals := ctx.values(c.keyLower)
	if c.op.base == opNull {
		present := len(vals) > 0
		for _, v := range c.values {
			if v.b != present { // "true": the key must be absent
				return true, true
			}
		}
		return false, true
	}
	if c.qual != qualNone && allEmpty(vals) {
		vals = nil
	}
	if len(vals) == 0 {
		switch {
		case c.ifExists:
			return true, true
		case c.qual == qualForAllValues:
			return true, true
		case c.qual == qualForAnyValue:
			return false, true
		}
		return c.op.negated, true
	}
	m, ok := c.matcher(ctx)
	if !ok {
		return false, false
	}
	test := func(v string) bool { return m(v) != c.op.negated }
	all := c.qual == qualForAllValues || c.qual == qualNone && c.op.negated
	for _, v := range vals {
		if t := test(v); t != all {
			return t, true // some value passed (any) or failed (all)
		}
	}
	return all, true
}

func allEmpty(vals []string) bool {
	for _, v := range vals {
		if v != "" {
			return false
		}
	}
	return true
}

// matcher returns the positive per-value test: does request value v match
// any policy value?
func (c *condition) matcher(ctx *evalContext) (func(v string) bool, bool) {
	switch c.op.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike, opBool:
		pats := make([]pattern, len(c.values))
		for i := range c.values {
			p, ok := c.values[i].tmpl.resolve(ctx)
			if !ok {
				return nil, false
			}
			pats[i] = p
		}
		return c.templateMatcher(pats), true
	}
	return func(v string) bool {
		for i := range c.values {
			if c.values[i].matchTyped(c.op.base, v) {
				return true
			}
		}
		return false
	}, true
}

func (c *condition) templateMatcher(pats []pattern) func(v string) bool {
	switch c.op.base {
	case opStringEquals:
		strs := patternStrings(pats)
		return func(v string) bool {
			for _, s := range strs {
				if s == v {
					return true
				}
			}
			return false
		}
	case opStringEqualsIgnoreCase:
		strs := patternStrings(pats)
		return func(v string) bool {
			for _, s := range strs {
				if strings.EqualFold(s, v) {
					return true
				}
			}
			return false
		}
	case opStringLike:
		return func(v string) bool {
			for _, p := range pats {
				if p.match(v) {
					return true
				}
			}
			return false
		}
	case opArnLike:
		type arnPattern struct {
			parts [6]pattern
			split bool
			whole pattern
		}
		arns := make([]arnPattern, len(pats))
		for i, p := range pats {
			arns[i].whole = p
			if !c.values[i].tmpl.hasVars() {
				arns[i].parts, arns[i].split = c.values[i].arn, c.values[i].arnOK
			} else {
				arns[i].parts, arns[i].split = p.splitARN()
			}
		}
		return func(v string) bool {
			for _, a := range arns {
				// A value of fewer than six components ("*",
				// "arn:aws:s3:*") matches the whole string, as in
				// Resource.
				if a.split && matchARN(a.parts, v) || !a.split && a.whole.match(v) {
					return true
				}
			}
			return false
		}
	default: // opBool
		bools := make([]bool, 0, len(pats))
		for _, p := range pats {
			if b, ok := parseBool(p.String()); ok {
				bools = append(bools, b)
			}
		}
		return func(v string) bool {
			rb, ok := parseBool(v)
			if !ok {
				return false
			}
			for _, b := range bools {
				if b == rb {
					return true
				}
			}
			return false
		}
	}
}

func patternStrings(pats []pattern) []string {
	strs := make([]string, len(pats))
	for i, p := range pats {
		strs[i] = p.String()
	}
	return strs
}

// matchTyped compares request value v with a numeric, date, IP or binary
// policy value. A request value that does not parse never matches.
func (cv *condValue) matchTyped(base opBase, v string) bool {
	switch base {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		return compares(base-opNumericEquals, n.Cmp(cv.num))
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		return compares(base-opDateEquals, t.Compare(cv.time))
	case opIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		return cv.prefix.Contains(a.Unmap().WithZone(""))
	case opBinaryEquals:
		// The request value holds the raw bytes; the policy value is their
		// base64 encoding.
		return bytes.Equal([]byte(v), cv.bin)
	}
	return false
}

// compares applies the comparison at offset rel (Equals, LessThan,
// LessThanEquals, GreaterThan, GreaterThanEquals) to cmp = request <=> policy.
func compares(rel opBase, cmp int) bool {
	switch rel {
	case 0:
		return cmp == 0
	case 1:
		return cmp < 0
	case 2:
		return cmp <= 0
	case 3:
		return cmp > 0
	case 4:
		return cmp >= 0
	}
	return false
}
