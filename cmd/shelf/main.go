// Command shelf is the client and admin tool of shelf.
//
// Usage:
//
//	shelf <command> [arguments]
//
// Commands are registered in this package, one file each: a file adds its
// command from an init function,
//
//	func init() {
//		register(command{
//			name:    "fsck",
//			summary: "check a data directory",
//			run:     runFsck,
//		})
//	}
//
// and shelf dispatches to it by name. "shelf help" lists them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time (make build: -ldflags "-X main.version=…").
var version = "dev"

// Exit codes shared by the commands.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// command is one subcommand.
type command struct {
	// name is the word after "shelf".
	name string
	// summary is one line for "shelf help".
	summary string
	// run executes the command with the arguments after its name and
	// returns the exit code. It writes results to stdout and diagnostics
	// to stderr; ctx is cancelled on SIGINT or SIGTERM.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands holds every registered command by name.
var commands = map[string]command{}

// register adds a command; call it from an init function. Registering a
// name twice is a programming error.
func register(c command) {
	if c.name == "" || c.run == nil {
		panic("shelf: command without name or run function")
	}
	if _, dup := commands[c.name]; dup {
		panic("shelf: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func init() {
	register(command{name: "version", summary: "print the version", run: runVersion})
	register(command{name: "help", summary: "list the commands", run: runHelp})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		args[0] = "version"
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "shelf: unknown command %q (see shelf help)\n", args[0])
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: shelf <command> [arguments]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "shelf: version takes no arguments")
		return exitUsage
	}
	fmt.Fprintln(stdout, "shelf", version)
	return exitOK
}

func runHelp(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if c, ok := commands[args[0]]; ok {
			fmt.Fprintf(stdout, "shelf %s: %s\n", c.name, c.summary)
			return exitOK
		}
		fmt.Fprintf(stderr, "shelf: unknown command %q\n", args[0])
		return exitUsage
	}
	usage(stdout)
	return exitOK
}
