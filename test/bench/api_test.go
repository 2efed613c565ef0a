package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/server"
)

// apiRig is a real shelfd (on-disk stores, synced commits, SigV4, the audit
// log) with 1,000 file systems and 1,000 access points, and an SDK client.
func apiRig(b *testing.B) (*efs.Client, []string) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(b, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	b.Cleanup(func() { stop(); <-done; _ = srv.Close() })

	ctl := srv.Control()
	ids := make([]string, 0, 1000)
	for i := range 1000 {
		id, err := ctl.NewFileSystemID(ctx)
		require.NoError(b, err)
		_, err = ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: fmt.Sprint("bench-", i)})
		require.NoError(b, err)
		_, err = ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: fmt.Sprint("ap-", i), FileSystemID: id,
			PosixUser: &control.PosixUser{UID: 1000, GID: 1000}, RootDirectory: &control.RootDirectory{Path: "/data"}})
		require.NoError(b, err)
		ids = append(ids, id)
	}
	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithSharedCredentialsFiles([]string{srv.RootCredentialsPath()}),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithRegion("us-east-1"))
	require.NoError(b, err)
	return efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(srv.APIURL()) }), ids
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration, unit string) {
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit)
}

// BenchmarkAPI measures, from the Go SDK against a real shelfd holding 1,000
// file systems and 1,000 access points: DescribeFileSystems of all pages,
// and CreateAccessPoint by 16 concurrent clients.
func BenchmarkAPI(b *testing.B) {
	client, ids := apiRig(b)
	b.Run("DescribeFileSystems-all-pages", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			n := 0
			p := efs.NewDescribeFileSystemsPaginator(client, &efs.DescribeFileSystemsInput{})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				require.NoError(b, err)
				n += len(out.FileSystems)
			}
			require.Equal(b, 1000, n)
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat, time.Since(start), "listings/s")
	})
	b.Run("CreateAccessPoint", func(b *testing.B) {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		var next atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					t0 := time.Now()
					_, err := client.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
						FileSystemId: aws.String(ids[i%int64(len(ids))]),
						ClientToken:  aws.String(fmt.Sprintf("new-%d-%d", b.N, i)),
						PosixUser:    &efstypes.PosixUser{Uid: aws.Int64(1000), Gid: aws.Int64(1000)},
					})
					d := time.Since(t0)
					if err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		reportLatency(b, lat, time.Since(start), "creates/s")
	})
}
