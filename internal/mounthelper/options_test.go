package mounthelper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"
)

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions("fs-0123456789abcdef0:/data/../team", "/mnt",
		"tls,iam,accesspoint=fsap-0123456789abcdef0,mounttargetip=127.0.1.10,region=eu-west-1,tlsport=20100,cafile=/d/ca.pem,awsprofile=prod,dnssuffix=example.org,certrenewal=30,noac,timeo=100")
	require.NoError(t, err)
	require.Equal(t, Options{
		FileSystemID: "fs-0123456789abcdef0", Path: "/team", MountPoint: "/mnt",
		TLS: true, IAM: true, AccessPointID: "fsap-0123456789abcdef0", MountTargetIP: "127.0.1.10",
		Region: "eu-west-1", TLSPort: 20100, CAFile: "/d/ca.pem", AWSProfile: "prod", DNSSuffix: "example.org",
		RenewEvery: 30 * time.Minute, NFSOptions: []string{"noac", "timeo=100"},
	}, o)
	require.Equal(t, "fs-0123456789abcdef0.efs.eu-west-1.example.org", o.ServerName())
	require.Equal(t, []string{"-t", "nfs4", "-o",
		"nfsvers=4.1,rsize=1048576,wsize=1048576,hard,retrans=2,noresvport,noac,timeo=100,port=20100",
		"127.0.0.1:/team", "/mnt"}, o.MountArgs("", 20100))

	o, err = ParseOptions("fs-0123456789abcdef0", "/mnt", "mounttargetip=127.0.1.10,soft,vers=4.0")
	require.NoError(t, err)
	require.Equal(t, DefaultRenewEvery, o.RenewEvery)
	require.Equal(t, DefaultDNSSuffix, o.DNSSuffix)
	require.Equal(t, []string{"-t", "nfs4", "-o",
		"rsize=1048576,wsize=1048576,timeo=600,retrans=2,noresvport,soft,vers=4.0",
		"127.0.1.10:/", "/mnt"}, o.MountArgs(o.MountTargetIP, 0))
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		device, opts string
		want         []string
	}{
		{"fs-0123456789abcdef0", "iam", []string{"iam requires tls"}},
		{"fs-0123456789abcdef0", "accesspoint=fsap-0123456789abcdef0", []string{"accesspoint requires tls"}},
		{"fs-0123456789abcdef0", "tlsport=20100", []string{"tlsport requires tls"}},
		{"fs-0123456789abcdef0", "tls,notls,iam", []string{"iam requires tls"}},
		{"fs-0123456789abcdef0", "tls,accesspoint=fsap-1", []string{"not an access point ID"}},
		{"fs-0123456789abcdef0", "tls,accesspoint", []string{"needs a value"}},
		{"fs-0123456789abcdef0", "tls,tlsport=0", []string{"not a port number"}},
		{"fs-0123456789abcdef0", "tls,mounttargetip=host.example", []string{"not an IP address"}},
		{"fs-0123456789abcdef0", "tls,region=Mars 1", []string{"not a region name"}},
		{"fs-0123456789abcdef0", "tls,awsprofile=a/b", []string{"not a profile name"}},
		{"fs-0123456789abcdef0", "tls,dnssuffix=-bad-", []string{"not a domain"}},
		{"fs-0123456789abcdef0", "tls,certrenewal=200", []string{"1 to 170"}},
		{"fs-0123456789abcdef0", "tls,port=2049", []string{"port cannot be used with tls"}},
		{"fs-0123456789abcdef0", "tls,awscredsuri=/x,capath=/etc", []string{"awscredsuri", "capath"}},
		{"fs-XYZ", "", []string{"not a file-system ID"}},
		{"fs-0123456789abcdef0:relative", "", []string{"must be absolute"}},
		{"fs-0123456789abcdef0", strings.Repeat("a", 5000), []string{"longer than"}},
		{"bad", "iam,tlsport=x", []string{"not a file-system ID", "tlsport", "iam requires tls"}},
	}
	for _, tt := range tests {
		_, err := ParseOptions(tt.device, "/mnt", tt.opts)
		require.Error(t, err, tt.opts)
		for _, w := range tt.want {
			require.ErrorContains(t, err, w, tt.opts)
		}
	}
}

