package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

func init() {
	register(command{
		name:    "bench",
		summary: "NFSv4.1 load generator: throughput, IOPS and metadata rates of any NFSv4.1 server",
		run:     runBench,
	})
}

// benchConfig holds the flags of shelf bench.
type benchConfig struct {
	server    string
	conns     int
	workers   int
	duration  time.Duration
	sizeBytes int64
}

// benchRow is one line of the result table.
type benchRow struct {
	name  string
	value float64
	unit  string
	p50   time.Duration
	p99   time.Duration
}

// runBench establishes --conns NFSv4.1 sessions with the server, spreads
// --workers over them, and runs each test for --duration in a scratch
// directory under the export root, which it removes at the end. Workers
// that share a connection use their own slots but take turns on the wire
// (nfstest.TCP sends one call at a time), so concurrency on the wire is
// --conns.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg benchConfig
	fl.StringVar(&cfg.server, "server", "127.0.0.1:2049", "NFSv4.1 server host:port")
	fl.IntVar(&cfg.conns, "conns", 4, "connections, one session each")
	fl.IntVar(&cfg.workers, "workers", 0, "concurrent workers spread over the connections, one session slot each (default: --conns); workers sharing a connection take turns, one call in flight per connection")
	fl.DurationVar(&cfg.duration, "duration", 10*time.Second, "duration of each test")
	size := fl.String("size", "64MiB", "size of each worker's data file")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintln(stderr, "shelf bench: unexpected arguments:", fl.Args())
		return exitUsage
	}
	sz, err := config.ParseByteSize(*size)
	if err != nil {
		fmt.Fprintln(stderr, "shelf bench: --size:", err)
		return exitUsage
	}
	cfg.sizeBytes = int64(sz)
	if cfg.workers == 0 {
		cfg.workers = cfg.conns
	}
	if cfg.conns < 1 || cfg.workers < cfg.conns || cfg.duration <= 0 || cfg.sizeBytes < 1<<20 {
		fmt.Fprintln(stderr, "shelf bench: need --conns >= 1, --workers >= --conns, --duration > 0 and --size >= 1MiB")
		return exitUsage
	}
	rows, ioBytes, err := bench(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "shelf bench:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "shelf bench: %s, %d connections, %d workers, %s per test, %d MiB files, %d KiB sequential I/O\n",
		cfg.server, cfg.conns, cfg.workers, cfg.duration, cfg.sizeBytes>>20, ioBytes>>10)
	printBenchTable(stdout, rows)
	return exitOK
}

func printBenchTable(w io.Writer, rows []benchRow) {
	fmt.Fprintf(w, "%-14s %12s %-8s %10s %10s\n", "test", "result", "unit", "p50", "p99")
	for _, r := range rows {
		fmt.Fprintf(w, "%-14s %12.1f %-8s %10s %10s\n", r.name, r.value, r.unit, fmtLatency(r.p50), fmtLatency(r.p99))
	}
}

