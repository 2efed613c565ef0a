package fs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/shelf-efs/shelf/internal/meta"
)

const collectBatch = 1000

// Collect reclaims storage: objects recorded as garbage (older than the
// grace period, or all when force is set), orphaned inodes, and the contents
// of deleted file systems. The background collector calls it; tests and fsck
// may call it directly. It is safe to run concurrently with everything else.
func (s *Service) Collect(ctx context.Context, force bool) error {
	if err := s.reapOrphans(ctx); err != nil {
		return fmt.Errorf("fs: reap orphans: %w", err)
	}
	if err := s.reapVolumes(ctx); err != nil {
		return fmt.Errorf("fs: reap deleted file systems: %w", err)
	}
	for {
		n, err := s.collectGarbage(ctx, force)
		if err != nil {
			return fmt.Errorf("fs: collect garbage: %w", err)
		}
		if n < collectBatch {
			return nil
		}
	}
}

func (s *Service) collectGarbage(ctx context.Context, force bool) (int, error) {
	type item struct {
		key  []byte
		blob string
	}
	var items []item
	seen := 0
	cutoff := s.clock.Now().Add(-s.opts.GarbageGrace).UnixNano()
	err := s.meta.View(ctx, func(r meta.Reader) error {
		items, seen = items[:0], 0
		return meta.ScanPrefix(r, []byte{meta.TableGarbage}, func(k, v []byte) (bool, error) {
			seen++
			if len(v) < 8 {
				items = append(items, item{key: append([]byte(nil), k...)}) // malformed: drop
			} else if force || int64(binary.BigEndian.Uint64(v)) <= cutoff {
				items = append(items, item{key: append([]byte(nil), k...), blob: string(v[8:])})
			}
			return seen < collectBatch, nil
		})
	})
	if err != nil || len(items) == 0 {
		return 0, err
	}
	for _, it := range items {
		if err := s.data.Delete(ctx, it.blob); err != nil {
			return 0, err
		}
	}
	err = s.meta.Update(ctx, func(tx meta.Txn) error {
		for _, it := range items {
			if err := tx.Delete(it.key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(items), nil
}

// volumes maps volume numbers to their records.
func (s *Service) volumes(ctx context.Context) (map[uint64]volumeRecord, error) {
	out := map[uint64]volumeRecord{}
	err := s.meta.View(ctx, func(r meta.Reader) error {
		return meta.ScanPrefix(r, []byte{meta.TableVolumeByID}, func(_, v []byte) (bool, error) {
			var rec volumeRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return false, err
			}
			out[rec.Vol] = rec
			return true, nil
		})
	})
	return out, err
}

func (s *Service) reapOrphans(ctx context.Context) error {
	var orphans [][2]uint64
	err := s.meta.View(ctx, func(r meta.Reader) error {
		orphans = orphans[:0]
		return meta.ScanPrefix(r, []byte{meta.TableOrphan}, func(k, _ []byte) (bool, error) {
			key, err := meta.DecodeKey(k)
			if err != nil {
				return false, err
			}
			orphans = append(orphans, [2]uint64{key.Vol, key.Ino})
			return len(orphans) < collectBatch, nil
		})
	})
	if err != nil || len(orphans) == 0 {
		return err
	}
	vols, err := s.volumes(ctx)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		rec, ok := vols[o[0]]
		if !ok {
			continue // its file system is being deleted
		}
		f := s.newFileSystem(rec)
		if err := f.reap(ctx, o[1]); err != nil {
			return err
		}
	}
	return nil
}

// reap frees an orphan inode in batches of blocks, then the inode itself.
func (f *FileSystem) reap(ctx context.Context, ino uint64) error {
	for done := false; !done; {
		err := f.update(ctx, "reap", ino, func(t *txn) error {
			n, err := t.inode(ino)
			if IsCode(err, Stale) {
				done = true
				return t.Delete(meta.OrphanKey(f.rec.Vol, ino))
			}
			if err != nil {
				return err
			}
			if n.Nlink > 0 {
				done = true // linked again is impossible, but never free a linked inode
				return t.Delete(meta.OrphanKey(f.rec.Vol, ino))
			}
			if done, err = t.freeBlocks(n, 0, truncateBatch); err != nil {
				return err
			}
			if done {
				return t.freeInode(n)
			}
			return t.putInode(n)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var deletedVolumePrefix = meta.SystemKey("deleted-vol/")

// reapVolumes deletes every key of deleted file systems, in batches,
// recording their objects as garbage.
func (s *Service) reapVolumes(ctx context.Context) error {
	var vols []uint64
	err := s.meta.View(ctx, func(r meta.Reader) error {
		vols = vols[:0]
		return meta.ScanPrefix(r, deletedVolumePrefix, func(k, _ []byte) (bool, error) {
			if len(k) == len(deletedVolumePrefix)+8 {
				vols = append(vols, binary.BigEndian.Uint64(k[len(deletedVolumePrefix):]))
			}
			return true, nil
		})
	})
	if err != nil {
		return err
	}
	tables := []byte{meta.TableBlock, meta.TablePatch, meta.TableInode, meta.TableDirent, meta.TableDirCookie,
		meta.TableXattr, meta.TableOrphan, meta.TableAllocator, meta.TableUsage}
	for _, vol := range vols {
		for _, table := range tables {
			for more := true; more; {
				now := s.clock.Now()
				err := s.meta.Update(ctx, func(tx meta.Txn) error {
					var keys [][]byte
					var blobs []string
					more = false
					err := meta.ScanPrefix(tx, meta.VolumePrefix(table, vol), func(k, v []byte) (bool, error) {
						if len(keys) == collectBatch {
							more = true
							return false, nil
						}
						keys = append(keys, append([]byte(nil), k...))
						if table == meta.TableBlock {
							if rec, err := decodeBlock(v); err == nil && rec.BlobKey != "" {
								blobs = append(blobs, rec.BlobKey)
							}
						}
						return true, nil
					})
					if err != nil {
						return err
					}
					for _, k := range keys {
						if err := tx.Delete(k); err != nil {
							return err
						}
					}
					t := &txn{Txn: tx, now: now}
					for _, b := range blobs {
						if err := t.addGarbage(b); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		err := s.meta.Update(ctx, func(tx meta.Txn) error {
			return tx.Delete(binary.BigEndian.AppendUint64(append([]byte(nil), deletedVolumePrefix...), vol))
		})
		if err != nil {
			return err
		}
	}
	return nil
}
