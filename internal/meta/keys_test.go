package meta

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// encode rebuilds the key of k with the builder of its table; ok is false for
// tables without one.
func encode(k Key) (b []byte, ok bool) {
	switch k.Table {
	case TableFormat:
		return KeyFormat, true
	case TableSystem:
		return SystemKey(k.Name), true
	case TableKMS:
		return KMSKey(k.Name), true
	case TableVolumeByID:
		return VolumeByIDKey(k.Name), true
	case TableAllocator:
		return AllocatorKey(k.Vol), true
	case TableUsage:
		return UsageKey(k.Vol), true
	case TableInode:
		return InodeKey(k.Vol, k.Ino), true
	case TableOrphan:
		return OrphanKey(k.Vol, k.Ino), true
	case TableDirent:
		return DirentKey(k.Vol, k.Ino, k.NameKey), true
	case TableDirCookie:
		return DirCookieKey(k.Vol, k.Ino, k.Index), true
	case TableBlock:
		return BlockKey(k.Vol, k.Ino, k.Index), true
	case TablePatch:
		return PatchKey(k.Vol, k.Ino, k.Index, k.Patch), true
	case TableXattr:
		return XattrKey(k.Vol, k.Ino, k.NameKey), true
	case TableGarbage:
		return GarbageKey(k.Index), true
	}
	return nil, false
}

func TestKeysRoundTrip(t *testing.T) {
	const big = math.MaxUint64
	name255 := []byte(strings.Repeat("n", 255)) // NAME_MAX
	tests := []struct {
		name string
		key  []byte
		want Key
	}{
		{"format", KeyFormat, Key{Table: TableFormat}},
		{"system", SystemKey("root-key-check"), Key{Table: TableSystem, Name: "root-key-check"}},
		{"system binary name", SystemKey("a\x00\xff"), Key{Table: TableSystem, Name: "a\x00\xff"}},
		{"kms", KMSKey("fs-1/dek"), Key{Table: TableKMS, Name: "fs-1/dek"}},
		{"volume by id", VolumeByIDKey("fs-0123456789abcdef0"), Key{Table: TableVolumeByID, Name: "fs-0123456789abcdef0"}},
		{"allocator", AllocatorKey(7), Key{Table: TableAllocator, Vol: 7}},
		{"usage", UsageKey(big), Key{Table: TableUsage, Vol: big}},
		{"inode", InodeKey(1, 2), Key{Table: TableInode, Vol: 1, Ino: 2}},
		{"inode max", InodeKey(big, big), Key{Table: TableInode, Vol: big, Ino: big}},
		{"orphan", OrphanKey(3, 4), Key{Table: TableOrphan, Vol: 3, Ino: 4}},
		{"dirent", DirentKey(1, 2, []byte("file.txt")), Key{Table: TableDirent, Vol: 1, Ino: 2, NameKey: []byte("file.txt")}},
		{"dirent one byte", DirentKey(1, 2, []byte{0}), Key{Table: TableDirent, Vol: 1, Ino: 2, NameKey: []byte{0}}},
		{"dirent NAME_MAX", DirentKey(1, 2, name255), Key{Table: TableDirent, Vol: 1, Ino: 2, NameKey: name255}},
		{"dir cookie", DirCookieKey(1, 2, 3), Key{Table: TableDirCookie, Vol: 1, Ino: 2, Index: 3}},
		{"block", BlockKey(5, 6, big), Key{Table: TableBlock, Vol: 5, Ino: 6, Index: big}},
		{"patch", PatchKey(5, 6, 7, big), Key{Table: TablePatch, Vol: 5, Ino: 6, Index: 7, Patch: big}},
		{"xattr", XattrKey(1, 2, []byte("user.a")), Key{Table: TableXattr, Vol: 1, Ino: 2, NameKey: []byte("user.a")}},
		{"garbage", GarbageKey(9), Key{Table: TableGarbage, Index: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeKey(tc.key)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, ok := encode(got)
			require.True(t, ok)
			require.Equal(t, tc.key, again)
		})
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
	}{
		{"empty", nil},
		{"unknown table", []byte{'z', 1}},
		{"format with payload", []byte{TableFormat, 0}},
		{"system without name", SystemKey("")},
		{"allocator short", AllocatorKey(1)[:8]},
		{"allocator long", append(AllocatorKey(1), 0)},
		{"inode short", InodeKey(1, 2)[:16]},
		{"inode long", append(InodeKey(1, 2), 0)},
		{"block short", BlockKey(1, 2, 3)[:24]},
		{"cookie long", append(DirCookieKey(1, 2, 3), 0)},
		{"dirent without name", DirentPrefix(1, 2)},
		{"dirent short", DirentPrefix(1, 2)[:12]},
		{"dirent name too long", DirentKey(1, 2, bytes.Repeat([]byte("n"), 4*maxNameKeyLength+1))},
		{"xattr without name", XattrPrefix(1, 2)},
		{"garbage short", GarbageKey(1)[:5]},
		{"garbage long", append(GarbageKey(1), 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := DecodeKey(tc.key)
				require.Error(t, err)
			})
		})
	}
}

