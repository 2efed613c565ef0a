package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/meta"
)

// firstCookie is the first readdir cookie handed out: NFSv4 reserves 0 (start
// of directory), 1 and 2 (RFC 8881 §18.23.4).
const firstCookie = 3

// DirSize is the size a directory reports.
const DirSize = 4096

func validName(op string, dir uint64, name string) error {
	switch {
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
		return errorf(op, dir, Invalid, fmt.Errorf("invalid name"))
	case len(name) > MaxNameBytes:
		return errorf(op, dir, NameTooLong, nil)
	}
	return nil
}

func (n *inode) attr() Attr {
	a := n.Attr
	if a.Type == TypeDirectory {
		a.Size = DirSize
	}
	return a
}

// GetAttr returns the attributes of ino.
func (f *FileSystem) GetAttr(ctx context.Context, ino uint64) (Attr, error) {
	var a Attr
	on := f.svc.overlayBegin()
	defer f.svc.overlayEnd(on)
	err := f.view(ctx, "getattr", ino, func(r *reader) error {
		n, err := r.inode(ino)
		if err != nil {
			return err
		}
		a = n.attr()
		return nil
	})
	if on && err == nil {
		f.svc.overlayApply(f.rec.Vol, &a)
	}
	return a, err
}

// Lookup finds name in directory dir. "." and ".." are accepted.
func (f *FileSystem) Lookup(ctx context.Context, c *Caller, dir uint64, name string) (Attr, error) {
	var a Attr
	on := f.svc.overlayBegin()
	defer f.svc.overlayEnd(on)
	err := f.view(ctx, "lookup", dir, func(r *reader) error {
		d, err := r.inode(dir)
		if err != nil {
			return err
		}
		if d.Type != TypeDirectory {
			return errorf("", dir, NotDir, nil)
		}
		if err := c.check("", d, MayExec); err != nil {
			return err
		}
		target := uint64(0)
		switch name {
		case ".":
			target = dir
		case "..":
			target = d.Parent
		default:
			if err := validName("", dir, name); err != nil {
				return err
			}
			e, ok, err := r.lookup(dir, name)
			if err != nil {
				return err
			}
			if !ok {
				return errorf("", dir, NotExist, nil)
			}
			target = e.ino
		}
		n, err := r.inode(target)
		if err != nil {
			return err
		}
		a = n.attr()
		return nil
	})
	if on && err == nil {
		f.svc.overlayApply(f.rec.Vol, &a)
	}
	return a, err
}

// Access returns the subset of want (MayRead|MayWrite|MayExec) that c has on ino.
func (f *FileSystem) Access(ctx context.Context, c *Caller, ino uint64, want uint32) (uint32, error) {
	var got uint32
	err := f.view(ctx, "access", ino, func(r *reader) error {
		n, err := r.inode(ino)
		if err != nil {
			return err
		}
		got = c.allowed(n, want)
		return nil
	})
	return got, err
}

// Readlink returns the target of symlink ino.
func (f *FileSystem) Readlink(ctx context.Context, ino uint64) (string, error) {
	var target string
	err := f.view(ctx, "readlink", ino, func(r *reader) error {
		n, err := r.inode(ino)
		if err != nil {
			return err
		}
		if n.Type != TypeSymlink {
			return errorf("", ino, Invalid, errors.New("not a symlink"))
		}
		target = string(n.target)
		return nil
	})
	return target, err
}

// CreateMode says how Create treats an existing name (RFC 8881 §18.16).
type CreateMode int

// Create modes.
const (
	Unchecked CreateMode = iota // existing regular file is returned as is
	Guarded                     // existing name fails with Exist
	Exclusive                   // existing name fails unless it was made with the same verifier
)

// CreateRequest describes a new inode.
type CreateRequest struct {
	Name string
	Type FileType
	// Mode holds permission, setuid, setgid and sticky bits.
	Mode     uint32
	Rdev     uint32 // device files
	Target   string // symlinks
	How      CreateMode
	Verifier [8]byte // Exclusive
	// UID and GID, when set, give the new inode an owner other than the
	// caller (only root may give it away; a member may choose its group).
	UID, GID *uint32
}

// Create makes a regular file. created is false when Unchecked or an
// Exclusive retry returned an existing file.
func (f *FileSystem) Create(ctx context.Context, c *Caller, dir uint64, name string, mode uint32, how CreateMode, verifier [8]byte) (a Attr, created bool, err error) {
	return f.Make(ctx, c, dir, CreateRequest{Name: name, Type: TypeRegular, Mode: mode, How: how, Verifier: verifier})
}

