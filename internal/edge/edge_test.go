package edge_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/edge"
)

const (
	account   = "123456789012"
	rootKey   = "AKIAROOTROOTROOT0001"
	rootSec   = "root-secret"
	aliceKey  = "AKIAALICEALICEALI001"
	aliceSec  = "alice-secret"
	unknownID = "AKIAUNKNOWNUNKNOWN01"
)

// keys is an in-memory Credentials.
type keys map[string]struct {
	p      edge.Principal
	secret string
}

func (k keys) Lookup(_ context.Context, id string) (edge.Principal, string, error) {
	e, ok := k[id]
	if !ok {
		return edge.Principal{}, "", fmt.Errorf("lookup %s: %w", id, edge.ErrUnknownAccessKey)
	}
	return e.p, e.secret, nil
}

func testKeys() keys {
	return keys{
		rootKey: {edge.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account, AccessKeyID: rootKey, IsRoot: true}, rootSec},
		aliceKey: {edge.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":user/alice", UserName: "alice",
			UserID: "AIDAALICE", AccessKeyID: aliceKey}, aliceSec},
	}
}

// memAudit records events in memory; fail makes Append fail.
type memAudit struct {
	mu     sync.Mutex
	events []*audit.Event
	fail   bool
}

func (m *memAudit) Append(_ context.Context, e *audit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk on fire")
	}
	m.events = append(m.events, e)
	return nil
}

func (m *memAudit) all() []*audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*audit.Event(nil), m.events...)
}

// efsFake answers DescribeFileSystems and PutFileSystemPolicy; a file
// system ID "fs-panic" makes it panic.
type efsFake struct {
	mu    sync.Mutex
	calls []*edge.Call
}

func (f *efsFake) SigningName() string { return "elasticfilesystem" }

func (f *efsFake) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, call *edge.Call) edge.Outcome {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if r.URL.Query().Get("FileSystemId") == "fs-panic" {
		w.Header().Set("X-Half", "written")
		_, _ = w.Write([]byte("half a response"))
		panic("broken invariant")
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPut {
		_, _ = w.Write([]byte(`{"FileSystemId":"fs-12345678","Policy":"{}"}`))
		return edge.Outcome{EventName: "PutFileSystemPolicy", RequestParameters: map[string]any{"fileSystemId": "fs-12345678"}}
	}
	_, _ = w.Write([]byte(`{"FileSystems":[]}`))
	return edge.Outcome{
		EventName: "DescribeFileSystems", ReadOnly: true,
		RequestParameters: map[string]any{"fileSystemId": r.URL.Query().Get("FileSystemId")},
		Resources:         []string{"arn:aws:elasticfilesystem:us-east-1:" + account + ":file-system/fs-12345678"},
	}
}

// OperationName names requests that fail before ServeCall.
func (f *efsFake) OperationName(r *http.Request, _ []byte) string {
	if r.Method == http.MethodPut {
		return "PutFileSystemPolicy"
	}
	return "DescribeFileSystems"
}

func (f *efsFake) lastCall() *edge.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return nil
	}
	return f.calls[len(f.calls)-1]
}

// ec2Fake answers every EC2 call with an empty DescribeVpcs response.
type ec2Fake struct{}

func (ec2Fake) SigningName() string { return "ec2" }

