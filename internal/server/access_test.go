package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/efscert"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// accessEnv is a running shelfd with one file system and a mount target in
// the default VPC, whose default security group admits loopback clients.
type accessEnv struct {
	t    *testing.T
	s    *Server
	cfg  config.Config
	fsID string
	addr string // the mount target's host:port
	stop func()
	// clients numbers the clients, whose owners must differ.
	clients int
}

func newAccessEnv(t *testing.T) *accessEnv {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.NFS.Port = freePort(t)
	cfg.NFS.PermissionCacheWindow = config.Duration(50 * time.Millisecond)
	s := newServer(t, cfg)
	stop := running(t, s)
	ctl := s.Control()
	fsys, err := ctl.CreateFileSystem(ctx, "fs-0123456789abcdef0", control.CreateFileSystemInput{CreationToken: "t"})
	require.NoError(t, err)
	var subnet string
	for _, sn := range ctl.Subnets() {
		if sn.VPCID != "" && subnet == "" {
			subnet = sn.ID
		}
	}
	mt, err := ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: fsys.ID, SubnetID: subnet})
	require.NoError(t, err)
	e := &accessEnv{t: t, s: s, cfg: cfg, fsID: fsys.ID, stop: func() { stop(); require.NoError(t, s.Close()) },
		addr: net.JoinHostPort(mt.IPAddress.String(), strconv.Itoa(cfg.NFS.Port))}
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the mount target's listener comes up")
	return e
}

// client returns a mounted NFSv4.1 client of uid:gid over a plain or a TLS
// connection.
func (e *accessEnv) client(uid, gid uint32, useTLS bool) *nfstest.Client {
	e.t.Helper()
	ctx := context.Background()
	cred := rpc.Credentials{Flavor: rpc.AuthSys, UID: uid, GID: gid, MachineName: "test"}
	conn, err := net.Dial("tcp", e.addr)
	require.NoError(e.t, err)
	if useTLS {
		pem, err := os.ReadFile(filepath.Join(e.s.DataDir(), CAFileName))
		require.NoError(e.t, err)
		pool := x509.NewCertPool()
		require.True(e.t, pool.AppendCertsFromPEM(pem))
		tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: e.fsID + ".efs.us-east-1.amazonaws.com", MinVersion: tls.VersionTLS12})
		require.NoError(e.t, tc.HandshakeContext(ctx))
		conn = tc
	}
	tr := nfstest.NewTCP(conn, cred)
	e.t.Cleanup(func() { tr.Close() })
	e.clients++
	c := nfstest.New(tr, 1, "client-"+strconv.Itoa(e.clients))
	require.NoError(e.t, c.Mount(ctx))
	return c
}

func (e *accessEnv) putPolicy(doc string) {
	e.t.Helper()
	_, err := e.s.Control().PutFileSystemPolicy(context.Background(), control.PutFileSystemPolicyInput{FileSystemID: e.fsID, Policy: doc})
	require.NoError(e.t, err)
}

// status runs ops and returns the COMPOUND's status.
func status(t *testing.T, c *nfstest.Client, ops ...nfsv4.NfsArgop4) nfsv4.Nfsstat4 {
	t.Helper()
	res, err := c.Do(context.Background(), ops...)
	require.NoError(t, err)
	return res.Status
}

// eventually waits for ops to end with want: a policy change reaches live
// connections within the permission cache window.
func eventually(t *testing.T, c *nfstest.Client, want nfsv4.Nfsstat4, ops ...nfsv4.NfsArgop4) {
	t.Helper()
	require.Eventually(t, func() bool { return status(t, c, ops...) == want }, 10*time.Second, 10*time.Millisecond,
		"expected %s", nfsv4.Nfsstat4_name[want])
}

func policy(statements ...string) string {
	doc := `{"Version":"2012-10-17","Statement":[`
	for i, s := range statements {
		if i > 0 {
			doc += ","
		}
		doc += s
	}
	return doc + `]}`
}

const (
	allowMount = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}`
	allowWrite = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientWrite"}`
	allowRoot  = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientRootAccess"}`
)