// Mkdir makes a directory.
func (f *FileSystem) Mkdir(ctx context.Context, c *Caller, dir uint64, name string, mode uint32) (Attr, error) {
	a, _, err := f.Make(ctx, c, dir, CreateRequest{Name: name, Type: TypeDirectory, Mode: mode, How: Guarded})
	return a, err
}

// Symlink makes a symbolic link.
func (f *FileSystem) Symlink(ctx context.Context, c *Caller, dir uint64, name, target string) (Attr, error) {
	a, _, err := f.Make(ctx, c, dir, CreateRequest{Name: name, Type: TypeSymlink, Mode: 0o777, Target: target, How: Guarded})
	return a, err
}

// Make creates an inode of any type in directory dir.
func (f *FileSystem) Make(ctx context.Context, c *Caller, dir uint64, req CreateRequest) (a Attr, created bool, err error) {
	const op = "create"
	if err := validName(op, dir, req.Name); err != nil {
		return Attr{}, false, err
	}
	if !req.Type.valid() {
		return Attr{}, false, errorf(op, dir, Invalid, errors.New("bad file type"))
	}
	if req.Type == TypeSymlink && (len(req.Target) == 0 || len(req.Target) > MaxSymlinkBytes) {
		code := NameTooLong
		if len(req.Target) == 0 {
			code = Invalid
		}
		return Attr{}, false, errorf(op, dir, code, errors.New("symlink target length"))
	}
	if err := f.spaceCheck(op, dir); err != nil {
		return Attr{}, false, err
	}
	ino, err := f.allocIno(ctx)
	if err != nil {
		return Attr{}, false, wrap(op, dir, err)
	}
	err = f.update(ctx, op, dir, func(t *txn) error {
		d, err := t.inode(dir)
		if err != nil {
			return err
		}
		if d.Type != TypeDirectory {
			return errorf("", dir, NotDir, nil)
		}
		if e, ok, err := t.lookup(dir, req.Name); err != nil {
			return err
		} else if ok {
			return existing(t, c, d, e, req, &a, &created)
		}
		if err := c.check("", d, MayWrite|MayExec); err != nil {
			return err
		}
		if req.Type == TypeDirectory {
			if depth, err := t.depth(d); err != nil {
				return err
			} else if depth >= MaxDepth {
				return errorf("", dir, TooDeep, nil)
			}
		}
		n := &inode{Attr: Attr{Ino: ino, Type: req.Type, Mode: req.Mode & modeAllBits, Nlink: 1,
			UID: c.UID, GID: c.GID, Rdev: req.Rdev, Atime: t.now, Mtime: t.now, Ctime: t.now, Btime: t.now,
			Change: 1, Generation: 1}}
		if d.Mode&ModeSetGID != 0 {
			// BSD group semantics under a setgid directory; subdirectories
			// inherit the bit.
			n.GID = d.GID
			if req.Type == TypeDirectory {
				n.Mode |= ModeSetGID
			}
		}
		if err := applyOwner(c, n, req.UID, req.GID); err != nil {
			return err
		}
		if c.UID != 0 && n.Mode&ModeSetGID != 0 && req.Type != TypeDirectory && !c.inGroup(n.GID) {
			n.Mode &^= ModeSetGID
		}
		switch req.Type {
		case TypeDirectory:
			n.Nlink, n.Parent, n.nextCookie = 2, dir, firstCookie
			d.Nlink++
		case TypeSymlink:
			n.target = []byte(req.Target)
			n.Size = uint64(len(req.Target))
		case TypeRegular:
			if req.How == Exclusive {
				n.verifier = req.Verifier
			}
		}
		if err := t.addEntry(d, req.Name, ino, req.Type); err != nil {
			return err
		}
		t.touch(d, true)
		if err := t.putInode(d); err != nil {
			return err
		}
		if err := t.putInode(n); err != nil {
			return err
		}
		if err := t.addUsage(0, 1); err != nil {
			return err
		}
		a, created = n.attr(), true
		return nil
	})
	if err == nil && !created {
		a = f.withBuffered(ctx, a)
	}
	return a, created, err
}

