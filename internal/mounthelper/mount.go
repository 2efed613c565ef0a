package mounthelper

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/shelf-efs/shelf/internal/efscert"
)

// Env holds what a mount needs from its surroundings; the zero value uses
// the real ones.
type Env struct {
	// LoadAWSConfig loads the AWS configuration of a profile ("" for the
	// default chain); nil means config.LoadDefaultConfig: environment,
	// ~/.aws/config and credentials, SSO, IMDS and so on.
	LoadAWSConfig func(ctx context.Context, profile string) (aws.Config, error)
	// LookupHost resolves the file system's DNS name when no
	// mounttargetip is given; nil means net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Hostname is the certificate's CN; "" means os.Hostname.
	Hostname string
	// Key is the certificate key; nil means a new RSA-3072 key.
	Key crypto.Signer
	// Version is written to the certificate's client-info extension.
	Version string
	// ListenHost is where the tunnel listens; "" means 127.0.0.1.
	ListenHost string
	Logger     *slog.Logger
}

func loadAWSConfig(ctx context.Context, profile string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// Resolve completes o: the region (region=, else the AWS configuration's)
// and the mount target address (mounttargetip=, else the first IPv4
// address of <fs-id>.efs.<region>.<dnssuffix>). With iam it returns the
// credentials provider and checks that it yields credentials, so that a
// missing key is reported before anything starts.
func Resolve(ctx context.Context, o *Options, env Env) (aws.CredentialsProvider, error) {
	load := env.LoadAWSConfig
	if load == nil {
		load = loadAWSConfig
	}
	var creds aws.CredentialsProvider
	needRegion := o.Region == "" && (o.TLS || o.MountTargetIP == "")
	if o.IAM || needRegion {
		cfg, err := load(ctx, o.AWSProfile)
		if err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		if o.Region == "" {
			o.Region = cfg.Region
		}
		if o.IAM {
			if cfg.Credentials == nil {
				return nil, errors.New("iam: no AWS credentials found (environment, ~/.aws/credentials, awsprofile=…)")
			}
			if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
				return nil, fmt.Errorf("iam: AWS credentials: %w", err)
			}
			creds = cfg.Credentials
		}
	}
	if o.Region == "" && (o.TLS || o.MountTargetIP == "") {
		return nil, errors.New("no region: give -o region=… or set one in the AWS configuration")
	}
	if o.MountTargetIP == "" {
		lookup := env.LookupHost
		if lookup == nil {
			lookup = net.DefaultResolver.LookupHost
		}
		name := o.ServerName()
		addrs, err := lookup(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("resolve %s (or give -o mounttargetip=…): %w", name, err)
		}
		for _, a := range addrs {
			if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
				o.MountTargetIP = a
				break
			}
		}
		if o.MountTargetIP == "" && len(addrs) > 0 {
			o.MountTargetIP = addrs[0]
		}
		if o.MountTargetIP == "" {
			return nil, fmt.Errorf("resolve %s: no address", name)
		}
	}
	return creds, nil
}

// StartTunnel resolves o (see Resolve), makes the key and the first
// certificate and starts listening. Serve the returned tunnel to forward
// connections.
func StartTunnel(ctx context.Context, o Options, env Env) (*Tunnel, error) {
	if !o.TLS {
		return nil, errors.New("the tunnel needs -o tls")
	}
	creds, err := Resolve(ctx, &o, env)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cafile: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cafile %s: no PEM certificate in it", o.CAFile)
		}
	}
	host := env.Hostname
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			host = "localhost"
		}
	}
	key := env.Key
	if key == nil {
		if key, err = efscert.GenerateKey(nil); err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
	}
	certifier := &Certifier{
		Key:           key,
		Hostname:      host,
		FileSystemID:  o.FileSystemID,
		AccessPointID: o.AccessPointID,
		Region:        o.Region,
		Credentials:   creds,
		Version:       env.Version,
	}
	return NewTunnel(ctx, TunnelConfig{
		ListenHost:  env.ListenHost,
		Port:        o.TLSPort,
		Target:      net.JoinHostPort(o.MountTargetIP, strconv.Itoa(NFSPort)),
		ServerName:  o.ServerName(),
		RootCAs:     roots,
		Certificate: certifier.Certificate,
		RenewEvery:  o.RenewEvery,
		Logger:      env.Logger,
	})
}
