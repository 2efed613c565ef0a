package nfstest_test

import (
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/nfs"
	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func TestBadHandles(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "handles")
	root := rootFH(t, c)
	fh, _ := createFile(t, c, root, "f", "o")
	require.LessOrEqual(t, len(fh), nfsv4.NFS4_FHSIZE)
	for i := range fh {
		forged := append([]byte(nil), fh...)
		forged[i] ^= 0x01
		fails(t, c, nfsv4.NFS4ERR_BADHANDLE, nfstest.PutFH(forged), nfstest.GetAttr(nfsv4.FATTR4_SIZE))
	}
	for _, h := range [][]byte{nil, {1}, fh[:len(fh)-1], append(append([]byte(nil), fh...), 0)} {
		fails(t, c, nfsv4.NFS4ERR_BADHANDLE, nfstest.PutFH(h))
	}
	// A handle made with another key.
	other := newEnv(t)
	other.opts.HandleKey = []byte("another key, another server, 32b")
	other.restart()
	oc := other.client(1, "x")
	fails(t, c, nfsv4.NFS4ERR_BADHANDLE, nfstest.PutFH(rootFH(t, oc)))

	// A genuine handle of another file system is stale here.
	_, err := e.svc.CreateFileSystem(ctx, "fs-0123456789abcdef1", fs.CreateOptions{})
	require.NoError(t, err)
	tr := e.transport(0, 0)
	tr.Conn.FileSystemID = "fs-0123456789abcdef1"
	c2 := nfstest.New(tr, 1, "second fs")
	require.NoError(t, c2.Mount(ctx))
	fails(t, c2, nfsv4.NFS4ERR_STALE, nfstest.PutFH(fh))
	require.NotEqual(t, attrs(t, c, root, nfsv4.FATTR4_FSID).Fsid, attrs(t, c2, rootFH(t, c2), nfsv4.FATTR4_FSID).Fsid)
}

func TestStaleAfterRemove(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "stale")
	root := rootFH(t, c)
	fh, sid := createFile(t, c, root, "doomed", "o")
	do(t, c, nfstest.PutFH(fh), nfstest.Close(0, sid))
	do(t, c, nfstest.PutFH(root), nfstest.Remove("doomed"))
	fails(t, c, nfsv4.NFS4ERR_STALE, nfstest.PutFH(fh), nfstest.GetAttr(nfsv4.FATTR4_SIZE))
	fails(t, c, nfsv4.NFS4ERR_STALE, nfstest.PutFH(fh), nfstest.Read(nfsv4.Stateid4{}, 0, 1))
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutFH(root), nfstest.Lookup("doomed"))
}

func TestHandlesSurviveRestart(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "restart")
	root := rootFH(t, c)
	do(t, c, nfstest.PutFH(root), nfstest.Mkdir("d", 0o755))
	fh := nfstest.FH(do(t, c, nfstest.PutFH(root), nfstest.Lookup("d"), nfstest.GetFH()))
	e.restart()
	c = e.client(1, "restart 2")
	require.Equal(t, root, rootFH(t, c))
	require.Equal(t, nfsv4.NF4DIR, attrs(t, c, fh, nfsv4.FATTR4_TYPE).Type)
}

func TestGetAttr(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "getattr")
	root := rootFH(t, c)
	info := attrs(t, c, root, nfsv4.FATTR4_SUPPORTED_ATTRS, nfsv4.FATTR4_TYPE, nfsv4.FATTR4_FSID, nfsv4.FATTR4_LEASE_TIME,
		nfsv4.FATTR4_FILEHANDLE, nfsv4.FATTR4_FILEID, nfsv4.FATTR4_MODE, nfsv4.FATTR4_NUMLINKS, nfsv4.FATTR4_OWNER,
		nfsv4.FATTR4_OWNER_GROUP, nfsv4.FATTR4_MAXREAD, nfsv4.FATTR4_MAXNAME, nfsv4.FATTR4_MAXLINK,
		nfsv4.FATTR4_SPACE_FREE, nfsv4.FATTR4_ACL, nfsv4.FATTR4_FILES_FREE, nfsv4.FATTR4_TIME_ACCESS_SET)
	require.Equal(t, nfsv4.NF4DIR, info.Type)
	require.Equal(t, uint32(0o755), info.Mode, "a new file system's root is 0755")
	require.Equal(t, "0", info.Owner)
	require.Equal(t, "0", info.Group)
	require.Equal(t, uint32(90), info.LeaseTime)
	require.Equal(t, root, info.FH)
	require.Equal(t, uint64(fs.RootIno), info.Fileid)
	require.Equal(t, uint64(nfs.MaxIOBytes), info.MaxRead)
	require.Equal(t, uint32(255), info.MaxName)
	require.Equal(t, uint32(177), info.MaxLink)
	require.NotZero(t, info.SpaceFree)
	require.Len(t, info.Supported, 3, "NFSv4.1 reports suppattr_exclcreat")
	// ACL, files_free and write-only attributes are omitted.
	require.False(t, info.Has(nfsv4.FATTR4_ACL))
	require.False(t, info.Has(nfsv4.FATTR4_FILES_FREE))
	require.False(t, info.Has(nfsv4.FATTR4_TIME_ACCESS_SET))
}

