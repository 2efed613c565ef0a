// Command guesttool is the helper that test/e2e's kernel NFS workload runs
// inside the test VM, for what busybox cannot do: run a command under
// another uid and gids, and exercise POSIX byte-range locks (fcntl) between
// processes. It is built static (CGO_ENABLED=0) and handed to the VM.
//
//	guesttool runas UID GID[,GID...] CMD [ARG...]
//	guesttool locktest FILE
//	guesttool lockchild FILE set|wait|get r|w|u START LEN
//	guesttool lockhold FILE READY WAIT TYPE:START:LEN...
//	guesttool rename OLD NEW      (rename(2), unlike busybox mv)
//	guesttool fsx FILE OPS SEED MAXSIZE
//
// locktest prints one line per check ("ok …" or "FAIL …") and exits 1 if
// any check failed. lockchild makes one fcntl call (exit 0: done, 1: a
// conflicting lock, 2: error). lockhold takes the byte-range locks (r or w)
// with F_SETLKW, creates READY, and holds them until WAIT exists (at most
// 10 minutes): with READY and WAIT on a share of the host, two VMs run a
// lock scenario between two NFS clients. fsx (fsx.go) checks random I/O against a model of the
// file and exits 1 at the first mismatch.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "runas":
		runas(os.Args[2:])
	case "locktest":
		if len(os.Args) != 3 {
			usage()
		}
		os.Exit(locktest(os.Args[2]))
	case "rename":
		if len(os.Args) != 4 {
			usage()
		}
		// Not os.Rename, which refuses any existing directory as NEW.
		if err := syscall.Rename(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "guesttool:", err)
			os.Exit(1)
		}
	case "fsx":
		os.Exit(fsx(os.Args[2:]))
	case "lockchild":
		os.Exit(lockchild(os.Args[2:]))
	case "lockhold":
		if len(os.Args) < 6 {
			usage()
		}
		os.Exit(lockhold(os.Args[2], os.Args[3], os.Args[4], os.Args[5:]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: guesttool runas UID GID[,GID...] CMD [ARG...] | locktest FILE | lockchild FILE OP TYPE START LEN | lockhold FILE READY WAIT TYPE:START:LEN... | rename OLD NEW | fsx FILE OPS SEED MAXSIZE")
	os.Exit(2)
}

// runas replaces the process with CMD running as UID, with the first GID
// as its group and all of them as supplementary groups.
func runas(args []string) {
	if len(args) < 3 {
		usage()
	}
	uid, err := strconv.Atoi(args[0])
	if err != nil {
		usage()
	}
	var gids []int
	for _, g := range strings.Split(args[1], ",") {
		n, err := strconv.Atoi(g)
		if err != nil {
			usage()
		}
		gids = append(gids, n)
	}
	path, err := exec.LookPath(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "guesttool:", err)
		os.Exit(127)
	}
	// Go applies these to every thread of the process (Go ≥ 1.16).
	if err := syscall.Setgroups(gids); err != nil {
		fatal(err)
	}
	if err := syscall.Setgid(gids[0]); err != nil {
		fatal(err)
	}
	if err := syscall.Setuid(uid); err != nil {
		fatal(err)
	}
	fatal(syscall.Exec(path, args[2:], os.Environ()))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "guesttool:", err)
	os.Exit(126)
}

// Exit statuses of lockchild.
const (
	childOK       = 0
	childConflict = 1
	childError    = 2
)

// lockchild FILE set|wait|get r|w|u START LEN: one fcntl call in a process
// of its own (POSIX locks belong to processes). get prints the conflicting
// lock as "TYPE START LEN" or "none".
func lockchild(args []string) int {
	if len(args) != 5 {
		return childError
	}
	f, err := os.OpenFile(args[0], os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return childError
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: lockType(args[2])}
	lk.Start, _ = strconv.ParseInt(args[3], 10, 64)
	lk.Len, _ = strconv.ParseInt(args[4], 10, 64)
	cmd := map[string]int{"set": syscall.F_SETLK, "wait": syscall.F_SETLKW, "get": syscall.F_GETLK}[args[1]]
	err = syscall.FcntlFlock(f.Fd(), cmd, &lk)
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES):
		return childConflict
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return childError
	}
	if args[1] == "get" {
		if lk.Type == syscall.F_UNLCK {
			fmt.Println("none")
		} else {
			fmt.Println(typeName(lk.Type), lk.Start, lk.Len)
		}
	}
	return childOK
}

// lockhold holds byte-range locks of path until the file wait exists.
func lockhold(path, ready, wait string, ranges []string) int {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guesttool:", err)
		return childError
	}
	defer f.Close()
	for _, r := range ranges {
		parts := strings.Split(r, ":")
		if len(parts) != 3 {
			usage()
		}
		lk := syscall.Flock_t{Type: lockType(parts[0])}
		lk.Start, _ = strconv.ParseInt(parts[1], 10, 64)
		lk.Len, _ = strconv.ParseInt(parts[2], 10, 64)
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
			fmt.Fprintln(os.Stderr, "guesttool: lock", r+":", err)
			return childError
		}
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "guesttool:", err)
		return childError
	}
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(wait); err == nil {
			return childOK
		}
	}
	fmt.Fprintln(os.Stderr, "guesttool: lockhold: no", wait, "after 10 minutes")
	return childError
}

