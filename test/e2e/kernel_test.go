// Package e2e tests the built shelfd with real clients, as users run it.
//
// TestKernelNFS mounts shelfd with the Linux kernel NFS client, in a VM
// booted by the kernel-nfs harness, and runs testdata/kernel-workload.sh
// there with NFSv4.1, NFSv4.0 and NFSv4.2. It runs only under `make e2e`
// (SHELF_E2E=1): it needs root and the harness, which
// scripts/kernel-nfs-setup installs. Settings (environment):
//
//	SHELF_E2E=1             run the end-to-end tests
//	SHELF_E2E_FULL=1        the full workload: 20,000 directory entries, a
//	                        256 MiB file, 256 MiB of fio, 10,000 fsx
//	                        operations (default: 2,000 entries, no big
//	                        file, 16 MiB of fio, 1,000 fsx operations)
//	SHELF_E2E_FSX_OPS       operations of the fsx check (overrides the above)
//	SHELF_E2E_VERS          NFS versions to test (default "4.1 4.0 4.2")
//	SHELF_E2E_SERVER        HOST:PORT of an NFS server to test instead of
//	                        starting shelfd (e.g. ganesha, to check the
//	                        workload itself)
//	SHELF_E2E_OUT           keep the artifacts (console logs, dmesg,
//	                        mountstats, shelfd.log) in this directory
//	SHELF_E2E_TIMEOUT       seconds per VM run (default 1200)
//	SHELF_E2E_RACE=1        build shelfd with the race detector
//	SHELF_KNFS_RUN          the harness's run script (default:
//	                        scripts/kernel-nfs-run)
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const fsID = "fs-0e2e0123456789abc"

// workload sizes the guest workload.
type workload struct {
	nentries int
	bigMiB   int
	fioSize  string
	fsxOps   int
}

