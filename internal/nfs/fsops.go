package nfs

import (
	"strings"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// Operations on filehandles, names and attributes (RFC 8881 §18).

func (c *compound) opPutRootFH() nfsv4.Nfsstat4 {
	if !c.access.Mount {
		return nfsv4.NFS4ERR_ACCESS
	}
	f, st := c.fileSystem()
	if st != nfsv4.NFS4_OK {
		return st
	}
	a, err := f.GetAttr(c.ctx, c.rootIno())
	if err != nil {
		return statusOf(err)
	}
	c.setCurrent(c.handle(&a))
	return nfsv4.NFS4_OK
}

func (c *compound) opPutFH(raw []byte) nfsv4.Nfsstat4 {
	fh, err := c.p.handles.decode(raw)
	if err != nil {
		return nfsv4.NFS4ERR_BADHANDLE
	}
	if !c.access.Mount {
		return nfsv4.NFS4ERR_ACCESS
	}
	if fh.fsID != c.fsID || fh.apID != c.apID() {
		// A genuine handle of another file system, or one issued through
		// another access point (or none): not valid on this connection.
		return nfsv4.NFS4ERR_STALE
	}
	if st := c.checkScope(fh); st != nfsv4.NFS4_OK {
		return st
	}
	c.setCurrent(fh)
	return nfsv4.NFS4_OK
}

func (c *compound) opGetFH() nfsv4.Getfh4res {
	if !c.hasCur {
		return &nfsv4.Getfh4res_default{Status: nfsv4.NFS4ERR_NOFILEHANDLE}
	}
	return &nfsv4.Getfh4res_NFS4_OK{Resok4: nfsv4.Getfh4resok{Object: c.cur.raw}}
}

func (c *compound) opSaveFH() nfsv4.Nfsstat4 {
	if !c.hasCur {
		return nfsv4.NFS4ERR_NOFILEHANDLE
	}
	c.saved, c.hasSaved = c.cur, true
	return nfsv4.NFS4_OK
}

func (c *compound) opRestoreFH() nfsv4.Nfsstat4 {
	if !c.hasSaved {
		return nfsv4.NFS4ERR_RESTOREFH
	}
	c.setCurrent(c.saved)
	return nfsv4.NFS4_OK
}

// checkName validates a component name (RFC 8881 §14.4). fs checks again;
// this gives the NFS-specific codes.
func checkName(name string) nfsv4.Nfsstat4 {
	switch {
	case name == "":
		return nfsv4.NFS4ERR_INVAL
	case len(name) > fs.MaxNameBytes:
		return nfsv4.NFS4ERR_NAMETOOLONG
	case name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
		return nfsv4.NFS4ERR_BADNAME
	}
	return nfsv4.NFS4_OK
}

// dirHandle returns the current filehandle, which must be a directory.
func (c *compound) dirHandle() (fileHandle, *fs.FileSystem, nfsv4.Nfsstat4) {
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return fh, f, st
	}
	switch fh.typ {
	case fs.TypeDirectory:
		return fh, f, nfsv4.NFS4_OK
	case fs.TypeSymlink:
		return fh, f, nfsv4.NFS4ERR_SYMLINK
	}
	return fh, f, nfsv4.NFS4ERR_NOTDIR
}

// changeInfo reports how the operation being run changed directory dir.
// When it changed dir in one transaction (or in transactions that followed
// each other), the change attribute before and after come from inside them
// (fs.DirChanges) and the answer is atomic, so that the client keeps its
// cached view of the directory and applies the change. Otherwise (nothing
// changed, such as an OPEN of an existing file) it is the attribute now,
// not atomic.
func (c *compound) changeInfo(f *fs.FileSystem, dir uint64) nfsv4.ChangeInfo4 {
	if c.dirChanges != nil {
		if dc, ok := c.dirChanges.Get(dir); ok {
			return nfsv4.ChangeInfo4{Atomic: true, Before: dc.Before, After: dc.After}
		}
	}
	a, err := f.GetAttr(c.ctx, dir)
	if err != nil {
		return nfsv4.ChangeInfo4{}
	}
	return nfsv4.ChangeInfo4{Atomic: false, Before: a.Change, After: a.Change}
}