func fmtLatency(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// benchWorker is one load-generating goroutine with its own session slot,
// directory and data file.
type benchWorker struct {
	id     int
	client *nfstest.Client
	slot   uint32
	seqid  uint32
	owner  string
	rng    *rand.Rand
	buf    []byte
	ioSize int

	dir     []byte
	file    []byte
	sid     nfsv4.Stateid4
	pos     int64
	written int64
	writes  int
	files   []string
	next    int
	deleted int
}

// do sends ops after a SEQUENCE on the worker's slot. Workers never share a
// slot, and the client fields Compound and Sequence read are not written
// after the session is set up, so workers on one connection run
// concurrently (their calls are serialized by the transport).
func (w *benchWorker) do(ctx context.Context, ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	seqid := w.seqid + 1
	res, err := w.client.Compound(ctx, append([]nfsv4.NfsArgop4{w.client.Sequence(w.slot, seqid, false)}, ops...)...)
	if err != nil {
		return nil, err
	}
	return res, w.settle(seqid, res)
}

// settle advances the worker's slot seqid to seqid when the reply's
// SEQUENCE succeeded, and returns the reply's failure, if any.
func (w *benchWorker) settle(seqid uint32, res *nfsv4.Compound4res) error {
	if len(res.Resarray) > 0 && nfstest.Status(res.Resarray[0]) == nfsv4.NFS4_OK {
		w.seqid = seqid
	}
	if err := nfstest.Check(res, nil); err != nil {
		return fmt.Errorf("worker %d: %w", w.id, err)
	}
	return nil
}

// benchSession connects and establishes one NFSv4.1 session with slots
// slots: EXCHANGE_ID, CREATE_SESSION, RECLAIM_COMPLETE.
func benchSession(ctx context.Context, addr string, owner string, slots int) (*nfstest.Client, *nfstest.TCP, error) {
	tr, err := nfstest.Dial(ctx, addr, rpc.Credentials{Flavor: rpc.AuthSys, MachineName: "shelf-bench"})
	if err != nil {
		return nil, nil, err
	}
	c := nfstest.New(tr, 1, owner)
	c.Tag = "shelf-bench"
	err = c.ExchangeID(ctx)
	if err == nil {
		err = c.CreateSession(ctx, uint32(slots))
	}
	if err == nil && len(c.SlotSeqids) < slots {
		err = fmt.Errorf("server granted %d slots, %d workers need one each", len(c.SlotSeqids), slots)
	}
	if err == nil {
		err = nfstest.Check(c.Do(ctx, &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{}))
	}
	if err != nil {
		tr.Close()
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	return c, tr, nil
}

func bench(ctx context.Context, cfg benchConfig) ([]benchRow, int, error) {
	perConn := (cfg.workers + cfg.conns - 1) / cfg.conns
	prefix := fmt.Sprintf("shelf-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	var clients []*nfstest.Client
	for i := range cfg.conns {
		c, tr, err := benchSession(ctx, cfg.server, fmt.Sprintf("%s-%d", prefix, i), perConn)
		if err != nil {
			return nil, 0, err
		}
		defer tr.Close()
		clients = append(clients, c)
	}
	ioSize := 1 << 20
	fc := clients[0].ForeChannel
	ioSize = min(ioSize, int(fc.CaMaxrequestsize)-4096, int(fc.CaMaxresponsesize)-4096)
	ioSize = max(ioSize&^4095, 4096)

	workers := make([]*benchWorker, cfg.workers)
	for i := range workers {
		c := clients[i%cfg.conns]
		slot := uint32(i / cfg.conns)
		w := &benchWorker{id: i, client: c, slot: slot, seqid: c.SlotSeqids[slot], owner: fmt.Sprintf("w%d", i),
			rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))), ioSize: ioSize}
		w.buf = make([]byte, ioSize)
		for j := 0; j+8 <= len(w.buf); j += 8 {
			v := w.rng.Uint64()
			for k := range 8 {
				w.buf[j+k] = byte(v >> (8 * k))
			}
		}
		workers[i] = w
	}

	// Scratch directory, one subdirectory and one data file per worker.
	w0 := workers[0]
	res, err := w0.do(ctx, nfstest.PutRootFH(), nfstest.Mkdir(prefix, 0o755), nfstest.GetFH())
	if err != nil {
		return nil, 0, fmt.Errorf("create scratch directory: %w", err)
	}
	scratch := nfstest.FH(res)
	for _, w := range workers {
		res, err := w.do(ctx, nfstest.PutFH(scratch), nfstest.Mkdir(w.owner, 0o755), nfstest.GetFH())
		if err != nil {
			return nil, 0, fmt.Errorf("create worker directory: %w", err)
		}
		w.dir = nfstest.FH(res)
		w.file, w.sid, err = w.open(ctx, "data")
		if err != nil {
			return nil, 0, err
		}
	}
	rows, err := benchTests(ctx, cfg, workers)
	// Clean up even after a failure, on a fresh context.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	cerr := benchCleanup(cctx, prefix, scratch, workers)
	return rows, ioSize, errors.Join(err, cerr)
}

