package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
)

// nullOrError sends an NFSv4 NULL call on conn and requires an accepted,
// successful reply, unless the connection fails, which it returns.
func nullOrError(t *testing.T, conn net.Conn) error {
	t.Helper()
	call := make([]byte, 4, 48)
	for _, v := range []uint32{0x1234, 0 /* CALL */, 2, 100003, 4, 0 /* NULL */, 0, 0, 0, 0} {
		call = binary.BigEndian.AppendUint32(call, v)
	}
	binary.BigEndian.PutUint32(call, 0x80000000|uint32(len(call)-4))
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(call); err != nil {
		return err
	}
	reply := make([]byte, 4+24)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return err
	}
	require.Equal(t, uint32(0x1234), binary.BigEndian.Uint32(reply[4:]))
	require.Equal(t, uint32(1), binary.BigEndian.Uint32(reply[8:]), "a REPLY")
	require.Equal(t, uint32(0), binary.BigEndian.Uint32(reply[12:]), "MSG_ACCEPTED")
	require.Equal(t, uint32(0), binary.BigEndian.Uint32(reply[24:]), "SUCCESS")
	return nil
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestMountTargetsGetListeners(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.NFS.Port = freePort(t)
	s := newServer(t, cfg)
	stop := running(t, s)

	ctl := s.Control()
	fsys, err := ctl.CreateFileSystem(ctx, "fs-0123456789abcdef0", control.CreateFileSystemInput{CreationToken: "t"})
	require.NoError(t, err)
	subnet := ctl.Subnets()[0]
	mt, err := ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: fsys.ID, SubnetID: subnet.ID})
	require.NoError(t, err)
	addr := net.JoinHostPort(mt.IPAddress.String(), strconv.Itoa(cfg.NFS.Port))

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err, "the new mount target is served on its own address")
	defer conn.Close()
	require.NoError(t, nullOrError(t, conn))

	// Deleting the mount target closes its listener and its connections.
	require.NoError(t, ctl.DeleteMountTarget(ctx, mt.ID))
	require.Error(t, nullOrError(t, conn), "existing connections are broken")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err)

	// A restart serves the mount targets that exist.
	mt2, err := ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: fsys.ID, SubnetID: subnet.ID})
	require.NoError(t, err)
	stop()
	require.NoError(t, s.Close())
	s2 := newServer(t, cfg)
	running(t, s2)
	var conn2 net.Conn
	require.Eventually(t, func() bool {
		conn2, err = net.Dial("tcp", net.JoinHostPort(mt2.IPAddress.String(), strconv.Itoa(cfg.NFS.Port)))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	defer conn2.Close()
	require.NoError(t, nullOrError(t, conn2))
}

// running runs s until the test ends or the returned function is called.
func running(t *testing.T, s *Server) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestConfiguredVPCs(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.NFS.Port = freePort(t)
	cfg.Network.VPCs = []config.VPC{{ID: "vpc-00000000000000001", CIDR: "127.0.8.0/21", Subnets: []config.Subnet{
		{ID: "subnet-00000000000000001", CIDR: "127.0.9.0/24", AvailabilityZone: "us-east-1b"},
	}}}
	s := newServer(t, cfg)
	running(t, s)
	ctl := s.Control()
	var found bool
	for _, sn := range ctl.Subnets() {
		found = found || sn.ID == "subnet-00000000000000001"
	}
	require.True(t, found, "the configured subnet is in the network model")
	fsys, err := ctl.CreateFileSystem(ctx, "fs-0123456789abcdef0", control.CreateFileSystemInput{CreationToken: "t"})
	require.NoError(t, err)
	mt, err := ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: fsys.ID, SubnetID: "subnet-00000000000000001"})
	require.NoError(t, err)
	require.Equal(t, "127.0.9.4", mt.IPAddress.String())
	addr := net.JoinHostPort(mt.IPAddress.String(), strconv.Itoa(cfg.NFS.Port))

	// The VPC's default security group admits only its own members, as
	// in AWS: a client from 127.0.0.1 is turned away at once.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.Error(t, nullOrError(t, conn))
	require.Equal(t, uint64(1), s.NFS().Stats().SecurityGroupRefusals)
	resp, err := http.Get("http://" + s.HealthAddr().String() + "/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var stats connStats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	require.Equal(t, uint64(1), stats.NFS.SecurityGroupRefusals, "the refusal is counted where operators see it")

	// A rule for NFS from the client's address lets it in, for new
	// connections at once.
	_, err = ctl.AuthorizeIngress(ctx, ctl.DefaultSecurityGroupID("vpc-00000000000000001"), []control.Rule{
		{Protocol: "tcp", FromPort: 2049, ToPort: 2049, CIDR: netip.MustParsePrefix("127.0.0.1/32")}})
	require.NoError(t, err)
	conn2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn2.Close()
	require.NoError(t, nullOrError(t, conn2))
}
