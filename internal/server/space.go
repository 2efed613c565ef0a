package server

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/clock"
)

// spaceCheckInterval is how long a free-space measurement is reused. Writes
// call Check before consuming space; one statfs(2) per interval keeps that
// off the hot path while a filling disk is still noticed quickly.
const spaceCheckInterval = 100 * time.Millisecond

// spaceCheck enforces the free-space reserve (storage.min_free_bytes) of the
// file system holding the data directory. Its Check is fs.Options.SpaceCheck.
type spaceCheck struct {
	dir          string
	minFreeBytes int64
	clk          clock.Clock
	free         func(dir string) (int64, error) // statfsFree, or a fake in tests
	log          *slog.Logger

	mu struct {
		sync.Mutex
		checked   time.Time
		freeBytes int64
		err       error // the last measurement's error
		warned    bool  // the last measurement's error has been logged
	}
}

func newSpaceCheck(dir string, minFreeBytes int64, clk clock.Clock, free func(string) (int64, error), log *slog.Logger) *spaceCheck {
	return &spaceCheck{dir: dir, minFreeBytes: minFreeBytes, clk: clk, free: free, log: log}
}

// Check returns an error wrapping blob.ErrNoSpace while less than the
// reserve is free. If free space cannot be measured, Check lets the write
// go ahead (the engines still report a full disk) and logs a warning. It is
// safe for concurrent use; at most one measurement runs at a time.
func (c *spaceCheck) Check() error {
	if c.minFreeBytes <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	if c.mu.checked.IsZero() || now.Sub(c.mu.checked) >= spaceCheckInterval || now.Before(c.mu.checked) {
		// statfs(2) is a quick system call on the local file system, so
		// it runs under the lock: concurrent writers wait for one
		// measurement instead of each making their own.
		c.mu.freeBytes, c.mu.err = c.free(c.dir)
		c.mu.checked = now
		if c.mu.err == nil {
			c.mu.warned = false
		} else if !c.mu.warned {
			c.mu.warned = true
			c.log.Warn("cannot measure free space; the reserve is not enforced", "data_dir", c.dir, "err", c.mu.err)
		}
	}
	if c.mu.err != nil {
		return nil
	}
	if c.mu.freeBytes < c.minFreeBytes {
		return fmt.Errorf("server: %d bytes free under %s, below the reserve of %d (storage.min_free_bytes): %w",
			c.mu.freeBytes, c.dir, c.minFreeBytes, blob.ErrNoSpace)
	}
	return nil
}
