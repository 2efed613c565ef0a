// Package sigv4 verifies AWS Signature Version 4 request signatures exactly
// as the AWS SDKs and CLIs compute them for non-S3 services: the request
// path encoded once more per segment, the canonical query re-encoded and
// sorted, the signed headers trimmed with inner spaces collapsed, `host`
// with its port, and the SHA-256 of the body as the payload hash
// (the recipe of the AWS Signature Version 4 documentation, checked against
// captured requests of both CLIs and the Go SDK).
//
// Verification is split in two so that the HTTP edge can route a request by
// its signing service before it looks up the secret: ParseAuthorization reads
// the Authorization header (or presigned query parameters) without any
// secret; Verify recomputes the signature with the secret and compares it in
// constant time. Errors are *Error values of a small closed vocabulary;
// ErrorCode and QueryErrorCode map them to what AWS answers.
//
// This package knows nothing of access keys, users or policies; it imports
// only the standard library.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// MaxClockSkew is how far the request time may lie before or after the
// server's clock, as at AWS.
const MaxClockSkew = 15 * time.Minute

// maxPresignExpires is the largest X-Amz-Expires AWS accepts (seven days).
const maxPresignExpires = 7 * 24 * time.Hour

// Bounds on what a client controls before any secret is involved.
const (
	maxAuthorizationBytes = 8 << 10
	maxSignedHeaders      = 64
)

// timeFormat is the ISO 8601 basic format of X-Amz-Date.
const timeFormat = "20060102T150405Z"

const dateFormat = "20060102"

// terminator ends every credential scope.
const terminator = "aws4_request"

// Names of the presigned-URL query parameters and of the headers involved.
const (
	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	headerDate         = "X-Amz-Date"
	headerContentSHA   = "X-Amz-Content-Sha256"
)

// Authorization is the parsed, not yet verified, signature of a request.
type Authorization struct {
	// AccessKeyID is the access key the client claims to sign with.
	AccessKeyID string
	// Date is the date of the credential scope, YYYYMMDD.
	Date string
	// Region and Service are the rest of the credential scope; Service is
	// the signing name the edge routes by (e.g. "elasticfilesystem").
	Region  string
	Service string
	// SignedHeaders are the lower-case header names of SignedHeaders, in
	// the order the client gave them (the SDKs sort them).
	SignedHeaders []string
	// Signature is the hex signature the client sent.
	Signature string
	// Presigned reports that the signature came in the query string
	// (X-Amz-Signature) rather than in the Authorization header.
	Presigned bool
	// Time is the request time (X-Amz-Date, or the Date header), UTC.
	Time time.Time
	// Expires is X-Amz-Expires of a presigned request (zero if absent).
	Expires time.Duration
}

// Scope returns the credential scope, date/region/service/aws4_request.
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + terminator
}

// ParseAuthorization reads the SigV4 signature of r: the Authorization header
// (`AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/elasticfilesystem/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=…`), or the X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature (and
// optional X-Amz-Expires) query parameters of a presigned URL.
//
// It checks the form only: the algorithm, a complete credential scope, a
// parseable request time, and that `host` is signed. A request with neither
// form yields an error wrapping ErrMissingAuthentication; a malformed one,
// or one carrying both forms, ErrIncompleteSignature. It reads only r's
// header and URL and is safe to call concurrently on distinct requests.
func ParseAuthorization(r *http.Request) (Authorization, error) {
	headers := r.Header.Values("Authorization")
	query, qerr := url.ParseQuery(r.URL.RawQuery)
	presigned := qerr == nil && query.Has(queryAlgorithm) || qerr != nil && strings.Contains(r.URL.RawQuery, queryAlgorithm+"=")
	switch {
	case len(headers) == 0 && !presigned:
		return Authorization{}, newError(ErrMissingAuthentication, "Missing Authentication Token")
	case len(headers) > 0 && presigned:
		return Authorization{}, newError(ErrIncompleteSignature, "Only one authentication mechanism is allowed: the Authorization header or the X-Amz-Algorithm query parameter.")
	case len(headers) > 1:
		return Authorization{}, newError(ErrIncompleteSignature, "The request carries more than one Authorization header.")
	case presigned:
		if qerr != nil {
			return Authorization{}, newError(ErrIncompleteSignature, "The query string of the presigned request is malformed.")
		}
		return parsePresigned(query)
	}
	return parseHeader(r, headers[0])
}

