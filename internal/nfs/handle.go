package nfs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"sync"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// File handles (DESIGN.md decision 6) are opaque to clients, versioned,
// and MACed so that a client can neither forge one nor widen its scope by
// editing one. Version 1:
//
//	version(1)=1 type(1) fsIDLen(1) fsID apIDLen(1) apID ino(8) gen(8) mac(16)
//
// mac is HMAC-SHA256(HandleKey, "shelf nfs fh v1\x00" | everything before
// it), truncated to 128 bits. The type is immutable for an inode, so
// carrying it lets operations answer ISDIR, NOTDIR or SYMLINK without a
// metadata read. apID is the access point the handle was issued through
// (empty for none): a handle is valid only on connections of the same
// access point, so it cannot carry a client outside the access point's
// root directory. A version-1
// handle is at most 3+40+1+40+16+16 = 116 bytes, under NFS4_FHSIZE.
const (
	handleVersion1 = 1
	handleMACBytes = 16
	maxHandleIDLen = 40
	// handleMinBytes is the size of a handle with empty IDs.
	handleMinBytes = 1 + 1 + 1 + 1 + 8 + 8 + handleMACBytes
)

var handleMACLabel = []byte("shelf nfs fh v1\x00")

// errBadHandle is returned for handles that are malformed, of an unknown
// version, or whose MAC does not verify.
var errBadHandle = errors.New("nfs: bad file handle")

// fileHandle is a decoded file handle.
type fileHandle struct {
	fsID string
	apID string // access point scope; empty for none
	ino  uint64
	gen  uint64
	typ  fs.FileType
	raw  []byte // the encoded handle
}

// handleCodec encodes and verifies file handles with one MAC key.
type handleCodec struct {
	key []byte
	// macs pools HMAC-SHA256 states keyed with key: hmac.New hashes the
	// key pads every time, a Reset restores them.
	macs sync.Pool // of hash.Hash
}

func (h *handleCodec) mac(body []byte) []byte {
	m, _ := h.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, h.key)
	} else {
		m.Reset()
	}
	m.Write(handleMACLabel)
	m.Write(body)
	sum := m.Sum(make([]byte, 0, sha256.Size))
	h.macs.Put(m)
	return sum[:handleMACBytes]
}

// encode returns the wire form of a handle for ino in file system fsID.
func (h *handleCodec) encode(fsID, apID string, ino, gen uint64, typ fs.FileType) []byte {
	b := make([]byte, 0, handleMinBytes+len(fsID)+len(apID))
	b = append(b, handleVersion1, byte(typ), byte(len(fsID)))
	b = append(b, fsID...)
	b = append(b, byte(len(apID)))
	b = append(b, apID...)
	b = binary.BigEndian.AppendUint64(b, ino)
	b = binary.BigEndian.AppendUint64(b, gen)
	return append(b, h.mac(b)...)
}

// make returns the decoded form of a fresh handle of a file reached
// through access point apID ("" for none).
func (h *handleCodec) make(fsID, apID string, a *fs.Attr) fileHandle {
	return fileHandle{fsID: fsID, apID: apID, ino: a.Ino, gen: a.Generation, typ: a.Type,
		raw: h.encode(fsID, apID, a.Ino, a.Generation, a.Type)}
}

// decode parses and verifies a handle. It never panics and allocates only
// the strings it returns.
func (h *handleCodec) decode(b []byte) (fileHandle, error) {
	if len(b) < handleMinBytes || len(b) > nfsv4.NFS4_FHSIZE || b[0] != handleVersion1 {
		return fileHandle{}, errBadHandle
	}
	body, mac := b[:len(b)-handleMACBytes], b[len(b)-handleMACBytes:]
	if !hmac.Equal(h.mac(body), mac) {
		return fileHandle{}, errBadHandle
	}
	typ := fs.FileType(body[1])
	p := body[2:]
	fsLen := int(p[0])
	if fsLen > maxHandleIDLen || len(p) < 1+fsLen+1 {
		return fileHandle{}, errBadHandle
	}
	fsID := string(p[1 : 1+fsLen])
	p = p[1+fsLen:]
	apLen := int(p[0])
	if apLen > maxHandleIDLen || len(p) != 1+apLen+16 {
		return fileHandle{}, errBadHandle
	}
	apID := string(p[1 : 1+apLen])
	p = p[1+apLen:]
	if typ < fs.TypeRegular || typ > fs.TypeSocket {
		return fileHandle{}, errBadHandle
	}
	return fileHandle{fsID: fsID, apID: apID, ino: binary.BigEndian.Uint64(p), gen: binary.BigEndian.Uint64(p[8:]),
		typ: typ, raw: append([]byte(nil), b...)}, nil
}