// existing decides what creating an existing name does.
func existing(t *txn, c *Caller, d *inode, e dirent, req CreateRequest, a *Attr, created *bool) error {
	n, err := t.inode(e.ino)
	if err != nil {
		return err
	}
	switch {
	case req.Type != TypeRegular || req.How == Guarded:
		return errorf("", d.Ino, Exist, nil)
	case req.How == Exclusive:
		if n.Type != TypeRegular || n.verifier != req.Verifier || n.verifier == [8]byte{} {
			return errorf("", d.Ino, Exist, nil)
		}
	case n.Type == TypeDirectory:
		return errorf("", d.Ino, IsDir, nil)
	}
	if err := c.check("", d, MayExec); err != nil {
		return err
	}
	*a, *created = n.attr(), false
	return nil
}

// applyOwner gives n the requested owner, with chown rules.
func applyOwner(c *Caller, n *inode, uid, gid *uint32) error {
	if uid != nil && *uid != n.UID {
		if c.UID != 0 {
			return errorf("", n.Ino, Perm, errors.New("only root may give a file away"))
		}
		n.UID = *uid
	}
	if gid != nil && *gid != n.GID {
		if c.UID != 0 && !(c.UID == n.UID && c.inGroup(*gid)) {
			return errorf("", n.Ino, Perm, errors.New("not a member of the group"))
		}
		n.GID = *gid
	}
	return nil
}

// depth counts the directories from d up to the root.
func (t *txn) depth(d *inode) (int, error) {
	depth := 1
	for cur := d; cur.Ino != RootIno; depth++ {
		if depth > MaxDepth {
			return depth, nil
		}
		p, err := t.inode(cur.Parent)
		if err != nil {
			return 0, err
		}
		cur = p
	}
	return depth, nil
}

// Link makes name in directory dir a new link to ino.
func (f *FileSystem) Link(ctx context.Context, c *Caller, ino, dir uint64, name string) (Attr, error) {
	const op = "link"
	if err := validName(op, dir, name); err != nil {
		return Attr{}, err
	}
	var a Attr
	err := f.update(ctx, op, ino, func(t *txn) error {
		d, err := t.inode(dir)
		if err != nil {
			return err
		}
		if d.Type != TypeDirectory {
			return errorf("", dir, NotDir, nil)
		}
		n, err := t.inode(ino)
		if err != nil {
			return err
		}
		if n.Type == TypeDirectory {
			return errorf("", ino, IsDir, errors.New("hard links to directories are not allowed"))
		}
		if n.Nlink == 0 {
			return errorf("", ino, NotExist, nil)
		}
		if n.Nlink >= MaxLinks {
			return errorf("", ino, TooManyLinks, nil)
		}
		if err := c.check("", d, MayWrite|MayExec); err != nil {
			return err
		}
		if _, ok, err := t.lookup(dir, name); err != nil {
			return err
		} else if ok {
			return errorf("", dir, Exist, nil)
		}
		if err := t.addEntry(d, name, ino, n.Type); err != nil {
			return err
		}
		n.Nlink++
		t.touch(n, false)
		t.touch(d, true)
		if err := t.putInode(d); err != nil {
			return err
		}
		a = n.attr()
		return t.putInode(n)
	})
	if err == nil {
		a = f.withBuffered(ctx, a)
	}
	return a, err
}

// Unlink removes a non-directory entry.
func (f *FileSystem) Unlink(ctx context.Context, c *Caller, dir uint64, name string) error {
	return f.remove(ctx, "unlink", c, dir, name, func(n *inode) error {
		if n.Type == TypeDirectory {
			return errorf("", n.Ino, IsDir, nil)
		}
		return nil
	})
}

// Rmdir removes an empty directory.
func (f *FileSystem) Rmdir(ctx context.Context, c *Caller, dir uint64, name string) error {
	return f.remove(ctx, "rmdir", c, dir, name, func(n *inode) error {
		if n.Type != TypeDirectory {
			return errorf("", n.Ino, NotDir, nil)
		}
		return nil
	})
}

// Remove removes an entry of any type (NFS REMOVE).
func (f *FileSystem) Remove(ctx context.Context, c *Caller, dir uint64, name string) error {
	return f.remove(ctx, "remove", c, dir, name, func(*inode) error { return nil })
}

