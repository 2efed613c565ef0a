package trailapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
