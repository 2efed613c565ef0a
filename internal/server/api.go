package server

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/shelf-efs/shelf/internal/api"
	"github.com/shelf-efs/shelf/internal/atomicfile"
	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/ec2api"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/iam/users"
	"github.com/shelf-efs/shelf/internal/kmsapi"
	"github.com/shelf-efs/shelf/internal/trail"
	"github.com/shelf-efs/shelf/internal/trailapi"
)

// RootCredentialsFileName is the file in the data directory that holds an
// access key of the account root, in the AWS shared-credentials format.
const RootCredentialsFileName = "root-credentials"

// addAPIFrontEnd opens the control plane and the IAM users, makes sure the
// account root has an access key (written to <data-dir>/root-credentials),
// and adds the HTTP edge serving the EFS, IAM and EC2 APIs as a component.
func (s *Server) addAPIFrontEnd(ctx context.Context) error {
	log := s.log.With("component", "api")
	u, err := users.Open(ctx, s.meta, s.kms, s.account, clock.System)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.users = u
	ctl, err := control.New(ctx, s.meta, s.fs, s.kms,
		control.Config{Account: s.account, Region: s.cfg.Region, VPCs: vpcConfig(s.cfg.Network), Clients: clientConfig(s.cfg.Network)},
		control.Options{Clock: clock.System, Logger: s.log.With("component", "control")})
	if err != nil {
		return fmt.Errorf("server: open control plane: %w", err)
	}
	s.control = ctl

	keyID, secret, created, err := u.EnsureRootAccessKey(ctx)
	if err != nil {
		return fmt.Errorf("server: root access key: %w", err)
	}
	credPath := filepath.Join(s.dataDir, RootCredentialsFileName)
	wrote, err := writeRootCredentials(credPath, s.account, s.cfg.Region, keyID, secret)
	clear([]byte(secret))
	if err != nil {
		return err
	}

	authz := edge.NewAuthorizer(u, log)
	e, err := edge.New(edge.Deps{
		Credentials: u,
		Audit:       audit.NewLog(s.meta),
		Account:     s.account,
		Region:      s.cfg.Region,
		DataDir:     s.dataDir,
		Clock:       clock.System,
		Logger:      log,
	}, s.cfg.API)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.edge = e
	s.components = append(s.components, e)
	tr, err := trail.New(ctx, trail.Deps{Meta: s.meta, Audit: audit.NewLog(s.meta), Sealer: s.kms, Clock: clock.System, Logger: s.log.With("component", "trail")},
		trail.Config{Dir: s.cfg.TrailDir(), Account: s.account, Region: s.cfg.Region, DeliveryInterval: s.cfg.Trail.DeliveryInterval, DigestInterval: s.cfg.Trail.DigestInterval})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.trail = tr
	s.components = append(s.components, tr)
	kmsAPI := kmsapi.New(s.kms, u, log.With("service", "kms"), kmsapi.Config{Account: s.account, Region: s.cfg.Region})
	efsAPI := api.New(ctl, authz, log.With("service", "elasticfilesystem"))
	efsAPI.SetKeyUseChecker(kmsAPI)
	kmsAPI.SetRootKeyRotator(s.RotateRootKey)
	for _, svc := range []edge.Service{
		efsAPI,
		kmsAPI,
		trailapi.New(tr, audit.NewLog(s.meta), authz, log.With("service", "cloudtrail")),
		trailapi.NewReportSigner(tr, authz, log.With("service", "shelf")),
		users.NewService(u, authz, log.With("service", "iam")),
		ec2api.New(ctl, authz, log.With("service", "ec2"), ec2api.Config{Account: s.account, Region: s.cfg.Region}),
	} {
		if err := e.Register(svc); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	if err := s.addConfigService(ctl, authz, e, log); err != nil {
		return err
	}

	// How to use it; never the secret.
	hint := "AWS_SHARED_CREDENTIALS_FILE=" + credPath + " /usr/bin/aws efs describe-file-systems --endpoint-url " + e.URL() + " --region " + s.cfg.Region
	if s.cfg.API.TLS.SelfSigned {
		hint += " --ca-bundle " + filepath.Join(s.dataDir, "tls", "api-cert.pem")
	}
	log.Info("root access key ready", "access_key_id", keyID, "credentials_file", credPath,
		"new_key", created, "file_written", wrote, "services", strings.Join(e.Services(), ","), "usage", hint)
	return nil
}

// rootCredentials renders the shared-credentials file. Comments carry the
// region and usage: the AWS CLI reads the region only from its config
// file or the environment.
func rootCredentials(account, region, keyID, secret string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# shelfd: an access key of the root of account %s. Keep this file secret.\n", account)
	fmt.Fprintf(&b, "# Use it with AWS_SHARED_CREDENTIALS_FILE=<this file> and --region %s (or AWS_DEFAULT_REGION=%s),\n", region, region)
	fmt.Fprintf(&b, "# or put this in an AWS config file (AWS_CONFIG_FILE):\n#   [default]\n#   region = %s\n", region)
	fmt.Fprintf(&b, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", keyID, secret)
	return b.Bytes()
}

// writeRootCredentials writes the root credentials file (mode 0600) unless
// it already holds exactly this content. It reports whether it wrote.
func writeRootCredentials(path, account, region, keyID, secret string) (bool, error) {
	want := rootCredentials(account, region, keyID, secret)
	defer clear(want)
	if have, err := os.ReadFile(path); err == nil {
		same := bytes.Equal(have, want)
		clear(have)
		if st, err := os.Stat(path); same && err == nil && st.Mode().Perm() == 0o600 {
			return false, nil
		}
	}
	if err := atomicfile.Write(path, want, 0o600); err != nil {
		return false, fmt.Errorf("server: write root credentials: %w", err)
	}
	return true, nil
}

// clientConfig converts network.clients (validated by config).
func clientConfig(n config.Network) []control.ClientConfig {
	var out []control.ClientConfig
	for _, c := range n.Clients {
		out = append(out, control.ClientConfig{CIDR: netip.MustParsePrefix(c.CIDR), Groups: c.SecurityGroups, VPCID: c.VPCID})
	}
	return out
}

// vpcConfig turns the configured VPCs (validated by config.Validate) into
// the control plane's form.
func vpcConfig(n config.Network) []control.VPCConfig {
	var out []control.VPCConfig
	for _, v := range n.VPCs {
		vc := control.VPCConfig{ID: v.ID, CIDR: netip.MustParsePrefix(v.CIDR)}
		for _, sn := range v.Subnets {
			vc.Subnets = append(vc.Subnets, control.SubnetConfig{ID: sn.ID, CIDR: netip.MustParsePrefix(sn.CIDR), AvailabilityZone: sn.AvailabilityZone})
		}
		out = append(out, vc)
	}
	return out
}
