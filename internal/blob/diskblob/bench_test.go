package diskblob

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks compare the pack layout with the obvious alternative, one
// file per object, made durable the usual way (write a temporary file, sync
// it, rename it, sync the directory), and with the raw disk.
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/blob/diskblob

// putFunc stores one object durably.
type putFunc func(key string, data []byte) error

func openPack(b *testing.B) putFunc {
	s, err := New(nil, Config{Dir: b.TempDir(), DisableAutoCompact: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return func(key string, data []byte) error { return s.Put(ctx, key, data) }
}

// openFiles is the file-per-object baseline.
func openFiles(b *testing.B) putFunc {
	dir := b.TempDir()
	return func(key string, data []byte) error {
		f, err := os.CreateTemp(dir, "tmp-")
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		if err := fdatasync(f); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), filepath.Join(dir, key)); err != nil {
			return err
		}
		return osFS{}.SyncDir(dir)
	}
}

// openRaw appends to one plain file and syncs: what the disk can do.
func openRaw(b *testing.B) putFunc {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	var mu sync.Mutex
	return func(_ string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := f.Write(data); err != nil {
			return err
		}
		return fdatasync(f)
	}
}

// runPuts stores b.N objects of size bytes from the given number of
// goroutines and reports objects/s and MiB/s.
func runPuts(b *testing.B, put putFunc, writers, size int) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	b.SetBytes(int64(size))
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := put(fmt.Sprintf("obj-%d", i), data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed, "objects/s")
	b.ReportMetric(float64(b.N)*float64(size)/elapsed/(1<<20), "MiB/s")
}

func BenchmarkPut4KiB(b *testing.B) {
	layouts := []struct {
		name string
		open func(*testing.B) putFunc
	}{{"pack", openPack}, {"files", openFiles}}
	for _, l := range layouts {
		for _, writers := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/writers=%d", l.name, writers), func(b *testing.B) {
				runPuts(b, l.open(b), writers, 4<<10)
			})
		}
	}
}

func BenchmarkPut1MiB(b *testing.B) {
	layouts := []struct {
		name string
		open func(*testing.B) putFunc
	}{{"pack", openPack}, {"files", openFiles}, {"raw", openRaw}}
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			runPuts(b, l.open(b), 1, 1<<20)
		})
	}
}