// open creates name in the worker's directory and returns its handle and
// open stateid.
func (w *benchWorker) open(ctx context.Context, name string) ([]byte, nfsv4.Stateid4, error) {
	res, err := w.do(ctx, nfstest.PutFH(w.dir), nfstest.Open(0, w.client.ClientID, w.owner, nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull(name), nfstest.Unchecked(0o644)), nfstest.GetFH())
	if err != nil {
		return nil, nfsv4.Stateid4{}, fmt.Errorf("open %s: %w", name, err)
	}
	open, _ := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
	return nfstest.FH(res), open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid, nil
}

func benchCleanup(ctx context.Context, prefix string, scratch []byte, workers []*benchWorker) error {
	var errs []error
	for _, w := range workers {
		if w.file != nil {
			if _, err := w.do(ctx, nfstest.PutFH(w.file), nfstest.Close(0, w.sid)); err != nil {
				errs = append(errs, err)
			}
		}
		if w.dir == nil {
			continue
		}
		for _, name := range append(w.files[w.deleted:], "data") {
			if _, err := w.do(ctx, nfstest.PutFH(w.dir), nfstest.Remove(name)); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
			}
		}
		if _, err := w.do(ctx, nfstest.PutFH(scratch), nfstest.Remove(w.owner)); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", w.owner, err))
		}
	}
	if _, err := workers[0].do(ctx, nfstest.PutRootFH(), nfstest.Remove(prefix)); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", prefix, err))
	}
	return errors.Join(errs...)
}

// benchStep is one timed operation of a worker: it returns the bytes moved
// and whether the worker has nothing left to do.
type benchStep func(ctx context.Context, w *benchWorker) (bytes int64, done bool, err error)

type phaseResult struct {
	ops, bytes int64
	elapsed    time.Duration
	lats       []time.Duration
}

// runPhase runs step on every worker until d has passed or the worker is
// done, then finish (untimed per op, but inside the elapsed time).
func runPhase(ctx context.Context, workers []*benchWorker, d time.Duration, bounded bool, step benchStep,
	finish func(ctx context.Context, w *benchWorker) error) (phaseResult, error) {
	type out struct {
		ops, bytes int64
		lats       []time.Duration
		err        error
	}
	outs := make([]out, len(workers))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			o := &outs[i]
			for (!bounded || time.Now().Before(deadline)) && ctx.Err() == nil {
				t0 := time.Now()
				n, done, err := step(ctx, w)
				if err != nil {
					o.err = err
					return
				}
				if done {
					break
				}
				o.lats = append(o.lats, time.Since(t0))
				o.ops++
				o.bytes += n
			}
			if finish != nil {
				o.err = finish(ctx, w)
			}
		})
	}
	wg.Wait()
	r := phaseResult{elapsed: time.Since(start)}
	for _, o := range outs {
		if o.err != nil {
			return r, o.err
		}
		r.ops += o.ops
		r.bytes += o.bytes
		r.lats = append(r.lats, o.lats...)
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	slices.Sort(r.lats)
	return r, nil
}

func (r phaseResult) row(name, unit string) benchRow {
	row := benchRow{name: name, unit: unit}
	secs := r.elapsed.Seconds()
	if unit == "MiB/s" {
		row.value = float64(r.bytes) / (1 << 20) / secs
	} else {
		row.value = float64(r.ops) / secs
	}
	if n := len(r.lats); n > 0 {
		row.p50 = r.lats[n/2]
		row.p99 = r.lats[min(n-1, n*99/100)]
	}
	return row
}

func commitStep(ctx context.Context, w *benchWorker) error {
	_, err := w.do(ctx, nfstest.PutFH(w.file), nfstest.Commit())
	return err
}

// write writes data at off with UNSTABLE4 and returns the count written.
func (w *benchWorker) write(ctx context.Context, off int64, data []byte) (int64, error) {
	// Vary the buffer so that no two writes carry the same data.
	w.writes++
	for k := range 8 {
		data[k] ^= byte(w.writes >> (8 * k))
	}
	res, err := w.do(ctx, nfstest.PutFH(w.file), nfstest.Write(w.sid, uint64(off), data))
	if err != nil {
		return 0, err
	}
	n := int64(nfstest.Last(res).(*nfsv4.NfsResop4_OP_WRITE).Opwrite.(*nfsv4.Write4res_NFS4_OK).Resok4.Count)
	if n == 0 {
		return 0, fmt.Errorf("worker %d: WRITE wrote nothing", w.id)
	}
	w.written = max(w.written, off+n)
	return n, nil
}

