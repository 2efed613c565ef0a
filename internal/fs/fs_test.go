package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

type env struct {
	svc   *fs.Service
	kms   *kms.Manager
	meta  meta.Store
	blobs *memblob.Store
	clock *clock.Fake
	keyID string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ck := clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	root := make([]byte, 32)
	_, _ = rand.Read(root)
	km, err := kms.Open(context.Background(), m, root, kms.Config{Account: "123456789012", Region: "us-east-1"}, ck)
	require.NoError(t, err)
	key, err := km.CreateKey(context.Background(), kms.CreateKeyInput{Description: "test"})
	require.NoError(t, err)
	blobs := memblob.New()
	svc := fs.New(m, data.New(blobs, data.Options{}), km, fs.Options{Clock: ck, NoBackground: true})
	t.Cleanup(func() { _ = svc.Close() })
	return &env{svc: svc, kms: km, meta: m, blobs: blobs, clock: ck, keyID: key.ARN}
}

func (e *env) newFS(t testing.TB, encrypted bool) *fs.FileSystem {
	t.Helper()
	id := fmt.Sprintf("fs-%017x", time.Now().UnixNano())
	o := fs.CreateOptions{Encrypted: encrypted}
	if encrypted {
		o.KMSKeyID = e.keyID
	}
	f, err := e.svc.CreateFileSystem(context.Background(), id, o)
	require.NoError(t, err)
	return f
}

// both runs a test on an unencrypted and an encrypted file system.
func both(t *testing.T, fn func(t *testing.T, e *env, f *fs.FileSystem)) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			e := newEnv(t)
			fn(t, e, e.newFS(t, enc))
		})
	}
}

var (
	ctx   = context.Background()
	root  = &fs.Root
	alice = &fs.Caller{UID: 1000, GID: 1000, Groups: []uint32{50}}
	bob   = &fs.Caller{UID: 1001, GID: 1001}
)

func requireCode(t *testing.T, err error, c fs.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, c, fs.CodeOf(err), "error: %v", err)
}

func create(t *testing.T, f *fs.FileSystem, c *fs.Caller, dir uint64, name string, mode uint32) fs.Attr {
	t.Helper()
	a, created, err := f.Create(ctx, c, dir, name, mode, fs.Guarded, [8]byte{})
	require.NoError(t, err)
	require.True(t, created)
	return a
}

func names(t *testing.T, f *fs.FileSystem, dir uint64) []string {
	t.Helper()
	var out []string
	for cookie := uint64(0); ; {
		ents, eof, err := f.ReadDir(ctx, root, dir, cookie, 3, false)
		require.NoError(t, err)
		for _, e := range ents {
			out = append(out, e.Name)
			cookie = e.Cookie
		}
		if eof {
			break
		}
	}
	sort.Strings(out)
	return out
}

func TestRootDirectory(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a, err := f.GetAttr(ctx, fs.RootIno)
		require.NoError(t, err)
		require.Equal(t, fs.TypeDirectory, a.Type)
		require.EqualValues(t, 0o755, a.Mode)
		require.EqualValues(t, 0, a.UID)
		require.EqualValues(t, 0, a.GID)
		require.EqualValues(t, 2, a.Nlink)
		require.EqualValues(t, fs.RootIno, a.Parent)
	})
}

func TestCreateLookup(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		_, err := f.Mkdir(ctx, root, fs.RootIno, "home", 0o777)
		require.NoError(t, err)
		home, err := f.Lookup(ctx, root, fs.RootIno, "home")
		require.NoError(t, err)
		a := create(t, f, alice, home.Ino, "notes.txt", 0o640)
		require.EqualValues(t, 1000, a.UID)
		require.EqualValues(t, 1000, a.GID)
		require.EqualValues(t, 0o640, a.Mode)
		require.Equal(t, fs.TypeRegular, a.Type)

		got, err := f.Lookup(ctx, bob, home.Ino, "notes.txt")
		require.NoError(t, err)
		require.Equal(t, a.Ino, got.Ino)
		_, err = f.Lookup(ctx, bob, home.Ino, "missing")
		requireCode(t, err, fs.NotExist)
		dot, err := f.Lookup(ctx, bob, home.Ino, "..")
		require.NoError(t, err)
		require.EqualValues(t, fs.RootIno, dot.Ino)

		// Guarded fails, unchecked returns the file, exclusive is idempotent.
		_, _, err = f.Create(ctx, alice, home.Ino, "notes.txt", 0o600, fs.Guarded, [8]byte{})
		requireCode(t, err, fs.Exist)
		b, created, err := f.Create(ctx, alice, home.Ino, "notes.txt", 0o600, fs.Unchecked, [8]byte{})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, a.Ino, b.Ino)
		v := [8]byte{1, 2, 3}
		x, created, err := f.Create(ctx, alice, home.Ino, "x", 0o600, fs.Exclusive, v)
		require.NoError(t, err)
		require.True(t, created)
		y, created, err := f.Create(ctx, alice, home.Ino, "x", 0o600, fs.Exclusive, v)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, x.Ino, y.Ino)
		_, _, err = f.Create(ctx, alice, home.Ino, "x", 0o600, fs.Exclusive, [8]byte{9})
		requireCode(t, err, fs.Exist)

		// Names.
		_, _, err = f.Create(ctx, root, fs.RootIno, strings.Repeat("n", 255), 0o644, fs.Guarded, [8]byte{})
		require.NoError(t, err)
		_, _, err = f.Create(ctx, root, fs.RootIno, strings.Repeat("n", 256), 0o644, fs.Guarded, [8]byte{})
		requireCode(t, err, fs.NameTooLong)
		for _, bad := range []string{"", ".", "..", "a/b", "a\x00b"} {
			_, _, err = f.Create(ctx, root, fs.RootIno, bad, 0o644, fs.Guarded, [8]byte{})
			requireCode(t, err, fs.Invalid)
		}
		// Creating inside a file.
		_, _, err = f.Create(ctx, alice, a.Ino, "y", 0o644, fs.Guarded, [8]byte{})
		requireCode(t, err, fs.NotDir)
		// No write permission on root for alice.
		_, _, err = f.Create(ctx, alice, fs.RootIno, "y", 0o644, fs.Guarded, [8]byte{})
		requireCode(t, err, fs.Access)
	})
}

