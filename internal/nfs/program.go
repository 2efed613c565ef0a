// Package nfs is shelf's NFS program (100003, version 4): NFSv4.0 (RFC
// 7530) and NFSv4.1 (RFC 8881) COMPOUNDs over the go-xdr types, translated
// to internal/fs calls. It owns the protocol state — clients, sessions and
// their reply caches, open and lock state under leases, the grace period
// after a restart — and the MACed file handles (DESIGN.md decisions 6–7).
//
// Semantics (permissions, names, links, sizes) belong to fs; this package
// maps fs.Code to NFS4ERR_* exactly once (status.go). Client records are
// persisted through meta so that clients can reclaim after a restart.
//
// nfs imports fs, meta, clock and nfs/rpc (the request context); it must not
// import engines, server, control or api. The RPC layer (nfs/rpc) calls
// Program.Serve, which serves the file system named by the connection
// (rpc.Conn.FileSystemID) to the caller of the credential:
//
//	prog := nfs.NewProgram(fsvc, nfs.Options{HandleKey: key, Meta: store, Logger: log})
//	programs := map[uint32]rpc.Program{
//		rpc.ProgramNFS: rpc.Versions(rpc.NFSVersion, rpc.NFSVersion, prog.Serve),
//	}
package nfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/buildbarn/go-xdr/pkg/runtime"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/nfs/rpc"
)

// RPC program and version served.
const (
	ProgramNumber = 100003
	Version       = 4
)

// Limits a client sees and the RPC layer must allow for.
const (
	// MaxIOBytes is the largest READ and WRITE (maxread and maxwrite, 1 MiB
	// as in EFS).
	MaxIOBytes = 1 << 20
	// MaxRequestBytes bounds the arguments of one COMPOUND: a full WRITE
	// plus room for the other operations. The RPC layer must accept
	// records of this size plus the RPC header (rpc.DefaultMaxRecordBytes
	// is 1 MiB + 64 KiB).
	MaxRequestBytes = MaxIOBytes + 60<<10
	// MaxResponseBytes bounds the reply of one COMPOUND.
	MaxResponseBytes = MaxIOBytes + 64<<10
	// MaxOps bounds the operations of one COMPOUND.
	MaxOps = 128
	// maxSlots is the slot count (ca_maxrequests) a session gets at most.
	maxSlots = 64
	// maxCachedReplyBytes bounds a reply kept in a slot's reply cache when
	// the client asks for it (sa_cachethis); smallReplyBytes is kept
	// whether or not it asks.
	maxCachedReplyBytes = 64 << 10
	smallReplyBytes     = 2 << 10
	// maxTagBytes bounds the COMPOUND tag.
	maxTagBytes = 1024
	// maxSessionsPerClient bounds CREATE_SESSION.
	maxSessionsPerClient = 16
	// maxLocksPerFile and maxLocksPerClient are the EFS lock limits
	// (efs-reference.md §2): 512 per file, 8,192 per mount.
	maxLocksPerFile   = 512
	maxLocksPerClient = 8192
	// maxClients bounds the client records of the program, confirmed or
	// not (EFS allows 25,000 connections per file system).
	maxClients = 1 << 16
)

// Options tune a Program.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// HandleKey is the MAC key of file handles, at least 32 bytes. It must
	// stay the same across restarts (and on every node serving the same file
	// systems) for handles to survive them: the server derives it from the
	// root key. When empty a random key is used and handles die with the
	// process (tests only).
	HandleKey []byte
	// Meta, when set, stores client records (meta.SystemKey("nfs-client/…"))
	// so that clients reclaim their state during a grace period after a
	// restart. Without it there is no grace period.
	Meta meta.Store
	// LeaseTime is the lease clients must renew within (default 90 s).
	LeaseTime time.Duration
	// GraceTime is how long reclaims are accepted after a start (default:
	// the lease time). It ends early once every client that had state has
	// sent RECLAIM_COMPLETE.
	GraceTime time.Duration
	// CompoundTimeout is the deadline of one COMPOUND (default 30 s).
	CompoundTimeout time.Duration
}

