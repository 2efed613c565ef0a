package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/require"
)

// TestKernelAccess checks access control with the Linux kernel client:
// security groups (the harness's --source picks the client's address),
// file-system policies (read-only, root squashing, TLS required,
// revocation within the permission cache window) and an access point
// reached through `shelf mount --tunnel-only`, the efs-utils-style TLS
// tunnel with an IAM-signed client certificate. It drives shelfd through
// the EFS and EC2 APIs with the AWS SDK, as a user would. Like
// TestKernelNFS it runs under `make e2e` (SHELF_E2E=1). shelfd listens on
// port 2049 of the mount target's address (127.0.1.x), where the tunnel
// connects as efs-utils' does.
func TestKernelAccess(t *testing.T) {
	if os.Getenv("SHELF_E2E") == "" {
		t.Skip("end-to-end tests run with `make e2e` (SHELF_E2E=1)")
	}
	if os.Getenv("SHELF_E2E_SERVER") != "" {
		t.Skip("access control is shelf's own: not tested against another server")
	}
	root := repoRoot(t)
	run := kernelHarness(t, root)
	work := t.TempDir()
	if out := os.Getenv("SHELF_E2E_OUT"); out != "" {
		work = filepath.Join(out, "access")
		require.NoError(t, os.RemoveAll(work)) // a fresh store each run
		require.NoError(t, os.MkdirAll(work, 0o755))
	}
	bin := filepath.Join(work, "shelfd")
	goBuild(t, root, "./cmd/shelfd", bin)
	shelf := filepath.Join(work, "shelf")
	goBuild(t, root, "./cmd/shelf", shelf)

	apiAddr := freeAddr(t, "127.0.0.1")
	dataDir := filepath.Join(work, "data")
	cfg := fmt.Sprintf(`data_dir: %q
log: {level: info, format: text}
health: {listen: ""}
api: {listen: %q}
storage: {min_free_bytes: 0}
nfs:
  port: 2049
  permission_cache_window: 1s
`, dataDir, apiAddr)
	d := newDaemon(t, bin, work, cfg, apiAddr)

	ctx := context.Background()
	creds := filepath.Join(dataDir, "root-credentials")
	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
		awsconfig.WithSharedCredentialsFiles([]string{creds}), awsconfig.WithSharedConfigFiles([]string{}))
	require.NoError(t, err)
	url := "http://" + apiAddr
	efsc := efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(url) })
	ec2c := ec2.NewFromConfig(sdkCfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(url) })

	fsys, err := efsc.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("access-e2e"), Encrypted: aws.Bool(true)})
	require.NoError(t, err)
	fsID := aws.ToString(fsys.FileSystemId)
	waitFor(t, "file system available", func() bool {
		out, err := efsc.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: fsys.FileSystemId})
		return err == nil && len(out.FileSystems) == 1 && out.FileSystems[0].LifeCycleState == efstypes.LifeCycleStateAvailable
	})
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.NotEmpty(t, subnets.Subnets)
	mt, err := efsc.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: fsys.FileSystemId, SubnetId: subnets.Subnets[0].SubnetId})
	require.NoError(t, err)
	mtIP := aws.ToString(mt.IpAddress)
	nfsAddr := net.JoinHostPort(mtIP, "2049")
	waitFor(t, "mount target listening on "+nfsAddr, func() bool {
		c, err := net.DialTimeout("tcp", nfsAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	guest := &accessGuest{t: t, run: run, d: d, work: work}
	setPolicy := func(doc string) {
		t.Helper()
		if doc == "" {
			_, err := efsc.DeleteFileSystemPolicy(ctx, &efs.DeleteFileSystemPolicyInput{FileSystemId: fsys.FileSystemId})
			require.NoError(t, err)
		} else {
			_, err := efsc.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsys.FileSystemId, Policy: aws.String(doc)})
			require.NoError(t, err)
		}
		time.Sleep(1500 * time.Millisecond) // one permission cache window, for the mounts that follow
	}
	fsARN := aws.ToString(fsys.FileSystemArn)
	allow := func(cond string, actions ...string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["%s"],"Resource":%q%s}]}`,
			strings.Join(actions, `","`), fsARN, cond)
	}
	const mount, write, rootAccess = "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"

	t.Run("security groups", func(t *testing.T) {
		sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("nfs-from-77"),
			Description: aws.String("NFS from 127.0.0.77"), VpcId: subnets.Subnets[0].VpcId})
		require.NoError(t, err)
		_, err = ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2049), ToPort: aws.Int32(2049),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String("127.0.0.77/32")}}}}})
		require.NoError(t, err)
		old, err := efsc.DescribeMountTargetSecurityGroups(ctx, &efs.DescribeMountTargetSecurityGroupsInput{MountTargetId: mt.MountTargetId})
		require.NoError(t, err)
		_, err = efsc.ModifyMountTargetSecurityGroups(ctx, &efs.ModifyMountTargetSecurityGroupsInput{MountTargetId: mt.MountTargetId,
			SecurityGroups: []string{aws.ToString(sg.GroupId)}})
		require.NoError(t, err)

		res := guest.boot("sg-refused", nfsAddr, "127.0.0.88", "setup")
		require.True(t, res.mountFailed, "a client outside the security group mounted:\n%s", tail(res.output, 40))
		guest.mustPass(guest.boot("sg-admitted", nfsAddr, "127.0.0.77", "setup"))

		_, err = efsc.ModifyMountTargetSecurityGroups(ctx, &efs.ModifyMountTargetSecurityGroupsInput{MountTargetId: mt.MountTargetId,
			SecurityGroups: old.SecurityGroups})
		require.NoError(t, err)
	})

	t.Run("read only without ClientWrite", func(t *testing.T) {
		setPolicy(allow("", mount, rootAccess))
		guest.mustPass(guest.boot("readonly", nfsAddr, "", "readonly"))
	})

	t.Run("root squashed without ClientRootAccess", func(t *testing.T) {
		setPolicy(allow("", mount, write))
		guest.mustPass(guest.boot("squash", nfsAddr, "", "squash"))
	})

	t.Run("TLS required and access point", func(t *testing.T) {
		setPolicy(allow(`,"Condition":{"Bool":{"aws:SecureTransport":"true"}}`, mount, write, rootAccess))
		res := guest.boot("plain-refused", nfsAddr, "", "ap")
		require.True(t, res.mountFailed, "a plain mount succeeded although the policy demands TLS:\n%s", tail(res.output, 40))

		ap, err := efsc.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{ClientToken: aws.String("e2e-ap"), FileSystemId: fsys.FileSystemId,
			PosixUser: &efstypes.PosixUser{Uid: aws.Int64(1001), Gid: aws.Int64(1002)},
			RootDirectory: &efstypes.RootDirectory{Path: aws.String("/ap-root"),
				CreationInfo: &efstypes.CreationInfo{OwnerUid: aws.Int64(1001), OwnerGid: aws.Int64(1002), Permissions: aws.String("0755")}}})
		require.NoError(t, err)
		waitFor(t, "access point available", func() bool {
			out, err := efsc.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: ap.AccessPointId})
			return err == nil && len(out.AccessPoints) == 1 && out.AccessPoints[0].LifeCycleState == efstypes.LifeCycleStateAvailable
		})
		tunnel := startTunnel(t, shelf, work, creds, fsID, aws.ToString(ap.AccessPointId), mtIP, filepath.Join(dataDir, "ca.pem"))
		guest.mustPass(guest.boot("ap-tls", tunnel, "", "ap"))
	})

	t.Run("KMS key state", func(t *testing.T) {
		kmsc := kms.NewFromConfig(sdkCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(url) })
		key, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("e2e customer key")})
		require.NoError(t, err)
		keyID := key.KeyMetadata.KeyId
		enc, err := efsc.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("kms-e2e"), Encrypted: aws.Bool(true), KmsKeyId: keyID})
		require.NoError(t, err)
		waitFor(t, "file system available", func() bool {
			out, err := efsc.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: enc.FileSystemId})
			return err == nil && len(out.FileSystems) == 1 && out.FileSystems[0].LifeCycleState == efstypes.LifeCycleStateAvailable
		})
		emt, err := efsc.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: enc.FileSystemId, SubnetId: subnets.Subnets[0].SubnetId})
		require.NoError(t, err)
		addr := net.JoinHostPort(aws.ToString(emt.IpAddress), "2049")
		waitFor(t, "mount target listening on "+addr, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		var disabled, enabled sync.Once
		guest.onLine = func(l string) {
			switch {
			case strings.HasPrefix(l, "E2E-READY"):
				disabled.Do(func() {
					if _, err := kmsc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: keyID}); err != nil {
						t.Errorf("disable key: %v", err)
					}
				})
			case strings.HasPrefix(l, "E2E-UNREADABLE"):
				enabled.Do(func() {
					out, err := efsc.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: enc.FileSystemId})
					switch {
					case err != nil:
						t.Errorf("describe file system: %v", err)
					case out.FileSystems[0].LifeCycleState != efstypes.LifeCycleStateError:
						t.Errorf("with its key disabled the file system is described as %v, want error", out.FileSystems[0].LifeCycleState)
					}
					if _, err := kmsc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: keyID}); err != nil {
						t.Errorf("enable key: %v", err)
					}
				})
			}
		}
		res := guest.boot("kms", addr, "", "kms")
		guest.onLine = nil
		guest.mustPass(res)
	})

	t.Run("revocation within the permission cache window", func(t *testing.T) {
		setPolicy("")
		ready := make(chan struct{})
		var once sync.Once
		go func() {
			select {
			case <-ready:
			case <-time.After(10 * time.Minute):
				return
			}
			_, err := efsc.PutFileSystemPolicy(ctx, &efs.PutFileSystemPolicyInput{FileSystemId: fsys.FileSystemId,
				Policy: aws.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"%s","Resource":%q}]}`, mount, fsARN))})
			if err != nil {
				t.Errorf("revoke: %v", err)
			}
		}()
		guest.onLine = func(l string) {
			if strings.HasPrefix(l, "E2E-READY") {
				once.Do(func() { close(ready) })
			}
		}
		res := guest.boot("revoke", nfsAddr, "", "revoke")
		guest.onLine = nil
		// The last umount may fail: the client is refused now.
		require.Empty(t, res.failed, "%s", tail(res.output, 40))
		require.True(t, res.done, "the revoke phase did not finish:\n%s", tail(res.output, 40))
		setPolicy("")
	})
}

