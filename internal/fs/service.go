// Package fs is the POSIX core of shelf: many file systems (volumes) by ID,
// inodes, directories, links, permissions and file contents, over the
// metadata port (internal/meta) and the block store (internal/data). It knows
// nothing of NFS or HTTP: front ends translate their wire to these calls and
// map fs.Code to their error codes once.
//
// Every mutation is one metadata transaction; data blocks are written to the
// blob store before the transaction that points at them, and objects that are
// no longer referenced are recorded as garbage in the same transaction and
// deleted after it commits, so a crash at any moment leaves a consistent
// store (at worst an unreferenced object that fsck reclaims). Unstable writes
// (WriteUnstable, for NFS UNSTABLE4) wait in memory until Commit or another
// trigger stores them through that same path (writeback.go); they are never
// in the store half-written.
//
// fs imports meta, data, kms (for the DataKey type) and clock; it must not
// import engines, nfs, api or control.
package fs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
)

// EFS limits (efs-reference.md, "Quotas").
const (
	MaxNameBytes    = 255
	MaxSymlinkBytes = 4080
	MaxLinks        = 177
	MaxDepth        = 1000
	MaxFileSize     = 52673613135872
	// RootIno is the inode number of every file system's root directory.
	RootIno = 1
	// elasticBytes is the size a file system reports: EFS reports 8 EiB.
	elasticBytes = 1 << 63
)

// Keys provides per-file-system data keys (internal/kms implements it).
type Keys interface {
	// NewFileSystemKey makes a data key for fsID, wrapped by the KMS key ref.
	NewFileSystemKey(ctx context.Context, ref, fsID string) (wrapped []byte, keyARN string, err error)
	// FileSystemKey unwraps a data key. It fails with an error matching
	// kms.ErrKeyUnavailable while the KMS key is disabled or deleted.
	FileSystemKey(ctx context.Context, wrapped []byte, fsID string) (*kms.DataKey, error)
}

// Options tune a Service.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// GarbageGrace is how long an unreferenced block object is kept before it
	// is deleted, so that reads that started before it was replaced finish.
	GarbageGrace time.Duration
	// SpaceCheck, when set, is called before operations that consume space;
	// an error makes them fail with NoSpace without touching the store.
	SpaceCheck func() error
	// NoBackground disables the background collector (tests call Collect)
	// and the delayed store of buffered unstable writes.
	NoBackground bool
	// WriteBackBytes bounds the unstable writes buffered in memory
	// (WriteUnstable); zero means DefaultWriteBackBytes, negative disables
	// buffering (unstable writes are stored as they come).
	WriteBackBytes int
	// WriteBackDelay is the longest an unstable write stays buffered;
	// zero means DefaultWriteBackDelay.
	WriteBackDelay time.Duration
}

// Service owns every file system of a store.
type Service struct {
	meta  meta.Store
	data  *data.Store
	keys  Keys
	clock clock.Clock
	log   *slog.Logger
	opts  Options

	mu struct {
		sync.Mutex
		vols map[string]*FileSystem
	}
	blockLocks [256]sync.Mutex
	wb         writeBack
	inodes     inodeCache

	kick   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

// New returns a Service over the given stores. keys may be nil when no file
// system is encrypted. Close stops its background collector.
func New(m meta.Store, d *data.Store, keys Keys, opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GarbageGrace == 0 {
		opts.GarbageGrace = 2 * time.Second
	}
	s := &Service{meta: m, data: d, keys: keys, clock: opts.Clock, log: opts.Logger, opts: opts,
		kick: make(chan struct{}, 1), stop: make(chan struct{})}
	s.mu.vols = map[string]*FileSystem{}
	d.SetPatchSource(s.loadPatches)
	s.initWriteBack()
	if !opts.NoBackground {
		s.wg.Add(2)
		go s.collector()
		go s.flusher()
	}
	return s
}

// Close stores the buffered unstable writes and stops background work. It
// does not close the stores.
func (s *Service) Close() error {
	s.closed.Do(func() {
		s.closeWriteBack()
		close(s.stop)
	})
	s.wg.Wait()
	return nil
}

func (s *Service) kickCollector() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) collector() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.Collect(ctx, false); err != nil {
			s.log.Warn("collect garbage", "err", err)
		}
		cancel()
	}
}

