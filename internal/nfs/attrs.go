package nfs

import (
	"bytes"
	"strconv"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// attrMask is an attribute bitmap (RFC 8881 §3.3.7) of the first 96
// attributes, which covers every attribute shelf knows.
type attrMask [3]uint32

func maskOf(bits ...int) attrMask {
	var m attrMask
	for _, b := range bits {
		m[b/32] |= 1 << (b % 32)
	}
	return m
}

func (m attrMask) has(bit int) bool { return bit < 96 && m[bit/32]&(1<<(bit%32)) != 0 }

func (m attrMask) and(o attrMask) attrMask { return attrMask{m[0] & o[0], m[1] & o[1], m[2] & o[2]} }
func (m attrMask) or(o attrMask) attrMask  { return attrMask{m[0] | o[0], m[1] | o[1], m[2] | o[2]} }
func (m attrMask) andNot(o attrMask) attrMask {
	return attrMask{m[0] &^ o[0], m[1] &^ o[1], m[2] &^ o[2]}
}
func (m attrMask) empty() bool { return m == attrMask{} }

// bitmap returns the wire form without trailing zero words.
func (m attrMask) bitmap() nfsv4.Bitmap4 {
	n := 3
	for n > 0 && m[n-1] == 0 {
		n--
	}
	return append(nfsv4.Bitmap4{}, m[:n]...)
}

// maskFromBitmap converts a wire bitmap. extra reports bits beyond the
// first 96, which no supported attribute uses.
func maskFromBitmap(b nfsv4.Bitmap4) (m attrMask, extra bool) {
	for i, w := range b {
		if i < 3 {
			m[i] = w
		} else if w != 0 {
			extra = true
		}
	}
	return m, extra
}

// The attributes shelf supports (RFC 8881 §5.6, §5.7). Unsupported ones,
// among them those EFS refuses (acl, archive, files_avail/free/total,
// fs_locations, mimetype, quota_*, time_backup), are omitted from GETATTR
// replies and answer NFS4ERR_ATTRNOTSUPP on SETATTR and VERIFY.
var (
	supportedAttrs40 = maskOf(
		nfsv4.FATTR4_SUPPORTED_ATTRS, nfsv4.FATTR4_TYPE, nfsv4.FATTR4_FH_EXPIRE_TYPE, nfsv4.FATTR4_CHANGE,
		nfsv4.FATTR4_SIZE, nfsv4.FATTR4_LINK_SUPPORT, nfsv4.FATTR4_SYMLINK_SUPPORT, nfsv4.FATTR4_NAMED_ATTR,
		nfsv4.FATTR4_FSID, nfsv4.FATTR4_UNIQUE_HANDLES, nfsv4.FATTR4_LEASE_TIME, nfsv4.FATTR4_RDATTR_ERROR,
		nfsv4.FATTR4_ACLSUPPORT, nfsv4.FATTR4_CANSETTIME, nfsv4.FATTR4_CASE_INSENSITIVE,
		nfsv4.FATTR4_CASE_PRESERVING, nfsv4.FATTR4_CHOWN_RESTRICTED, nfsv4.FATTR4_FILEHANDLE,
		nfsv4.FATTR4_FILEID, nfsv4.FATTR4_HOMOGENEOUS, nfsv4.FATTR4_MAXFILESIZE, nfsv4.FATTR4_MAXLINK,
		nfsv4.FATTR4_MAXNAME, nfsv4.FATTR4_MAXREAD, nfsv4.FATTR4_MAXWRITE, nfsv4.FATTR4_MODE,
		nfsv4.FATTR4_NO_TRUNC, nfsv4.FATTR4_NUMLINKS, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP,
		nfsv4.FATTR4_RAWDEV, nfsv4.FATTR4_SPACE_AVAIL, nfsv4.FATTR4_SPACE_FREE, nfsv4.FATTR4_SPACE_TOTAL,
		nfsv4.FATTR4_SPACE_USED, nfsv4.FATTR4_TIME_ACCESS, nfsv4.FATTR4_TIME_ACCESS_SET,
		nfsv4.FATTR4_TIME_CREATE, nfsv4.FATTR4_TIME_DELTA, nfsv4.FATTR4_TIME_METADATA,
		nfsv4.FATTR4_TIME_MODIFY, nfsv4.FATTR4_TIME_MODIFY_SET, nfsv4.FATTR4_MOUNTED_ON_FILEID)
	supportedAttrs41 = supportedAttrs40.or(maskOf(nfsv4.FATTR4_SUPPATTR_EXCLCREAT))

	// settableAttrs may appear in SETATTR, CREATE and OPEN.
	settableAttrs = maskOf(nfsv4.FATTR4_SIZE, nfsv4.FATTR4_MODE, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP,
		nfsv4.FATTR4_TIME_ACCESS_SET, nfsv4.FATTR4_TIME_MODIFY_SET)
	// writeOnlyAttrs cannot be read (GETATTR skips them; VERIFY refuses them).
	writeOnlyAttrs = maskOf(nfsv4.FATTR4_TIME_ACCESS_SET, nfsv4.FATTR4_TIME_MODIFY_SET)
	// exclCreatAttrs may be set by an EXCLUSIVE4_1 create: fs keeps the
	// verifier apart from the times, so every settable attribute can be.
	exclCreatAttrs = settableAttrs

	// attrsFromHandle need only the file handle (and constants).
	attrsFromHandle = maskOf(nfsv4.FATTR4_SUPPORTED_ATTRS, nfsv4.FATTR4_TYPE, nfsv4.FATTR4_FH_EXPIRE_TYPE,
		nfsv4.FATTR4_LINK_SUPPORT, nfsv4.FATTR4_SYMLINK_SUPPORT, nfsv4.FATTR4_NAMED_ATTR, nfsv4.FATTR4_FSID,
		nfsv4.FATTR4_UNIQUE_HANDLES, nfsv4.FATTR4_LEASE_TIME, nfsv4.FATTR4_RDATTR_ERROR,
		nfsv4.FATTR4_ACLSUPPORT, nfsv4.FATTR4_CANSETTIME, nfsv4.FATTR4_CASE_INSENSITIVE,
		nfsv4.FATTR4_CASE_PRESERVING, nfsv4.FATTR4_CHOWN_RESTRICTED, nfsv4.FATTR4_FILEHANDLE,
		nfsv4.FATTR4_FILEID, nfsv4.FATTR4_HOMOGENEOUS, nfsv4.FATTR4_MAXFILESIZE, nfsv4.FATTR4_MAXLINK,
		nfsv4.FATTR4_MAXNAME, nfsv4.FATTR4_MAXREAD, nfsv4.FATTR4_MAXWRITE, nfsv4.FATTR4_NO_TRUNC,
		nfsv4.FATTR4_TIME_DELTA, nfsv4.FATTR4_MOUNTED_ON_FILEID, nfsv4.FATTR4_SUPPATTR_EXCLCREAT)
	// statFSAttrs need fs.StatFS.
	statFSAttrs = maskOf(nfsv4.FATTR4_SPACE_AVAIL, nfsv4.FATTR4_SPACE_FREE, nfsv4.FATTR4_SPACE_TOTAL)
)

func supportedAttrs(minor uint32) attrMask {
	if minor == 0 {
		return supportedAttrs40
	}
	return supportedAttrs41
}

// nfsType returns the NFSv4 type of an fs type.
func nfsType(t fs.FileType) nfsv4.NfsFtype4 {
	switch t {
	case fs.TypeRegular:
		return nfsv4.NF4REG
	case fs.TypeDirectory:
		return nfsv4.NF4DIR
	case fs.TypeSymlink:
		return nfsv4.NF4LNK
	case fs.TypeBlockDevice:
		return nfsv4.NF4BLK
	case fs.TypeCharDevice:
		return nfsv4.NF4CHR
	case fs.TypeFIFO:
		return nfsv4.NF4FIFO
	case fs.TypeSocket:
		return nfsv4.NF4SOCK
	}
	return nfsv4.NF4REG
}

// attrSource is what attribute values are made from.
type attrSource struct {
	minor uint32
	fh    fileHandle
	// a holds the inode's attributes; only Ino and Type are set when the
	// request needs nothing else (needsInode).
	a         *fs.Attr
	st        *fs.StatFS
	rdattrErr nfsv4.Nfsstat4
}

// needsInode reports whether encoding mask needs the inode's attributes
// beyond what the handle carries.
func needsInode(m attrMask) bool { return !m.andNot(attrsFromHandle).andNot(statFSAttrs).empty() }

func needsStatFS(m attrMask) bool { return !m.and(statFSAttrs).empty() }

// encodeAttrs encodes the requested attributes that are supported and
// readable, in bit order, and returns them with the mask of what it wrote.
func (p *Program) encodeAttrs(req attrMask, src *attrSource) nfsv4.Fattr4 {
	m := req.and(supportedAttrs(src.minor)).andNot(writeOnlyAttrs)
	if src.st == nil {
		m = m.andNot(statFSAttrs)
	}
	var e xdrEnc
	a := src.a
	for bit := 0; bit < 96; bit++ {
		if !m.has(bit) {
			continue
		}
		switch bit {
		case nfsv4.FATTR4_SUPPORTED_ATTRS:
			e.bitmap(supportedAttrs(src.minor).bitmap())
		case nfsv4.FATTR4_TYPE:
			e.u32(uint32(nfsType(src.fh.typ)))
		case nfsv4.FATTR4_FH_EXPIRE_TYPE:
			e.u32(nfsv4.FH4_PERSISTENT)
		case nfsv4.FATTR4_CHANGE:
			e.u64(a.Change)
		case nfsv4.FATTR4_SIZE:
			e.u64(a.Size)
		case nfsv4.FATTR4_LINK_SUPPORT, nfsv4.FATTR4_SYMLINK_SUPPORT, nfsv4.FATTR4_UNIQUE_HANDLES,
			nfsv4.FATTR4_CANSETTIME, nfsv4.FATTR4_CASE_PRESERVING, nfsv4.FATTR4_CHOWN_RESTRICTED,
			nfsv4.FATTR4_HOMOGENEOUS, nfsv4.FATTR4_NO_TRUNC:
			e.boolean(true)
		case nfsv4.FATTR4_NAMED_ATTR, nfsv4.FATTR4_CASE_INSENSITIVE:
			e.boolean(false)
		case nfsv4.FATTR4_FSID:
			fsid := fsidOf(src.fh.fsID)
			e.u64(fsid.Major)
			e.u64(fsid.Minor)
		case nfsv4.FATTR4_LEASE_TIME:
			e.u32(p.leaseSeconds())
		case nfsv4.FATTR4_RDATTR_ERROR:
			e.u32(uint32(src.rdattrErr))
		case nfsv4.FATTR4_ACLSUPPORT:
			e.u32(0) // EFS supports no ACLs
		case nfsv4.FATTR4_FILEHANDLE:
			e.opaque(src.fh.raw)
		case nfsv4.FATTR4_FILEID, nfsv4.FATTR4_MOUNTED_ON_FILEID:
			e.u64(src.fh.ino)
		case nfsv4.FATTR4_MAXFILESIZE:
			e.u64(fs.MaxFileSize)
		case nfsv4.FATTR4_MAXLINK:
			e.u32(fs.MaxLinks)
		case nfsv4.FATTR4_MAXNAME:
			e.u32(fs.MaxNameBytes)
		case nfsv4.FATTR4_MAXREAD, nfsv4.FATTR4_MAXWRITE:
			e.u64(MaxIOBytes)
		case nfsv4.FATTR4_MODE:
			e.u32(a.Mode & 0o7777)
		case nfsv4.FATTR4_NUMLINKS:
			e.u32(a.Nlink)
		case nfsv4.FATTR4_OWNER:
			e.str(strconv.FormatUint(uint64(a.UID), 10))
		case nfsv4.FATTR4_OWNER_GROUP:
			e.str(strconv.FormatUint(uint64(a.GID), 10))
		case nfsv4.FATTR4_RAWDEV:
			e.u32(a.Rdev >> 16)
			e.u32(a.Rdev & 0xffff)
		case nfsv4.FATTR4_SPACE_AVAIL, nfsv4.FATTR4_SPACE_FREE:
			e.u64(src.st.FreeBytes)
		case nfsv4.FATTR4_SPACE_TOTAL:
			e.u64(src.st.TotalBytes)
		case nfsv4.FATTR4_SPACE_USED:
			used := a.SpaceUsed
			if a.Type == fs.TypeDirectory {
				used = fs.DirSize
			}
			e.u64(used)
		case nfsv4.FATTR4_TIME_ACCESS:
			e.time(a.Atime)
		case nfsv4.FATTR4_TIME_CREATE:
			e.time(a.Btime)
		case nfsv4.FATTR4_TIME_DELTA:
			e.u64(0)
			e.u32(1) // fs keeps nanoseconds
		case nfsv4.FATTR4_TIME_METADATA:
			e.time(a.Ctime)
		case nfsv4.FATTR4_TIME_MODIFY:
			e.time(a.Mtime)
		case nfsv4.FATTR4_SUPPATTR_EXCLCREAT:
			e.bitmap(exclCreatAttrs.bitmap())
		}
	}
	return nfsv4.Fattr4{Attrmask: m.bitmap(), AttrVals: e.b}
}

// fsidOf derives a stable fsid from the file-system ID (FNV-1a), the same
// on every node and across restarts.
func fsidOf(fsID string) nfsv4.Fsid4 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(fsID); i++ {
		h ^= uint64(fsID[i])
		h *= 1099511628211
	}
	return nfsv4.Fsid4{Major: h >> 1, Minor: 0}
}

