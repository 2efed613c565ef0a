// Package config is the configuration of shelfd: plain structs, Default(),
// strict decoding of one YAML file and Validate(). It owns the file format
// and its documentation (README.md, "Configuration"), nothing else.
//
// Precedence, lowest first: Default(), the YAML file (Load), the environment
// (ApplyEnv: only variables that name secret files, SHELF_*_FILE), and the
// command-line overrides that cmd/shelfd applies. Validate runs last.
//
// The package reads no environment and no file on its own initiative: main
// calls Load and ApplyEnv and hands the typed sub-structs to constructors.
// config imports nothing of shelf, so that every package may import it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/shelf-efs/shelf/internal/awsid"
)

// Defaults. They are documented in README.md; keep the two in step.
const (
	DefaultDataDir        = "./shelf-data"
	DefaultRegion         = "us-east-1"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultHealthListen   = "127.0.0.1:8050"
	DefaultAPIListen      = "127.0.0.1:8049"
	DefaultNFSPort        = 2049
	DefaultMetaCacheBytes = ByteSize(64 << 20)
	DefaultMinFreeBytes   = ByteSize(256 << 20)
	// DefaultPermissionCacheWindow is how long an NFS connection keeps
	// the outcome of its access checks.
	DefaultPermissionCacheWindow = Duration(5 * time.Second)
	// DefaultTLSDomain is the DNS suffix of NFS server certificates.
	DefaultTLSDomain = "amazonaws.com"

	// RootKeyFileName is the root key's file name inside the data
	// directory, used when RootKeyFile is empty.
	RootKeyFileName = "root.key"
)

// EnvRootKeyFile names the environment variable that overrides RootKeyFile.
const EnvRootKeyFile = "SHELF_ROOT_KEY_FILE"

// maxFileBytes bounds the configuration file.
const maxFileBytes = 1 << 20

// Config is the whole configuration of shelfd. The YAML keys are the
// snake_case names in the field tags.
type Config struct {
	// DataDir holds everything shelfd stores (see README.md, "Data
	// directory"). Created with mode 0700 if missing.
	DataDir string `yaml:"data_dir"`
	// Account is the 12-digit AWS account ID that owns every resource of
	// this shelfd (it appears in ARNs and binds the KMS keys). Empty means:
	// use the account recorded in the store, or, for a new store, generate
	// a random one and record it. A store keeps its account forever; a
	// configured account that differs from the recorded one is an error.
	Account string `yaml:"account"`
	// Region appears in ARNs.
	Region string `yaml:"region"`
	// RootKeyFile is the file holding the root key that seals every other
	// key. Empty means <DataDir>/root.key. Losing it loses all data.
	RootKeyFile string `yaml:"root_key_file"`

	Log     Log     `yaml:"log"`
	Health  Health  `yaml:"health"`
	API     API     `yaml:"api"`
	NFS     NFS     `yaml:"nfs"`
	Storage Storage `yaml:"storage"`
	Network Network `yaml:"network"`
	// RootKey holds the root key elsewhere than in a file (see RootKey).
	RootKey RootKey `yaml:"root_key"`
	// Compliance configures the Config rules' evaluation and alerts
	// (compliance.go).
	Compliance Compliance `yaml:"compliance"`
	Trail      Trail      `yaml:"trail"`
}

// Network describes VPCs and subnets besides the embedded default VPC (whose
// subnets are 127.0.1.0/24, 127.0.2.0/24 and 127.0.3.0/24 in zones a, b and
// c of the region). Mount targets get addresses from a subnet's CIDR, and
// shelfd listens on them, so the addresses must exist on this host.
type Network struct {
	VPCs []VPC `yaml:"vpcs"`
	// Clients are the addresses of client machines and the security
	// groups they belong to, as EC2 instances belong to groups: a rule
	// that names a group as its source admits them.
	Clients []Client `yaml:"clients"`
}

// Client is a range of client addresses that are members of security
// groups.
type Client struct {
	// CIDR is an IPv4 range, e.g. 10.20.5.0/24 or 127.0.0.42/32.
	CIDR string `yaml:"cidr"`
	// SecurityGroups are group IDs (sg-…) or names of groups of the
	// client's VPC ("default" is the VPC's default group).
	SecurityGroups []string `yaml:"security_groups"`
	// VPCID is the VPC of the group names; empty means the default VPC.
	VPCID string `yaml:"vpc_id"`
}

