package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	xdr "github.com/buildbarn/go-xdr/pkg/runtime"
	"github.com/stretchr/testify/require"
)

func u32(vs ...uint32) []byte {
	var b bytes.Buffer
	for _, v := range vs {
		binary.Write(&b, binary.BigEndian, v)
	}
	return b.Bytes()
}

func TestMalformedInput(t *testing.T) {
	const maxRecord = 4096
	h := startHarness(t, Options{MaxRecordBytes: maxRecord})
	sys := func(p rpcv2.AuthsysParms) rpcv2.OpaqueAuth { return authSys(t, p) }
	call := func(xid, prog, vers, proc uint32, cred rpcv2.OpaqueAuth, args []byte) []byte {
		return record(callMsg(xid, prog, vers, proc, cred, authNone, args), 1<<30)
	}
	trailing := sys(rpcv2.AuthsysParms{Machinename: "m"})
	trailing.Body = append(trailing.Body, 0, 0, 0, 0)
	badVerf := callMsg(7, testProg, testVers, procNull, authNone, rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: []byte{}}, nil)
	badRPCVers := callMsg(8, testProg, testVers, procNull, authNone, authNone, nil)
	binary.BigEndian.PutUint32(badRPCVers[8:], 3)

	type want struct {
		closed bool // the connection is closed without a reply
		accept rpcv2.AcceptStat
		reject rpcv2.RejectedReply
	}
	tests := []struct {
		name string
		in   []byte
		want want
	}{
		{"null", call(1, testProg, testVers, procNull, authNone, nil), want{accept: rpcv2.SUCCESS}},
		{"oversized record", u32(lastFragmentBit | (maxRecord - 3)), want{closed: true}},
		{"oversized fragment header", u32(0x7fff_ffff), want{closed: true}},
		{"oversized over fragments", append(u32(2000), append(make([]byte, 2000), u32(lastFragmentBit|2100)...)...), want{closed: true}},
		{"truncated fragment", append(u32(lastFragmentBit|100), make([]byte, 10)...), want{closed: true}},
		{"truncated record marker", []byte{0x80, 0}, want{closed: true}},
		{"record shorter than a header", record([]byte{0, 0, 0, 1}, 100), want{closed: true}},
		{"neither call nor reply", record(u32(9, 7), 100), want{closed: true}},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, want{closed: true}},
		{"bad rpcvers", record(badRPCVers, 1<<30), want{reject: &rpcv2.RejectedReply_RPC_MISMATCH{MismatchInfo: struct {
			Low  uint32
			High uint32
		}{2, 2}}}},
		{"truncated call header", record(u32(9, 0, 2, testProg), 100), want{accept: rpcv2.GARBAGE_ARGS}},
		{"unknown program", call(10, 123456, 1, procNull, authNone, nil), want{accept: rpcv2.PROG_UNAVAIL}},
		{"wrong version", call(11, testProg, testVers+1, procNull, authNone, nil), want{accept: rpcv2.PROG_MISMATCH}},
		{"unknown procedure", call(12, testProg, testVers, 99, authNone, nil), want{accept: rpcv2.PROC_UNAVAIL}},
		{"unsupported flavor", call(13, testProg, testVers, procNull, rpcv2.OpaqueAuth{Flavor: rpcv2.RPCSEC_GSS, Body: []byte{1, 2, 3, 4}}, nil),
			want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"credential over 400 bytes", record(append(u32(14, 0, 2, testProg, testVers, 0, 1, 404), make([]byte, 404+8)...), 1<<30),
			want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"machine name over 255 bytes", call(15, testProg, testVers, procNull, rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS,
			Body: append(u32(0, 256), make([]byte, 256+12)...)}, nil), want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"17 gids", call(16, testProg, testVers, procNull, rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: append(u32(0, 0, 0, 0, 17), make([]byte, 17*4)...)}, nil),
			want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"truncated authsys", call(17, testProg, testVers, procNull, rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: u32(0, 0)}, nil),
			want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"bytes after authsys", call(18, testProg, testVers, procNull, trailing, nil),
			want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED}}},
		{"bad verifier", record(badVerf, 1<<30), want{reject: &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADVERF}}},
		{"undecodable arguments", call(19, testProg, testVers, procGarbage, authNone, u32(1)), want{accept: rpcv2.GARBAGE_ARGS}},
		{"truncated arguments", call(20, testProg, testVers, procEcho, authNone, u32(100, 1)), want{accept: rpcv2.GARBAGE_ARGS}},
		{"program panics", call(21, testProg, testVers, procPanic, authNone, nil), want{accept: rpcv2.SYSTEM_ERR}},
		{"results fail to encode", call(22, testProg, testVers, procBadEnc, authNone, nil), want{accept: rpcv2.SYSTEM_ERR}},
		{"reply on the back channel is ignored", append(record(u32(23, 1, 0, 0, 0, 0), 100), call(24, testProg, testVers, procNull, authNone, nil)...),
			want{accept: rpcv2.SUCCESS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial()
			_, err := c.Write(tt.in)
			require.NoError(t, err)
			if tt.want.closed {
				require.NoError(t, c.CloseWrite())
				requireClosed(t, c)
			} else {
				rep := readReply(t, c)
				xid := binary.BigEndian.Uint32(tt.in[4:8])
				if tt.name == "reply on the back channel is ignored" {
					xid = 24
				}
				require.Equal(t, xid, rep.xid)
				if tt.want.reject != nil {
					d, ok := rep.body.(*rpcv2.ReplyBody_MSG_DENIED)
					require.True(t, ok, "want MSG_DENIED, got %#v", rep.body)
					require.Equal(t, tt.want.reject, d.Rreply)
				} else {
					require.Equal(t, tt.want.accept, rep.acceptStat())
					if tt.want.accept == rpcv2.PROG_MISMATCH {
						m := rep.body.(*rpcv2.ReplyBody_MSG_ACCEPTED).Areply.ReplyData.(*rpcv2.AcceptedReplyData_PROG_MISMATCH)
						require.Equal(t, uint32(testVers), m.MismatchInfo.Low)
						require.Equal(t, uint32(testVers), m.MismatchInfo.High)
					}
					require.Empty(t, rep.results)
				}
				// The connection keeps working.
				rep = roundTrip(t, c, callMsg(99, testProg, testVers, procEcho, authNone, authNone, echoArgs([]byte("still here"))))
				require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
				require.Equal(t, echoArgs([]byte("still here")), rep.results)
			}
			// Other clients are served throughout.
			other := h.dial()
			rep := roundTrip(t, other, callMsg(100, testProg, testVers, procNull, authNone, authNone, nil))
			require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
		})
	}
}

