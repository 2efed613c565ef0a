package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

// FuzzParseAuthorization: arbitrary Authorization headers, dates and query
// strings never panic, and what parses is complete.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/elasticfilesystem/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261127T080759Z", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=A/B/C/D/E,SignedHeaders=host,Signature=", "", "Thu, 27 Nov 2026 08:07:59 GMT", "")
	f.Add("", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T080759Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=60")
	f.Add("AWS4-HMAC-SHA256 ,,,=,Credential==/,", "2026", "", "a=%zz&X-Amz-Algorithm=")
	f.Fuzz(func(t *testing.T, auth, amzDate, date, query string) {
		r := &http.Request{Method: "GET", Header: http.Header{}, URL: &url.URL{Path: "/", RawQuery: query}, Host: "h"}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		if date != "" {
			r.Header.Set("Date", date)
		}
		a, err := sigv4.ParseAuthorization(r)
		if err != nil {
			var e *sigv4.Error
			if !errorsAs(err, &e) {
				t.Fatalf("error %v is not a *sigv4.Error", err)
			}
			code, status, _ := sigv4.ErrorCode(err)
			if status == http.StatusInternalServerError {
				t.Fatalf("parse error %v maps to %s", err, code)
			}
			return
		}
		if a.AccessKeyID == "" || a.Date == "" || a.Region == "" || a.Service == "" || a.Signature == "" || a.Time.IsZero() {
			t.Fatalf("incomplete authorization parsed: %+v", a)
		}
		host := false
		for _, h := range a.SignedHeaders {
			host = host || h == "host"
		}
		if !host {
			t.Fatalf("host not signed but accepted: %+v", a)
		}
		// Verify never panics on anything that parsed.
		_ = sigv4.Verify(r, nil, a, "secret", a.Time)
	})
}

func errorsAs(err error, target **sigv4.Error) bool {
	e, ok := err.(*sigv4.Error)
	if ok {
		*target = e
	}
	return ok
}

// FuzzVerify signs a request built from the fuzz input with the SDK signer
// and checks that it verifies; then it changes one byte of one component
// and checks that Verify accepts the changed request only if the SDK itself
// signs it identically (the change did not touch what is signed).
func FuzzVerify(f *testing.F) {
	f.Add("POST", "/2015-02-01/file-systems", "", "application/json", []byte(`{"CreationToken":"t"}`), uint8(0), uint16(0), byte(1))
	f.Add("GET", "/2015-02-01/resource-tags/arn%3Aaws%3Aelasticfilesystem%3Aus-east-1%3A123456789012%3Afile-system%2Ffs-01", "MaxResults=1&NextToken=a%2Fb", "", []byte(nil), uint8(1), uint16(30), byte(0x20))
	f.Add("DELETE", "/a b/ü//./x", "k=a-b&k=a%2Fb&flag", "  x   y ", []byte("body"), uint8(2), uint16(3), byte('%'))
	f.Add("PUT", "/", "a=1", "v", []byte{0, 1, 2}, uint8(3), uint16(0), byte(0x80))
	f.Add("GET", "/x", "", "v", []byte("b"), uint8(5), uint16(2), byte(1))
	f.Add("GET", "/x", "", "v", []byte("b"), uint8(6), uint16(70), byte(1))
	f.Fuzz(func(t *testing.T, method, path, query, value string, body []byte, which uint8, pos uint16, xor byte) {
		if !validToken(method) || len(path) > 512 || len(query) > 512 || len(value) > 256 || len(body) > 1024 || !validHeaderValue(value) {
			return
		}
		u, err := url.Parse("http://" + testHost + "/" + strings.TrimPrefix(path, "/"))
		if err != nil || u.Host != testHost || u.User != nil {
			return
		}
		u.RawQuery = query
		build := func() *http.Request {
			req := &http.Request{Method: method, URL: cloneURL(u), Header: http.Header{}, Host: testHost}
			if len(body) > 0 {
				req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}
			req.Header.Set("X-Fuzz", value)
			return req
		}
		req := build()
		if !sign(req, body, signTime) {
			return
		}
		sreq, sbody, ok := wire(req)
		if !ok {
			return
		}
		if err := verify(sreq, sbody, testSecret, signTime); err != nil {
			t.Fatalf("SDK-signed request does not verify: %v\n%s %s", err, sreq.Method, sreq.RequestURI)
		}
		original := sreq.Header.Get("Authorization")

		// Tamper with one component of the signed request.
		tampered := build()
		sign(tampered, body, signTime)
		tbody := body
		switch which % 7 {
		case 0:
			tampered.Method = flip(method, pos, xor)
			if !validToken(tampered.Method) {
				return
			}
		case 1:
			p := flip(tampered.URL.EscapedPath(), pos, xor)
			nu, err := url.Parse("http://" + testHost + p)
			if err != nil || nu.Host != testHost || nu.User != nil || !strings.HasPrefix(p, "/") {
				return
			}
			nu.RawQuery = tampered.URL.RawQuery
			tampered.URL = nu
		case 2:
			tampered.URL.RawQuery = flip(tampered.URL.RawQuery, pos, xor)
		case 3:
			v := flip(value, pos, xor)
			if !validHeaderValue(v) {
				return
			}
			tampered.Header.Set("X-Fuzz", v)
		case 4:
			tbody = []byte(flip(string(body), pos, xor))
			if len(tbody) > 0 {
				tampered.Body, tampered.ContentLength = io.NopCloser(bytes.NewReader(tbody)), int64(len(tbody))
			}
		case 5:
			tampered.Header.Set("Authorization", flip(tampered.Header.Get("Authorization"), pos, xor))
		case 6:
			tampered.Header.Set("X-Amz-Date", flip(tampered.Header.Get("X-Amz-Date"), pos, xor))
		}
		treq, tsbody, ok := wire(tampered)
		if !ok {
			return
		}
		a, err := sigv4.ParseAuthorization(treq)
		if err != nil {
			return
		}
		if err := sigv4.Verify(treq, tsbody, a, testSecret, signTime); err != nil {
			return
		}
		// Accepted: the SDK must sign the received request to the same
		// signature, with the request's own scope and time. Keys differ
		// only if the access key ID changed, which is not signed.
		if a.Signature != signatureOf(original) || !sameSigned(t, treq, tsbody, a, original) {
			t.Fatalf("tampered request accepted (component %d)\noriginal: %s\nreceived: %s %s %q %q", which%7, original, treq.Method, treq.RequestURI, treq.Header, tsbody)
		}
	})
}

