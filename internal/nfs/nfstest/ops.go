package nfstest

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// Builders of operation arguments.

func PutRootFH() nfsv4.NfsArgop4 { return &nfsv4.NfsArgop4_OP_PUTROOTFH{} }
func PutPubFH() nfsv4.NfsArgop4  { return &nfsv4.NfsArgop4_OP_PUTPUBFH{} }
func PutFH(fh []byte) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_PUTFH{Opputfh: nfsv4.Putfh4args{Object: fh}}
}
func GetFH() nfsv4.NfsArgop4     { return &nfsv4.NfsArgop4_OP_GETFH{} }
func SaveFH() nfsv4.NfsArgop4    { return &nfsv4.NfsArgop4_OP_SAVEFH{} }
func RestoreFH() nfsv4.NfsArgop4 { return &nfsv4.NfsArgop4_OP_RESTOREFH{} }
func LookupP() nfsv4.NfsArgop4   { return &nfsv4.NfsArgop4_OP_LOOKUPP{} }
func Readlink() nfsv4.NfsArgop4  { return &nfsv4.NfsArgop4_OP_READLINK{} }
func Lookup(name string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LOOKUP{Oplookup: nfsv4.Lookup4args{Objname: name}}
}
func Remove(name string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_REMOVE{Opremove: nfsv4.Remove4args{Target: name}}
}
func Rename(from, to string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_RENAME{Oprename: nfsv4.Rename4args{Oldname: from, Newname: to}}
}
func Link(name string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LINK{Oplink: nfsv4.Link4args{Newname: name}}
}
func Access(bits uint32) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_ACCESS{Opaccess: nfsv4.Access4args{Access: bits}}
}
func Commit() nfsv4.NfsArgop4 { return &nfsv4.NfsArgop4_OP_COMMIT{} }

// Bitmap returns the attribute bitmap of bits.
func Bitmap(bits ...int) nfsv4.Bitmap4 {
	var m [3]uint32
	n := 0
	for _, b := range bits {
		m[b/32] |= 1 << (b % 32)
		n = max(n, b/32+1)
	}
	return append(nfsv4.Bitmap4{}, m[:n]...)
}

func GetAttr(bits ...int) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_GETATTR{Opgetattr: nfsv4.Getattr4args{AttrRequest: Bitmap(bits...)}}
}

// Mkdir is CREATE of a directory.
func Mkdir(name string, mode uint32) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_CREATE{Opcreate: nfsv4.Create4args{Objtype: &nfsv4.Createtype4_NF4DIR{},
		Objname: name, Createattrs: (&Attrs{Mode: &mode}).Fattr()}}
}

// Symlink is CREATE of a symbolic link.
func Symlink(name, target string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_CREATE{Opcreate: nfsv4.Create4args{Objtype: &nfsv4.Createtype4_NF4LNK{Linkdata: []byte(target)},
		Objname: name, Createattrs: nfsv4.Fattr4{Attrmask: nfsv4.Bitmap4{}}}}
}

// Create is CREATE of any type.
func Create(t nfsv4.Createtype4, name string, a Attrs) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_CREATE{Opcreate: nfsv4.Create4args{Objtype: t, Objname: name, Createattrs: a.Fattr()}}
}

func SetAttr(sid nfsv4.Stateid4, a Attrs) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_SETATTR{Opsetattr: nfsv4.Setattr4args{Stateid: sid, ObjAttributes: a.Fattr()}}
}

func ReadDir(cookie uint64, verf [8]byte, dircount, maxcount uint32, bits ...int) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_READDIR{Opreaddir: nfsv4.Readdir4args{Cookie: cookie, Cookieverf: verf,
		Dircount: dircount, Maxcount: maxcount, AttrRequest: Bitmap(bits...)}}
}

func Read(sid nfsv4.Stateid4, off uint64, count uint32) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_READ{Opread: nfsv4.Read4args{Stateid: sid, Offset: off, Count: count}}
}

