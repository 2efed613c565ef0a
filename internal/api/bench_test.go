package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/control"
)

// BenchmarkSDK measures, from the Go SDK over HTTP, with 1,000 file
// systems and 1,000 access points in the store (Pebble on an in-memory
// file system, the test harness in place of the edge: no signature check,
// no audit log):
//
//   - DescribeFileSystems/all-pages: one iteration lists every file system
//     with the SDK paginator (10 pages of 100);
//   - CreateAccessPoint: one iteration creates one access point.
//
// It reports p50 and p99 latency per iteration and the throughput. Run
// with: go test -run XXX -bench SDK -benchtime 200x ./internal/api
func BenchmarkSDK(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	start := time.Now()
	ids := make([]string, 0, 1000)
	for i := range 1000 {
		id, err := h.ctl.NewFileSystemID(ctx)
		require.NoError(b, err)
		_, err = h.ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: fmt.Sprint("bench-", i)})
		require.NoError(b, err)
		ids = append(ids, id)
		_, err = h.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: fmt.Sprint("ap-", i), FileSystemID: id,
			PosixUser: &control.PosixUser{UID: 1000, GID: 1000}, RootDirectory: &control.RootDirectory{Path: "/data"}})
		require.NoError(b, err)
	}
	b.Logf("setup: 1,000 file systems and 1,000 access points in %v", time.Since(start).Round(time.Millisecond))

	report := func(b *testing.B, lat []time.Duration, total time.Duration, unit string) {
		slices.Sort(lat)
		p := func(q float64) float64 {
			return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(p(0.50), "p50-ms")
		b.ReportMetric(p(0.99), "p99-ms")
		b.ReportMetric(float64(len(lat))/total.Seconds(), unit+"/s")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("DescribeFileSystems/all-pages", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		t0 := time.Now()
		for range b.N {
			s := time.Now()
			n := 0
			p := efs.NewDescribeFileSystemsPaginator(h.client, &efs.DescribeFileSystemsInput{})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n += len(out.FileSystems)
			}
			if n != 1000 {
				b.Fatalf("listed %d file systems", n)
			}
			lat = append(lat, time.Since(s))
		}
		report(b, lat, time.Since(t0), "listings")
	})

	b.Run("CreateAccessPoint", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		t0 := time.Now()
		for i := range b.N {
			s := time.Now()
			_, err := h.client.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: &ids[i%len(ids)]})
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(s))
		}
		report(b, lat, time.Since(t0), "creates")
	})
}
