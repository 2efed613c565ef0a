package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	require.NoError(t, cfg.Validate())
	require.Equal(t, "./shelf-data", cfg.DataDir)
	require.Equal(t, "", cfg.Account)
	require.Equal(t, "us-east-1", cfg.Region)
	require.Equal(t, filepath.Join("shelf-data", "root.key"), cfg.RootKeyPath())
	require.Equal(t, Log{Level: "info", Format: "text"}, cfg.Log)
	require.Equal(t, "127.0.0.1:8050", cfg.Health.Listen)
	require.Equal(t, "127.0.0.1:8049", cfg.API.Listen)
	require.Equal(t, 2049, cfg.NFS.Port)
	require.Equal(t, ByteSize(64<<20), cfg.Storage.MetaCacheBytes)
	require.Equal(t, ByteSize(256<<20), cfg.Storage.MinFreeBytes)
}

func TestDecode(t *testing.T) {
	withDefaults := func(edit func(*Config)) Config {
		c := Default()
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		yaml string
		want Config
	}{
		{name: "empty", yaml: "", want: Default()},
		{name: "comment only", yaml: "# nothing\n", want: Default()},
		{
			name: "absent keys keep defaults",
			yaml: "data_dir: /var/lib/shelf\nlog:\n  format: json\n",
			want: withDefaults(func(c *Config) { c.DataDir = "/var/lib/shelf"; c.Log.Format = "json" }),
		},
		{
			name: "every key",
			yaml: `
data_dir: /srv/shelf
account: "012345678901"
region: eu-west-3
root_key_file: /etc/shelf/root.key
log: {level: debug, format: json}
health: {listen: "[::1]:9000"}
api: {listen: "0.0.0.0:8049", tls: {cert_file: /etc/shelf/api.crt, key_file: /etc/shelf/api.key}}
nfs: {port: 12049, permission_cache_window: 1m30s, tls: {disabled: true, domain: shelf.example}}
storage:
  meta_cache_bytes: 128MiB
  data_cache_bytes: 1GiB
  write_back_bytes: 256MiB
  min_free_bytes: 1000000
`,
			want: Config{
				DataDir: "/srv/shelf", Account: "012345678901", Region: "eu-west-3",
				RootKeyFile: "/etc/shelf/root.key",
				Log:         Log{Level: "debug", Format: "json"},
				Health:      Health{Listen: "[::1]:9000"},
				API:         API{Listen: "0.0.0.0:8049", TLS: APITLS{CertFile: "/etc/shelf/api.crt", KeyFile: "/etc/shelf/api.key"}},
				NFS: NFS{Port: 12049, PermissionCacheWindow: Duration(90 * time.Second),
					TLS: NFSTLS{Disabled: true, Domain: "shelf.example"}},
				Storage: Storage{MetaCacheBytes: 128 << 20, DataCacheBytes: 1 << 30, WriteBackBytes: 256 << 20, MinFreeBytes: 1000000},
			},
		},
		{
			name: "disabled health endpoint and reserve",
			yaml: "health: {listen: \"\"}\nstorage: {min_free_bytes: 0}\n",
			want: withDefaults(func(c *Config) { c.Health.Listen = ""; c.Storage.MinFreeBytes = 0 }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(strings.NewReader(tt.yaml))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown top-level key", "data_dir: x\ndatadir: y\n", "field datadir not found"},
		{"unknown nested key", "log:\n  lvl: debug\n", "field lvl not found"},
		{"duplicate key", "region: a\nregion: b\n", "already defined"},
		{"wrong type", "nfs: {port: lots}\n", "cannot unmarshal"},
		{"section not a mapping", "log: debug\n", "cannot unmarshal"},
		{"bad size", "storage: {min_free_bytes: 12 parsecs}\n", "not a size"},
		{"negative size", "storage: {min_free_bytes: -1}\n", "not a size"},
		{"second document", "region: a\n---\nregion: b\n", "more than one YAML document"},
		{"not yaml", "data_dir: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.yaml))
			require.ErrorContains(t, err, tt.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "config: "), err.Error())
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Config{
		DataDir: "",
		Account: "12345",
		Region:  "US East",
		Log:     Log{Level: "loud", Format: "xml"},
		Health:  Health{Listen: "8050"},
		API:     API{Listen: "127.0.0.1:http"},
		NFS:     NFS{Port: 70000, PermissionCacheWindow: Duration(-time.Second), TLS: NFSTLS{Domain: "*.example"}},
		Storage: Storage{MetaCacheBytes: 10, DataCacheBytes: 1000, WriteBackBytes: 4096, MinFreeBytes: -1},
	}
	err := cfg.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		"data_dir", "account", "region", "log.level", "log.format", "health.listen",
		"api.listen", "nfs.port", "nfs.permission_cache_window", "nfs.tls.domain",
		"storage.meta_cache_bytes", "storage.data_cache_bytes", "storage.write_back_bytes",
		"storage.min_free_bytes",
	} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, "config: "+want)
		}
		require.True(t, found, "no problem reported for %s in:\n%s", want, err)
	}
	require.Len(t, lines, 14)
}

