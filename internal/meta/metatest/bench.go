package metatest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Bench measures the operations internal/fs leans on. Each sub-benchmark
// opens its own store.
func Bench(b *testing.B, open func(b *testing.B) meta.Store) {
	o := func(b *testing.B) meta.Store { return openStore(b, open(b)) }
	b.Run("Get", func(b *testing.B) { benchGet(b, o(b)) })
	b.Run("Scan100", func(b *testing.B) { benchScan(b, o(b)) })
	b.Run("Update", func(b *testing.B) { benchUpdate(b, o(b)) })
	for _, writers := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("UpdateParallel/writers=%d", writers), func(b *testing.B) {
			BenchUpdateParallel(b, o(b), writers)
		})
	}
}

func benchGet(b *testing.B, s meta.Store) {
	const n = 1000
	fill(b, s, n, 100)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := s.View(ctx, func(r meta.Reader) error {
			_, err := r.Get(key(fmt.Sprintf("%08d", i%n)))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchScan(b *testing.B, s meta.Store) {
	fill(b, s, 1000, 100)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := s.View(ctx, func(r meta.Reader) error {
			return r.Scan(prefix, nil, func(_, _ []byte) (bool, error) {
				n++
				return n < 100, nil
			})
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchUpdate(b *testing.B, s meta.Store) {
	ctx := context.Background()
	value := make([]byte, 100)
	for i := 0; b.Loop(); i++ {
		if err := s.Update(ctx, func(tx meta.Txn) error {
			return tx.Set(key(fmt.Sprintf("%08d", i)), value)
		}); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchUpdateParallel runs b.N single-key Updates from exactly writers
// goroutines (distinct keys, so that only the engine's own serialization and
// syncing limit them) and reports updates/s. It does not use b.RunParallel,
// which starts a multiple of GOMAXPROCS goroutines: with 2 cores it could not
// run 1 writer.
func BenchUpdateParallel(b *testing.B, s meta.Store, writers int) {
	ctx := context.Background()
	value := make([]byte, 100)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := s.Update(ctx, func(tx meta.Txn) error {
					return tx.Set(key(fmt.Sprintf("%016d", i)), value)
				}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
}

func reportRate(b *testing.B) {
	if e := b.Elapsed(); e > 0 {
		b.ReportMetric(float64(b.N)/e.Seconds(), "updates/s")
	}
}

func fill(tb tester, s meta.Store, n, valueBytes int) {
	tb.Helper()
	value := make([]byte, valueBytes)
	require.NoError(tb, s.Update(context.Background(), func(tx meta.Txn) error {
		for i := range n {
			if err := tx.Set(key(fmt.Sprintf("%08d", i)), value); err != nil {
				return err
			}
		}
		return nil
	}))
}
