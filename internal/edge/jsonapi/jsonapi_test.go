package jsonapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/edge"
)

func TestTableLookup(t *testing.T) {
	table := &Table[int]{Prefixes: []string{"Long.Prefix.", "Short."}, Ops: map[string]Op[int]{
		"Read":  {Fn: 1, ReadOnly: true},
		"Write": {Fn: 2},
	}}
	for _, tc := range []struct {
		name, target, op string
		fn               int
		readOnly, ok     bool
	}{
		{name: "first prefix", target: "Long.Prefix.Read", op: "Read", fn: 1, readOnly: true, ok: true},
		{name: "second prefix", target: "Short.Write", op: "Write", fn: 2, ok: true},
		{name: "unknown operation", target: "Short.Delete", op: "Delete"},
		{name: "unknown prefix", target: "Other.Read"},
		{name: "no target", target: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("X-Amz-Target", tc.target)
			op, h, ok := table.Lookup(r)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.op, op)
			require.Equal(t, tc.fn, h.Fn)
			require.Equal(t, tc.readOnly, h.ReadOnly)
			want := ""
			if tc.ok {
				want = tc.op
			}
			require.Equal(t, want, table.OperationName(r))
		})
	}
}

func TestReply(t *testing.T) {
	encodeFailed := func(error) *edge.APIError {
		return &edge.APIError{Code: "InternalFailure", Status: http.StatusInternalServerError, Message: "internal"}
	}
	t.Run("result", func(t *testing.T) {
		w := httptest.NewRecorder()
		out := edge.Outcome{EventName: "Read", ResponseElements: "kept"}
		got := Reply(w, "req-1", &out, map[string]int{"N": 1}, nil, encodeFailed)
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"N":1}`, w.Body.String())
		require.Equal(t, ContentType, w.Header().Get("Content-Type"))
		require.Equal(t, "7", w.Header().Get("Content-Length"))
		require.Equal(t, "req-1", w.Header().Get(edge.HeaderRequestID))
		require.Equal(t, edge.Outcome{EventName: "Read", ResponseElements: "kept", Status: http.StatusOK}, got)
	})
	t.Run("error", func(t *testing.T) {
		w := httptest.NewRecorder()
		out := edge.Outcome{EventName: "Read", ResponseElements: "dropped"}
		got := Reply(w, "req-2", &out, nil, Errf("NotFoundException", "No %s.", "key"), encodeFailed)
		require.Equal(t, http.StatusBadRequest, w.Code)
		require.JSONEq(t, `{"__type":"NotFoundException","message":"No key."}`, w.Body.String())
		require.Equal(t, "NotFoundException", w.Header().Get("X-Amzn-Errortype"))
		require.Equal(t, edge.Outcome{EventName: "Read", ErrorCode: "NotFoundException", ErrorMessage: "No key.", Status: http.StatusBadRequest}, got)
	})
	t.Run("unencodable result", func(t *testing.T) {
		w := httptest.NewRecorder()
		out := edge.Outcome{EventName: "Read"}
		var cause error
		got := Reply(w, "req-3", &out, func() {}, nil, func(err error) *edge.APIError { cause = err; return encodeFailed(err) })
		require.Error(t, cause)
		var ute *json.UnsupportedTypeError
		require.True(t, errors.As(cause, &ute))
		require.Equal(t, http.StatusInternalServerError, w.Code)
		require.Equal(t, "InternalFailure", got.ErrorCode)
	})
}
