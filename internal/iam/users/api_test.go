package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
	policy "github.com/shelf-efs/shelf/internal/iam"
	"github.com/shelf-efs/shelf/internal/sigv4"
)

// harness is the part of the HTTP edge these tests need: authenticate with
// sigv4 and Lookup, then hand the call to the Service. Authentication
// failures are answered in the query protocol, as the edge does for iam.
type harness struct {
	t     *testing.T
	e     *env
	svc   *Service
	srv   *httptest.Server
	authz *policyAuthorizer

	mu       sync.Mutex
	outcomes []edge.Outcome
	seq      int
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, e: newEnv(t)}
	h.authz = &policyAuthorizer{store: h.e.s}
	h.svc = NewService(h.e.s, h.authz, nil)
	h.srv = httptest.NewServer(h)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.seq++
	reqID := fmt.Sprintf("00000000-0000-4000-8000-%012d", h.seq)
	h.mu.Unlock()
	fail := func(err error) {
		code, status, msg := sigv4.QueryErrorCode(err)
		writeXML(w, status, errorResponse{Xmlns: Namespace, Error: errorBody{Type: "Sender", Code: code, Message: msg}, RequestID: reqID}, reqID)
	}
	a, err := sigv4.ParseAuthorization(r)
	if err != nil {
		fail(err)
		return
	}
	if a.Service != SigningName {
		fail(&sigv4.Error{Kind: sigv4.ErrSignatureDoesNotMatch, Message: "Credential should be scoped to correct service: 'iam'."})
		return
	}
	p, secret, err := h.e.s.Lookup(r.Context(), a.AccessKeyID)
	if err != nil {
		fail(err)
		return
	}
	// The SDK signs with the real clock.
	if err := sigv4.Verify(r, body, a, secret, time.Now()); err != nil {
		fail(err)
		return
	}
	out := h.svc.ServeCall(w, r, body, &edge.Call{Principal: p, Service: a.Service, Region: a.Region, RequestID: reqID, Time: time.Now()})
	h.mu.Lock()
	h.outcomes = append(h.outcomes, out)
	h.mu.Unlock()
}

func (h *harness) lastOutcome() edge.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(h.t, h.outcomes)
	return h.outcomes[len(h.outcomes)-1]
}

// client returns an IAM client of the real SDK signing with keyID/secret.
func (h *harness) client(keyID, secret string) *iam.Client {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
		HTTPClient:       h.srv.Client(),
	})
}

func (h *harness) rootClient() *iam.Client {
	id, secret, _, err := h.e.s.EnsureRootAccessKey(h.e.ctx)
	require.NoError(h.t, err)
	return h.client(id, secret)
}

// policyAuthorizer authorizes with the policy engine, as the edge's
// authorizer does: the principal's identity policies, no resource policy,
// no condition keys.
type policyAuthorizer struct {
	store *Store
	mu    sync.Mutex
	asked []string // "action resource"
}

func (a *policyAuthorizer) Authorize(ctx context.Context, call *edge.Call, action, resource string, conditions map[string][]string) error {
	a.mu.Lock()
	a.asked = append(a.asked, action+" "+resource)
	a.mu.Unlock()
	docs, err := a.store.IdentityPolicies(ctx, call.Principal)
	if err != nil {
		return err
	}
	var policies []*policy.Policy
	for _, d := range docs {
		p, err := policy.Parse(d)
		if err != nil {
			return err
		}
		policies = append(policies, p)
	}
	p := call.Principal
	d := policy.Decide(policy.Request{
		Principal: policy.Principal{ARN: p.ARN, Account: p.Account, IsRoot: p.IsRoot},
		Action:    action, Resource: resource, Conditions: conditions,
	}, policies, nil)
	if !d.Allowed() {
		return fmt.Errorf("%s: %w", d, edge.ErrAccessDenied)
	}
	return nil
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	return ae.ErrorCode()
}

