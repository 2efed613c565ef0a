package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shelf-efs/shelf/internal/mounthelper"
)

func init() {
	register(command{
		name:    "mount",
		summary: "mount a file system with TLS and IAM, like efs-utils (shelf mount fs-…[:/path] /mnt -o tls,iam)",
		run:     runMount,
	})
	register(command{
		name:    "umount",
		summary: "unmount a file system mounted by shelf mount and stop its TLS tunnel",
		run:     runUmount,
	})
}

// defaultStateDir holds the tunnels' process IDs and logs.
const defaultStateDir = "/run/shelf-mount"

// How the background tunnel process watches its mount.
const (
	watchPoll         = time.Second
	watchAppearWithin = 5 * time.Minute
)

const mountUsage = `Usage: shelf mount [flags] fs-ID[:/path] MOUNTPOINT [-o OPTIONS]
       shelf mount --tunnel-only [--listen ADDR] fs-ID[:/path] -o tls[,OPTIONS]

Options (-o, comma-separated): tls, iam, accesspoint=fsap-…, mounttargetip=IP,
region=R, tlsport=N, cafile=PATH, awsprofile=NAME, dnssuffix=DOMAIN,
certrenewal=MINUTES; anything else is passed to mount -t nfs4.

Flags:
  --tunnel-only     run only the TLS tunnel, in the foreground; print its port
  --listen ADDR     address the tunnel listens on (default 127.0.0.1)
  --state-dir DIR   where tunnel logs and process IDs go (default /run/shelf-mount)
`

// mountArgs are the parsed arguments of shelf mount.
type mountArgs struct {
	device, mountPoint, options string
	tunnelOnly                  bool
	listen                      string
	stateDir                    string
	// watchMount and readyFD are set for the background tunnel process
	// that shelf mount starts.
	watchMount string
	readyFD    int
}

// parseMountArgs reads mount(8)-style arguments: flags and -o may come
// before or after the positional arguments.
func parseMountArgs(args []string) (mountArgs, error) {
	a := mountArgs{stateDir: defaultStateDir, listen: "127.0.0.1"}
	var pos, opts []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		next := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case arg == "-o":
			if i+1 >= len(args) {
				return a, errors.New("-o needs options")
			}
			i++
			opts = append(opts, args[i])
		case strings.HasPrefix(arg, "-o") && !strings.HasPrefix(arg, "--"):
			opts = append(opts, arg[2:])
		case name == "--tunnel-only":
			a.tunnelOnly = true
		case name == "--listen":
			a.listen, err = next()
		case name == "--state-dir":
			a.stateDir, err = next()
		case name == "--watch-mount":
			a.watchMount, err = next()
		case name == "--ready-fd":
			var v string
			if v, err = next(); err == nil {
				a.readyFD, err = strconv.Atoi(v)
			}
		case strings.HasPrefix(arg, "-"):
			return a, fmt.Errorf("unknown flag %s", arg)
		default:
			pos = append(pos, arg)
		}
		if err != nil {
			return a, err
		}
	}
	a.options = strings.Join(opts, ",")
	switch {
	case len(pos) == 0:
		return a, errors.New("no file system given")
	case len(pos) > 2:
		return a, fmt.Errorf("unexpected arguments: %v", pos[2:])
	}
	a.device = pos[0]
	if len(pos) == 2 {
		a.mountPoint = pos[1]
	}
	if !a.tunnelOnly && a.mountPoint == "" {
		return a, errors.New("no mount point given")
	}
	return a, nil
}

func runMount(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, arg := range args {
		if arg == "-h" || arg == "--help" {
			fmt.Fprint(stdout, mountUsage)
			return exitOK
		}
	}
	a, err := parseMountArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "shelf mount: %v\n%s", err, mountUsage)
		return exitUsage
	}
	o, err := mounthelper.ParseOptions(a.device, a.mountPoint, a.options)
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitUsage
	}
	if a.tunnelOnly {
		return runTunnel(ctx, a, o, stdout, stderr)
	}
	env := mounthelper.Env{Version: version}
	if !o.TLS {
		if _, err := mounthelper.Resolve(ctx, &o, env); err != nil {
			fmt.Fprintln(stderr, "shelf mount:", err)
			return exitFailed
		}
		return runMountCommand(ctx, o.MountArgs(o.MountTargetIP, 0), stderr)
	}
	// Resolve here, so that errors show before anything starts and the
	// tunnel process gets the same region and address.
	if _, err := mounthelper.Resolve(ctx, &o, env); err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	mountPoint, err := filepath.Abs(a.mountPoint)
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	o.MountPoint = mountPoint
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		fmt.Fprintln(stderr, "shelf mount: state directory:", err)
		return exitFailed
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	childOpts := a.options + ",region=" + o.Region + ",mounttargetip=" + o.MountTargetIP
	logPath := filepath.Join(a.stateDir, o.FileSystemID+"."+strings.ReplaceAll(strings.Trim(mountPoint, "/"), "/", ".")+".log")
	proc, port, err := mounthelper.SpawnTunnel(ctx, exe, []string{
		"mount", "--tunnel-only", "--watch-mount", mountPoint, "--ready-fd", "3", "--state-dir", a.stateDir,
		a.device, "-o", childOpts,
	}, logPath)
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	if code := runMountCommand(ctx, o.MountArgs("", port), stderr); code != exitOK {
		proc.Kill()
		return code
	}
	proc.Release()
	return exitOK
}

