package fs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Problem is one broken invariant found by Check.
type Problem struct {
	// Kind is a stable, short identifier ("dangling-entry", "leaked-object", …).
	Kind string
	// FileSystem is the file-system ID, when the problem belongs to one.
	FileSystem string
	Ino        uint64
	Detail     string
	// Repairable problems are leaks and counters that Check can fix without
	// losing anything a user can reach.
	Repairable bool
	repair     func(context.Context) error
}

func (p Problem) String() string {
	s := p.Kind
	if p.FileSystem != "" {
		s += " " + p.FileSystem
	}
	if p.Ino != 0 {
		s += fmt.Sprintf(" inode %d", p.Ino)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.Repairable {
		s += " (repairable)"
	}
	return s
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Repair fixes repairable problems (leaked inodes, blocks and objects,
	// stale orphan and garbage records, usage counters, allocator marks).
	Repair bool
	// SkipData skips reading and authenticating every block.
	SkipData bool
}

// CheckReport is the result of Check.
type CheckReport struct {
	Problems                        []Problem
	Repaired                        int
	FileSystems, Inodes, Entries    int
	Blocks, Objects, GarbageRecords int
	BlockBytes                      uint64
	UnreadableFileSystems           []string
}

// Clean reports whether no problem (repaired or not) was found.
func (r *CheckReport) Clean() bool { return len(r.Problems) == 0 }

// Unrepaired counts the problems that remain after Check.
func (r *CheckReport) Unrepaired() int { return len(r.Problems) - r.Repaired }

// Serious counts the problems that are not repairable leaks.
func (r *CheckReport) Serious() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Repairable {
			n++
		}
	}
	return n
}

// Check verifies every invariant of the store: keys follow the schema,
// records decode and authenticate, directory entries and their cookie
// records agree and point at existing inodes, link counts, parents and entry
// counts are right, no inode or block is unreachable, blocks lie within their
// file and authenticate, usage counters match, and every object in the blob
// store is referenced exactly once. It reads one consistent snapshot; run it
// offline (nothing else writing) for exact results. With opts.Repair it then
// fixes the repairable problems.
func (s *Service) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	c := &checker{svc: s, opts: opts, rep: &CheckReport{}, referenced: map[string]int{}}
	err := s.meta.View(ctx, func(r meta.Reader) error {
		c.reset()
		return c.scan(ctx, r)
	})
	if err != nil {
		return nil, fmt.Errorf("fs: check: %w", err)
	}
	if err := c.checkObjects(ctx); err != nil {
		return nil, fmt.Errorf("fs: check objects: %w", err)
	}
	if !opts.SkipData {
		if err := c.checkData(ctx); err != nil {
			return nil, fmt.Errorf("fs: check data: %w", err)
		}
	}
	sort.SliceStable(c.rep.Problems, func(i, j int) bool { return c.rep.Problems[i].Kind < c.rep.Problems[j].Kind })
	if opts.Repair {
		for _, p := range c.rep.Problems {
			if p.Repairable && p.repair != nil {
				if err := p.repair(ctx); err != nil {
					return c.rep, fmt.Errorf("fs: repair %s: %w", p.Kind, err)
				}
				c.rep.Repaired++
			}
		}
	}
	return c.rep, nil
}

type checkVolume struct {
	rec         volumeRecord
	key         *kms.DataKey
	f           *FileSystem
	inodes      map[uint64]*inode
	refs        map[uint64]int      // entries naming each inode
	subdirs     map[uint64]uint32   // subdirectories per directory
	parents     map[uint64]uint64   // directory → the directory holding its entry
	entries     map[uint64]uint64   // entries per directory
	cookies     map[uint64][]uint64 // cookies per directory (from D records)
	blocks      map[uint64]uint64   // stored bytes per inode
	maxIno      uint64
	usage       usage
	hasUse      bool
	alloc       uint64
	orphans     map[uint64]bool
	blockList   []checkBlock
	patches     map[[3]uint64]bool // patch keys: inode, block, patch ID
	listed      map[[3]uint64]bool // patches the block records list as apart
	dents       []dentRecord
	cookieRecs  map[[2]uint64][]byte
	xattrOwners []uint64
}