// newAttrs are the attributes of a SETATTR, CREATE or OPEN.
type newAttrs struct {
	set  fs.SetAttrs
	mask attrMask
}

// decodeSetAttrs parses a fattr4 of settable attributes. A supported but
// read-only attribute is NFS4ERR_INVAL, an unsupported one
// NFS4ERR_ATTRNOTSUPP (RFC 8881 §18.30.3), a non-numeric owner
// NFS4ERR_BADOWNER.
func decodeSetAttrs(minor uint32, f *nfsv4.Fattr4) (newAttrs, nfsv4.Nfsstat4) {
	m, extra := maskFromBitmap(f.Attrmask)
	if extra || !m.andNot(supportedAttrs(minor)).empty() {
		return newAttrs{}, nfsv4.NFS4ERR_ATTRNOTSUPP
	}
	if !m.andNot(settableAttrs).empty() {
		return newAttrs{}, nfsv4.NFS4ERR_INVAL
	}
	out := newAttrs{mask: m}
	d := xdrDec{b: f.AttrVals}
	for bit := 0; bit < 96; bit++ {
		if !m.has(bit) {
			continue
		}
		switch bit {
		case nfsv4.FATTR4_SIZE:
			v := d.u64()
			out.set.Size = &v
		case nfsv4.FATTR4_MODE:
			v := d.u32()
			if v&^0o7777 != 0 {
				return newAttrs{}, nfsv4.NFS4ERR_INVAL
			}
			out.set.Mode = &v
		case nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP:
			s := d.utf8(1024)
			if d.err != nil {
				return newAttrs{}, nfsv4.NFS4ERR_BADXDR
			}
			id, ok := parseID(s)
			if !ok {
				return newAttrs{}, nfsv4.NFS4ERR_BADOWNER
			}
			if bit == nfsv4.FATTR4_OWNER {
				out.set.UID = &id
			} else {
				out.set.GID = &id
			}
		case nfsv4.FATTR4_TIME_ACCESS_SET, nfsv4.FATTR4_TIME_MODIFY_SET:
			var st fs.SetTime
			switch nfsv4.TimeHow4(d.u32()) {
			case nfsv4.SET_TO_SERVER_TIME4:
				st.Now = true
			case nfsv4.SET_TO_CLIENT_TIME4:
				t, ok := d.nfstime()
				if !ok {
					if d.err != nil {
						return newAttrs{}, nfsv4.NFS4ERR_BADXDR
					}
					return newAttrs{}, nfsv4.NFS4ERR_INVAL
				}
				st.Time = t
			default:
				if d.err != nil {
					return newAttrs{}, nfsv4.NFS4ERR_BADXDR
				}
				return newAttrs{}, nfsv4.NFS4ERR_INVAL
			}
			if bit == nfsv4.FATTR4_TIME_ACCESS_SET {
				out.set.Atime = &st
			} else {
				out.set.Mtime = &st
			}
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return newAttrs{}, nfsv4.NFS4ERR_BADXDR
	}
	return out, nfsv4.NFS4_OK
}

// parseID parses a numeric owner or group string ("1000"). shelf, like
// EFS, knows only numeric IDs.
func parseID(s string) (uint32, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// verifyAttrs compares the attributes in f with the object's (VERIFY and
// NVERIFY). It returns NFS4_OK when they are equal, NFS4ERR_NOT_SAME when
// they differ.
func (p *Program) verifyAttrs(f *nfsv4.Fattr4, src *attrSource) nfsv4.Nfsstat4 {
	m, extra := maskFromBitmap(f.Attrmask)
	if extra || !m.andNot(supportedAttrs(src.minor)).empty() {
		return nfsv4.NFS4ERR_ATTRNOTSUPP
	}
	if m.has(nfsv4.FATTR4_RDATTR_ERROR) || !m.and(writeOnlyAttrs).empty() {
		return nfsv4.NFS4ERR_INVAL
	}
	ours := p.encodeAttrs(m, src)
	if got, _ := maskFromBitmap(ours.Attrmask); got != m {
		return nfsv4.NFS4ERR_NOT_SAME
	}
	if bytes.Equal(ours.AttrVals, f.AttrVals) {
		return nfsv4.NFS4_OK
	}
	return nfsv4.NFS4ERR_NOT_SAME
}