func (w *benchWorker) read(ctx context.Context, off int64, count int) ([]byte, bool, error) {
	// The reply's data is sliced out of it (decodeReadReply) rather than
	// copied through go-xdr, which would make the load generator spend
	// more on a 1 MiB READ than many servers do; anything unusual is
	// decoded in full.
	seqid := w.seqid + 1
	raw, err := w.client.Raw(ctx, nfstest.Encode(&nfsv4.Compound4args{Tag: w.client.Tag, Minorversion: 1,
		Argarray: []nfsv4.NfsArgop4{w.client.Sequence(w.slot, seqid, false), nfstest.PutFH(w.file),
			nfstest.Read(w.sid, uint64(off), uint32(count))}}))
	if err != nil {
		return nil, false, err
	}
	if data, eof, ok := decodeReadReply(raw); ok {
		w.seqid = seqid
		return data, eof, nil
	}
	res, err := nfstest.Decode(raw)
	if err != nil {
		return nil, false, err
	}
	if err := w.settle(seqid, res); err != nil {
		return nil, false, err
	}
	ok := nfstest.Last(res).(*nfsv4.NfsResop4_OP_READ).Opread.(*nfsv4.Read4res_NFS4_OK)
	return ok.Resok4.Data, ok.Resok4.Eof, nil
}

// decodeReadReply decodes the reply to SEQUENCE, PUTFH, READ when every
// operation succeeded (RFC 8881 §18.46.2, §18.19.2, §18.22.2), returning
// READ's data as a slice of b, or false for any other reply.
func decodeReadReply(b []byte) (data []byte, eof, ok bool) {
	u32 := func() (uint32, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(b)
		b = b[4:]
		return v, true
	}
	opaque := func() ([]byte, bool) {
		n, ok := u32()
		padded := (uint64(n) + 3) &^ 3
		if !ok || padded > uint64(len(b)) {
			return nil, false
		}
		v := b[:n:n]
		for _, c := range b[n:padded] {
			if c != 0 {
				return nil, false
			}
		}
		b = b[padded:]
		return v, true
	}
	expect := func(want ...uint32) bool {
		for _, v := range want {
			if got, ok := u32(); !ok || got != v {
				return false
			}
		}
		return true
	}
	if !expect(uint32(nfsv4.NFS4_OK)) {
		return nil, false, false
	}
	if tag, ok := opaque(); !ok || !utf8.Valid(tag) {
		return nil, false, false
	}
	if !expect(3, uint32(nfsv4.OP_SEQUENCE), uint32(nfsv4.NFS4_OK)) || len(b) < 16+5*4 {
		return nil, false, false
	}
	b = b[16+5*4:] // sessionid, sequenceid, slotid, highest and target slotids, flags
	if !expect(uint32(nfsv4.OP_PUTFH), uint32(nfsv4.NFS4_OK), uint32(nfsv4.OP_READ), uint32(nfsv4.NFS4_OK)) {
		return nil, false, false
	}
	e, ok := u32()
	if !ok || e > 1 {
		return nil, false, false
	}
	data, ok = opaque()
	if !ok || len(b) != 0 {
		return nil, false, false
	}
	return data, e == 1, true
}

