package rpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	xdr "github.com/buildbarn/go-xdr/pkg/runtime"
)

// readBufferBytes is the read buffer of a connection: enough for several
// small calls per system call, small enough for thousands of idle clients.
// Large records bypass it.
const readBufferBytes = 8 << 10

// rpcVersion is the only ONC RPC version (RFC 5531 §8).
const rpcVersion = 2

// msgType values of rpc_msg (RFC 5531 §9).
const (
	msgCall  = 0
	msgReply = 1
)

// callHeaderFixedBytes is the size of rpcvers, prog, vers and proc: a
// call_body that fails to decode within them is garbage, after them its
// credential or verifier is bad.
const callHeaderFixedBytes = 16

// conn is one client connection.
type conn struct {
	s    *Server
	nc   net.Conn
	info *Conn // read-only once serving starts
	// base is cancelled when the connection must end: by cancel, by its
	// Serve's context, by Server.Close or by Disconnect. ctx derives from
	// it and carries info (WithConn) and what Options.ConnContext added;
	// calls run in it. ctx and info change only while no call is in
	// progress (admission, TLS handshake).
	base   context.Context
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	// inflight holds a token per call that has been read and not yet
	// answered (Options.MaxInFlight).
	inflight chan struct{}
	// calls counts the calls being handled (on the server's workers).
	calls sync.WaitGroup

	// wmu serialises replies: each is one Write of a whole record.
	wmu sync.Mutex
}

// serve reads calls until the connection ends, then waits for the calls in
// progress and closes the connection. A client that half-closes its side
// (EOF between records) still gets the replies to every call it sent.
func (c *conn) serve() {
	defer c.s.dropConn(c)
	defer c.cancel()
	raw := c.nc
	stop := context.AfterFunc(c.base, func() { raw.Close() })
	defer stop()
	defer func() { c.nc.Close() }()
	c.log.Debug("rpc: connection accepted", "local", c.info.Local.String())

	if !c.admit() {
		return
	}
	br := bufio.NewReaderSize(c.nc, readBufferBytes)
	first, err := br.Peek(1)
	if err != nil {
		c.log.Debug("rpc: connection closed before its first byte", "err", err)
		return
	}
	if first[0] == tlsHandshakeByte {
		// efs-utils' tunnel (stunnel or efs-proxy) speaks TLS from the
		// first byte, on the NFS port.
		if c.s.opts.TLS == nil {
			c.s.stats.tlsRefused.Add(1)
			c.log.Info("rpc: TLS connection refused: TLS is not configured")
			return
		}
		if br = c.startTLS(br, false); br == nil {
			return
		}
	}

	rr := recordReader{r: br, maxBytes: c.s.opts.MaxRecordBytes}
	clean := false
	for {
		select {
		case c.inflight <- struct{}{}:
		case <-c.ctx.Done():
		}
		if c.ctx.Err() != nil {
			break
		}
		rec, err := rr.next()
		if err != nil {
			<-c.inflight
			switch {
			case errors.Is(err, io.EOF):
				clean = true
				c.log.Debug("rpc: client closed its side of the connection")
			case c.ctx.Err() != nil:
			case errors.Is(err, ErrRecordTooLarge):
				c.log.Warn("rpc: connection closed: record too large", "err", err)
			default:
				c.log.Debug("rpc: connection closed: read failed", "err", err)
			}
			break
		}
		if c.s.opts.TLS != nil && !c.info.TLS && isTLSProbe(rec) {
			// RFC 9289 §4.1: answer the AUTH_TLS probe, then the next
			// bytes are the client's TLS handshake. Calls already in
			// progress are answered first, in the clear.
			<-c.inflight
			c.calls.Wait()
			c.acceptProbe(rec)
			if br = c.startTLS(br, true); br == nil {
				break
			}
			rr.r = br
			continue
		}
		c.calls.Add(1)
		c.s.workers.run(func() { c.run(rec) })
	}
	if !clean {
		c.cancel()
	}
	c.calls.Wait()
	c.log.Debug("rpc: connection closed")
}

// run handles one call and releases its in-flight token.
func (c *conn) run(rec []byte) {
	defer c.calls.Done()
	defer func() { <-c.inflight }()
	c.handle(rec)
}