func TestSetAttr(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "setattr")
	root := rootFH(t, c)
	fh, sid := createFile(t, c, root, "f", "o")
	do(t, c, nfstest.PutFH(fh), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: ptr(uint32(0o4711)), Owner: "1000", Group: "50"}))
	info := attrs(t, c, fh, nfsv4.FATTR4_MODE, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP)
	require.Equal(t, uint32(0o4711), info.Mode)
	require.Equal(t, "1000", info.Owner)
	require.Equal(t, "50", info.Group)

	fails(t, c, nfsv4.NFS4ERR_BADOWNER, nfstest.PutFH(fh), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Owner: "alice@example.com"}))
	// ACLs are not supported; a read-only attribute is invalid.
	acl := nfsv4.Fattr4{Attrmask: nfstest.Bitmap(nfsv4.FATTR4_ACL), AttrVals: []byte{0, 0, 0, 0}}
	fails(t, c, nfsv4.NFS4ERR_ATTRNOTSUPP, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_SETATTR{Opsetattr: nfsv4.Setattr4args{ObjAttributes: acl}})
	ro := nfsv4.Fattr4{Attrmask: nfstest.Bitmap(nfsv4.FATTR4_NUMLINKS), AttrVals: []byte{0, 0, 0, 2}}
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(fh), &nfsv4.NfsArgop4_OP_SETATTR{Opsetattr: nfsv4.Setattr4args{ObjAttributes: ro}})
	// Truncation with the open stateid; times set by client and server.
	size := uint64(3)
	mtime := int64(1_000_000)
	do(t, c, nfstest.PutFH(fh), nfstest.Write(sid, 0, []byte("abcdef")))
	res := do(t, c, nfstest.PutFH(fh), nfstest.SetAttr(sid, nfstest.Attrs{Size: &size, Mtime: &mtime}))
	set := nfstest.Last(res).(*nfsv4.NfsResop4_OP_SETATTR).Opsetattr.Attrsset
	require.Equal(t, nfstest.Bitmap(nfsv4.FATTR4_SIZE, nfsv4.FATTR4_TIME_MODIFY_SET), set)
	info = attrs(t, c, fh, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_TIME_MODIFY)
	require.Equal(t, uint64(3), info.Size)
	require.Equal(t, mtime, info.Mtime.Seconds)

	// A non-owner cannot chmod (EPERM); uid 1000 owns the file now.
	bob := e.clientAs(1, "bob", 1001, 1001)
	fails(t, bob, nfsv4.NFS4ERR_PERM, nfstest.PutFH(fh), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: ptr(uint32(0o777))}))
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "verify")
	root := rootFH(t, c)
	res := do(t, c, nfstest.PutFH(root), nfstest.GetAttr(nfsv4.FATTR4_MODE, nfsv4.FATTR4_OWNER))
	got := nfstest.Last(res).(*nfsv4.NfsResop4_OP_GETATTR).Opgetattr.(*nfsv4.Getattr4res_NFS4_OK).Resok4.ObjAttributes
	do(t, c, nfstest.PutFH(root), &nfsv4.NfsArgop4_OP_VERIFY{Opverify: nfsv4.Verify4args{ObjAttributes: got}})
	fails(t, c, nfsv4.NFS4ERR_SAME, nfstest.PutFH(root), &nfsv4.NfsArgop4_OP_NVERIFY{Opnverify: nfsv4.Nverify4args{ObjAttributes: got}})
	changed := nfstest.Attrs{Mode: ptr(uint32(0o700))}
	fails(t, c, nfsv4.NFS4ERR_NOT_SAME, nfstest.PutFH(root), &nfsv4.NfsArgop4_OP_VERIFY{Opverify: nfsv4.Verify4args{ObjAttributes: changed.Fattr()}})
	do(t, c, nfstest.PutFH(root), &nfsv4.NfsArgop4_OP_NVERIFY{Opnverify: nfsv4.Nverify4args{ObjAttributes: changed.Fattr()}})
	// VERIFY as the guard of a SETATTR.
	fails(t, c, nfsv4.NFS4ERR_NOT_SAME, nfstest.PutFH(root), &nfsv4.NfsArgop4_OP_VERIFY{Opverify: nfsv4.Verify4args{ObjAttributes: changed.Fattr()}},
		nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: ptr(uint32(0o700))}))
	require.Equal(t, uint32(0o755), attrs(t, c, root, nfsv4.FATTR4_MODE).Mode)
}

