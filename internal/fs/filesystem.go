package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// FileSystem is one file system (volume). It is safe for concurrent use.
type FileSystem struct {
	svc     *Service
	rec     volumeRecord
	deleted atomic.Bool

	alloc struct {
		sync.Mutex
		next, limit uint64
	}
}

// ID returns the public file-system ID.
func (f *FileSystem) ID() string { return f.rec.ID }

// Encrypted reports whether data and metadata are sealed at rest.
func (f *FileSystem) Encrypted() bool { return f.rec.Encrypted }

// KMSKeyARN returns the ARN of the KMS key that wraps the data key.
func (f *FileSystem) KMSKeyARN() string { return f.rec.KMSKeyARN }

// Created returns the creation time.
func (f *FileSystem) Created() time.Time { return f.rec.Created }

// Caller is who performs an operation, as the front end established it
// (after any identity mapping such as access points or root squashing).
type Caller struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
}

// Root is the superuser.
var Root = Caller{}

func (c *Caller) inGroup(gid uint32) bool {
	return c.GID == gid || slices.Contains(c.Groups, gid)
}

// Access bits for Access and permission checks.
const (
	MayRead  = 4
	MayWrite = 2
	MayExec  = 1
)

// allowed returns the subset of want (MayRead|MayWrite|MayExec) that the
// mode bits grant c on n. Root gets read and write always, and execute when
// any execute bit is set or n is a directory.
func (c *Caller) allowed(n *inode, want uint32) uint32 {
	if c.UID == 0 {
		got := want & (MayRead | MayWrite)
		if want&MayExec != 0 && (n.Type == TypeDirectory || n.Mode&0o111 != 0) {
			got |= MayExec
		}
		return got
	}
	var bits uint32
	switch {
	case c.UID == n.UID:
		bits = n.Mode >> 6
	case c.inGroup(n.GID):
		bits = n.Mode >> 3
	default:
		bits = n.Mode
	}
	return want & bits & 7
}

func (c *Caller) check(op string, n *inode, want uint32) error {
	if c.allowed(n, want) != want {
		return errorf(op, n.Ino, Access, nil)
	}
	return nil
}

// dataKey returns the file system's data key, or nil when it is not
// encrypted. The KMS key's state is checked on every call.
func (f *FileSystem) dataKey(ctx context.Context) (*kms.DataKey, error) {
	if !f.rec.Encrypted {
		return nil, nil
	}
	if f.svc.keys == nil {
		return nil, errors.New("no key service for an encrypted file system")
	}
	return f.svc.keys.FileSystemKey(ctx, f.rec.WrappedKey, f.rec.ID)
}

// txn wraps a meta transaction with the stored forms of fs records.
type txn struct {
	meta.Txn
	f   *FileSystem
	key *kms.DataKey
	now time.Time
	// orphaned is set when the transaction left an orphan inode for the
	// collector to reclaim.
	orphaned bool
	// dirs holds the change attribute of each directory the transaction
	// read, as first read and as last written (see DirChanges).
	dirs map[uint64]DirChange
}

// reader is the read-only half of txn, for View.
type reader struct {
	meta.Reader
	f   *FileSystem
	key *kms.DataKey
}

const (
	recordPlain  byte = 0
	recordSealed byte = 1
)

func inodeAAD(vol, ino uint64) []byte {
	b := append(make([]byte, 0, 32), "shelf inode v1\x00\x00"...)
	b = binary.BigEndian.AppendUint64(b, vol)
	return binary.BigEndian.AppendUint64(b, ino)
}

func nameAAD(vol, dir, cookie uint64) []byte {
	b := append(make([]byte, 0, 40), "shelf name v1\x00\x00\x00"...)
	b = binary.BigEndian.AppendUint64(b, vol)
	b = binary.BigEndian.AppendUint64(b, dir)
	return binary.BigEndian.AppendUint64(b, cookie)
}

// sealValue seals plain for an encrypted file system (marking the record),
// or marks it plain.
func sealValue(key *kms.DataKey, aad, plain []byte) ([]byte, error) {
	if key == nil {
		return append([]byte{recordPlain}, plain...), nil
	}
	return key.Seal([]byte{recordSealed}, aad, plain)
}

func openValue(key *kms.DataKey, aad, stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("empty record")
	}
	switch stored[0] {
	case recordPlain:
		if key != nil {
			return nil, errors.New("plain record in an encrypted file system")
		}
		return stored[1:], nil
	case recordSealed:
		if key == nil {
			return nil, errors.New("sealed record in an unencrypted file system")
		}
		return key.Open(nil, aad, stored[1:])
	}
	return nil, fmt.Errorf("unknown record marker %d", stored[0])
}

