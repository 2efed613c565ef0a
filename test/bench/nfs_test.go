package bench

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
	"github.com/shelf-efs/shelf/internal/server"
)

// nfsConns is the number of NFSv4.1 connections of the NFS benchmarks, one
// session and one goroutine each, as shelf bench runs by default.
const nfsConns = 4

// nfsClient is one connection's session with its own directory and file.
type nfsClient struct {
	c     *nfstest.Client
	seqid uint32
	dir   []byte
	file  []byte
	sid   nfsv4.Stateid4
	rng   *mrand.Rand
}

func (n *nfsClient) call(ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	n.seqid++
	res, err := n.c.Compound(ctx, append([]nfsv4.NfsArgop4{n.c.Sequence(0, n.seqid, false)}, ops...)...)
	return res, nfstest.Check(res, err)
}

func (n *nfsClient) do(b *testing.B, ops ...nfsv4.NfsArgop4) *nfsv4.Compound4res {
	res, err := n.call(ops...)
	require.NoError(b, err)
	return res
}

// newNFSRig starts shelfd with an encrypted file system on a static export
// and connects nfsConns sessions over TCP, each with a directory of its own
// holding a file of fileBytes written with random data and committed.
func newNFSRig(b *testing.B, fileBytes int) []*nfsClient {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.Health.Listen = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true, Encrypted: true}}
	srv, err := server.New(ctx, cfg, nil)
	require.NoError(b, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	b.Cleanup(func() {
		cancel()
		require.NoError(b, <-done)
		require.NoError(b, srv.Close())
	})
	addr := srv.NFS().Addr("static:127.0.0.1:0").String()

	chunk := random(1 << 20)
	var clients []*nfsClient
	for i := range nfsConns {
		tr, err := nfstest.Dial(ctx, addr, rpc.Credentials{Flavor: rpc.AuthSys})
		require.NoError(b, err)
		b.Cleanup(func() { tr.Close() })
		c := nfstest.New(tr, 1, fmt.Sprintf("bench-%d", i))
		require.NoError(b, c.ExchangeID(ctx))
		require.NoError(b, c.CreateSession(ctx, 1))
		require.NoError(b, nfstest.Check(c.Do(ctx, &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{})))
		n := &nfsClient{c: c, seqid: c.SlotSeqids[0], rng: mrand.New(mrand.NewPCG(uint64(i), 1))}
		res := n.do(b, nfstest.PutRootFH(), nfstest.Mkdir(fmt.Sprintf("d%d", i), 0o755), nfstest.GetFH())
		n.dir = nfstest.FH(res)
		res = n.do(b, nfstest.PutFH(n.dir), nfstest.Open(0, c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
			nfstest.ClaimNull("data"), nfstest.Unchecked(0o644)), nfstest.GetFH())
		n.file = nfstest.FH(res)
		open, _ := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
		n.sid = open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
		for off := 0; off < fileBytes; off += len(chunk) {
			n.do(b, nfstest.PutFH(n.file), nfstest.Write(n.sid, uint64(off), chunk[:min(len(chunk), fileBytes-off)]))
		}
		n.do(b, nfstest.PutFH(n.file), nfstest.Commit())
		clients = append(clients, n)
	}
	return clients
}

