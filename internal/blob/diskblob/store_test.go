package diskblob

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/blobtest"
)

func TestConformance(t *testing.T) {
	configs := map[string]Config{
		"default": {},
		// Rolls over constantly; large objects get segments of their own.
		"small segments": {SegmentBytes: minSegmentBytes, DisableAutoCompact: true},
		// Background compaction races with everything the suite does.
		"small segments autocompact": {SegmentBytes: minSegmentBytes, CompactLiveRatio: 1},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) func() blob.Store {
				cfg := cfg
				cfg.Dir = t.TempDir()
				return func() blob.Store { return openStore(t, cfg) }
			})
		})
	}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(nil, cfg)
	require.NoError(t, err)
	return s
}

var ctx = context.Background()
