package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fsx runs random operations on one file through every path the kernel
// client has to it — write(2) and read(2) through the page cache, shared
// mmap with msync, O_DIRECT, truncation, fsync, close and reopen, dropping
// the page cache — and checks every read, and the size, against a model of
// the file. It prints the operations that led to the first mismatch.
//
//	guesttool fsx FILE OPS SEED MAXSIZE
type fsxRun struct {
	path    string
	maxSize int
	rnd     *rand.Rand
	model   []byte
	fd, dfd int // buffered and O_DIRECT descriptors
	log     []string
	pageSz  int
	falloc  bool // the mount has fallocate (NFSv4.2 ALLOCATE/DEALLOCATE)
}

func fsx(args []string) int {
	if len(args) != 4 {
		usage()
	}
	nops, err1 := strconv.Atoi(args[1])
	seed, err2 := strconv.ParseUint(args[2], 10, 64)
	maxSize, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil || nops < 0 || maxSize < 1 {
		usage()
	}
	r := &fsxRun{path: args[0], maxSize: maxSize, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), pageSz: os.Getpagesize()}
	if err := r.open(unix.O_TRUNC); err != nil {
		fmt.Println("FAIL open:", err)
		return 1
	}
	// fallocate needs NFSv4.2; with 4.0 and 4.1 the client refuses it.
	r.falloc = unix.Fallocate(r.fd, 0, 0, 1) == nil
	if r.falloc {
		r.model = make([]byte, 1)
	}
	counts := map[string]int{}
	for i := range nops {
		name, err := r.step(i)
		if err != nil {
			r.fail(i, err)
			return 1
		}
		counts[name]++
	}
	// Everything reaches the server and comes back from it.
	if err := r.reopen(); err != nil {
		r.fail(nops, err)
		return 1
	}
	if err := r.dropCaches(); err != nil {
		r.fail(nops, err)
		return 1
	}
	if err := r.checkAll("final read after reopen and drop_caches"); err != nil {
		r.fail(nops, err)
		return 1
	}
	_ = unix.Close(r.fd)
	_ = unix.Close(r.dfd)
	fmt.Printf("ok fsx: %d operations %v, final size %d, fallocate %v\n", nops, counts, len(r.model), r.falloc)
	return 0
}

func (r *fsxRun) open(extra int) error {
	fd, err := unix.Open(r.path, unix.O_RDWR|unix.O_CREAT|extra, 0o644)
	if err != nil {
		return err
	}
	dfd, err := unix.Open(r.path, unix.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		_ = unix.Close(fd)
		return err
	}
	r.fd, r.dfd = fd, dfd
	return nil
}

func (r *fsxRun) reopen() error {
	if err := unix.Close(r.dfd); err != nil {
		return fmt.Errorf("close O_DIRECT: %w", err)
	}
	if err := unix.Close(r.fd); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return r.open(0)
}

func (r *fsxRun) dropCaches() error {
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

func (r *fsxRun) logf(format string, a ...any) {
	r.log = append(r.log, fmt.Sprintf(format, a...))
	if len(r.log) > 40 {
		r.log = r.log[len(r.log)-40:]
	}
}

func (r *fsxRun) fail(i int, err error) {
	fmt.Printf("FAIL fsx at operation %d (size %d): %v\n", i, len(r.model), err)
	for _, l := range r.log {
		fmt.Println("  " + l)
	}
}

// span picks a range that starts before limit and is at most 64 KiB long.
func (r *fsxRun) span(limit int) (off, n int) {
	off = r.rnd.IntN(limit)
	n = 1 + r.rnd.IntN(min(64<<10, limit-off))
	return off, n
}

func (r *fsxRun) data(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.rnd.Uint32())
	}
	return p
}

func (r *fsxRun) apply(off int, p []byte) {
	if end := off + len(p); end > len(r.model) {
		r.model = append(r.model, make([]byte, end-len(r.model))...)
	}
	copy(r.model[off:], p)
}

// compare checks got, read at off, against the model.
func (r *fsxRun) compare(what string, off, asked int, got []byte) error {
	want := r.model[min(off, len(r.model)):min(off+asked, len(r.model))]
	if bytes.Equal(got, want) {
		return nil
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s at %d+%d: %d bytes, want %d", what, off, asked, len(got), len(want))
	}
	i := 0
	for got[i] == want[i] {
		i++
	}
	j := len(got) - 1
	for got[j] == want[j] {
		j--
	}
	return fmt.Errorf("%s at %d+%d: bytes %d to %d differ (first %#x, want %#x)", what, off, asked, off+i, off+j, got[i], want[i])
}

func (r *fsxRun) checkAll(what string) error {
	var st unix.Stat_t
	if err := unix.Fstat(r.fd, &st); err != nil {
		return err
	}
	if int(st.Size) != len(r.model) {
		return fmt.Errorf("%s: size %d, want %d", what, st.Size, len(r.model))
	}
	got := make([]byte, len(r.model)+1)
	n, err := readFull(r.fd, got, 0)
	if err != nil {
		return err
	}
	return r.compare(what, 0, len(got), got[:n])
}

// readFull reads with pread until p is full or the end of the file.
func readFull(fd int, p []byte, off int) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pread(fd, p[done:], int64(off+done))
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}

func writeFull(fd int, p []byte, off int) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, int64(off))
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// write writes a random range through fd.
func (r *fsxRun) write(i int, name string, fd int) (string, error) {
	off, n := r.span(r.maxSize)
	p := r.data(n)
	r.logf("%d %s %d+%d", i, name, off, n)
	r.apply(off, p)
	return name, writeFull(fd, p, off)
}