// Program is the NFSv4 RPC program. It is safe for concurrent use.
type Program struct {
	fsvc    *fs.Service
	opts    Options
	clock   clock.Clock
	log     *slog.Logger
	handles handleCodec

	boot time.Time
	// bootID prefixes client IDs and stateids, so that those of an earlier
	// instance are recognised as stale.
	bootID    uint32
	writeVerf [8]byte

	records recordStore

	mu struct {
		sync.Mutex
		clients  map[uint64]*client
		byOwner  map[ownerKey][]*client
		sessions map[nfsv4.Sessionid4]*session
		states   map[[nfsv4.NFS4_OTHER_SIZE]byte]*state
		files    map[fileKey]*fileState
		grace    map[string]*graceState
		nextID   uint32
		nextSeq  uint64
		lastReap time.Time
		// forget lists persisted client records to delete once the lock is
		// released.
		forget []ownerKey
	}
}

// NewProgram returns the NFS program over the file systems of fsvc.
func NewProgram(fsvc *fs.Service, opts Options) *Program {
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LeaseTime <= 0 {
		opts.LeaseTime = 90 * time.Second
	}
	if opts.GraceTime <= 0 {
		opts.GraceTime = opts.LeaseTime
	}
	if opts.CompoundTimeout <= 0 {
		opts.CompoundTimeout = 30 * time.Second
	}
	key := opts.HandleKey
	if len(key) == 0 {
		key = randomBytes(32)
		opts.Logger.Warn("nfs file handles use a random key and will not survive a restart")
	}
	p := &Program{fsvc: fsvc, opts: opts, clock: opts.Clock, log: opts.Logger,
		handles: handleCodec{key: append([]byte(nil), key...)}}
	p.boot = p.clock.Now()
	p.bootID = binary.BigEndian.Uint32(randomBytes(4))
	binary.BigEndian.PutUint64(p.writeVerf[:], uint64(p.boot.UnixNano()))
	p.records.store = opts.Meta
	p.mu.clients = map[uint64]*client{}
	p.mu.byOwner = map[ownerKey][]*client{}
	p.mu.sessions = map[nfsv4.Sessionid4]*session{}
	p.mu.states = map[[nfsv4.NFS4_OTHER_SIZE]byte]*state{}
	p.mu.files = map[fileKey]*fileState{}
	p.mu.grace = map[string]*graceState{}
	return p
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("nfs: crypto/rand failed: %v", err)) // never happens on Linux
	}
	return b
}

func (p *Program) leaseSeconds() uint32 {
	return uint32((p.opts.LeaseTime + time.Second - 1) / time.Second)
}

// Serve handles one call of program 100003 (go-xdr rpcserver.Service): the
// NULL procedure and COMPOUND. It reads and closes args before doing any
// work, so that the connection reads the next request meanwhile.
func (p *Program) Serve(ctx context.Context, vers, proc uint32, args io.ReadCloser, newReturnValue func(size int) io.Writer) (rpcv2.AcceptedReplyData, error) {
	if vers != Version {
		_ = args.Close()
		return &rpcv2.AcceptedReplyData_PROG_MISMATCH{MismatchInfo: struct {
			Low  uint32
			High uint32
		}{Low: Version, High: Version}}, nil
	}
	switch proc {
	case 0: // NULL
		_ = args.Close()
		return &rpcv2.AcceptedReplyData_SUCCESS{}, nil
	case 1: // COMPOUND
	default:
		_ = args.Close()
		return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.PROC_UNAVAIL}, nil
	}
	body, err := readArgs(args)
	if cerr := args.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.GARBAGE_ARGS}, nil
	}
	reply, ok := p.compound(ctx, body)
	if !ok {
		return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.GARBAGE_ARGS}, nil
	}
	// The server's writer takes the reply as it is (no copy of READ data);
	// the slot's reply cache may share it, and nobody modifies it.
	w := newReturnValue(reply.size())
	if a, ok := w.(interface{ Adopt(...[]byte) }); ok {
		a.Adopt(reply...)
	} else {
		for _, part := range reply {
			if _, err := w.Write(part); err != nil {
				return nil, err
			}
		}
	}
	return &rpcv2.AcceptedReplyData_SUCCESS{}, nil
}

