package diskblob

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDirectoryIsLocked(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	s := openStore(t, cfg)
	_, err := New(nil, cfg)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, s.Close())
	s = openStore(t, cfg)
	require.NoError(t, s.Close())
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := openStore(t, Config{Dir: dir, SegmentBytes: minSegmentBytes})
	require.NoError(t, s.Put(ctx, "a", make([]byte, 5000)))
	require.NoError(t, s.Put(ctx, "b", make([]byte, 5000)))
	require.NoError(t, s.Close())

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(des), 3)
	for _, de := range des {
		fi, err := de.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), de.Name())
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir()})
	require.NoError(t, s.Put(ctx, "a", []byte("a")))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second close")
	require.ErrorIs(t, s.Put(ctx, "a", nil), ErrClosed)
	_, err := s.Get(ctx, "a", 0, -1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Delete(ctx, "a"), ErrClosed)
	require.ErrorIs(t, s.List(ctx, "", nil), ErrClosed)
	require.ErrorIs(t, s.Compact(ctx), ErrClosed)
}

func TestConfigValidate(t *testing.T) {
	err := Config{SegmentBytes: 10, CompactLiveRatio: 2}.Validate()
	require.ErrorContains(t, err, "dir is required")
	require.ErrorContains(t, err, "segment bytes")
	require.ErrorContains(t, err, "compact live ratio")
	require.NoError(t, Config{Dir: "x"}.Validate())
}

func TestStats(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), DisableAutoCompact: true})
	defer s.Close()
	require.Equal(t, Stats{Segments: 1}, s.Stats())
	require.NoError(t, s.Put(ctx, "a", make([]byte, 100)))
	require.NoError(t, s.Put(ctx, "b", make([]byte, 50)))
	live := recordLen("a", 100) + recordLen("b", 50)
	require.Equal(t, Stats{Objects: 2, Segments: 1, LiveBytes: live}, s.Stats())

	require.NoError(t, s.Put(ctx, "a", make([]byte, 10)))
	require.NoError(t, s.Delete(ctx, "b"))
	require.Equal(t, Stats{
		Objects:    1,
		Tombstones: 1,
		Segments:   1,
		LiveBytes:  recordLen("a", 10) + recordLen("b", tombstoneValueLen),
		DeadBytes:  live,
	}, s.Stats())
}
