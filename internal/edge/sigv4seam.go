package edge

// TEMPORARY SEAM. internal/sigv4 (sigv4.ParseAuthorization, sigv4.Verify,
// sigv4.ErrorCode) is being written at the same time as the edge. Until it
// lands, the edge verifies header-signed SigV4 requests with the minimal
// verifier below (reference/aws-clients.md §6 and Appendix A: double-encoded
// path, sorted re-encoded query, signed headers, payload hash, 15-minute
// skew). When internal/sigv4 is in the tree, parseAuth, verifyAuth and
// authErrorCode become calls to it and this file is deleted.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// authHeader is the parsed Authorization header (sigv4.Authorization).
type authHeader struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	Presigned     bool
}

type sigError struct {
	code, msg string
	status    int
}

func (e *sigError) Error() string { return e.code + ": " + e.msg }

var errNoAuth = &sigError{"MissingAuthenticationTokenException", "Missing Authentication Token", 403}

func incomplete(format string, args ...any) error {
	return &sigError{"IncompleteSignatureException", fmt.Sprintf(format, args...), 400}
}

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	maxSkew      = 15 * time.Minute
)

// parseAuth parses the Authorization header.
func parseAuth(r *http.Request) (authHeader, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return authHeader{}, incomplete("Presigned requests are not supported.")
		}
		return authHeader{}, errNoAuth
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != sigAlgorithm {
		return authHeader{}, incomplete("Unsupported authorization type or algorithm.")
	}
	var a authHeader
	var cred, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || len(scope[1]) != 8 || scope[2] == "" || scope[3] == "" || scope[4] != "aws4_request" {
		return authHeader{}, incomplete("Authorization header requires a valid 'Credential' parameter.")
	}
	if signed == "" || a.Signature == "" {
		return authHeader{}, incomplete("Authorization header requires 'SignedHeaders' and 'Signature' parameters.")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	a.SignedHeaders = strings.Split(signed, ";")
	return a, nil
}

// verifyAuth checks a's signature over r and body with secret at time now.
func verifyAuth(r *http.Request, body []byte, a authHeader, secret string, now time.Time) error {
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFmt, amzDate)
	if err != nil {
		return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if !strings.HasPrefix(amzDate, a.Date) {
		return &sigError{"InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.", 403}
	}
	now = now.UTC()
	switch {
	case t.Before(now.Add(-maxSkew)):
		return &sigError{"InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxSkew).Format(amzDateFmt), now.Format(amzDateFmt)), 403}
	case t.After(now.Add(maxSkew)):
		return &sigError{"InvalidSignatureException", fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt)), 403}
	}
	hasHost := false
	var canonHeaders strings.Builder
	for _, name := range a.SignedHeaders {
		var vals []string
		switch name {
		case "host":
			hasHost = true
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 {
				vals = []string{fmt.Sprint(r.ContentLength)}
			}
		default:
			vals = r.Header.Values(name)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		canonHeaders.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	if !hasHost {
		return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return &sigError{"InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.", 403}
	}
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if rawPath == "" {
		rawPath = "/"
	}
	segs := strings.Split(rawPath, "/")
	for i, s := range segs {
		segs[i] = awsEscape(s)
	}
	type kv struct{ k, v string }
	var pairs []kv
	for p := range strings.SplitSeq(rawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return incomplete("Malformed query string.")
		}
		pairs = append(pairs, kv{awsEscape(dk), awsEscape(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	q := make([]string, len(pairs))
	for i, p := range pairs {
		q[i] = p.k + "=" + p.v
	}
	creq := strings.Join([]string{r.Method, strings.Join(segs, "/"), strings.Join(q, "&"),
		canonHeaders.String(), strings.Join(a.SignedHeaders, ";"), payload}, "\n")
	creqSum := sha256.Sum256([]byte(creq))
	scope := a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
	sts := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqSum[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{a.Date, a.Region, a.Service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return &sigError{"InvalidSignatureException", "", 403}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// awsEscape percent-encodes everything but the RFC 3986 unreserved set.
func awsEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// authErrorCode maps a parse or verify error to its json-protocol code,
// status and message (sigv4.ErrorCode).
func authErrorCode(err error) (code string, status int, message string) {
	var se *sigError
	if errors.As(err, &se) {
		return se.code, se.status, se.msg
	}
	return "InvalidSignatureException", 403, ""
}