func TestKernelNFS(t *testing.T) {
	if os.Getenv("SHELF_E2E") == "" {
		t.Skip("end-to-end tests run with `make e2e` (SHELF_E2E=1)")
	}
	root := repoRoot(t)
	run := kernelHarness(t, root)
	w := workload{nentries: 2000, fioSize: "16M", fsxOps: 1000}
	if os.Getenv("SHELF_E2E_FULL") != "" {
		w = workload{nentries: 20000, bigMiB: 256, fioSize: "256M", fsxOps: 10000}
	}
	if s := os.Getenv("SHELF_E2E_FSX_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "SHELF_E2E_FSX_OPS")
		w.fsxOps = n
	}
	work := os.Getenv("SHELF_E2E_OUT")
	if work == "" {
		work = t.TempDir()
	} else {
		require.NoError(t, os.MkdirAll(work, 0o755))
		work, _ = filepath.Abs(work)
	}
	t.Logf("artifacts in %s", work)

	tool := filepath.Join(work, "guesttool")
	goBuild(t, root, "./test/e2e/guesttool", tool, "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")

	var d *daemon
	addr := os.Getenv("SHELF_E2E_SERVER")
	if addr == "" {
		bin := filepath.Join(work, "shelfd")
		var flags []string
		if os.Getenv("SHELF_E2E_RACE") != "" {
			flags = append(flags, "-race")
		}
		goBuild(t, root, "./cmd/shelfd", bin, flags...)
		d = startDaemon(t, bin, work)
		addr = d.addr
	}

	versions := strings.Fields(os.Getenv("SHELF_E2E_VERS"))
	if len(versions) == 0 {
		versions = []string{"4.1", "4.0", "4.2"}
	}
	var written []string // trees that exist on the server
	for _, vers := range versions {
		t.Run("nfs"+vers, func(t *testing.T) {
			dir := "e2e-" + vers
			in := filepath.Join(work, dir, "in")
			guestInputs(t, in, tool)

			out := filepath.Join(work, dir, "write")
			ok := t.Run("write", func(t *testing.T) {
				kernelRun(t, d, run, addr, vers, in, out, w, "write", dir)
			})
			written = append(written, dir)
			if !ok {
				t.Fatal("write failed: not verifying")
			}
			for _, ext := range []string{"sums", "meta", "deep", "nentries"} {
				copyFile(t, filepath.Join(out, dir+"."+ext), filepath.Join(in, dir+"."+ext), 0o644)
			}
			t.Run("verify after remount", func(t *testing.T) {
				kernelRun(t, d, run, addr, vers, in, filepath.Join(work, dir, "verify"), w, "verify", dir)
			})
		})
	}
	var crashed chan error // the restart of the two-client run
	t.Run("two clients", func(t *testing.T) {
		// Two VMs at once, each its own NFS client (the first two
		// versions: 4.1 with 4.0 by default), in one directory; they take
		// turns through marker files in their shared --out.
		in, out := filepath.Join(work, "two", "in"), filepath.Join(work, "two", "out")
		guestInputs(t, in, tool)
		marks := filepath.Join(out, "sync")
		require.NoError(t, os.RemoveAll(marks))
		require.NoError(t, os.MkdirAll(marks, 0o755))
		restart := "0"
		if d != nil {
			// SIGKILL and start shelfd again when client a is ready for
			// it (a lock held, writes not yet synced). Not a subtest:
			// it must not take one of the parallel subtests' turns.
			restart = "1"
			crashed = make(chan error, 1)
			go func() {
				defer func() { _ = os.WriteFile(filepath.Join(marks, "host-ended"), nil, 0o644) }()
				if !awaitFile(filepath.Join(marks, "a-crash-ready"), 20*time.Minute,
					filepath.Join(marks, "a-ended"), filepath.Join(marks, "b-ended")) {
					crashed <- errors.New("client a never got ready for the restart")
					return
				}
				if err := d.crash(); err != nil {
					crashed <- err
					return
				}
				crashed <- os.WriteFile(filepath.Join(marks, "host-restarted"), nil, 0o644)
			}()
		}
		for i, id := range []string{"a", "b"} {
			vers := versions[min(i, len(versions)-1)]
			t.Run(id, func(t *testing.T) {
				t.Parallel()
				// The other client stops waiting for this one once it
				// has ended, however it ended.
				defer func() { _ = os.WriteFile(filepath.Join(marks, id+"-ended"), nil, 0o644) }()
				guestRun(t, d, run, addr, guest{vers: vers, in: in, out: out, script: "two-clients.sh", phase: "two",
					name: "client-" + id + "-" + vers, opts: []string{
						"--env", "E2E_CLIENT=" + id, "--env", "E2E_DIR=two-clients", "--env", "E2E_RESTART=" + restart}})
			})
		}
	})
	if crashed != nil {
		if err := <-crashed; err != nil {
			t.Fatalf("two clients: restarting shelfd: %v", err)
		}
	}
	if d == nil || len(written) == 0 || t.Failed() {
		return
	}
	shelf := filepath.Join(work, "shelf")
	goBuild(t, root, "./cmd/shelf", shelf)
	t.Run("restart", func(t *testing.T) {
		// Every tree written, the two clients' files, and a SIGKILL
		// behind: the store must check clean before shelfd starts again.
		d.stop(t)
		fsckClean(t, shelf, work)
		d.start(t)
		vers := versions[0]
		dir := "e2e-" + vers
		in := filepath.Join(work, dir, "in")
		kernelRun(t, d, run, addr, vers, in, filepath.Join(work, dir, "verify-restart"), w, "verify", dir)
		kernelRun(t, d, run, addr, vers, in, filepath.Join(work, "remove"), w, "remove", strings.Join(written, " "))
	})
	t.Run("fsck after remove", func(t *testing.T) {
		d.stop(t)
		fsckClean(t, shelf, work)
	})
}