func TestCredentialsAndConnInContext(t *testing.T) {
	h := startHarness(t, Options{})
	whoami := func(t *testing.T, cred rpcv2.OpaqueAuth) (vals []uint32, strs []string, id uint64) {
		c := h.dial()
		rep := roundTrip(t, c, callMsg(1, testProg, testVers, procWhoAmI, cred, authNone, nil))
		require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
		r := bytes.NewReader(rep.results)
		for range 4 {
			v, _, err := xdr.ReadUnsignedInt(r)
			require.NoError(t, err)
			vals = append(vals, v)
		}
		for range vals[3] {
			v, _, err := xdr.ReadUnsignedInt(r)
			require.NoError(t, err)
			vals = append(vals, v)
		}
		for range 5 {
			s, _, err := xdr.ReadVariableLengthOpaque(r, 1024)
			require.NoError(t, err)
			strs = append(strs, string(s))
		}
		id, _, err := xdr.ReadUnsignedHyper(r)
		require.NoError(t, err)
		require.Equal(t, c.LocalAddr().String(), strs[4], "remote address as the server sees it")
		require.Equal(t, h.addr, strs[3])
		return vals, strs, id
	}

	vals, strs, id1 := whoami(t, authSys(t, rpcv2.AuthsysParms{Stamp: 5, Machinename: "client-1", Uid: 1000, Gid: 100, Gids: []uint32{4, 27, 1000}}))
	require.Equal(t, []uint32{uint32(AuthSys), 1000, 100, 3, 4, 27, 1000}, vals)
	require.Equal(t, []string{"client-1", "fs-0123456789abcdef0", "fsmt-0123456789abcdef0"}, strs[:3])

	vals, strs, id2 := whoami(t, authNone)
	require.Equal(t, []uint32{uint32(AuthNone), Nobody, Nobody, 0}, vals)
	require.Equal(t, "", strs[0])
	require.NotEqual(t, id1, id2, "connection IDs are unique")

	sixteen := make([]uint32, 16)
	vals, _, _ = whoami(t, authSys(t, rpcv2.AuthsysParms{Machinename: strings.Repeat("m", 255), Gids: sixteen}))
	require.Len(t, vals, 4+16)
}