// maxArgsBytes bounds the arguments of one call.
const maxArgsBytes = MaxRequestBytes + 4096

// readArgs returns a call's arguments as bytes of their own. The RPC
// server's readers hand over the call's record (Take), which is not copied;
// other readers are read to the end.
func readArgs(args io.Reader) ([]byte, error) {
	if t, ok := args.(interface{ Take() []byte }); ok {
		return t.Take(), nil
	}
	return io.ReadAll(io.LimitReader(args, maxArgsBytes+1))
}

// decodedOp is one operation of a COMPOUND. An operation that could not be
// decoded has a nil arg and the status to fail with.
type decodedOp struct {
	code nfsv4.NfsOpnum4
	arg  nfsv4.NfsArgop4
	err  nfsv4.Nfsstat4
}

// compoundHeader is the part of COMPOUND4args before the operations.
type compoundHeader struct {
	tag   string
	minor uint32
	count uint32
}

func readHeader(r *bytes.Reader) (compoundHeader, nfsv4.Nfsstat4, bool) {
	var h compoundHeader
	n, _, err := runtime.ReadUnsignedInt(r)
	if err != nil {
		return h, 0, false
	}
	if n > maxTagBytes {
		return h, nfsv4.NFS4ERR_RESOURCE, true
	}
	tag := make([]byte, (n+3)&^3)
	if _, err := io.ReadFull(r, tag); err != nil {
		return h, 0, false
	}
	h.tag = string(tag[:n])
	if h.minor, _, err = runtime.ReadUnsignedInt(r); err != nil {
		return h, 0, false
	}
	if h.count, _, err = runtime.ReadUnsignedInt(r); err != nil {
		return h, 0, false
	}
	if !validUTF8(h.tag) {
		h.tag = ""
		return h, nfsv4.NFS4ERR_INVAL, true
	}
	return h, nfsv4.NFS4_OK, true
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// MaxMinorVersion is the highest NFSv4 minor version served: 4.2 (RFC
// 7862) is 4.1 with the operations of its own that shelf implements (SEEK,
// ALLOCATE, DEALLOCATE); the others answer NFS4ERR_NOTSUPP, as the RFC
// allows for its optional operations.
const MaxMinorVersion = 2

// knownOp reports whether code is an operation go-xdr can decode.
func knownOp(code nfsv4.NfsOpnum4) bool {
	return code >= nfsv4.OP_ACCESS && code <= nfsv4.OP_CLONE || code == nfsv4.OP_ILLEGAL
}

// readOp decodes the next operation. It never panics; allocation is
// bounded by the size of the arguments, which the caller bounds.
func readOp(body []byte, r *bytes.Reader) (decodedOp, bool) {
	start := r.Len()
	code32, _, err := runtime.ReadInt(r)
	if err != nil {
		return decodedOp{code: nfsv4.OP_ILLEGAL, err: nfsv4.NFS4ERR_BADXDR}, false
	}
	code := nfsv4.NfsOpnum4(code32)
	if !knownOp(code) {
		return decodedOp{code: nfsv4.OP_ILLEGAL, err: nfsv4.NFS4ERR_OP_ILLEGAL}, false
	}
	if code == nfsv4.OP_WRITE {
		return readWrite(body, r)
	}
	if _, err := r.Seek(int64(-4), io.SeekCurrent); err != nil || r.Len() != start {
		return decodedOp{code: code, err: nfsv4.NFS4ERR_BADXDR}, false
	}
	arg, _, err := nfsv4.ReadNfsArgop4(r)
	if err != nil {
		st := nfsv4.NFS4ERR_BADXDR
		if strings.Contains(err.Error(), "UTF-8") {
			// Names must be UTF-8 (RFC 8881 §14.4); go-xdr refuses others.
			st = nfsv4.NFS4ERR_INVAL
		}
		return decodedOp{code: code, err: st}, false
	}
	return decodedOp{code: code, arg: arg}, true
}

// readWrite decodes the arguments of a WRITE (RFC 8881 §18.32.1), which r
// (over body) is at, as go-xdr's decoder would, except that the data is not
// copied: it is a slice of body, which the caller owns.
func readWrite(body []byte, r *bytes.Reader) (decodedOp, bool) {
	bad := decodedOp{code: nfsv4.OP_WRITE, err: nfsv4.NFS4ERR_BADXDR}
	const fixed = 4 + 12 + 8 + 4 + 4 // stateid, offset, stable, data length
	pos := len(body) - r.Len()
	if r.Len() < fixed {
		return bad, false
	}
	b := body[pos:]
	var a nfsv4.Write4args
	a.Stateid.Seqid = binary.BigEndian.Uint32(b[0:4])
	copy(a.Stateid.Other[:], b[4:16])
	a.Offset = binary.BigEndian.Uint64(b[16:24])
	a.Stable = nfsv4.StableHow4(int32(binary.BigEndian.Uint32(b[24:28])))
	n := uint64(binary.BigEndian.Uint32(b[28:32]))
	padded := (n + 3) &^ 3
	if padded > uint64(len(b)-fixed) {
		return bad, false
	}
	if n > 0 {
		a.Data = b[fixed : fixed+n : fixed+n]
	}
	for _, c := range b[fixed+n : fixed+padded] {
		if c != 0 {
			return bad, false
		}
	}
	if _, err := r.Seek(int64(fixed+padded), io.SeekCurrent); err != nil {
		return bad, false
	}
	return decodedOp{code: nfsv4.OP_WRITE, arg: &nfsv4.NfsArgop4_OP_WRITE{Opwrite: a}}, true
}

// compound runs one COMPOUND and returns the encoded COMPOUND4res, or false
// when the arguments are not a COMPOUND at all (GARBAGE_ARGS).
func (p *Program) compound(ctx context.Context, body []byte) (out reply, ok bool) {
	r := bytes.NewReader(body)
	h, st, ok := readHeader(r)
	if !ok {
		return nil, false
	}
	if st != nfsv4.NFS4_OK {
		return encodeReply(&nfsv4.Compound4res{Status: st, Tag: h.tag}), true
	}
	if h.minor > MaxMinorVersion {
		// RFC 8881 §16.2.3: no operations are processed. A client then
		// falls back to a minor version it shares with the server.
		return encodeReply(&nfsv4.Compound4res{Status: nfsv4.NFS4ERR_MINOR_VERS_MISMATCH, Tag: h.tag}), true
	}
	tooBig := len(body) > maxArgsBytes
	tooMany := h.count > MaxOps
	var ops []decodedOp
	for i := uint32(0); i < h.count && i < MaxOps; i++ {
		op, ok := readOp(body, r)
		ops = append(ops, op)
		if !ok || tooMany || tooBig {
			break
		}
	}
	if len(ops) > 0 && ops[len(ops)-1].err == 0 && r.Len() != 0 && !tooMany && !tooBig {
		// Trailing bytes after the last operation.
		ops[len(ops)-1] = decodedOp{code: ops[len(ops)-1].code, err: nfsv4.NFS4ERR_BADXDR}
	}

	ctx, cancel := context.WithTimeout(ctx, p.opts.CompoundTimeout)
	defer cancel()
	c, st := p.newCompound(ctx, h.minor)
	c.reqBytes = len(body)
	res := &nfsv4.Compound4res{Tag: h.tag, Status: st}
	if st == nfsv4.NFS4_OK {
		defer func() {
			if v := recover(); v != nil {
				p.log.Error("nfs compound panicked", "fs_id", c.fsID, "panic", fmt.Sprint(v))
				out, ok = encodeReply(&nfsv4.Compound4res{Tag: h.tag, Status: nfsv4.NFS4ERR_SERVERFAULT}), true
			}
		}()
		limitStatus := nfsv4.NFS4_OK
		switch {
		case tooMany && h.minor == 0:
			limitStatus = nfsv4.NFS4ERR_RESOURCE
		case tooMany:
			limitStatus = nfsv4.NFS4ERR_TOO_MANY_OPS
		case tooBig && h.minor == 0:
			limitStatus = nfsv4.NFS4ERR_RESOURCE
		case tooBig:
			limitStatus = nfsv4.NFS4ERR_REQ_TOO_BIG
		}
		if limitStatus != nfsv4.NFS4_OK {
			res.Status = limitStatus
			if len(ops) > 0 {
				res.Resarray = []nfsv4.NfsResop4{errorResult(ops[0].code, limitStatus)}
			}
			return encodeReply(res), true
		}
		if h.minor == 0 {
			c.run(ops, res)
			out = encodeReply(res)
		} else {
			out = c.run41(ops, res)
		}
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.logCompound(ctx, c, ops, res)
		}
		p.flushForgotten(ctx)
		return out, true
	}
	return encodeReply(res), true
}