func TestValidateAPITLS(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tls     APITLS
		wantErr string
	}{
		{"none", APITLS{}, ""},
		{"files", APITLS{CertFile: "c.pem", KeyFile: "k.pem"}, ""},
		{"self-signed", APITLS{SelfSigned: true}, ""},
		{"cert without key", APITLS{CertFile: "c.pem"}, "api.tls: cert_file and key_file must be set together"},
		{"key without cert", APITLS{KeyFile: "k.pem"}, "api.tls: cert_file and key_file must be set together"},
		{"both kinds", APITLS{CertFile: "c.pem", KeyFile: "k.pem", SelfSigned: true}, "api.tls: self_signed excludes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.API.TLS = tt.tls
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tt.tls != APITLS{}, tt.tls.Enabled())
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	t.Run("yaml", func(t *testing.T) {
		cfg, err := Decode(strings.NewReader("api:\n  tls:\n    self_signed: true\n"))
		require.NoError(t, err)
		require.True(t, cfg.API.TLS.SelfSigned)
		require.Equal(t, DefaultAPIListen, cfg.API.Listen)
	})
}

func TestValidateAccount(t *testing.T) {
	for _, tt := range []struct {
		account string
		ok      bool
	}{
		{"", true}, {"123456789012", true}, {"000000000000", true},
		{"12345678901", false}, {"1234567890123", false}, {"12345678901a", false},
	} {
		cfg := Default()
		cfg.Account = tt.account
		require.Equal(t, tt.ok, cfg.Validate() == nil, "account %q", tt.account)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shelf.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: /data\nbogus: 1\n"), 0o600))
	_, err := Load(path)
	require.ErrorContains(t, err, "config: "+path+": ")
	require.ErrorContains(t, err, "bogus")

	require.NoError(t, os.WriteFile(path, []byte("data_dir: /data\n"), 0o600))
	cfg, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, "/data", cfg.DataDir)
	require.Equal(t, "/data/root.key", cfg.RootKeyPath())

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{"SHELF_ROOT_KEY_FILE": "/run/secrets/root.key", "SHELF_DATA_DIR": "/ignored"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg := Default()
	cfg.ApplyEnv(lookup)
	require.Equal(t, "/run/secrets/root.key", cfg.RootKeyPath())
	require.Equal(t, DefaultDataDir, cfg.DataDir, "only secret-file variables are honoured")

	env["SHELF_ROOT_KEY_FILE"] = ""
	cfg = Default()
	cfg.ApplyEnv(lookup)
	require.Equal(t, "", cfg.RootKeyFile)
}

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
		str  string
	}{
		{"0", 0, "0B"}, {"4096", 4096, "4KiB"}, {"1000", 1000, "1000B"},
		{"256MiB", 256 << 20, "256MiB"}, {"256 MiB", 256 << 20, "256MiB"},
		{"2GiB", 2 << 30, "2GiB"}, {"1TiB", 1 << 40, "1TiB"}, {"3KiB", 3 << 10, "3KiB"},
		{"1GB", 1e9, "1000000000B"}, {"5MB", 5e6, "5000000B"}, {"7B", 7, "7B"},
	} {
		got, err := ParseByteSize(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		require.Equal(t, tt.str, got.String(), tt.in)
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5GiB", "1 PiB", "99999999999TiB"} {
		_, err := ParseByteSize(bad)
		require.Error(t, err, bad)
	}
}

