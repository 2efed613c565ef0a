package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	xdr "github.com/buildbarn/go-xdr/pkg/runtime"
	"github.com/stretchr/testify/require"
)

// The test program: number testProg, version testVers.
const (
	testProg = 0x2000_0001
	testVers = 1

	procEcho    = 1 // results: the arguments (opaque<>); odd lengths adopted
	procBlock   = 2 // waits on the test's release channel, results: empty
	procPanic   = 3
	procGarbage = 4 // reads a uint32, fails to decode
	procWhoAmI  = 5 // results: uid, gid, gids<>, machine name, conn fields
	procBadEnc  = 6 // calls newReturnValue, then fails
)

// testProgram is a small RPC program for the tests.
type testProgram struct {
	release chan struct{} // procBlock waits for a value
	started chan struct{} // procBlock sends when it starts (if not nil)
	mu      struct {
		sync.Mutex
		running, maxRunning int
	}
}

func newTestProgram() *testProgram {
	return &testProgram{release: make(chan struct{})}
}

func (p *testProgram) serve(ctx context.Context, vers, proc uint32, args io.ReadCloser, newReturnValue func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
	switch proc {
	case procEcho:
		b, _, err := xdr.ReadVariableLengthOpaque(args, 1<<30)
		args.Close()
		if err != nil {
			return nil, err
		}
		w := newReturnValue(4 + len(b) + 3)
		if a, ok := w.(interface{ Adopt(...[]byte) }); ok && len(b)%2 == 1 {
			// Odd lengths go through the server's no-copy path, in
			// parts.
			var enc bytes.Buffer
			if _, err := xdr.WriteVariableLengthOpaque(&enc, 1<<30, b); err != nil {
				return nil, err
			}
			e := enc.Bytes()
			a.Adopt(e[:4], e[4:4+len(e)/3], nil, e[4+len(e)/3:])
			break
		}
		if _, err := xdr.WriteVariableLengthOpaque(w, 1<<30, b); err != nil {
			return nil, err
		}
	case procBlock:
		args.Close()
		p.mu.Lock()
		p.mu.running++
		p.mu.maxRunning = max(p.mu.maxRunning, p.mu.running)
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.mu.running--
			p.mu.Unlock()
		}()
		if p.started != nil {
			p.started <- struct{}{}
		}
		select {
		case <-p.release:
		case <-ctx.Done():
			return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.SYSTEM_ERR}, nil
		}
	case procPanic:
		panic("test panic")
	case procGarbage:
		_, _, err := xdr.ReadUnsignedInt(args)
		args.Close()
		if err == nil {
			err = errors.New("bad discriminant")
		}
		return nil, err
	case procWhoAmI:
		args.Close()
		cred, ok := CredentialsFromContext(ctx)
		if !ok {
			return nil, errors.New("no credentials")
		}
		c, ok := ConnFromContext(ctx)
		if !ok {
			return nil, errors.New("no conn")
		}
		var b bytes.Buffer
		for _, v := range []uint32{uint32(cred.Flavor), cred.UID, cred.GID, uint32(len(cred.GIDs))} {
			xdr.WriteUnsignedInt(&b, v)
		}
		for _, g := range cred.GIDs {
			xdr.WriteUnsignedInt(&b, g)
		}
		for _, s := range []string{cred.MachineName, c.FileSystemID, c.MountTargetID, c.Local.String(), c.Remote.String()} {
			xdr.WriteVariableLengthOpaque(&b, 1024, []byte(s))
		}
		xdr.WriteUnsignedHyper(&b, c.ID)
		w := newReturnValue(b.Len())
		w.Write(b.Bytes())
	case procBadEnc:
		args.Close()
		newReturnValue(4)
		return nil, errors.New("results too large for their type")
	default:
		args.Close()
		return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.PROC_UNAVAIL}, nil
	}
	return &rpcv2.AcceptedReplyData_SUCCESS{}, nil
}

func (p *testProgram) maxRunning() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.maxRunning
}

// harness is a Server serving the test program on a loopback listener.
type harness struct {
	t     *testing.T
	srv   *Server
	prog  *testProgram
	addr  string
	serve chan error
}