// logCompound logs a COMPOUND at debug level: its operations and status.
func (p *Program) logCompound(ctx context.Context, c *compound, ops []decodedOp, res *nfsv4.Compound4res) {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = strings.TrimPrefix(nfsv4.NfsOpnum4_name[op.code], "OP_")
	}
	p.log.Debug("nfs compound", "fs_id", c.fsID, "minor", c.minor, "ops", strings.Join(names, ","),
		"status", nfsv4.Nfsstat4_name[res.Status], "results", len(res.Resarray))
}

func encodeReply(res *nfsv4.Compound4res) reply {
	size := res.GetEncodedSizeBytes()
	for _, r := range res.Resarray {
		if rr, ok := r.(*readResult); ok {
			size -= rr.n
		}
	}
	w := &replyWriter{buf: make([]byte, 0, size)}
	if _, err := res.WriteTo(w); err != nil {
		// Only strings that are not UTF-8 fail to encode; every string we
		// send was received as UTF-8 or made by us.
		w = &replyWriter{}
		bad := &nfsv4.Compound4res{Status: nfsv4.NFS4ERR_SERVERFAULT}
		_, _ = bad.WriteTo(w)
	}
	return w.done()
}

// reply is an encoded COMPOUND4res in parts, to be written one after the
// other: the data of READ results is referenced where it is (the blocks of
// the data cache), not copied. Nobody modifies the parts.
type reply [][]byte

