package blob_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/blobtest"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"", false},
		{"a", true},
		{"fs-1/chunks/00ab.c_d", true},
		{"..", true},
		{strings.Repeat("x", blob.MaxKeyLength), true},
		{strings.Repeat("x", blob.MaxKeyLength+1), false},
		{"a b", false},
		{"a\x00", false},
		{"a+b", false},
		{"\u00e9", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			require.Equal(t, tc.want, blob.ValidKey(tc.key))
		})
	}
}

// handle lets the suite close and reopen a memblob.Store: closing the handle
// leaves the objects in place, as a disk would.
type handle struct{ *memblob.Store }

func (handle) Close() error { return nil }

// The in-memory engine passes the suite, which also checks the suite against
// a trivially correct engine.
func TestConformanceOfMemblob(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		s := memblob.New()
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return func() blob.Store { return handle{s} }
	})
}
