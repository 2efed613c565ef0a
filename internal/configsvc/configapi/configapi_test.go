package configapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/configsvc/configapi"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

type allowAll struct{}

func (allowAll) Authorize(context.Context, *edge.Call, string, string, map[string][]string) error {
	return nil
}

type denyAll struct{}

func (denyAll) Authorize(_ context.Context, c *edge.Call, action, res string, _ map[string][]string) error {
	return &edge.AccessDeniedError{PrincipalARN: c.Principal.ARN, Action: action, Resource: res}
}

func newAPI(t testing.TB, authz edge.Authorizer) *configapi.Service {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	root := make([]byte, 32)
	_, _ = rand.Read(root)
	km, err := kms.Open(context.Background(), m, root, kms.Config{Account: "123456789012", Region: "us-east-1"}, clock.System)
	require.NoError(t, err)
	fsvc := fs.New(m, data.New(memblob.New(), data.Options{}), km, fs.Options{NoBackground: true})
	t.Cleanup(func() { _ = fsvc.Close() })
	ctl, err := control.New(context.Background(), m, fsvc, km, control.Config{Account: "123456789012", Region: "us-east-1"}, control.Options{})
	require.NoError(t, err)
	svc, err := configsvc.New(m, ctl, configsvc.Config{}, configsvc.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	return configapi.New(svc, authz, "123456789012", "us-east-1", nil)
}

func serve(api *configapi.Service, op string, body []byte) (int, map[string]any, edge.Outcome) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "StarlingDoveService."+op)
	w := httptest.NewRecorder()
	out := api.ServeCall(w, r, body, &edge.Call{RequestID: "req-1", Time: time.Now(),
		Principal: edge.Principal{ARN: "arn:aws:iam::123456789012:user/bob"}})
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m, out
}

func TestErrors(t *testing.T) {
	api := newAPI(t, allowAll{})
	for _, tc := range []struct {
		op, body, code string
	}{
		{"NoSuchOp", `{}`, "UnknownOperationException"},
		{"PutConfigRule", `{"ConfigRule":`, "SerializationException"},
		{"PutConfigRule", `{"ConfigRule":{"ConfigRuleName":5}}`, "SerializationException"},
		{"PutConfigRule", `{}`, "ValidationException"},
		{"DescribeConfigRules", `{"ConfigRuleNames":["a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]}`, "InvalidParameterValueException"},
		{"DescribeComplianceByResource", `{"ResourceType":"not a type"}`, "ValidationException"},
		{"DescribeComplianceByResource", `{"Limit":-1}`, "InvalidLimitException"},
		{"GetResourceConfigHistory", `{"resourceType":"AWS::EFS::FileSystem","resourceId":"fs-1","laterTime":-5}`, "InvalidTimeRangeException"},
		{"GetResourceConfigHistory", `{"resourceType":"AWS::EFS::FileSystem"}`, "ValidationException"},
		{"DescribeConfigurationRecorders", `{"ConfigurationRecorderNames":["x"]}`, "NoSuchConfigurationRecorderException"},
		{"StartConfigRulesEvaluation", `{}`, "InvalidParameterValueException"},
	} {
		status, m, out := serve(api, tc.op, []byte(tc.body))
		require.Equal(t, http.StatusBadRequest, status, "%s %s", tc.op, tc.body)
		require.Equal(t, tc.code, m["__type"], "%s %s", tc.op, tc.body)
		require.NotEmpty(t, m["message"])
		require.Equal(t, tc.code, out.ErrorCode)
	}
	status, m, _ := serve(newAPI(t, denyAll{}), "DescribeConfigRules", []byte(`{}`))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "AccessDeniedException", m["__type"])
	require.Contains(t, m["message"], "config:DescribeConfigRules")
}

func TestPagination(t *testing.T) {
	api := newAPI(t, allowAll{})
	for i := range 30 {
		body := `{"ConfigRule":{"ConfigRuleName":"r` + string(rune('a'+i/10)) + string(rune('0'+i%10)) + `","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ENCRYPTED_CHECK"}}}`
		status, m, _ := serve(api, "PutConfigRule", []byte(body))
		require.Equal(t, http.StatusOK, status, "%v", m)
	}
	status, m, _ := serve(api, "DescribeConfigRules", []byte(`{}`))
	require.Equal(t, http.StatusOK, status)
	require.Len(t, m["ConfigRules"], 25)
	tok, _ := m["NextToken"].(string)
	require.NotEmpty(t, tok)
	status, m, _ = serve(api, "DescribeConfigRules", []byte(`{"NextToken":"`+tok+`"}`))
	require.Equal(t, http.StatusOK, status)
	require.Len(t, m["ConfigRules"], 5)
	require.Nil(t, m["NextToken"])
	// A token of another operation is refused.
	status, m, _ = serve(api, "DescribeComplianceByConfigRule", []byte(`{"NextToken":"`+tok+`"}`))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "InvalidNextTokenException", m["__type"])
}

// FuzzServeCall: any operation and body get a well-formed json-protocol
// answer (200 or an AWS Config error), never a panic or a 500.
func FuzzServeCall(f *testing.F) {
	api := newAPI(f, allowAll{})
	for _, s := range []struct{ op, body string }{
		{"PutConfigRule", `{"ConfigRule":{"ConfigRuleName":"a","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ENCRYPTED_CHECK"},"InputParameters":"{\"KmsKeyId\":\"k\"}"}}`},
		{"PutConfigRule", `{"ConfigRule":{"ConfigRuleName":"c","Source":{"Owner":"CUSTOM_POLICY","CustomPolicyDetails":{"PolicyRuntime":"cel-1.0","PolicyText":"true"}}}}`},
		{"DescribeComplianceByResource", `{"ResourceType":"AWS::EFS::FileSystem","Limit":5,"NextToken":"eA"}`},
		{"GetResourceConfigHistory", `{"resourceType":"AWS::EFS::AccessPoint","resourceId":"fsap-1","earlierTime":1.5}`},
		{"GetComplianceDetailsByConfigRule", `{"ConfigRuleName":"a","ComplianceTypes":["COMPLIANT"]}`},
		{"DeleteConfigRule", `{"ConfigRuleName":"a"}`},
		{"StartConfigRulesEvaluation", `{"ConfigRuleNames":["a"]}`},
	} {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		status, m, out := serve(api, op, body)
		if status != http.StatusOK {
			if status != http.StatusBadRequest {
				t.Fatalf("%s: status %d (%v)", op, status, m)
			}
			if m["__type"] == nil || m["message"] == nil || out.ErrorCode == "" {
				t.Fatalf("%s: malformed error %v", op, m)
			}
		}
	})
}