// size returns the length of the encoded reply.
func (r reply) size() int {
	n := 0
	for _, p := range r {
		n += len(p)
	}
	return n
}

// flat returns the reply as one part of its own, which pins no block.
func (r reply) flat() reply {
	if len(r) <= 1 {
		return r
	}
	b := make([]byte, 0, r.size())
	for _, p := range r {
		b = append(b, p...)
	}
	return reply{b}
}

// replyWriter builds a reply: bytes written are copied into its buffer,
// parts given to ref are referenced in place.
type replyWriter struct {
	parts [][]byte
	buf   []byte
	start int // where the part being written begins in buf
}

func (w *replyWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// ref adds p to the reply after what was written so far, without copying
// it.
func (w *replyWriter) ref(p []byte) {
	if len(p) == 0 {
		return
	}
	w.cut()
	w.parts = append(w.parts, p)
}

// cut ends the part being written.
func (w *replyWriter) cut() {
	if end := len(w.buf); end > w.start {
		w.parts = append(w.parts, w.buf[w.start:end:end])
		w.start = end
	}
}

func (w *replyWriter) done() reply {
	w.cut()
	return w.parts
}

// readResult is the result of a READ that succeeded, its data in parts that
// the reply references (fs.ReadParts) instead of copying them into a
// Read4resok. It encodes as the NfsResop4_OP_READ it embeds would with the
// parts' bytes as data.
type readResult struct {
	*nfsv4.NfsResop4_OP_READ // NFS4_OK with eof, without the data
	parts                    [][]byte
	n                        int // bytes in parts
}

func newReadResult(eof bool, parts [][]byte, n int) *readResult {
	return &readResult{
		NfsResop4_OP_READ: &nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_NFS4_OK{Resok4: nfsv4.Read4resok{Eof: eof}}},
		parts:             parts, n: n,
	}
}