// runNFS runs b.N operations, split evenly over the clients, each client on
// its own goroutine.
func runNFS(b *testing.B, clients []*nfsClient, op func(i int, n *nfsClient) error) {
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, n := range clients {
		count := b.N / len(clients)
		if i < b.N%len(clients) {
			count++
		}
		wg.Go(func() {
			for range count {
				if err := op(i, n); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkNFSStat: LOOKUP + GETATTR of a file, as shelf bench's stat row,
// over TCP from nfsConns connections.
func BenchmarkNFSStat(b *testing.B) {
	clients := newNFSRig(b, 4096)
	runNFS(b, clients, func(i int, n *nfsClient) error {
		_, err := n.call(nfstest.PutFH(n.dir), nfstest.Lookup("data"),
			nfstest.GetAttr(nfsv4.FATTR4_TYPE, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_MODE, nfsv4.FATTR4_TIME_MODIFY))
		return err
	})
}

// BenchmarkNFSRandRead4K: 4 KiB READs at random offsets of each connection's
// 24 MiB file (96 MiB in all, more than the 64 MiB block cache), as shelf
// bench's randread row.
func BenchmarkNFSRandRead4K(b *testing.B) {
	const fileBytes = 24 << 20
	clients := newNFSRig(b, fileBytes)
	b.SetBytes(4096)
	runNFS(b, clients, func(i int, n *nfsClient) error {
		off := n.rng.Uint64N(fileBytes/4096) * 4096
		_, err := n.call(nfstest.PutFH(n.file), nfstest.Read(n.sid, off, 4096))
		return err
	})
}

// BenchmarkNFSRemove: REMOVE of empty files, as shelf bench's delete row
// (each connection removes b.N/nfsConns files of its own directory, created
// beforehand).
func BenchmarkNFSRemove(b *testing.B) {
	clients := newNFSRig(b, 4096)
	per := (b.N + nfsConns - 1) / nfsConns
	for _, n := range clients {
		for i := range per {
			res := n.do(b, nfstest.PutFH(n.dir), nfstest.Open(0, n.c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
				nfstest.ClaimNull(fmt.Sprintf("f%d", i)), nfstest.Unchecked(0o644)))
			open, _ := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
			n.do(b, nfstest.PutFH(n.dir), nfstest.Lookup(fmt.Sprintf("f%d", i)),
				nfstest.Close(0, open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid))
		}
	}
	next := make([]int, len(clients))
	runNFS(b, clients, func(i int, n *nfsClient) error {
		name := fmt.Sprintf("f%d", next[i])
		next[i]++
		_, err := n.call(nfstest.PutFH(n.dir), nfstest.Remove(name))
		return err
	})
}

// BenchmarkNFSSeqWrite1M: 1 MiB UNSTABLE WRITEs, each connection
// sequentially through its own 64 MiB file and wrapping, with a COMMIT at
// every wrap and at the end, as shelf bench's seqwrite row.
func BenchmarkNFSSeqWrite1M(b *testing.B) {
	const fileBytes = 64 << 20
	clients := newNFSRig(b, 4096)
	chunk := random(1 << 20)
	b.SetBytes(int64(len(chunk)))
	pos := make([]uint64, len(clients))
	runNFS(b, clients, func(i int, n *nfsClient) error {
		chunk := append([]byte(nil), chunk...)
		chunk[0], chunk[1] = byte(pos[i]>>20), byte(i)
		if _, err := n.call(nfstest.PutFH(n.file), nfstest.Write(n.sid, pos[i], chunk)); err != nil {
			return err
		}
		pos[i] += uint64(len(chunk))
		if pos[i] < fileBytes {
			return nil
		}
		pos[i] = 0
		_, err := n.call(nfstest.PutFH(n.file), nfstest.Commit())
		return err
	})
	for _, n := range clients {
		n.do(b, nfstest.PutFH(n.file), nfstest.Commit())
	}
}

// BenchmarkNFSRandWrite4K: 4 KiB UNSTABLE WRITEs at random offsets of each
// connection's 64 MiB file, with a COMMIT every 32 WRITEs, as shelf bench's
// randwrite row.
func BenchmarkNFSRandWrite4K(b *testing.B) {
	const fileBytes = 64 << 20
	clients := newNFSRig(b, fileBytes)
	b.SetBytes(4096)
	count := make([]int, len(clients))
	runNFS(b, clients, func(i int, n *nfsClient) error {
		page := random(4096)
		off := n.rng.Uint64N(fileBytes/4096) * 4096
		if _, err := n.call(nfstest.PutFH(n.file), nfstest.Write(n.sid, off, page)); err != nil {
			return err
		}
		count[i]++
		if count[i]%32 != 0 {
			return nil
		}
		_, err := n.call(nfstest.PutFH(n.file), nfstest.Commit())
		return err
	})
	for _, n := range clients {
		n.do(b, nfstest.PutFH(n.file), nfstest.Commit())
	}
}

// BenchmarkNFSSeqRead1M: 1 MiB READs, each connection sequentially through
// its own 64 MiB file and wrapping, as shelf bench's seqread row.
func BenchmarkNFSSeqRead1M(b *testing.B) {
	const fileBytes = 64 << 20
	clients := newNFSRig(b, fileBytes)
	b.SetBytes(1 << 20)
	pos := make([]uint64, len(clients))
	runNFS(b, clients, func(i int, n *nfsClient) error {
		_, err := n.call(nfstest.PutFH(n.file), nfstest.Read(n.sid, pos[i], 1<<20))
		pos[i] = (pos[i] + 1<<20) % fileBytes
		return err
	})
}
