package server

import (
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/clock"
)

type fakeDisk struct {
	mu    sync.Mutex
	free  int64
	err   error
	calls int
}

func (d *fakeDisk) statfs(string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return d.free, d.err
}

func (d *fakeDisk) set(free int64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.free, d.err = free, err
}

func TestSpaceCheck(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	disk := &fakeDisk{free: 1 << 30}
	c := newSpaceCheck("/data", 256<<20, clk, disk.statfs, slog.New(slog.DiscardHandler))

	require.NoError(t, c.Check())
	require.Equal(t, 1, disk.calls)

	// Within the interval the measurement is reused.
	disk.set(1<<20, nil)
	clk.Advance(spaceCheckInterval / 2)
	require.NoError(t, c.Check())
	require.Equal(t, 1, disk.calls)

	// After it, the new measurement counts.
	clk.Advance(spaceCheckInterval)
	err := c.Check()
	require.ErrorIs(t, err, blob.ErrNoSpace)
	require.ErrorContains(t, err, "storage.min_free_bytes")
	require.Equal(t, 2, disk.calls)
	require.ErrorIs(t, c.Check(), blob.ErrNoSpace, "cached failure")

	// Exactly the reserve is enough.
	disk.set(256<<20, nil)
	clk.Advance(spaceCheckInterval)
	require.NoError(t, c.Check())

	// A failed measurement does not block writes.
	disk.set(0, errors.New("statfs: input/output error"))
	clk.Advance(spaceCheckInterval)
	require.NoError(t, c.Check())

	// A clock that steps back forces a new measurement.
	disk.set(0, nil)
	clk.Advance(-time.Hour)
	require.ErrorIs(t, c.Check(), blob.ErrNoSpace)
}

func TestSpaceCheckDisabled(t *testing.T) {
	disk := &fakeDisk{}
	c := newSpaceCheck("/data", 0, clock.System, disk.statfs, slog.New(slog.DiscardHandler))
	require.NoError(t, c.Check())
	require.Equal(t, 0, disk.calls)
}

func TestStatfsFree(t *testing.T) {
	free, err := statfsFree(t.TempDir())
	require.NoError(t, err)
	require.Positive(t, free)
}