func (c *compound) opLookup(name string) nfsv4.Nfsstat4 {
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return st
	}
	if st := checkName(name); st != nfsv4.NFS4_OK {
		return st
	}
	a, err := f.Lookup(c.ctx, &c.caller, dir.ino, name)
	if err != nil {
		return statusOf(err)
	}
	c.setCurrent(c.handle(&a))
	return nfsv4.NFS4_OK
}

func (c *compound) opLookupP() nfsv4.Nfsstat4 {
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return st
	}
	if dir.ino == c.rootIno() {
		// The root has no parent (RFC 8881 §18.14): the client stays at
		// its root, which is the access point's directory when there is
		// one.
		return nfsv4.NFS4ERR_NOENT
	}
	a, err := f.Lookup(c.ctx, &c.caller, dir.ino, "..")
	if err != nil {
		return statusOf(err)
	}
	c.setCurrent(c.handle(&a))
	return nfsv4.NFS4_OK
}

// accessBits maps ACCESS4 bits to fs permission bits, by file type
// (RFC 8881 §18.1.3; as knfsd, DELETE and LOOKUP apply to directories
// only, EXECUTE to other files only).
func accessBits(dir bool) [][2]uint32 {
	if dir {
		return [][2]uint32{{nfsv4.ACCESS4_READ, fs.MayRead}, {nfsv4.ACCESS4_LOOKUP, fs.MayExec},
			{nfsv4.ACCESS4_MODIFY, fs.MayWrite}, {nfsv4.ACCESS4_EXTEND, fs.MayWrite}, {nfsv4.ACCESS4_DELETE, fs.MayWrite}}
	}
	return [][2]uint32{{nfsv4.ACCESS4_READ, fs.MayRead}, {nfsv4.ACCESS4_MODIFY, fs.MayWrite},
		{nfsv4.ACCESS4_EXTEND, fs.MayWrite}, {nfsv4.ACCESS4_EXECUTE, fs.MayExec}}
}

func (c *compound) opAccess(a *nfsv4.Access4args) nfsv4.Access4res {
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return &nfsv4.Access4res_default{Status: st}
	}
	var supported, want uint32
	bits := accessBits(fh.typ == fs.TypeDirectory)
	for _, b := range bits {
		if a.Access&b[0] != 0 {
			supported |= b[0]
			want |= b[1]
		}
	}
	got, err := f.Access(c.ctx, &c.caller, fh.ino, want)
	if err != nil {
		return &nfsv4.Access4res_default{Status: statusOf(err)}
	}
	var access uint32
	for _, b := range bits {
		if supported&b[0] != 0 && got&b[1] == b[1] {
			access |= b[0]
		}
	}
	if !c.access.Write {
		// A read-only connection (no ClientWrite) may not change anything.
		access &^= nfsv4.ACCESS4_MODIFY | nfsv4.ACCESS4_EXTEND | nfsv4.ACCESS4_DELETE
	}
	return &nfsv4.Access4res_NFS4_OK{Resok4: nfsv4.Access4resok{Supported: supported, Access: access}}
}

// attrSourceFor gathers what encoding mask needs for fh.
func (c *compound) attrSourceFor(f *fs.FileSystem, fh fileHandle, m attrMask) (*attrSource, nfsv4.Nfsstat4) {
	src := &attrSource{minor: c.minor, fh: fh, a: &fs.Attr{Ino: fh.ino, Type: fh.typ, Generation: fh.gen}}
	if needsInode(m) {
		a, err := f.GetAttr(c.ctx, fh.ino)
		if err != nil {
			return nil, statusOf(err)
		}
		if a.Generation != fh.gen || a.Type != fh.typ {
			return nil, nfsv4.NFS4ERR_STALE
		}
		src.a = &a
	}
	if needsStatFS(m) {
		st, err := f.StatFS(c.ctx)
		if err != nil {
			return nil, statusOf(err)
		}
		src.st = &st
	}
	return src, nfsv4.NFS4_OK
}