func TestDirectoriesAndLinks(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		d, err := f.Mkdir(ctx, root, fs.RootIno, "d", 0o755)
		require.NoError(t, err)
		require.EqualValues(t, 2, d.Nlink)
		r, _ := f.GetAttr(ctx, fs.RootIno)
		require.EqualValues(t, 3, r.Nlink)
		sub, err := f.Mkdir(ctx, root, d.Ino, "sub", 0o700)
		require.NoError(t, err)
		require.Equal(t, d.Ino, sub.Parent)
		d, _ = f.GetAttr(ctx, d.Ino)
		require.EqualValues(t, 3, d.Nlink)

		err = f.Rmdir(ctx, root, fs.RootIno, "d")
		requireCode(t, err, fs.NotEmpty)
		a := create(t, f, root, d.Ino, "file", 0o644)
		err = f.Rmdir(ctx, root, d.Ino, "file")
		requireCode(t, err, fs.NotDir)
		err = f.Unlink(ctx, root, d.Ino, "sub")
		requireCode(t, err, fs.IsDir)

		// Hard links up to the EFS limit.
		for i := 2; i <= fs.MaxLinks; i++ {
			_, err := f.Link(ctx, root, a.Ino, d.Ino, fmt.Sprintf("l%d", i))
			require.NoError(t, err)
		}
		a, _ = f.GetAttr(ctx, a.Ino)
		require.EqualValues(t, fs.MaxLinks, a.Nlink)
		_, err = f.Link(ctx, root, a.Ino, d.Ino, "one-too-many")
		requireCode(t, err, fs.TooManyLinks)
		_, err = f.Link(ctx, root, d.Ino, fs.RootIno, "dirlink")
		requireCode(t, err, fs.IsDir)
		require.NoError(t, f.Unlink(ctx, root, d.Ino, "file"))
		a, _ = f.GetAttr(ctx, a.Ino)
		require.EqualValues(t, fs.MaxLinks-1, a.Nlink)

		// Symlinks.
		s, err := f.Symlink(ctx, alice, sub.Ino, "s", "../target")
		requireCode(t, err, fs.Access)
		s, err = f.Symlink(ctx, root, d.Ino, "s", strings.Repeat("t", fs.MaxSymlinkBytes))
		require.NoError(t, err)
		require.Equal(t, fs.TypeSymlink, s.Type)
		got, err := f.Readlink(ctx, s.Ino)
		require.NoError(t, err)
		require.Equal(t, strings.Repeat("t", fs.MaxSymlinkBytes), got)
		_, err = f.Symlink(ctx, root, d.Ino, "s2", strings.Repeat("t", fs.MaxSymlinkBytes+1))
		requireCode(t, err, fs.NameTooLong)
		_, err = f.Readlink(ctx, d.Ino)
		requireCode(t, err, fs.Invalid)

		require.NoError(t, f.Rmdir(ctx, root, d.Ino, "sub"))
		d, _ = f.GetAttr(ctx, d.Ino)
		require.EqualValues(t, 2, d.Nlink)
		_, err = f.GetAttr(ctx, sub.Ino)
		requireCode(t, err, fs.Stale)
	})
}

