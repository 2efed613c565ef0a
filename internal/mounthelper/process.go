package mounthelper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcMounts is the kernel's table of mounts.
const ProcMounts = "/proc/mounts"

// readyTimeout bounds how long SpawnTunnel waits for the tunnel process to
// report its port (it generates an RSA-3072 key and reads credentials).
const readyTimeout = 2 * time.Minute

// SpawnTunnel starts the tunnel process exe args in a session of its own
// (it outlives the caller), with stdout and stderr appended to logPath and
// a pipe as file descriptor 3 on which it must write its local port and a
// newline once it listens (see ReportReady). It returns the process and
// the port; if the process exits or stays silent, it is killed and the
// error says where its log is.
func SpawnTunnel(ctx context.Context, exe string, args []string, logPath string) (*os.Process, int, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("mounthelper: tunnel log: %w", err)
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("mounthelper: start tunnel: %w", err)
	}
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- result{line, err}
	}()
	fail := func(why string) (*os.Process, int, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, 0, fmt.Errorf("mounthelper: the tunnel %s (see %s)", why, logPath)
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case res := <-got:
		if res.err != nil {
			return fail("exited before it was ready")
		}
		port, err := strconv.Atoi(strings.TrimSpace(res.line))
		if err != nil || port < 1 || port > 65535 {
			return fail("reported no port")
		}
		// The process runs on in its own session; it is reparented when
		// this process exits.
		return cmd.Process, port, nil
	case <-timer.C:
		r.Close()
		return fail("was not ready in time")
	case <-ctx.Done():
		r.Close()
		return fail("start was cancelled")
	}
}

// ReportReady writes the port to the readiness pipe fd (as SpawnTunnel
// expects) and closes it.
func ReportReady(fd uintptr, port int) error {
	f := os.NewFile(fd, "ready")
	if f == nil {
		return fmt.Errorf("mounthelper: no file descriptor %d", fd)
	}
	defer f.Close()
	_, err := fmt.Fprintf(f, "%d\n", port)
	return err
}

// Mounted reports whether the mounts table (the content of /proc/mounts)
// has an NFS mount on mountPoint.
func Mounted(table []byte, mountPoint string) bool {
	mountPoint = filepath.Clean(mountPoint)
	for _, line := range bytes.Split(table, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 3 {
			continue
		}
		if unescapeMountField(f[1]) == mountPoint && strings.HasPrefix(f[2], "nfs") {
			return true
		}
	}
	return false
}

// unescapeMountField undoes the octal escapes of /proc/mounts (\040 for a
// space, \011 tab, \012 newline, \134 backslash).
func unescapeMountField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// WatchConfig says how Watch polls.
type WatchConfig struct {
	// MountsPath is the mounts table; "" means ProcMounts.
	MountsPath string
	MountPoint string
	// Poll is the polling period.
	Poll time.Duration
	// AppearWithin bounds the wait for the mount to appear (mount(8) runs
	// after the tunnel is ready).
	AppearWithin time.Duration
	// Appeared, if set, is called once when the mount is first seen.
	Appeared func()
}

// ErrNeverMounted is returned by Watch when the mount did not appear in
// time.
var ErrNeverMounted = errors.New("mounthelper: the mount did not appear")

// Watch returns nil once the mount on cfg.MountPoint, having appeared, has
// gone (unmounted by shelf umount or plain umount), ErrNeverMounted if it
// never appears, or ctx's error.
func Watch(ctx context.Context, cfg WatchConfig) error {
	path := cfg.MountsPath
	if path == "" {
		path = ProcMounts
	}
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	deadline := time.Now().Add(cfg.AppearWithin)
	seen := false
	for {
		table, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("mounthelper: read %s: %w", path, err)
		}
		m := Mounted(table, cfg.MountPoint)
		switch {
		case m:
			if !seen && cfg.Appeared != nil {
				cfg.Appeared()
			}
			seen = true
		case seen:
			return nil
		case time.Now().After(deadline):
			return ErrNeverMounted
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// StateFile is where a mount's tunnel process records its process ID:
// <dir>/<fs-id>.<mount point with / as .>.<port>, as efs-utils names its
// state files.
func StateFile(dir, fsID, mountPoint string, port int) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(mountPoint), "/"), "/", ".")
	return filepath.Join(dir, fmt.Sprintf("%s.%s.%d", fsID, name, port))
}

// TunnelPIDs returns the process IDs recorded in dir for mountPoint.
func TunnelPIDs(dir, mountPoint string) (map[string]int, error) {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(mountPoint), "/"), "/", ".")
	pattern := regexp.MustCompile(`^fs-[0-9a-f]+\.` + regexp.QuoteMeta(name) + `\.[0-9]+$`)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, e := range entries {
		if !pattern.MatchString(e.Name()) {
			continue
		}
		m := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			out[m] = pid
		}
	}
	return out, nil
}