// freeAddr returns host:port with a port free at the time of the call.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startTunnel runs `shelf mount --tunnel-only` for an access point with
// IAM, signed with the account root's key, and returns its address.
func startTunnel(t *testing.T, shelf, work, creds, fsID, apID, mtIP, ca string) string {
	t.Helper()
	port := strings.TrimPrefix(freeAddr(t, "127.0.0.1"), "127.0.0.1:")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, shelf, "mount", "--tunnel-only", "--listen", "127.0.0.1", "--state-dir", filepath.Join(work, "tunnel-state"),
		fsID, "-o", "tls,iam,accesspoint="+apID+",mounttargetip="+mtIP+",region=us-east-1,tlsport="+port+",cafile="+ca)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE=/dev/null", "AWS_PROFILE=default")
	logf, err := os.Create(filepath.Join(work, "tunnel.log"))
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("shelf mount --tunnel-only did not start: %v\n%s", err, b)
	}
	require.Equal(t, port, strings.TrimSpace(line))
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return "127.0.0.1:" + port
}

// accessGuest boots the VM for one access check.
type accessGuest struct {
	t      *testing.T
	run    string
	d      *daemon
	work   string
	onLine func(string)
}

type guestResult struct {
	output       string
	code         int
	mountFailed  bool
	done         bool
	checks       []string
	failed       []string
	guestRC      string
	umountStatus string
}