// fsckClean runs shelf fsck --repair on the stopped shelfd's store, which
// must find nothing it cannot repair (a crash may leave objects written and
// never committed, for instance), then shelf fsck, which must find nothing.
func fsckClean(t *testing.T, shelf, work string) {
	t.Helper()
	fsck := func(args ...string) string {
		cmd := exec.Command(shelf, append([]string{"fsck", "--config", filepath.Join(work, "shelfd.yaml")}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "shelf fsck %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	t.Logf("shelf fsck --repair: %s", tail(fsck("--repair"), 20))
	require.Contains(t, fsck(), ": 0 problems, 0 repaired")
}

// repoRoot is the module root (the test runs in test/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	return root
}

// kernelHarness finds the harness's run script. Without one (or without
// root, which it needs) the test fails in CI and is skipped elsewhere,
// saying so.
func kernelHarness(t *testing.T, root string) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("kernel NFS end-to-end test cannot run in CI: %s", msg)
		}
		t.Skipf("kernel NFS end-to-end test skipped: %s", msg)
	}
	var run string
	if p := os.Getenv("SHELF_KNFS_RUN"); p != "" {
		run = p
	} else {
		if p := filepath.Join(root, "scripts", "kernel-nfs-run"); fileExists(p) {
			run = p
		}
	}
	if run == "" {
		unavailable("no kernel-nfs harness found (set SHELF_KNFS_RUN, or install one with sudo scripts/kernel-nfs-setup)")
	}
	if _, err := os.Stat(run); err != nil {
		unavailable("kernel-nfs harness %s: %v", run, err)
	}
	if run == filepath.Join(root, "scripts", "kernel-nfs-run") {
		cache := os.Getenv("SHELF_KNFS_CACHE")
		if cache == "" {
			cache = "/var/cache/shelf-kernel-nfs"
		}
		if _, err := os.Stat(filepath.Join(cache, "base.cpio")); err != nil {
			unavailable("no guest image in %s (run sudo scripts/kernel-nfs-setup)", cache)
		}
	}
	if os.Geteuid() != 0 {
		unavailable("the kernel-nfs harness needs root (qemu, network namespace); run `sudo make e2e`")
	}
	return run
}

// goBuild builds pkg into out.
func goBuild(t *testing.T, root, pkg, out string, args ...string) {
	t.Helper()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			goCmd = "go"
		}
	}
	var env, flags []string
	for _, a := range args {
		if strings.Contains(a, "=") {
			env = append(env, a)
		} else {
			flags = append(flags, a)
		}
	}
	cmd := exec.Command(goCmd, append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s:\n%s", pkg, b)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, mode))
}

// daemon is a running shelfd serving fsID on one static NFS export.
type daemon struct {
	bin, dir, addr string
	cmd            *exec.Cmd
	exited         chan struct{}
	log            *os.File
}

func startDaemon(t *testing.T, bin, work string) *daemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.1.10:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`data_dir: %q
log: {level: info, format: text}
health: {listen: ""}
api: {listen: "127.0.0.1:0"}
storage: {min_free_bytes: 0}
nfs:
  exports:
    - listen: %q
      file_system_id: %s
      create: true
      encrypted: true
`, filepath.Join(work, "data"), addr, fsID)
	return newDaemon(t, bin, work, cfg, addr)
}

// newDaemon starts shelfd with the configuration cfg and waits until addr
// (an NFS or API address of it) accepts connections.
func newDaemon(t *testing.T, bin, work, cfg, addr string) *daemon {
	t.Helper()
	cfgPath := filepath.Join(work, "shelfd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	logf, err := os.OpenFile(filepath.Join(work, "shelfd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	d := &daemon{bin: bin, dir: work, addr: addr, log: logf}
	t.Cleanup(func() {
		d.stop(t)
		logf.Close()
		if errs := d.logLines(`level=ERROR`); len(errs) > 0 {
			t.Errorf("shelfd logged errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	d.start(t)
	return d
}

func (d *daemon) start(t *testing.T) {
	t.Helper()
	if err := d.launch(); err != nil {
		t.Fatal(err)
	}
}

// launch starts shelfd and waits until it accepts NFS connections.
func (d *daemon) launch() error {
	d.cmd = exec.Command(d.bin, "--config", filepath.Join(d.dir, "shelfd.yaml"))
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		return err
	}
	d.exited = make(chan struct{})
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("shelfd exited at start-up (%v):\n%s", d.cmd.ProcessState, d.logTail(40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("shelfd does not accept NFS connections on %s after 60s:\n%s", d.addr, d.logTail(40))
		}
	}
}

// stop ends shelfd with SIGTERM (graceful), then SIGKILL after 30s.
func (d *daemon) stop(t *testing.T) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if !d.cmd.ProcessState.Success() {
			t.Errorf("shelfd exited with %v after SIGTERM:\n%s", d.cmd.ProcessState, d.logTail(20))
		}
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("shelfd did not stop within 30s of SIGTERM")
	}
}

// crash ends shelfd with SIGKILL, as a crash would, and starts it again.
func (d *daemon) crash() error {
	if err := d.cmd.Process.Kill(); err != nil {
		return err
	}
	<-d.exited
	return d.launch()
}

// awaitFile waits until path exists, for at most timeout, and gives up
// early once one of the files of stop exists.
func awaitFile(path string, timeout time.Duration, stop ...string) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if fileExists(path) {
			return true
		}
		for _, s := range stop {
			if fileExists(s) {
				return false
			}
		}
	}
	return false
}