func TestRename(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a, _ := f.Mkdir(ctx, root, fs.RootIno, "a", 0o755)
		b, _ := f.Mkdir(ctx, root, fs.RootIno, "b", 0o755)
		ab, _ := f.Mkdir(ctx, root, a.Ino, "ab", 0o755)
		x := create(t, f, root, a.Ino, "x", 0o644)
		y := create(t, f, root, b.Ino, "y", 0o644)

		// Replace a file atomically; the old target is freed.
		require.NoError(t, f.Rename(ctx, root, a.Ino, "x", b.Ino, "y"))
		got, err := f.Lookup(ctx, root, b.Ino, "y")
		require.NoError(t, err)
		require.Equal(t, x.Ino, got.Ino)
		_, err = f.GetAttr(ctx, y.Ino)
		requireCode(t, err, fs.Stale)
		_, err = f.Lookup(ctx, root, a.Ino, "x")
		requireCode(t, err, fs.NotExist)

		// Directory moves across parents fix link counts and the parent.
		require.NoError(t, f.Rename(ctx, root, a.Ino, "ab", b.Ino, "ab2"))
		a, _ = f.GetAttr(ctx, a.Ino)
		b, _ = f.GetAttr(ctx, b.Ino)
		require.EqualValues(t, 2, a.Nlink)
		require.EqualValues(t, 3, b.Nlink)
		ab, _ = f.GetAttr(ctx, ab.Ino)
		require.Equal(t, b.Ino, ab.Parent)

		// A directory cannot move under itself.
		err = f.Rename(ctx, root, fs.RootIno, "b", ab.Ino, "loop")
		requireCode(t, err, fs.Invalid)
		err = f.Rename(ctx, root, fs.RootIno, "b", b.Ino, "loop")
		requireCode(t, err, fs.Invalid)

		// Type mismatches and non-empty targets.
		err = f.Rename(ctx, root, b.Ino, "y", fs.RootIno, "a")
		requireCode(t, err, fs.IsDir)
		err = f.Rename(ctx, root, fs.RootIno, "a", b.Ino, "y")
		requireCode(t, err, fs.NotDir)
		create(t, f, root, ab.Ino, "inside", 0o644)
		err = f.Rename(ctx, root, fs.RootIno, "a", b.Ino, "ab2")
		requireCode(t, err, fs.NotEmpty)
		// Replacing an empty directory works and fixes the link counts.
		empty, _ := f.Mkdir(ctx, root, b.Ino, "empty", 0o755)
		require.NoError(t, f.Rename(ctx, root, fs.RootIno, "a", b.Ino, "empty"))
		_, err = f.GetAttr(ctx, empty.Ino)
		requireCode(t, err, fs.Stale)
		b, _ = f.GetAttr(ctx, b.Ino)
		require.EqualValues(t, 4, b.Nlink) // ab2, empty→a
		r, _ := f.GetAttr(ctx, fs.RootIno)
		require.EqualValues(t, 3, r.Nlink) // b, and a moved away
		require.Equal(t, []string{"ab2", "empty", "y"}, names(t, f, b.Ino))

		// Two names of one file: nothing happens.
		_, err = f.Link(ctx, root, x.Ino, b.Ino, "y-link")
		require.NoError(t, err)
		require.NoError(t, f.Rename(ctx, root, b.Ino, "y", b.Ino, "y-link"))
		require.Equal(t, []string{"ab2", "empty", "y", "y-link"}, names(t, f, b.Ino))

		// Renaming within one directory keeps one entry.
		require.NoError(t, f.Rename(ctx, root, b.Ino, "y", b.Ino, "z"))
		require.Equal(t, []string{"ab2", "empty", "y-link", "z"}, names(t, f, b.Ino))
		err = f.Rename(ctx, root, b.Ino, "nope", b.Ino, "z")
		requireCode(t, err, fs.NotExist)
	})
}

func TestReadDirCookiesSurviveChanges(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		const n = 40
		for i := 0; i < n; i++ {
			create(t, f, root, fs.RootIno, fmt.Sprintf("f%02d", i), 0o644)
		}
		seen := map[string]int{}
		cookie := uint64(0)
		for round := 0; ; round++ {
			ents, eof, err := f.ReadDir(ctx, root, fs.RootIno, cookie, 5, true)
			require.NoError(t, err)
			for _, en := range ents {
				seen[en.Name]++
				require.NotNil(t, en.Attr)
				require.Equal(t, en.Ino, en.Attr.Ino)
				cookie = en.Cookie
			}
			// Between pages: remove an entry already returned, one not yet
			// returned, and add a new one.
			if round == 1 {
				require.NoError(t, f.Unlink(ctx, root, fs.RootIno, "f00"))
				require.NoError(t, f.Unlink(ctx, root, fs.RootIno, "f39"))
				create(t, f, root, fs.RootIno, "new", 0o644)
			}
			if eof {
				break
			}
		}
		for i := 0; i < 39; i++ {
			require.Equal(t, 1, seen[fmt.Sprintf("f%02d", i)], "f%02d", i)
		}
		require.Zero(t, seen["f39"], "removed before it was reached")
		require.Equal(t, 1, seen["new"], "added during the listing, after the cursor")
		_, _, err := f.ReadDir(ctx, bob, fs.RootIno, 0, 10, false)
		require.NoError(t, err)
	})
}