func (r *readResult) eof() bool { return r.Opread.(*nfsv4.Read4res_NFS4_OK).Resok4.Eof }

// WriteTo encodes the result: nfs_resop4 (RFC 8881 §16.2.2) with READ4res,
// whose data is opaque<>.
func (r *readResult) WriteTo(w io.Writer) (int64, error) {
	rw, ok := w.(*replyWriter)
	if !ok {
		// Another writer gets a copy of the data through the generated
		// encoding.
		data := make([]byte, 0, r.n)
		for _, p := range r.parts {
			data = append(data, p...)
		}
		flat := &nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_NFS4_OK{Resok4: nfsv4.Read4resok{Eof: r.eof(), Data: data}}}
		return flat.WriteTo(w)
	}
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(nfsv4.OP_READ))
	binary.BigEndian.PutUint32(hdr[4:], uint32(nfsv4.NFS4_OK))
	if r.eof() {
		binary.BigEndian.PutUint32(hdr[8:], 1)
	}
	binary.BigEndian.PutUint32(hdr[12:], uint32(r.n))
	_, _ = rw.Write(hdr[:])
	for _, p := range r.parts {
		rw.ref(p)
	}
	var pad [3]byte
	_, _ = rw.Write(pad[:(4-r.n%4)%4])
	return int64(r.GetEncodedSizeBytes()), nil
}

// GetEncodedSizeBytes returns the size WriteTo writes.
func (r *readResult) GetEncodedSizeBytes() int {
	return 16 + (r.n+3)&^3
}

// compound is the state of one COMPOUND in progress.
type compound struct {
	p      *Program
	ctx    context.Context
	minor  uint32
	caller fs.Caller
	// access is what the connection may do (applyAccess).
	access Access
	// dirChanges records how the operation being run changes directories.
	dirChanges *fs.DirChanges
	fsID       string
	fsys       *fs.FileSystem
	// reqBytes is the size of the COMPOUND's arguments.
	reqBytes int

	cur, saved       fileHandle
	hasCur, hasSaved bool
	// curSid is the current stateid (RFC 8881 §16.2.3.1.2).
	curSid    nfsv4.Stateid4
	hasCurSid bool

	// NFSv4.1: the session and slot of the SEQUENCE, and its client.
	sess *session
	slot uint32
	cl   *client
}

func (p *Program) newCompound(ctx context.Context, minor uint32) (*compound, nfsv4.Nfsstat4) {
	c := &compound{p: p, ctx: ctx, minor: minor, caller: fs.Caller{UID: 65534, GID: 65534}}
	conn, ok := rpc.ConnFromContext(ctx)
	if !ok || conn.FileSystemID == "" {
		p.log.Error("nfs request without a file system in its context")
		return c, nfsv4.NFS4ERR_SERVERFAULT
	}
	c.fsID = conn.FileSystemID
	if cred, ok := rpc.CredentialsFromContext(ctx); ok && cred.Flavor == rpc.AuthSys {
		// EFS trusts the client's AUTH_SYS IDs and squashes no one by
		// default (efs-reference.md §2).
		c.caller = fs.Caller{UID: cred.UID, GID: cred.GID, Groups: slices.Clone(cred.GIDs)}
	}
	if st := c.applyAccess(); st != nfsv4.NFS4_OK {
		return c, st
	}
	if st := p.records.load(ctx, p); st != nfsv4.NFS4_OK {
		return c, st
	}
	return c, nfsv4.NFS4_OK
}

// fileSystem returns the file system the connection serves.
func (c *compound) fileSystem() (*fs.FileSystem, nfsv4.Nfsstat4) {
	if c.fsys == nil {
		f, err := c.p.fsvc.FileSystem(c.ctx, c.fsID)
		if err != nil {
			return nil, statusOf(err)
		}
		c.fsys = f
	}
	return c.fsys, nfsv4.NFS4_OK
}