func benchTests(ctx context.Context, cfg benchConfig, workers []*benchWorker) ([]benchRow, error) {
	var rows []benchRow
	add := func(name, unit string, bounded bool, step benchStep, finish func(context.Context, *benchWorker) error) error {
		r, err := runPhase(ctx, workers, cfg.duration, bounded, step, finish)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r.row(name, unit))
		return nil
	}
	size := cfg.sizeBytes
	ioName := "1MiB"
	if workers[0].ioSize != 1<<20 {
		ioName = fmt.Sprintf("%dKiB", workers[0].ioSize>>10)
	}

	// Sequential write of 1 MiB blocks of random data, wrapping at --size,
	// then COMMIT.
	if err := add("seqwrite-"+ioName, "MiB/s", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		n := min(int64(w.ioSize), size-w.pos)
		got, err := w.write(ctx, w.pos, w.buf[:n])
		w.pos += got
		if w.pos >= size {
			w.pos = 0
		}
		return got, false, err
	}, commitStep); err != nil {
		return nil, err
	}
	for _, w := range workers {
		w.pos = 0
	}
	// Sequential read of what was written.
	if err := add("seqread-"+ioName, "MiB/s", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		data, eof, err := w.read(ctx, w.pos, w.ioSize)
		w.pos += int64(len(data))
		if eof || len(data) == 0 || w.pos >= w.written {
			w.pos = 0
		}
		return int64(len(data)), false, err
	}, nil); err != nil {
		return nil, err
	}
	// 4 KiB random reads within the written extent.
	if err := add("randread-4KiB", "IOPS", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		off := w.rng.Int64N(max(w.written/4096, 1)) * 4096
		data, _, err := w.read(ctx, off, 4096)
		return int64(len(data)), false, err
	}, nil); err != nil {
		return nil, err
	}
	// 4 KiB random UNSTABLE writes with a COMMIT every 32 (as fio's
	// fsync=32); the COMMITs count in the elapsed time, not in the
	// latencies.
	if err := add("randwrite-4KiB", "IOPS", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		off := w.rng.Int64N(max(w.written/4096, 1)) * 4096
		n, err := w.write(ctx, off, w.buf[:4096])
		if err == nil && w.writes%32 == 0 {
			err = commitStep(ctx, w)
		}
		return n, false, err
	}, commitStep); err != nil {
		return nil, err
	}

	// Small files: create (OPEN with create, CLOSE), stat (LOOKUP,
	// GETATTR), rename and delete, each in the worker's own directory.
	if err := add("create", "ops/s", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		name := fmt.Sprintf("f%d", len(w.files))
		fh, sid, err := w.open(ctx, name)
		if err != nil {
			return 0, false, err
		}
		w.files = append(w.files, name)
		_, err = w.do(ctx, nfstest.PutFH(fh), nfstest.Close(0, sid))
		return 0, false, err
	}, nil); err != nil {
		return nil, err
	}
	if err := add("stat", "ops/s", true, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		if len(w.files) == 0 {
			return 0, true, nil
		}
		name := w.files[w.next%len(w.files)]
		w.next++
		_, err := w.do(ctx, nfstest.PutFH(w.dir), nfstest.Lookup(name),
			nfstest.GetAttr(nfsv4.FATTR4_TYPE, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_MODE, nfsv4.FATTR4_TIME_MODIFY))
		return 0, false, err
	}, nil); err != nil {
		return nil, err
	}
	for _, w := range workers {
		w.next = 0
	}
	// Rename every file created, then delete every one: these run to the
	// end of the list rather than for --duration.
	if err := add("rename", "ops/s", false, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		if w.next == len(w.files) {
			return 0, true, nil
		}
		name := w.files[w.next]
		_, err := w.do(ctx, nfstest.PutFH(w.dir), nfstest.SaveFH(), nfstest.PutFH(w.dir), nfstest.Rename(name, "r"+name))
		if err == nil {
			w.files[w.next] = "r" + name
			w.next++
		}
		return 0, false, err
	}, nil); err != nil {
		return nil, err
	}
	if err := add("delete", "ops/s", false, func(ctx context.Context, w *benchWorker) (int64, bool, error) {
		if w.deleted == len(w.files) {
			return 0, true, nil
		}
		_, err := w.do(ctx, nfstest.PutFH(w.dir), nfstest.Remove(w.files[w.deleted]))
		if err == nil {
			w.deleted++
		}
		return 0, false, err
	}, nil); err != nil {
		return nil, err
	}
	return rows, nil
}