func startHarness(t *testing.T, opts Options) *harness {
	return startHarnessCtx(t, context.Background(), opts)
}

func startHarnessCtx(t *testing.T, ctx context.Context, opts Options) *harness {
	t.Helper()
	p := newTestProgram()
	srv := NewServer(map[uint32]Program{testProg: Versions(testVers, testVers, p.serve)}, opts)
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	h := &harness{t: t, srv: srv, prog: p, addr: ln.Addr().String(), serve: make(chan error, 1)}
	go func() {
		h.serve <- srv.Serve(ctx, ln, Conn{FileSystemID: "fs-0123456789abcdef0", MountTargetID: "fsmt-0123456789abcdef0"})
	}()
	t.Cleanup(func() { srv.Close() })
	return h
}

func (h *harness) dial() *net.TCPConn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { c.Close() })
	require.NoError(h.t, c.SetDeadline(time.Now().Add(30*time.Second)))
	return c.(*net.TCPConn)
}

var authNone = rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE, Body: []byte{}}

func authSys(t testing.TB, p rpcv2.AuthsysParms) rpcv2.OpaqueAuth {
	var b bytes.Buffer
	_, err := p.WriteTo(&b)
	require.NoError(t, err)
	return rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: b.Bytes()}
}

// callMsg is an encoded rpc_msg CALL (without record marking).
func callMsg(xid, prog, vers, proc uint32, cred, verf rpcv2.OpaqueAuth, args []byte) []byte {
	m := rpcv2.RpcMsg{Xid: xid, Body: &rpcv2.RpcMsgBody_CALL{Cbody: rpcv2.CallBody{
		Rpcvers: 2, Prog: prog, Vers: vers, Proc: proc, Cred: cred, Verf: verf,
	}}}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		panic(err)
	}
	b.Write(args)
	return b.Bytes()
}

// record frames msg as one record of fragments of at most fragBytes.
func record(msg []byte, fragBytes int) []byte {
	var b bytes.Buffer
	for {
		n := min(len(msg), fragBytes)
		h := uint32(n)
		if n == len(msg) {
			h |= lastFragmentBit
		}
		binary.Write(&b, binary.BigEndian, h)
		b.Write(msg[:n])
		msg = msg[n:]
		if len(msg) == 0 {
			return b.Bytes()
		}
	}
}

func echoArgs(payload []byte) []byte {
	var b bytes.Buffer
	xdr.WriteVariableLengthOpaque(&b, 1<<30, payload)
	return b.Bytes()
}

// reply is a decoded reply record.
type reply struct {
	xid     uint32
	body    rpcv2.ReplyBody
	results []byte
}

func (r reply) acceptStat() rpcv2.AcceptStat {
	a, ok := r.body.(*rpcv2.ReplyBody_MSG_ACCEPTED)
	if !ok {
		return -1
	}
	return a.Areply.ReplyData.GetStat()
}

func parseReply(rec []byte) (reply, error) {
	r := bytes.NewReader(rec)
	var m rpcv2.RpcMsg
	if _, err := m.ReadFrom(r); err != nil {
		return reply{}, err
	}
	body, ok := m.Body.(*rpcv2.RpcMsgBody_REPLY)
	if !ok {
		return reply{}, errors.New("not a reply")
	}
	rest, _ := io.ReadAll(r)
	return reply{xid: m.Xid, body: body.Rbody, results: rest}, nil
}

func readReply(t testing.TB, r io.Reader) reply {
	t.Helper()
	rr := recordReader{r: r, maxBytes: 1 << 30}
	rec, err := rr.next()
	require.NoError(t, err)
	rep, err := parseReply(rec)
	require.NoError(t, err)
	return rep
}

// roundTrip sends one call and returns its reply.
func roundTrip(t testing.TB, c net.Conn, msg []byte) reply {
	t.Helper()
	_, err := c.Write(record(msg, 1<<30))
	require.NoError(t, err)
	return readReply(t, c)
}

// requireClosed checks that the server closes c without sending anything.
func requireClosed(t testing.TB, c net.Conn) {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		// Closing with unread data in the receive buffer resets.
		require.ErrorIs(t, err, syscall.ECONNRESET, "the server should close the connection")
	}
	require.Empty(t, b, "the server should send nothing")
}