func TestResolve(t *testing.T) {
	load := func(region string, creds aws.CredentialsProvider) func(context.Context, string) (aws.Config, error) {
		return func(_ context.Context, profile string) (aws.Config, error) {
			return aws.Config{Region: region, Credentials: creds}, nil
		}
	}
	lookup := func(_ context.Context, host string) ([]string, error) {
		require.Equal(t, "fs-0123456789abcdef0.efs.eu-north-1.amazonaws.com", host)
		return []string{"::1", "127.0.1.10"}, nil
	}
	o, err := ParseOptions("fs-0123456789abcdef0", "/mnt", "tls,iam")
	require.NoError(t, err)
	creds, err := Resolve(context.Background(), &o, Env{LoadAWSConfig: load("eu-north-1", staticCreds()), LookupHost: lookup})
	require.NoError(t, err)
	require.NotNil(t, creds)
	require.Equal(t, "eu-north-1", o.Region)
	require.Equal(t, "127.0.1.10", o.MountTargetIP)

	o, _ = ParseOptions("fs-0123456789abcdef0", "/mnt", "tls,mounttargetip=127.0.1.10")
	_, err = Resolve(context.Background(), &o, Env{LoadAWSConfig: load("", nil)})
	require.ErrorContains(t, err, "no region")

	o, _ = ParseOptions("fs-0123456789abcdef0", "/mnt", "tls,iam,region=us-east-1,mounttargetip=127.0.1.10")
	_, err = Resolve(context.Background(), &o, Env{LoadAWSConfig: load("", aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, os.ErrNotExist
	}))})
	require.ErrorContains(t, err, "iam: AWS credentials")
}

func TestMounted(t *testing.T) {
	table := []byte("proc /proc proc rw 0 0\n" +
		"127.0.0.1:/ /mnt/my\\040efs nfs4 rw,vers=4.1,port=20100 0 0\n" +
		"/dev/sda1 /data ext4 rw 0 0\n")
	require.True(t, Mounted(table, "/mnt/my efs"))
	require.True(t, Mounted(table, "/mnt/my efs/"))
	require.False(t, Mounted(table, "/data"), "not NFS")
	require.False(t, Mounted(table, "/mnt"))
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mounts")
	require.NoError(t, os.WriteFile(path, []byte("127.0.0.1:/ /mnt nfs4 rw 0 0\n"), 0o600))
	done := make(chan error, 1)
	appeared := make(chan struct{})
	go func() {
		done <- Watch(context.Background(), WatchConfig{MountsPath: path, MountPoint: "/mnt", Poll: time.Millisecond, AppearWithin: time.Hour,
			Appeared: func() { close(appeared) }})
	}()
	<-appeared
	select {
	case err := <-done:
		t.Fatalf("Watch returned while mounted: %v", err)
	default:
	}
	require.NoError(t, os.WriteFile(path, []byte("proc /proc proc rw 0 0\n"), 0o600))
	require.NoError(t, <-done)

	err := Watch(context.Background(), WatchConfig{MountsPath: path, MountPoint: "/mnt", Poll: time.Millisecond, AppearWithin: 0})
	require.ErrorIs(t, err, ErrNeverMounted)
}

func TestSpawnTunnel(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "tunnel.log")
	proc, port, err := SpawnTunnel(context.Background(), "/bin/sh", []string{"-c", "echo 20123 >&3; exec sleep 60"}, log)
	require.NoError(t, err)
	require.Equal(t, 20123, port)
	require.NoError(t, proc.Kill())
	_, _ = proc.Wait()

	_, _, err = SpawnTunnel(context.Background(), "/bin/sh", []string{"-c", "echo no credentials >&2; exit 3"}, log)
	require.ErrorContains(t, err, "exited before it was ready")
	b, rerr := os.ReadFile(log)
	require.NoError(t, rerr)
	require.Contains(t, string(b), "no credentials")

	state := StateFile(dir, "fs-0123456789abcdef0", "/mnt/a b/", 20123)
	require.Equal(t, filepath.Join(dir, "fs-0123456789abcdef0.mnt.a b.20123"), state)
	require.NoError(t, os.WriteFile(state, []byte("4242\n"), 0o600))
	require.NoError(t, os.WriteFile(StateFile(dir, "fs-0123456789abcdef0", "/mnt/a b/c", 20124), []byte("1\n"), 0o600))
	pids, err := TunnelPIDs(dir, "/mnt/a b")
	require.NoError(t, err)
	require.Equal(t, map[string]int{state: 4242}, pids)
}
