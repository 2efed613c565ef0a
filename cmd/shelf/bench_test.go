package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/server"
)

// TestBench runs shelf bench briefly against an in-process shelfd serving an
// encrypted file system on a static export, and checks that every row of
// the table has non-zero numbers.
func TestBench(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	cfg.NFS.Exports = []config.NFSExport{{Listen: "127.0.0.1:0", FileSystemID: "fs-0123456789abcdef0", Create: true, Encrypted: true}}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, s.Close())
	})
	addr := s.NFS().Addr("static:127.0.0.1:0")
	require.NotNil(t, addr)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"bench", "--server", addr.String(), "--conns", "2", "--workers", "4",
		"--duration", "300ms", "--size", "4MiB"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
	t.Log(stdout.String())

	want := []string{"seqwrite-1MiB", "seqread-1MiB", "randread-4KiB", "randwrite-4KiB", "create", "stat", "rename", "delete"}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2+len(want))
	for i, name := range want {
		f := strings.Fields(lines[2+i])
		require.Len(t, f, 5, lines[2+i])
		require.Equal(t, name, f[0])
		v, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err)
		require.Positive(t, v, name)
		for _, lat := range f[3:] {
			ms, err := strconv.ParseFloat(strings.TrimSuffix(lat, "ms"), 64)
			require.NoError(t, err)
			require.Positive(t, ms, name)
		}
	}
}

func readReply(data []byte, eof bool) []byte {
	res := &nfsv4.Compound4res{Tag: "shelf-bench", Resarray: []nfsv4.NfsResop4{
		&nfsv4.NfsResop4_OP_SEQUENCE{Opsequence: &nfsv4.Sequence4res_NFS4_OK{SrResok4: nfsv4.Sequence4resok{
			SrSequenceid: 7, SrSlotid: 1, SrHighestSlotid: 3, SrTargetHighestSlotid: 3}}},
		&nfsv4.NfsResop4_OP_PUTFH{Opputfh: nfsv4.Putfh4res{Status: nfsv4.NFS4_OK}},
		&nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_NFS4_OK{Resok4: nfsv4.Read4resok{Eof: eof, Data: data}}},
	}}
	var b bytes.Buffer
	if _, err := res.WriteTo(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// FuzzDecodeReadReply: whatever the bench's READ decoder accepts, go-xdr
// decodes to the same data and end-of-file flag.
func FuzzDecodeReadReply(f *testing.F) {
	f.Add(readReply([]byte("hello"), true))
	f.Add(readReply(nil, false))
	f.Add(readReply(make([]byte, 4096), false))
	bad := readReply([]byte("x"), false)
	bad[len(bad)-13] = 9 // READ's status
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		data, eof, ok := decodeReadReply(b)
		if !ok {
			return
		}
		res, err := nfstest.Decode(b)
		require.NoError(t, err)
		require.NoError(t, nfstest.Check(res, nil))
		require.Len(t, res.Resarray, 3)
		read := res.Resarray[2].(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK).Resok4
		require.Equal(t, read.Eof, eof)
		require.Equal(t, len(read.Data), len(data))
		require.True(t, bytes.Equal(read.Data, data))
	})
}