func (c *compound) opGetAttr(a *nfsv4.Getattr4args) nfsv4.Getattr4res {
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return &nfsv4.Getattr4res_default{Status: st}
	}
	m, _ := maskFromBitmap(a.AttrRequest)
	src, st := c.attrSourceFor(f, fh, m)
	if st != nfsv4.NFS4_OK {
		return &nfsv4.Getattr4res_default{Status: st}
	}
	return &nfsv4.Getattr4res_NFS4_OK{Resok4: nfsv4.Getattr4resok{ObjAttributes: c.p.encodeAttrs(m, src)}}
}

func (c *compound) opSetAttr(a *nfsv4.Setattr4args) nfsv4.Setattr4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Setattr4res {
		return nfsv4.Setattr4res{Status: st, Attrsset: nfsv4.Bitmap4{}}
	}
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	na, st := decodeSetAttrs(c.minor, &a.ObjAttributes)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if na.set.Size != nil {
		switch fh.typ {
		case fs.TypeRegular:
		case fs.TypeDirectory:
			return fail(nfsv4.NFS4ERR_ISDIR)
		default:
			return fail(nfsv4.NFS4ERR_INVAL)
		}
		if st := c.checkIOStateid(a.Stateid, fh, true); st != nfsv4.NFS4_OK {
			return fail(st)
		}
	}
	if _, err := c.setAttr(f, fh.ino, na.set); err != nil {
		return fail(statusOf(err))
	}
	return nfsv4.Setattr4res{Status: nfsv4.NFS4_OK, Attrsset: na.mask.bitmap()}
}

// setAttr is fs.SetAttr with explicit times winning over the time stamp
// of a size change: fs stamps a size change with the current time after
// applying the other attributes, so the size goes first (cp -p and tar
// set both at once).
func (c *compound) setAttr(f *fs.FileSystem, ino uint64, set fs.SetAttrs) (fs.Attr, error) {
	if set.Size != nil && (set.Atime != nil || set.Mtime != nil) {
		if _, err := f.SetAttr(c.ctx, &c.caller, ino, fs.SetAttrs{Size: set.Size}); err != nil {
			return fs.Attr{}, err
		}
		set.Size = nil
	}
	return f.SetAttr(c.ctx, &c.caller, ino, set)
}

func (c *compound) opVerify(fa *nfsv4.Fattr4, negate bool) nfsv4.Nfsstat4 {
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return st
	}
	m, _ := maskFromBitmap(fa.Attrmask)
	src, st := c.attrSourceFor(f, fh, m)
	if st != nfsv4.NFS4_OK {
		return st
	}
	st = c.p.verifyAttrs(fa, src)
	if !negate {
		return st
	}
	switch st {
	case nfsv4.NFS4_OK:
		return nfsv4.NFS4ERR_SAME
	case nfsv4.NFS4ERR_NOT_SAME:
		return nfsv4.NFS4_OK
	}
	return st
}

// defaultMode is the mode of objects created without one.
func defaultMode(t fs.FileType) uint32 {
	if t == fs.TypeDirectory {
		return 0o755
	}
	return 0o644
}