func (g *accessGuest) boot(name, server, source, phase string) guestResult {
	t := g.t
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "access.sh"))
	require.NoError(t, err)
	out := filepath.Join(g.work, name)
	require.NoError(t, os.MkdirAll(out, 0o755))
	args := []string{"--server", server, "--vers", "4.1", "--out", out, "--timeout", "300", "--mount-timeout", "30",
		"--env", "ACCESS_PHASE=" + phase}
	if source != "" {
		args = append(args, "--source", source)
	}
	args = append(args, script)
	logf, err := os.Create(filepath.Join(out, "run.log"))
	require.NoError(t, err)
	defer logf.Close()
	lw := &lineWatcher{fn: g.onLine}
	sinks := []io.Writer{logf, lw}
	if testing.Verbose() {
		sinks = append(sinks, &linePrefixer{w: os.Stdout, prefix: "    [" + name + "] "})
	}
	start := time.Now()
	var res guestResult
	res.output, res.code, _ = runHarness(t, 420*time.Second, g.run, args, sinks...)
	t.Logf("%s: harness exited %d after %s", name, res.code, time.Since(start).Round(time.Second))
	for _, l := range strings.Split(res.output, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "E2E-OK "):
			res.checks = append(res.checks, l)
		case strings.HasPrefix(l, "E2E-FAIL "):
			res.failed = append(res.failed, l)
		case strings.HasPrefix(l, "E2E-DONE "+phase+" "):
			res.done = true
		}
	}
	if f := failRE.FindStringSubmatch(res.output); f != nil && f[1] == "mount" {
		res.mountFailed = true
	}
	if m := exitRE.FindAllStringSubmatch(res.output, -1); len(m) > 0 {
		res.guestRC, res.umountStatus = m[len(m)-1][1], m[len(m)-1][2]
	}
	if len(res.output) == 0 || (!res.mountFailed && res.guestRC == "") {
		t.Fatalf("%s: the VM gave no result (harness exit %d):\n%s\n%s", name, res.code, tail(res.output, 60), g.d.logTail(30))
	}
	return res
}

func (g *accessGuest) mustPass(res guestResult) {
	g.t.Helper()
	if res.mountFailed || !res.done || len(res.failed) > 0 || res.guestRC != "0" || res.code != 0 {
		g.t.Fatalf("guest checks failed (mount failed=%v, rc=%s, umount=%s, harness exit %d):\n%s\n--- output ---\n%s\n%s",
			res.mountFailed, res.guestRC, res.umountStatus, res.code, strings.Join(res.failed, "\n"), tail(res.output, 60), g.d.logTail(30))
	}
	g.t.Logf("%d checks passed:\n%s", len(res.checks), strings.Join(res.checks, "\n"))
}

// lineWatcher calls fn with every whole line written to it.
type lineWatcher struct {
	mu  sync.Mutex
	fn  func(string)
	buf []byte
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if w.fn != nil {
			w.fn(strings.TrimRight(string(w.buf[:i]), "\r"))
		}
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

var _ = strconv.Itoa
