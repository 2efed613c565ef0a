package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/kmsapi"
	"github.com/shelf-efs/shelf/internal/server"
)

func init() {
	register(command{
		name:    "rotate-root-key",
		summary: "replace the root key that seals every KMS key, without downtime",
		run:     runRotateRootKey,
	})
}

// runRotateRootKey asks the running shelfd (through its API, signed with
// the account root's access key from <data-dir>/root-credentials) to rotate
// its root key; with --offline it opens the stopped data directory itself.
// Either way the new key is made and written by the process that owns the
// store, and the old key file is replaced atomically.
func runRotateRootKey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf rotate-root-key", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configFile := fl.String("config", "", "shelfd configuration file (YAML)")
	dataDir := fl.String("data-dir", "", "data directory (default: from the configuration, else ./shelf-data)")
	endpoint := fl.String("endpoint-url", "", "shelfd API URL (default: from api.listen)")
	offline := fl.Bool("offline", false, "rotate in a stopped shelfd's data directory instead")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintln(stderr, "shelf rotate-root-key: unexpected arguments:", fl.Args())
		return exitUsage
	}
	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.Load(*configFile); err != nil {
			fmt.Fprintln(stderr, "shelf rotate-root-key:", err)
			return exitUsage
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *offline {
		srv, err := server.OpenOffline(ctx, cfg, nil)
		if err != nil {
			fmt.Fprintln(stderr, "shelf rotate-root-key:", err)
			return exitFailed
		}
		err = srv.RotateRootKey(ctx)
		if cerr := srv.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintln(stderr, "shelf rotate-root-key:", err)
			return exitFailed
		}
		fmt.Fprintln(stdout, "root key rotated:", rootKeyLocation(cfg))
		return exitOK
	}
	url := *endpoint
	if url == "" {
		scheme := "http"
		if cfg.API.TLS.SelfSigned || cfg.API.TLS.CertFile != "" {
			scheme = "https"
		}
		url = scheme + "://" + cfg.API.Listen
	}
	if err := rotateOnline(ctx, cfg, url); err != nil {
		fmt.Fprintln(stderr, "shelf rotate-root-key:", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "root key rotated:", rootKeyLocation(cfg))
	return exitOK
}

// rootKeyLocation is the file that holds the root key, or its ciphertext
// blob when an external KMS holds it.
func rootKeyLocation(cfg config.Config) string {
	if cfg.RootKey.KMS.Enabled() {
		return cfg.RootKeyKMSBlobPath()
	}
	return cfg.RootKeyPath()
}

func rotateOnline(ctx context.Context, cfg config.Config, url string) error {
	keyID, secret, err := readRootCredentials(filepath.Join(cfg.DataDir, server.RootCredentialsFileName))
	if err != nil {
		return err
	}
	body := []byte("{}")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", kmsapi.AdminRotateRootKeyTarget)
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "kms", cfg.Region, time.Now())
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	if cfg.API.TLS.SelfSigned {
		pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "api-cert.pem"))
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach shelfd at %s (use --offline when it is stopped): %w", url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("shelfd answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// readRootCredentials reads the access key from shelfd's root-credentials
// file (the AWS shared-credentials format).
func readRootCredentials(path string) (keyID, secret string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("root credentials: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(k), "#") {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			keyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if keyID == "" || secret == "" {
		return "", "", fmt.Errorf("root credentials: %s holds no access key", path)
	}
	return keyID, secret, nil
}