func (c *compound) opCreate(a *nfsv4.Create4args) nfsv4.Create4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Create4res { return &nfsv4.Create4res_default{Status: st} }
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := checkName(a.Objname); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	na, st := decodeSetAttrs(c.minor, &a.Createattrs)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	req := fs.CreateRequest{Name: a.Objname, How: fs.Guarded, UID: na.set.UID, GID: na.set.GID}
	switch t := a.Objtype.(type) {
	case *nfsv4.Createtype4_NF4DIR:
		req.Type = fs.TypeDirectory
	case *nfsv4.Createtype4_NF4LNK:
		req.Type, req.Target = fs.TypeSymlink, string(t.Linkdata)
	case *nfsv4.Createtype4_NF4FIFO:
		req.Type = fs.TypeFIFO
	case *nfsv4.Createtype4_NF4SOCK:
		req.Type = fs.TypeSocket
	case *nfsv4.Createtype4_NF4BLK, *nfsv4.Createtype4_NF4CHR:
		// EFS refuses device files (efs-reference.md §2). PERM reaches
		// users as "Operation not permitted"; Linux would show BADTYPE as
		// its internal errno 527.
		return fail(nfsv4.NFS4ERR_PERM)
	default:
		// Regular files are made by OPEN; named attributes do not exist.
		return fail(nfsv4.NFS4ERR_BADTYPE)
	}
	req.Mode = defaultMode(req.Type)
	if na.set.Mode != nil {
		req.Mode = *na.set.Mode
	}
	if req.Type == fs.TypeSymlink {
		req.Mode = 0o777
	}
	if na.set.Size != nil {
		return fail(nfsv4.NFS4ERR_INVAL)
	}
	attr, _, err := f.Make(c.ctx, &c.caller, dir.ino, req)
	if err != nil {
		return fail(statusOf(err))
	}
	if na.set.Atime != nil || na.set.Mtime != nil {
		if attr, err = f.SetAttr(c.ctx, &c.caller, attr.Ino, fs.SetAttrs{Atime: na.set.Atime, Mtime: na.set.Mtime}); err != nil {
			return fail(statusOf(err))
		}
	}
	cinfo := c.changeInfo(f, dir.ino)
	c.setCurrent(c.handle(&attr))
	return &nfsv4.Create4res_NFS4_OK{Resok4: nfsv4.Create4resok{Cinfo: cinfo, Attrset: na.mask.bitmap()}}
}

func (c *compound) opLink(a *nfsv4.Link4args) nfsv4.Link4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Link4res { return &nfsv4.Link4res_default{Status: st} }
	if !c.hasSaved {
		return fail(nfsv4.NFS4ERR_NOFILEHANDLE)
	}
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := checkName(a.Newname); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	src := c.saved
	if src.fsID != dir.fsID {
		return fail(nfsv4.NFS4ERR_XDEV)
	}
	if src.typ == fs.TypeDirectory {
		return fail(nfsv4.NFS4ERR_ISDIR)
	}
	if _, err := f.Link(c.ctx, &c.caller, src.ino, dir.ino, a.Newname); err != nil {
		return fail(statusOf(err))
	}
	return &nfsv4.Link4res_NFS4_OK{Resok4: nfsv4.Link4resok{Cinfo: c.changeInfo(f, dir.ino)}}
}

func (c *compound) opRemove(a *nfsv4.Remove4args) nfsv4.Remove4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Remove4res { return &nfsv4.Remove4res_default{Status: st} }
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := checkName(a.Target); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if err := f.Remove(c.ctx, &c.caller, dir.ino, a.Target); err != nil {
		return fail(statusOf(err))
	}
	return &nfsv4.Remove4res_NFS4_OK{Resok4: nfsv4.Remove4resok{Cinfo: c.changeInfo(f, dir.ino)}}
}