func TestPermissions(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		tmp, err := f.Mkdir(ctx, root, fs.RootIno, "tmp", 0o1777)
		require.NoError(t, err)
		a := create(t, f, alice, tmp.Ino, "a", 0o640)

		mode := uint32(0o600)
		_, err = f.SetAttr(ctx, bob, a.Ino, fs.SetAttrs{Mode: &mode})
		requireCode(t, err, fs.Perm)
		got, err := f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{Mode: &mode})
		require.NoError(t, err)
		require.EqualValues(t, 0o600, got.Mode)
		require.Greater(t, got.Change, a.Change)

		uid := uint32(1001)
		_, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{UID: &uid})
		requireCode(t, err, fs.Perm)
		gid := uint32(50) // a supplementary group of alice
		got, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{GID: &gid})
		require.NoError(t, err)
		require.EqualValues(t, 50, got.GID)
		gid = 7
		_, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{GID: &gid})
		requireCode(t, err, fs.Perm)
		suid := uint32(0o4755)
		_, err = f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Mode: &suid})
		require.NoError(t, err)
		got, err = f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{UID: &uid})
		require.NoError(t, err)
		require.EqualValues(t, 1001, got.UID)
		require.EqualValues(t, 0o755, got.Mode, "chown clears setuid")

		// Access with owner, group (supplementary), other.
		m := uint32(0o750)
		_, err = f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Mode: &m})
		require.NoError(t, err)
		got2, err := f.Access(ctx, alice, a.Ino, fs.MayRead|fs.MayWrite|fs.MayExec)
		require.NoError(t, err)
		require.EqualValues(t, fs.MayRead|fs.MayExec, got2, "alice is in group 50")
		got2, err = f.Access(ctx, &fs.Caller{UID: 5, GID: 5}, a.Ino, fs.MayRead)
		require.NoError(t, err)
		require.Zero(t, got2)
		got2, err = f.Access(ctx, root, a.Ino, fs.MayRead|fs.MayWrite|fs.MayExec)
		require.NoError(t, err)
		require.EqualValues(t, 7, got2)

		// Sticky directory: bob may not remove or rename alice's file.
		b := create(t, f, alice, tmp.Ino, "b", 0o666)
		err = f.Unlink(ctx, bob, tmp.Ino, "b")
		requireCode(t, err, fs.Perm)
		err = f.Rename(ctx, bob, tmp.Ino, "b", tmp.Ino, "c")
		requireCode(t, err, fs.Perm)
		require.NoError(t, f.Unlink(ctx, alice, tmp.Ino, "b"))
		_, err = f.GetAttr(ctx, b.Ino)
		requireCode(t, err, fs.Stale)

		// Times: only the owner sets explicit times; writers may set now.
		when := fs.SetTime{Time: time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)}
		c := create(t, f, alice, tmp.Ino, "c", 0o666)
		_, err = f.SetAttr(ctx, bob, c.Ino, fs.SetAttrs{Mtime: &when})
		requireCode(t, err, fs.Perm)
		_, err = f.SetAttr(ctx, bob, c.Ino, fs.SetAttrs{Mtime: &fs.SetTime{Now: true}})
		require.NoError(t, err)
		got, err = f.SetAttr(ctx, alice, c.Ino, fs.SetAttrs{Mtime: &when, Atime: &when})
		require.NoError(t, err)
		require.True(t, got.Mtime.Equal(when.Time))
		require.True(t, got.Atime.Equal(when.Time))

		// Setgid directories pass their group on.
		sg, err := f.Mkdir(ctx, root, fs.RootIno, "sg", 0o2777)
		require.NoError(t, err)
		gid = 77
		_, err = f.SetAttr(ctx, root, sg.Ino, fs.SetAttrs{GID: &gid})
		require.NoError(t, err)
		in := create(t, f, alice, sg.Ino, "in", 0o644)
		require.EqualValues(t, 77, in.GID)
		sub, err := f.Mkdir(ctx, alice, sg.Ino, "sub", 0o755)
		require.NoError(t, err)
		require.EqualValues(t, 77, sub.GID)
		require.NotZero(t, sub.Mode&fs.ModeSetGID)
	})
}

func readAll(t *testing.T, f *fs.FileSystem, c *fs.Caller, ino uint64) []byte {
	t.Helper()
	a, err := f.GetAttr(ctx, ino)
	require.NoError(t, err)
	buf, eof, err := f.Read(ctx, c, ino, 0, int(a.Size)+10)
	require.NoError(t, err)
	require.True(t, eof)
	return buf
}

