// Package nfstest is an NFSv4.1 and NFSv4.0 client over the go-xdr types for
// fine-grained protocol tests: session and slot handling, reply-cache
// replays, stateid rules, bad handles. It talks to nfs.Program.Serve
// directly (Direct) or to any NFSv4 server over TCP (Dial). It checks
// little itself: tests look at the replies.
//
// nfstest imports nfs/rpc for the request context; it must not import
// engines (tests that need a file system build one in _test.go files).
package nfstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"

	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// Transport carries one call of program 100003 version 4.
type Transport interface {
	// Call runs procedure proc with the encoded arguments and returns the
	// encoded results. A reply that is not SUCCESS is an *AcceptError.
	Call(ctx context.Context, proc uint32, args []byte) ([]byte, error)
}

// AcceptError is an RPC reply whose accept status is not SUCCESS.
type AcceptError struct{ Stat rpcv2.AcceptStat }

func (e *AcceptError) Error() string { return fmt.Sprintf("nfstest: RPC accept status %d", e.Stat) }

// ServeFunc is the signature of nfs.Program.Serve (a go-xdr
// rpcserver.Service).
type ServeFunc func(ctx context.Context, vers, proc uint32, args io.ReadCloser, newReturnValue func(size int) io.Writer) (rpcv2.AcceptedReplyData, error)

// Direct calls a ServeFunc in process, with Conn and Cred in the request
// context as the RPC layer would put them.
type Direct struct {
	Serve ServeFunc
	Conn  rpc.Conn
	Cred  rpc.Credentials
	// Vers is the program version to call (4 when zero).
	Vers uint32
	// Context, when set, adds to the context of every call what a
	// server's rpc.Options.ConnContext would (an nfs.Gate, say).
	Context func(context.Context) context.Context
}

// Call implements Transport.
func (d *Direct) Call(ctx context.Context, proc uint32, args []byte) ([]byte, error) {
	conn, cred := d.Conn, d.Cred
	ctx = rpc.WithCredentials(rpc.WithConn(ctx, &conn), &cred)
	if d.Context != nil {
		ctx = d.Context(ctx)
	}
	vers := d.Vers
	if vers == 0 {
		vers = 4
	}
	var out *bytes.Buffer
	rd, err := d.Serve(ctx, vers, proc, io.NopCloser(bytes.NewReader(args)), func(n int) io.Writer {
		out = bytes.NewBuffer(make([]byte, 0, n))
		return out
	})
	if err != nil {
		return nil, err
	}
	if rd.GetStat() != rpcv2.SUCCESS {
		return nil, &AcceptError{Stat: rd.GetStat()}
	}
	if out == nil {
		return nil, nil
	}
	return out.Bytes(), nil
}

// TCP is a Transport over an ONC RPC connection (RFC 5531 record marking)
// with AUTH_SYS credentials. Calls are sent one at a time.
type TCP struct {
	Cred rpc.Credentials

	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	xid  uint32
}

// Dial connects to an NFS server at addr ("host:port").
func Dial(ctx context.Context, addr string, cred rpc.Credentials) (*TCP, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &TCP{Cred: cred, conn: conn, r: bufio.NewReader(conn), xid: 1}, nil
}

// NewTCP returns a Transport over conn, a connection to an NFS server
// (a *tls.Conn, say); it takes ownership of conn.
func NewTCP(conn net.Conn, cred rpc.Credentials) *TCP {
	return &TCP{Cred: cred, conn: conn, r: bufio.NewReader(conn), xid: 1}
}

// Close closes the connection.
func (t *TCP) Close() error { return t.conn.Close() }

// Idle drops the read buffer until the next call, so that a connection held
// open without traffic costs the client almost nothing (load tests measure
// the server's memory per connection).
func (t *TCP) Idle() {
	t.mu.Lock()
	t.r = nil
	t.mu.Unlock()
}

func authSys(c rpc.Credentials) rpcv2.OpaqueAuth {
	if c.Flavor == rpc.AuthNone {
		return rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE}
	}
	p := rpcv2.AuthsysParms{Machinename: c.MachineName, Uid: c.UID, Gid: c.GID, Gids: c.GIDs}
	var b bytes.Buffer
	_, _ = p.WriteTo(&b)
	return rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: b.Bytes()}
}

// Call implements Transport.
func (t *TCP) Call(ctx context.Context, proc uint32, args []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r == nil {
		t.r = bufio.NewReaderSize(t.conn, 8<<10)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = t.conn.SetDeadline(dl)
		defer t.conn.SetDeadline(time.Time{})
	}
	t.xid++
	msg := rpcv2.RpcMsg{Xid: t.xid, Body: &rpcv2.RpcMsgBody_CALL{Cbody: rpcv2.CallBody{
		Rpcvers: 2, Prog: 100003, Vers: 4, Proc: proc, Cred: authSys(t.Cred), Verf: rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE}}}}
	var b bytes.Buffer
	b.Grow(4 + msg.GetEncodedSizeBytes())
	b.Write([]byte{0, 0, 0, 0})
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, err
	}
	hdr := b.Bytes()
	binary.BigEndian.PutUint32(hdr, uint32(len(hdr)-4+len(args))|0x80000000)
	// The header and the arguments go out in one writev, not copied
	// together first.
	if _, err := (&net.Buffers{hdr, args}).WriteTo(t.conn); err != nil {
		return nil, err
	}
	for {
		reply, err := t.readRecord()
		if err != nil {
			return nil, err
		}
		r := bytes.NewReader(reply)
		var m rpcv2.RpcMsg
		if _, err := m.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("nfstest: bad RPC reply: %w", err)
		}
		if m.Xid != t.xid {
			continue
		}
		body, ok := m.Body.(*rpcv2.RpcMsgBody_REPLY)
		if !ok {
			return nil, errors.New("nfstest: RPC message is not a reply")
		}
		acc, ok := body.Rbody.(*rpcv2.ReplyBody_MSG_ACCEPTED)
		if !ok {
			return nil, errors.New("nfstest: RPC call denied")
		}
		if st := acc.Areply.ReplyData.GetStat(); st != rpcv2.SUCCESS {
			return nil, &AcceptError{Stat: st}
		}
		// The rest of the record is the result: no copy.
		return reply[len(reply)-r.Len():], nil
	}
}

// maxRecordBytes bounds a reply record.
const maxRecordBytes = 8 << 20

func (t *TCP) readRecord() ([]byte, error) {
	var out []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(t.r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h &^ 0x80000000)
		if len(out)+n > maxRecordBytes {
			return nil, errors.New("nfstest: reply record too large")
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(t.r, frag); err != nil {
			return nil, err
		}
		if out == nil && h&0x80000000 != 0 {
			return frag, nil // one fragment: no second copy
		}
		out = append(out, frag...)
		if h&0x80000000 != 0 {
			return out, nil
		}
	}
}