func (c *compound) opRename(a *nfsv4.Rename4args) nfsv4.Rename4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Rename4res { return &nfsv4.Rename4res_default{Status: st} }
	if !c.hasSaved {
		return fail(nfsv4.NFS4ERR_NOFILEHANDLE)
	}
	dst, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if st := c.mayWrite(); st != nfsv4.NFS4_OK {
		return fail(st)
	}
	src := c.saved
	if src.typ != fs.TypeDirectory {
		return fail(nfsv4.NFS4ERR_NOTDIR)
	}
	if src.fsID != dst.fsID {
		return fail(nfsv4.NFS4ERR_XDEV)
	}
	for _, n := range []string{a.Oldname, a.Newname} {
		if st := checkName(n); st != nfsv4.NFS4_OK {
			return fail(st)
		}
	}
	if err := f.Rename(c.ctx, &c.caller, src.ino, a.Oldname, dst.ino, a.Newname); err != nil {
		return fail(statusOf(err))
	}
	srcInfo := c.changeInfo(f, src.ino)
	dstInfo := srcInfo
	if dst.ino != src.ino {
		dstInfo = c.changeInfo(f, dst.ino)
	}
	return &nfsv4.Rename4res_NFS4_OK{Resok4: nfsv4.Rename4resok{SourceCinfo: srcInfo, TargetCinfo: dstInfo}}
}

func (c *compound) opReadlink() nfsv4.Readlink4res {
	fh, f, st := c.current()
	if st != nfsv4.NFS4_OK {
		return &nfsv4.Readlink4res_default{Status: st}
	}
	if fh.typ != fs.TypeSymlink {
		return &nfsv4.Readlink4res_default{Status: nfsv4.NFS4ERR_INVAL}
	}
	target, err := f.Readlink(c.ctx, fh.ino)
	if err != nil {
		return &nfsv4.Readlink4res_default{Status: statusOf(err)}
	}
	return &nfsv4.Readlink4res_NFS4_OK{Resok4: nfsv4.Readlink4resok{Link: []byte(target)}}
}

func (c *compound) secinfoResult(st nfsv4.Nfsstat4) nfsv4.Secinfo4res {
	if st != nfsv4.NFS4_OK {
		return &nfsv4.Secinfo4res_default{Status: st}
	}
	if c.minor >= 1 {
		// SECINFO consumes the current filehandle (RFC 8881 §2.6.3.1.1.8).
		c.hasCur, c.hasCurSid = false, false
	}
	return &nfsv4.Secinfo4res_NFS4_OK{Resok4: secinfo()}
}

func (c *compound) opSecinfo(a *nfsv4.Secinfo4args) nfsv4.Secinfo4res {
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return c.secinfoResult(st)
	}
	if st := checkName(a.Name); st != nfsv4.NFS4_OK {
		return c.secinfoResult(st)
	}
	if _, err := f.Lookup(c.ctx, &c.caller, dir.ino, a.Name); err != nil {
		return c.secinfoResult(statusOf(err))
	}
	return c.secinfoResult(nfsv4.NFS4_OK)
}

func (c *compound) opSecinfoNoName(style nfsv4.SecinfoStyle4) nfsv4.Secinfo4res {
	fh, _, st := c.current()
	if st != nfsv4.NFS4_OK {
		return c.secinfoResult(st)
	}
	switch style {
	case nfsv4.SECINFO_STYLE4_CURRENT_FH:
	case nfsv4.SECINFO_STYLE4_PARENT:
		if fh.typ != fs.TypeDirectory {
			return c.secinfoResult(nfsv4.NFS4ERR_NOTDIR)
		}
		if fh.ino == c.rootIno() {
			return c.secinfoResult(nfsv4.NFS4ERR_NOENT)
		}
	default:
		return c.secinfoResult(nfsv4.NFS4ERR_INVAL)
	}
	return c.secinfoResult(nfsv4.NFS4_OK)
}

// READDIR (RFC 8881 §18.23). Cookies come straight from fs.ReadDir: an
// entry keeps its cookie until it is removed and new entries get larger
// ones, so a client paging through a changing directory neither misses
// nor repeats the entries that stay. 0 starts, 1 and 2 are reserved.

// readdirOverhead is the size of a READDIR4resok without entries: status,
// verifier, the end of the entry list and eof.
const readdirOverhead = 4 + 8 + 4 + 4

