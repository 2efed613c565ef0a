// Command shelfd is the shelf daemon: one process that serves the shared
// file systems (NFSv4), the EFS control-plane API and its health endpoint
// from one data directory.
//
// Usage:
//
//	shelfd [--config FILE] [--data-dir DIR] [--log-level LEVEL]
//
// Without --config it runs on the embedded defaults (data in ./shelf-data);
// see README.md, "Configuration". SHELF_ROOT_KEY_FILE names the root key
// file. SIGTERM or SIGINT shut it down gracefully; a second one ends it at
// once.
//
// Exit status: 0 after a clean shutdown, 2 for a usage or configuration
// error, 1 for any other failure (a missing or wrong root key, a store that
// cannot be opened, an address in use). Errors are printed as one line on
// standard error.
//
// main is the only place that reads flags and the environment and that sets
// the default slog logger.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

// version is set at build time (make build: -ldflags "-X main.version=…").
var version = "dev"

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	// After the first signal, restore the default handling: a second
	// SIGTERM or SIGINT ends a shutdown that takes too long.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// run is shelfd without the process: it returns the exit code. Logs, usage
// and error messages go to stderr; only --version writes to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	cfg, err := loadConfig(args, stdout, stderr, lookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "shelfd:", oneLine(err))
		return exitUsage
	}

	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	if cfg.RootKey.KMS.KeyID != "" {
		log.Info("shelfd starting", "version", version, "data_dir", cfg.DataDir, "root_key_kms", cfg.RootKey.KMS.KeyID)
	} else {
		log.Info("shelfd starting", "version", version, "data_dir", cfg.DataDir, "root_key_file", cfg.RootKeyPath())
	}

	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "shelfd:", oneLine(err))
		return exitFailed
	}
	log.Info("shelfd ready", "data_dir", srv.DataDir(), "api_url", srv.APIURL(),
		"root_credentials", srv.RootCredentialsPath(), "nfs_port", cfg.NFS.Port)

	runErr := srv.Run(ctx)
	closeErr := srv.Close()
	if err := errors.Join(runErr, closeErr); err != nil {
		fmt.Fprintln(stderr, "shelfd:", oneLine(err))
		return exitFailed
	}
	log.Info("shelfd stopped")
	return exitOK
}

// loadConfig builds the configuration: defaults, then the --config file,
// then the environment, then the other flags; and validates it.
func loadConfig(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) (config.Config, error) {
	flags := flag.NewFlagSet("shelfd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configFile := flags.String("config", "", "YAML configuration `file` (default: embedded defaults)")
	dataDir := flags.String("data-dir", "", "data `directory`, overrides data_dir (default "+config.DefaultDataDir+")")
	logLevel := flags.String("log-level", "", "log `level`: debug, info, warn or error; overrides log.level")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shelfd [flags]\n\nshelfd serves shelf file systems from one data directory.\n\nFlags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return config.Config{}, err
	}
	if flags.NArg() > 0 {
		return config.Config{}, fmt.Errorf("unexpected argument %q (see shelfd --help)", flags.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, "shelfd", version)
		return config.Config{}, flag.ErrHelp
	}

	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.Load(*configFile); err != nil {
			return config.Config{}, err
		}
	}
	cfg.ApplyEnv(lookupEnv)
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo // Validate has accepted the level already
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// oneLine joins the lines of a multi-line error (errors.Join) with "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