// TestPipelined sends many calls on one connection without waiting, some
// split into several fragments, and matches the replies by xid.
func TestPipelined(t *testing.T) {
	h := startHarness(t, Options{MaxInFlight: 8})
	c := h.dial()
	const n = 300
	rng := rand.New(rand.NewPCG(1, 2))
	payloads := make(map[uint32][]byte, n)
	var out bytes.Buffer
	for i := range n {
		xid := uint32(1000 + i)
		p := make([]byte, rng.IntN(70_000))
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		payloads[xid] = p
		out.Write(record(callMsg(xid, testProg, testVers, procEcho, authNone, authNone, echoArgs(p)), 1+rng.IntN(40_000)))
	}
	writeErr := make(chan error, 1)
	go func() {
		_, err := c.Write(out.Bytes())
		writeErr <- err
	}()
	for range n {
		rep := readReply(t, c)
		want, ok := payloads[rep.xid]
		require.True(t, ok, "unexpected or repeated xid %d", rep.xid)
		delete(payloads, rep.xid)
		require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
		require.Equal(t, echoArgs(want), rep.results)
	}
	require.Empty(t, payloads)
	require.NoError(t, <-writeErr)
}

// TestConcurrentConnections runs pipelined calls on many connections at
// once.
func TestConcurrentConnections(t *testing.T) {
	h := startHarness(t, Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", h.addr)
			if !assertNoError(t, err) {
				return
			}
			defer c.Close()
			var out bytes.Buffer
			for j := range 50 {
				out.Write(record(callMsg(uint32(j), testProg, testVers, procEcho, authNone, authNone, echoArgs(fmt.Appendf(nil, "%d/%d", i, j))), 1<<30))
			}
			go c.Write(out.Bytes())
			seen := map[uint32]bool{}
			rr := recordReader{r: c, maxBytes: 1 << 20}
			for range 50 {
				rec, err := rr.next()
				if !assertNoError(t, err) {
					return
				}
				rep, err := parseReply(rec)
				if !assertNoError(t, err) {
					return
				}
				if !bytes.Equal(rep.results, echoArgs(fmt.Appendf(nil, "%d/%d", i, rep.xid))) || seen[rep.xid] {
					t.Errorf("conn %d: bad reply for xid %d", i, rep.xid)
					return
				}
				seen[rep.xid] = true
			}
		}()
	}
	wg.Wait()
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func TestInFlightCap(t *testing.T) {
	const maxInFlight, calls = 3, 10
	h := startHarness(t, Options{MaxInFlight: maxInFlight})
	h.prog.started = make(chan struct{}, calls)
	c := h.dial()
	var out bytes.Buffer
	for i := range calls {
		out.Write(record(callMsg(uint32(i), testProg, testVers, procBlock, authNone, authNone, nil), 1<<30))
	}
	_, err := c.Write(out.Bytes())
	require.NoError(t, err)
	for range maxInFlight {
		<-h.prog.started
	}
	// The reader holds back the other calls while the cap is reached.
	require.Never(t, func() bool { return len(h.prog.started) > 0 }, 100*time.Millisecond, 10*time.Millisecond)
	seen := map[uint32]bool{}
	for i := range calls {
		h.prog.release <- struct{}{}
		rep := readReply(t, c)
		require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
		require.False(t, seen[rep.xid])
		seen[rep.xid] = true
		if i+maxInFlight < calls {
			<-h.prog.started
		}
	}
	require.Equal(t, maxInFlight, h.prog.maxRunning())
}

// TestHalfClosed: a client that shuts down its sending side still gets
// every reply, then the server closes.
func TestHalfClosed(t *testing.T) {
	h := startHarness(t, Options{})
	c := h.dial()
	var out bytes.Buffer
	for i := range 5 {
		out.Write(record(callMsg(uint32(i), testProg, testVers, procEcho, authNone, authNone, echoArgs([]byte{byte(i)})), 1<<30))
	}
	_, err := c.Write(out.Bytes())
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	seen := map[uint32]bool{}
	for range 5 {
		rep := readReply(t, c)
		require.Equal(t, echoArgs([]byte{byte(rep.xid)}), rep.results)
		seen[rep.xid] = true
	}
	require.Len(t, seen, 5)
	requireClosed(t, c)
	require.Eventually(t, func() bool { return h.srv.NumConns() == 0 }, 10*time.Second, time.Millisecond)
}

// TestHalfClosedMidRecord: a client that stops inside a record loses the
// connection, and the server keeps serving others.
func TestHalfClosedMidRecord(t *testing.T) {
	h := startHarness(t, Options{})
	c := h.dial()
	msg := record(callMsg(1, testProg, testVers, procEcho, authNone, authNone, echoArgs(make([]byte, 1000))), 1<<30)
	_, err := c.Write(msg[:len(msg)/2])
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	requireClosed(t, c)
	rep := roundTrip(t, h.dial(), callMsg(2, testProg, testVers, procNull, authNone, authNone, nil))
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
}