// read reads a random range through fd, sometimes past the end, and checks
// it.
func (r *fsxRun) read(i int, name string, fd int) (string, error) {
	if len(r.model) == 0 {
		return "skip", nil
	}
	off, n := r.span(len(r.model))
	n += r.rnd.IntN(2) * 100
	r.logf("%d %s %d+%d", i, name, off, n)
	got := make([]byte, n)
	k, err := readFull(fd, got, off)
	if err != nil {
		return name, err
	}
	return name, r.compare(name, off, n, got[:k])
}

// step runs one random operation and returns its name.
func (r *fsxRun) step(i int) (string, error) {
	size := len(r.model)
	switch op := r.rnd.IntN(100); {
	case op < 25:
		return r.write(i, "write", r.fd)
	case op < 45:
		return r.read(i, "read", r.fd)
	case op < 61: // mmap: writes below 53, reads above
		if size == 0 {
			return "skip", nil
		}
		write := op < 53
		off, n := r.span(size)
		start := off / r.pageSz * r.pageSz
		m, err := unix.Mmap(r.fd, int64(start), off+n-start, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return "mmap", err
		}
		defer func() { _ = unix.Munmap(m) }()
		if write {
			p := r.data(n)
			r.logf("%d mapwrite %d+%d", i, off, n)
			copy(m[off-start:], p)
			r.apply(off, p)
			return "mapwrite", unix.Msync(m, unix.MS_SYNC)
		}
		r.logf("%d mapread %d+%d", i, off, n)
		return "mapread", r.compare("mapread", off, n, m[off-start:])
	case op < 67:
		return r.write(i, "dwrite", r.dfd)
	case op < 73:
		return r.read(i, "dread", r.dfd)
	case op < 81:
		to := r.rnd.IntN(r.maxSize + 1)
		if r.rnd.IntN(4) == 0 {
			to = to / r.pageSz * r.pageSz
		}
		r.logf("%d truncate %d", i, to)
		if to < size {
			r.model = r.model[:to]
		} else {
			r.model = append(r.model, make([]byte, to-size)...)
		}
		return "truncate", unix.Ftruncate(r.fd, int64(to))
	case op < 86:
		r.logf("%d fsync", i)
		return "fsync", unix.Fsync(r.fd)
	case op < 90:
		r.logf("%d stat", i)
		var st unix.Stat_t
		if err := unix.Fstat(r.fd, &st); err != nil {
			return "stat", err
		}
		if int(st.Size) != size {
			return "stat", fmt.Errorf("size %d, want %d", st.Size, size)
		}
		return "stat", nil
	case op < 92:
		off := r.rnd.IntN(r.maxSize)
		if r.rnd.IntN(2) == 0 {
			off = off / r.pageSz * r.pageSz
		}
		r.logf("%d seek data and hole from %d", i, off)
		return "seek", r.checkSeek(off)
	case op < 95 && r.falloc:
		off, n := r.span(r.maxSize)
		n *= 1 + r.rnd.IntN(8) // up to 512 KiB
		if r.rnd.IntN(2) == 0 {
			r.logf("%d punch %d+%d", i, off, n)
			if off < size {
				clear(r.model[off:min(off+n, size)])
			}
			return "punch", unix.Fallocate(r.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(n))
		}
		r.logf("%d fallocate %d+%d", i, off, n)
		if off+n > size {
			r.model = append(r.model, make([]byte, off+n-size)...)
		}
		return "fallocate", unix.Fallocate(r.fd, 0, int64(off), int64(n))
	case op < 98:
		r.logf("%d close and reopen", i)
		if err := r.reopen(); err != nil {
			return "reopen", err
		}
		return "reopen", r.checkAll("read after reopen")
	default:
		r.logf("%d drop caches", i)
		if err := r.dropCaches(); err != nil {
			return "dropcaches", err
		}
		return "dropcaches", r.checkAll("read after drop_caches")
	}
}

// checkSeek checks lseek(SEEK_DATA) and lseek(SEEK_HOLE) from off against
// the model: no data is skipped, a hole reads as zeros up to the next page,
// and past the end both fail with ENXIO.
func (r *fsxRun) checkSeek(off int) error {
	size := len(r.model)
	d, derr := unix.Seek(r.fd, int64(off), unix.SEEK_DATA)
	h, herr := unix.Seek(r.fd, int64(off), unix.SEEK_HOLE)
	if off >= size {
		if derr != unix.ENXIO || herr != unix.ENXIO {
			return fmt.Errorf("seek from %d at the end (%d): data %d %v, hole %d %v, want ENXIO", off, size, d, derr, h, herr)
		}
		return nil
	}
	if herr != nil || int(h) < off || int(h) > size {
		return fmt.Errorf("SEEK_HOLE from %d (size %d): %d %v", off, size, h, herr)
	}
	if end := min(size, (int(h)/r.pageSz+1)*r.pageSz); int(h) < size && !allZero(r.model[h:end]) {
		return fmt.Errorf("SEEK_HOLE from %d: %d, which holds data", off, h)
	}
	if derr == unix.ENXIO {
		if !allZero(r.model[off:]) {
			return fmt.Errorf("SEEK_DATA from %d: ENXIO, but there is data before the end (%d)", off, size)
		}
		return nil
	}
	if derr != nil || int(d) < off || int(d) >= size {
		return fmt.Errorf("SEEK_DATA from %d (size %d): %d %v", off, size, d, derr)
	}
	if !allZero(r.model[off:d]) {
		return fmt.Errorf("SEEK_DATA from %d: %d skips data", off, d)
	}
	return nil
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
