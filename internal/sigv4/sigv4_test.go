package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/sigv4"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	testSvc    = "elasticfilesystem"
	testHost   = "127.0.0.1:18765"
)

var signTime = time.Date(2026, 11, 27, 8, 7, 59, 0, time.UTC)

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// clientRequest builds the request a client would send to rawURL.
func clientRequest(t testing.TB, method, rawURL string, body []byte, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	require.NoError(t, err)
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// sdkSign signs req in place with the SDK signer, as the SDK clients do.
func sdkSign(t testing.TB, req *http.Request, body []byte, secret string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret},
		req, bodyHash(body), testSvc, testRegion, at)
	require.NoError(t, err)
}

// onWire serializes req as a client would and parses it as net/http's
// server does, returning the server's view and the body it read.
func onWire(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, req.Write(&buf))
	sreq, err := http.ReadRequest(bufio.NewReader(&buf))
	require.NoError(t, err)
	body, err := io.ReadAll(sreq.Body)
	require.NoError(t, err)
	return sreq, body
}

func verify(r *http.Request, body []byte, secret string, now time.Time) error {
	a, err := sigv4.ParseAuthorization(r)
	if err != nil {
		return err
	}
	return sigv4.Verify(r, body, a, secret, now)
}

func TestVerifySDKSignedRequests(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		body   string
		header http.Header
		// rawQuery, when set, replaces the query the SDK sends (after
		// signing) with an equivalent encoding in another order.
		rawQuery string
	}{
		{name: "root", method: "GET", url: "http://" + testHost + "/"},
		{name: "empty path", method: "GET", url: "http://" + testHost},
		{name: "efs create", method: "POST", url: "http://" + testHost + "/2015-02-01/file-systems", body: `{"CreationToken":"t1","Encrypted":true}`,
			header: http.Header{"Content-Type": {"application/json"}}},
		{name: "trailing slash", method: "GET", url: "http://" + testHost + "/2015-02-01/tags/fs-0123456789abcdef0/"},
		{name: "empty path parameter", method: "DELETE", url: "http://" + testHost + "/2015-02-01/file-systems/"},
		{name: "double slash", method: "GET", url: "http://" + testHost + "/2015-02-01/tags//"},
		{name: "dot segments", method: "GET", url: "http://" + testHost + "/a/./b/../c"},
		{name: "encoded slash in ARN", method: "GET", url: "http://" + testHost +
			"/2015-02-01/resource-tags/arn%3Aaws%3Aelasticfilesystem%3Aus-east-1%3A123456789012%3Afile-system%2Ffs-00000000000000001"},
		{name: "space", method: "GET", url: "http://" + testHost + "/a%20b/c%20%20d"},
		{name: "unicode", method: "GET", url: "http://" + testHost + "/d%C3%A9j%C3%A0/%E6%97%A5%E6%9C%AC"},
		{name: "raw unicode", method: "GET", url: "http://" + testHost + "/déjà/日本"},
		{name: "reserved characters", method: "GET", url: "http://" + testHost + "/a:b@c!$&'()*+,;=/~x_y.z-"},
		{name: "percent sign", method: "GET", url: "http://" + testHost + "/100%25"},
		{name: "query", method: "GET", url: "http://" + testHost + "/2015-02-01/file-systems?MaxItems=10&Marker=abc"},
		{name: "query reordered", method: "GET", url: "http://" + testHost + "/x?b=2&a=1&a=0", rawQuery: "b=2&a=1&a=0"},
		{name: "query sorted after encoding", method: "GET", url: "http://" + testHost + "/x?k=a%2Fb&k=a-b", rawQuery: "k=a-b&k=a%2fb"},
		{name: "query without value", method: "GET", url: "http://" + testHost + "/x?flag&empty=", rawQuery: "flag&empty="},
		{name: "query space and plus", method: "GET", url: "http://" + testHost + "/x?q=a%20b&p=1%2B1", rawQuery: "p=1%2B1&q=a+b"},
		{name: "query unicode and reserved", method: "GET", url: "http://" + testHost + "/x?n=%C3%BC&r=%3A%2F%3F%23%5B%5D%40", rawQuery: "r=:/?%23[]@&n=ü"},
		{name: "no port", method: "GET", url: "http://localhost/x"},
		{name: "non-default port", method: "GET", url: "http://example.com:443/x"},
		{name: "default port stripped", method: "GET", url: "http://example.com:80/x"},
		{name: "IPv6 host", method: "GET", url: "http://[::1]:8049/x"},
		{name: "headers", method: "PUT", url: "http://" + testHost + "/x", body: "data",
			header: http.Header{
				"X-Custom":         {"  a   b  c  "},
				"X-Multi":          {"one", "two  three"},
				"Content-Type":     {"application/x-amz-json-1.1"},
				"Amz-Sdk-Request":  {"attempt=1; max=3"},
				"X-Amz-Target":     {"TrentService.ListKeys"},
				"X-Amz-Meta-Empty": {""},
			}},
		{name: "content sha256 header", method: "POST", url: "http://" + testHost + "/x", body: "payload",
			header: http.Header{"X-Amz-Content-Sha256": {bodyHash([]byte("payload"))}}},
		{name: "binary body", method: "POST", url: "http://" + testHost + "/x", body: "\x00\x01\xff\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			req := clientRequest(t, tc.method, tc.url, body, tc.header)
			sdkSign(t, req, body, testSecret, signTime)
			if tc.rawQuery != "" {
				req.URL.RawQuery = tc.rawQuery
			}
			sreq, sbody := onWire(t, req)
			require.NoError(t, verify(sreq, sbody, testSecret, signTime))

			a, err := sigv4.ParseAuthorization(sreq)
			require.NoError(t, err)
			require.Equal(t, sigv4.Authorization{
				AccessKeyID: testAKID, Date: "20261127", Region: testRegion, Service: testSvc,
				SignedHeaders: a.SignedHeaders, Signature: a.Signature, Time: signTime,
			}, a)
			require.Contains(t, a.SignedHeaders, "host")
			require.ErrorIs(t, verify(sreq, sbody, "wrong", signTime), sigv4.ErrSignatureDoesNotMatch)
		})
	}
}