// VPC is one configured VPC.
type VPC struct {
	// ID is vpc- and 8 or 17 hex digits.
	ID string `yaml:"id"`
	// CIDR is the VPC's IPv4 range, e.g. 10.20.0.0/16.
	CIDR    string   `yaml:"cidr"`
	Subnets []Subnet `yaml:"subnets"`
}

// Subnet is one configured subnet of a VPC.
type Subnet struct {
	// ID is subnet- and 8 or 17 hex digits.
	ID string `yaml:"id"`
	// CIDR must lie inside the VPC's CIDR.
	CIDR string `yaml:"cidr"`
	// AvailabilityZone is a zone of the region, e.g. us-east-1b.
	AvailabilityZone string `yaml:"availability_zone"`
	// Public marks a subnet that assigns public addresses (AWS's
	// MapPublicIpOnLaunch): the Config rule
	// efs-mount-target-public-accessible reports mount targets in it.
	Public bool `yaml:"public"`
}

// Log configures the process log (log/slog).
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text (logfmt-like key=value) or json.
	Format string `yaml:"format"`
}

// Health configures the health endpoint (GET /healthz, GET /readyz).
type Health struct {
	// Listen is host:port. Empty disables the endpoint.
	Listen string `yaml:"listen"`
}

// API configures the HTTP edge that serves the AWS-style APIs (EFS, EC2
// networks, IAM, …) on one port.
type API struct {
	// Listen is host:port.
	Listen string `yaml:"listen"`
	// TLS, when configured, makes the edge serve HTTPS only.
	TLS APITLS `yaml:"tls"`
}

// APITLS configures TLS for the API edge: either a certificate and key in
// PEM files, or a self-signed certificate that shelfd generates (ECDSA
// P-256) and keeps in <data_dir>/tls/. Neither means plain HTTP.
type APITLS struct {
	// CertFile and KeyFile are PEM files; set both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// SelfSigned makes shelfd generate (once) and use its own certificate.
	SelfSigned bool `yaml:"self_signed"`
}

// Enabled reports whether TLS is configured.
func (t APITLS) Enabled() bool { return t.SelfSigned || t.CertFile != "" || t.KeyFile != "" }

// NFS configures the NFS mount-target listeners.
type NFS struct {
	// Port is the TCP port every mount target listens on.
	Port int `yaml:"port"`
	// Exports are static NFS listeners, for development and tests: each
	// serves one file system on its own address, like a mount target
	// that no API call created. Mount targets created through the EFS
	// API get their listeners on Port without being listed here.
	Exports []NFSExport `yaml:"exports"`
	// TLS configures TLS on the NFS port.
	TLS NFSTLS `yaml:"tls"`
	// PermissionCacheWindow bounds how long a connection keeps a decision
	// of the access checks (security groups, IAM identity, file-system
	// and identity policies, access points): a change takes effect on
	// live connections within it (default 5s, at most 5m).
	PermissionCacheWindow Duration `yaml:"permission_cache_window"`
}

// NFSTLS configures TLS on the NFS port: the efs-utils tunnel (`mount -t
// efs -o tls`, `shelf mount -o tls`) and RFC 9289 (`xprtsec=tls`). Server
// certificates are issued by shelf's own CA, kept in the data directory
// (ca.pem is its certificate).
type NFSTLS struct {
	// Disabled refuses TLS connections.
	Disabled bool `yaml:"disabled"`
	// Domain is the DNS suffix of the certificates' names,
	// <fs-id>.efs.<region>.<domain> (default amazonaws.com, the name
	// efs-utils checks).
	Domain string `yaml:"domain"`
}

// NFSExport is one static NFS listener.
type NFSExport struct {
	// Listen is host:port (port 0 picks a free port).
	Listen string `yaml:"listen"`
	// FileSystemID is the file system served, fs- and 8 or 17 hex
	// digits.
	FileSystemID string `yaml:"file_system_id"`
	// Create makes the file system at start-up when it does not exist.
	Create bool `yaml:"create"`
	// Encrypted, with Create, encrypts a file system created at
	// start-up with the EFS managed key (alias/aws/elasticfilesystem).
	Encrypted bool `yaml:"encrypted"`
}