// sameSigned re-signs the received request with the SDK (as a client
// sending it would) and reports whether that yields the original signature,
// either over the path as received or over botocore's normalized path.
func sameSigned(t *testing.T, r *http.Request, body []byte, a sigv4.Authorization, original string) bool {
	for _, p := range []string{r.URL.EscapedPath(), normalize(r.URL.EscapedPath())} {
		u, err := url.Parse("http://" + r.Host + p)
		if err != nil {
			continue
		}
		u.RawQuery = r.URL.RawQuery
		c := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}, ContentLength: int64(len(body))}
		for _, h := range a.SignedHeaders {
			if h == "host" || h == "x-amz-date" || h == "content-length" {
				continue
			}
			for _, v := range r.Header.Values(h) {
				c.Header.Add(h, v)
			}
		}
		err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: testSecret},
			c, bodyHash(body), a.Service, a.Region, a.Time)
		if err == nil && signatureOf(c.Header.Get("Authorization")) == signatureOf(original) {
			return true
		}
	}
	return false
}

func normalize(p string) string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	n := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		n += "/"
	}
	return n
}

func signatureOf(auth string) string {
	_, sig, _ := strings.Cut(auth, "Signature=")
	return sig
}

func sign(req *http.Request, body []byte, at time.Time) bool {
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, bodyHash(body), testSvc, testRegion, at)
	return err == nil
}

// wire is onWire for fuzzing: requests that net/http refuses to write or
// read are skipped.
func wire(req *http.Request) (*http.Request, []byte, bool) {
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return nil, nil, false
	}
	sreq, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		return nil, nil, false
	}
	body, err := io.ReadAll(sreq.Body)
	if err != nil {
		return nil, nil, false
	}
	return sreq, body, true
}

func flip(s string, pos uint16, xor byte) string {
	if len(s) == 0 || xor == 0 {
		return s
	}
	b := []byte(s)
	b[int(pos)%len(b)] ^= xor
	return string(b)
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue accepts what net/http sends unchanged (no control
// characters other than tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