func TestNFSFileSystemPolicies(t *testing.T) {
	e := newAccessEnv(t)
	root := e.client(0, 0, false)
	mkdir := func(name string) []nfsv4.NfsArgop4 {
		return []nfsv4.NfsArgop4{nfstest.PutRootFH(), nfstest.Mkdir(name, 0o777)}
	}
	lookup := []nfsv4.NfsArgop4{nfstest.PutRootFH(), nfstest.Lookup("shared"), nfstest.GetAttr(nfsv4.FATTR4_MODE)}

	// No policy: EFS's default, full access, root not squashed.
	require.Equal(t, nfsv4.NFS4_OK, status(t, root, mkdir("shared")...))

	// Without ClientWrite the connection is read-only.
	e.putPolicy(policy(allowMount, allowRoot))
	eventually(t, root, nfsv4.NFS4ERR_ACCESS, nfstest.PutRootFH(), nfstest.Lookup("shared"), nfstest.Remove("nothing"))
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, root, mkdir("other")...))
	require.Equal(t, nfsv4.NFS4_OK, status(t, root, lookup...))

	// Without ClientRootAccess root is squashed to 65534: "/" (root's,
	// 0755) is closed to it, the world-writable directory is not.
	e.putPolicy(policy(allowMount, allowWrite))
	eventually(t, root, nfsv4.NFS4_OK, nfstest.PutRootFH(), nfstest.Lookup("shared"), nfstest.Mkdir("probe", 0o755))
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, root, mkdir("never")...))
	res, err := root.Do(context.Background(), nfstest.PutRootFH(), nfstest.Lookup("shared"), nfstest.Mkdir("squashed", 0o755),
		nfstest.GetAttr(nfsv4.FATTR4_OWNER))
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, res.Status)
	info, err := nfstest.DecodeAttrs(nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
	require.NoError(t, err)
	require.Equal(t, "65534", info.Owner)

	// A policy that demands TLS refuses plain connections and accepts TLS
	// ones.
	e.putPolicy(policy(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite","elasticfilesystem:ClientRootAccess"],"Condition":{"Bool":{"aws:SecureTransport":"true"}}}`))
	eventually(t, root, nfsv4.NFS4ERR_ACCESS, nfstest.PutRootFH())
	plain := nfstest.New(mustDial(t, e.addr), 1, "plain")
	require.NoError(t, plain.Mount(context.Background()))
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, plain, nfstest.PutRootFH()))
	secure := e.client(0, 0, true)
	require.Equal(t, nfsv4.NFS4_OK, status(t, secure, mkdir("over-tls")...))

	// An explicit Deny of ClientMount to everyone cuts off live
	// connections within the window.
	e.putPolicy(policy(`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}`))
	eventually(t, secure, nfsv4.NFS4ERR_ACCESS, nfstest.PutRootFH())

	// Back to the default.
	require.NoError(t, e.s.Control().DeleteFileSystemPolicy(context.Background(), e.fsID))
	eventually(t, root, nfsv4.NFS4_OK, mkdir("again")...)

	// Each connection's authorizations are in the trail.
	var newConns, updates int
	var lastDetails map[string]any
	err = audit.NewLog(e.s.Meta()).Scan(context.Background(), 0, func(_ uint64, ev *audit.Event) error {
		switch ev.EventName {
		case "NewClientConnection":
			newConns++
		case "UpdateClientConnection":
			updates++
			require.NoError(t, json.Unmarshal(ev.ServiceEventDetails, &lastDetails))
		default:
			return nil
		}
		require.Equal(t, "elasticfilesystem.amazonaws.com", ev.EventSource)
		require.Equal(t, audit.EventTypeServiceEvent, ev.EventType)
		require.Equal(t, "AWS::EFS::FileSystem", ev.Resources[0].Type)
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, newConns, 3, "root, plain and secure connections")
	require.GreaterOrEqual(t, updates, 4)
	require.Equal(t, "127.0.0.1", lastDetails["sourceIpAddress"])
}

func mustDial(t *testing.T, addr string) *nfstest.TCP {
	t.Helper()
	tr, err := nfstest.Dial(context.Background(), addr, rpc.Credentials{Flavor: rpc.AuthSys})
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestNFSCertificateAuthority(t *testing.T) {
	e := newAccessEnv(t)
	pem, err := os.ReadFile(filepath.Join(e.s.DataDir(), CAFileName))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	host, _, err := net.SplitHostPort(e.addr)
	require.NoError(t, err)
	for _, name := range []string{e.fsID + ".efs.us-east-1.amazonaws.com", "us-east-1a." + e.fsID + ".efs.us-east-1.amazonaws.com", host} {
		c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
		require.NoError(t, err, name)
		c.Close()
	}
	_, err = tls.Dial("tcp", e.addr, &tls.Config{RootCAs: pool, ServerName: "fs-99999999.efs.us-east-1.amazonaws.com", MinVersion: tls.VersionTLS12})
	require.Error(t, err, "the certificate names its own file system only")

	// The CA survives a restart: the same ca.pem is written again.
	require.NoError(t, os.Remove(filepath.Join(e.cfg.DataDir, CAFileName)))
	e.stop()
	newServer(t, e.cfg)
	again, err := os.ReadFile(filepath.Join(e.cfg.DataDir, CAFileName))
	require.NoError(t, err)
	require.Equal(t, pem, again)
}

// clientCert is an efs-utils client certificate and its key.
func clientCert(t *testing.T, fsID, apID string, creds *efscert.AWSCredentials, now time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := efscert.Build(efscert.Request{Key: key, Hostname: "client-host", FileSystemID: fsID, AccessPointID: apID,
		Credentials: creds, Region: "us-east-1", ClientInfo: &efscert.ClientInfo{Source: "test", Version: "2.0.0"}, Now: now})
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// tlsClient mounts over TLS with a client certificate.
func (e *accessEnv) tlsClient(cert *tls.Certificate, uid, gid uint32) (*nfstest.Client, error) {
	e.t.Helper()
	pem, err := os.ReadFile(filepath.Join(e.s.DataDir(), CAFileName))
	require.NoError(e.t, err)
	pool := x509.NewCertPool()
	require.True(e.t, pool.AppendCertsFromPEM(pem))
	cfg := &tls.Config{RootCAs: pool, ServerName: e.fsID + ".efs.us-east-1.amazonaws.com", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.Dial("tcp", e.addr, cfg)
	require.NoError(e.t, err)
	tr := nfstest.NewTCP(conn, rpc.Credentials{Flavor: rpc.AuthSys, UID: uid, GID: gid})
	e.t.Cleanup(func() { tr.Close() })
	e.clients++
	c := nfstest.New(tr, 1, "tls-client-"+strconv.Itoa(e.clients))
	return c, c.Mount(context.Background())
}

func TestNFSIAMIdentityAndAccessPoints(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	u := e.s.Users()
	_, err := u.CreateUser(ctx, "alice", "/")
	require.NoError(t, err)
	key, secret, err := u.CreateAccessKey(ctx, "alice")
	require.NoError(t, err)
	alice := &efscert.AWSCredentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: secret}
	now := time.Now()

	// Only alice may mount; anonymous TLS clients may not.
	e.putPolicy(policy(`{"Effect":"Allow","Principal":{"AWS":"` + u.UserARN("/", "alice") + `"},"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]}`))
	anon := clientCert(t, e.fsID, "", nil, now)
	c, err := e.tlsClient(&anon, 1000, 1000)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, c, nfstest.PutRootFH()))
	signed := clientCert(t, e.fsID, "", alice, now)
	c, err = e.tlsClient(&signed, 1000, 1000)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, status(t, c, nfstest.PutRootFH(), nfstest.GetAttr(nfsv4.FATTR4_MODE)))

	// Certificates that fail verification end the connection.
	wrongSecret := "x" + secret[1:]
	if wrongSecret == secret {
		wrongSecret = "y" + secret[1:]
	}
	for name, bad := range map[string]tls.Certificate{
		"other file system": clientCert(t, "fs-99999999", "", alice, now),
		"expired":           clientCert(t, e.fsID, "", alice, now.Add(-48*time.Hour)),
		"unknown key":       clientCert(t, e.fsID, "", &efscert.AWSCredentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret}, now),
		"wrong secret":      clientCert(t, e.fsID, "", &efscert.AWSCredentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: wrongSecret}, now),
	} {
		_, err := e.tlsClient(&bad, 0, 0)
		require.Error(t, err, name)
	}
	require.Equal(t, uint64(4), e.s.NFS().Stats().CertificateRefusals)

	// An access point: its user replaces the client's, its root directory
	// is created at the first mount and is the client's "/".
	require.NoError(t, e.s.Control().DeleteFileSystemPolicy(ctx, e.fsID))
	ap, err := e.s.Control().CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "ap-1", FileSystemID: e.fsID,
		PosixUser:     &control.PosixUser{UID: 1001, GID: 1002},
		RootDirectory: &control.RootDirectory{Path: "/apps/one", CreationInfo: &control.CreationInfo{OwnerUID: 1001, OwnerGID: 1002, Permissions: "750"}}})
	require.NoError(t, err)
	apCert := clientCert(t, e.fsID, ap.ID, alice, now)
	c, err = e.tlsClient(&apCert, 0, 0)
	require.NoError(t, err)
	res, err := c.Do(ctx, nfstest.PutRootFH(), nfstest.GetAttr(nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP, nfsv4.FATTR4_MODE))
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, res.Status)
	info, err := nfstest.DecodeAttrs(nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
	require.NoError(t, err)
	require.Equal(t, "1001", info.Owner)
	require.Equal(t, "1002", info.Group)
	require.Equal(t, uint32(0o750), info.Mode&0o7777)
	require.Equal(t, nfsv4.NFS4ERR_NOENT, status(t, c, nfstest.PutRootFH(), nfstest.LookupP()))
	res, err = c.Do(ctx, nfstest.PutRootFH(), nfstest.Mkdir("made", 0o755), nfstest.GetAttr(nfsv4.FATTR4_OWNER))
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, res.Status)
	info, err = nfstest.DecodeAttrs(nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes)
	require.NoError(t, err)
	require.Equal(t, "1001", info.Owner, "the client said root; the access point says 1001")
	admin := e.client(0, 0, false)
	require.Equal(t, nfsv4.NFS4_OK, status(t, admin, nfstest.PutRootFH(), nfstest.Lookup("apps"), nfstest.Lookup("one"), nfstest.Lookup("made")))

	// An access point whose directory is missing and has no CreationInfo
	// cannot be mounted; one that imposes root needs ClientRootAccess.
	noDir, err := e.s.Control().CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "ap-2", FileSystemID: e.fsID,
		RootDirectory: &control.RootDirectory{Path: "/missing"}})
	require.NoError(t, err)
	cert := clientCert(t, e.fsID, noDir.ID, nil, now)
	c, err = e.tlsClient(&cert, 0, 0)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, c, nfstest.PutRootFH()))
	rootAP, err := e.s.Control().CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "ap-3", FileSystemID: e.fsID,
		PosixUser: &control.PosixUser{UID: 0, GID: 0}})
	require.NoError(t, err)
	e.putPolicy(policy(allowMount, allowWrite))
	cert = clientCert(t, e.fsID, rootAP.ID, nil, now)
	c, err = e.tlsClient(&cert, 0, 0)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, c, nfstest.PutRootFH()))

	// Deleting an access point lets its connections finish and refuses
	// new ones.
	require.NoError(t, e.s.Control().DeleteFileSystemPolicy(ctx, e.fsID))
	live, err := e.tlsClient(&apCert, 0, 0)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4_OK, status(t, live, nfstest.PutRootFH()))
	require.NoError(t, e.s.Control().DeleteAccessPoint(ctx, ap.ID))
	time.Sleep(100 * time.Millisecond) // past the permission cache window
	require.Equal(t, nfsv4.NFS4_OK, status(t, live, nfstest.PutRootFH(), nfstest.Lookup("made")))
	c, err = e.tlsClient(&apCert, 0, 0)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_ACCESS, status(t, c, nfstest.PutRootFH()))
}

func TestNFSStaticExportOfAControlledFileSystem(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	addr, err := e.s.NFS().AddListener(ctx, "127.0.0.1:0", e.fsID, staticMountTargetPrefix+"dev")
	require.NoError(t, err)
	tr, err := nfstest.Dial(ctx, addr.String(), rpc.Credentials{Flavor: rpc.AuthSys})
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	c := nfstest.New(tr, 1, "static-client")
	require.NoError(t, c.Mount(ctx))
	// No policy: EFS's default allows clients of mount targets, and a
	// static export is one.
	require.Equal(t, nfsv4.NFS4_OK, status(t, c, nfstest.PutRootFH(), nfstest.Mkdir("from-static", 0o755)))
	// Its file system's policy applies there too.
	e.putPolicy(policy(allowMount, allowRoot))
	eventually(t, c, nfsv4.NFS4ERR_ACCESS, nfstest.PutRootFH(), nfstest.Mkdir("read-only", 0o755))
}