func Write(sid nfsv4.Stateid4, off uint64, data []byte) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_WRITE{Opwrite: nfsv4.Write4args{Stateid: sid, Offset: off, Stable: nfsv4.UNSTABLE4, Data: data}}
}

// Open opens name in the current directory, creating it (UNCHECKED4 with
// mode) when how is nil and create is set.
func Open(seqid uint32, clientID uint64, owner string, access uint32, claim nfsv4.OpenClaim4, how nfsv4.Createhow4) nfsv4.NfsArgop4 {
	var oh nfsv4.Openflag4 = &nfsv4.Openflag4_default{Opentype: nfsv4.OPEN4_NOCREATE}
	if how != nil {
		oh = &nfsv4.Openflag4_OPEN4_CREATE{How: how}
	}
	return &nfsv4.NfsArgop4_OP_OPEN{Opopen: nfsv4.Open4args{Seqid: seqid, ShareAccess: access,
		ShareDeny: nfsv4.OPEN4_SHARE_DENY_NONE, Owner: nfsv4.StateOwner4{Clientid: clientID, Owner: []byte(owner)},
		Openhow: oh, Claim: claim}}
}

// ClaimNull names a file in the current directory.
func ClaimNull(name string) nfsv4.OpenClaim4 { return &nfsv4.OpenClaim4_CLAIM_NULL{File: name} }

// Unchecked is UNCHECKED4 creation with a mode.
func Unchecked(mode uint32) nfsv4.Createhow4 {
	return &nfsv4.Createhow4_UNCHECKED4{Createattrs: (&Attrs{Mode: &mode}).Fattr()}
}

func Close(seqid uint32, sid nfsv4.Stateid4) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_CLOSE{Opclose: nfsv4.Close4args{Seqid: seqid, OpenStateid: sid}}
}

// LockNew locks with a new lock owner derived from an open.
func LockNew(write bool, off, length uint64, openSeqid uint32, open nfsv4.Stateid4, lockSeqid uint32, clientID uint64, owner string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LOCK{Oplock: nfsv4.Lock4args{Locktype: lockType(write), Offset: off, Length: length,
		Locker: &nfsv4.Locker4_TRUE{OpenOwner: nfsv4.OpenToLockOwner4{OpenSeqid: openSeqid, OpenStateid: open,
			LockSeqid: lockSeqid, LockOwner: nfsv4.StateOwner4{Clientid: clientID, Owner: []byte(owner)}}}}}
}

// LockExisting locks with an existing lock stateid.
func LockExisting(write bool, off, length uint64, sid nfsv4.Stateid4, seqid uint32) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LOCK{Oplock: nfsv4.Lock4args{Locktype: lockType(write), Offset: off, Length: length,
		Locker: &nfsv4.Locker4_FALSE{LockOwner: nfsv4.ExistLockOwner4{LockStateid: sid, LockSeqid: seqid}}}}
}

func LockT(write bool, off, length uint64, clientID uint64, owner string) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LOCKT{Oplockt: nfsv4.Lockt4args{Locktype: lockType(write), Offset: off, Length: length,
		Owner: nfsv4.StateOwner4{Clientid: clientID, Owner: []byte(owner)}}}
}

func LockU(seqid uint32, sid nfsv4.Stateid4, off, length uint64) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_LOCKU{Oplocku: nfsv4.Locku4args{Locktype: nfsv4.READ_LT, Seqid: seqid, LockStateid: sid,
		Offset: off, Length: length}}
}

func lockType(write bool) nfsv4.NfsLockType4 {
	if write {
		return nfsv4.WRITE_LT
	}
	return nfsv4.READ_LT
}

// Attrs are settable attributes.
type Attrs struct {
	Size         *uint64
	Mode         *uint32
	Owner, Group string
	// Atime and Mtime set the times to the server's (Now) or a given
	// time in seconds.
	AtimeNow, MtimeNow bool
	Mtime              *int64
}

