package kmsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

type noPolicies struct{}

func (noPolicies) IdentityPolicies(context.Context, edge.Principal) ([][]byte, error) {
	return nil, nil
}

func fuzzService(t testing.TB) (*Service, *edge.Call) {
	store, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	m, err := kms.Open(context.Background(), store, bytes.Repeat([]byte{1}, kms.RootKeyBytes), kms.Config{Account: "123456789012", Region: "us-east-1"}, nil)
	require.NoError(t, err)
	s := New(m, noPolicies{}, nil, Config{Account: "123456789012", Region: "us-east-1"})
	call := &edge.Call{Principal: edge.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:root", IsRoot: true, UserID: "123456789012"},
		Service: "kms", Region: "us-east-1", SourceIP: "127.0.0.1", RequestID: "r", Time: time.Now()}
	return s, call
}

func serve(s *Service, call *edge.Call, op string, body []byte) (*httptest.ResponseRecorder, edge.Outcome) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "TrentService."+op)
	w := httptest.NewRecorder()
	return w, s.ServeCall(w, r, body, call)
}

// FuzzRequests feeds arbitrary bodies to every operation: the answer is a
// KMS error or a success, never a panic or a 500.
func FuzzRequests(f *testing.F) {
	s, call := fuzzService(f)
	w, _ := serve(s, call, "CreateKey", []byte(`{"Description":"d"}`))
	require.Equal(f, 200, w.Code)
	for _, seed := range []string{`{}`, `{"KeyId":"alias/aws/elasticfilesystem"}`, `{"KeyId":"arn:aws:kms:us-east-1:123456789012:key/x"}`,
		`{"CiphertextBlob":"AAAA"}`, `{"Plaintext":"aGk=","KeyId":"alias/aws/elasticfilesystem","EncryptionContext":{"a":"b"}}`,
		`{"Limit":0}`, `{"Tags":[{"TagKey":"a","TagValue":"b"}]}`, `[1,2]`, `{"Policy":"{}"}`, `{"NumberOfBytes":2000}`} {
		for op := range handlers.Ops {
			f.Add(op, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if _, ok := handlers.Ops[op]; !ok || op == "CreateKey" || op == "CreateGrant" {
			return // bound the store's growth
		}
		w, out := serve(s, call, op, body)
		require.Less(t, w.Code, 500, "%s %q: %s", op, body, w.Body.String())
		if w.Code != 200 {
			require.NotEmpty(t, out.ErrorCode)
			require.Contains(t, w.Body.String(), `"__type"`)
		}
	})
}

// FuzzDecrypt: altered, truncated and foreign ciphertext is an
// InvalidCiphertextException, never a crash or another key's plaintext.
func FuzzDecrypt(f *testing.F) {
	s, call := fuzzService(f)
	w, _ := serve(s, call, "CreateKey", nil)
	require.Equal(f, 200, w.Code)
	var created struct {
		KeyMetadata struct {
			KeyID string `json:"KeyId"`
		}
	}
	require.NoError(f, json.Unmarshal(w.Body.Bytes(), &created))
	w, _ = serve(s, call, "Encrypt", []byte(`{"KeyId":"`+created.KeyMetadata.KeyID+`","Plaintext":"c2VjcmV0"}`))
	require.Equal(f, 200, w.Code, w.Body.String())
	f.Add(w.Body.Bytes())
	f.Add([]byte(`{"CiphertextBlob":"AQ=="}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, _ := serve(s, call, "Decrypt", body)
		require.Less(t, w.Code, 500)
		if w.Code == 200 {
			require.Contains(t, w.Body.String(), `"Plaintext":"c2VjcmV0"`, "only the real ciphertext opens")
		}
	})
}