func (f *FileSystem) remove(ctx context.Context, op string, c *Caller, dir uint64, name string, typeOK func(*inode) error) error {
	if err := validName(op, dir, name); err != nil {
		return err
	}
	orphaned := false
	err := f.update(ctx, op, dir, func(t *txn) error {
		d, err := t.inode(dir)
		if err != nil {
			return err
		}
		if d.Type != TypeDirectory {
			return errorf("", dir, NotDir, nil)
		}
		if err := c.check("", d, MayWrite|MayExec); err != nil {
			return err
		}
		e, ok, err := t.lookup(dir, name)
		if err != nil {
			return err
		}
		if !ok {
			return errorf("", dir, NotExist, nil)
		}
		n, err := t.inode(e.ino)
		if err != nil {
			return err
		}
		if err := typeOK(n); err != nil {
			return err
		}
		if err := stickyCheck(c, d, n); err != nil {
			return err
		}
		if n.Type == TypeDirectory && n.entries > 0 {
			return errorf("", n.Ino, NotEmpty, nil)
		}
		if err := t.removeEntry(d, name, e); err != nil {
			return err
		}
		t.touch(d, true)
		if err := t.unlinkInode(d, n); err != nil {
			return err
		}
		orphaned = t.orphaned
		return t.putInode(d)
	})
	if err == nil && orphaned {
		f.svc.kickCollector()
	}
	return err
}

// stickyCheck applies the restricted-deletion rule of sticky directories.
func stickyCheck(c *Caller, d, n *inode) error {
	if d.Mode&ModeSticky != 0 && c.UID != 0 && c.UID != d.UID && c.UID != n.UID {
		return errorf("", n.Ino, Perm, errors.New("sticky directory"))
	}
	return nil
}

// unlinkInode drops one link of n, whose entry in d has been removed, and
// stores n or frees it.
func (t *txn) unlinkInode(d, n *inode) error {
	if n.Type == TypeDirectory {
		n.Nlink = 0
		d.Nlink--
	} else {
		n.Nlink--
	}
	t.touch(n, false)
	if n.Nlink > 0 {
		return t.putInode(n)
	}
	return t.freeInode(n)
}

// inlineFreeBlocks is how many blocks an unlink frees in its own transaction;
// larger files become orphans that the collector reclaims in batches.
const inlineFreeBlocks = 64

// freeInode removes an inode with no links: at once when it is small, or by
// marking it an orphan for the collector.
func (t *txn) freeInode(n *inode) error {
	vol := t.f.rec.Vol
	if n.Type == TypeRegular && n.SpaceUsed > 0 {
		done, err := t.freeBlocks(n, 0, inlineFreeBlocks)
		if err != nil {
			return err
		}
		if !done {
			if err := t.putInode(n); err != nil {
				return err
			}
			t.orphaned = true
			return t.Set(meta.OrphanKey(vol, n.Ino), nil)
		}
	}
	if err := t.Delete(meta.InodeKey(vol, n.Ino)); err != nil {
		return err
	}
	if err := t.Delete(meta.OrphanKey(vol, n.Ino)); err != nil {
		return err
	}
	return t.addUsage(0, -1)
}

// freeBlocks deletes up to limit blocks of n with index >= from (garbage
// collecting their objects) and reports whether none are left.
func (t *txn) freeBlocks(n *inode, from uint64, limit int) (done bool, err error) {
	return t.freeBlockRange(n, from, math.MaxUint64, limit)
}

// apartBlock is a block record whose patches are kept apart.
type apartBlock struct {
	index uint64
	rec   data.Record
}