func TestNFSExports(t *testing.T) {
	cfg, err := Decode(strings.NewReader(`
nfs:
  port: 12049
  exports:
    - listen: 127.0.1.10:12049
      file_system_id: fs-0123456789abcdef0
      create: true
      encrypted: true
    - {listen: "127.0.0.1:0", file_system_id: fs-01234567}
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, NFS{Port: 12049, Exports: []NFSExport{
		{Listen: "127.0.1.10:12049", FileSystemID: "fs-0123456789abcdef0", Create: true, Encrypted: true},
		{Listen: "127.0.0.1:0", FileSystemID: "fs-01234567"},
	}, TLS: NFSTLS{Domain: DefaultTLSDomain}, PermissionCacheWindow: DefaultPermissionCacheWindow}, cfg.NFS)
	_, err = Decode(strings.NewReader("nfs: {permission_cache_window: soon}\n"))
	require.ErrorContains(t, err, "line 1")

	tests := []struct {
		name    string
		exports []NFSExport
		wantErr []string
	}{
		{"bad listen", []NFSExport{{Listen: "127.0.0.1", FileSystemID: "fs-01234567"}}, []string{"nfs.exports[0].listen"}},
		{"duplicate listen", []NFSExport{{Listen: "127.0.0.1:1", FileSystemID: "fs-01234567"}, {Listen: "127.0.0.1:1", FileSystemID: "fs-89abcdef"}},
			[]string{`nfs.exports[1].listen "127.0.0.1:1" is also nfs.exports[0].listen`}},
		{"bad file system ID", []NFSExport{{Listen: "127.0.0.1:1", FileSystemID: "fs-0123456789ABCDEF0"}, {Listen: "127.0.0.1:2", FileSystemID: "fsap-01234567"}},
			[]string{"nfs.exports[0].file_system_id", "nfs.exports[1].file_system_id"}},
		{"encrypted without create", []NFSExport{{Listen: "127.0.0.1:1", FileSystemID: "fs-01234567", Encrypted: true}},
			[]string{"nfs.exports[0].encrypted needs create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.NFS.Exports = tt.exports
			err := cfg.Validate()
			require.Error(t, err)
			for _, w := range tt.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestNetworkValidation(t *testing.T) {
	good := Default()
	good.Network.VPCs = []VPC{{ID: "vpc-0123456789abcdef0", CIDR: "10.20.0.0/16", Subnets: []Subnet{
		{ID: "subnet-0123456789abcdef0", CIDR: "10.20.1.0/24", AvailabilityZone: "us-east-1b"},
	}}}
	require.NoError(t, good.Validate())

	bad := Default()
	bad.Network.VPCs = []VPC{
		{ID: "vpc-xyz", CIDR: "10.20.0.1/16", Subnets: []Subnet{
			{ID: "subnet-0123456789abcdef0", CIDR: "10.30.1.0/24", AvailabilityZone: "eu-west-1a"},
			{ID: "subnet-0123456789abcdef0", CIDR: "10.20.1.0/29", AvailabilityZone: "us-east-1"},
		}},
		{ID: "vpc-0123456789abcdef0", CIDR: "fd00::/8"},
	}
	err := bad.Validate()
	require.Error(t, err)
	for _, want := range []string{
		`network.vpcs[0].id "vpc-xyz"`,
		`network.vpcs[0].cidr "10.20.0.1/16"`,
		`network.vpcs[0].subnets[0].availability_zone "eu-west-1a"`,
		`network.vpcs[0].subnets[1].id "subnet-0123456789abcdef0" appears twice`,
		`network.vpcs[0].subnets[1].cidr "10.20.1.0/29" is smaller than a /28`,
		`network.vpcs[1].cidr "fd00::/8"`,
		`network.vpcs[1] has no subnets`,
	} {
		require.ErrorContains(t, err, want)
	}

	yamlDoc := "network:\n  vpcs:\n    - id: vpc-0123456789abcdef0\n      cidr: 10.20.0.0/16\n      subnets:\n        - {id: subnet-0123456789abcdef0, cidr: 10.20.1.0/24, availability_zone: us-east-1b}\n"
	cfg, err := Decode(strings.NewReader(yamlDoc))
	require.NoError(t, err)
	require.Equal(t, good.Network, cfg.Network)
}

func TestNetworkClients(t *testing.T) {
	cfg, err := Decode(strings.NewReader(`
network:
  clients:
    - {cidr: 127.0.0.64/26, security_groups: [app-servers, sg-0123456789abcdef0]}
    - {cidr: 10.20.5.0/24, security_groups: [default], vpc_id: vpc-0123456789abcdef0}
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, []Client{
		{CIDR: "127.0.0.64/26", SecurityGroups: []string{"app-servers", "sg-0123456789abcdef0"}},
		{CIDR: "10.20.5.0/24", SecurityGroups: []string{"default"}, VPCID: "vpc-0123456789abcdef0"},
	}, cfg.Network.Clients)

	cfg.Network.Clients = []Client{{CIDR: "127.0.0.65/26"}, {CIDR: "::1/128", SecurityGroups: []string{""}, VPCID: "vpc-x"}}
	err = cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"network.clients[0].cidr", "network.clients[0].security_groups", "network.clients[1].cidr",
		"network.clients[1].security_groups has an empty", "network.clients[1].vpc_id"} {
		require.ErrorContains(t, err, want)
	}
}
