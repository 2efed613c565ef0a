package diskblob

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func segPath(dir string, id uint64) string { return filepath.Join(dir, segmentName(id)) }

// rollForTest seals the active segment now.
func rollForTest(t *testing.T, s *Store) {
	t.Helper()
	s.w.Lock()
	defer s.w.Unlock()
	for s.w.syncing {
		s.w.cond.Wait()
	}
	require.NoError(t, s.rollLocked())
}

// crashForTest closes s like a process crash would (files closed, nothing
// more written); what was written stays in the page cache.
func crashForTest(t *testing.T, s *Store) {
	t.Helper()
	s.closing.Store(true)
	if s.bg.cancel != nil {
		s.bg.cancel()
		<-s.bg.done
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.closed = true
	require.NoError(t, s.closeFiles())
	require.NoError(t, s.lockFile.Close())
}

// location returns the segment and offset of key's record.
func location(t *testing.T, s *Store, key string) (uint64, int64) {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.mu.objects[key]
	require.True(t, ok, "no index entry")
	return e.seg.id, e.off
}

// flipByte inverts one byte of a file.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// record encodes a sealed record for hand-built segments.
func sealedRecord(kind byte, key string, value []byte, watermark int64) []byte {
	rec := encodeRecord(kind, key, value)
	rec.seal(watermark)
	return append(rec.head, rec.tail...)
}
