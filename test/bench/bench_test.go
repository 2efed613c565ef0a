// Package bench measures the storage core end to end — fs over data, the
// pack-file blob store and the Pebble metadata store, on a real directory
// with every commit synced — with encryption on and off, beside the raw
// disk's synced sequential bandwidth. Run it with scripts/bench, which prints
// a table, or with go test -bench.
package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

var ctx = context.Background()

// benchBlockSize is the block size of the benchmarked file systems (zero:
// the default); SHELF_BENCH_BLOCK_SIZE sets it to compare sizes.
var benchBlockSize, _ = strconv.Atoi(os.Getenv("SHELF_BENCH_BLOCK_SIZE"))

// concurrency is the number of concurrent clients of the parallel
// benchmarks (RunParallel runs GOMAXPROCS × this many goroutines).
const concurrency = 16

type rig struct {
	srv *server.Server
	f   *fs.FileSystem
}

func newRig(b *testing.B, encrypted bool) *rig {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = srv.Close() })
	o := fs.CreateOptions{Encrypted: encrypted, BlockSize: benchBlockSize}
	if encrypted {
		key, err := srv.KMS().ManagedKey(ctx)
		require.NoError(b, err)
		o.KMSKeyID = key.ARN
	}
	f, err := srv.FS().CreateFileSystem(ctx, "fs-0123456789abcdef0", o)
	require.NoError(b, err)
	return &rig{srv: srv, f: f}
}

func modes(b *testing.B, fn func(b *testing.B, r *rig)) {
	for _, enc := range []bool{false, true} {
		name := "plain"
		if enc {
			name = "encrypted"
		}
		b.Run(name, func(b *testing.B) { fn(b, newRig(b, enc)) })
	}
}

func random(n int) []byte {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return p
}

// BenchmarkSmallFileCreate: create + write 4 KiB + close, by concurrent
// clients, each file durable when its calls return.
func BenchmarkSmallFileCreate(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		p := random(4096)
		var n atomic.Uint64
		b.SetParallelism(concurrency)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				name := fmt.Sprintf("f%d", n.Add(1))
				a, _, err := r.f.Create(ctx, &fs.Root, fs.RootIno, name, 0o644, fs.Guarded, [8]byte{})
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := r.f.Write(ctx, &fs.Root, a.Ino, 0, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

func makeFiles(b *testing.B, r *rig, n int) []uint64 {
	p := random(4096)
	inos := make([]uint64, n)
	for i := range inos {
		a, _, err := r.f.Create(ctx, &fs.Root, fs.RootIno, fmt.Sprintf("s%d", i), 0o644, fs.Guarded, [8]byte{})
		require.NoError(b, err)
		_, err = r.f.Write(ctx, &fs.Root, a.Ino, 0, p)
		require.NoError(b, err)
		inos[i] = a.Ino
	}
	return inos
}

// BenchmarkStat: GETATTR of random existing files, concurrent clients.
func BenchmarkStat(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		inos := makeFiles(b, r, 1000)
		b.SetParallelism(concurrency)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rnd := mrand.New(mrand.NewPCG(mrand.Uint64(), 1))
			for pb.Next() {
				if _, err := r.f.GetAttr(ctx, inos[rnd.IntN(len(inos))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stats/s")
	})
}

// BenchmarkUnlink: remove 4 KiB files, concurrent clients.
func BenchmarkUnlink(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		makeFiles(b, r, b.N)
		var n atomic.Int64
		b.SetParallelism(concurrency)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := r.f.Unlink(ctx, &fs.Root, fs.RootIno, fmt.Sprintf("s%d", n.Add(1)-1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "unlinks/s")
	})
}

const mib = 1 << 20

// BenchmarkSequentialWrite: 1 MiB writes appended to one file, each durable
// on return.
func BenchmarkSequentialWrite(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		a, _, err := r.f.Create(ctx, &fs.Root, fs.RootIno, "seq", 0o644, fs.Guarded, [8]byte{})
		require.NoError(b, err)
		p := random(mib)
		b.SetBytes(mib)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := r.f.Write(ctx, &fs.Root, a.Ino, uint64(i)*mib, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func bigFile(b *testing.B, r *rig, size int) uint64 {
	a, _, err := r.f.Create(ctx, &fs.Root, fs.RootIno, "big", 0o644, fs.Guarded, [8]byte{})
	require.NoError(b, err)
	p := random(mib)
	for off := 0; off < size; off += mib {
		_, err := r.f.Write(ctx, &fs.Root, a.Ino, uint64(off), p)
		require.NoError(b, err)
	}
	return a.Ino
}

// readFileBytes is the size of the file the read benchmarks read: four
// times the block cache (data.DefaultCacheBytes), so that they measure the
// disk and the crypto, not the cache.
const readFileBytes = 256 * mib

// BenchmarkSequentialRead: 1 MiB reads of a 256 MiB file, in order.
func BenchmarkSequentialRead(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		const size = readFileBytes
		ino := bigFile(b, r, size)
		b.SetBytes(mib)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			buf, _, err := r.f.Read(ctx, &fs.Root, ino, uint64(i%(size/mib))*mib, mib)
			if err != nil || len(buf) != mib {
				b.Fatal(err, len(buf))
			}
		}
	})
}

// BenchmarkRandomRead4K: 4 KiB reads at random offsets of a 256 MiB file,
// concurrent clients (about a quarter hit the block cache).
func BenchmarkRandomRead4K(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		const size = readFileBytes
		ino := bigFile(b, r, size)
		b.SetParallelism(concurrency)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rnd := mrand.New(mrand.NewPCG(mrand.Uint64(), 2))
			for pb.Next() {
				off := uint64(rnd.IntN(size/4096)) * 4096
				if _, _, err := r.f.Read(ctx, &fs.Root, ino, off, 4096); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "IOPS")
	})
}

// BenchmarkRandomWrite4K: 4 KiB durable writes at random offsets of a
// 64 MiB file, concurrent clients.
func BenchmarkRandomWrite4K(b *testing.B) {
	modes(b, func(b *testing.B, r *rig) {
		const size = 64 * mib
		ino := bigFile(b, r, size)
		p := random(4096)
		b.SetParallelism(concurrency)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rnd := mrand.New(mrand.NewPCG(mrand.Uint64(), 3))
			for pb.Next() {
				off := uint64(rnd.IntN(size/4096)) * 4096
				if _, err := r.f.Write(ctx, &fs.Root, ino, off, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "IOPS")
	})
}

// BenchmarkDiskSyncedWrite is the yardstick: 1 MiB appended to a plain file
// and fdatasync'd, in the same directory tree.
func BenchmarkDiskSyncedWrite(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	require.NoError(b, err)
	defer f.Close()
	p := random(mib)
	b.SetBytes(mib)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(p); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
