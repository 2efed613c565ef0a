// Package load holds the load test of shelfd's NFS front end: 1,000
// concurrent NFSv4.1 client connections doing small operations against a
// real shelfd in process, with the memory and goroutines each connection
// costs the server. It runs with SHELF_LOAD=1 (make load).
package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
)

// conn is an nfstest.Transport over one TCP connection (RFC 5531 record
// marking, AUTH_SYS as root), one call at a time. Unlike nfstest.TCP it
// can drop its read buffer (idle), so that a connection held open without
// traffic costs the client side almost nothing and the process's memory
// growth is the server's.
type conn struct {
	c   net.Conn
	r   *bufio.Reader // nil while idle
	xid uint32
	// cred is the encoded AUTH_SYS credential.
	cred rpcv2.OpaqueAuth
}

func dial(ctx context.Context, addr string, machine string) (*conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p := rpcv2.AuthsysParms{Machinename: machine}
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		c.Close()
		return nil, err
	}
	return &conn{c: c, xid: 1, cred: rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: b.Bytes()}}, nil
}

// idle drops the read buffer until the next call.
func (t *conn) idle() { t.r = nil }

func (t *conn) Close() error { return t.c.Close() }

// Call implements nfstest.Transport.
func (t *conn) Call(ctx context.Context, proc uint32, args []byte) ([]byte, error) {
	if t.r == nil {
		t.r = bufio.NewReaderSize(t.c, 8<<10)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = t.c.SetDeadline(dl)
		defer t.c.SetDeadline(time.Time{})
	}
	t.xid++
	msg := rpcv2.RpcMsg{Xid: t.xid, Body: &rpcv2.RpcMsgBody_CALL{Cbody: rpcv2.CallBody{
		Rpcvers: 2, Prog: 100003, Vers: 4, Proc: proc, Cred: t.cred, Verf: rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE}}}}
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0, 0})
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, err
	}
	b.Write(args)
	rec := b.Bytes()
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4)|0x80000000)
	if _, err := t.c.Write(rec); err != nil {
		return nil, err
	}
	reply, err := t.readRecord()
	if err != nil {
		return nil, err
	}
	r := bytes.NewReader(reply)
	var m rpcv2.RpcMsg
	if _, err := m.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("load: bad RPC reply: %w", err)
	}
	if m.Xid != t.xid {
		return nil, fmt.Errorf("load: reply xid %d, want %d", m.Xid, t.xid)
	}
	body, ok := m.Body.(*rpcv2.RpcMsgBody_REPLY)
	if !ok {
		return nil, errors.New("load: RPC message is not a reply")
	}
	acc, ok := body.Rbody.(*rpcv2.ReplyBody_MSG_ACCEPTED)
	if !ok {
		return nil, errors.New("load: RPC call denied")
	}
	if st := acc.Areply.ReplyData.GetStat(); st != rpcv2.SUCCESS {
		return nil, fmt.Errorf("load: RPC accept status %d", st)
	}
	return io.ReadAll(r)
}

// maxRecordBytes bounds a reply record.
const maxRecordBytes = 1 << 20

func (t *conn) readRecord() ([]byte, error) {
	var out []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(t.r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h &^ 0x80000000)
		if len(out)+n > maxRecordBytes {
			return nil, errors.New("load: reply record too large")
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(t.r, frag); err != nil {
			return nil, err
		}
		out = append(out, frag...)
		if h&0x80000000 != 0 {
			return out, nil
		}
	}
}
