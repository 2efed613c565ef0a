package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{name: "version", args: []string{"version"}, code: exitOK, stdout: "shelf dev\n"},
		{name: "--version", args: []string{"--version"}, code: exitOK, stdout: "shelf dev\n"},
		{name: "version with argument", args: []string{"version", "x"}, code: exitUsage, stderrPart: "no arguments"},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: "Usage: shelf <command> [arguments]\n\nCommands:\n  help       list the commands\n  version    print the version\n"},
		{name: "help for a command", args: []string{"help", "version"}, code: exitOK, stdout: "shelf version: print the version\n"},
		{name: "no command", args: nil, code: exitUsage, stderrPart: "Usage: shelf"},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderrPart: `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "help" {
				// Other files may register more commands; compare the
				// built-in ones only when they are alone.
				if len(commands) != 2 {
					t.Skip("more commands registered")
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			require.Equal(t, tt.code, code, stderr.String())
			if tt.stdout != "" {
				require.Equal(t, tt.stdout, stdout.String())
			}
			require.Contains(t, stderr.String(), tt.stderrPart)
		})
	}
}

func TestRegister(t *testing.T) {
	defer delete(commands, "test-cmd")
	var got []string
	register(command{name: "test-cmd", summary: "a test", run: func(_ context.Context, args []string, _, _ io.Writer) int {
		got = args
		return 7
	}})
	require.Equal(t, 7, run(context.Background(), []string{"test-cmd", "-x", "y"}, io.Discard, io.Discard))
	require.Equal(t, []string{"-x", "y"}, got)
	require.Panics(t, func() { register(command{name: "test-cmd", run: commands["test-cmd"].run}) })
	require.Panics(t, func() { register(command{name: "nameless"}) })
}