func getInode(r meta.Reader, f *FileSystem, key *kms.DataKey, ino uint64) (*inode, error) {
	v, err := r.Get(meta.InodeKey(f.rec.Vol, ino))
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errorf("", ino, Stale, nil)
	}
	if err != nil {
		return nil, err
	}
	// Only sealed records are cached (opening a plain one costs nothing),
	// and only under a key: without one they fail in openValue.
	cached := key != nil && len(v) > 0 && v[0] == recordSealed
	k := fileKey{f.rec.Vol, ino}
	if cached {
		if n, ok := f.svc.inodes.get(k, key, v); ok {
			return n, nil
		}
	}
	plain, err := openValue(key, inodeAAD(f.rec.Vol, ino), v)
	if err != nil {
		return nil, errorf("", ino, IO, fmt.Errorf("inode record: %w", err))
	}
	n, err := decodeInode(plain)
	if err != nil {
		return nil, errorf("", ino, IO, err)
	}
	if n.Ino != ino {
		return nil, errorf("", ino, IO, fmt.Errorf("inode record names inode %d", n.Ino))
	}
	if cached {
		f.svc.inodes.put(k, key, v, n)
	}
	return n, nil
}

func (t *reader) inode(ino uint64) (*inode, error) { return getInode(t.Reader, t.f, t.key, ino) }

// dataInode returns regular file ino if c may read or write (want) its data
// (mayData).
func (t *reader) dataInode(c *Caller, ino uint64, want uint32) (*inode, error) {
	n, err := t.inode(ino)
	if err != nil {
		return nil, err
	}
	return n, mayData(c, n, want)
}

func (t *txn) inode(ino uint64) (*inode, error) {
	n, err := getInode(t.Txn, t.f, t.key, ino)
	if err == nil && n.Type == TypeDirectory {
		if _, seen := t.dirs[ino]; !seen {
			if t.dirs == nil {
				t.dirs = map[uint64]DirChange{}
			}
			t.dirs[ino] = DirChange{Before: n.Change, After: n.Change}
		}
	}
	return n, err
}

func (t *txn) putInode(n *inode) error {
	v, err := sealValue(t.key, inodeAAD(t.f.rec.Vol, n.Ino), n.encode())
	if err != nil {
		return err
	}
	if dc, ok := t.dirs[n.Ino]; ok && n.Type == TypeDirectory {
		dc.After = n.Change
		t.dirs[n.Ino] = dc
	}
	return t.Set(meta.InodeKey(t.f.rec.Vol, n.Ino), v)
}

// DirChange is a directory's change attribute before and after one
// operation, both read inside the operation's transaction: no other change
// can fall between them (NFSv4 change_info4 with atomic set).
type DirChange struct {
	Before, After uint64
}

// DirChanges collects the DirChange of the directories that operations
// made with its context modify (WithDirChanges). It is for one goroutine.
type DirChanges struct {
	m map[uint64]DirChange
}

type dirChangesKey struct{}

// WithDirChanges returns a context that makes the operations called with it
// record, in the returned DirChanges, how they changed each directory.
func WithDirChanges(ctx context.Context) (context.Context, *DirChanges) {
	d := &DirChanges{}
	return context.WithValue(ctx, dirChangesKey{}, d), d
}

// Get returns how the operations changed directory dir, if they did.
func (d *DirChanges) Get(dir uint64) (DirChange, bool) {
	dc, ok := d.m[dir]
	return dc, ok && dc.After != dc.Before
}

// record adds the changes of a committed transaction.
func (d *DirChanges) record(dirs map[uint64]DirChange) {
	for ino, dc := range dirs {
		if dc.After == dc.Before {
			continue
		}
		if d.m == nil {
			d.m = map[uint64]DirChange{}
		}
		if prev, ok := d.m[ino]; ok && prev.After == dc.Before {
			dc.Before = prev.Before // two transactions in a row
		}
		d.m[ino] = dc
	}
}

// touch records a change of n at the transaction's time.
func (t *txn) touch(n *inode, mtime bool) {
	n.Ctime = t.now
	if mtime {
		n.Mtime = t.now
	}
	n.Change++
}

// dirent is a directory entry as stored under its name key:
// cookie(8) ino(8) type(1).
type dirent struct {
	cookie uint64
	ino    uint64
	typ    FileType
}

func (f *FileSystem) nameKey(key *kms.DataKey, dir uint64, name string) []byte {
	if key == nil {
		return []byte(name)
	}
	return key.NameKey(dir, name)
}

func lookupEntry(r meta.Reader, f *FileSystem, key *kms.DataKey, dir uint64, name string) (dirent, bool, error) {
	v, err := r.Get(meta.DirentKey(f.rec.Vol, dir, f.nameKey(key, dir, name)))
	if errors.Is(err, meta.ErrNotFound) {
		return dirent{}, false, nil
	}
	if err != nil {
		return dirent{}, false, err
	}
	if len(v) != 17 || !FileType(v[16]).valid() {
		return dirent{}, false, errorf("", dir, IO, errors.New("malformed directory entry"))
	}
	return dirent{cookie: binary.BigEndian.Uint64(v), ino: binary.BigEndian.Uint64(v[8:]), typ: FileType(v[16])}, true, nil
}

func (t *reader) lookup(dir uint64, name string) (dirent, bool, error) {
	return lookupEntry(t.Reader, t.f, t.key, dir, name)
}
func (t *txn) lookup(dir uint64, name string) (dirent, bool, error) {
	return lookupEntry(t.Txn, t.f, t.key, dir, name)
}