func TestCloseEndsEverything(t *testing.T) {
	h := startHarness(t, Options{})
	h.prog.started = make(chan struct{}, 1)
	idle := h.dial()
	busy := h.dial()
	_, err := busy.Write(record(callMsg(1, testProg, testVers, procBlock, authNone, authNone, nil), 1<<30))
	require.NoError(t, err)
	<-h.prog.started
	require.Eventually(t, func() bool { return h.srv.NumConns() == 2 }, 10*time.Second, time.Millisecond)

	require.NoError(t, h.srv.Close())
	require.ErrorIs(t, <-h.serve, ErrServerClosed)
	require.Equal(t, 0, h.srv.NumConns())
	requireClosed(t, idle)
	requireClosed(t, busy)
	_, err = net.Dial("tcp", h.addr)
	require.Error(t, err, "the listener is closed")
	require.NoError(t, h.srv.Close(), "Close is idempotent")

	ln, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, h.srv.Serve(context.Background(), ln, Conn{}), ErrServerClosed)
}

// TestServeContextCancel: cancelling Serve's context (a mount target being
// deleted) closes its listener and its connections only.
func TestServeContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := startHarnessCtx(t, ctx, Options{})
	c := h.dial()
	rep := roundTrip(t, c, callMsg(1, testProg, testVers, procNull, authNone, authNone, nil))
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())

	ln2, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	serve2 := make(chan error, 1)
	go func() { serve2 <- h.srv.Serve(context.Background(), ln2, Conn{}) }()
	c2, err := net.Dial("tcp", ln2.Addr().String())
	require.NoError(t, err)
	defer c2.Close()

	cancel()
	require.NoError(t, <-h.serve)
	requireClosed(t, c)
	rep = roundTrip(t, c2, callMsg(2, testProg, testVers, procNull, authNone, authNone, nil))
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
	require.NoError(t, h.srv.Close())
	require.ErrorIs(t, <-serve2, ErrServerClosed)
}

func TestMaxConns(t *testing.T) {
	h := startHarness(t, Options{MaxConns: 2})
	a, b := h.dial(), h.dial()
	for _, c := range []net.Conn{a, b} {
		rep := roundTrip(t, c, callMsg(1, testProg, testVers, procNull, authNone, authNone, nil))
		require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
	}
	requireClosed(t, h.dial())
	a.Close()
	require.Eventually(t, func() bool { return h.srv.NumConns() == 1 }, 10*time.Second, time.Millisecond)
	rep := roundTrip(t, h.dial(), callMsg(2, testProg, testVers, procNull, authNone, authNone, nil))
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
}

// TestLargeRecord: a record of exactly the limit is served.
func TestLargeRecord(t *testing.T) {
	h := startHarness(t, Options{})
	c := h.dial()
	hdr := callMsg(1, testProg, testVers, procEcho, authNone, authNone, nil)
	payload := make([]byte, 1<<20)
	msg := append(hdr, echoArgs(payload)...)
	rec := record(msg, 1<<30)
	require.LessOrEqual(t, len(rec), DefaultMaxRecordBytes)
	rep := roundTrip(t, c, msg)
	require.Equal(t, rpcv2.SUCCESS, rep.acceptStat())
	require.Equal(t, echoArgs(payload), rep.results)
}

func TestAddrPort(t *testing.T) {
	require.Equal(t, netip.MustParseAddrPort("127.0.0.1:2049"),
		addrPort(&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 2049}))
	require.Equal(t, netip.MustParseAddrPort("[::1]:5"), addrPort(&net.TCPAddr{IP: net.IPv6loopback, Port: 5}))
	require.Equal(t, netip.AddrPort{}, addrPort(nil))
}

