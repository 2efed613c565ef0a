package meta

import (
	"encoding/binary"
	"fmt"
)

// FormatVersion is the version of the key schema below. It is stored under
// KeyFormat when a store is initialised; a store written by a newer version is
// refused, an older one is upgraded. Version 2 added table 'P' (patches kept
// apart from their block records, which version 1 builds cannot read); a
// version 1 store is a valid version 2 store.
const FormatVersion uint32 = 2

// Key schema, version 2. Every key starts with a one-byte table tag. Numbers
// are big-endian so that keys sort numerically. "vol" is the internal 64-bit
// number of a file system (its public "fs-…" ID maps to it through
// TableVolumeByID), so that per-file-system keys stay short.
//
//	0x00                         format version (uint32)
//	'S' name                     system singletons (root-key check, counters)
//	'K' name                     KMS records (owned by internal/kms)
//	'F' fsID                     volume record by public file-system ID
//	'A' vol                      inode-number allocator high-water mark
//	'U' vol                      usage counters (bytes, inodes)
//	'I' vol ino                  inode record
//	'D' vol dir nameKey          directory entry by name
//	'C' vol dir cookie           directory entry by readdir cookie
//	'B' vol ino block            data block record
//	'P' vol ino block id         stored bytes of a patch of a block record
//	'X' vol ino nameKey          extended data (sealed)
//	'O' vol ino                  orphan: inode with no links whose storage is being reclaimed
//	'G' seq                      garbage: blob key to delete after commit
const (
	TableFormat      byte = 0x00
	TableSystem      byte = 'S'
	TableKMS         byte = 'K'
	TableVolumeByID  byte = 'F'
	TableAllocator   byte = 'A'
	TableUsage       byte = 'U'
	TableInode       byte = 'I'
	TableDirent      byte = 'D'
	TableDirCookie   byte = 'C'
	TableBlock       byte = 'B'
	TablePatch       byte = 'P'
	TableXattr       byte = 'X'
	TableOrphan      byte = 'O'
	TableGarbage     byte = 'G'
	maxNameKeyLength      = 64
)

// KeyFormat is the key holding the schema version.
var KeyFormat = []byte{TableFormat}

// SystemKey names a system singleton.
func SystemKey(name string) []byte { return append([]byte{TableSystem}, name...) }

// KMSKey names a record owned by internal/kms.
func KMSKey(name string) []byte { return append([]byte{TableKMS}, name...) }

// VolumeByIDKey maps a public file-system ID to its volume record.
func VolumeByIDKey(fsID string) []byte { return append([]byte{TableVolumeByID}, fsID...) }

func volKey(table byte, vol uint64, extra int) []byte {
	k := make([]byte, 9, 9+extra)
	k[0] = table
	binary.BigEndian.PutUint64(k[1:], vol)
	return k
}

// VolumePrefix is the prefix of every key of table for volume vol.
func VolumePrefix(table byte, vol uint64) []byte { return volKey(table, vol, 0) }

// AllocatorKey holds the inode-number high-water mark of a volume.
func AllocatorKey(vol uint64) []byte { return volKey(TableAllocator, vol, 0) }

// UsageKey holds the metered size of a volume.
func UsageKey(vol uint64) []byte { return volKey(TableUsage, vol, 0) }

// InodeKey is the key of inode ino.
func InodeKey(vol, ino uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableInode, vol, 8), ino)
}

// OrphanKey marks inode ino as unlinked and awaiting reclamation.
func OrphanKey(vol, ino uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableOrphan, vol, 8), ino)
}

// DirentKey is the key of the entry nameKey in directory dir. nameKey is the
// plain name for unencrypted volumes and a keyed hash of it for encrypted ones.
func DirentKey(vol, dir uint64, nameKey []byte) []byte {
	k := binary.BigEndian.AppendUint64(volKey(TableDirent, vol, 8+len(nameKey)), dir)
	return append(k, nameKey...)
}

// DirentPrefix is the prefix of every entry of directory dir.
func DirentPrefix(vol, dir uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableDirent, vol, 8), dir)
}

// DirCookieKey is the key of the entry with the given readdir cookie.
func DirCookieKey(vol, dir, cookie uint64) []byte {
	k := binary.BigEndian.AppendUint64(volKey(TableDirCookie, vol, 16), dir)
	return binary.BigEndian.AppendUint64(k, cookie)
}

