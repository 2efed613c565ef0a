package pebblemeta

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shelf-efs/shelf/internal/meta"
)

// spaceState tracks whether the disk is known to be full.
//
// On a full disk pebble does not fail writes: the memtable flush fails with
// ENOSPC, is retried, and once MemTableStopWritesThreshold memtables are
// queued every commit blocks inside pebble until a flush succeeds (measured
// on a 16 MiB tmpfs). The store instead raises full when a background job
// fails with ENOSPC and, while it is raised, refuses Updates up front with
// meta.ErrNoSpace, so that clients get "no space" and reads keep working. It
// is lowered by the next successful flush or compaction, or by an Update that
// finds at least minFreeBytes available.
type spaceState struct {
	full atomic.Bool
	// cause is the ENOSPC error that raised full.
	cause atomic.Pointer[error]
	// bgErrors counts consecutive background errors, to thin out their
	// logging: pebble retries a failed flush at once, forever.
	bgErrors atomic.Uint64
}

// checkSpace returns an error wrapping meta.ErrNoSpace if writes must be
// refused.
func (s *Store) checkSpace() error {
	if !s.space.full.Load() {
		return nil
	}
	if u, err := s.fs.GetDiskUsage(s.dir); err == nil && u.AvailBytes >= s.minFreeBytes {
		// Space was freed. If pebble still cannot write, the next
		// background error raises the flag again.
		if s.space.full.CompareAndSwap(true, false) {
			s.log.Info("meta store disk space available, accepting writes", "avail_bytes", u.AvailBytes)
		}
		return nil
	}
	var err error = syscall.ENOSPC
	if p := s.space.cause.Load(); p != nil {
		err = *p
	}
	return fmt.Errorf("pebblemeta: %w: %w", meta.ErrNoSpace, err)
}

func (s *Store) onBackgroundError(err error) {
	if n := s.space.bgErrors.Add(1); n&(n-1) == 0 {
		// 1st, 2nd, 4th, 8th... consecutive error.
		s.log.Error("pebble background error", "err", err.Error(), "count", n)
	}
	if errors.Is(err, syscall.ENOSPC) {
		s.space.cause.Store(&err)
		if !s.space.full.Swap(true) {
			s.log.Error("meta store disk full, refusing writes", "err", err.Error())
		}
	}
}

// onBackgroundSuccess is called when a flush or compaction has written its
// output.
func (s *Store) onBackgroundSuccess() {
	s.space.bgErrors.Store(0)
	if s.space.full.CompareAndSwap(true, false) {
		s.log.Info("meta store disk space available, accepting writes")
	}
}

// eventListener logs pebble's events through logger (at Debug, see
// slogLogger), except background errors, which the store logs itself (thinned
// out) and uses to detect a full disk.
func (s *Store) eventListener(logger pebble.Logger) *pebble.EventListener {
	logging := pebble.MakeLoggingEventListener(logger)
	logging.BackgroundError = nil
	l := pebble.TeeEventListener(logging, pebble.EventListener{
		BackgroundError: s.onBackgroundError,
		FlushEnd: func(info pebble.FlushInfo) {
			if info.Err == nil {
				s.onBackgroundSuccess()
			}
		},
		CompactionEnd: func(info pebble.CompactionInfo) {
			if info.Err == nil {
				s.onBackgroundSuccess()
			}
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			s.log.Info("pebble write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			s.log.Info("pebble write stall ended")
		},
		DiskSlow: func(info vfs.DiskSlowInfo) {
			s.log.Warn("pebble slow disk", "path", info.Path, "op", info.OpType.String(), "duration", info.Duration)
		},
	})
	return &l
}
