package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

// TestErrorMapping checks that every control code has a status, and that
// every EFS code keeps its own name on the wire.
func TestErrorMapping(t *testing.T) {
	for _, c := range control.Codes() {
		status, code := errorStatus(c)
		require.NotZero(t, status, c.String())
		if c < control.NetInvalidVPCNotFound {
			require.Equal(t, c.String(), code)
		} else {
			require.Equal(t, "BadRequest", code, "EC2 codes never reach EFS clients")
		}
		if c == control.InternalServerError {
			require.Equal(t, 500, status)
		} else {
			require.Less(t, status, 500, c.String())
		}
	}
	for c, want := range map[control.Code]int{control.FileSystemAlreadyExists: 409, control.FileSystemNotFound: 404,
		control.AccessPointLimitExceeded: 403, control.TooManyRequests: 429, control.SubnetNotFound: 400, control.PolicyNotFound: 404} {
		got, _ := errorStatus(c)
		require.Equal(t, want, got, c.String())
	}
}

// TestRoutes checks every operation's route and that each name is unique.
func TestRoutes(t *testing.T) {
	require.Len(t, operations, 31)
	seen := map[string]bool{}
	for _, op := range operations {
		require.False(t, seen[op.name], op.name)
		seen[op.name] = true
		path := "/2015-02-01/" + strings.ReplaceAll(strings.Join(op.segments, "/"), "{}", "fs-0123456789abcdef0")
		if op.name == "DescribeTags" {
			path += "/"
		}
		got, _, err := route(op.method, path)
		require.NoError(t, err, op.name)
		require.Equal(t, op.name, got.name)
	}
}

func newFuzzService(t testing.TB) (*Service, string) {
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
	id, err := ctl.NewFileSystemID(context.Background())
	require.NoError(t, err)
	_, err = ctl.CreateFileSystem(context.Background(), id, control.CreateFileSystemInput{CreationToken: "fuzz"})
	require.NoError(t, err)
	return New(ctl, nil, nil), id
}

// FuzzDecode feeds arbitrary bodies, labels and queries to every
// operation's handler (without ServeCall's panic recovery, so a panic
// fails the fuzz test) and checks that every answer is a success or an
// error the API knows how to render.
func FuzzDecode(f *testing.F) {
	seeds := []string{`{}`, `{"CreationToken":"x"}`, `{"Tags":[{"Key":null}]}`, `{"PosixUser":{"Uid":-1,"Gid":1e30}}`,
		`{"RootDirectory":{"Path":"/a/b","CreationInfo":{}}}`, `{"LifecyclePolicies":[{}]}`, `{"Destinations":[{"Region":"x"}]}`,
		`{"BackupPolicy":null}`, `{"SecurityGroups":["sg-1"]}`, `{"Policy":"{}"}`, `[`, `null`, `{"MaxResults":0}`, `"x"`}
	for i := range operations {
		for _, s := range seeds {
			f.Add(uint8(i), s, "fs-0123456789abcdef0", "MaxItems=1&Marker=x")
		}
	}
	s, fsID := newFuzzService(f)
	f.Fuzz(func(t *testing.T, opIndex uint8, body, label, query string) {
		op := &operations[int(opIndex)%len(operations)]
		if label == "fs" {
			label = fsID
		}
		r := httptest.NewRequest(op.method, "/", nil)
		r.URL.RawQuery = query
		q := &request{ctx: context.Background(), call: &edge.Call{Principal: edge.Principal{ARN: "arn:aws:iam::123456789012:root"}},
			http: r, body: []byte(body), labels: []string{label}, query: parseQuery(query), params: map[string]any{}}
		status, _, err := op.handler(s, q)
		if err == nil {
			require.True(t, status >= 200 && status < 300)
			return
		}
		w := httptest.NewRecorder()
		out := s.writeError(w, &edge.Outcome{EventName: op.name}, err)
		require.NotEqual(t, http.StatusInternalServerError, out.Status, "%s: %v", op.name, err)
	})
}

func parseQuery(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		return url.Values{}
	}
	return v
}