// addEntry links name in directory d to child. The caller updates and
// stores d (its cookie counter, entry count, times).
func (t *txn) addEntry(d *inode, name string, ino uint64, typ FileType) error {
	cookie := d.nextCookie
	d.nextCookie++
	d.entries++
	nk := t.f.nameKey(t.key, d.Ino, name)
	v := binary.BigEndian.AppendUint64(nil, cookie)
	v = binary.BigEndian.AppendUint64(v, ino)
	v = append(v, byte(typ))
	if err := t.Set(meta.DirentKey(t.f.rec.Vol, d.Ino, nk), v); err != nil {
		return err
	}
	sealed, err := sealValue(t.key, nameAAD(t.f.rec.Vol, d.Ino, cookie), []byte(name))
	if err != nil {
		return err
	}
	// Cookie record: ino(8) type(1) nameKeyLen(1) nameKey sealedName.
	c := binary.BigEndian.AppendUint64(nil, ino)
	c = append(c, byte(typ), byte(len(nk)))
	c = append(append(c, nk...), sealed...)
	return t.Set(meta.DirCookieKey(t.f.rec.Vol, d.Ino, cookie), c)
}

// removeEntry unlinks name (whose entry is e) from directory d.
func (t *txn) removeEntry(d *inode, name string, e dirent) error {
	d.entries--
	if err := t.Delete(meta.DirentKey(t.f.rec.Vol, d.Ino, t.f.nameKey(t.key, d.Ino, name))); err != nil {
		return err
	}
	return t.Delete(meta.DirCookieKey(t.f.rec.Vol, d.Ino, e.cookie))
}

// decodeCookieEntry parses a cookie record into the entry's name, inode and
// type. It never panics.
func decodeCookieEntry(key *kms.DataKey, vol, dir, cookie uint64, v []byte) (string, uint64, FileType, error) {
	if len(v) < 10 {
		return "", 0, 0, errors.New("short cookie record")
	}
	ino, typ, nkl := binary.BigEndian.Uint64(v), FileType(v[8]), int(v[9])
	if !typ.valid() || len(v) < 10+nkl {
		return "", 0, 0, errors.New("malformed cookie record")
	}
	name, err := openValue(key, nameAAD(vol, dir, cookie), v[10+nkl:])
	if err != nil {
		return "", 0, 0, fmt.Errorf("entry name: %w", err)
	}
	return string(name), ino, typ, nil
}

// allocIno hands out a fresh inode number. Numbers are reserved in batches
// in their own transaction and never reused (a crash wastes the rest of a
// batch), so an inode number plus generation never names two files.
func (f *FileSystem) allocIno(ctx context.Context) (uint64, error) {
	f.alloc.Lock()
	defer f.alloc.Unlock()
	if f.alloc.next < f.alloc.limit {
		f.alloc.next++
		return f.alloc.next - 1, nil
	}
	const batch = 1024
	var next uint64
	err := f.svc.meta.Update(ctx, func(tx meta.Txn) error {
		v, err := tx.Get(meta.AllocatorKey(f.rec.Vol))
		if err != nil {
			return err
		}
		if len(v) != 8 {
			return errors.New("malformed inode allocator")
		}
		next = binary.BigEndian.Uint64(v)
		return tx.Set(meta.AllocatorKey(f.rec.Vol), binary.BigEndian.AppendUint64(nil, next+batch))
	})
	if err != nil {
		return 0, err
	}
	f.alloc.next, f.alloc.limit = next+1, next+batch
	return next, nil
}

// update runs fn in a metadata transaction with the file system's key.
func (f *FileSystem) update(ctx context.Context, op string, ino uint64, fn func(t *txn) error) error {
	if f.deleted.Load() {
		return errorf(op, ino, Stale, errors.New("file system deleted"))
	}
	key, err := f.dataKey(ctx)
	if err != nil {
		return wrap(op, ino, err)
	}
	var t *txn
	err = f.svc.meta.Update(ctx, func(mt meta.Txn) error {
		t = &txn{Txn: mt, f: f, key: key, now: f.svc.clock.Now().UTC()}
		return fn(t)
	})
	if d, ok := ctx.Value(dirChangesKey{}).(*DirChanges); ok && err == nil && t != nil {
		d.record(t.dirs)
	}
	return wrap(op, ino, err)
}

// view runs fn in a read-only transaction with the file system's key.
func (f *FileSystem) view(ctx context.Context, op string, ino uint64, fn func(r *reader) error) error {
	if f.deleted.Load() {
		return errorf(op, ino, Stale, errors.New("file system deleted"))
	}
	key, err := f.dataKey(ctx)
	if err != nil {
		return wrap(op, ino, err)
	}
	err = f.svc.meta.View(ctx, func(mr meta.Reader) error {
		return fn(&reader{Reader: mr, f: f, key: key})
	})
	return wrap(op, ino, err)
}

func (f *FileSystem) spaceCheck(op string, ino uint64) error {
	if f.svc.opts.SpaceCheck == nil {
		return nil
	}
	if err := f.svc.opts.SpaceCheck(); err != nil {
		return errorf(op, ino, NoSpace, err)
	}
	return nil
}