func TestReadWriteModel(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "data", 0o644)
		var model []byte
		rnd := newRand(1)
		const span = 3*data.DefaultBlockSize + 12345
		for step := 0; step < 120; step++ {
			switch op := rnd.Intn(10); {
			case op < 6: // write
				off := rnd.Intn(span)
				n := 1 + rnd.Intn(data.DefaultBlockSize+5000)
				if rnd.Intn(3) == 0 {
					n = 1 + rnd.Intn(64)
				}
				p := make([]byte, n)
				_, _ = rand.Read(p)
				got, err := f.Write(ctx, root, a.Ino, uint64(off), p)
				require.NoError(t, err)
				if off+n > len(model) {
					model = append(model, make([]byte, off+n-len(model))...)
				}
				copy(model[off:], p)
				require.EqualValues(t, len(model), got.Size)
			case op < 8: // truncate
				size := rnd.Intn(span)
				sz := uint64(size)
				got, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz})
				require.NoError(t, err)
				if size < len(model) {
					model = model[:size]
				} else {
					model = append(model, make([]byte, size-len(model))...)
				}
				require.EqualValues(t, size, got.Size)
			default: // ranged read
				if len(model) == 0 {
					continue
				}
				off := rnd.Intn(len(model))
				n := 1 + rnd.Intn(2*data.DefaultBlockSize)
				buf, eof, err := f.Read(ctx, root, a.Ino, uint64(off), n)
				require.NoError(t, err)
				end := min(off+n, len(model))
				require.True(t, bytes.Equal(model[off:end], buf), "read at %d+%d", off, n)
				require.Equal(t, end == len(model), eof)
			}
		}
		require.True(t, bytes.Equal(model, readAll(t, f, root, a.Ino)))
		require.NoError(t, e.svc.Collect(ctx, true))

		// Reading past the end.
		buf, eof, err := f.Read(ctx, root, a.Ino, uint64(len(model)+100), 10)
		require.NoError(t, err)
		require.True(t, eof)
		require.Empty(t, buf)
	})
}

func TestSparseAndTruncate(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "sparse", 0o644)
		far := uint64(10 * data.DefaultBlockSize)
		got, err := f.Write(ctx, root, a.Ino, far, []byte("end"))
		require.NoError(t, err)
		require.EqualValues(t, far+3, got.Size)
		require.EqualValues(t, 3, got.SpaceUsed, "holes store nothing")
		buf, _, err := f.Read(ctx, root, a.Ino, far-5, 8)
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0, 0, 0, 0, 'e', 'n', 'd'}, buf)

		// Truncate down into a block, then up: the cut part reads as zeros.
		b := create(t, f, root, fs.RootIno, "cut", 0o644)
		_, err = f.Write(ctx, root, b.Ino, 0, bytes.Repeat([]byte{7}, 100))
		require.NoError(t, err)
		sz := uint64(10)
		_, err = f.SetAttr(ctx, root, b.Ino, fs.SetAttrs{Size: &sz})
		require.NoError(t, err)
		sz = 50
		_, err = f.SetAttr(ctx, root, b.Ino, fs.SetAttrs{Size: &sz})
		require.NoError(t, err)
		require.Equal(t, append(bytes.Repeat([]byte{7}, 10), make([]byte, 40)...), readAll(t, f, root, b.Ino))

		// Limits.
		_, err = f.Write(ctx, root, b.Ino, fs.MaxFileSize-1, []byte("xy"))
		requireCode(t, err, fs.FileTooBig)
		_, err = f.Write(ctx, root, b.Ino, fs.MaxFileSize-1, []byte("x"))
		require.NoError(t, err)
		sz = fs.MaxFileSize + 1
		_, err = f.SetAttr(ctx, root, b.Ino, fs.SetAttrs{Size: &sz})
		requireCode(t, err, fs.FileTooBig)
		_, err = f.Write(ctx, root, fs.RootIno, 0, []byte("x"))
		requireCode(t, err, fs.IsDir)
	})
}

func TestWritePermissionsAndSetID(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		d, _ := f.Mkdir(ctx, root, fs.RootIno, "d", 0o777)
		a := create(t, f, alice, d.Ino, "a", 0o6775)
		_, err := f.Write(ctx, bob, a.Ino, 0, []byte("x"))
		requireCode(t, err, fs.Access)
		_, _, err = f.Read(ctx, bob, a.Ino, 0, 1)
		require.NoError(t, err, "others may read 0o775")
		mode := uint32(0o6770)
		_, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{Mode: &mode})
		require.NoError(t, err)
		// Alice belongs to group 1000 = the file's group, so setgid stays.
		got, err := f.GetAttr(ctx, a.Ino)
		require.NoError(t, err)
		require.EqualValues(t, 0o6770, got.Mode)
		_, _, err = f.Read(ctx, bob, a.Ino, 0, 1)
		requireCode(t, err, fs.Access)
		grp := &fs.Caller{UID: 2000, GID: 1000}
		got, err = f.Write(ctx, grp, a.Ino, 0, []byte("x"))
		require.NoError(t, err)
		require.EqualValues(t, 0o770, got.Mode, "a write by a non-root user clears setuid and setgid")
		// The owner may write its own read-only file (as knfsd allows).
		ro := uint32(0o444)
		_, err = f.SetAttr(ctx, alice, a.Ino, fs.SetAttrs{Mode: &ro})
		require.NoError(t, err)
		_, err = f.Write(ctx, alice, a.Ino, 1, []byte("y"))
		require.NoError(t, err)
		require.Equal(t, []byte("xy"), readAll(t, f, alice, a.Ino))
	})
}