func TestNamespace(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "names")
	root := rootFH(t, c)
	res := do(t, c, nfstest.PutFH(root), nfstest.Mkdir("a", 0o755), nfstest.GetFH())
	a := nfstest.FH(res)
	do(t, c, nfstest.PutFH(a), nfstest.Mkdir("b", 0o700))
	// LOOKUPP climbs; at the root it is NOENT.
	res = do(t, c, nfstest.PutFH(a), nfstest.Lookup("b"), nfstest.LookupP(), nfstest.GetFH())
	require.Equal(t, a, nfstest.FH(res))
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutFH(root), nfstest.LookupP())
	// Bad names.
	fails(t, c, nfsv4.NFS4ERR_BADNAME, nfstest.PutFH(root), nfstest.Lookup(".."))
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(root), nfstest.Lookup(""))
	fails(t, c, nfsv4.NFS4ERR_NAMETOOLONG, nfstest.PutFH(root), nfstest.Lookup(string(make([]byte, 256))))
	// LOOKUP in a file, READLINK of a directory.
	fh, _ := createFile(t, c, root, "file", "o")
	fails(t, c, nfsv4.NFS4ERR_NOTDIR, nfstest.PutFH(fh), nfstest.Lookup("x"))
	fails(t, c, nfsv4.NFS4ERR_INVAL, nfstest.PutFH(root), nfstest.Readlink())
	// Symlinks.
	do(t, c, nfstest.PutFH(root), nfstest.Symlink("sl", "a/b"))
	res = do(t, c, nfstest.PutFH(root), nfstest.Lookup("sl"), nfstest.Readlink())
	require.Equal(t, "a/b", string(nfstest.Last(res).(*nfsv4.NfsResop4_OP_READLINK).Opreadlink.(*nfsv4.Readlink4res_NFS4_OK).Resok4.Link))
	fails(t, c, nfsv4.NFS4ERR_SYMLINK, nfstest.PutFH(root), nfstest.Lookup("sl"), nfstest.Lookup("b"))
	// Hard links: the saved filehandle is the file, the current the directory.
	res = do(t, c, nfstest.PutFH(fh), nfstest.SaveFH(), nfstest.PutFH(a), nfstest.Link("hard"))
	require.Equal(t, uint32(2), attrs(t, c, fh, nfsv4.FATTR4_NUMLINKS).Numlinks)
	fails(t, c, nfsv4.NFS4ERR_ISDIR, nfstest.PutFH(a), nfstest.SaveFH(), nfstest.PutFH(root), nfstest.Link("dirlink"))
	// Rename between directories, with change info.
	res = do(t, c, nfstest.PutFH(root), nfstest.SaveFH(), nfstest.PutFH(a), nfstest.Rename("file", "moved"))
	rn := nfstest.Last(res).(*nfsv4.NfsResop4_OP_RENAME).Oprename.(*nfsv4.Rename4res_NFS4_OK).Resok4
	require.NotZero(t, rn.TargetCinfo.After)
	require.Equal(t, attrs(t, c, a, nfsv4.FATTR4_CHANGE).Change, rn.TargetCinfo.After)
	do(t, c, nfstest.PutFH(a), nfstest.Lookup("moved"))
	// Devices are refused, as in EFS; FIFOs and sockets are made.
	fails(t, c, nfsv4.NFS4ERR_PERM, nfstest.PutFH(root), nfstest.Create(&nfsv4.Createtype4_NF4BLK{}, "blk", nfstest.Attrs{}))
	fails(t, c, nfsv4.NFS4ERR_BADTYPE, nfstest.PutFH(root), nfstest.Create(&nfsv4.Createtype4_default{Type: nfsv4.NF4REG}, "reg", nfstest.Attrs{}))
	do(t, c, nfstest.PutFH(root), nfstest.Create(&nfsv4.Createtype4_NF4FIFO{}, "fifo", nfstest.Attrs{}))
	do(t, c, nfstest.PutFH(root), nfstest.Create(&nfsv4.Createtype4_NF4SOCK{}, "sock", nfstest.Attrs{}))
	// REMOVE of a non-empty directory.
	fails(t, c, nfsv4.NFS4ERR_NOTEMPTY, nfstest.PutFH(root), nfstest.Remove("a"))
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	root := rootFH(t, e.client(1, "root"))
	user := e.clientAs(1, "uid 1000", 1000, 1000)
	// The root directory is root's 0755: uid 1000 cannot create there.
	fails(t, user, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Mkdir("x", 0o755))
	fails(t, user, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_WRITE,
		nfstest.ClaimNull("x"), nfstest.Unchecked(0o644)))
	res := do(t, user, nfstest.PutFH(root), nfstest.Access(nfsv4.ACCESS4_READ|nfsv4.ACCESS4_LOOKUP|nfsv4.ACCESS4_MODIFY|nfsv4.ACCESS4_EXECUTE))
	acc := nfstest.Last(res).(*nfsv4.NfsResop4_OP_ACCESS).Opaccess.(*nfsv4.Access4res_NFS4_OK).Resok4
	require.Equal(t, uint32(nfsv4.ACCESS4_READ|nfsv4.ACCESS4_LOOKUP|nfsv4.ACCESS4_MODIFY), acc.Supported, "EXECUTE does not apply to directories")
	require.Equal(t, uint32(nfsv4.ACCESS4_READ|nfsv4.ACCESS4_LOOKUP), acc.Access)

	// A root-owned 0600 file cannot be opened by uid 1000.
	rc := e.client(1, "root 2")
	fh, _ := createFile(t, rc, root, "secret", "o")
	do(t, rc, nfstest.PutFH(fh), nfstest.SetAttr(nfsv4.Stateid4{}, nfstest.Attrs{Mode: ptr(uint32(0o600))}))
	fails(t, user, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_READ, nfstest.ClaimNull("secret"), nil))
	fails(t, user, nfsv4.NFS4ERR_ACCESS, nfstest.PutFH(fh), nfstest.Read(nfsv4.Stateid4{}, 0, 1))
}