func TestAPIWithSDK(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	root := h.rootClient()

	// Users.
	cu, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/eng/")})
	require.NoError(t, err)
	require.Equal(t, "alice", aws.ToString(cu.User.UserName))
	require.Equal(t, "/eng/", aws.ToString(cu.User.Path))
	require.Equal(t, "arn:aws:iam::123456789012:user/eng/alice", aws.ToString(cu.User.Arn))
	require.Regexp(t, userIDPattern, aws.ToString(cu.User.UserId))
	require.Equal(t, testStart, aws.ToTime(cu.User.CreateDate))
	out := h.lastOutcome()
	require.Equal(t, "CreateUser", out.EventName)
	require.False(t, out.ReadOnly)
	require.Equal(t, http.StatusOK, out.Status)
	require.Equal(t, map[string]any{"userName": "alice", "path": "/eng/"}, out.RequestParameters)
	require.Equal(t, []string{"arn:aws:iam::123456789012:user/eng/alice"}, out.Resources)

	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ALICE")})
	var exists *types.EntityAlreadyExistsException
	require.ErrorAs(t, err, &exists)
	require.Equal(t, "User with name alice already exists.", exists.ErrorMessage())
	require.Equal(t, "EntityAlreadyExists", h.lastOutcome().ErrorCode)
	require.Equal(t, http.StatusConflict, h.lastOutcome().Status)

	for _, n := range []string{"bob", "carol"} {
		_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n)})
		require.NoError(t, err)
	}

	gu, err := root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Alice")})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(cu.User.UserId), aws.ToString(gu.User.UserId))
	require.True(t, h.lastOutcome().ReadOnly)
	self, err := root.GetUser(ctx, &iam.GetUserInput{})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:root", aws.ToString(self.User.Arn))
	require.Equal(t, testAccount, aws.ToString(self.User.UserId))

	_, err = root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var nse *types.NoSuchEntityException
	require.ErrorAs(t, err, &nse)
	require.Equal(t, "The user with name nobody cannot be found.", nse.ErrorMessage())

	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name")})
	require.Equal(t, "ValidationError", apiCode(t, err))

	// Pagination through the SDK's paginator.
	var names []string
	pages := iam.NewListUsersPaginator(root, &iam.ListUsersInput{MaxItems: aws.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Users), 1)
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	require.Equal(t, []string{"alice", "bob", "carol"}, names)
	lu, err := root.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/eng/")})
	require.NoError(t, err)
	require.Len(t, lu.Users, 1)
	require.False(t, lu.IsTruncated)
	lu, err = root.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/ops/")})
	require.NoError(t, err)
	require.Empty(t, lu.Users)

	// Access keys.
	ck, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Regexp(t, keyIDPattern, aws.ToString(ck.AccessKey.AccessKeyId))
	require.Regexp(t, secretPattern, aws.ToString(ck.AccessKey.SecretAccessKey))
	require.Equal(t, types.StatusTypeActive, ck.AccessKey.Status)
	require.Equal(t, "alice", aws.ToString(ck.AccessKey.UserName))
	elements, err := json.Marshal(h.lastOutcome().ResponseElements)
	require.NoError(t, err)
	require.NotContains(t, string(elements), aws.ToString(ck.AccessKey.SecretAccessKey), "the audit trail never sees a secret")
	require.Contains(t, string(elements), aws.ToString(ck.AccessKey.AccessKeyId))

	ck2, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)
	require.Equal(t, "Cannot exceed quota for AccessKeysPerUser: 2", limit.ErrorMessage())

	lk, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Len(t, lk.AccessKeyMetadata, 2)
	require.ElementsMatch(t, []string{aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck2.AccessKey.AccessKeyId)},
		[]string{aws.ToString(lk.AccessKeyMetadata[0].AccessKeyId), aws.ToString(lk.AccessKeyMetadata[1].AccessKeyId)})
	rk, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	require.NoError(t, err)
	require.Len(t, rk.AccessKeyMetadata, 1, "the root's own key")

	_, err = root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
		AccessKeyId: ck2.AccessKey.AccessKeyId, Status: types.StatusTypeInactive})
	require.NoError(t, err)
	_, err = root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: ck2.AccessKey.AccessKeyId})
	require.ErrorAs(t, err, &nse)

	// Inline policies.
	doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}`
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin"), PolicyDocument: aws.String(doc)})
	require.NoError(t, err)
	gp, err := root.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin")})
	require.NoError(t, err)
	require.Equal(t, "alice", aws.ToString(gp.UserName))
	decoded, err := url.QueryUnescape(aws.ToString(gp.PolicyDocument))
	require.NoError(t, err)
	require.Equal(t, doc, decoded)
	require.NotContains(t, aws.ToString(gp.PolicyDocument), " ", "URL-encoded as IAM returns it")
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("bad"), PolicyDocument: aws.String("{nope")})
	var malformed *types.MalformedPolicyDocumentException
	require.ErrorAs(t, err, &malformed)
	lp, err := root.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Equal(t, []string{"admin"}, lp.PolicyNames)

	// DeleteUser refuses while keys or policies remain.
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "Cannot delete entity, must delete access keys first.", conflict.ErrorMessage())

	// Alice, allowed iam:* by her policy, manages users herself.
	alice := h.client(aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck.AccessKey.SecretAccessKey))
	_, err = alice.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dave")})
	require.NoError(t, err)
	require.Contains(t, h.authz.asked, "iam:CreateUser arn:aws:iam::123456789012:user/dave")
	me, err := alice.GetUser(ctx, &iam.GetUserInput{})
	require.NoError(t, err)
	require.Equal(t, "alice", aws.ToString(me.User.UserName))
	mine, err := alice.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	require.NoError(t, err)
	require.Len(t, mine.AccessKeyMetadata, 2)

	// Bob, with a key and no policy, is denied.
	bk, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	require.NoError(t, err)
	bob := h.client(aws.ToString(bk.AccessKey.AccessKeyId), aws.ToString(bk.AccessKey.SecretAccessKey))
	_, err = bob.ListUsers(ctx, &iam.ListUsersInput{})
	require.Equal(t, "AccessDenied", apiCode(t, err))
	require.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::123456789012:user/")
	out = h.lastOutcome()
	require.Equal(t, "AccessDenied", out.ErrorCode)
	require.Equal(t, http.StatusForbidden, out.Status)
	_, err = bob.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	require.Equal(t, "AccessDenied", apiCode(t, err))
	// Allowed GetUser on his own ARN only, bob sees himself and no one else.
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListAccessKeys"],"Resource":"arn:aws:iam::123456789012:user/${aws:username}"}]}`)})
	require.NoError(t, err)
	bobSelf, err := bob.GetUser(ctx, &iam.GetUserInput{})
	require.NoError(t, err)
	require.Equal(t, "bob", aws.ToString(bobSelf.User.UserName))
	_, err = bob.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	require.NoError(t, err)
	_, err = bob.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")})
	require.Equal(t, "AccessDenied", apiCode(t, err))
	_, err = bob.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	require.ErrorContains(t, err, "on resource: arn:aws:iam::123456789012:user/eng/alice", "the user's ARN includes its path")
	// A Deny wins over alice's Allow.
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("no-delete"),
		PolicyDocument: aws.String(`{"Statement":[{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}`)})
	require.NoError(t, err)
	_, err = alice.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dave")})
	require.Equal(t, "AccessDenied", apiCode(t, err))

	// Authentication failures, answered by the harness as the edge would.
	_, err = h.client(aws.ToString(ck.AccessKey.AccessKeyId), "wrong-secret").ListUsers(ctx, &iam.ListUsersInput{})
	require.Equal(t, "SignatureDoesNotMatch", apiCode(t, err))
	_, err = h.client("AKIAAAAAAAAAAAAAAAAA", "x").ListUsers(ctx, &iam.ListUsersInput{})
	require.Equal(t, "InvalidClientTokenId", apiCode(t, err))
	_, err = h.client(aws.ToString(ck2.AccessKey.AccessKeyId), aws.ToString(ck2.AccessKey.SecretAccessKey)).ListUsers(ctx, &iam.ListUsersInput{})
	require.Equal(t, "InvalidClientTokenId", apiCode(t, err), "inactive key")

	// Cleaning up alice through the API, then deleting her.
	for _, id := range []*string{ck.AccessKey.AccessKeyId, ck2.AccessKey.AccessKeyId} {
		_, err = root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: id})
		require.NoError(t, err)
	}
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "Cannot delete entity, must delete policies first.", conflict.ErrorMessage())
	for _, p := range []string{"admin", "no-delete"} {
		_, err = root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String(p)})
		require.NoError(t, err)
	}
	_, err = root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin")})
	require.ErrorAs(t, err, &nse)
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	_, err = alice.ListUsers(ctx, &iam.ListUsersInput{})
	require.Equal(t, "InvalidClientTokenId", apiCode(t, err), "deleted key")
}