func TestUnlinkFreesStorage(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		big := create(t, f, root, fs.RootIno, "big", 0o644)
		p := make([]byte, 70*data.DefaultBlockSize/10) // 7 blocks, not inline
		_, _ = rand.Read(p)
		for i := 0; i < 10; i++ {
			_, err := f.Write(ctx, root, big.Ino, uint64(i*len(p)), p)
			require.NoError(t, err)
		}
		st, err := f.StatFS(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 10*len(p), st.UsedBytes)
		require.EqualValues(t, 2, st.UsedFiles)
		require.Greater(t, e.blobs.Len(), 60)
		require.NoError(t, f.Unlink(ctx, root, fs.RootIno, "big")) // > 64 blocks: an orphan
		require.NoError(t, e.svc.Collect(ctx, true))
		require.Zero(t, e.blobs.Len(), "every object reclaimed")
		st, err = f.StatFS(ctx)
		require.NoError(t, err)
		require.Zero(t, st.UsedBytes)
		require.EqualValues(t, 1, st.UsedFiles)
		_, err = f.GetAttr(ctx, big.Ino)
		requireCode(t, err, fs.Stale)
	})
}

func TestCorruptBlockIsAnIOError(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "a", 0o644)
		p := bytes.Repeat([]byte("secret!"), 10000)
		_, err := f.Write(ctx, root, a.Ino, 0, p)
		require.NoError(t, err)
		var key string
		require.NoError(t, e.blobs.List(ctx, "", func(k string, _ int64) (bool, error) { key = k; return false, nil }))
		require.True(t, e.blobs.Corrupt(key, 100))
		// fsck reads past the cache and reports the damage.
		rep, err := e.svc.Check(ctx, fs.CheckOptions{})
		require.NoError(t, err)
		require.Len(t, rep.Problems, 1)
		require.Equal(t, "unreadable-block", rep.Problems[0].Kind)
		// A service without a warm cache reads it as an I/O error.
		cold := fs.New(e.meta, data.New(e.blobs, data.Options{}), e.kms, fs.Options{Clock: e.clock, NoBackground: true})
		defer cold.Close()
		g, err := cold.FileSystem(ctx, f.ID())
		require.NoError(t, err)
		_, _, err = g.Read(ctx, root, a.Ino, 0, len(p))
		requireCode(t, err, fs.IO)
	})
}

func TestDisabledKeyMakesDataUnreadable(t *testing.T) {
	e := newEnv(t)
	f := e.newFS(t, true)
	a := create(t, f, root, fs.RootIno, "a", 0o644)
	_, err := f.Write(ctx, root, a.Ino, 0, []byte("hello"))
	require.NoError(t, err)
	require.NoError(t, e.kms.DisableKey(ctx, e.keyID))
	_, _, err = f.Read(ctx, root, a.Ino, 0, 5)
	requireCode(t, err, fs.KeyUnavailable)
	_, err = f.Lookup(ctx, root, fs.RootIno, "a")
	requireCode(t, err, fs.KeyUnavailable)
	require.NoError(t, e.kms.EnableKey(ctx, e.keyID))
	buf, _, err := f.Read(ctx, root, a.Ino, 0, 5)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf))
}

func TestDeleteFileSystem(t *testing.T) {
	e := newEnv(t)
	f := e.newFS(t, false)
	a := create(t, f, root, fs.RootIno, "a", 0o644)
	_, err := f.Write(ctx, root, a.Ino, 0, make([]byte, 100000))
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteFileSystem(ctx, f.ID()))
	_, err = f.GetAttr(ctx, fs.RootIno)
	requireCode(t, err, fs.Stale)
	_, err = e.svc.FileSystem(ctx, f.ID())
	requireCode(t, err, fs.Stale)
	require.NoError(t, e.svc.Collect(ctx, true))
	require.Zero(t, e.blobs.Len())
	// Only global records remain: nothing of the volume.
	require.NoError(t, e.meta.View(ctx, func(r meta.Reader) error {
		return r.Scan(nil, nil, func(k, _ []byte) (bool, error) {
			key, err := meta.DecodeKey(k)
			require.NoError(t, err)
			require.Zero(t, key.Vol, "leftover key %q", k)
			return true, nil
		})
	}))
}

func TestDepthLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 directories")
	}
	e := newEnv(t)
	f := e.newFS(t, false)
	dir := uint64(fs.RootIno)
	for i := 1; i < fs.MaxDepth; i++ {
		a, err := f.Mkdir(ctx, root, dir, "d", 0o755)
		require.NoError(t, err, "depth %d", i)
		dir = a.Ino
	}
	_, err := f.Mkdir(ctx, root, dir, "d", 0o755)
	requireCode(t, err, fs.TooDeep)
}

func requireClean(t *testing.T, e *env) {
	t.Helper()
	rep, err := e.svc.Check(ctx, fs.CheckOptions{})
	require.NoError(t, err)
	require.Empty(t, rep.Problems, "%v", rep.Problems)
}

