package nfstest_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/nfs/nfstest"
)

func TestProcedures(t *testing.T) {
	e := newEnv(t)
	tr := e.transport(0, 0)
	c := nfstest.New(tr, 1, "procs")
	require.NoError(t, c.Null(ctx))

	_, err := tr.Call(ctx, 2, nil)
	var ae *nfstest.AcceptError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, rpcv2.PROC_UNAVAIL, ae.Stat)

	tr.Vers = 3
	_, err = tr.Call(ctx, 0, nil)
	require.True(t, errors.As(err, &ae))
	require.Equal(t, rpcv2.PROG_MISMATCH, ae.Stat)

	tr.Vers = 4
	_, err = tr.Call(ctx, 1, []byte{0, 0, 0})
	require.True(t, errors.As(err, &ae))
	require.Equal(t, rpcv2.GARBAGE_ARGS, ae.Stat)
}

func TestMinorVersionMismatch(t *testing.T) {
	e := newEnv(t)
	c := nfstest.New(e.transport(0, 0), 3, "v43")
	c.Tag = "probe"
	res, err := c.Compound(ctx, nfstest.PutRootFH(), nfstest.GetFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_MINOR_VERS_MISMATCH, res.Status)
	require.Empty(t, res.Resarray)
	require.Equal(t, "probe", res.Tag)
}

func TestNoFileHandle(t *testing.T) {
	for _, minor := range []uint32{0, 1} {
		e := newEnv(t)
		c := e.client(minor, "nofh")
		for _, op := range []nfsv4.NfsArgop4{nfstest.GetAttr(nfsv4.FATTR4_SIZE), nfstest.GetFH(), nfstest.Lookup("x"),
			nfstest.SaveFH(), nfstest.Readlink(), nfstest.Remove("x"), nfstest.Access(1)} {
			fails(t, c, nfsv4.NFS4ERR_NOFILEHANDLE, op)
		}
		fails(t, c, nfsv4.NFS4ERR_RESTOREFH, nfstest.RestoreFH())
		// LINK and RENAME need the saved filehandle too.
		fails(t, c, nfsv4.NFS4ERR_NOFILEHANDLE, nfstest.PutRootFH(), nfstest.Link("l"))
		fails(t, c, nfsv4.NFS4ERR_NOFILEHANDLE, nfstest.PutRootFH(), nfstest.Rename("a", "b"))
	}
}

// rawCompound builds COMPOUND arguments with hand-made operation bytes.
func rawCompound(minor uint32, ops ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0) // empty tag
	b = binary.BigEndian.AppendUint32(b, minor)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ops)))
	for _, op := range ops {
		b = append(b, op...)
	}
	return b
}

func opBytes(op nfsv4.NfsArgop4) []byte {
	var b bytes.Buffer
	_, _ = op.WriteTo(&b)
	return b.Bytes()
}

func TestOpIllegal(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "illegal")
	seq := func() []byte { return opBytes(c.Sequence(0, c.SlotSeqids[0]+1, false)) }
	for name, op := range map[string][]byte{
		"unknown opcode":  binary.BigEndian.AppendUint32(nil, 9999),
		"OP_ILLEGAL":      binary.BigEndian.AppendUint32(nil, uint32(nfsv4.OP_ILLEGAL)),
		"NFSv4.2 SEEK":    opBytes(&nfsv4.NfsArgop4_OP_SEEK{Opseek: nfsv4.Seek4args{SaWhat: nfsv4.NFS4_CONTENT_DATA}}),
		"opcode zero":     binary.BigEndian.AppendUint32(nil, 0),
		"negative opcode": binary.BigEndian.AppendUint32(nil, 0xfffffff0),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := c.Raw(ctx, rawCompound(1, seq(), opBytes(nfstest.PutRootFH()), op, opBytes(nfstest.GetFH())))
			require.NoError(t, err)
			c.SlotSeqids[0]++
			res, err := nfstest.Decode(b)
			require.NoError(t, err)
			require.Equal(t, nfsv4.NFS4ERR_OP_ILLEGAL, res.Status)
			require.Len(t, res.Resarray, 3, "processing stops at the illegal operation")
			require.Equal(t, nfsv4.OP_ILLEGAL, nfstest.Op(res.Resarray[2]))
		})
	}

	// NFSv4.1 operations do not exist in 4.0; 4.0-only ones are NOTSUPP in 4.1.
	c0 := e.client(0, "illegal0")
	fails(t, c0, nfsv4.NFS4ERR_OP_ILLEGAL, nfstest.PutRootFH(), &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{})
	fails(t, c, nfsv4.NFS4ERR_NOTSUPP, &nfsv4.NfsArgop4_OP_RENEW{Oprenew: nfsv4.Renew4args{Clientid: c.ClientID}})
}