// Storage tunes the embedded storage engines.
type Storage struct {
	// MetaCacheBytes is the metadata engine's block cache.
	MetaCacheBytes ByteSize `yaml:"meta_cache_bytes"`
	// DataCacheBytes bounds the cache of decrypted file blocks, which
	// serves reads and the read-modify-write of partial block writes. 0
	// (the default) sizes it from the machine's memory: a sixteenth of
	// it, at least 64MiB and at most 2GiB.
	DataCacheBytes ByteSize `yaml:"data_cache_bytes"`
	// WriteBackBytes bounds the unstable NFS writes buffered in memory
	// before they are stored (at COMMIT at the latest); a file's buffer is
	// stored in the background once it holds an eighth of this, and any
	// buffer a second after its first write. Rewrites of buffered bytes
	// cost nothing more. 0 (the default) sizes it from the machine's
	// memory: a sixteenth of it, at least 64MiB and at most 1GiB.
	WriteBackBytes ByteSize `yaml:"write_back_bytes"`
	// MinFreeBytes is the free-space reserve of the file system holding
	// DataDir: while less than this is free, operations that consume space
	// fail with "no space left on device" (NFS4ERR_NOSPC), so that deletes
	// and metadata updates still work. 0 disables the check.
	MinFreeBytes ByteSize `yaml:"min_free_bytes"`
}

// Default returns the embedded default configuration: everything under
// ./shelf-data, endpoints on loopback.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir,
		Region:  DefaultRegion,
		Log:     Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Health:  Health{Listen: DefaultHealthListen},
		API:     API{Listen: DefaultAPIListen},
		NFS: NFS{Port: DefaultNFSPort, PermissionCacheWindow: DefaultPermissionCacheWindow,
			TLS: NFSTLS{Domain: DefaultTLSDomain}},
		Storage: Storage{MetaCacheBytes: DefaultMetaCacheBytes, MinFreeBytes: DefaultMinFreeBytes},
	}
}

// Load reads the YAML file at path over Default() with Decode. It does not
// call Validate.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := decode(f)
	if err != nil {
		return Config{}, fmt.Errorf("config: %s: %w", path, err)
	}
	return cfg, nil
}

// Decode reads one YAML document from r over Default(). Decoding is strict:
// unknown keys, duplicate keys, values of the wrong type and a second
// document are errors. An empty document yields Default(). Keys that are
// absent keep their default. Decode does not call Validate.
func Decode(r io.Reader) (Config, error) {
	cfg, err := decode(r)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func decode(r io.Reader) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return Config{}, err
	}
	if len(b) > maxFileBytes {
		return Config{}, fmt.Errorf("file is larger than %d bytes", maxFileBytes)
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return Default(), nil
		}
		return Config{}, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return cfg, nil
	case err != nil:
		return Config{}, err
	default:
		return Config{}, errors.New("more than one YAML document")
	}
}

// ApplyEnv applies the environment variables shelfd honours, read through
// lookup (os.LookupEnv in main). They only name secret files:
//
//	SHELF_ROOT_KEY_FILE   overrides RootKeyFile
//
// An empty value is ignored.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	if v, ok := lookup(EnvRootKeyFile); ok && v != "" {
		c.RootKeyFile = v
	}
}

// RootKeyPath is the root key file: RootKeyFile, or root.key inside DataDir.
func (c *Config) RootKeyPath() string {
	if c.RootKeyFile != "" {
		return c.RootKeyFile
	}
	return filepath.Join(c.DataDir, RootKeyFileName)
}

