package diskblob

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// allocated returns the bytes of disk space path holds.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestSegmentsPreallocated checks that the active segment reserves its
// space without growing, that sealing gives back what it did not use, and
// that the objects read back across a reopen.
func TestSegmentsPreallocated(t *testing.T) {
	dir := t.TempDir()
	const segBytes = 4 << 20
	s, err := New(nil, Config{Dir: dir, SegmentBytes: segBytes, DisableAutoCompact: true})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, "a", []byte("hello")))
	size := fileSize(t, segPath(dir, 1))
	if allocated(t, segPath(dir, 1)) < segBytes {
		t.Skip("the file system of the test directory does not reserve space (no fallocate)")
	}
	require.Less(t, size, int64(4096), "the reservation does not change the size")

	rollForTest(t, s)
	require.Less(t, allocated(t, segPath(dir, 1)), int64(64<<10), "a sealed segment keeps only what it holds")
	require.GreaterOrEqual(t, allocated(t, segPath(dir, 2)), int64(segBytes))
	require.NoError(t, s.Put(ctx, "b", []byte("world")))
	require.NoError(t, s.Close())

	s, err = New(nil, Config{Dir: dir, SegmentBytes: segBytes, DisableAutoCompact: true})
	require.NoError(t, err)
	defer s.Close()
	for k, v := range map[string]string{"a": "hello", "b": "world"} {
		got, err := s.Get(ctx, k, 0, -1)
		require.NoError(t, err)
		require.Equal(t, v, string(got))
	}
	require.GreaterOrEqual(t, allocated(t, segPath(dir, 2)), int64(segBytes), "the active segment reserves again")
}