// volumeRecord is the stored description of a file system.
type volumeRecord struct {
	ID         string    `json:"id"`
	Vol        uint64    `json:"vol"`
	BlockSize  int       `json:"block_size"`
	Encrypted  bool      `json:"encrypted"`
	KMSKeyARN  string    `json:"kms_key_arn,omitempty"`
	WrappedKey []byte    `json:"wrapped_key,omitempty"`
	Created    time.Time `json:"created"`
}

// CreateOptions describe a new file system.
type CreateOptions struct {
	Encrypted bool
	// KMSKeyID names the KMS key that wraps the data key (required when
	// Encrypted; the caller resolves the default managed key).
	KMSKeyID string
	// BlockSize is the size of the file system's blocks, a power of two
	// from 4 KiB to 4 MiB; zero means data.DefaultBlockSize. It is fixed
	// for the life of the file system.
	BlockSize int
}

var systemNextVol = meta.SystemKey("next-vol")

// CreateFileSystem creates an empty file system whose root directory is
// owned by 0:0 with mode 0755, as in EFS. It fails with Exist if id exists.
func (s *Service) CreateFileSystem(ctx context.Context, id string, o CreateOptions) (*FileSystem, error) {
	bs := o.BlockSize
	if bs == 0 {
		bs = data.DefaultBlockSize
	}
	if bs < 4<<10 || bs > 4<<20 || bs&(bs-1) != 0 {
		return nil, errorf("create file system", 0, Invalid, fmt.Errorf("block size %d is not a power of two from 4 KiB to 4 MiB", bs))
	}
	rec := volumeRecord{ID: id, BlockSize: bs, Encrypted: o.Encrypted, Created: s.clock.Now().UTC()}
	if o.Encrypted {
		if s.keys == nil || o.KMSKeyID == "" {
			return nil, errorf("create file system", 0, Invalid, errors.New("encryption needs a KMS key"))
		}
		wrapped, arn, err := s.keys.NewFileSystemKey(ctx, o.KMSKeyID, id)
		if err != nil {
			return nil, wrap("create file system", 0, err)
		}
		rec.WrappedKey, rec.KMSKeyARN = wrapped, arn
	}
	f := s.newFileSystem(rec)
	key, err := f.dataKey(ctx)
	if err != nil {
		return nil, wrap("create file system", 0, err)
	}
	err = s.meta.Update(ctx, func(mt meta.Txn) error {
		if _, err := mt.Get(meta.VolumeByIDKey(id)); err == nil {
			return errorf("create file system", 0, Exist, nil)
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		next := uint64(1)
		if v, err := mt.Get(systemNextVol); err == nil && len(v) == 8 {
			next = binary.BigEndian.Uint64(v)
		} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		f.rec.Vol = next
		if err := mt.Set(systemNextVol, binary.BigEndian.AppendUint64(nil, next+1)); err != nil {
			return err
		}
		b, err := json.Marshal(&f.rec)
		if err != nil {
			return err
		}
		if err := mt.Set(meta.VolumeByIDKey(id), b); err != nil {
			return err
		}
		if err := mt.Set(meta.AllocatorKey(f.rec.Vol), binary.BigEndian.AppendUint64(nil, RootIno+1)); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		root := &inode{Attr: Attr{Ino: RootIno, Type: TypeDirectory, Mode: 0o755, Nlink: 2,
			Atime: now, Mtime: now, Ctime: now, Btime: now, Change: 1, Generation: 1, Parent: RootIno}, nextCookie: firstCookie}
		return (&txn{Txn: mt, f: f, key: key, now: now}).putInode(root)
	})
	if err != nil {
		return nil, wrap("create file system", 0, err)
	}
	s.mu.Lock()
	s.mu.vols[id] = f
	s.mu.Unlock()
	return f, nil
}

func (s *Service) newFileSystem(rec volumeRecord) *FileSystem {
	return &FileSystem{svc: s, rec: rec}
}

// FileSystem returns the file system id, or a Stale error if it does not exist.
func (s *Service) FileSystem(ctx context.Context, id string) (*FileSystem, error) {
	s.mu.Lock()
	f := s.mu.vols[id]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	var rec volumeRecord
	err := s.meta.View(ctx, func(r meta.Reader) error {
		b, err := r.Get(meta.VolumeByIDKey(id))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &rec)
	})
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errorf("open file system", 0, Stale, fmt.Errorf("no file system %q", id))
	}
	if err != nil {
		return nil, wrap("open file system", 0, err)
	}
	f = s.newFileSystem(rec)
	s.mu.Lock()
	if g := s.mu.vols[id]; g != nil {
		f = g
	} else {
		s.mu.vols[id] = f
	}
	s.mu.Unlock()
	return f, nil
}

