package nfstest_test

import (
	"fmt"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

// linuxAttrs is what Linux asks for in a GETATTR after most operations.
var linuxAttrs = []int{nfsv4.FATTR4_TYPE, nfsv4.FATTR4_CHANGE, nfsv4.FATTR4_SIZE, nfsv4.FATTR4_FSID, nfsv4.FATTR4_FILEID,
	nfsv4.FATTR4_MODE, nfsv4.FATTR4_NUMLINKS, nfsv4.FATTR4_OWNER, nfsv4.FATTR4_OWNER_GROUP, nfsv4.FATTR4_RAWDEV,
	nfsv4.FATTR4_SPACE_USED, nfsv4.FATTR4_TIME_ACCESS, nfsv4.FATTR4_TIME_METADATA, nfsv4.FATTR4_TIME_MODIFY,
	nfsv4.FATTR4_MOUNTED_ON_FILEID}

func benchEnv(b *testing.B) (*nfstest.Client, []byte) {
	e := newEnv(b)
	c := nfstest.New(e.transport(0, 0), 1, "bench")
	require.NoError(b, c.Mount(ctx))
	res, err := c.Do(ctx, nfstest.PutRootFH(), nfstest.GetFH())
	require.NoError(b, nfstest.Check(res, err))
	return c, nfstest.FH(res)
}

func BenchmarkGetAttr(b *testing.B) {
	c, root := benchEnv(b)
	for b.Loop() {
		res, err := c.Do(ctx, nfstest.PutFH(root), nfstest.GetAttr(linuxAttrs...))
		if err := nfstest.Check(res, err); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite4K(b *testing.B) {
	c, root := benchEnv(b)
	res, err := c.Do(ctx, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
		nfstest.ClaimNull("f"), nfstest.Unchecked(0o644)), nfstest.GetFH())
	require.NoError(b, nfstest.Check(res, err))
	fh := nfstest.FH(res)
	sid := res.Resarray[2].(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
	data := make([]byte, 4096)
	i := uint64(0)
	for b.Loop() {
		res, err := c.Do(ctx, nfstest.PutFH(fh), nfstest.Write(sid, (i%256)*4096, data), nfstest.GetAttr(linuxAttrs...))
		if err := nfstest.Check(res, err); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.SetBytes(4096)
}

func BenchmarkCreateClose(b *testing.B) {
	c, root := benchEnv(b)
	i := 0
	for b.Loop() {
		res, err := c.Do(ctx, nfstest.PutFH(root), nfstest.Open(0, 0, "o", nfsv4.OPEN4_SHARE_ACCESS_BOTH,
			nfstest.ClaimNull(fmt.Sprintf("f%d", i)), nfstest.Unchecked(0o644)), nfstest.GetFH(), nfstest.GetAttr(linuxAttrs...))
		if err := nfstest.Check(res, err); err != nil {
			b.Fatal(err)
		}
		sid := res.Resarray[2].(*nfsv4.NfsResop4_OP_OPEN).Opopen.(*nfsv4.Open4res_NFS4_OK).Resok4.Stateid
		res, err = c.Do(ctx, nfstest.PutFH(nfstest.FH(res)), nfstest.Close(0, sid))
		if err := nfstest.Check(res, err); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