func TestBadXDR(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "badxdr")
	// A LOOKUP whose name length runs past the end.
	lookup := binary.BigEndian.AppendUint32(nil, uint32(nfsv4.OP_LOOKUP))
	lookup = binary.BigEndian.AppendUint32(lookup, 1000)
	b, err := c.Raw(ctx, rawCompound(1, opBytes(c.Sequence(0, c.SlotSeqids[0]+1, false)), opBytes(nfstest.PutRootFH()), lookup))
	require.NoError(t, err)
	c.SlotSeqids[0]++
	res, err := nfstest.Decode(b)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_BADXDR, res.Status)
	require.Len(t, res.Resarray, 3)

	// A name that is not UTF-8.
	bad := opBytes(nfstest.Lookup("ab"))
	bad[len(bad)-4] = 0xff
	b, err = c.Raw(ctx, rawCompound(1, opBytes(c.Sequence(0, c.SlotSeqids[0]+1, false)), opBytes(nfstest.PutRootFH()), bad))
	require.NoError(t, err)
	c.SlotSeqids[0]++
	res, err = nfstest.Decode(b)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_INVAL, res.Status)
}

func TestTooManyOps(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "many")
	// More than the session's ca_maxoperations (16 asked).
	ops := []nfsv4.NfsArgop4{}
	for i := 0; i < 20; i++ {
		ops = append(ops, nfstest.PutRootFH())
	}
	res, err := c.Do(ctx, ops...)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_TOO_MANY_OPS, res.Status)
	require.Len(t, res.Resarray, 1)
	require.Equal(t, nfsv4.OP_SEQUENCE, nfstest.Op(res.Resarray[0]))

	// More than the server ever takes: not even decoded.
	for i := 0; i < 200; i++ {
		ops = append(ops, nfstest.PutRootFH())
	}
	res, err = c.Do(ctx, ops...)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_TOO_MANY_OPS, res.Status)

	c0 := e.client(0, "many0")
	res, err = c0.Do(ctx, ops...)
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_RESOURCE, res.Status)
	require.Len(t, res.Resarray, 1)
}

func TestNotInSession(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "nosess")
	res, err := c.Compound(ctx, nfstest.PutRootFH(), nfstest.GetFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_OP_NOT_IN_SESSION, res.Status)
	require.Len(t, res.Resarray, 1)

	// SEQUENCE anywhere but first.
	fails(t, c, nfsv4.NFS4ERR_SEQUENCE_POS, nfstest.PutRootFH(), c.Sequence(0, 9, false))

	// EXCHANGE_ID not alone.
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_EXCHANGE_ID{OpexchangeId: nfsv4.ExchangeId4args{
		EiaClientowner: nfsv4.ClientOwner4{CoOwnerid: []byte("x")}, EiaStateProtect: &nfsv4.StateProtect4A_SP4_NONE{}}},
		nfstest.PutRootFH())
	require.NoError(t, err)
	require.Equal(t, nfsv4.NFS4ERR_NOT_ONLY_OP, res.Status)
}

func TestDelegationAndPNFSRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "deleg")
	for _, op := range []nfsv4.NfsArgop4{
		&nfsv4.NfsArgop4_OP_DELEGRETURN{},
		&nfsv4.NfsArgop4_OP_DELEGPURGE{},
		&nfsv4.NfsArgop4_OP_LAYOUTGET{Oplayoutget: nfsv4.Layoutget4args{LogaLayoutType: 1, LogaIomode: 1}},
		&nfsv4.NfsArgop4_OP_GETDEVICEINFO{Opgetdeviceinfo: nfsv4.Getdeviceinfo4args{GdiaLayoutType: 1}},
		&nfsv4.NfsArgop4_OP_WANT_DELEGATION{OpwantDelegation: nfsv4.WantDelegation4args{WdaClaim: &nfsv4.DelegClaim4_CLAIM_FH{}}},
	} {
		fails(t, c, nfsv4.NFS4ERR_NOTSUPP, nfstest.PutRootFH(), op)
	}
}

func TestSecinfo(t *testing.T) {
	e := newEnv(t)
	c := e.client(1, "secinfo")
	res := do(t, c, nfstest.PutRootFH(), &nfsv4.NfsArgop4_OP_SECINFO_NO_NAME{OpsecinfoNoName: nfsv4.SECINFO_STYLE4_CURRENT_FH})
	si := nfstest.Last(res).(*nfsv4.NfsResop4_OP_SECINFO_NO_NAME).OpsecinfoNoName.(*nfsv4.Secinfo4res_NFS4_OK)
	require.Len(t, si.Resok4, 2)
	require.Equal(t, rpcv2.AUTH_SYS, si.Resok4[0].GetFlavor())
	require.Equal(t, rpcv2.AUTH_NONE, si.Resok4[1].GetFlavor())
	// SECINFO_NO_NAME consumes the current filehandle.
	fails(t, c, nfsv4.NFS4ERR_NOFILEHANDLE, nfstest.PutRootFH(),
		&nfsv4.NfsArgop4_OP_SECINFO_NO_NAME{OpsecinfoNoName: nfsv4.SECINFO_STYLE4_CURRENT_FH}, nfstest.GetFH())
	fails(t, c, nfsv4.NFS4ERR_NOENT, nfstest.PutRootFH(), &nfsv4.NfsArgop4_OP_SECINFO{Opsecinfo: nfsv4.Secinfo4args{Name: "nope"}})
}