// cookieVerifier is constant per directory: cookies never go stale.
func cookieVerifier(dir uint64) [8]byte {
	var v [8]byte
	v[0] = 's'
	for i := 1; i < 8; i++ {
		v[i] = byte(dir >> (8 * (7 - i)))
	}
	return v
}

func (c *compound) opReadDir(a *nfsv4.Readdir4args) nfsv4.Readdir4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Readdir4res { return &nfsv4.Readdir4res_default{Status: st} }
	dir, f, st := c.dirHandle()
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	verf := cookieVerifier(dir.ino)
	switch {
	case a.Cookie == 1 || a.Cookie == 2:
		return fail(nfsv4.NFS4ERR_BAD_COOKIE)
	case a.Cookie != 0 && a.Cookieverf != verf && a.Cookieverf != [8]byte{}:
		return fail(nfsv4.NFS4ERR_NOT_SAME)
	}
	maxcount := min(int(a.Maxcount), MaxResponseBytes-1024)
	if c.sess != nil {
		maxcount = min(maxcount, int(c.sess.fore.CaMaxresponsesize)-512)
	}
	m, _ := maskFromBitmap(a.AttrRequest)
	m = m.and(supportedAttrs(c.minor))
	// Handles carry the generation, so they need the inode too.
	withAttrs := needsInode(m) || m.has(nfsv4.FATTR4_FILEHANDLE)
	var st2 *fs.StatFS
	if needsStatFS(m) {
		s, err := f.StatFS(c.ctx)
		if err != nil {
			return fail(statusOf(err))
		}
		st2 = &s
	}
	// Guess how many entries fit, to fetch them in few batches.
	perEntry := 48 + 4*3
	if withAttrs {
		perEntry += 140
	}
	if m.has(nfsv4.FATTR4_FILEHANDLE) {
		perEntry += 64
	}
	batch := min(max(maxcount/perEntry, 8), 1024)

	size := readdirOverhead
	dirBytes := 0
	var first, last *nfsv4.Entry4
	cookie := a.Cookie
	eof := false
	full := false
	for !full && !eof {
		entries, end, err := f.ReadDir(c.ctx, &c.caller, dir.ino, cookie, batch, withAttrs)
		if err != nil {
			return fail(statusOf(err))
		}
		for i := range entries {
			e := &entries[i]
			if !validUTF8(e.Name) {
				// Every name arrived as UTF-8; this one cannot be sent.
				c.p.log.Warn("nfs: directory entry name is not UTF-8", "fs_id", c.fsID, "ino", dir.ino)
				cookie = e.Cookie
				continue
			}
			attr := e.Attr
			if attr == nil {
				attr = &fs.Attr{Ino: e.Ino, Type: e.Type}
			}
			src := &attrSource{minor: c.minor, a: attr, st: st2,
				fh: c.handle(attr)}
			ent := &nfsv4.Entry4{Cookie: e.Cookie, Name: e.Name, Attrs: c.p.encodeAttrs(m, src)}
			entSize := 4 + 8 + 4 + (len(e.Name)+3)&^3 + 4 + 4*len(ent.Attrs.Attrmask) + 4 + len(ent.Attrs.AttrVals)
			entDir := 8 + 4 + (len(e.Name)+3)&^3
			if size+entSize > maxcount || (a.Dircount > 0 && first != nil && dirBytes+entDir > int(a.Dircount)) {
				full = true
				break
			}
			size += entSize
			dirBytes += entDir
			if first == nil {
				first = ent
			} else {
				last.Nextentry = ent
			}
			last = ent
			cookie = e.Cookie
		}
		if !full && end {
			eof = true
		}
		if len(entries) == 0 {
			eof = end
			if !end {
				break
			}
		}
	}
	if first == nil && full {
		return fail(nfsv4.NFS4ERR_TOOSMALL)
	}
	return &nfsv4.Readdir4res_NFS4_OK{Resok4: nfsv4.Readdir4resok{Cookieverf: verf,
		Reply: nfsv4.Dirlist4{Entries: first, Eof: eof}}}
}
