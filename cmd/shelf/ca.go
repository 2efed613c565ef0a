package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
)

func init() {
	register(command{
		name:    "ca",
		summary: "print the certificate of the CA that signs shelfd's NFS TLS certificates (PEM)",
		run:     runCA,
	})
}

// runCA prints <data-dir>/ca.pem, which shelfd writes at every start: the
// CA that clients of `-o tls` trust (`shelf mount -o tls,cafile=…`,
// efs-utils' CAfile). Exit status: 0 printed, 1 no usable CA, 2 usage.
func runCA(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf ca", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configFile := fl.String("config", "", "shelfd configuration file (YAML)")
	dataDir := fl.String("data-dir", "", "data directory (default: from the configuration, else ./shelf-data)")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintln(stderr, "shelf ca: unexpected arguments:", fl.Args())
		return exitUsage
	}
	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.Load(*configFile); err != nil {
			fmt.Fprintln(stderr, "shelf ca:", err)
			return exitUsage
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	path := filepath.Join(cfg.DataDir, server.CAFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "shelf ca: %v (shelfd writes it when it starts with NFS TLS enabled)\n", err)
		return exitFailed
	}
	// Print only a well-formed certificate: the file is the trust anchor
	// of every TLS mount.
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		fmt.Fprintf(stderr, "shelf ca: %s is not one PEM certificate\n", path)
		return exitFailed
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !cert.IsCA {
		fmt.Fprintf(stderr, "shelf ca: %s does not hold a CA certificate\n", path)
		return exitFailed
	}
	if _, err := stdout.Write(pem.EncodeToMemory(block)); err != nil {
		return exitFailed
	}
	return exitOK
}