// TestReadDirPaging pages through a directory with small replies while it
// changes: every entry that stays is seen exactly once.
func TestReadDirPaging(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "readdir")
	root := rootFH(t, c)
	dir := nfstest.FH(do(t, c, nfstest.PutFH(root), nfstest.Mkdir("big", 0o755), nfstest.GetFH()))
	const n = 300
	for i := 0; i < n; i++ {
		do(t, c, nfstest.PutFH(dir), nfstest.Mkdir(fmt.Sprintf("e%03d", i), 0o755))
	}
	seen := map[string]int{}
	cookie, verf := uint64(0), [8]byte{}
	pages := 0
	for {
		res := do(t, c, nfstest.PutFH(dir), nfstest.ReadDir(cookie, verf, 1024, 2048, nfsv4.FATTR4_FILEID, nfsv4.FATTR4_TYPE, nfsv4.FATTR4_MODE))
		rd := nfstest.Last(res).(*nfsv4.NfsResop4_OP_READDIR).Opreaddir.(*nfsv4.Readdir4res_NFS4_OK).Resok4
		verf = rd.Cookieverf
		pages++
		for ent := rd.Reply.Entries; ent != nil; ent = ent.Nextentry {
			seen[ent.Name]++
			info, err := nfstest.DecodeAttrs(ent.Attrs)
			require.NoError(t, err)
			require.Equal(t, nfsv4.NF4DIR, info.Type)
			require.NotZero(t, info.Fileid)
			cookie = ent.Cookie
		}
		if rd.Reply.Eof {
			break
		}
		if pages == 2 {
			// While paging: remove entries ahead and behind, add new ones.
			do(t, c, nfstest.PutFH(dir), nfstest.Remove("e000"), nfstest.Remove("e299"), nfstest.Mkdir("new1", 0o755))
		}
	}
	require.Greater(t, pages, 5, "small replies need many pages")
	var dups []string
	for name, k := range seen {
		if k > 1 {
			dups = append(dups, name)
		}
	}
	require.Empty(t, dups)
	for i := 1; i < n-1; i++ {
		require.Equal(t, 1, seen[fmt.Sprintf("e%03d", i)], "entry %d", i)
	}
	require.Equal(t, 0, seen["e299"], "removed before it was reached")
	require.Equal(t, 1, seen["new1"], "added entries come after the others")

	// Too small for one entry; reserved and unknown cookies.
	fails(t, c, nfsv4.NFS4ERR_TOOSMALL, nfstest.PutFH(dir), nfstest.ReadDir(0, [8]byte{}, 0, 24, nfsv4.FATTR4_FILEID))
	fails(t, c, nfsv4.NFS4ERR_BAD_COOKIE, nfstest.PutFH(dir), nfstest.ReadDir(1, [8]byte{}, 0, 4096))
	fails(t, c, nfsv4.NFS4ERR_NOT_SAME, nfstest.PutFH(dir), nfstest.ReadDir(cookie, [8]byte{9, 9}, 0, 4096))
	file, _ := createFile(t, c, dir, "plain", "o")
	fails(t, c, nfsv4.NFS4ERR_NOTDIR, nfstest.PutFH(file), nfstest.ReadDir(0, [8]byte{}, 0, 4096))
}

