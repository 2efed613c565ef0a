package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/server"
)

func init() {
	register(command{
		name:    "fsck",
		summary: "check (and with --repair, fix leaks in) a stopped shelfd's data directory",
		run:     runFsck,
	})
}

// runFsck opens a data directory offline (shelfd must be stopped: the
// metadata store is locked while it runs), checks every invariant of
// metadata and data, and prints the problems. Exit status: 0 clean (or every
// problem repaired), 1 problems remain, 2 usage or open errors.
func runFsck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf fsck", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configFile := fl.String("config", "", "shelfd configuration file (YAML)")
	dataDir := fl.String("data-dir", "", "data directory (default: from the configuration, else ./shelf-data)")
	repair := fl.Bool("repair", false, "repair leaks: unreachable inodes, blocks and objects, stale records, counters")
	skipData := fl.Bool("skip-data", false, "do not read and authenticate every block")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintln(stderr, "shelf fsck: unexpected arguments:", fl.Args())
		return exitUsage
	}
	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.Load(*configFile); err != nil {
			fmt.Fprintln(stderr, "shelf fsck:", err)
			return exitUsage
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if _, err := os.Stat(cfg.DataDir); err != nil {
		fmt.Fprintln(stderr, "shelf fsck: data directory:", err)
		return exitUsage
	}
	srv, err := server.OpenOffline(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "shelf fsck:", err)
		return exitUsage
	}
	defer srv.Close()
	rep, err := srv.FS().Check(ctx, fs.CheckOptions{Repair: *repair, SkipData: *skipData})
	if err != nil {
		fmt.Fprintln(stderr, "shelf fsck:", err)
		return exitFailed
	}
	if *asJSON {
		out := struct {
			FileSystems, Inodes, Entries, Blocks, Objects int
			BlockBytes                                    uint64
			Problems                                      []string
			Repaired                                      int
		}{rep.FileSystems, rep.Inodes, rep.Entries, rep.Blocks, rep.Objects, rep.BlockBytes, nil, rep.Repaired}
		for _, p := range rep.Problems {
			out.Problems = append(out.Problems, p.String())
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stdout, "%d file systems, %d inodes, %d entries, %d blocks (%d bytes), %d objects: %d problems, %d repaired\n",
			rep.FileSystems, rep.Inodes, rep.Entries, rep.Blocks, rep.BlockBytes, rep.Objects, len(rep.Problems), rep.Repaired)
	}
	if rep.Unrepaired() > 0 {
		return exitFailed
	}
	return exitOK
}
