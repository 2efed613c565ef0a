// Package crash kills shelf in the middle of a mixed workload, again and
// again, and checks after every restart that the store is consistent (fsck
// finds nothing but reclaimable objects) and that every acknowledged
// operation survived: stable writes, unstable writes once committed, small
// writes into stored blocks (patches), and namespace operations (uncommitted
// unstable writes may be lost).
package crash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

const (
	fsID    = "fs-0123456789abcdef0"
	workers = 6
	envDir  = "SHELF_CRASH_CHILD_DIR"
	envSeq  = "SHELF_CRASH_CHILD_SEQ"
)

// content returns the deterministic contents of file version seq.
func content(seq uint64) []byte {
	r := mrand.New(mrand.NewPCG(seq, 99))
	n := r.IntN(5) // mostly small files, some spanning blocks
	size := []int{0, 1000, 4096, 70_000, 600_000}[n]
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// dbSize is the size of each worker's "db" file, which small writes patch in
// place.
const dbSize = 3*256<<10 + 1000

// dbBase returns the first contents of worker w's "db" file.
func dbBase(w int) []byte { return bytesOf(uint64(w)+1<<40, dbSize) }

// bytesOf returns n deterministic bytes for version v.
func bytesOf(v uint64, n int) []byte {
	r := mrand.New(mrand.NewPCG(v, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// poke parses a "poke off n v" or "upoke off n v" operation: the bytes it
// writes into "db" at off.
func poke(op string) (off int, p []byte, ok bool) {
	f := strings.Fields(op)
	if len(f) != 4 || (f[0] != "poke" && f[0] != "upoke") {
		return 0, nil, false
	}
	off, _ = strconv.Atoi(f[1])
	n, _ := strconv.Atoi(f[2])
	v, _ := strconv.ParseUint(f[3], 10, 64)
	return off, bytesOf(v, n), true
}

// ensureDB makes worker w's "db" file (written whole under a temporary name,
// then renamed) if it is missing, and returns its inode.
func ensureDB(ctx context.Context, f *fs.FileSystem, w int, dir uint64, say func(string, ...any)) (uint64, error) {
	a, err := f.Lookup(ctx, &fs.Root, dir, "db")
	if err == nil || !fs.IsCode(err, fs.NotExist) {
		return a.Ino, err
	}
	say("B %d dbinit", w)
	t, _, err := f.Create(ctx, &fs.Root, dir, "dbtmp", 0o644, fs.Unchecked, [8]byte{})
	if err != nil {
		return 0, err
	}
	zero := uint64(0)
	if _, err := f.SetAttr(ctx, &fs.Root, t.Ino, fs.SetAttrs{Size: &zero}); err != nil {
		return 0, err
	}
	if _, err := f.Write(ctx, &fs.Root, t.Ino, 0, dbBase(w)); err != nil {
		return 0, err
	}
	if err := f.Rename(ctx, &fs.Root, dir, "dbtmp", dir, "db"); err != nil {
		return 0, err
	}
	say("A %d dbinit", w)
	return t.Ino, nil
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(envDir); dir != "" {
		seq, _ := strconv.ParseUint(os.Getenv(envSeq), 10, 64)
		child(dir, seq)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func open(t testing.TB, dir string) *server.Server {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Health.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Storage.MinFreeBytes = 0
	srv, err := server.New(context.Background(), cfg, nil)
	if t != nil {
		require.NoError(t, err)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	return srv
}

// child runs the workload until it is killed. Each worker owns directory
// w<N>; before an operation it prints "B <worker> <op>", after it returns
// "A <worker> <op>". Lines are written whole under a mutex.
func child(dir string, seq uint64) {
	ctx := context.Background()
	srv := open(nil, dir)
	svc := srv.FS()
	f, err := svc.FileSystem(ctx, fsID)
	if fs.IsCode(err, fs.Stale) {
		key, kerr := srv.KMS().ManagedKey(ctx)
		if kerr != nil {
			fmt.Fprintln(os.Stderr, kerr)
			os.Exit(3)
		}
		f, err = svc.CreateFileSystem(ctx, fsID, fs.CreateOptions{Encrypted: true, KMSKeyID: key.ARN})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "file system:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		mu.Unlock()
	}
	c := &fs.Root
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(seq, uint64(w)))
			wdir, err := f.Lookup(ctx, c, fs.RootIno, fmt.Sprintf("w%d", w))
			if fs.IsCode(err, fs.NotExist) {
				wdir, err = f.Mkdir(ctx, c, fs.RootIno, fmt.Sprintf("w%d", w), 0o755)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "worker dir:", err)
				os.Exit(3)
			}
			db, err := ensureDB(ctx, f, w, wdir.Ino, say)
			if err != nil {
				fmt.Fprintln(os.Stderr, "db:", err)
				os.Exit(3)
			}
			for i := uint64(0); ; i++ {
				v := seq*1_000_000 + uint64(w)*100_000 + i
				name := fmt.Sprintf("f%d", r.IntN(12))
				var op string
				var do func() error
				switch r.IntN(9) {
				case 0, 1: // write a whole new version under a temporary name, rename over
					op = fmt.Sprintf("put %s %d", name, v)
					do = func() error {
						tmp := "tmp-" + name
						a, _, err := f.Create(ctx, c, wdir.Ino, tmp, 0o644, fs.Unchecked, [8]byte{})
						if err != nil {
							return err
						}
						zero := uint64(0)
						if _, err := f.SetAttr(ctx, c, a.Ino, fs.SetAttrs{Size: &zero}); err != nil {
							return err
						}
						if _, err := f.Write(ctx, c, a.Ino, 0, content(v)); err != nil {
							return err
						}
						return f.Rename(ctx, c, wdir.Ino, tmp, wdir.Ino, name)
					}
				case 5: // the same with unstable writes (in pieces, out of order) made durable by Commit
					op = fmt.Sprintf("uput %s %d", name, v)
					do = func() error {
						tmp := "tmp-" + name
						a, _, err := f.Create(ctx, c, wdir.Ino, tmp, 0o644, fs.Unchecked, [8]byte{})
						if err != nil {
							return err
						}
						zero := uint64(0)
						if _, err := f.SetAttr(ctx, c, a.Ino, fs.SetAttrs{Size: &zero}); err != nil {
							return err
						}
						b := content(v)
						cut := len(b) / 3
						for _, piece := range [][2]int{{cut, len(b)}, {0, cut}} {
							if _, err := f.WriteUnstable(ctx, c, a.Ino, uint64(piece[0]), b[piece[0]:piece[1]]); err != nil {
								return err
							}
						}
						if err := f.Commit(ctx, a.Ino); err != nil {
							return err
						}
						return f.Rename(ctx, c, wdir.Ino, tmp, wdir.Ino, name)
					}
				case 6: // unstable writes never committed: a crash may lose them, but the store stays consistent
					op = fmt.Sprintf("scribble %s", name)
					do = func() error {
						a, _, err := f.Create(ctx, c, wdir.Ino, "scratch", 0o644, fs.Unchecked, [8]byte{})
						if err != nil {
							return err
						}
						b := content(v)
						_, err = f.WriteUnstable(ctx, c, a.Ino, uint64(r.IntN(1<<20)), b)
						return err
					}
				case 7, 8: // a small write into "db", stable or unstable then committed: a patch
					off := r.IntN(dbSize - 1)
					n := 1 + r.IntN(min(8192, dbSize-off))
					kind := "poke"
					if r.IntN(2) == 1 {
						kind = "upoke"
					}
					op = fmt.Sprintf("%s %d %d %d", kind, off, n, v)
					do = func() error {
						_, p, _ := poke(op)
						if kind == "poke" {
							_, err := f.Write(ctx, c, db, uint64(off), p)
							return err
						}
						if _, err := f.WriteUnstable(ctx, c, db, uint64(off), p); err != nil {
							return err
						}
						return f.Commit(ctx, db)
					}
				case 2:
					op = fmt.Sprintf("rm %s", name)
					do = func() error { return f.Unlink(ctx, c, wdir.Ino, name) }
				case 3:
					to := fmt.Sprintf("f%d", r.IntN(12))
					op = fmt.Sprintf("mv %s %s", name, to)
					do = func() error { return f.Rename(ctx, c, wdir.Ino, name, wdir.Ino, to) }
				case 4:
					op = fmt.Sprintf("mkdir %s", name)
					do = func() error {
						_, err := f.Mkdir(ctx, c, wdir.Ino, name, 0o755)
						if err != nil {
							return err
						}
						return f.Rmdir(ctx, c, wdir.Ino, name)
					}
				}
				say("B %d %s", w, op)
				err := do()
				switch {
				case err == nil:
					say("A %d %s", w, op)
				case fs.IsCode(err, fs.NotExist), fs.IsCode(err, fs.Exist), fs.IsCode(err, fs.IsDir), fs.IsCode(err, fs.NotEmpty):
					say("E %d %s", w, op) // refused: nothing changed
				default:
					fmt.Fprintln(os.Stderr, "op:", op, err)
					os.Exit(4)
				}
			}
		}()
	}
	wg.Wait()
}

// model is what each worker's directory must hold: name → content version.
type model [workers]map[string]uint64

func (m *model) apply(w int, op string) {
	f := strings.Fields(op)
	switch f[0] {
	case "put", "uput":
		v, _ := strconv.ParseUint(f[2], 10, 64)
		m[w][f[1]] = v
	case "rm":
		delete(m[w], f[1])
	case "mv":
		if v, ok := m[w][f[1]]; ok && f[1] != f[2] {
			m[w][f[2]] = v
			delete(m[w], f[1])
		}
	}
}

// touched lists the names an operation may change, but for "db" (see
// verifyDB).
func touched(op string) []string {
	f := strings.Fields(op)
	switch f[0] {
	case "dbinit", "poke", "upoke":
		return nil
	case "put", "uput":
		return []string{f[1], "tmp-" + f[1]}
	case "scribble":
		return []string{"scratch"}
	case "mv":
		return []string{f[1], f[2]}
	}
	return []string{f[1]}
}

func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process repeatedly")
	}
	rounds := 6
	if s := os.Getenv("SHELF_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	var m model
	for w := range m {
		m[w] = map[string]uint64{}
	}
	var dbs [workers][]byte // each worker's "db" contents (nil: not made yet)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := 1; round <= rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envDir+"="+dir, envSeq+"="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		// A child that hangs (prints nothing more) is killed by the watchdog
		// and the round fails below.
		watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })

		inflight := make([]string, workers)
		acked, pokes := 0, 0
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let it run a random while after the first acknowledgement.
		var deadline <-chan time.Time
		killed := false
		for line := range lines {
			parts := strings.SplitN(line, " ", 3)
			if len(parts) != 3 {
				continue
			}
			w, _ := strconv.Atoi(parts[1])
			switch parts[0] {
			case "B":
				inflight[w] = parts[2]
			case "A":
				m.apply(w, parts[2])
				if parts[2] == "dbinit" {
					dbs[w] = dbBase(w)
				} else if off, p, ok := poke(parts[2]); ok {
					copy(dbs[w][off:], p)
					pokes++
				}
				inflight[w] = ""
				acked++
			case "E":
				inflight[w] = ""
			}
			if deadline == nil && acked > 0 {
				// Kill a random while after the first acknowledgement, so
				// that every round has acknowledged work to check however
				// slow the machine is.
				deadline = time.After(time.Duration(100+rnd.IntN(700)) * time.Millisecond)
			}
			select {
			case <-deadline:
				if !killed {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					killed = true
				}
			default:
			}
		}
		err = cmd.Wait()
		watchdog.Stop()
		require.True(t, killed, "child ended by itself: %v\n%s", err, stderr.String())
		require.Greater(t, acked, 0, "round %d acknowledged nothing\n%s", round, stderr.String())

		// Restart: the store must be consistent and hold every acknowledged change.
		srv := open(t, dir)
		svc := srv.FS()
		rep, err := svc.Check(context.Background(), fs.CheckOptions{})
		require.NoError(t, err)
		for _, p := range rep.Problems {
			require.Equal(t, "leaked-object", p.Kind, "round %d: %v", round, p)
		}
		f, err := svc.FileSystem(context.Background(), fsID)
		require.NoError(t, err)
		for w := 0; w < workers; w++ {
			verifyWorker(t, f, w, m[w], inflight[w], round)
			verifyDB(t, f, w, &dbs[w], inflight[w], round)
		}
		// Ambiguous in-flight operations: adopt what the store holds.
		for w := 0; w < workers; w++ {
			if inflight[w] != "" {
				adopt(t, f, w, &m, inflight[w])
			}
		}
		rep, err = svc.Check(context.Background(), fs.CheckOptions{Repair: true})
		require.NoError(t, err)
		require.Zero(t, rep.Serious())
		t.Logf("round %d: %d acknowledged operations (%d small writes into db), %d objects, %d leaked objects reclaimed", round, acked, pokes, rep.Objects, rep.Repaired)
		require.NoError(t, srv.Close())
	}
}