func TestRecordReader(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    [][]byte
		wantErr error
	}{
		{name: "empty stream", in: nil, max: 100, wantErr: io.EOF},
		{name: "one record", in: record([]byte("abcd"), 100), max: 100, want: [][]byte{[]byte("abcd")}, wantErr: io.EOF},
		{name: "fragments", in: record([]byte("abcdefgh"), 3), max: 100, want: [][]byte{[]byte("abcdefgh")}, wantErr: io.EOF},
		{name: "two records", in: append(record([]byte("ab"), 1), record([]byte("cd"), 5)...), max: 100,
			want: [][]byte{[]byte("ab"), []byte("cd")}, wantErr: io.EOF},
		{name: "empty fragments", in: append(u32(0, 0), record([]byte("x"), 1)...), max: 100, want: [][]byte{[]byte("x")}, wantErr: io.EOF},
		{name: "exactly the limit", in: record(make([]byte, 8), 4), max: 16, want: [][]byte{make([]byte, 8)}, wantErr: io.EOF},
		{name: "headers count", in: record(make([]byte, 9), 4), max: 16, wantErr: ErrRecordTooLarge},
		{name: "header claims too much", in: u32(lastFragmentBit | 1<<30), max: 1 << 20, wantErr: ErrRecordTooLarge},
		{name: "partial header", in: []byte{0x80}, max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "end after a fragment", in: append(u32(1), 'a'), max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "end inside a fragment", in: append(u32(lastFragmentBit|5), 'a'), max: 100, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := recordReader{r: bytes.NewReader(tt.in), maxBytes: tt.max}
			var got [][]byte
			for {
				rec, err := rr.next()
				if err != nil {
					require.ErrorIs(t, err, tt.wantErr)
					break
				}
				got = append(got, rec)
			}
			require.Equal(t, len(tt.want), len(got))
			for i := range got {
				require.Equal(t, tt.want[i], got[i])
			}
		})
	}
}

// readSpy records the largest buffer it was asked to fill.
type readSpy struct {
	r       io.Reader
	maxRead int
}

func (s *readSpy) Read(p []byte) (int, error) {
	s.maxRead = max(s.maxRead, len(p))
	return s.r.Read(p)
}

// TestRecordReaderAllocatesAsDataArrives: a header that claims a large
// fragment costs memory only for the bytes that actually come.
func TestRecordReaderAllocatesAsDataArrives(t *testing.T) {
	in := append(u32(lastFragmentBit|(1<<20)), make([]byte, 100)...)
	spy := &readSpy{r: bytes.NewReader(in)}
	rr := recordReader{r: spy, maxBytes: 2 << 20}
	_, err := rr.next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, minGrowBytes, spy.maxRead)

	// Past the first allocation, at most growFactor times what came.
	sent := 100 << 10
	in = append(u32(lastFragmentBit|(1<<20)), make([]byte, sent)...)
	spy = &readSpy{r: bytes.NewReader(in)}
	rr = recordReader{r: spy, maxBytes: 2 << 20}
	_, err = rr.next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.LessOrEqual(t, spy.maxRead+minGrowBytes, growFactor*sent)

	in = record(make([]byte, 1<<20), 1<<30)
	spy = &readSpy{r: bytes.NewReader(in)}
	rr = recordReader{r: spy, maxBytes: 2 << 20}
	rec, err := rr.next()
	require.NoError(t, err)
	require.Len(t, rec, 1<<20)
	require.Equal(t, 1<<20, cap(rec), "the last growth stops at the record's size")
}

func TestVersions(t *testing.T) {
	called := false
	p := Versions(4, 4, func(ctx context.Context, vers, proc uint32, args io.ReadCloser, nrv func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
		called = true
		return &rpcv2.AcceptedReplyData_SUCCESS{}, nil
	})
	args := io.NopCloser(bytes.NewReader(nil))
	d, err := p(context.Background(), 3, 1, args, nil)
	require.NoError(t, err)
	require.Equal(t, &rpcv2.AcceptedReplyData_PROG_MISMATCH{MismatchInfo: struct {
		Low  uint32
		High uint32
	}{4, 4}}, d)
	d, err = p(context.Background(), 4, 0, args, nil)
	require.NoError(t, err)
	require.Equal(t, rpcv2.SUCCESS, d.GetStat())
	require.False(t, called, "NULL is answered by Versions")
	_, err = p(context.Background(), 4, 1, args, nil)
	require.NoError(t, err)
	require.True(t, called)

	d, err = Versions(4, 4, nil)(context.Background(), 4, 1, args, nil)
	require.NoError(t, err)
	require.Equal(t, rpcv2.PROC_UNAVAIL, d.GetStat())
}

func TestParseCredentials(t *testing.T) {
	c, err := ParseCredentials(&rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: authSys(t, rpcv2.AuthsysParms{Machinename: "h", Uid: 0, Gid: 0}).Body})
	require.NoError(t, err)
	require.Equal(t, &Credentials{Flavor: AuthSys, MachineName: "h"}, c)
	_, err = ParseCredentials(&rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_SYS, Body: append(u32(0, 1), 0xff, 0, 0, 0)})
	require.Error(t, err, "machine names are ASCII")
	_, err = ParseCredentials(&rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_DH})
	require.True(t, errors.Is(err, errBadCredential))
}