type dentRecord struct {
	dir, cookie, ino uint64
	typ              FileType
	nameKey          []byte
}

type checkBlock struct {
	ino, index uint64
	stored     []byte
}

type checker struct {
	svc        *Service
	opts       CheckOptions
	rep        *CheckReport
	vols       map[uint64]*checkVolume
	referenced map[string]int // blob key → references
	garbage    map[string]bool
	deleted    map[uint64]bool
}

func (c *checker) reset() {
	*c.rep = CheckReport{}
	c.vols = map[uint64]*checkVolume{}
	c.referenced = map[string]int{}
	c.garbage = map[string]bool{}
	c.deleted = map[uint64]bool{}
}

func (c *checker) add(p Problem) { c.rep.Problems = append(c.rep.Problems, p) }

func (c *checker) update(fn func(meta.Txn) error) func(context.Context) error {
	return func(ctx context.Context) error { return c.svc.meta.Update(ctx, fn) }
}

func (c *checker) deleteKeys(keys ...[]byte) func(context.Context) error {
	keys = append([][]byte(nil), keys...)
	return c.update(func(tx meta.Txn) error {
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *checker) scan(ctx context.Context, r meta.Reader) error {
	// Pass 1: volumes, deleted volumes, format.
	if v, err := r.Get(meta.KeyFormat); err != nil || len(v) != 4 || binary.BigEndian.Uint32(v) != meta.FormatVersion {
		c.add(Problem{Kind: "format-version", Detail: fmt.Sprintf("format record missing or unexpected (%v)", err)})
	}
	err := meta.ScanPrefix(r, []byte{meta.TableVolumeByID}, func(k, v []byte) (bool, error) {
		var rec volumeRecord
		if err := json.Unmarshal(v, &rec); err != nil || rec.ID != string(k[1:]) || rec.Vol == 0 || rec.BlockSize <= 0 {
			c.add(Problem{Kind: "bad-volume-record", FileSystem: string(k[1:]), Detail: fmt.Sprint(err)})
			return true, nil
		}
		if _, dup := c.vols[rec.Vol]; dup {
			c.add(Problem{Kind: "duplicate-volume", FileSystem: rec.ID})
			return true, nil
		}
		cv := &checkVolume{rec: rec, f: c.svc.newFileSystem(rec), inodes: map[uint64]*inode{}, refs: map[uint64]int{},
			subdirs: map[uint64]uint32{}, parents: map[uint64]uint64{}, entries: map[uint64]uint64{},
			cookies: map[uint64][]uint64{}, blocks: map[uint64]uint64{}, orphans: map[uint64]bool{},
			cookieRecs: map[[2]uint64][]byte{}, patches: map[[3]uint64]bool{}, listed: map[[3]uint64]bool{}}
		c.vols[rec.Vol] = cv
		c.rep.FileSystems++
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, cv := range c.vols {
		key, err := cv.f.dataKey(ctx)
		if err != nil {
			c.rep.UnreadableFileSystems = append(c.rep.UnreadableFileSystems, cv.rec.ID)
			c.add(Problem{Kind: "key-unavailable", FileSystem: cv.rec.ID, Detail: err.Error()})
			cv.f = nil // skip its records
			continue
		}
		cv.key = key
	}
	err = meta.ScanPrefix(r, deletedVolumePrefix, func(k, _ []byte) (bool, error) {
		if len(k) == len(deletedVolumePrefix)+8 {
			c.deleted[binary.BigEndian.Uint64(k[len(deletedVolumePrefix):])] = true
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// Pass 2: every key.
	err = r.Scan(nil, nil, func(k, v []byte) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		c.record(k, v)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, cv := range c.vols {
		if cv.f != nil {
			c.checkVolume(cv)
		}
	}
	return nil
}

func (c *checker) record(k, v []byte) {
	key, err := meta.DecodeKey(k)
	if err != nil {
		c.add(Problem{Kind: "bad-key", Detail: fmt.Sprintf("%q: %v", k, err)})
		return
	}
	switch key.Table {
	case meta.TableFormat, meta.TableSystem, meta.TableKMS, meta.TableVolumeByID:
		return
	case meta.TableGarbage:
		c.rep.GarbageRecords++
		if len(v) < 8 {
			c.add(Problem{Kind: "bad-garbage-record", Repairable: true, repair: c.deleteKeys(k)})
			return
		}
		c.garbage[string(v[8:])] = true
		return
	}
	cv := c.vols[key.Vol]
	if cv == nil {
		if c.deleted[key.Vol] {
			// Being reclaimed: its objects are still referenced.
			if key.Table == meta.TableBlock {
				if r, err := data.DecodeRecord(v); err == nil && r.BlobKey != "" {
					c.referenced[r.BlobKey]++
				}
			}
			return
		}
		c.add(Problem{Kind: "leaked-key", Detail: fmt.Sprintf("key of unknown volume %d", key.Vol),
			Repairable: true, repair: c.deleteKeys(k)})
		return
	}
	if cv.f == nil {
		return
	}
	fsID := cv.rec.ID
	switch key.Table {
	case meta.TableAllocator:
		if len(v) == 8 {
			cv.alloc = binary.BigEndian.Uint64(v)
		}
	case meta.TableUsage:
		u, err := readUsageValue(v)
		if err != nil {
			c.add(Problem{Kind: "bad-usage", FileSystem: fsID, Detail: err.Error()})
		}
		cv.usage, cv.hasUse = u, true
	case meta.TableInode:
		c.rep.Inodes++
		plain, err := openValue(cv.key, inodeAAD(key.Vol, key.Ino), v)
		var n *inode
		if err == nil {
			n, err = decodeInode(plain)
		}
		if err == nil && n.Ino != key.Ino {
			err = fmt.Errorf("record names inode %d", n.Ino)
		}
		if err != nil {
			c.add(Problem{Kind: "bad-inode", FileSystem: fsID, Ino: key.Ino, Detail: err.Error()})
			return
		}
		cv.inodes[key.Ino] = n
		cv.maxIno = max(cv.maxIno, key.Ino)
	case meta.TableDirent:
		c.rep.Entries++
		if len(v) != 17 || !FileType(v[16]).valid() {
			c.add(Problem{Kind: "bad-entry", FileSystem: fsID, Ino: key.Ino})
			return
		}
		cookie, ino := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		cv.refs[ino]++
		cv.entries[key.Ino]++
		cv.cookies[key.Ino] = append(cv.cookies[key.Ino], cookie)
		if FileType(v[16]) == TypeDirectory {
			cv.subdirs[key.Ino]++
			if p, dup := cv.parents[ino]; dup {
				c.add(Problem{Kind: "directory-hard-link", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("named in %d and %d", p, key.Ino)})
			}
			cv.parents[ino] = key.Ino
		}
		cv.dents = append(cv.dents, dentRecord{dir: key.Ino, cookie: cookie, ino: ino, typ: FileType(v[16]), nameKey: key.NameKey})
	case meta.TableDirCookie:
		cv.cookieRecs[[2]uint64{key.Ino, key.Index}] = append([]byte(nil), v...)
	case meta.TableBlock:
		c.rep.Blocks++
		rec, err := data.DecodeRecord(v)
		if err != nil {
			c.add(Problem{Kind: "bad-block-record", FileSystem: fsID, Ino: key.Ino, Detail: err.Error()})
			return
		}
		cv.blocks[key.Ino] += uint64(rec.Length)
		c.rep.BlockBytes += uint64(rec.Length)
		if rec.BlobKey != "" {
			c.referenced[rec.BlobKey]++
		}
		if rec.Apart {
			for _, p := range rec.Patches {
				cv.listed[[3]uint64{key.Ino, key.Index, p.ID}] = true
			}
		}
		cv.blockList = append(cv.blockList, checkBlock{ino: key.Ino, index: key.Index, stored: append([]byte(nil), v...)})
	case meta.TablePatch:
		cv.patches[[3]uint64{key.Ino, key.Index, key.Patch}] = true
	case meta.TableOrphan:
		cv.orphans[key.Ino] = true
	case meta.TableXattr:
		// Extended data: checked for ownership below.
		cv.xattrOwners = append(cv.xattrOwners, key.Ino)
	}
}

func readUsageValue(v []byte) (usage, error) {
	if len(v) != 16 {
		return usage{}, errors.New("malformed usage record")
	}
	return usage{Bytes: binary.BigEndian.Uint64(v), Inodes: binary.BigEndian.Uint64(v[8:])}, nil
}

func (c *checker) checkVolume(cv *checkVolume) {
	fsID, vol := cv.rec.ID, cv.rec.Vol
	root := cv.inodes[RootIno]
	if root == nil || root.Type != TypeDirectory {
		c.add(Problem{Kind: "missing-root", FileSystem: fsID})
	}
	// Entries and their cookie records.
	for _, d := range cv.dents {
		dir := cv.inodes[d.dir]
		switch {
		case dir == nil:
			c.add(Problem{Kind: "entry-in-missing-directory", FileSystem: fsID, Ino: d.dir})
		case dir.Type != TypeDirectory:
			c.add(Problem{Kind: "entry-in-non-directory", FileSystem: fsID, Ino: d.dir})
		case d.cookie < firstCookie || d.cookie >= dir.nextCookie:
			c.add(Problem{Kind: "bad-cookie", FileSystem: fsID, Ino: d.dir, Detail: fmt.Sprintf("cookie %d, next %d", d.cookie, dir.nextCookie)})
		}
		child := cv.inodes[d.ino]
		if child == nil {
			c.add(Problem{Kind: "dangling-entry", FileSystem: fsID, Ino: d.dir, Detail: fmt.Sprintf("names missing inode %d", d.ino)})
		} else if child.Type != d.typ {
			c.add(Problem{Kind: "entry-type", FileSystem: fsID, Ino: d.ino, Detail: "entry and inode disagree on the type"})
		}
		cr, ok := cv.cookieRecs[[2]uint64{d.dir, d.cookie}]
		if !ok {
			c.add(Problem{Kind: "missing-cookie-record", FileSystem: fsID, Ino: d.dir, Detail: fmt.Sprintf("cookie %d", d.cookie)})
			continue
		}
		delete(cv.cookieRecs, [2]uint64{d.dir, d.cookie})
		name, ino, typ, err := decodeCookieEntry(cv.key, vol, d.dir, d.cookie, cr)
		switch {
		case err != nil:
			c.add(Problem{Kind: "bad-cookie-record", FileSystem: fsID, Ino: d.dir, Detail: err.Error()})
		case ino != d.ino || typ != d.typ || !bytes.Equal(cv.f.nameKey(cv.key, d.dir, name), d.nameKey):
			c.add(Problem{Kind: "cookie-record-mismatch", FileSystem: fsID, Ino: d.dir, Detail: fmt.Sprintf("cookie %d", d.cookie)})
		}
	}
	for k := range cv.cookieRecs {
		c.add(Problem{Kind: "stray-cookie-record", FileSystem: fsID, Ino: k[0], Detail: fmt.Sprintf("cookie %d", k[1]),
			Repairable: true, repair: c.deleteKeys(meta.DirCookieKey(vol, k[0], k[1]))})
	}
	// Inodes: links, parents, counts, reachability.
	var used usage
	for ino, n := range cv.inodes {
		used.Inodes++
		refs := cv.refs[ino]
		switch {
		case n.Type == TypeDirectory:
			want := 2 + cv.subdirs[ino]
			if n.Nlink != want {
				c.add(Problem{Kind: "link-count", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("directory nlink %d, want %d", n.Nlink, want)})
			}
			if n.entries != cv.entries[ino] {
				c.add(Problem{Kind: "entry-count", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("%d recorded, %d found", n.entries, cv.entries[ino])})
			}
			if ino == RootIno {
				if refs != 0 || n.Parent != RootIno {
					c.add(Problem{Kind: "root-linked", FileSystem: fsID, Ino: ino})
				}
				continue
			}
			if refs == 0 {
				c.leakedInode(cv, n)
				continue
			}
			if p := cv.parents[ino]; p != n.Parent {
				c.add(Problem{Kind: "parent", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("parent %d, named in %d", n.Parent, p)})
			}
		case refs == 0 && n.Nlink == 0 && cv.orphans[ino]:
			// Unlinked, being reclaimed.
		case refs == 0:
			c.leakedInode(cv, n)
			continue
		case uint32(refs) != n.Nlink:
			c.add(Problem{Kind: "link-count", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("nlink %d, %d entries", n.Nlink, refs)})
		}
		if n.Type == TypeRegular {
			if n.SpaceUsed != cv.blocks[ino] {
				c.add(Problem{Kind: "space-used", FileSystem: fsID, Ino: ino, Detail: fmt.Sprintf("%d recorded, %d stored", n.SpaceUsed, cv.blocks[ino])})
			}
		}
		if n.Type == TypeSymlink && (len(n.target) == 0 || len(n.target) > MaxSymlinkBytes) {
			c.add(Problem{Kind: "symlink-target", FileSystem: fsID, Ino: ino})
		}
	}
	for ino := range cv.orphans {
		if n := cv.inodes[ino]; n == nil || n.Nlink > 0 {
			c.add(Problem{Kind: "stale-orphan", FileSystem: fsID, Ino: ino, Repairable: true, repair: c.deleteKeys(meta.OrphanKey(vol, ino))})
		}
	}
	// Blocks belong to existing regular files and lie within them.
	bs := uint64(cv.rec.BlockSize)
	for _, b := range cv.blockList {
		used.Bytes += blockLength(b.stored)
		n := cv.inodes[b.ino]
		switch {
		case n == nil:
			c.add(Problem{Kind: "leaked-block", FileSystem: fsID, Ino: b.ino, Detail: fmt.Sprintf("block %d of a missing inode", b.index),
				Repairable: true, repair: c.freeBlockRepair(cv, b)})
		case n.Type != TypeRegular:
			c.add(Problem{Kind: "block-of-non-file", FileSystem: fsID, Ino: b.ino})
		case b.index*bs+blockLength(b.stored) > n.Size && !(n.Nlink == 0 && cv.orphans[b.ino]):
			c.add(Problem{Kind: "block-past-eof", FileSystem: fsID, Ino: b.ino, Detail: fmt.Sprintf("block %d, size %d", b.index, n.Size)})
		}
	}
	// Patches kept apart: each listed by its block's record is there, and
	// each there is listed.
	for k := range cv.listed {
		if !cv.patches[k] {
			c.add(Problem{Kind: "missing-patch", FileSystem: fsID, Ino: k[0], Detail: fmt.Sprintf("block %d, patch %016x", k[1], k[2])})
		}
	}
	for k := range cv.patches {
		if !cv.listed[k] {
			c.add(Problem{Kind: "stray-patch", FileSystem: fsID, Ino: k[0], Detail: fmt.Sprintf("block %d, patch %016x", k[1], k[2]),
				Repairable: true, repair: c.deleteKeys(meta.PatchKey(vol, k[0], k[1], k[2]))})
		}
	}
	for _, ino := range cv.xattrOwners {
		if cv.inodes[ino] == nil {
			c.add(Problem{Kind: "leaked-xattr", FileSystem: fsID, Ino: ino})
		}
	}
	if cv.alloc <= cv.maxIno {
		c.add(Problem{Kind: "allocator", FileSystem: fsID, Detail: fmt.Sprintf("next inode %d not above %d", cv.alloc, cv.maxIno),
			Repairable: true, repair: c.update(func(tx meta.Txn) error {
				return tx.Set(meta.AllocatorKey(vol), binary.BigEndian.AppendUint64(nil, cv.maxIno+1024))
			})})
	}
	if !cv.hasUse {
		cv.usage = usage{Inodes: 1}
	}
	if cv.usage != used {
		c.add(Problem{Kind: "usage", FileSystem: fsID, Detail: fmt.Sprintf("recorded %+v, counted %+v", cv.usage, used),
			Repairable: true, repair: c.update(func(tx meta.Txn) error {
				v := binary.BigEndian.AppendUint64(nil, used.Bytes)
				return tx.Set(meta.UsageKey(vol), binary.BigEndian.AppendUint64(v, used.Inodes))
			})})
	}
}

func blockLength(stored []byte) uint64 {
	r, err := data.DecodeRecord(stored)
	if err != nil {
		return 0
	}
	return uint64(r.Length)
}

// leakedInode reports an inode no entry names: it is unreachable, so the
// repair frees it like an unlink would (an orphan the collector reclaims).
func (c *checker) leakedInode(cv *checkVolume, n *inode) {
	vol, ino := cv.rec.Vol, n.Ino
	c.add(Problem{Kind: "leaked-inode", FileSystem: cv.rec.ID, Ino: ino, Detail: fmt.Sprintf("nlink %d, no entry", n.Nlink),
		Repairable: true, repair: func(ctx context.Context) error {
			if err := cv.f.update(ctx, "repair", ino, func(t *txn) error {
				m, err := t.inode(ino)
				if err != nil {
					return err
				}
				m.Nlink = 0
				if err := t.putInode(m); err != nil {
					return err
				}
				return t.Set(meta.OrphanKey(vol, ino), nil)
			}); err != nil {
				return err
			}
			return cv.f.reap(ctx, ino)
		}})
}

func (c *checker) freeBlockRepair(cv *checkVolume, b checkBlock) func(context.Context) error {
	return c.update(func(tx meta.Txn) error {
		if err := tx.Delete(meta.BlockKey(cv.rec.Vol, b.ino, b.index)); err != nil {
			return err
		}
		r, err := data.DecodeRecord(b.stored)
		if err != nil {
			return nil
		}
		t := &txn{Txn: tx, f: cv.f, now: c.svc.clock.Now()}
		if err := t.storePatches(b.ino, b.index, &r, nil); err != nil {
			return err
		}
		if r.BlobKey != "" {
			return t.addGarbage(r.BlobKey)
		}
		return nil
	})
}

// checkObjects compares the blob store with the references.
func (c *checker) checkObjects(ctx context.Context) error {
	seen := map[string]bool{}
	err := c.svc.data.Blobs().List(ctx, "", func(key string, _ int64) (bool, error) {
		c.rep.Objects++
		seen[key] = true
		if c.referenced[key] == 0 && !c.garbage[key] {
			if vol, ok := objectVolume(key); ok && c.vols[vol] != nil && c.vols[vol].f == nil {
				return true, nil // its file system's key is unavailable: records not read
			}
			c.add(Problem{Kind: "leaked-object", Detail: key, Repairable: true, repair: func(ctx context.Context) error {
				return c.svc.data.Delete(ctx, key)
			}})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(c.referenced))
	for k := range c.referenced {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !seen[k]:
			c.add(Problem{Kind: "missing-object", Detail: k})
		case c.referenced[k] > 1:
			c.add(Problem{Kind: "shared-object", Detail: k})
		case c.garbage[k]:
			c.add(Problem{Kind: "referenced-garbage", Detail: k})
		}
	}
	return nil
}

func objectVolume(key string) (uint64, bool) {
	var vol uint64
	if len(key) < 17 || !strings.HasPrefix(key, "v") {
		return 0, false
	}
	_, err := fmt.Sscanf(key[1:17], "%016x", &vol)
	return vol, err == nil
}

// blockReplaced reports whether block b's record is no longer the one the
// scan read.
func (c *checker) blockReplaced(ctx context.Context, vol uint64, b checkBlock) bool {
	replaced := false
	err := c.svc.meta.View(ctx, func(r meta.Reader) error {
		cur, err := r.Get(meta.BlockKey(vol, b.ino, b.index))
		if errors.Is(err, meta.ErrNotFound) {
			replaced = true
			return nil
		}
		replaced = err == nil && !bytes.Equal(cur, b.stored)
		return err
	})
	return err == nil && replaced
}

// checkData reads and authenticates every block.
func (c *checker) checkData(ctx context.Context) error {
	for _, cv := range c.vols {
		if cv.f == nil {
			continue
		}
		for _, b := range cv.blockList {
			if err := cv.f.verifyBlock(ctx, cv.key, b.ino, b.index, b.stored); err != nil {
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return err
				}
				if errors.Is(err, blob.ErrNotFound) && c.blockReplaced(ctx, cv.rec.Vol, b) {
					continue // rewritten since the scan: its patches went with the old record
				}
				c.add(Problem{Kind: "unreadable-block", FileSystem: cv.rec.ID, Ino: b.ino, Detail: fmt.Sprintf("block %d: %v", b.index, err)})
			}
		}
	}
	return nil
}