func parseHeader(r *http.Request, h string) (Authorization, error) {
	if len(h) > maxAuthorizationBytes {
		return Authorization{}, newError(ErrIncompleteSignature, "The Authorization header is too long.")
	}
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		if h == "" || alg == "" {
			return Authorization{}, newError(ErrIncompleteSignature, "The Authorization header is empty.")
		}
		return Authorization{}, newErrorf(ErrIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Only %s is supported.", printable(alg), Algorithm)
	}
	var credential, signedHeaders, signature string
	var haveCredential, haveSignedHeaders, haveSignature bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Authorization{}, newErrorf(ErrIncompleteSignature, "Authorization header requires each component to be of the form key=value, not '%s'.", printable(part))
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Credential":
			credential, haveCredential = v, true
		case "SignedHeaders":
			signedHeaders, haveSignedHeaders = v, true
		case "Signature":
			signature, haveSignature = v, true
		}
	}
	var missing []string
	if !haveCredential {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSignedHeaders {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if !haveSignature {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	var date string
	if v := r.Header.Get(headerDate); v != "" {
		date = v
	} else if v := r.Header.Get("Date"); v != "" {
		date = v
	} else {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return Authorization{}, newError(ErrIncompleteSignature, strings.Join(missing, " "))
	}
	a := Authorization{Signature: signature}
	if err := a.parseCredential(credential); err != nil {
		return Authorization{}, err
	}
	if err := a.parseSignedHeaders(signedHeaders); err != nil {
		return Authorization{}, err
	}
	t, err := parseRequestTime(date, r.Header.Get(headerDate) != "")
	if err != nil {
		return Authorization{}, err
	}
	a.Time = t
	if signature == "" {
		return Authorization{}, newError(ErrIncompleteSignature, "Authorization header requires a non-empty 'Signature' parameter.")
	}
	return a, nil
}

func parsePresigned(q url.Values) (Authorization, error) {
	var missing []string
	for _, name := range []string{queryAlgorithm, queryCredential, queryDate, querySignedHeaders, querySignature} {
		if len(q[name]) != 1 || q.Get(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Authorization{}, newErrorf(ErrIncompleteSignature, "A presigned request requires exactly one non-empty value of each of: %s.", strings.Join(missing, ", "))
	}
	if alg := q.Get(queryAlgorithm); alg != Algorithm {
		return Authorization{}, newErrorf(ErrIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Only %s is supported.", printable(alg), Algorithm)
	}
	a := Authorization{Signature: q.Get(querySignature), Presigned: true}
	if err := a.parseCredential(q.Get(queryCredential)); err != nil {
		return Authorization{}, err
	}
	if err := a.parseSignedHeaders(q.Get(querySignedHeaders)); err != nil {
		return Authorization{}, err
	}
	t, err := parseRequestTime(q.Get(queryDate), true)
	if err != nil {
		return Authorization{}, err
	}
	a.Time = t
	if vs, ok := q[queryExpires]; ok {
		secs, err := strconv.ParseInt(q.Get(queryExpires), 10, 64)
		if len(vs) != 1 || err != nil || secs < 1 || time.Duration(secs)*time.Second > maxPresignExpires {
			return Authorization{}, newErrorf(ErrIncompleteSignature, "X-Amz-Expires must be a number of seconds from 1 to %d.", int64(maxPresignExpires/time.Second))
		}
		a.Expires = time.Duration(secs) * time.Second
	}
	return a, nil
}

// parseCredential fills the access key and scope from AKID/date/region/service/aws4_request.
func (a *Authorization) parseCredential(c string) error {
	parts := strings.Split(c, "/")
	if len(parts) != 5 {
		return newErrorf(ErrIncompleteSignature, "Credential should be of the form <access key>/<YYYYMMDD>/<region>/<service>/aws4_request, not '%s'.", printable(c))
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	switch {
	case a.AccessKeyID == "":
		return newError(ErrIncompleteSignature, "Credential requires an access key ID.")
	case !isScopeDate(a.Date):
		return newErrorf(ErrIncompleteSignature, "Credential should be scoped to a valid date in YYYYMMDD form, not '%s'.", printable(a.Date))
	case a.Region == "":
		return newError(ErrIncompleteSignature, "Credential should be scoped to a valid region.")
	case a.Service == "":
		return newError(ErrIncompleteSignature, "Credential should be scoped to a valid service.")
	case parts[4] != terminator:
		return newErrorf(ErrIncompleteSignature, "Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, printable(parts[4]))
	}
	return nil
}

func isScopeDate(s string) bool {
	if len(s) != len(dateFormat) {
		return false
	}
	_, err := time.Parse(dateFormat, s)
	return err == nil
}

func (a *Authorization) parseSignedHeaders(s string) error {
	if s == "" {
		return newError(ErrIncompleteSignature, "Authorization header requires a non-empty 'SignedHeaders' parameter.")
	}
	names := strings.Split(s, ";")
	if len(names) > maxSignedHeaders {
		return newErrorf(ErrIncompleteSignature, "At most %d headers may be signed.", maxSignedHeaders)
	}
	host := false
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) || !validHeaderName(n) {
			return newErrorf(ErrIncompleteSignature, "SignedHeaders must be lower-case header names separated by ';', not '%s'.", printable(s))
		}
		host = host || n == "host"
	}
	if !host {
		return newError(ErrIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.SignedHeaders = names
	return nil
}

// validHeaderName reports whether n is an HTTP token (RFC 9110 §5.6.2).
func validHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// parseRequestTime reads X-Amz-Date (ISO 8601 basic) or, when amz is false,
// an HTTP Date header.
func parseRequestTime(v string, amz bool) (time.Time, error) {
	if amz {
		t, err := time.Parse(timeFormat, v)
		if err != nil || len(v) != len(timeFormat) {
			return time.Time{}, newErrorf(ErrIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", printable(v))
		}
		return t.UTC(), nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, newErrorf(ErrIncompleteSignature, "The Date header must be an HTTP date. Got '%s'.", printable(v))
	}
	return t.UTC(), nil
}

// Verify checks that a (from ParseAuthorization of r) is a valid signature
// of r, whose body is body, made with secret, at a time within MaxClockSkew
// of now either way. A presigned request with X-Amz-Expires is instead valid
// from MaxClockSkew before its time until its time plus X-Amz-Expires.
//
// The payload hash is always the SHA-256 of body; an X-Amz-Content-Sha256
// header, if present, must equal it. The canonical URI is r's path as it was
// received (r.RequestURI), encoded once more; a request whose path has empty
// or dot segments also verifies against the path as botocore normalizes it
// before signing (the AWS CLI does that, the Go SDK does not).
//
// Errors wrap ErrSignatureExpired or ErrSignatureDoesNotMatch. The
// signatures are compared with hmac.Equal. Verify reads r without modifying
// it and is safe for concurrent use.
func Verify(r *http.Request, body []byte, a Authorization, secret string, now time.Time) error {
	if err := checkTime(a, now.UTC()); err != nil {
		return err
	}
	if want := a.Time.Format(dateFormat); a.Date != want {
		return newErrorf(ErrSignatureDoesNotMatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", printable(a.Date), want, a.Time.Format(timeFormat))
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if vs := r.Header.Values(headerContentSHA); len(vs) > 0 {
		if len(vs) != 1 || !strings.EqualFold(strings.TrimSpace(vs[0]), payloadHash) {
			return newError(ErrSignatureDoesNotMatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	got, err := hex.DecodeString(a.Signature)
	if err != nil || len(got) != sha256.Size || a.Signature != strings.ToLower(a.Signature) {
		return newError(ErrSignatureDoesNotMatch, signatureMismatchMessage)
	}
	key := SigningKey(secret, a.Date, a.Region, a.Service)
	path := rawPath(r)
	query, err := canonicalQuery(r.URL.RawQuery, a.Presigned)
	if err != nil {
		return newError(ErrSignatureDoesNotMatch, "The query string holds a malformed percent-encoding.")
	}
	headers := canonicalHeaders(r, a.SignedHeaders)
	signed := strings.Join(a.SignedHeaders, ";")
	ok := false
	for _, uri := range canonicalURIs(path) {
		creq := r.Method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + signed + "\n" + payloadHash
		want := hmacSHA256(key, []byte(StringToSign(a, creq)))
		// Every candidate is computed and compared, so that the time taken
		// does not depend on which one matched.
		if hmac.Equal(want, got) {
			ok = true
		}
	}
	if !ok {
		return newError(ErrSignatureDoesNotMatch, signatureMismatchMessage)
	}
	return nil
}

const signatureMismatchMessage = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func checkTime(a Authorization, now time.Time) error {
	if a.Time.After(now.Add(MaxClockSkew)) {
		return newErrorf(ErrSignatureExpired, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			a.Time.Format(timeFormat), now.Add(MaxClockSkew).Format(timeFormat), now.Format(timeFormat))
	}
	if a.Presigned && a.Expires > 0 {
		if end := a.Time.Add(a.Expires); now.After(end) {
			return newErrorf(ErrSignatureExpired, "Signature expired: the presigned request expired at %s; it is now %s.",
				end.Format(timeFormat), now.Format(timeFormat))
		}
		return nil
	}
	if a.Time.Before(now.Add(-MaxClockSkew)) {
		return newErrorf(ErrSignatureExpired, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			a.Time.Format(timeFormat), now.Add(-MaxClockSkew).Format(timeFormat), now.Format(timeFormat))
	}
	return nil
}

// StringToSign returns the SigV4 string to sign of a canonical request under
// a's time and scope.
func StringToSign(a Authorization, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + a.Time.Format(timeFormat) + "\n" + a.Scope() + "\n" + hex.EncodeToString(sum[:])
}

// SigningKey derives the SigV4 signing key: HMAC-SHA256 chained over
// "AWS4"+secret, the scope date, region, service and "aws4_request".
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// rawPath is the path of r as the client sent it (still percent-encoded).
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return p
	}
	// Absolute-form, "*", or a request built in-process.
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// canonicalURIs returns the canonical URI of the path as the Go SDK and
// other non-normalizing signers compute it, followed by botocore's variant
// when it differs (empty segments and dot segments removed before encoding).
func canonicalURIs(path string) []string {
	if path == "" {
		path = "/"
	}
	out := []string{escapePath(path)}
	if n := normalizePath(path); n != path {
		out = append(out, escapePath(n))
	}
	return out
}

// escapePath percent-encodes every byte outside the RFC 3986 unreserved
// set, except '/': applied to the already-encoded path it yields the
// "double encoding" of SigV4 for services other than S3.
func escapePath(p string) string {
	var b strings.Builder
	b.Grow(len(p) + len(p)/2)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// normalizePath removes empty and "." segments and resolves ".." segments
// (RFC 3986 §5.2.4), keeping a leading and a trailing slash, as botocore's
// normalize_url_path does before it signs.
func normalizePath(p string) string {
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if strings.HasPrefix(p, "/") {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// canonicalQuery decodes each name and value of the raw query once (as
// url.ParseQuery does, '+' meaning a space), re-encodes them with the
// unreserved set, sorts the pairs by name then value (after encoding, as the
// SDKs do) and joins them. A presigned request's X-Amz-Signature is left
// out. A malformed escape fails: two raw queries with the same canonical form
// must mean the same to the service that parses them.
func canonicalQuery(raw string, presigned bool) (string, error) {
	if raw == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var pairs []pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		rk, rv, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(rk)
		if err != nil {
			return "", err
		}
		v, err := url.QueryUnescape(rv)
		if err != nil {
			return "", err
		}
		if presigned && k == querySignature {
			continue
		}
		pairs = append(pairs, pair{escapeQuery(k), escapeQuery(v)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

func escapeQuery(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// canonicalHeaders renders "name:value\n" for every signed header: values
// of repeated headers joined with ',', each trimmed with runs of spaces
// collapsed. `host` is r.Host (Go moves the Host header there) and includes
// a non-default port exactly as the client sent it. A signed content-length
// that the server moved out of the header map comes from r.ContentLength.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		switch {
		case n == "host":
			b.WriteString(collapseSpaces(r.Host))
		default:
			vs := r.Header.Values(n)
			if len(vs) == 0 && n == "content-length" && r.ContentLength >= 0 {
				vs = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
			for i, v := range vs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(collapseSpaces(v))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// collapseSpaces trims leading and trailing spaces and turns every run of
// spaces into one, as the SDKs' StripExcessSpaces does (tabs are kept: the
// SDKs keep them too, and net/http has already trimmed surrounding ones).
func collapseSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// printable shortens and sanitizes client input quoted in error messages.
func printable(s string) string {
	const max = 128
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return '?'
		}
		return r
	}, s)
}