func verifyWorker(t *testing.T, f *fs.FileSystem, w int, want map[string]uint64, inflight string, round int) {
	ctx := context.Background()
	c := &fs.Root
	d, err := f.Lookup(ctx, c, fs.RootIno, fmt.Sprintf("w%d", w))
	require.NoError(t, err)
	skip := map[string]bool{}
	if inflight != "" {
		for _, n := range touched(inflight) {
			skip[n] = true
		}
	}
	ents, _, err := f.ReadDir(ctx, c, d.Ino, 0, 1000, false)
	require.NoError(t, err)
	have := map[string]uint64{}
	for _, e := range ents {
		have[e.Name] = e.Ino
		if skip[e.Name] || strings.HasPrefix(e.Name, "tmp-") || e.Name == "scratch" || e.Name == "db" || e.Name == "dbtmp" {
			continue
		}
		v, ok := want[e.Name]
		require.True(t, ok, "round %d worker %d: unexpected %q", round, w, e.Name)
		buf, _, err := f.Read(ctx, c, e.Ino, 0, 1<<20)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(content(v)), sha256.Sum256(buf), "round %d worker %d: %q content", round, w, e.Name)
	}
	for name := range want {
		if !skip[name] {
			_, ok := have[name]
			require.True(t, ok, "round %d worker %d: acknowledged %q is missing", round, w, name)
		}
	}
}