func (ec2Fake) ServeCall(w http.ResponseWriter, _ *http.Request, _ []byte, call *edge.Call) edge.Outcome {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>%s</requestId><vpcSet/></DescribeVpcsResponse>`, call.RequestID)
	return edge.Outcome{EventName: "DescribeVpcs", ReadOnly: true}
}

type harness struct {
	srv   *edge.Server
	efs   *efsFake
	audit *memAudit
	clock *clock.Fake
	http  *http.Client
}

func start(t *testing.T, cfg config.API, dataDir string) *harness {
	t.Helper()
	h := &harness{efs: &efsFake{}, audit: &memAudit{}, clock: clock.NewFake(time.Now())}
	srv, err := edge.New(edge.Deps{
		Credentials: testKeys(), Audit: h.audit, Account: account, Region: "us-east-1",
		DataDir: dataDir, Clock: h.clock,
	}, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Register(h.efs))
	require.NoError(t, srv.Register(ec2Fake{}))
	require.Error(t, srv.Register(ec2Fake{}), "a signing name is registered once")
	h.srv = srv
	h.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if pem := srv.CertificatePEM(); pem != nil {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		h.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, srv.Close())
		h.http.CloseIdleConnections()
	})
	return h
}

func (h *harness) awsConfig(key, secret, region string) aws.Config {
	return aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       h.http,
		RetryMaxAttempts: 1,
	}
}

func (h *harness) efsClient(key, secret string) *efs.Client {
	return efs.NewFromConfig(h.awsConfig(key, secret, "us-east-1"), func(o *efs.Options) { o.BaseEndpoint = aws.String(h.srv.URL()) })
}

func (h *harness) ec2Client(key, secret string) *ec2.Client {
	return ec2.NewFromConfig(h.awsConfig(key, secret, "us-east-1"), func(o *ec2.Options) { o.BaseEndpoint = aws.String(h.srv.URL()) })
}

// apiError returns the code and HTTP status of an SDK error.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "no HTTP response: %v", err)
	return ae.ErrorCode(), re.HTTPStatusCode()
}

func plain() config.API { return config.API{Listen: "127.0.0.1:0"} }

func TestRouteAndRecord(t *testing.T) {
	h := start(t, plain(), "")
	ctx := context.Background()

	out, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String("fs-12345678")})
	require.NoError(t, err)
	require.Empty(t, out.FileSystems)
	call := h.efs.lastCall()
	require.NotNil(t, call)
	require.Equal(t, "elasticfilesystem", call.Service)
	require.Equal(t, "us-east-1", call.Region)
	require.Equal(t, "127.0.0.1", call.SourceIP)
	require.True(t, call.Principal.IsRoot)
	require.Contains(t, call.UserAgent, "aws-sdk-go-v2")
	require.False(t, call.Secure)

	reqID, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	require.True(t, ok)
	require.Equal(t, call.RequestID, reqID)

	events := h.audit.all()
	require.Len(t, events, 1)
	e := events[0]
	require.Equal(t, "DescribeFileSystems", e.EventName)
	require.Equal(t, "elasticfilesystem.amazonaws.com", e.EventSource)
	require.Equal(t, "2015-02-01", e.APIVersion)
	require.Equal(t, audit.UserIdentity{Type: "Root", PrincipalID: account, ARN: "arn:aws:iam::" + account + ":root", AccountID: account, AccessKeyID: rootKey}, e.UserIdentity)
	require.Equal(t, reqID, e.RequestID)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, e.EventID)
	require.NotEqual(t, e.RequestID, e.EventID)
	require.True(t, e.ReadOnly)
	require.True(t, e.ManagementEvent)
	require.Equal(t, "AwsApiCall", e.EventType)
	require.Equal(t, "Management", e.EventCategory)
	require.Equal(t, account, e.RecipientAccountID)
	require.Equal(t, audit.FormatTime(h.clock.Now()), e.EventTime)
	require.JSONEq(t, `{"fileSystemId":"fs-12345678"}`, string(e.RequestParameters))
	require.Nil(t, e.ResponseElements)
	require.Equal(t, []audit.Resource{{ARN: "arn:aws:elasticfilesystem:us-east-1:" + account + ":file-system/fs-12345678", AccountID: account, Type: "AWS::EFS::FileSystem"}}, e.Resources)
	require.Empty(t, e.ErrorCode)
	require.Nil(t, e.TLSDetails)

	// An IAM user's call carries the user's identity.
	_, err = h.efsClient(aliceKey, aliceSec).DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	e = h.audit.all()[1]
	require.Equal(t, audit.UserIdentity{Type: "IAMUser", PrincipalID: "AIDAALICE", ARN: "arn:aws:iam::" + account + ":user/alice",
		AccountID: account, AccessKeyID: aliceKey, UserName: "alice"}, e.UserIdentity)

	// The EC2 SDK signs for "ec2" and reaches the ec2 service.
	vpcs, err := h.ec2Client(rootKey, rootSec).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(t, err)
	require.Empty(t, vpcs.Vpcs)
	e = h.audit.all()[2]
	require.Equal(t, "ec2.amazonaws.com", e.EventSource)
	require.Equal(t, "2016-11-15", e.APIVersion)
	require.Equal(t, "DescribeVpcs", e.EventName)
}

func TestAuthFailures(t *testing.T) {
	h := start(t, plain(), "")
	ctx := context.Background()

	tests := []struct {
		name       string
		client     func() error
		wantCode   string
		wantStatus int
		recorded   bool
	}{
		{
			name: "unknown access key",
			client: func() error {
				_, err := h.efsClient(unknownID, "x").DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
				return err
			},
			wantCode: "UnrecognizedClientException", wantStatus: 403,
		},
		{
			name: "wrong secret",
			client: func() error {
				_, err := h.efsClient(rootKey, "not-the-secret").DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
				return err
			},
			wantCode: "InvalidSignatureException", wantStatus: 403, recorded: true,
		},
		{
			name: "wrong region",
			client: func() error {
				c := efs.NewFromConfig(h.awsConfig(rootKey, rootSec, "eu-west-1"), func(o *efs.Options) { o.BaseEndpoint = aws.String(h.srv.URL()) })
				_, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
				return err
			},
			wantCode: "InvalidSignatureException", wantStatus: 403, recorded: true,
		},
		{
			name: "ec2 unknown access key",
			client: func() error {
				_, err := h.ec2Client(unknownID, "x").DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
				return err
			},
			wantCode: "AuthFailure", wantStatus: 401,
		},
		{
			name: "ec2 wrong secret",
			client: func() error {
				_, err := h.ec2Client(aliceKey, "nope").DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
				return err
			},
			wantCode: "AuthFailure", wantStatus: 401, recorded: true,
		},
		{
			name: "service not served (sts, query protocol)",
			client: func() error {
				c := sts.NewFromConfig(h.awsConfig(rootKey, rootSec, "us-east-1"), func(o *sts.Options) { o.BaseEndpoint = aws.String(h.srv.URL()) })
				_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			},
			wantCode: "SignatureDoesNotMatch", wantStatus: 403,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.audit.all())
			code, status := apiError(t, tt.client())
			require.Equal(t, tt.wantCode, code)
			require.Equal(t, tt.wantStatus, status)
			events := h.audit.all()
			if !tt.recorded {
				require.Len(t, events, before)
				return
			}
			require.Len(t, events, before+1)
			e := events[len(events)-1]
			require.Equal(t, tt.wantCode, e.ErrorCode)
			require.NotEmpty(t, e.ErrorMessage)
			require.True(t, e.ReadOnly)
			require.NotEqual(t, "Unknown", e.EventName)
		})
	}

	t.Run("expired", func(t *testing.T) {
		h.clock.Advance(20 * time.Minute)
		defer h.clock.Advance(-20 * time.Minute)
		_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
		code, status := apiError(t, err)
		require.Equal(t, "InvalidSignatureException", code)
		require.Equal(t, 403, status)
		require.Contains(t, err.Error(), "Signature expired")
	})
	t.Run("future-dated", func(t *testing.T) {
		h.clock.Advance(-20 * time.Minute)
		defer h.clock.Advance(20 * time.Minute)
		_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
		code, _ := apiError(t, err)
		require.Equal(t, "InvalidSignatureException", code)
		require.Contains(t, err.Error(), "not yet current")
	})
	t.Run("ec2 expired", func(t *testing.T) {
		h.clock.Advance(20 * time.Minute)
		defer h.clock.Advance(-20 * time.Minute)
		_, err := h.ec2Client(rootKey, rootSec).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		code, status := apiError(t, err)
		require.Equal(t, "RequestExpired", code)
		require.Equal(t, 400, status)
	})

	t.Run("missing authentication", func(t *testing.T) {
		resp, err := h.http.Get(h.srv.URL() + "/2015-02-01/file-systems")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 403, resp.StatusCode)
		require.Equal(t, "MissingAuthenticationTokenException", resp.Header.Get("X-Amzn-ErrorType"))
		require.NotEmpty(t, resp.Header.Get("X-Amzn-RequestId"))
		require.JSONEq(t, `{"ErrorCode":"MissingAuthenticationTokenException","Message":"Missing Authentication Token","__type":"MissingAuthenticationTokenException"}`, string(body))
	})
	t.Run("missing authentication, query form", func(t *testing.T) {
		resp, err := h.http.Post(h.srv.URL()+"/", "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader("Action=ListUsers&Version=2010-05-08"))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 403, resp.StatusCode)
		require.Contains(t, string(body), "<Code>MissingAuthenticationToken</Code>")
		require.Contains(t, string(body), "<Type>Sender</Type>")
	})
	t.Run("malformed authorization", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL()+"/2015-02-01/file-systems", nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
		resp, err := h.http.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode)
		require.Equal(t, "IncompleteSignatureException", resp.Header.Get("X-Amzn-ErrorType"))
	})
}

func TestBodyBound(t *testing.T) {
	h := start(t, plain(), "")
	ctx := context.Background()
	_, err := h.efsClient(rootKey, rootSec).PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{
		FileSystemId: aws.String("fs-12345678"),
		Policy:       aws.String(strings.Repeat("x", edge.MaxBodyBytes+1)),
	})
	code, status := apiError(t, err)
	require.Equal(t, "RequestEntityTooLargeException", code)
	require.Equal(t, 413, status)
	require.Nil(t, h.efs.lastCall(), "the service never saw it")

	// Just under the limit passes.
	_, err = h.efsClient(rootKey, rootSec).PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{
		FileSystemId: aws.String("fs-12345678"),
		Policy:       aws.String(strings.Repeat("x", edge.MaxBodyBytes-100)),
	})
	require.NoError(t, err)

	// A body without Content-Length (chunked) is bounded while it is read.
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("y"), 64<<10)
		for range 20 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPut, h.srv.URL()+"/2015-02-01/file-systems/fs-1/policy", pr)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+rootKey+"/20260101/us-east-1/elasticfilesystem/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	resp, err := h.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode)
	require.Equal(t, "RequestEntityTooLargeException", resp.Header.Get("X-Amzn-ErrorType"))
}

func TestPanicIsA500(t *testing.T) {
	h := start(t, plain(), "")
	_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{FileSystemId: aws.String("fs-panic")})
	code, status := apiError(t, err)
	require.Equal(t, "InternalServerError", code)
	require.Equal(t, 500, status)
	require.NotContains(t, err.Error(), "broken invariant")
	e := h.audit.all()[0]
	require.Equal(t, "InternalServerError", e.ErrorCode)
	// The server keeps serving.
	_, err = h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
}

func TestAuditFailureWithholdsTheResponse(t *testing.T) {
	h := start(t, plain(), "")
	h.audit.mu.Lock()
	h.audit.fail = true
	h.audit.mu.Unlock()
	_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	code, status := apiError(t, err)
	require.Equal(t, "InternalServerError", code)
	require.Equal(t, 500, status)
}

func TestSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := config.API{Listen: "127.0.0.1:0", TLS: config.APITLS{SelfSigned: true}}
	h := start(t, cfg, dir)
	require.True(t, strings.HasPrefix(h.srv.URL(), "https://"))
	_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	call := h.efs.lastCall()
	require.True(t, call.Secure)
	require.Equal(t, "TLSv1.3", call.TLSVersion)
	e := h.audit.all()[0]
	require.NotNil(t, e.TLSDetails)
	require.Equal(t, "TLSv1.3", e.TLSDetails.TLSVersion)
	require.Equal(t, "TLS_AES_128_GCM_SHA256", e.TLSDetails.CipherSuite)
	require.Equal(t, strings.TrimPrefix(h.srv.URL(), "https://"), e.TLSDetails.ClientProvidedHostHeader)

	st, err := os.Stat(filepath.Join(dir, "tls", "api-key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	first := h.srv.CertificatePEM()

	// A second server over the same data directory reuses the certificate.
	again, err := edge.New(edge.Deps{Credentials: testKeys(), Audit: &memAudit{}, Account: account, Region: "us-east-1", DataDir: dir}, cfg)
	require.NoError(t, err)
	require.Equal(t, first, again.CertificatePEM())
	require.NoError(t, again.Close())

	// Plain HTTP to the TLS port fails.
	resp, err := http.Get("http://" + strings.TrimPrefix(h.srv.URL(), "https://") + "/")
	if err == nil {
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp.Body.Close()
	}
}

func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	// Make a certificate through the self-signed path, then use its files
	// as configured ones.
	s, err := edge.New(edge.Deps{Credentials: testKeys(), Audit: &memAudit{}, Account: account, Region: "us-east-1", DataDir: dir},
		config.API{Listen: "127.0.0.1:0", TLS: config.APITLS{SelfSigned: true}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	cfg := config.API{Listen: "127.0.0.1:0", TLS: config.APITLS{
		CertFile: filepath.Join(dir, "tls", "api-cert.pem"), KeyFile: filepath.Join(dir, "tls", "api-key.pem"),
	}}
	h := start(t, cfg, "")
	_, err = h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)

	_, err = edge.New(edge.Deps{Credentials: testKeys(), Audit: &memAudit{}, Account: account, Region: "us-east-1"},
		config.API{Listen: "127.0.0.1:0", TLS: config.APITLS{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "missing.pem")}})
	require.ErrorContains(t, err, "load TLS certificate")
}

func TestListenInUse(t *testing.T) {
	h := start(t, plain(), "")
	_, err := edge.New(edge.Deps{Credentials: testKeys(), Audit: &memAudit{}, Account: account, Region: "us-east-1"},
		config.API{Listen: h.srv.Addr().String()})
	require.ErrorContains(t, err, "listen")
}

func TestWriteError(t *testing.T) {
	e := &edge.APIError{Code: "InvalidVpcID.NotFound", Status: 400, Message: "The vpc ID 'vpc-1' does not exist"}
	tests := []struct {
		proto      edge.Protocol
		wantType   string
		wantHeader string
		wantBody   string
	}{
		{edge.RESTJSON, "application/json", "InvalidVpcID.NotFound",
			`{"ErrorCode":"InvalidVpcID.NotFound","Message":"The vpc ID 'vpc-1' does not exist","__type":"InvalidVpcID.NotFound"}`},
		{edge.JSON, "application/x-amz-json-1.1", "InvalidVpcID.NotFound",
			`{"__type":"InvalidVpcID.NotFound","message":"The vpc ID 'vpc-1' does not exist"}`},
		{edge.Query, "text/xml", "",
			`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID &#39;vpc-1&#39; does not exist</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`},
		{edge.EC2Query, "text/xml;charset=UTF-8", "",
			`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID &#39;vpc-1&#39; does not exist</Message></Error></Errors><RequestID>req-1</RequestID></Response>`},
	}
	for _, tt := range tests {
		t.Run(tt.proto.String(), func(t *testing.T) {
			w := &recorder{header: http.Header{}}
			edge.WriteError(w, tt.proto, "req-1", e)
			require.Equal(t, 400, w.status)
			require.Equal(t, tt.wantType, w.header.Get("Content-Type"))
			require.Equal(t, tt.wantHeader, w.header.Get("X-Amzn-ErrorType"))
			require.Equal(t, "req-1", w.header.Get("X-Amzn-RequestId"))
			require.Equal(t, tt.wantBody, w.body.String())
			if tt.proto == edge.RESTJSON || tt.proto == edge.JSON {
				require.True(t, json.Valid(w.body.Bytes()))
			}
		})
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(c int)           { r.status = c }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// blockingEFS holds every call until release is closed.
type blockingEFS struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingEFS) SigningName() string { return "elasticfilesystem" }

func (b *blockingEFS) ServeCall(w http.ResponseWriter, _ *http.Request, _ []byte, _ *edge.Call) edge.Outcome {
	b.entered <- struct{}{}
	<-b.release
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"FileSystems":[]}`))
	return edge.Outcome{EventName: "DescribeFileSystems", ReadOnly: true}
}

func TestInFlightBound(t *testing.T) {
	svc := &blockingEFS{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, err := edge.New(edge.Deps{Credentials: testKeys(), Audit: &memAudit{}, Account: account, Region: "us-east-1", MaxInFlight: 1},
		config.API{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Register(svc))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, srv.Close())
	}()
	h := &harness{srv: srv, http: &http.Client{}}
	first := make(chan error, 1)
	go func() {
		_, err := h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
		first <- err
	}()
	<-svc.entered
	_, err = h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	code, status := apiError(t, err)
	require.Equal(t, "ThrottlingException", code)
	require.Equal(t, 429, status)
	close(svc.release)
	require.NoError(t, <-first)
	// The slot is free again.
	_, err = h.efsClient(rootKey, rootSec).DescribeFileSystems(context.Background(), &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
}