func TestCheckFindsAndRepairsLeaks(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		d, _ := f.Mkdir(ctx, root, fs.RootIno, "d", 0o755)
		a := create(t, f, root, d.Ino, "a", 0o644)
		_, err := f.Write(ctx, root, a.Ino, 0, make([]byte, 3*data.DefaultBlockSize))
		require.NoError(t, err)
		_, err = f.Link(ctx, root, a.Ino, fs.RootIno, "a2")
		require.NoError(t, err)
		_, err = f.Symlink(ctx, root, d.Ino, "s", "a")
		require.NoError(t, err)
		requireClean(t, e)
		rep, err := e.svc.Check(ctx, fs.CheckOptions{})
		require.NoError(t, err)
		require.Equal(t, 1, rep.FileSystems)
		require.Equal(t, 4, rep.Inodes) // root, d, a (two names), s
		require.Equal(t, 3, rep.Objects)

		// A leaked object (as after a crash between a block write and its commit).
		require.NoError(t, e.blobs.Put(ctx, data.BlobPrefix(1)+"0000000000000002/0000000000000009-ffff", []byte("x")))
		// A dangling entry and a leaked inode, made by editing records.
		require.NoError(t, e.meta.Update(ctx, func(tx meta.Txn) error {
			var victim []byte
			err := meta.ScanPrefix(tx, meta.VolumePrefix(meta.TableDirent, 1), func(k, v []byte) (bool, error) {
				key, _ := meta.DecodeKey(k)
				if key.Ino == fs.RootIno && len(v) == 17 && v[16] == byte(fs.TypeRegular) {
					victim = append([]byte(nil), k...)
					return false, nil
				}
				return true, nil
			})
			require.NotNil(t, victim)
			if err != nil {
				return err
			}
			return tx.Delete(victim) // drop the "a2" link: a's nlink is now wrong
		}))
		rep, err = e.svc.Check(ctx, fs.CheckOptions{})
		require.NoError(t, err)
		kinds := map[string]bool{}
		for _, p := range rep.Problems {
			kinds[p.Kind] = true
		}
		require.True(t, kinds["leaked-object"], "%v", rep.Problems)
		require.True(t, kinds["link-count"], "%v", rep.Problems)
		require.True(t, kinds["stray-cookie-record"], "%v", rep.Problems)
		require.True(t, kinds["entry-count"], "%v", rep.Problems)

		rep, err = e.svc.Check(ctx, fs.CheckOptions{Repair: true})
		require.NoError(t, err)
		require.Equal(t, 2, rep.Repaired)
		rep, err = e.svc.Check(ctx, fs.CheckOptions{})
		require.NoError(t, err)
		require.Equal(t, rep.Serious(), len(rep.Problems), "only the unrepairable problems remain: %v", rep.Problems)
	})
}

func TestCheckCleanAfterWorkload(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		rnd := newRand(7)
		dirs := []uint64{fs.RootIno}
		for i := 0; i < 300; i++ {
			dir := dirs[rnd.Intn(len(dirs))]
			name := fmt.Sprintf("n%d", rnd.Intn(20))
			switch rnd.Intn(6) {
			case 0:
				if a, err := f.Mkdir(ctx, root, dir, name, 0o755); err == nil {
					dirs = append(dirs, a.Ino)
				}
			case 1, 2:
				if a, _, err := f.Create(ctx, root, dir, name, 0o644, fs.Unchecked, [8]byte{}); err == nil {
					p := make([]byte, rnd.Intn(3*data.DefaultBlockSize))
					_, err = f.Write(ctx, root, a.Ino, uint64(rnd.Intn(1000)), p)
					require.NoError(t, err)
				}
			case 3:
				_ = f.Remove(ctx, root, dir, name)
			case 4:
				_ = f.Rename(ctx, root, dir, name, dirs[rnd.Intn(len(dirs))], fmt.Sprintf("n%d", rnd.Intn(20)))
			case 5:
				if a, err := f.Lookup(ctx, root, dir, name); err == nil && a.Type == fs.TypeRegular {
					sz := uint64(rnd.Intn(2 * data.DefaultBlockSize))
					_, err = f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz})
					require.NoError(t, err)
				}
			}
		}
		requireClean(t, e)
		require.NoError(t, e.svc.Collect(ctx, true))
		requireClean(t, e)
	})
}

func TestFullDisk(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "a", 0o644)
		before := bytes.Repeat([]byte("k"), 2*data.DefaultBlockSize)
		_, err := f.Write(ctx, root, a.Ino, 0, before)
		require.NoError(t, err)

		// The blob store reports a full device: the write fails with
		// NoSpace and changes nothing.
		e.blobs.FailPuts(fmt.Errorf("disk: %w", blob.ErrNoSpace))
		_, err = f.Write(ctx, root, a.Ino, 100, bytes.Repeat([]byte("x"), data.DefaultBlockSize))
		requireCode(t, err, fs.NoSpace)
		require.Equal(t, before, readAll(t, f, root, a.Ino))
		requireClean(t, e)
		e.blobs.FailPuts(nil)
		_, err = f.Write(ctx, root, a.Ino, 100, []byte("y"))
		require.NoError(t, err)
	})
}