// handle decodes one record's call header (RFC 5531 §9) and answers it,
// checking in the order of RFC 5531 §9 and the Linux server: RPC version,
// authentication, program, then (in the program) version and procedure.
func (c *conn) handle(rec []byte) {
	r := bytes.NewReader(rec)
	xid, _, err1 := xdr.ReadUnsignedInt(r)
	mtype, _, err2 := xdr.ReadInt(r)
	if err1 != nil || err2 != nil {
		c.log.Warn("rpc: connection closed: record shorter than a message header", "record_bytes", len(rec))
		c.cancel()
		return
	}
	switch mtype {
	case msgCall:
	case msgReply:
		// A reply to a callback on the NFSv4.1 back channel: shelf
		// sends no callbacks, so there is nothing to match it to.
		c.log.Debug("rpc: unexpected reply ignored", "xid", xid)
		return
	default:
		c.log.Warn("rpc: connection closed: message is neither call nor reply", "xid", xid, "msg_type", mtype)
		c.cancel()
		return
	}

	var call rpcv2.CallBody
	n, err := call.ReadFrom(r)
	switch {
	case n >= 4 && call.Rpcvers != rpcVersion:
		c.reject(xid, &rpcv2.RejectedReply_RPC_MISMATCH{MismatchInfo: struct {
			Low  uint32
			High uint32
		}{rpcVersion, rpcVersion}})
		return
	case err != nil && n < callHeaderFixedBytes:
		c.log.Debug("rpc: call header truncated", "xid", xid, "err", err)
		c.accept(xid, noneVerifier, &rpcv2.AcceptedReplyData_default{Stat: rpcv2.GARBAGE_ARGS}, nil)
		return
	case err != nil:
		c.log.Debug("rpc: credential or verifier malformed", "xid", xid, "err", err)
		c.reject(xid, &rpcv2.RejectedReply_AUTH_ERROR{Stat: rpcv2.AUTH_BADCRED})
		return
	}

	ctx, verf, stat := c.s.opts.Authenticator.Authenticate(c.ctx, &call.Cred, &call.Verf)
	if stat != rpcv2.AUTH_OK {
		c.log.Debug("rpc: authentication failed", "xid", xid, "flavor", int32(call.Cred.Flavor), "auth_stat", int32(stat))
		c.reject(xid, &rpcv2.RejectedReply_AUTH_ERROR{Stat: stat})
		return
	}
	prog, ok := c.s.programs[call.Prog]
	if !ok || prog == nil {
		c.log.Debug("rpc: program unavailable", "xid", xid, "prog", call.Prog)
		c.accept(xid, verf, &rpcv2.AcceptedReplyData_default{Stat: rpcv2.PROG_UNAVAIL}, nil)
		return
	}
	c.call(ctx, prog, xid, &call, verf, rec[len(rec)-r.Len():])
}

// call runs prog and answers with its result.
func (c *conn) call(ctx context.Context, prog Program, xid uint32, call *rpcv2.CallBody, verf rpcv2.OpaqueAuth, args []byte) {
	// The results are encoded behind room for the record marker and the
	// reply header, so the whole record goes out in one Write.
	headerBytes := recordMarkerBytes + replyMessage(xid, verf, &rpcv2.AcceptedReplyData_SUCCESS{}).GetEncodedSizeBytes()
	var results *replyResults
	newReturnValue := func(sizeBytes int) io.Writer {
		results = &replyResults{headerBytes: headerBytes, size: max(sizeBytes, 0)}
		return results
	}

	data, err, panicked := runProgram(ctx, prog, call.Vers, call.Proc, newArgsReader(args), newReturnValue)
	switch {
	case panicked != nil:
		c.log.Error("rpc: program panicked", "xid", xid, "prog", call.Prog, "vers", call.Vers, "proc", call.Proc,
			"err", fmt.Sprint(panicked), "stack", string(debug.Stack()))
		data, results = &rpcv2.AcceptedReplyData_default{Stat: rpcv2.SYSTEM_ERR}, nil
	case err != nil && results == nil:
		c.log.Debug("rpc: arguments undecodable", "xid", xid, "prog", call.Prog, "vers", call.Vers, "proc", call.Proc, "err", err)
		data = &rpcv2.AcceptedReplyData_default{Stat: rpcv2.GARBAGE_ARGS}
	case err != nil:
		c.log.Warn("rpc: results could not be encoded", "xid", xid, "prog", call.Prog, "vers", call.Vers, "proc", call.Proc, "err", err)
		data, results = &rpcv2.AcceptedReplyData_default{Stat: rpcv2.SYSTEM_ERR}, nil
	case data == nil:
		c.log.Warn("rpc: program returned no reply", "xid", xid, "prog", call.Prog, "vers", call.Vers, "proc", call.Proc)
		data = &rpcv2.AcceptedReplyData_default{Stat: rpcv2.SYSTEM_ERR}
	}
	if data.GetStat() != rpcv2.SUCCESS {
		results = nil
	}
	c.accept(xid, verf, data, results)
}

// runProgram calls prog, recovering a panic.
func runProgram(ctx context.Context, prog Program, vers, proc uint32, args io.ReadCloser, newReturnValue func(int) io.Writer) (data rpcv2.AcceptedReplyData, err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	data, err = prog(ctx, vers, proc, args, newReturnValue)
	return data, err, nil
}

// argsReader hands a call's arguments to a program: the rest of the call's
// record, which belongs to the call alone (records are never reused).
type argsReader struct {
	args []byte
	r    *bytes.Reader
}

func newArgsReader(args []byte) *argsReader {
	return &argsReader{args: args, r: bytes.NewReader(args)}
}

func (a *argsReader) Read(p []byte) (int, error) { return a.r.Read(p) }
func (a *argsReader) Close() error               { return nil }