// Validate reports every problem of the configuration, joined with
// errors.Join (one line per problem), or nil.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: "+format, args...))
	}
	if c.DataDir == "" {
		bad("data_dir must not be empty")
	}
	if c.Account != "" && !awsid.ValidAccount(c.Account) {
		bad("account %q is not a 12-digit account ID (leave it empty to use the one recorded in the data directory)", c.Account)
	}
	if !awsid.ValidRegion(c.Region) {
		bad("region %q is not a region name such as %s", c.Region, DefaultRegion)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q must be text or json", c.Log.Format)
	}
	if c.Health.Listen != "" {
		if err := validListen(c.Health.Listen); err != nil {
			bad("health.listen: %v", err)
		}
	}
	if err := validListen(c.API.Listen); err != nil {
		bad("api.listen: %v", err)
	}
	switch t := c.API.TLS; {
	case t.SelfSigned && (t.CertFile != "" || t.KeyFile != ""):
		bad("api.tls: self_signed excludes cert_file and key_file")
	case (t.CertFile == "") != (t.KeyFile == ""):
		bad("api.tls: cert_file and key_file must be set together")
	}
	if c.NFS.Port < 1 || c.NFS.Port > 65535 {
		bad("nfs.port %d must be between 1 and 65535", c.NFS.Port)
	}
	if w := time.Duration(c.NFS.PermissionCacheWindow); w < 0 || w > 5*time.Minute {
		bad("nfs.permission_cache_window %s must be between 0s and 5m", w)
	}
	if d := c.NFS.TLS.Domain; d == "" || len(d) > 200 || strings.ContainsAny(d, " /*\x00") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		bad("nfs.tls.domain %q is not a DNS suffix such as amazonaws.com", d)
	}
	c.validateNetwork(bad)
	c.validateClients(bad)
	c.validateRootKey(bad)
	c.validateCompliance(bad)
	listens := map[string]int{}
	for i, e := range c.NFS.Exports {
		if err := validListen(e.Listen); err != nil {
			bad("nfs.exports[%d].listen: %v", i, err)
		} else if j, dup := listens[e.Listen]; dup {
			bad("nfs.exports[%d].listen %q is also nfs.exports[%d].listen", i, e.Listen, j)
		} else {
			listens[e.Listen] = i
		}
		if !validFileSystemID(e.FileSystemID) {
			bad("nfs.exports[%d].file_system_id %q is not a file system ID such as fs-0123456789abcdef0", i, e.FileSystemID)
		}
		if e.Encrypted && !e.Create {
			bad("nfs.exports[%d].encrypted needs create: it applies only to a file system created at start-up", i)
		}
	}
	if c.Storage.MetaCacheBytes < 1<<20 {
		bad("storage.meta_cache_bytes %d must be at least 1MiB", c.Storage.MetaCacheBytes)
	}
	if c.Storage.DataCacheBytes != 0 && c.Storage.DataCacheBytes < 1<<20 {
		bad("storage.data_cache_bytes %d must be 0 (sized from memory) or at least 1MiB", c.Storage.DataCacheBytes)
	}
	if c.Storage.WriteBackBytes != 0 && c.Storage.WriteBackBytes < 1<<20 {
		bad("storage.write_back_bytes %d must be 0 (sized from memory) or at least 1MiB", c.Storage.WriteBackBytes)
	}
	if c.Storage.MinFreeBytes < 0 {
		bad("storage.min_free_bytes %d must not be negative", c.Storage.MinFreeBytes)
	}
	c.Trail.validate(bad)
	return errors.Join(errs...)
}

// validFileSystemID accepts fs- followed by 8 or 17 lower-case hex digits.
func validFileSystemID(s string) bool { return awsid.ValidResource(s, "fs-") }

// validListen accepts host:port with a numeric port (0 picks a free port).
func validListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port number", s)
	}
	return nil
}

// ByteSize is a number of bytes. In YAML it is an integer, or a string of
// an integer followed by a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or
// KB, MB, GB, TB (powers of 1000), e.g. "256MiB".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	// Longest suffixes first, so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseByteSize parses the YAML string form of a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, factor = strings.TrimSpace(n), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 268435456 or \"256MiB\"", s)
	}
	if n > (1<<63-1)/factor {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n * factor), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number or a string such as \"256MiB\"", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// String renders the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// validateNetwork checks the syntax of the configured VPCs and subnets; the