func (d *daemon) logLines(re string) []string {
	b, _ := os.ReadFile(d.log.Name())
	rx := regexp.MustCompile(re)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if rx.MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

func (d *daemon) logTail(n int) string {
	if d == nil {
		return ""
	}
	b, _ := os.ReadFile(d.log.Name())
	return "--- shelfd.log (last lines) ---\n" + tail(string(b), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	// exitRE is the harness's result marker (guest-init prints it with a
	// per-run nonce after unmounting).
	exitRE = regexp.MustCompile(`KNFS-EXIT [0-9a-f]+ rc=(\d+) umount=(\w+)`)
	failRE = regexp.MustCompile(`KNFS-FAIL [0-9a-f]+ stage=([a-z-]+) rc=(\d+)`)
	// initRE is the guest's first marker: its init runs.
	initRE = regexp.MustCompile(`KNFS-STAGE [0-9a-f]+ init`)
)

// runHarness runs the kernel-nfs harness with args, its output going to
// sinks, and returns the output and the exit code. A VM that never reaches
// its init (under software emulation on a loaded machine, a boot can hang
// before the guest prints anything) is booted once more: nothing of the
// test ran in it.
func runHarness(t *testing.T, timeout time.Duration, run string, args []string, sinks ...io.Writer) (string, int, error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		cmd := exec.CommandContext(ctx, run, args...)
		var output bytes.Buffer
		cmd.Stdout = io.MultiWriter(append([]io.Writer{&output}, sinks...)...)
		cmd.Stderr = cmd.Stdout
		err := cmd.Run()
		cancel()
		text := output.String()
		if initRE.MatchString(text) || attempt == 2 {
			return text, cmd.ProcessState.ExitCode(), err
		}
		t.Logf("the VM never reached its init (harness exit %d): booting it again; output:\n%s",
			cmd.ProcessState.ExitCode(), tail(text, 20))
	}
}

// kernelRun boots the VM and runs one phase of the workload in the mount
// of addr. It fails the test, with the guest's output, unless the phase
// ran to the end with no failed check and the umount worked.
func kernelRun(t *testing.T, d *daemon, run, addr, vers, in, out string, w workload, phase, dirs string) {
	t.Helper()
	guestRun(t, d, run, addr, guest{vers: vers, in: in, out: out, script: "kernel-workload.sh", phase: phase,
		name: vers + " " + phase, opts: []string{"--with-fio",
			"--env", "E2E_PHASE=" + phase, "--env", "E2E_DIR=" + dirs,
			"--env", "E2E_NENTRIES=" + strconv.Itoa(w.nentries), "--env", "E2E_BIG_MIB=" + strconv.Itoa(w.bigMiB),
			"--env", "E2E_FIO_SIZE=" + w.fioSize, "--env", "E2E_FSX_OPS=" + strconv.Itoa(w.fsxOps)}})
}

// guestInputs fills in, the guests' --in directory, with guesttool (built
// at tool) and testdata/checks.sh, which the scripts source. VMs that share
// in are started only after it is filled.
func guestInputs(t *testing.T, in, tool string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(in, 0o755))
	copyFile(t, tool, filepath.Join(in, "guesttool"), 0o755)
	copyFile(t, filepath.Join("testdata", "checks.sh"), filepath.Join(in, "checks.sh"), 0o644)
}

// guest is one VM's run of a script of testdata that reports with
// checks.sh (see guestInputs).
type guest struct {
	vers    string   // NFS version of the mount
	in, out string   // the harness's --in and --out
	script  string   // in testdata
	phase   string   // the script's E2E-DONE phase
	name    string   // tells its output apart: run-<name>.log in out, the prefix of -v lines
	opts    []string // more harness options
}