// verifyDB checks worker w's "db" file against the model db, adopting what
// an ambiguous in-flight operation on it left.
func verifyDB(t *testing.T, f *fs.FileSystem, w int, db *[]byte, inflight string, round int) {
	ctx := context.Background()
	d, err := f.Lookup(ctx, &fs.Root, fs.RootIno, fmt.Sprintf("w%d", w))
	require.NoError(t, err)
	a, err := f.Lookup(ctx, &fs.Root, d.Ino, "db")
	if fs.IsCode(err, fs.NotExist) {
		require.Nil(t, *db, "round %d worker %d: acknowledged db is missing", round, w)
		return
	}
	require.NoError(t, err)
	buf, _, err := f.Read(ctx, &fs.Root, a.Ino, 0, 2*dbSize)
	require.NoError(t, err)
	if *db == nil {
		require.Equal(t, "dbinit", inflight, "round %d worker %d: db exists, never acknowledged", round, w)
		*db = dbBase(w)
	}
	if bytes.Equal(*db, buf) {
		return
	}
	off, p, ok := poke(inflight)
	require.True(t, ok, "round %d worker %d: db differs from the acknowledged writes", round, w)
	want := append([]byte(nil), *db...)
	copy(want[off:], p)
	require.True(t, bytes.Equal(want, buf), "round %d worker %d: db holds neither the old nor the new bytes of %q", round, w, inflight)
	*db = want
}