// DirCookiePrefix is the prefix of every cookie entry of directory dir.
func DirCookiePrefix(vol, dir uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableDirCookie, vol, 8), dir)
}

// BlockKey is the key of data block index of inode ino.
func BlockKey(vol, ino, index uint64) []byte {
	k := binary.BigEndian.AppendUint64(volKey(TableBlock, vol, 16), ino)
	return binary.BigEndian.AppendUint64(k, index)
}

// BlockPrefix is the prefix of every block of inode ino.
func BlockPrefix(vol, ino uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableBlock, vol, 8), ino)
}

// PatchKey is the key of the stored bytes of patch id of block index of
// inode ino (see data.Record.Apart).
func PatchKey(vol, ino, index, id uint64) []byte {
	return binary.BigEndian.AppendUint64(PatchPrefix(vol, ino, index), id)
}

// PatchPrefix is the prefix of every patch of block index of inode ino.
func PatchPrefix(vol, ino, index uint64) []byte {
	k := binary.BigEndian.AppendUint64(volKey(TablePatch, vol, 24), ino)
	return binary.BigEndian.AppendUint64(k, index)
}

// XattrKey is the key of extended datum nameKey of inode ino.
func XattrKey(vol, ino uint64, nameKey []byte) []byte {
	k := binary.BigEndian.AppendUint64(volKey(TableXattr, vol, 8+len(nameKey)), ino)
	return append(k, nameKey...)
}

// XattrPrefix is the prefix of every extended datum of inode ino.
func XattrPrefix(vol, ino uint64) []byte {
	return binary.BigEndian.AppendUint64(volKey(TableXattr, vol, 8), ino)
}

// GarbageKey is the key of garbage record seq.
func GarbageKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{TableGarbage}, seq)
}

// Key is a decoded key of the schema above; fields that the table does not
// use are zero.
type Key struct {
	Table   byte
	Name    string // TableSystem, TableKMS, TableVolumeByID
	Vol     uint64
	Ino     uint64 // inode, or directory for dirents and cookies
	Index   uint64 // block index, cookie, or garbage sequence
	Patch   uint64 // patch ID
	NameKey []byte // dirent and xattr name key
}

// DecodeKey parses a key of the schema. It never panics; a key that does not
// follow the schema yields an error (fsck reports such keys).
func DecodeKey(k []byte) (Key, error) {
	if len(k) == 0 {
		return Key{}, fmt.Errorf("meta: empty key")
	}
	key := Key{Table: k[0]}
	rest := k[1:]
	u64 := func() (uint64, bool) {
		if len(rest) < 8 {
			return 0, false
		}
		v := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		return v, true
	}
	var ok bool
	switch key.Table {
	case TableFormat:
		ok = len(rest) == 0
	case TableSystem, TableKMS, TableVolumeByID:
		key.Name, rest, ok = string(rest), nil, len(rest) > 0
	case TableGarbage:
		key.Index, ok = u64()
		ok = ok && len(rest) == 0
	case TableAllocator, TableUsage:
		key.Vol, ok = u64()
		ok = ok && len(rest) == 0
	case TableInode, TableOrphan:
		if key.Vol, ok = u64(); ok {
			key.Ino, ok = u64()
		}
		ok = ok && len(rest) == 0
	case TableBlock, TableDirCookie:
		if key.Vol, ok = u64(); ok {
			if key.Ino, ok = u64(); ok {
				key.Index, ok = u64()
			}
		}
		ok = ok && len(rest) == 0
	case TablePatch:
		if key.Vol, ok = u64(); ok {
			if key.Ino, ok = u64(); ok {
				if key.Index, ok = u64(); ok {
					key.Patch, ok = u64()
				}
			}
		}
		ok = ok && len(rest) == 0
	case TableDirent, TableXattr:
		if key.Vol, ok = u64(); ok {
			key.Ino, ok = u64()
		}
		ok = ok && len(rest) > 0 && len(rest) <= maxNameKeyLength*4
		key.NameKey = append([]byte(nil), rest...)
	default:
		return Key{}, fmt.Errorf("meta: unknown table 0x%02x", key.Table)
	}
	if !ok {
		return Key{}, fmt.Errorf("meta: malformed key in table 0x%02x (%d bytes)", key.Table, len(k))
	}
	return key, nil
}
