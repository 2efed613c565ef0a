package api_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/api"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const (
	account = "123456789012"
	region  = "us-east-1"
)

// authCall is one Authorize call seen by the fake authorizer.
type authCall struct {
	Action, Resource string
	Conditions       map[string][]string
}

// fakeAuthz records every authorization and denies the actions in deny.
type fakeAuthz struct {
	mu    sync.Mutex
	calls []authCall
	deny  map[string]bool
}

func (a *fakeAuthz) Authorize(_ context.Context, _ *edge.Call, action, resource string, cond map[string][]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, authCall{action, resource, cond})
	if a.deny[action] {
		return fmt.Errorf("denied by test: %w", edge.ErrAccessDenied)
	}
	return nil
}

func (a *fakeAuthz) reset(deny ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = nil
	a.deny = map[string]bool{}
	for _, d := range deny {
		a.deny["elasticfilesystem:"+d] = true
	}
}

func (a *fakeAuthz) seen() []authCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]authCall(nil), a.calls...)
}

type harness struct {
	t        testing.TB
	srv      *httptest.Server
	client   *efs.Client
	ctl      *control.Service
	kms      *kms.Manager
	authz    *fakeAuthz
	mu       sync.Mutex
	outcomes []edge.Outcome
	reqs     atomic.Int64
}

// newHarness runs the API behind a minimal stand-in for the edge: it bounds
// the body, skips signature verification and serves every call as the
// account root.
func newHarness(t testing.TB, cfg ...func(*control.Config)) *harness {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ck := clock.System
	root := make([]byte, 32)
	_, _ = rand.Read(root)
	km, err := kms.Open(context.Background(), m, root, kms.Config{Account: account, Region: region}, ck)
	require.NoError(t, err)
	fsvc := fs.New(m, data.New(memblob.New(), data.Options{}), km, fs.Options{Clock: ck, NoBackground: true})
	t.Cleanup(func() { _ = fsvc.Close() })
	c := control.Config{Account: account, Region: region}
	for _, f := range cfg {
		f(&c)
	}
	ctl, err := control.New(context.Background(), m, fsvc, km, c, control.Options{Clock: ck})
	require.NoError(t, err)
	h := &harness{t: t, ctl: ctl, kms: km, authz: &fakeAuthz{}}
	h.authz.reset()
	svc := api.New(ctl, h.authz, nil)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.reqs.Add(1)
		body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBodyBytes+1))
		if err != nil {
			http.Error(w, "read", 500)
			return
		}
		call := &edge.Call{
			Principal: edge.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account, IsRoot: true, AccessKeyID: "AKIDEXAMPLE"},
			Service:   "elasticfilesystem", Region: region, SourceIP: r.RemoteAddr, UserAgent: r.UserAgent(),
			RequestID: fmt.Sprintf("req-%d", n), Time: time.Now(),
		}
		out := svc.ServeCall(w, r, body, call)
		h.mu.Lock()
		h.outcomes = append(h.outcomes, out)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	h.client = efs.New(efs.Options{
		Region:       region,
		BaseEndpoint: aws.String(h.srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	return h
}

func (h *harness) lastOutcome() edge.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outcomes[len(h.outcomes)-1]
}

// raw sends a request without the SDK.
func (h *harness) raw(method, path string, body io.Reader) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	require.NoError(h.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp, string(b)
}

// requireAPIError checks that err is the typed error *T.
func requireAPIError[T error](t testing.TB, err error) T {
	t.Helper()
	require.Error(t, err)
	var target T
	require.True(t, errors.As(err, &target), "want %T, got %T: %v", target, err, err)
	return target
}