// runMountCommand runs mount(8) with args.
func runMountCommand(ctx context.Context, args []string, stderr io.Writer) int {
	cmd := exec.CommandContext(ctx, "mount", args...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "shelf mount: mount %s: %v\n", strings.Join(args, " "), err)
		return exitFailed
	}
	return exitOK
}

// runTunnel runs the tunnel in the foreground until ctx ends or, for the
// background process of a mount, until the mount goes away.
func runTunnel(ctx context.Context, a mountArgs, o mounthelper.Options, stdout, stderr io.Writer) int {
	if !o.TLS {
		fmt.Fprintln(stderr, "shelf mount: --tunnel-only needs -o tls")
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	tun, err := mounthelper.StartTunnel(ctx, o, mounthelper.Env{Version: version, ListenHost: a.listen, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchDone := make(chan error, 1)
	if a.watchMount != "" {
		state := mounthelper.StateFile(a.stateDir, o.FileSystemID, a.watchMount, tun.Port())
		if err := os.WriteFile(state, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
			log.Warn("cannot write the state file", "err", err)
		}
		defer os.Remove(state)
		go func() {
			err := mounthelper.Watch(ctx, mounthelper.WatchConfig{
				MountPoint: a.watchMount, Poll: watchPoll, AppearWithin: watchAppearWithin,
			})
			watchDone <- err
			cancel()
		}()
	} else {
		close(watchDone)
	}
	if a.readyFD > 0 {
		if err := mounthelper.ReportReady(uintptr(a.readyFD), tun.Port()); err != nil {
			fmt.Fprintln(stderr, "shelf mount: report ready:", err)
			return exitFailed
		}
	} else {
		fmt.Fprintln(stdout, tun.Port())
	}
	log.Info("tunnel listening", "addr", tun.Addr().String(), "fs_id", o.FileSystemID, "target", o.MountTargetIP)
	err = tun.Serve(ctx)
	cancel()
	if werr := <-watchDone; werr != nil && !errors.Is(werr, context.Canceled) {
		log.Warn("mount watch ended", "err", werr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "shelf mount:", err)
		return exitFailed
	}
	log.Info("tunnel stopped")
	return exitOK
}

// runUmount unmounts and waits for the mount's tunnel process to stop.
func runUmount(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stateDir := defaultStateDir
	var pos []string
	for i := 0; i < len(args); i++ {
		switch name, value, ok := strings.Cut(args[i], "="); {
		case name == "--state-dir" && ok:
			stateDir = value
		case name == "--state-dir" && i+1 < len(args):
			i++
			stateDir = args[i]
		case strings.HasPrefix(args[i], "-"):
			pos = append(pos, args[i]) // umount(8) flags such as -l pass through
		default:
			pos = append(pos, args[i])
		}
	}
	var mountPoint string
	for _, p := range pos {
		if !strings.HasPrefix(p, "-") {
			mountPoint = p
		}
	}
	if mountPoint == "" {
		fmt.Fprintln(stderr, "Usage: shelf umount [--state-dir DIR] [umount flags] MOUNTPOINT")
		return exitUsage
	}
	abs, err := filepath.Abs(mountPoint)
	if err != nil {
		fmt.Fprintln(stderr, "shelf umount:", err)
		return exitFailed
	}
	cmd := exec.CommandContext(ctx, "umount", pos...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "shelf umount: umount %s: %v\n", strings.Join(pos, " "), err)
		return exitFailed
	}
	pids, err := mounthelper.TunnelPIDs(stateDir, abs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "shelf umount: state directory:", err)
	}
	// The tunnel sees the mount gone at its next poll; give it a few polls,
	// then stop it.
	deadline := time.Now().Add(5 * watchPoll)
	for file, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) && isTunnel(pid) {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		os.Remove(file)
	}
	return exitOK
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// isTunnel checks that pid is still a tunnel process of shelf mount (and
// not an unrelated process that reused the ID).
func isTunnel(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), "--watch-mount")
}