// TestVerifyOverHTTP runs the SDK signer against a real listener, so the
// request goes through net/http's client and server.
func TestVerifyOverHTTP(t *testing.T) {
	type result struct{ err error }
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = verify(r, body, testSecret, signTime)
		}
		results <- result{err}
	}))
	defer srv.Close()
	for _, path := range []string{"/", "/2015-02-01/file-systems", "/a%20b/%C3%BC/x%2Fy/", "/a//b/./c", "/q"} {
		for _, query := range []string{"", "?b=2&a=1&a=%2F&s=a%20b"} {
			t.Run(path+query, func(t *testing.T) {
				body := []byte(`{"x":1}`)
				req := clientRequest(t, "POST", srv.URL+path+query, body, http.Header{"Content-Type": {"application/json"}})
				sdkSign(t, req, body, testSecret, signTime)
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.NoError(t, (<-results).err)
			})
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	const target = "http://" + testHost + "/2015-02-01/file-systems/fs-0123456789abcdef0?MaxItems=5"
	body := []byte(`{"ThroughputMode":"elastic"}`)
	signed := func(t *testing.T) *http.Request {
		req := clientRequest(t, "PUT", target, body, http.Header{"Content-Type": {"application/json"}, "X-Custom": {"value"}})
		sdkSign(t, req, body, testSecret, signTime)
		return req
	}
	tests := []struct {
		name   string
		tamper func(r *http.Request) []byte // returns the body to send
		want   error
	}{
		{name: "method", tamper: func(r *http.Request) []byte { r.Method = "POST"; return body }},
		{name: "path", tamper: func(r *http.Request) []byte { r.URL.Path += "1"; return body }},
		{name: "path encoding", tamper: func(r *http.Request) []byte {
			r.URL.RawPath = "/2015-02-01/file-systems/fs-0123456789abcdef%30"
			return body
		}},
		{name: "query value", tamper: func(r *http.Request) []byte { r.URL.RawQuery = "MaxItems=6"; return body }},
		{name: "query added", tamper: func(r *http.Request) []byte { r.URL.RawQuery += "&Marker=x"; return body }},
		{name: "query removed", tamper: func(r *http.Request) []byte { r.URL.RawQuery = ""; return body }},
		{name: "query plus is a space", tamper: func(r *http.Request) []byte { r.URL.RawQuery = "MaxItems=5+"; return body }},
		{name: "malformed query escape", tamper: func(r *http.Request) []byte { r.URL.RawQuery = "MaxItems=5%zz"; return body }},
		{name: "host", tamper: func(r *http.Request) []byte { r.Host = "127.0.0.1:18766"; return body }},
		{name: "signed header", tamper: func(r *http.Request) []byte { r.Header.Set("X-Custom", "valuf"); return body }},
		{name: "signed header repeated", tamper: func(r *http.Request) []byte { r.Header.Add("X-Custom", "value"); return body }},
		{name: "signed header removed", tamper: func(r *http.Request) []byte { r.Header.Del("X-Custom"); return body }},
		{name: "content type", tamper: func(r *http.Request) []byte { r.Header.Set("Content-Type", "text/plain"); return body }},
		{name: "body", tamper: func(r *http.Request) []byte {
			b := []byte(`{"ThroughputMode":"bursting"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			return b
		}},
		{name: "body same length", tamper: func(r *http.Request) []byte {
			b := bytes.Replace(body, []byte("elastic"), []byte("Elastic"), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
			return b
		}},
		{name: "date", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", signTime.Add(time.Second).Format("20060102T150405Z"))
			return body
		}},
		{name: "signature", tamper: func(r *http.Request) []byte { flipSignature(r); return body }},
		{name: "signed headers list", tamper: func(r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-custom", "", 1))
			return body
		}},
		{name: "region", tamper: func(r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
			return body
		}},
		{name: "service", tamper: func(r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/elasticfilesystem/", "/kms/", 1))
			return body
		}},
		{name: "scope date", tamper: func(r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261127/", "/20261126/", 1))
			return body
		}},
		{name: "content sha256 mismatch", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", bodyHash([]byte("other")))
			return body
		}},
		{name: "unsigned payload", tamper: func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return body
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t)
			sreq, _ := onWire(t, req)
			require.NoError(t, verify(sreq, body, testSecret, signTime), "untampered")

			req = signed(t)
			sendBody := tc.tamper(req)
			sreq, sbody := onWire(t, req)
			require.Equal(t, sendBody, sbody)
			err := verify(sreq, sbody, testSecret, signTime)
			require.ErrorIs(t, err, sigv4.ErrSignatureDoesNotMatch)
			code, status, msg := sigv4.ErrorCode(err)
			require.Equal(t, "InvalidSignatureException", code)
			require.Equal(t, http.StatusForbidden, status)
			require.NotEmpty(t, msg)
			require.NotContains(t, msg, testSecret)
		})
	}
}

func TestVerifyUnsignedHeadersMayChange(t *testing.T) {
	body := []byte("{}")
	req := clientRequest(t, "POST", "http://"+testHost+"/x", body, nil)
	sdkSign(t, req, body, testSecret, signTime)
	req.Header.Set("User-Agent", "something else")
	req.Header.Set("X-Amzn-Trace-Id", "Root=1")
	req.Header.Set("X-Not-Signed", "yes")
	sreq, sbody := onWire(t, req)
	require.NoError(t, verify(sreq, sbody, testSecret, signTime))
}

func flipSignature(r *http.Request) {
	h := r.Header.Get("Authorization")
	i := strings.LastIndex(h, "Signature=") + len("Signature=")
	c := byte('0')
	if h[i] == '0' {
		c = '1'
	}
	r.Header.Set("Authorization", h[:i]+string(c)+h[i+1:])
}

func TestVerifyScopeDateMismatchMessage(t *testing.T) {
	req := clientRequest(t, "GET", "http://"+testHost+"/", nil, nil)
	sdkSign(t, req, nil, testSecret, signTime)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/20261127/", "/20261126/", 1))
	sreq, _ := onWire(t, req)
	err := verify(sreq, nil, testSecret, signTime)
	_, _, msg := sigv4.ErrorCode(err)
	require.Equal(t, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261126' != '20261127', from '20261127T080759Z'.", msg)
}

func TestVerifyClockSkew(t *testing.T) {
	req := clientRequest(t, "GET", "http://"+testHost+"/", nil, nil)
	sdkSign(t, req, nil, testSecret, signTime)
	sreq, _ := onWire(t, req)
	tests := []struct {
		name string
		now  time.Time
		msg  string // "" = accepted
	}{
		{name: "same time", now: signTime},
		{name: "15 minutes later", now: signTime.Add(15 * time.Minute)},
		{name: "15 minutes earlier", now: signTime.Add(-15 * time.Minute)},
		{name: "just expired", now: signTime.Add(15*time.Minute + time.Second),
			msg: "Signature expired: 20261127T080759Z is now earlier than 20261127T080800Z (20261127T082300Z - 15 min.)"},
		{name: "just future-dated", now: signTime.Add(-15*time.Minute - time.Second),
			msg: "Signature not yet current: 20261127T080759Z is still later than 20261127T080758Z (20261127T075258Z + 15 min.)"},
		{name: "a day old", now: signTime.Add(24 * time.Hour), msg: "Signature expired: 20261127T080759Z is now earlier than 20261128T075259Z (20261128T080759Z - 15 min.)"},
		{name: "local time zone", now: signTime.In(time.FixedZone("X", 5*3600)).Add(time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(sreq, nil, testSecret, tc.now)
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, sigv4.ErrSignatureExpired)
			code, status, msg := sigv4.ErrorCode(err)
			require.Equal(t, "InvalidSignatureException", code)
			require.Equal(t, http.StatusForbidden, status)
			require.Equal(t, tc.msg, msg)
			code, status, _ = sigv4.QueryErrorCode(err)
			require.Equal(t, "SignatureDoesNotMatch", code)
			require.Equal(t, http.StatusForbidden, status)
		})
	}
}

func TestVerifyDateHeader(t *testing.T) {
	// A client that signs with the Date header instead of X-Amz-Date: the
	// string to sign still carries the ISO 8601 form.
	req := clientRequest(t, "GET", "http://"+testHost+"/x", nil, nil)
	sdkSign(t, req, nil, testSecret, signTime)
	req.Header.Del("X-Amz-Date")
	req.Header.Set("Date", signTime.Format(http.TimeFormat))
	auth := req.Header.Get("Authorization")
	req.Header.Set("Authorization", strings.Replace(auth, "SignedHeaders=host;x-amz-date", "SignedHeaders=date;host", 1))
	sreq, _ := onWire(t, req)
	a, err := sigv4.ParseAuthorization(sreq)
	require.NoError(t, err)
	require.Equal(t, signTime, a.Time)
	// Recompute what the client must have signed and check Verify agrees.
	creq := "GET\n/x\n\ndate:" + signTime.Format(http.TimeFormat) + "\nhost:" + testHost + "\n\ndate;host\n" + bodyHash(nil)
	key := sigv4.SigningKey(testSecret, "20261127", testRegion, testSvc)
	sig := hmacHex(key, sigv4.StringToSign(a, creq))
	a.Signature = sig
	require.NoError(t, sigv4.Verify(sreq, nil, a, testSecret, signTime))
}

func TestPresigned(t *testing.T) {
	req := clientRequest(t, "GET", "http://"+testHost+"/2015-02-01/file-systems?MaxItems=2", nil, nil)
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "60")
	req.URL.RawQuery = q.Encode()
	signedURL, hdr, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, bodyHash(nil), testSvc, testRegion, signTime)
	require.NoError(t, err)
	preq := clientRequest(t, "GET", signedURL, nil, hdr)
	sreq, _ := onWire(t, preq)
	a, err := sigv4.ParseAuthorization(sreq)
	require.NoError(t, err)
	require.True(t, a.Presigned)
	require.Equal(t, time.Minute, a.Expires)
	require.Equal(t, testSvc, a.Service)
	require.NoError(t, sigv4.Verify(sreq, nil, a, testSecret, signTime.Add(time.Minute)))
	require.ErrorIs(t, sigv4.Verify(sreq, nil, a, testSecret, signTime.Add(time.Minute+time.Second)), sigv4.ErrSignatureExpired)
	require.ErrorIs(t, sigv4.Verify(sreq, nil, a, testSecret, signTime.Add(-16*time.Minute)), sigv4.ErrSignatureExpired)
	require.ErrorIs(t, sigv4.Verify(sreq, nil, a, "wrong", signTime), sigv4.ErrSignatureDoesNotMatch)

	tampered := strings.Replace(signedURL, "MaxItems=2", "MaxItems=3", 1)
	sreq, _ = onWire(t, clientRequest(t, "GET", tampered, nil, hdr))
	require.ErrorIs(t, verify(sreq, nil, testSecret, signTime), sigv4.ErrSignatureDoesNotMatch)

	// Both mechanisms at once are refused.
	sreq, _ = onWire(t, clientRequest(t, "GET", signedURL, nil, http.Header{"Authorization": {"AWS4-HMAC-SHA256 x"}}))
	_, err = sigv4.ParseAuthorization(sreq)
	require.ErrorIs(t, err, sigv4.ErrIncompleteSignature)
}

func hmacHex(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func TestParseAuthorization(t *testing.T) {
	const date = "20261127T080759Z"
	good := "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/elasticfilesystem/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		auth    []string
		amzDate string
		query   string
		want    error
		msg     string
	}{
		{name: "good", auth: []string{good}, amzDate: date},
		{name: "no spaces after commas", auth: []string{strings.ReplaceAll(good, ", ", ",")}, amzDate: date},
		{name: "components reordered", auth: []string{"AWS4-HMAC-SHA256 Signature=00, SignedHeaders=host, Credential=AKID/20261127/us-east-1/iam/aws4_request"}, amzDate: date},
		{name: "nothing", want: sigv4.ErrMissingAuthentication, msg: "Missing Authentication Token"},
		{name: "empty header", auth: []string{""}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "two headers", auth: []string{good, good}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "sigv2", auth: []string{"AWS AKID:c2ln"}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "sigv4a", auth: []string{strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "no credential", auth: []string{"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"}, amzDate: date, want: sigv4.ErrIncompleteSignature,
			msg: "Authorization header requires 'Credential' parameter."},
		{name: "nothing after algorithm", auth: []string{"AWS4-HMAC-SHA256"}, amzDate: date, want: sigv4.ErrIncompleteSignature,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires 'Signature' parameter."},
		{name: "no date", auth: []string{good}, want: sigv4.ErrIncompleteSignature,
			msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "bad date", auth: []string{good}, amzDate: "2026-11-27T08:07:59Z", want: sigv4.ErrIncompleteSignature,
			msg: "Date must be in ISO-8601 'basic format'. Got '2026-11-27T08:07:59Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "short credential", auth: []string{strings.Replace(good, "/aws4_request", "", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "bad terminator", auth: []string{strings.Replace(good, "aws4_request", "aws4_reques", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature,
			msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reques'."},
		{name: "bad scope date", auth: []string{strings.Replace(good, "/20261127/", "/2026112/", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "empty region", auth: []string{strings.Replace(good, "/us-east-1/", "//", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "empty key", auth: []string{strings.Replace(good, "=AKID/", "=/", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "host not signed", auth: []string{strings.Replace(good, "host;", "", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature,
			msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "upper-case signed header", auth: []string{strings.Replace(good, "host;", "Host;", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "empty signed header", auth: []string{strings.Replace(good, "host;", "host;;", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "empty signature", auth: []string{strings.Replace(good, "Signature="+strings.Repeat("ab", 32), "Signature=", 1)}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "component without =", auth: []string{good + ", junk"}, amzDate: date, want: sigv4.ErrIncompleteSignature},
		{name: "presigned", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=" + date + "&X-Amz-SignedHeaders=host&X-Amz-Signature=00"},
		{name: "presigned missing signature", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=" + date + "&X-Amz-SignedHeaders=host",
			want: sigv4.ErrIncompleteSignature, msg: "A presigned request requires exactly one non-empty value of each of: X-Amz-Signature."},
		{name: "presigned bad expires", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=" + date + "&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801",
			want: sigv4.ErrIncompleteSignature},
		{name: "presigned malformed query", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&x=%zz", want: sigv4.ErrIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://"+testHost+"/?"+tc.query, nil)
			for _, v := range tc.auth {
				r.Header.Add("Authorization", v)
			}
			if tc.amzDate != "" {
				r.Header.Set("X-Amz-Date", tc.amzDate)
			}
			a, err := sigv4.ParseAuthorization(r)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotEmpty(t, a.AccessKeyID)
				require.Contains(t, a.SignedHeaders, "host")
				return
			}
			require.ErrorIs(t, err, tc.want)
			var e *sigv4.Error
			require.ErrorAs(t, err, &e)
			if tc.msg != "" {
				require.Equal(t, tc.msg, e.Message)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		err                error
		code, queryCode    string
		status, queryState int
	}{
		{sigv4.ErrMissingAuthentication, "MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, 403},
		{sigv4.ErrIncompleteSignature, "IncompleteSignatureException", "IncompleteSignature", 400, 400},
		{sigv4.ErrSignatureDoesNotMatch, "InvalidSignatureException", "SignatureDoesNotMatch", 403, 403},
		{sigv4.ErrSignatureExpired, "InvalidSignatureException", "SignatureDoesNotMatch", 403, 403},
		{sigv4.ErrUnknownAccessKey, "UnrecognizedClientException", "InvalidClientTokenId", 403, 403},
		{fmt.Errorf("edge: lookup: %w", sigv4.ErrUnknownAccessKey), "UnrecognizedClientException", "InvalidClientTokenId", 403, 403},
		{&sigv4.Error{Kind: sigv4.ErrSignatureExpired, Message: "m"}, "InvalidSignatureException", "SignatureDoesNotMatch", 403, 403},
		{errors.New("meta: disk on fire"), "InternalFailure", "InternalFailure", 500, 500},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			code, status, msg := sigv4.ErrorCode(tc.err)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.status, status)
			require.NotEmpty(t, msg)
			require.NotContains(t, msg, "disk on fire", "causes never reach the client")
			code, status, _ = sigv4.QueryErrorCode(tc.err)
			require.Equal(t, tc.queryCode, code)
			require.Equal(t, tc.queryState, status)
		})
	}
	_, _, msg := sigv4.ErrorCode(sigv4.ErrUnknownAccessKey)
	require.Equal(t, "The security token included in the request is invalid.", msg)
}

func TestCheckScope(t *testing.T) {
	a := sigv4.Authorization{Region: "eu-west-1"}
	require.NoError(t, sigv4.CheckScope(a, "us-east-1", "eu-west-1"))
	err := sigv4.CheckScope(a, "us-east-1")
	require.ErrorIs(t, err, sigv4.ErrSignatureDoesNotMatch)
	_, _, msg := sigv4.ErrorCode(err)
	require.Equal(t, "Credential should be scoped to a valid region, not 'eu-west-1'.", msg)
}

// TestCapturedCanonicalRequest checks the key derivation and string to sign
// against the canonical request of aws-clients.md (awscli 2.9.19
// create-file-system), signed here with the reference recipe.
func TestCapturedCanonicalRequest(t *testing.T) {
	body := []byte(`{"CreationToken": "t1", "Encrypted": true, "PerformanceMode": "generalPurpose"}`)
	r := httptest.NewRequest("POST", "/2015-02-01/file-systems", bytes.NewReader(body))
	r.Host = "127.0.0.1:18765"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Amz-Date", "20261127T080759Z")
	a := sigv4.Authorization{AccessKeyID: "AKIDEXAMPLE", Date: "20261127", Region: "us-east-1", Service: "elasticfilesystem",
		SignedHeaders: []string{"content-type", "host", "x-amz-date"}, Time: time.Date(2026, 11, 27, 8, 7, 59, 0, time.UTC)}
	creq := "POST\n/2015-02-01/file-systems\n\ncontent-type:application/json\nhost:127.0.0.1:18765\nx-amz-date:20261127T080759Z\n\ncontent-type;host;x-amz-date\n" + bodyHash(body)
	a.Signature = hmacHex(sigv4.SigningKey("secret", a.Date, a.Region, a.Service), sigv4.StringToSign(a, creq))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/elasticfilesystem/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="+a.Signature)
	parsed, err := sigv4.ParseAuthorization(r)
	require.NoError(t, err)
	require.Equal(t, a, parsed)
	require.NoError(t, sigv4.Verify(r, body, parsed, "secret", a.Time))
}

// TestVerifyBotocoreNormalizedPath: botocore removes empty and dot segments
// from the path before signing but sends the path unchanged.
func TestVerifyBotocoreNormalizedPath(t *testing.T) {
	tests := []struct{ signed, sent string }{
		{"/2015-02-01/tags/", "/2015-02-01/tags//"},
		{"/a/c", "/a/./b/../c"},
		{"/a/b/", "/a//b//"},
		{"/", "/.."},
	}
	for _, tc := range tests {
		t.Run(tc.sent, func(t *testing.T) {
			req := clientRequest(t, "GET", "http://"+testHost+tc.signed, nil, nil)
			sdkSign(t, req, nil, testSecret, signTime)
			req.URL.Path, req.URL.RawPath = tc.sent, ""
			sreq, _ := onWire(t, req)
			require.Equal(t, tc.sent, sreq.RequestURI)
			require.NoError(t, verify(sreq, nil, testSecret, signTime))
		})
	}
	// Without empty or dot segments there is no second form.
	req := clientRequest(t, "GET", "http://"+testHost+"/a/b", nil, nil)
	sdkSign(t, req, nil, testSecret, signTime)
	req.URL.Path = "/a/b/"
	sreq, _ := onWire(t, req)
	require.ErrorIs(t, verify(sreq, nil, testSecret, signTime), sigv4.ErrSignatureDoesNotMatch)
}
