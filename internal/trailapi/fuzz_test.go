package trailapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/trail"
)

var fuzzNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// FuzzParseLookup: any body gets a validated request or a CloudTrail 400
// error, never a panic; a valid request has at most one attribute of a
// known key, a value within bounds, an ordered time range and 1 to 50
// results.
func FuzzParseLookup(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"CreateFileSystem"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"true"}],"MaxResults":5}`,
		`{"StartTime":1.7e9,"EndTime":1.8e9}`, `{"StartTime":1e300}`, `{"MaxResults":0}`,
		`{"NextToken":"AQAAAAAAAAACAAAAAAAAAAA"}`, `{"EventCategory":"insight"}`, `[1]`, `{"StartTime":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, e := parseLookup(body, fuzzNow)
		if e != nil {
			require.Nil(t, q)
			require.Equal(t, 400, e.Status)
			require.NotEmpty(t, e.Code)
			return
		}
		require.False(t, q.start.After(q.end))
		require.True(t, q.max >= 1 && q.max <= maxResults)
		if q.key != "" {
			require.True(t, attributeKeys[q.key])
			require.True(t, len(q.value) >= 1 && len(q.value) <= maxValueLen)
		}
	})
}

// FuzzToken: a token decodes only to what was encoded for the same
// parameters; anything else is refused without a panic.
func FuzzToken(f *testing.F) {
	f.Add("AQAAAAAAAAACAAAAAAAAAAA", uint64(7))
	f.Add("", uint64(1))
	f.Add("!!!!", uint64(1<<63))
	f.Fuzz(func(t *testing.T, tok string, seq uint64) {
		q := &lookup{key: "EventName", value: "x"}
		ph := q.paramHash()
		if got, ok := decodeToken(tok, ph); ok {
			require.NotZero(t, got)
			require.Equal(t, tok, encodeToken(got, ph))
		}
		if seq == 0 {
			return
		}
		enc := encodeToken(seq, ph)
		got, ok := decodeToken(enc, ph)
		require.True(t, ok)
		require.Equal(t, seq, got)
		other := (&lookup{key: "EventName", value: "y"}).paramHash()
		_, ok = decodeToken(enc, other)
		require.False(t, ok)
	})
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, *edge.Call, string, string, map[string][]string) error {
	return nil
}

type fakeTrail struct{}

func (fakeTrail) ARN() string       { return "arn:aws:cloudtrail:us-east-1:123456789012:trail/shelf" }
func (fakeTrail) TrailName() string { return "shelf" }
func (fakeTrail) Bucket() string    { return "shelf-trail" }
func (fakeTrail) Region() string    { return "us-east-1" }
func (fakeTrail) PublicKeys() []trail.PublicKey {
	return []trail.PublicKey{{DER: []byte{1, 2}, Fingerprint: "ab", ValidityStart: fuzzNow, ValidityEnd: fuzzNow.Add(time.Hour)}}
}
func (fakeTrail) Status(context.Context) (trail.Status, error) {
	return trail.Status{IsLogging: true}, nil
}
func (fakeTrail) SignManifest([]byte) trail.ManifestSignature { return trail.ManifestSignature{} }

// fakeRecords holds n records, one a second up to fuzzNow.
type fakeRecords struct{ n uint64 }