// TestReadDirPlusHandles checks the attributes Linux asks for in READDIR
// (readdirplus): handles that work, owners as numbers.
func TestReadDirPlusHandles(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "readdirplus")
	root := rootFH(t, c)
	var names []string
	for i := 0; i < 10; i++ {
		name := "f" + strconv.Itoa(i)
		createFile(t, c, root, name, "o")
		names = append(names, name)
	}
	res := do(t, c, nfstest.PutFH(root), nfstest.ReadDir(0, [8]byte{}, 0, 32768, nfsv4.FATTR4_TYPE, nfsv4.FATTR4_CHANGE,
		nfsv4.FATTR4_SIZE, nfsv4.FATTR4_FSID, nfsv4.FATTR4_RDATTR_ERROR, nfsv4.FATTR4_FILEHANDLE, nfsv4.FATTR4_FILEID,
		nfsv4.FATTR4_MODE, nfsv4.FATTR4_NUMLINKS, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP, nfsv4.FATTR4_SPACE_USED,
		nfsv4.FATTR4_TIME_ACCESS, nfsv4.FATTR4_TIME_METADATA, nfsv4.FATTR4_TIME_MODIFY, nfsv4.FATTR4_MOUNTED_ON_FILEID))
	rd := nfstest.Last(res).(*nfsv4.NfsResop4_OP_READDIR).Opreaddir.(*nfsv4.Readdir4res_NFS4_OK).Resok4
	require.True(t, rd.Reply.Eof)
	var got []string
	for ent := rd.Reply.Entries; ent != nil; ent = ent.Nextentry {
		got = append(got, ent.Name)
		info, err := nfstest.DecodeAttrs(ent.Attrs)
		require.NoError(t, err)
		require.Equal(t, "0", info.Owner)
		require.Equal(t, nfsv4.NFS4_OK, info.RdattrErr)
		require.Equal(t, nfsv4.NF4REG, attrs(t, c, info.FH, nfsv4.FATTR4_TYPE).Type)
	}
	sort.Strings(got)
	require.Equal(t, names, got)
}