// guestRun boots the VM and runs g in the mount of addr. It fails the
// test, with the guest's output, unless the script ran to its E2E-DONE
// line with no failed check and the umount worked.
func guestRun(t *testing.T, d *daemon, run, addr string, g guest) {
	t.Helper()
	require.NoError(t, os.MkdirAll(g.out, 0o755))
	timeout := 1200
	if s := os.Getenv("SHELF_E2E_TIMEOUT"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "SHELF_E2E_TIMEOUT")
		timeout = n
	}
	scriptPath, err := filepath.Abs(filepath.Join("testdata", g.script))
	require.NoError(t, err)
	args := append([]string{"--server", addr, "--vers", g.vers, "--in", g.in, "--out", g.out,
		"--timeout", strconv.Itoa(timeout)}, g.opts...)
	args = append(args, scriptPath)
	logf, err := os.Create(filepath.Join(g.out, "run-"+strings.ReplaceAll(g.name, " ", "-")+".log"))
	require.NoError(t, err)
	defer logf.Close()
	sinks := []io.Writer{logf}
	if testing.Verbose() {
		sinks = append(sinks, &linePrefixer{w: os.Stdout, prefix: "    [" + g.name + "] "})
	}
	start := time.Now()
	text, code, runErr := runHarness(t, time.Duration(timeout+120)*time.Second, run, args, sinks...)
	t.Logf("%s %s: exited %d after %s", run, g.name, code, time.Since(start).Round(time.Second))

	var checks, failed []string
	done := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "E2E-OK "):
			checks = append(checks, l)
		case strings.HasPrefix(l, "E2E-FAIL "):
			failed = append(failed, l)
		case strings.HasPrefix(l, "E2E-DONE "+g.phase+" "):
			done = true
		}
	}
	m := exitRE.FindAllStringSubmatch(text, -1)
	switch {
	case len(m) == 0:
		why := "the VM gave no result"
		if f := failRE.FindStringSubmatch(text); f != nil {
			why = fmt.Sprintf("guest setup failed at stage %q (rc %s)", f[1], f[2])
			if f[1] == "mount" {
				why += ": the kernel could not mount " + addr
			}
		}
		t.Fatalf("%s, harness exit %d (%v); output:\n%s\n%s", why, code, runErr, tail(text, 80), d.logTail(40))
	case m[len(m)-1][1] != "0" || m[len(m)-1][2] != "ok" || !done || len(failed) > 0 || code != 0:
		t.Fatalf("phase %s failed: guest rc=%s umount=%s, harness exit %d, completed=%v, %d checks passed, %d failed:\n%s\n--- output (last lines) ---\n%s\n%s",
			g.phase, m[len(m)-1][1], m[len(m)-1][2], code, done, len(checks), len(failed),
			strings.Join(failed, "\n"), tail(text, 60), d.logTail(40))
	}
	t.Logf("%s: %d checks passed", g.phase, len(checks))
}

// linePrefixer writes whole lines to w, each with prefix.
type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, bytes.TrimRight(p.buf[:i], "\r"))
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestRunHarnessBootsAgain checks runHarness against a stand-in harness
// whose first VM never reaches its init: the second boot's output is
// returned, and a guest that reached init is never booted twice.
func TestRunHarnessBootsAgain(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "run")
	count := filepath.Join(dir, "count")
	script := `#!/bin/sh
n=$(cat "` + count + `" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "` + count + `"
echo "booting $n"
if [ "$n" -ge "$1" ]; then echo "KNFS-STAGE 0a1b init"; echo "KNFS-EXIT 0a1b rc=0 umount=ok"; exit 0; fi
exit 124
`
	require.NoError(t, os.WriteFile(fake, []byte(script), 0o755))
	boots := func() string { b, _ := os.ReadFile(count); return strings.TrimSpace(string(b)) }

	text, code, err := runHarness(t, time.Minute, fake, []string{"2"})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Contains(t, text, "booting 2")
	require.Equal(t, "2", boots())

	require.NoError(t, os.Remove(count))
	_, _, _ = runHarness(t, time.Minute, fake, []string{"1"})
	require.Equal(t, "1", boots(), "a guest that reached init runs once")

	require.NoError(t, os.Remove(count))
	text, code, _ = runHarness(t, time.Minute, fake, []string{"9"})
	require.Equal(t, 124, code, "the second hang is reported")
	require.NotContains(t, text, "KNFS-STAGE")
	require.Equal(t, "2", boots(), "at most two boots")
}