func (f fakeRecords) NextSeq(context.Context) (uint64, error) { return f.n + 1, nil }
func (f fakeRecords) Scan(_ context.Context, from uint64, fn func(uint64, *audit.Event) error) error {
	for s := max(from, 1); s <= f.n; s++ {
		e := &audit.Event{EventName: []string{"CreateFileSystem", "DescribeFileSystems"}[s%2], ReadOnly: s%2 == 1,
			EventID: fmt.Sprint("ev-", s), EventTime: audit.FormatTime(fuzzNow.Add(-time.Duration(f.n-s) * time.Second)),
			UserIdentity: audit.UserIdentity{Type: audit.IdentityRoot}}
		if err := fn(s, e); err != nil {
			if errors.Is(err, audit.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// FuzzServeCall: any operation and body gets a 200 with a JSON object or
// a 400 with a CloudTrail error, never a panic or a 500.
func FuzzServeCall(f *testing.F) {
	for _, op := range []string{"LookupEvents", "ListPublicKeys", "DescribeTrails", "GetTrailStatus", "StartLogging"} {
		f.Add(op, []byte(`{}`))
	}
	f.Add("LookupEvents", []byte(`{"MaxResults":1,"NextToken":"AQAAAAAAAAACAAAAAAAAAAA"}`))
	f.Add("GetTrailStatus", []byte(`{"Name":"shelf"}`))
	f.Add("DescribeTrails", []byte(`{"trailNameList":["shelf","x"]}`))
	f.Add("ListPublicKeys", []byte(`{"StartTime":1,"EndTime":0}`))
	s := New(fakeTrail{}, fakeRecords{n: 600}, allowAll{}, nil)
	s.now = func() time.Time { return fuzzNow }
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("X-Amz-Target", ShortTargetPrefix+op)
		w := httptest.NewRecorder()
		out := s.ServeCall(w, r, body, &edge.Call{RequestID: "r", Principal: edge.Principal{Account: "123456789012", IsRoot: true}})
		require.Contains(t, []int{200, 400}, w.Code)
		require.Equal(t, w.Code, out.Status)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
		if w.Code == 400 {
			require.NotEmpty(t, doc["__type"])
			require.Equal(t, doc["__type"], out.ErrorCode)
		}
	})
}

// TestLookupPagesCoverEverything: paging through a long log with every
// page size returns each matching record once, newest first.
func TestLookupPagesCoverEverything(t *testing.T) {
	s := New(fakeTrail{}, fakeRecords{n: 600}, allowAll{}, nil)
	s.now = func() time.Time { return fuzzNow }
	for _, size := range []int{1, 7, 50} {
		var got []string
		tok := ""
		for {
			body := fmt.Sprintf(`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"CreateFileSystem"}],"MaxResults":%d`, size)
			if tok != "" {
				body += `,"NextToken":"` + tok + `"`
			}
			body += "}"
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("X-Amz-Target", TargetPrefix+"LookupEvents")
			w := httptest.NewRecorder()
			s.ServeCall(w, r, []byte(body), &edge.Call{RequestID: "r"})
			require.Equal(t, 200, w.Code, w.Body.String())
			var out struct {
				Events []struct {
					EventID string `json:"EventId"`
				}
				NextToken string
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
			require.LessOrEqual(t, len(out.Events), size)
			for _, e := range out.Events {
				got = append(got, e.EventID)
			}
			if tok = out.NextToken; tok == "" {
				break
			}
		}
		require.Len(t, got, 300, "page size %d", size)
		require.Equal(t, "ev-600", got[0])
		require.Equal(t, "ev-2", got[299])
	}
}

// TestLookupTimeRange: only records inside [StartTime, EndTime] come back.
func TestLookupTimeRange(t *testing.T) {
	s := New(fakeTrail{}, fakeRecords{n: 600}, allowAll{}, nil)
	s.now = func() time.Time { return fuzzNow }
	var got []string
	tok := ""
	for {
		body := fmt.Sprintf(`{"StartTime":%d,"EndTime":%d`, fuzzNow.Add(-200*time.Second).Unix(), fuzzNow.Add(-100*time.Second).Unix())
		if tok != "" {
			body += `,"NextToken":"` + tok + `"`
		}
		body += "}"
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", TargetPrefix+"LookupEvents")
		w := httptest.NewRecorder()
		s.ServeCall(w, r, []byte(body), &edge.Call{RequestID: "r"})
		require.Equal(t, 200, w.Code, w.Body.String())
		var out struct {
			Events []struct {
				EventID string `json:"EventId"`
			}
			NextToken string
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
		for _, e := range out.Events {
			got = append(got, e.EventID)
		}
		if tok = out.NextToken; tok == "" {
			break
		}
	}
	require.Len(t, got, 101)
	require.Equal(t, "ev-500", got[0])
	require.Equal(t, "ev-400", got[100])
}