func lockType(s string) int16 {
	switch s {
	case "r":
		return syscall.F_RDLCK
	case "w":
		return syscall.F_WRLCK
	default:
		return syscall.F_UNLCK
	}
}

func typeName(t int16) string {
	switch t {
	case syscall.F_RDLCK:
		return "r"
	case syscall.F_WRLCK:
		return "w"
	default:
		return "u"
	}
}

// locktest runs a byte-range lock scenario: this process holds locks, and
// child processes contend for them.
func locktest(path string) int {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Println("FAIL open:", err)
		return 1
	}
	defer f.Close()
	failed := false
	check := func(name string, ok bool, detail string) {
		if ok {
			fmt.Println("ok", name)
		} else {
			fmt.Println("FAIL", name+":", detail)
			failed = true
		}
	}
	// mine sets or clears one of this process's locks.
	mine := func(typ string, start, n int64) error {
		return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: lockType(typ), Start: start, Len: n})
	}
	// other runs lockchild and returns its status and output.
	self, err := os.Executable()
	if err != nil {
		fmt.Println("FAIL executable:", err)
		return 1
	}
	other := func(op, typ string, start, n int64) (int, string) {
		cmd := exec.Command(self, "lockchild", path, op, typ, strconv.FormatInt(start, 10), strconv.FormatInt(n, 10))
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), strings.TrimSpace(string(out) + string(ee.Stderr))
		} else if err != nil {
			return childError, err.Error()
		}
		return childOK, strings.TrimSpace(string(out))
	}
	expect := func(name string, want int, op, typ string, start, n int64) {
		got, out := other(op, typ, start, n)
		check(name, got == want, fmt.Sprintf("child %s %s [%d,+%d) exited %d, want %d (%s)", op, typ, start, n, got, want, out))
	}

	check("write lock [0,100)", mine("w", 0, 100) == nil, "setlk failed")
	expect("conflicting write lock refused", childConflict, "set", "w", 50, 10)
	expect("conflicting read lock refused", childConflict, "set", "r", 99, 1)
	expect("adjacent lock granted", childOK, "set", "w", 100, 100)
	_, out := other("get", "w", 0, 10)
	check("getlk reports the holder's range", out == "w 0 100", "got "+strconv.Quote(out))
	_, out = other("get", "w", 100, 10)
	check("getlk on a free range", out == "none", "got "+strconv.Quote(out))

	// Unlocking the middle splits the lock in two.
	check("unlock [20,30)", mine("u", 20, 10) == nil, "setlk failed")
	expect("split: the hole is free", childOK, "set", "w", 20, 10)
	expect("split: the left part is held", childConflict, "set", "w", 19, 1)
	expect("split: the right part is held", childConflict, "set", "w", 30, 1)

	// Downgrade to a read lock: readers share it, writers wait.
	check("downgrade [0,20) to read", mine("r", 0, 20) == nil, "setlk failed")
	expect("shared read lock granted", childOK, "set", "r", 0, 10)
	expect("write lock on a read-locked range refused", childConflict, "set", "w", 5, 1)
	check("upgrade [0,20) to write", mine("w", 0, 20) == nil, "setlk failed")
	expect("read lock on the upgraded range refused", childConflict, "set", "r", 5, 1)

	// Adjacent locks merge; unlocking the whole span frees it.
	check("lock [200,210)", mine("w", 200, 10) == nil, "setlk failed")
	check("lock [210,220)", mine("w", 210, 10) == nil, "setlk failed")
	expect("merged span held at 205", childConflict, "set", "w", 205, 1)
	expect("merged span held at 215", childConflict, "set", "w", 215, 1)
	check("unlock [200,220)", mine("u", 200, 20) == nil, "setlk failed")
	expect("merged span freed", childOK, "set", "w", 200, 20)

	// A blocked waiter gets the lock when the holder releases it.
	cmd := exec.Command(self, "lockchild", path, "wait", "w", "0", "10")
	if err := cmd.Start(); err != nil {
		check("start blocked waiter", false, err.Error())
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		check("waiter blocks while the lock is held", false, fmt.Sprintf("waiter returned at once: %v", err))
	case <-time.After(2 * time.Second):
		check("waiter blocks while the lock is held", true, "")
		check("release all", mine("u", 0, 0) == nil, "setlk failed")
		select {
		case err := <-done:
			check("waiter gets the lock after the release", err == nil, fmt.Sprint(err))
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			check("waiter gets the lock after the release", false, "still blocked after 60s")
		}
	}
	if failed {
		return 1
	}
	return 0
}