// freeBlockRange is freeBlocks for the blocks from..to-1 (to MaxUint64:
// every block from from on).
func (t *txn) freeBlockRange(n *inode, from, to uint64, limit int) (done bool, err error) {
	vol := t.f.rec.Vol
	var keys [][]byte
	var freed uint64
	var garbage []string
	var apart []apartBlock
	done = true
	start, end := meta.BlockKey(vol, n.Ino, from), meta.PrefixEnd(meta.BlockPrefix(vol, n.Ino))
	if to != math.MaxUint64 {
		end = meta.BlockKey(vol, n.Ino, to)
	}
	err = t.Scan(start, end, func(k, v []byte) (bool, error) {
		if len(keys) == limit {
			done = false
			return false, nil
		}
		rec, err := decodeBlock(v)
		if err != nil {
			return false, err
		}
		keys = append(keys, append([]byte(nil), k...))
		if rec.Apart {
			apart = append(apart, apartBlock{index: binary.BigEndian.Uint64(k[len(k)-8:]), rec: rec})
		}
		freed += uint64(rec.Length)
		if rec.BlobKey != "" {
			garbage = append(garbage, rec.BlobKey)
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if err := t.Delete(k); err != nil {
			return false, err
		}
	}
	for _, b := range apart {
		if err := t.storePatches(n.Ino, b.index, &b.rec, nil); err != nil {
			return false, err
		}
	}
	for _, g := range garbage {
		if err := t.addGarbage(g); err != nil {
			return false, err
		}
	}
	n.SpaceUsed -= min(freed, n.SpaceUsed)
	return done, t.addUsage(-int64(freed), 0)
}

// Rename moves srcName in srcDir to dstName in dstDir, atomically replacing
// a compatible existing target.
func (f *FileSystem) Rename(ctx context.Context, c *Caller, srcDir uint64, srcName string, dstDir uint64, dstName string) error {
	const op = "rename"
	if err := validName(op, srcDir, srcName); err != nil {
		return err
	}
	if err := validName(op, dstDir, dstName); err != nil {
		return err
	}
	orphaned := false
	err := f.update(ctx, op, srcDir, func(t *txn) error {
		sd, err := t.inode(srcDir)
		if err != nil {
			return err
		}
		dd := sd
		if dstDir != srcDir {
			if dd, err = t.inode(dstDir); err != nil {
				return err
			}
		}
		if sd.Type != TypeDirectory || dd.Type != TypeDirectory {
			return errorf("", dstDir, NotDir, nil)
		}
		if err := c.check("", sd, MayWrite|MayExec); err != nil {
			return err
		}
		if err := c.check("", dd, MayWrite|MayExec); err != nil {
			return err
		}
		se, ok, err := t.lookup(srcDir, srcName)
		if err != nil {
			return err
		}
		if !ok {
			return errorf("", srcDir, NotExist, nil)
		}
		de, exists, err := t.lookup(dstDir, dstName)
		if err != nil {
			return err
		}
		if exists && de.ino == se.ino {
			return nil // both names are links to one file: POSIX says do nothing
		}
		src, err := t.inode(se.ino)
		if err != nil {
			return err
		}
		if err := stickyCheck(c, sd, src); err != nil {
			return err
		}
		moveDir := src.Type == TypeDirectory && srcDir != dstDir
		if moveDir {
			// Its ".." changes: Linux asks for write permission on it.
			if err := c.check("", src, MayWrite); err != nil {
				return err
			}
			for cur := dd; ; {
				if cur.Ino == src.Ino {
					return errorf("", src.Ino, Invalid, errors.New("cannot move a directory under itself"))
				}
				if cur.Ino == RootIno {
					break
				}
				if cur, err = t.inode(cur.Parent); err != nil {
					return err
				}
			}
		}
		if exists {
			dst, err := t.inode(de.ino)
			if err != nil {
				return err
			}
			if err := stickyCheck(c, dd, dst); err != nil {
				return err
			}
			switch {
			case src.Type == TypeDirectory && dst.Type != TypeDirectory:
				return errorf("", dst.Ino, NotDir, nil)
			case src.Type != TypeDirectory && dst.Type == TypeDirectory:
				return errorf("", dst.Ino, IsDir, nil)
			case dst.Type == TypeDirectory && dst.entries > 0:
				return errorf("", dst.Ino, NotEmpty, nil)
			}
			if err := t.removeEntry(dd, dstName, de); err != nil {
				return err
			}
			if err := t.unlinkInode(dd, dst); err != nil {
				return err
			}
			orphaned = t.orphaned
		}
		if err := t.removeEntry(sd, srcName, se); err != nil {
			return err
		}
		if err := t.addEntry(dd, dstName, src.Ino, src.Type); err != nil {
			return err
		}
		if moveDir {
			sd.Nlink--
			dd.Nlink++
			src.Parent = dstDir
		}
		t.touch(src, false)
		t.touch(sd, true)
		if err := t.putInode(src); err != nil {
			return err
		}
		if err := t.putInode(sd); err != nil {
			return err
		}
		if dd != sd {
			t.touch(dd, true)
			return t.putInode(dd)
		}
		return nil
	})
	if err == nil && orphaned {
		f.svc.kickCollector()
	}
	return err
}

// DirEntry is one entry returned by ReadDir.
type DirEntry struct {
	Name   string
	Cookie uint64 // resume after this entry by passing it to ReadDir
	Ino    uint64
	Type   FileType
	Attr   *Attr // when asked for
}

// ReadDir returns up to maxEntries entries of directory dir after cookie (0 for the
// start), and whether the end was reached. Cookies stay valid while the
// directory changes: an entry keeps its cookie until it is removed, and new
// entries get larger cookies.
func (f *FileSystem) ReadDir(ctx context.Context, c *Caller, dir, cookie uint64, maxEntries int, withAttrs bool) ([]DirEntry, bool, error) {
	var out []DirEntry
	eof := true
	on := withAttrs && f.svc.overlayBegin()
	defer f.svc.overlayEnd(on)
	err := f.view(ctx, "readdir", dir, func(r *reader) error {
		out, eof = out[:0], true
		d, err := r.inode(dir)
		if err != nil {
			return err
		}
		if d.Type != TypeDirectory {
			return errorf("", dir, NotDir, nil)
		}
		if err := c.check("", d, MayRead); err != nil {
			return err
		}
		if cookie >= d.nextCookie && cookie != 0 {
			return nil
		}
		vol := f.rec.Vol
		start := meta.DirCookieKey(vol, dir, max(cookie+1, firstCookie))
		return r.Scan(start, meta.PrefixEnd(meta.DirCookiePrefix(vol, dir)), func(k, v []byte) (bool, error) {
			if len(out) >= maxEntries {
				eof = false
				return false, nil
			}
			ck := binary.BigEndian.Uint64(k[len(k)-8:])
			name, ino, typ, err := decodeCookieEntry(r.key, vol, dir, ck, v)
			if err != nil {
				return false, errorf("", dir, IO, err)
			}
			e := DirEntry{Name: name, Cookie: ck, Ino: ino, Type: typ}
			if withAttrs {
				n, err := r.inode(ino)
				if err != nil {
					return false, err
				}
				a := n.attr()
				e.Attr = &a
			}
			out = append(out, e)
			return true, nil
		})
	})
	if on && err == nil {
		for _, e := range out {
			f.svc.overlayApply(f.rec.Vol, e.Attr)
		}
	}
	return out, eof, err
}

// StatFS describes the space of a file system. Sizes are elastic: the total
// is what EFS reports (8 EiB), free is the total less what is used.
type StatFS struct {
	TotalBytes, FreeBytes, UsedBytes uint64
	TotalFiles, FreeFiles, UsedFiles uint64
}

// StatFS returns space and file counts.
func (f *FileSystem) StatFS(ctx context.Context) (StatFS, error) {
	var u usage
	err := f.view(ctx, "statfs", RootIno, func(r *reader) error {
		var err error
		u, err = readUsage(r.Reader, f.rec.Vol)
		return err
	})
	st := StatFS{TotalBytes: elasticBytes, UsedBytes: u.Bytes, TotalFiles: elasticBytes, UsedFiles: u.Inodes}
	st.FreeBytes = st.TotalBytes - min(st.UsedBytes, st.TotalBytes)
	st.FreeFiles = st.TotalFiles - min(st.UsedFiles, st.TotalFiles)
	return st, err
}

// usage is the metered size of a volume, kept in the same transactions as
// the changes it counts.
type usage struct {
	Bytes  uint64 // stored file contents
	Inodes uint64 // inodes, the root included
}

func readUsage(r meta.Reader, vol uint64) (usage, error) {
	v, err := r.Get(meta.UsageKey(vol))
	if errors.Is(err, meta.ErrNotFound) {
		return usage{Inodes: 1}, nil
	}
	if err != nil {
		return usage{}, err
	}
	if len(v) != 16 {
		return usage{}, errors.New("malformed usage record")
	}
	return usage{Bytes: binary.BigEndian.Uint64(v), Inodes: binary.BigEndian.Uint64(v[8:])}, nil
}

func (t *txn) addUsage(bytes, inodes int64) error {
	if bytes == 0 && inodes == 0 {
		return nil
	}
	u, err := readUsage(t.Txn, t.f.rec.Vol)
	if err != nil {
		return err
	}
	u.Bytes = uint64(max(int64(u.Bytes)+bytes, 0))
	u.Inodes = uint64(max(int64(u.Inodes)+inodes, 0))
	v := binary.BigEndian.AppendUint64(nil, u.Bytes)
	return t.Set(meta.UsageKey(t.f.rec.Vol), binary.BigEndian.AppendUint64(v, u.Inodes))
}

// addGarbage records an object to delete once the transaction commits.
// Value: enqueued time (unix ns, 8) then the blob key.
func (t *txn) addGarbage(blobKey string) error {
	return t.Set(meta.GarbageKey(randomUint64()), append(binary.BigEndian.AppendUint64(nil, uint64(t.now.UnixNano())), blobKey...))
}
