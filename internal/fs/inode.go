package fs

import (
	"encoding/binary"
	"fmt"
	"time"
)

// FileType is the type of an inode.
type FileType uint8

// File types.
const (
	TypeRegular FileType = iota + 1
	TypeDirectory
	TypeSymlink
	TypeBlockDevice
	TypeCharDevice
	TypeFIFO
	TypeSocket
)

func (t FileType) valid() bool { return t >= TypeRegular && t <= TypeSocket }

// Mode bits kept in Attr.Mode (the type lives in Attr.Type).
const (
	ModeSetUID  = 0o4000
	ModeSetGID  = 0o2000
	ModeSticky  = 0o1000
	ModePerm    = 0o777
	modeAllBits = 0o7777
)

// Attr is what fs tells about an inode.
type Attr struct {
	Ino   uint64
	Type  FileType
	Mode  uint32 // permission bits plus setuid, setgid, sticky
	Nlink uint32
	UID   uint32
	GID   uint32
	Size  uint64
	// SpaceUsed is the number of bytes of storage the file's contents use
	// (holes take none).
	SpaceUsed uint64
	Rdev      uint32 // major<<16 | minor, for device files
	Atime     time.Time
	Mtime     time.Time
	Ctime     time.Time
	Btime     time.Time
	// Change increases on every change of the inode (NFSv4 change attribute).
	Change     uint64
	Generation uint64
	// Parent is the parent directory of a directory (itself for the root);
	// zero for other types, which may have many links.
	Parent uint64
}

// inode is the stored form of an inode.
type inode struct {
	Attr
	nextCookie uint64  // directories: next readdir cookie to hand out
	entries    uint64  // directories: number of entries
	verifier   [8]byte // exclusive-create verifier
	target     []byte  // symlink target
}

const (
	inodeVersion    byte = 1
	inodeFixedBytes      = 1 + 1 + 4*5 + 8*12 + 8 + 2
)

func putTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

func getTime(b []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC() }

// encode returns the plain stored form of the inode:
//
//	version(1) type(1) mode nlink uid gid rdev (4 each)
//	size spaceUsed atime mtime ctime btime change generation parent
//	nextCookie entries ino (8 each) verifier(8) targetLen(2) target
func (n *inode) encode() []byte {
	b := make([]byte, 0, inodeFixedBytes+len(n.target))
	b = append(b, inodeVersion, byte(n.Type))
	for _, v := range []uint32{n.Mode, n.Nlink, n.UID, n.GID, n.Rdev} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, n.Size)
	b = binary.BigEndian.AppendUint64(b, n.SpaceUsed)
	for _, t := range []time.Time{n.Atime, n.Mtime, n.Ctime, n.Btime} {
		b = putTime(b, t)
	}
	for _, v := range []uint64{n.Change, n.Generation, n.Parent, n.nextCookie, n.entries, n.Ino} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = append(b, n.verifier[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(n.target)))
	return append(b, n.target...)
}

// decodeInode parses the plain stored form. It never panics.
func decodeInode(b []byte) (*inode, error) {
	if len(b) < inodeFixedBytes {
		return nil, fmt.Errorf("inode record of %d bytes is too short", len(b))
	}
	if b[0] != inodeVersion {
		return nil, fmt.Errorf("unknown inode record version %d", b[0])
	}
	n := &inode{}
	n.Type = FileType(b[1])
	if !n.Type.valid() {
		return nil, fmt.Errorf("bad file type %d", b[1])
	}
	p := b[2:]
	u32 := func() uint32 { v := binary.BigEndian.Uint32(p); p = p[4:]; return v }
	u64 := func() uint64 { v := binary.BigEndian.Uint64(p); p = p[8:]; return v }
	n.Mode, n.Nlink, n.UID, n.GID, n.Rdev = u32(), u32(), u32(), u32(), u32()
	if n.Mode&^modeAllBits != 0 {
		return nil, fmt.Errorf("bad mode %o", n.Mode)
	}
	n.Size, n.SpaceUsed = u64(), u64()
	n.Atime, n.Mtime, n.Ctime, n.Btime = getTime(p), getTime(p[8:]), getTime(p[16:]), getTime(p[24:])
	p = p[32:]
	n.Change, n.Generation, n.Parent, n.nextCookie, n.entries, n.Ino = u64(), u64(), u64(), u64(), u64(), u64()
	copy(n.verifier[:], p)
	p = p[8:]
	tl := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if tl != len(p) {
		return nil, fmt.Errorf("symlink target length %d does not match %d bytes", tl, len(p))
	}
	if tl > 0 {
		n.target = append([]byte{}, p...)
	}
	return n, nil
}