// control plane checks the rest (overlaps with the default VPC, zones).
func (c *Config) validateNetwork(bad func(format string, args ...any)) {
	ids := map[string]bool{}
	for i, v := range c.Network.VPCs {
		where := fmt.Sprintf("network.vpcs[%d]", i)
		if !awsid.ValidResource(v.ID, "vpc-") {
			bad("%s.id %q is not vpc- and 8 or 17 hex digits", where, v.ID)
		} else if ids[v.ID] {
			bad("%s.id %q appears twice", where, v.ID)
		}
		ids[v.ID] = true
		vpc, err := netip.ParsePrefix(v.CIDR)
		if err != nil || !vpc.Addr().Is4() || vpc != vpc.Masked() {
			bad("%s.cidr %q is not an IPv4 network such as 10.20.0.0/16", where, v.CIDR)
		}
		if len(v.Subnets) == 0 {
			bad("%s has no subnets", where)
		}
		for j, sn := range v.Subnets {
			where := fmt.Sprintf("%s.subnets[%d]", where, j)
			if !awsid.ValidResource(sn.ID, "subnet-") {
				bad("%s.id %q is not subnet- and 8 or 17 hex digits", where, sn.ID)
			} else if ids[sn.ID] {
				bad("%s.id %q appears twice", where, sn.ID)
			}
			ids[sn.ID] = true
			p, err := netip.ParsePrefix(sn.CIDR)
			switch {
			case err != nil || !p.Addr().Is4() || p != p.Masked():
				bad("%s.cidr %q is not an IPv4 network such as 10.20.1.0/24", where, sn.CIDR)
			case p.Bits() > 28:
				bad("%s.cidr %q is smaller than a /28, the smallest subnet AWS allows", where, sn.CIDR)
			case vpc.IsValid() && (!vpc.Contains(p.Addr()) || p.Bits() < vpc.Bits()):
				bad("%s.cidr %s is not inside the VPC's %s", where, sn.CIDR, v.CIDR)
			}
			if zone, ok := strings.CutPrefix(sn.AvailabilityZone, c.Region); !ok || len(zone) != 1 || zone[0] < 'a' || zone[0] > 'z' {
				bad("%s.availability_zone %q is not a zone of region %s such as %sb", where, sn.AvailabilityZone, c.Region, c.Region)
			}
		}
	}
}

// validateClients checks the syntax of network.clients.
func (c *Config) validateClients(bad func(format string, args ...any)) {
	for i, cl := range c.Network.Clients {
		where := fmt.Sprintf("network.clients[%d]", i)
		if p, err := netip.ParsePrefix(cl.CIDR); err != nil || !p.Addr().Is4() || p != p.Masked() {
			bad("%s.cidr %q is not an IPv4 network such as 10.20.5.0/24", where, cl.CIDR)
		}
		if len(cl.SecurityGroups) == 0 || len(cl.SecurityGroups) > 5 {
			bad("%s.security_groups must name 1 to 5 groups", where)
		}
		for _, g := range cl.SecurityGroups {
			if g == "" || len(g) > 255 {
				bad("%s.security_groups has an empty or over-long name", where)
			}
		}
		if cl.VPCID != "" && !awsid.ValidResource(cl.VPCID, "vpc-") {
			bad("%s.vpc_id %q is not vpc- and 8 or 17 hex digits", where, cl.VPCID)
		}
	}
}

// Duration is a length of time. In YAML it is a string such as "5s" or
// "1m30s" (time.ParseDuration).
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as \"5s\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// String renders the duration as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// Trail configures the delivery of the audit log as a CloudTrail trail
// (internal/trail). Zero values take the defaults.
type Trail struct {
	// Dir is the trail directory; empty means <DataDir>/trail.
	Dir string `yaml:"dir"`
	// DeliveryInterval is how often log files are delivered (default 5m;
	// at least 1s).
	DeliveryInterval time.Duration `yaml:"delivery_interval"`
	// DigestInterval is how often a digest file is written (default 1h;
	// at least 1s).
	DigestInterval time.Duration `yaml:"digest_interval"`
}

// TrailDir is the trail directory: Trail.Dir, or trail inside DataDir.
func (c *Config) TrailDir() string {
	if c.Trail.Dir != "" {
		return c.Trail.Dir
	}
	return filepath.Join(c.DataDir, "trail")
}

func (t Trail) validate(bad func(string, ...any)) {
	if t.DeliveryInterval != 0 && t.DeliveryInterval < time.Second {
		bad("trail.delivery_interval %s must be at least 1s", t.DeliveryInterval)
	}
	if t.DigestInterval != 0 && t.DigestInterval < time.Second {
		bad("trail.digest_interval %s must be at least 1s", t.DigestInterval)
	}
}