// current returns the current filehandle and its file system.
func (c *compound) current() (fileHandle, *fs.FileSystem, nfsv4.Nfsstat4) {
	if !c.hasCur {
		return fileHandle{}, nil, nfsv4.NFS4ERR_NOFILEHANDLE
	}
	f, st := c.fileSystem()
	return c.cur, f, st
}

func (c *compound) setCurrent(fh fileHandle) {
	c.cur, c.hasCur = fh, true
	// A new current filehandle clears the current stateid (RFC 8881
	// §16.2.3.1.2), except where an operation sets both.
	c.hasCurSid = false
}

func (c *compound) setCurrentStateid(sid nfsv4.Stateid4) {
	c.curSid, c.hasCurSid = sid, true
}

// run executes the operations of an NFSv4.0 COMPOUND.
func (c *compound) run(ops []decodedOp, res *nfsv4.Compound4res) {
	res.Status = nfsv4.NFS4_OK
	for _, op := range ops {
		r, st := c.exec(op)
		res.Resarray = append(res.Resarray, r)
		if st != nfsv4.NFS4_OK {
			res.Status = st
			return
		}
	}
}

// exec runs one operation.
func (c *compound) exec(op decodedOp) (r nfsv4.NfsResop4, st nfsv4.Nfsstat4) {
	if op.arg == nil {
		return errorResult(op.code, op.err), op.err
	}
	if legal, st := c.legal(op.code); !legal {
		return illegalResult(op.code, st), st
	}
	if err := c.ctx.Err(); err != nil {
		return errorResult(op.code, nfsv4.NFS4ERR_DELAY), nfsv4.NFS4ERR_DELAY
	}
	switch op.code {
	case nfsv4.OP_CREATE, nfsv4.OP_LINK, nfsv4.OP_REMOVE, nfsv4.OP_RENAME, nfsv4.OP_OPEN:
		// These answer how they changed directories (change_info4).
		base := c.ctx
		c.ctx, c.dirChanges = fs.WithDirChanges(base)
		defer func() { c.ctx, c.dirChanges = base, nil }()
	}
	r, st = c.dispatch(op.arg)
	return r, st
}

// illegalResult is the result of an operation that does not exist in the
// minor version: OP_ILLEGAL, or the operation's own result for NOTSUPP.
func illegalResult(op nfsv4.NfsOpnum4, st nfsv4.Nfsstat4) nfsv4.NfsResop4 {
	if st == nfsv4.NFS4ERR_OP_ILLEGAL {
		op = nfsv4.OP_ILLEGAL
	}
	return errorResult(op, st)
}

// legal checks that op exists in the COMPOUND's minor version.
func (c *compound) legal(op nfsv4.NfsOpnum4) (bool, nfsv4.Nfsstat4) {
	switch {
	case op == nfsv4.OP_ILLEGAL, op > nfsv4.OP_CLONE:
		return false, nfsv4.NFS4ERR_OP_ILLEGAL
	case c.minor < 2 && op > nfsv4.OP_RECLAIM_COMPLETE:
		// NFSv4.2 operations are not part of 4.0 or 4.1.
		return false, nfsv4.NFS4ERR_OP_ILLEGAL
	case c.minor == 0 && op >= nfsv4.OP_BACKCHANNEL_CTL:
		return false, nfsv4.NFS4ERR_OP_ILLEGAL
	case c.minor >= 1:
		switch op {
		case nfsv4.OP_OPEN_CONFIRM, nfsv4.OP_RENEW, nfsv4.OP_SETCLIENTID, nfsv4.OP_SETCLIENTID_CONFIRM,
			nfsv4.OP_RELEASE_LOCKOWNER:
			// RFC 8881 §18: "MUST NOT be used" in NFSv4.1.
			return false, nfsv4.NFS4ERR_NOTSUPP
		}
	}
	return true, nfsv4.NFS4_OK
}