// Len returns the number of bytes of arguments left.
func (a *argsReader) Len() int { return a.r.Len() }

// Take returns the arguments left and consumes them: the program may keep
// the slice (decoded WRITE data points into it rather than being copied).
func (a *argsReader) Take() []byte {
	rest := a.args[len(a.args)-a.r.Len():]
	_, _ = a.r.Seek(0, io.SeekEnd)
	return rest
}

func replyMessage(xid uint32, verf rpcv2.OpaqueAuth, data rpcv2.AcceptedReplyData) *rpcv2.RpcMsg {
	return &rpcv2.RpcMsg{
		Xid: xid,
		Body: &rpcv2.RpcMsgBody_REPLY{
			Rbody: &rpcv2.ReplyBody_MSG_ACCEPTED{
				Areply: rpcv2.AcceptedReply{Verf: verf, ReplyData: data},
			},
		},
	}
}

// replyResults holds a call's encoded results behind room for the record
// marker and the reply header, so that the whole record goes out in one
// write: written to it (in a buffer allocated at the first Write), or
// adopted as they are, in parts (and written with the header in one
// writev).
type replyResults struct {
	headerBytes, size int
	buf               []byte // header room, then written results
	adopted           [][]byte
	adopting          bool // Adopt took the results
}

func (r *replyResults) Write(p []byte) (int, error) {
	if r.adopting {
		return 0, errors.New("rpc: results written after Adopt")
	}
	if r.buf == nil {
		r.buf = make([]byte, r.headerBytes, r.headerBytes+max(r.size, len(p)))
	}
	r.buf = append(r.buf, p...)
	return len(p), nil
}

// Adopt takes parts, in order, as the whole encoded results. Neither the
// parts nor the slice holding them are modified (write copies the slice).
func (r *replyResults) Adopt(parts ...[]byte) {
	if r.buf == nil && !r.adopting {
		r.adopted, r.adopting = parts, true
		return
	}
	for _, p := range parts {
		_, _ = r.Write(p)
	}
}

// head returns the header room and the results written to r.
func (r *replyResults) head() []byte {
	if r.buf == nil {
		r.buf = make([]byte, r.headerBytes)
	}
	return r.buf
}

// accept writes an accepted reply with results, if any.
func (c *conn) accept(xid uint32, verf rpcv2.OpaqueAuth, data rpcv2.AcceptedReplyData, results *replyResults) {
	msg := replyMessage(xid, verf, data)
	var rec []byte
	var tail [][]byte
	if results != nil {
		rec, tail = results.head(), results.adopted
		var hdr bytes.Buffer
		if _, err := msg.WriteTo(&hdr); err != nil || recordMarkerBytes+hdr.Len() > len(rec) {
			c.log.Warn("rpc: reply header could not be encoded", "xid", xid, "err", err)
			c.cancel()
			return
		}
		copy(rec[recordMarkerBytes:], hdr.Bytes())
	} else {
		rec = encodeRecord(msg)
		if rec == nil {
			c.log.Warn("rpc: reply could not be encoded", "xid", xid)
			c.cancel()
			return
		}
	}
	c.write(rec, tail)
}

// reject writes a denied reply (RFC 5531 §9: rejected_reply).
func (c *conn) reject(xid uint32, rr rpcv2.RejectedReply) {
	rec := encodeRecord(&rpcv2.RpcMsg{
		Xid:  xid,
		Body: &rpcv2.RpcMsgBody_REPLY{Rbody: &rpcv2.ReplyBody_MSG_DENIED{Rreply: rr}},
	})
	if rec == nil {
		c.log.Warn("rpc: reply could not be encoded", "xid", xid)
		c.cancel()
		return
	}
	c.write(rec, nil)
}

// encodeRecord encodes msg as a one-fragment record, or returns nil.
func encodeRecord(msg *rpcv2.RpcMsg) []byte {
	buf := bytes.NewBuffer(make([]byte, recordMarkerBytes, recordMarkerBytes+msg.GetEncodedSizeBytes()))
	if _, err := msg.WriteTo(buf); err != nil {
		return nil
	}
	return buf.Bytes()
}

// write sends one whole reply record. A failed or timed-out write ends the
// connection.
func (c *conn) write(rec []byte, tail [][]byte) {
	more := 0
	for _, p := range tail {
		more += len(p)
	}
	putRecordMarker(rec, more)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.base.Err() != nil {
		return
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout)); err != nil {
		c.cancel()
		return
	}
	var err error
	if more == 0 {
		_, err = c.nc.Write(rec)
	} else {
		// One writev on TCP; a TLS connection writes each part. WriteTo
		// consumes the slice it is given, not the parts: a fresh one.
		bufs := make(net.Buffers, 0, 1+len(tail))
		bufs = append(append(bufs, rec), tail...)
		_, err = bufs.WriteTo(c.nc)
	}
	if err != nil {
		c.log.Debug("rpc: connection closed: write failed", "err", err)
		c.cancel()
	}
}