// Fattr encodes a in bit order.
func (a *Attrs) Fattr() nfsv4.Fattr4 {
	var bits []int
	var v []byte
	u32 := func(x uint32) { v = binary.BigEndian.AppendUint32(v, x) }
	str := func(s string) {
		u32(uint32(len(s)))
		v = append(v, s...)
		for len(v)%4 != 0 {
			v = append(v, 0)
		}
	}
	if a.Size != nil {
		bits = append(bits, nfsv4.FATTR4_SIZE)
		v = binary.BigEndian.AppendUint64(v, *a.Size)
	}
	if a.Mode != nil {
		bits = append(bits, nfsv4.FATTR4_MODE)
		u32(*a.Mode)
	}
	if a.Owner != "" {
		bits = append(bits, nfsv4.FATTR4_OWNER)
		str(a.Owner)
	}
	if a.Group != "" {
		bits = append(bits, nfsv4.FATTR4_OWNER_GROUP)
		str(a.Group)
	}
	if a.AtimeNow {
		bits = append(bits, nfsv4.FATTR4_TIME_ACCESS_SET)
		u32(uint32(nfsv4.SET_TO_SERVER_TIME4))
	}
	if a.MtimeNow || a.Mtime != nil {
		bits = append(bits, nfsv4.FATTR4_TIME_MODIFY_SET)
		if a.Mtime != nil {
			u32(uint32(nfsv4.SET_TO_CLIENT_TIME4))
			v = binary.BigEndian.AppendUint64(v, uint64(*a.Mtime))
			u32(0)
		} else {
			u32(uint32(nfsv4.SET_TO_SERVER_TIME4))
		}
	}
	return nfsv4.Fattr4{Attrmask: Bitmap(bits...), AttrVals: v}
}

// Info is a decoded fattr4 (the attributes shelf serves).
type Info struct {
	Mask      [3]uint32
	Supported []uint32
	Type      nfsv4.NfsFtype4
	Change    uint64
	Size      uint64
	Fsid      nfsv4.Fsid4
	LeaseTime uint32
	RdattrErr nfsv4.Nfsstat4
	FH        []byte
	Fileid    uint64
	Mode      uint32
	Numlinks  uint32
	Owner     string
	Group     string
	SpaceUsed uint64
	SpaceFree uint64
	Atime     nfsv4.Nfstime4
	Mtime     nfsv4.Nfstime4
	Ctime     nfsv4.Nfstime4
	MaxRead   uint64
	MaxName   uint32
	MaxLink   uint32
}

// Has reports whether attribute bit was returned.
func (i *Info) Has(bit int) bool { return bit < 96 && i.Mask[bit/32]&(1<<(bit%32)) != 0 }

// UID parses the numeric owner.
func (i *Info) UID() uint32 { v, _ := strconv.ParseUint(i.Owner, 10, 32); return uint32(v) }

var errAttr = errors.New("nfstest: malformed attributes")