// TestChangeInfoAtomic: CREATE, OPEN (create), LINK, RENAME and REMOVE
// answer the directory's change attribute before and after, atomic, so a
// client that cached the directory at "before" keeps it; a change by
// another client in between shows as a "before" the first client did not
// see.
func TestChangeInfoAtomic(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "cinfo")
	other := e.client(1, "other")
	root := rootFH(t, c)
	res := do(t, c, nfstest.PutFH(root), nfstest.Mkdir("d", 0o777), nfstest.GetFH())
	d := nfstest.FH(res)
	change := func() uint64 { return attrs(t, c, d, nfsv4.FATTR4_CHANGE).Change }
	check := func(ci nfsv4.ChangeInfo4, before uint64) {
		t.Helper()
		require.True(t, ci.Atomic)
		require.Equal(t, before, ci.Before)
		require.Greater(t, ci.After, ci.Before)
		require.Equal(t, change(), ci.After)
	}

	before := change()
	res = do(t, c, nfstest.PutFH(d), nfstest.Mkdir("sub", 0o755))
	check(nfstest.Last(res).(*nfsv4.NfsResop4_OP_CREATE).Opcreate.(*nfsv4.Create4res_NFS4_OK).Resok4.Cinfo, before)

	before = change()
	res = do(t, c, nfstest.PutFH(d), nfstest.Open(0, c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull("f"), nfstest.Unchecked(0o644)), nfstest.GetFH())
	open, _ := nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
	check(open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Cinfo, before)
	f := nfstest.FH(res)

	before = change()
	res = do(t, c, nfstest.PutFH(f), nfstest.SaveFH(), nfstest.PutFH(d), nfstest.Link("g"))
	check(nfstest.Last(res).(*nfsv4.NfsResop4_OP_LINK).Oplink.(*nfsv4.Link4res_NFS4_OK).Resok4.Cinfo, before)

	// Another client's change in between: "before" is the value after it.
	seen := change()
	do(t, other, nfstest.PutFH(d), nfstest.Mkdir("theirs", 0o755))
	res = do(t, c, nfstest.PutFH(d), nfstest.SaveFH(), nfstest.Rename("g", "h"))
	rn := nfstest.Last(res).(*nfsv4.NfsResop4_OP_RENAME).Oprename.(*nfsv4.Rename4res_NFS4_OK).Resok4
	require.True(t, rn.SourceCinfo.Atomic)
	require.Greater(t, rn.SourceCinfo.Before, seen)
	require.Equal(t, rn.SourceCinfo, rn.TargetCinfo)
	require.Equal(t, change(), rn.TargetCinfo.After)

	// A rename between directories reports each.
	res = do(t, c, nfstest.PutFH(d), nfstest.Lookup("sub"), nfstest.GetFH())
	sub := nfstest.FH(res)
	beforeSub := attrs(t, c, sub, nfsv4.FATTR4_CHANGE).Change
	before = change()
	res = do(t, c, nfstest.PutFH(d), nfstest.SaveFH(), nfstest.PutFH(sub), nfstest.Rename("h", "h2"))
	rn = nfstest.Last(res).(*nfsv4.NfsResop4_OP_RENAME).Oprename.(*nfsv4.Rename4res_NFS4_OK).Resok4
	check(rn.SourceCinfo, before)
	require.True(t, rn.TargetCinfo.Atomic)
	require.Equal(t, beforeSub, rn.TargetCinfo.Before)
	require.Equal(t, attrs(t, c, sub, nfsv4.FATTR4_CHANGE).Change, rn.TargetCinfo.After)

	before = change()
	res = do(t, c, nfstest.PutFH(d), nfstest.Remove("f"))
	check(nfstest.Last(res).(*nfsv4.NfsResop4_OP_REMOVE).Opremove.(*nfsv4.Remove4res_NFS4_OK).Resok4.Cinfo, before)

	// An OPEN that creates nothing changes nothing: not atomic.
	res = do(t, c, nfstest.PutFH(sub), nfstest.Open(0, c.ClientID, "o", nfsv4.OPEN4_SHARE_ACCESS_READ,
		nfstest.ClaimNull("h2"), nil))
	open, _ = nfstest.Find[*nfsv4.NfsResop4_OP_OPEN](res)
	ci := open.Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Cinfo
	require.False(t, ci.Atomic)
	require.Equal(t, ci.Before, ci.After)
}