func TestSpaceCheckRefusesGrowth(t *testing.T) {
	e := newEnv(t)
	full := false
	svc := fs.New(e.meta, data.New(e.blobs, data.Options{}), e.kms, fs.Options{Clock: e.clock, NoBackground: true,
		SpaceCheck: func() error {
			if full {
				return errors.New("free space under the reserve")
			}
			return nil
		}})
	defer svc.Close()
	f, err := svc.CreateFileSystem(ctx, "fs-00000000000000001", fs.CreateOptions{})
	require.NoError(t, err)
	a := create(t, f, root, fs.RootIno, "a", 0o644)
	full = true
	_, _, err = f.Create(ctx, root, fs.RootIno, "b", 0o644, fs.Guarded, [8]byte{})
	requireCode(t, err, fs.NoSpace)
	_, err = f.Write(ctx, root, a.Ino, 0, []byte("x"))
	requireCode(t, err, fs.NoSpace)
	// Freeing space still works on a full disk.
	require.NoError(t, f.Unlink(ctx, root, fs.RootIno, "a"))
}

func TestConcurrentWritersOfOneFile(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "shared", 0o644)
		const writers, region, rounds = 8, 40_000, 6 // regions share blocks
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					p := bytes.Repeat([]byte{byte(w*rounds + r)}, region)
					if _, err := f.Write(ctx, root, a.Ino, uint64(w*region), p); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got := readAll(t, f, root, a.Ino)
		require.Len(t, got, writers*region)
		for w := 0; w < writers; w++ {
			want := bytes.Repeat([]byte{byte(w*rounds + rounds - 1)}, region)
			require.True(t, bytes.Equal(want, got[w*region:(w+1)*region]), "region %d", w)
		}
		requireClean(t, e)
	})
}

func TestTruncateHugeSparseFileAndTimes(t *testing.T) {
	both(t, func(t *testing.T, e *env, f *fs.FileSystem) {
		a := create(t, f, root, fs.RootIno, "sparse", 0o644)
		// Blocks at both ends of a 40 TB range.
		_, err := f.Write(ctx, root, a.Ino, 0, []byte("head"))
		require.NoError(t, err)
		_, err = f.Write(ctx, root, a.Ino, 40<<40, []byte("tail"))
		require.NoError(t, err)
		when := fs.SetTime{Time: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
		sz := uint64(2)
		got, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz, Mtime: &when})
		require.NoError(t, err)
		require.EqualValues(t, 2, got.Size)
		require.True(t, got.Mtime.Equal(when.Time), "an explicit mtime given with a size wins: %v", got.Mtime)
		require.Equal(t, []byte("he"), readAll(t, f, root, a.Ino))
		requireClean(t, e)
	})
}

func TestTruncateInSteps(t *testing.T) {
	e := newEnv(t)
	f := e.newFS(t, false)
	a := create(t, f, root, fs.RootIno, "many-blocks", 0o644)
	const blocks = 4096 + 1000 // more than one truncation step
	for i := 0; i < blocks; i++ {
		_, err := f.Write(ctx, root, a.Ino, uint64(i)*data.DefaultBlockSize*3, []byte{byte(i)})
		require.NoError(t, err)
	}
	sz := uint64(data.DefaultBlockSize * 3 * 10)
	got, err := f.SetAttr(ctx, root, a.Ino, fs.SetAttrs{Size: &sz})
	require.NoError(t, err)
	require.EqualValues(t, sz, got.Size)
	require.EqualValues(t, 10, got.SpaceUsed)
	st, err := f.StatFS(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 10, st.UsedBytes)
	requireClean(t, e)
}

func TestBlockSizeOption(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []int{1000, 2048, 8 << 20, 3 << 12} {
		_, err := e.svc.CreateFileSystem(ctx, fmt.Sprintf("fs-%017x", bad), fs.CreateOptions{BlockSize: bad})
		requireCode(t, err, fs.Invalid)
	}
	f, err := e.svc.CreateFileSystem(ctx, "fs-00000000000000016", fs.CreateOptions{BlockSize: 16 << 10, Encrypted: true, KMSKeyID: e.keyID})
	require.NoError(t, err)
	a := create(t, f, root, fs.RootIno, "a", 0o644)
	p := make([]byte, 100_000)
	_, _ = rand.Read(p)
	_, err = f.Write(ctx, root, a.Ino, 5, p)
	require.NoError(t, err)
	got := readAll(t, f, root, a.Ino)
	require.True(t, bytes.Equal(append(make([]byte, 5), p...), got))
	rep, err := e.svc.Check(ctx, fs.CheckOptions{})
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.Equal(t, 7, rep.Blocks, "100,005 bytes in 16 KiB blocks")
}