// DecodeAttrs parses a fattr4 of the attributes shelf supports.
func DecodeAttrs(f nfsv4.Fattr4) (*Info, error) {
	info := &Info{}
	for i, w := range f.Attrmask {
		if i < 3 {
			info.Mask[i] = w
		} else if w != 0 {
			return nil, errAttr
		}
	}
	b := f.AttrVals
	bad := false
	take := func(n int) []byte {
		if len(b) < n {
			bad = true
			return make([]byte, n)
		}
		v := b[:n]
		b = b[n:]
		return v
	}
	u32 := func() uint32 { return binary.BigEndian.Uint32(take(4)) }
	u64 := func() uint64 { return binary.BigEndian.Uint64(take(8)) }
	opaque := func() []byte {
		n := int(u32())
		if n > len(b) {
			bad = true
			return nil
		}
		v := take((n + 3) &^ 3)
		return v[:n]
	}
	tm := func() nfsv4.Nfstime4 { return nfsv4.Nfstime4{Seconds: int64(u64()), Nseconds: u32()} }
	for bit := 0; bit < 96 && !bad; bit++ {
		if !info.Has(bit) {
			continue
		}
		switch bit {
		case nfsv4.FATTR4_SUPPORTED_ATTRS, nfsv4.FATTR4_SUPPATTR_EXCLCREAT:
			n := int(u32())
			if n > 8 {
				return nil, errAttr
			}
			var words []uint32
			for j := 0; j < n; j++ {
				words = append(words, u32())
			}
			if bit == nfsv4.FATTR4_SUPPORTED_ATTRS {
				info.Supported = words
			}
		case nfsv4.FATTR4_TYPE:
			info.Type = nfsv4.NfsFtype4(u32())
		case nfsv4.FATTR4_FH_EXPIRE_TYPE, nfsv4.FATTR4_LINK_SUPPORT, nfsv4.FATTR4_SYMLINK_SUPPORT,
			nfsv4.FATTR4_NAMED_ATTR, nfsv4.FATTR4_UNIQUE_HANDLES, nfsv4.FATTR4_ACLSUPPORT, nfsv4.FATTR4_CANSETTIME,
			nfsv4.FATTR4_CASE_INSENSITIVE, nfsv4.FATTR4_CASE_PRESERVING, nfsv4.FATTR4_CHOWN_RESTRICTED,
			nfsv4.FATTR4_HOMOGENEOUS, nfsv4.FATTR4_NO_TRUNC:
			u32()
		case nfsv4.FATTR4_CHANGE:
			info.Change = u64()
		case nfsv4.FATTR4_SIZE:
			info.Size = u64()
		case nfsv4.FATTR4_FSID:
			info.Fsid = nfsv4.Fsid4{Major: u64(), Minor: u64()}
		case nfsv4.FATTR4_LEASE_TIME:
			info.LeaseTime = u32()
		case nfsv4.FATTR4_RDATTR_ERROR:
			info.RdattrErr = nfsv4.Nfsstat4(u32())
		case nfsv4.FATTR4_FILEHANDLE:
			info.FH = append([]byte(nil), opaque()...)
		case nfsv4.FATTR4_FILEID:
			info.Fileid = u64()
		case nfsv4.FATTR4_MOUNTED_ON_FILEID, nfsv4.FATTR4_MAXFILESIZE, nfsv4.FATTR4_MAXWRITE,
			nfsv4.FATTR4_SPACE_AVAIL, nfsv4.FATTR4_SPACE_TOTAL:
			u64()
		case nfsv4.FATTR4_MAXREAD:
			info.MaxRead = u64()
		case nfsv4.FATTR4_SPACE_FREE:
			info.SpaceFree = u64()
		case nfsv4.FATTR4_SPACE_USED:
			info.SpaceUsed = u64()
		case nfsv4.FATTR4_MAXLINK:
			info.MaxLink = u32()
		case nfsv4.FATTR4_MAXNAME:
			info.MaxName = u32()
		case nfsv4.FATTR4_MODE:
			info.Mode = u32()
		case nfsv4.FATTR4_NUMLINKS:
			info.Numlinks = u32()
		case nfsv4.FATTR4_OWNER:
			info.Owner = string(opaque())
		case nfsv4.FATTR4_OWNER_GROUP:
			info.Group = string(opaque())
		case nfsv4.FATTR4_RAWDEV:
			u32()
			u32()
		case nfsv4.FATTR4_TIME_ACCESS:
			info.Atime = tm()
		case nfsv4.FATTR4_TIME_MODIFY:
			info.Mtime = tm()
		case nfsv4.FATTR4_TIME_METADATA:
			info.Ctime = tm()
		case nfsv4.FATTR4_TIME_CREATE, nfsv4.FATTR4_TIME_DELTA:
			tm()
		default:
			return nil, errAttr
		}
	}
	if bad || len(b) != 0 {
		return nil, errAttr
	}
	return info, nil
}
