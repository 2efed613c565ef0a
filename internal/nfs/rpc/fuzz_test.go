package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/stretchr/testify/require"
)

func FuzzRecordReader(f *testing.F) {
	f.Add(record([]byte("hello"), 2))
	f.Add(append(record(make([]byte, 100), 30), record([]byte{1}, 1)...))
	f.Add(u32(lastFragmentBit | 1<<30))
	f.Add(u32(0, 0, 0, lastFragmentBit))
	f.Add([]byte{0x80, 0, 0})
	const maxBytes = 4096
	f.Fuzz(func(t *testing.T, in []byte) {
		spy := &readSpy{r: bytes.NewReader(in)}
		rr := recordReader{r: spy, maxBytes: maxBytes}
		consumed := 0
		for {
			rec, err := rr.next()
			if err != nil {
				break
			}
			require.LessOrEqual(t, cap(rec), maxBytes)
			consumed += len(rec) + recordMarkerBytes
			require.LessOrEqual(t, consumed, len(in))
		}
		// Reads (hence allocations) are bounded by the limit, whatever
		// the headers claim.
		require.LessOrEqual(t, spy.maxRead, max(maxBytes, recordMarkerBytes))
	})
}

// captureConn is a net.Conn that records what is written to it.
type captureConn struct {
	net.Conn // nil: other methods are not used
	mu       sync.Mutex
	out      bytes.Buffer
	closed   bool
}

func (c *captureConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }
func (c *captureConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// FuzzCall feeds one record to the call decoder: the RPC header, the
// credential and verifier, and the test program's arguments.
func FuzzCall(f *testing.F) {
	sys := authSys(f, rpcv2.AuthsysParms{Stamp: 1, Machinename: "client", Uid: 1000, Gid: 1000, Gids: []uint32{1, 2, 3}})
	f.Add(callMsg(1, testProg, testVers, procNull, authNone, authNone, nil))
	f.Add(callMsg(2, testProg, testVers, procEcho, sys, authNone, echoArgs([]byte("abc"))))
	f.Add(callMsg(3, testProg, testVers, procWhoAmI, sys, authNone, nil))
	f.Add(callMsg(4, testProg, 9, procNull, sys, authNone, nil))
	f.Add(callMsg(5, 77, testVers, procNull, authNone, authNone, nil))
	f.Add(callMsg(6, testProg, testVers, procGarbage, authNone, authNone, nil))
	f.Add(callMsg(7, testProg, testVers, procEcho, authNone, authNone, u32(1<<31)))
	f.Add(u32(8, 0, 2))
	f.Add(u32(9, 1, 0, 0))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		p := newTestProgram()
		srv := NewServer(map[uint32]Program{testProg: Versions(testVers, testVers, p.serve)}, Options{Logger: slog.New(slog.DiscardHandler)})
		nc := &captureConn{}
		info := &Conn{ID: 1}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := &conn{s: srv, nc: nc, info: info, base: ctx, ctx: WithConn(ctx, info), cancel: cancel, log: srv.log}
		// procBlock would wait for ever: let it go at once.
		close(p.release)

		c.handle(in)

		out := nc.out.Bytes()
		if len(out) == 0 {
			return
		}
		rr := recordReader{r: bytes.NewReader(out), maxBytes: 1 << 30}
		rec, err := rr.next()
		require.NoError(t, err)
		_, err = rr.next()
		require.Error(t, err, "at most one reply per call")
		rep, err := parseReply(rec)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(in), 4)
		require.Equal(t, binary.BigEndian.Uint32(in), rep.xid)
	})
}

// FuzzTLSProbe checks that telling an RFC 9289 probe from a call never
// panics, whatever the record holds.
func FuzzTLSProbe(f *testing.F) {
	f.Add(callMsg(1, testProg, testVers, 0, rpcv2.OpaqueAuth{Flavor: authTLS, Body: []byte{}}, authNone, nil))
	f.Add(callMsg(2, testProg, testVers, 0, authNone, authNone, nil))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if isTLSProbe(in) {
			r := bytes.NewReader(in)
			var m rpcv2.RpcMsg
			if _, err := m.ReadFrom(r); err != nil {
				t.Fatalf("a probe must be a decodable call: %v", err)
			}
			call, ok := m.Body.(*rpcv2.RpcMsgBody_CALL)
			if !ok || call.Cbody.Cred.Flavor != authTLS || call.Cbody.Proc != 0 {
				t.Fatalf("not a NULL call with AUTH_TLS: %#v", m.Body)
			}
		}
	})
}