// TestAPIWire checks the exact XML of a success and of an error, and the
// answers to requests that are wrong before any operation runs.
func TestAPIWire(t *testing.T) {
	e := newEnv(t)
	svc := NewService(e.s, nil, nil)
	rootID, _, _, err := e.s.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	rootP, _, err := e.s.Lookup(e.ctx, rootID)
	require.NoError(t, err)
	serve := func(method, body string, p edge.Principal) (*httptest.ResponseRecorder, edge.Outcome) {
		r := httptest.NewRequest(method, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w := httptest.NewRecorder()
		out := svc.ServeCall(w, r, []byte(body), &edge.Call{Principal: p, Service: "iam", Region: "us-east-1", RequestID: "req-1"})
		require.Equal(t, w.Code, out.Status)
		return w, out
	}

	w, out := serve("POST", "Action=CreateUser&Version=2010-05-08&UserName=alice", rootP)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/xml", w.Header().Get("Content-Type"))
	require.Equal(t, "req-1", w.Header().Get("X-Amzn-Requestid"))
	u, err := e.s.GetUser(e.ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User>`+
		`<Path>/</Path><UserName>alice</UserName><UserId>`+u.UserID+`</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn>`+
		`<CreateDate>2026-11-27T08:00:00Z</CreateDate></User></CreateUserResult>`+
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateUserResponse>`, w.Body.String())
	require.Equal(t, map[string]any{"user": map[string]any{"path": "/", "userName": "alice", "userId": u.UserID,
		"arn": "arn:aws:iam::123456789012:user/alice", "createDate": "2026-11-27T08:00:00Z"}}, out.ResponseElements)

	w, _ = serve("POST", "Action=DeleteUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p", rootP)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>`+
		`<Message>The user policy with name p cannot be found.</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, w.Body.String())

	w, _ = serve("POST", "Action=DeleteUser&Version=2010-05-08&UserName=alice", rootP)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DeleteUserResponse>`,
		w.Body.String())

	w, _ = serve("POST", "Action=ListUsers&Version=2010-05-08", rootP)
	require.Contains(t, w.Body.String(), "<ListUsersResult><Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>")

	tests := []struct {
		name, method, body string
		principal          edge.Principal
		code               string
		status             int
	}{
		{name: "no action", method: "POST", body: "Version=2010-05-08", principal: rootP, code: "MissingAction", status: 400},
		{name: "unknown action", method: "POST", body: "Action=CreateRole&Version=2010-05-08", principal: rootP, code: "InvalidAction", status: 400},
		{name: "wrong version", method: "POST", body: "Action=ListUsers&Version=2099-01-01", principal: rootP, code: "InvalidAction", status: 400},
		{name: "malformed form", method: "POST", body: "Action=ListUsers&x=%zz", principal: rootP, code: "MalformedQueryString", status: 400},
		{name: "PUT", method: "PUT", body: "Action=ListUsers", principal: rootP, code: "InvalidAction", status: 400},
		{name: "missing user name", method: "POST", body: "Action=DeleteUser", principal: rootP, code: "ValidationError", status: 400},
		{name: "bad max items", method: "POST", body: "Action=ListUsers&MaxItems=0", principal: rootP, code: "ValidationError", status: 400},
		{name: "bad marker", method: "POST", body: "Action=ListUsers&Marker=%21%21", principal: rootP, code: "ValidationError", status: 400},
		{name: "bad status", method: "POST", body: "Action=UpdateAccessKey&AccessKeyId=" + rootID + "&Status=Expired", principal: rootP, code: "ValidationError", status: 400},
		{name: "no authorizer", method: "POST", body: "Action=ListUsers", principal: edge.Principal{Account: testAccount, ARN: "arn:aws:iam::123456789012:user/x", UserName: "x"},
			code: "AccessDenied", status: 403},
		{name: "root of another account", method: "POST", body: "Action=ListUsers",
			principal: edge.Principal{Account: "210987654321", ARN: "arn:aws:iam::210987654321:root", IsRoot: true}, code: "AccessDenied", status: 403},
		{name: "GET query", method: "GET", body: "", principal: rootP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := "/"
			if tc.method == "GET" {
				target = "/?Action=ListUsers&Version=2010-05-08"
			}
			r := httptest.NewRequest(tc.method, target, strings.NewReader(tc.body))
			w := httptest.NewRecorder()
			out := svc.ServeCall(w, r, []byte(tc.body), &edge.Call{Principal: tc.principal, RequestID: "r"})
			if tc.code == "" {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				return
			}
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, tc.code, out.ErrorCode)
			require.Contains(t, w.Body.String(), "<Code>"+tc.code+"</Code>")
			require.Contains(t, w.Body.String(), "<Type>Sender</Type>")
		})
	}
}

// failingAuthorizer fails with an internal error.
type failingAuthorizer struct{}

func (failingAuthorizer) Authorize(context.Context, *edge.Call, string, string, map[string][]string) error {
	return errors.New("policy store unavailable: /var/lib/shelf")
}

func TestAPIServiceFailure(t *testing.T) {
	e := newEnv(t)
	svc := NewService(e.s, failingAuthorizer{}, nil)
	body := "Action=ListUsers&Version=2010-05-08"
	w := httptest.NewRecorder()
	out := svc.ServeCall(w, httptest.NewRequest("POST", "/", strings.NewReader(body)), []byte(body),
		&edge.Call{Principal: edge.Principal{Account: testAccount, UserName: "x", ARN: "arn:aws:iam::123456789012:user/x"}, RequestID: "r"})
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "ServiceFailure", out.ErrorCode)
	require.Contains(t, w.Body.String(), "<Type>Receiver</Type>")
	require.NotContains(t, w.Body.String(), "/var/lib/shelf", "causes stay out of answers")
}