// adopt sets the model of an ambiguous operation's names to what is stored.
func adopt(t *testing.T, f *fs.FileSystem, w int, m *model, op string) {
	ctx := context.Background()
	d, err := f.Lookup(ctx, &fs.Root, fs.RootIno, fmt.Sprintf("w%d", w))
	require.NoError(t, err)
	fields := strings.Fields(op)
	// It is one of the versions the operation could have left.
	candidates := []uint64{}
	if fields[0] == "put" || fields[0] == "uput" {
		v, _ := strconv.ParseUint(fields[2], 10, 64)
		candidates = append(candidates, v)
	}
	for _, v := range m[w] {
		candidates = append(candidates, v)
	}
	for _, name := range touched(op) {
		if strings.HasPrefix(name, "tmp-") || name == "scratch" {
			continue
		}
		a, err := f.Lookup(ctx, &fs.Root, d.Ino, name)
		if fs.IsCode(err, fs.NotExist) {
			delete(m[w], name)
			continue
		}
		require.NoError(t, err)
		if a.Type == fs.TypeDirectory {
			require.NoError(t, f.Rmdir(ctx, &fs.Root, d.Ino, name))
			delete(m[w], name)
			continue
		}
		buf, _, err := f.Read(ctx, &fs.Root, a.Ino, 0, 1<<20)
		require.NoError(t, err)
		found := false
		for _, v := range candidates {
			if bytes.Equal(content(v), buf) {
				m[w][name], found = v, true
				break
			}
		}
		require.True(t, found, "worker %d: %q after %q holds none of the possible versions", w, name, op)
	}
}