// FileSystems lists the IDs of every file system.
func (s *Service) FileSystems(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.meta.View(ctx, func(r meta.Reader) error {
		ids = ids[:0]
		return meta.ScanPrefix(r, []byte{meta.TableVolumeByID}, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[1:]))
			return true, nil
		})
	})
	return ids, wrap("list file systems", 0, err)
}

// DeleteFileSystem removes file system id and, in the background, all its
// contents. Handles to it become Stale at once.
func (s *Service) DeleteFileSystem(ctx context.Context, id string) error {
	f, err := s.FileSystem(ctx, id)
	if err != nil {
		return err
	}
	vol := f.rec.Vol
	err = s.meta.Update(ctx, func(tx meta.Txn) error {
		if err := tx.Delete(meta.VolumeByIDKey(id)); err != nil {
			return err
		}
		return tx.Set(deletedVolumeKey(vol), []byte(id))
	})
	if err != nil {
		return wrap("delete file system", 0, err)
	}
	f.deleted.Store(true)
	s.mu.Lock()
	delete(s.mu.vols, id)
	s.mu.Unlock()
	s.kickCollector()
	return nil
}

func deletedVolumeKey(vol uint64) []byte {
	return binary.BigEndian.AppendUint64(meta.SystemKey("deleted-vol/"), vol)
}

// classify maps causes from the layers below to a Code.
func classify(err error) Code {
	switch {
	case errors.Is(err, kms.ErrKeyUnavailable):
		return KeyUnavailable
	case errors.Is(err, blob.ErrNoSpace), errors.Is(err, meta.ErrNoSpace):
		return NoSpace
	default:
		return IO
	}
}

// lockBlocks serializes the read-modify-write of blocks first..last of an
// inode among the writers of this process (the commit re-checks every block
// record it read, so the locks only keep concurrent writers of one block from
// retrying each other; writers of different blocks of one file proceed in
// parallel and share syncs). Stripes are taken in ascending order.
func (s *Service) lockBlocks(vol, ino, first, last uint64) func() {
	var idx [len(s.blockLocks)]bool
	for b := first; b <= last; b++ {
		if b-first >= uint64(len(idx)) {
			idx = [len(s.blockLocks)]bool{} // a huge range: every stripe
			for i := range idx {
				idx[i] = true
			}
			break
		}
		idx[((ino*0x9E3779B97F4A7C15)^(b*0xC2B2AE3D27D4EB4F)^vol)>>56] = true
	}
	var held []*sync.Mutex
	for i := range idx {
		if idx[i] {
			s.blockLocks[i].Lock()
			held = append(held, &s.blockLocks[i])
		}
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}