// TestKeyOrder checks that keys of one table, volume, inode or directory sort
// together, under their prefix, in numeric order.
func TestKeyOrder(t *testing.T) {
	nums := []uint64{0, 1, 2, 255, 256, 1 << 32, math.MaxUint64 - 1, math.MaxUint64}
	sortedBy := func(keys [][]byte) bool {
		return slices.IsSortedFunc(keys, bytes.Compare)
	}
	t.Run("numeric", func(t *testing.T) {
		builders := map[string]func(n uint64) []byte{
			"inode ino":     func(n uint64) []byte { return InodeKey(7, n) },
			"inode vol":     func(n uint64) []byte { return InodeKey(n, 7) },
			"orphan":        func(n uint64) []byte { return OrphanKey(7, n) },
			"block index":   func(n uint64) []byte { return BlockKey(7, 8, n) },
			"block ino":     func(n uint64) []byte { return BlockKey(7, n, 8) },
			"cookie":        func(n uint64) []byte { return DirCookieKey(7, 8, n) },
			"dirent dir":    func(n uint64) []byte { return DirentKey(7, n, []byte("a")) },
			"xattr ino":     func(n uint64) []byte { return XattrKey(7, n, []byte("a")) },
			"garbage":       GarbageKey,
			"allocator vol": AllocatorKey,
			"usage vol":     UsageKey,
		}
		for name, build := range builders {
			var keys [][]byte
			for _, n := range nums {
				keys = append(keys, build(n))
			}
			require.True(t, sortedBy(keys), name)
		}
	})
	t.Run("grouped under prefix", func(t *testing.T) {
		groups := []struct {
			name   string
			prefix []byte
			inside [][]byte
		}{
			{"volume inodes", VolumePrefix(TableInode, 5), [][]byte{InodeKey(5, 0), InodeKey(5, math.MaxUint64)}},
			{"volume blocks", VolumePrefix(TableBlock, 5), [][]byte{BlockKey(5, 0, 0), BlockKey(5, math.MaxUint64, math.MaxUint64)}},
			{"inode blocks", BlockPrefix(5, 6), [][]byte{BlockKey(5, 6, 0), BlockKey(5, 6, math.MaxUint64)}},
			{"directory entries", DirentPrefix(5, 6), [][]byte{DirentKey(5, 6, []byte{0}), DirentKey(5, 6, bytes.Repeat([]byte{0xff}, 255))}},
			{"directory cookies", DirCookiePrefix(5, 6), [][]byte{DirCookieKey(5, 6, 0), DirCookieKey(5, 6, math.MaxUint64)}},
			{"block patches", PatchPrefix(5, 6, 7), [][]byte{PatchKey(5, 6, 7, 0), PatchKey(5, 6, 7, math.MaxUint64)}},
			{"inode xattrs", XattrPrefix(5, 6), [][]byte{XattrKey(5, 6, []byte{0}), XattrKey(5, 6, []byte{0xff, 0xff})}},
		}
		// Keys of the neighbours: the next or previous volume, inode or
		// directory, and other tables.
		neighbours := [][]byte{
			InodeKey(4, math.MaxUint64), InodeKey(6, 0), BlockKey(5, 5, math.MaxUint64), BlockKey(5, 7, 0),
			BlockKey(4, 6, 0), BlockKey(6, 6, 0), DirentKey(5, 5, []byte{0xff}), DirentKey(5, 7, []byte{0}),
			DirCookieKey(5, 7, 0), DirCookieKey(5, 5, math.MaxUint64), XattrKey(5, 7, []byte{0}),
			XattrKey(5, 5, []byte{0xff}), OrphanKey(5, 6), AllocatorKey(5), UsageKey(5), GarbageKey(5), KeyFormat,
			PatchKey(5, 6, 6, math.MaxUint64), PatchKey(5, 6, 8, 0), PatchKey(5, 5, 7, 0), PatchKey(5, 7, 7, 0),
		}
		for _, g := range groups {
			end := PrefixEnd(g.prefix)
			in := func(k []byte) bool {
				return bytes.Compare(k, g.prefix) >= 0 && (end == nil || bytes.Compare(k, end) < 0)
			}
			for _, k := range g.inside {
				require.True(t, bytes.HasPrefix(k, g.prefix), "%s: %x", g.name, k)
				require.True(t, in(k), "%s: %x outside [prefix, PrefixEnd)", g.name, k)
			}
			for _, k := range neighbours {
				require.Equal(t, bytes.HasPrefix(k, g.prefix), in(k), "%s: neighbour %x", g.name, k)
			}
		}
	})
	t.Run("tables apart", func(t *testing.T) {
		// Every key of a table sorts between its table tag and the next.
		for _, k := range [][]byte{InodeKey(math.MaxUint64, math.MaxUint64), BlockKey(0, 0, 0), DirentKey(1, 1, []byte{0xff, 0xff})} {
			require.Equal(t, k[0], PrefixEnd(k[:1])[0]-1)
			require.Negative(t, bytes.Compare(k, PrefixEnd(k[:1])))
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, want []byte
	}{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{0}, []byte{1}},
		{[]byte("abc"), []byte("abd")},
		{[]byte{'a', 0xff}, []byte{'b'}},
		{[]byte{'a', 0xfe, 0xff, 0xff}, []byte{'a', 0xff}},
		{[]byte{1, 0xff, 0}, []byte{1, 0xff, 1}},
	}
	for _, tc := range tests {
		prefix := slices.Clone(tc.prefix)
		got := PrefixEnd(prefix)
		require.Equal(t, tc.want, got, "PrefixEnd(%x)", tc.prefix)
		require.Equal(t, tc.prefix, prefix, "PrefixEnd modified its argument")
		if got == nil {
			continue
		}
		// got is the smallest key above every key with the prefix: it is
		// greater than prefix+ff..., and no key in between has the prefix.
		require.Positive(t, bytes.Compare(got, append(slices.Clone(tc.prefix), 0xff, 0xff, 0xff)))
		require.False(t, bytes.HasPrefix(got, tc.prefix))
		require.Negative(t, bytes.Compare(tc.prefix, got))
	}
}

// FuzzDecodeKey: DecodeKey never panics, and a key it accepts is rebuilt,
// byte for byte, by its table's builder.
func FuzzDecodeKey(f *testing.F) {
	for _, k := range [][]byte{
		KeyFormat, SystemKey("x"), KMSKey("k"), VolumeByIDKey("fs-1"), AllocatorKey(1), UsageKey(2),
		InodeKey(1, 2), OrphanKey(1, 2), DirentKey(1, 2, []byte("n")), DirCookieKey(1, 2, 3),
		BlockKey(1, 2, 3), XattrKey(1, 2, []byte("user.x")), GarbageKey(4), {}, {'z'}, {TableInode, 1},
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := slices.Clone(b)
		k, err := DecodeKey(b)
		require.Equal(t, in, b, "DecodeKey modified its input")
		if err != nil {
			return
		}
		again, ok := encode(k)
		require.True(t, ok, "decoded a key of table %#x that has no builder", k.Table)
		require.Equal(t, b, again)
		// The decoded key owns its name: changing the input changes nothing.
		if len(k.NameKey) > 0 {
			b[len(b)-1] ^= 0xff
			require.Equal(t, again[len(again)-1], k.NameKey[len(k.NameKey)-1])
		}
	})
}
