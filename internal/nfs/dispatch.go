package nfs

import (
	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// dispatch runs one decoded operation.
func (c *compound) dispatch(arg nfsv4.NfsArgop4) (nfsv4.NfsResop4, nfsv4.Nfsstat4) {
	switch a := arg.(type) {
	// Filehandles.
	case *nfsv4.NfsArgop4_OP_PUTROOTFH:
		r := nfsv4.Putrootfh4res{Status: c.opPutRootFH()}
		return &nfsv4.NfsResop4_OP_PUTROOTFH{Opputrootfh: r}, r.Status
	case *nfsv4.NfsArgop4_OP_PUTPUBFH:
		r := nfsv4.Putpubfh4res{Status: c.opPutRootFH()}
		return &nfsv4.NfsResop4_OP_PUTPUBFH{Opputpubfh: r}, r.Status
	case *nfsv4.NfsArgop4_OP_PUTFH:
		r := nfsv4.Putfh4res{Status: c.opPutFH(a.Opputfh.Object)}
		return &nfsv4.NfsResop4_OP_PUTFH{Opputfh: r}, r.Status
	case *nfsv4.NfsArgop4_OP_GETFH:
		r := c.opGetFH()
		return &nfsv4.NfsResop4_OP_GETFH{Opgetfh: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_SAVEFH:
		r := nfsv4.Savefh4res{Status: c.opSaveFH()}
		return &nfsv4.NfsResop4_OP_SAVEFH{Opsavefh: r}, r.Status
	case *nfsv4.NfsArgop4_OP_RESTOREFH:
		r := nfsv4.Restorefh4res{Status: c.opRestoreFH()}
		return &nfsv4.NfsResop4_OP_RESTOREFH{Oprestorefh: r}, r.Status

	// Names and attributes.
	case *nfsv4.NfsArgop4_OP_LOOKUP:
		r := nfsv4.Lookup4res{Status: c.opLookup(a.Oplookup.Objname)}
		return &nfsv4.NfsResop4_OP_LOOKUP{Oplookup: r}, r.Status
	case *nfsv4.NfsArgop4_OP_LOOKUPP:
		r := nfsv4.Lookupp4res{Status: c.opLookupP()}
		return &nfsv4.NfsResop4_OP_LOOKUPP{Oplookupp: r}, r.Status
	case *nfsv4.NfsArgop4_OP_ACCESS:
		r := c.opAccess(&a.Opaccess)
		return &nfsv4.NfsResop4_OP_ACCESS{Opaccess: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_GETATTR:
		r := c.opGetAttr(&a.Opgetattr)
		return &nfsv4.NfsResop4_OP_GETATTR{Opgetattr: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_SETATTR:
		r := c.opSetAttr(&a.Opsetattr)
		return &nfsv4.NfsResop4_OP_SETATTR{Opsetattr: r}, r.Status
	case *nfsv4.NfsArgop4_OP_VERIFY:
		r := nfsv4.Verify4res{Status: c.opVerify(&a.Opverify.ObjAttributes, false)}
		return &nfsv4.NfsResop4_OP_VERIFY{Opverify: r}, r.Status
	case *nfsv4.NfsArgop4_OP_NVERIFY:
		r := nfsv4.Nverify4res{Status: c.opVerify(&a.Opnverify.ObjAttributes, true)}
		return &nfsv4.NfsResop4_OP_NVERIFY{Opnverify: r}, r.Status
	case *nfsv4.NfsArgop4_OP_CREATE:
		r := c.opCreate(&a.Opcreate)
		return &nfsv4.NfsResop4_OP_CREATE{Opcreate: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_LINK:
		r := c.opLink(&a.Oplink)
		return &nfsv4.NfsResop4_OP_LINK{Oplink: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_REMOVE:
		r := c.opRemove(&a.Opremove)
		return &nfsv4.NfsResop4_OP_REMOVE{Opremove: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_RENAME:
		r := c.opRename(&a.Oprename)
		return &nfsv4.NfsResop4_OP_RENAME{Oprename: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_READLINK:
		r := c.opReadlink()
		return &nfsv4.NfsResop4_OP_READLINK{Opreadlink: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_READDIR:
		r := c.opReadDir(&a.Opreaddir)
		return &nfsv4.NfsResop4_OP_READDIR{Opreaddir: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_SECINFO:
		r := c.opSecinfo(&a.Opsecinfo)
		return &nfsv4.NfsResop4_OP_SECINFO{Opsecinfo: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_SECINFO_NO_NAME:
		r := c.opSecinfoNoName(a.OpsecinfoNoName)
		return &nfsv4.NfsResop4_OP_SECINFO_NO_NAME{OpsecinfoNoName: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_OPENATTR:
		// Named attributes are not supported (named_attr is false).
		r := nfsv4.Openattr4res{Status: nfsv4.NFS4ERR_NOTSUPP}
		if !c.hasCur {
			r.Status = nfsv4.NFS4ERR_NOFILEHANDLE
		}
		return &nfsv4.NfsResop4_OP_OPENATTR{Opopenattr: r}, r.Status

	// Opens and I/O.
	case *nfsv4.NfsArgop4_OP_OPEN:
		return c.opOpen(&a.Opopen)
	case *nfsv4.NfsArgop4_OP_OPEN_CONFIRM:
		return c.opOpenConfirm(&a.OpopenConfirm)
	case *nfsv4.NfsArgop4_OP_OPEN_DOWNGRADE:
		return c.opOpenDowngrade(&a.OpopenDowngrade)
	case *nfsv4.NfsArgop4_OP_CLOSE:
		return c.opClose(&a.Opclose)
	case *nfsv4.NfsArgop4_OP_READ:
		return c.opRead(&a.Opread)
	case *nfsv4.NfsArgop4_OP_WRITE:
		r := c.opWrite(&a.Opwrite)
		return &nfsv4.NfsResop4_OP_WRITE{Opwrite: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_COMMIT:
		r := c.opCommit(&a.Opcommit)
		return &nfsv4.NfsResop4_OP_COMMIT{Opcommit: r}, r.GetStatus()

	// Byte-range locks.
	case *nfsv4.NfsArgop4_OP_LOCK:
		return c.opLock(&a.Oplock)
	case *nfsv4.NfsArgop4_OP_LOCKT:
		r := c.opLockT(&a.Oplockt)
		return &nfsv4.NfsResop4_OP_LOCKT{Oplockt: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_LOCKU:
		return c.opLockU(&a.Oplocku)
	case *nfsv4.NfsArgop4_OP_RELEASE_LOCKOWNER:
		r := nfsv4.ReleaseLockowner4res{Status: c.opReleaseLockOwner(&a.OpreleaseLockowner)}
		return &nfsv4.NfsResop4_OP_RELEASE_LOCKOWNER{OpreleaseLockowner: r}, r.Status

	// NFSv4.0 client IDs.
	case *nfsv4.NfsArgop4_OP_SETCLIENTID:
		r := c.opSetClientID(&a.Opsetclientid)
		return &nfsv4.NfsResop4_OP_SETCLIENTID{Opsetclientid: r}, r.GetStatus()
	case *nfsv4.NfsArgop4_OP_SETCLIENTID_CONFIRM:
		r := nfsv4.SetclientidConfirm4res{Status: c.opSetClientIDConfirm(&a.OpsetclientidConfirm)}
		return &nfsv4.NfsResop4_OP_SETCLIENTID_CONFIRM{OpsetclientidConfirm: r}, r.Status
	case *nfsv4.NfsArgop4_OP_RENEW:
		r := nfsv4.Renew4res{Status: c.opRenew(a.Oprenew.Clientid)}
		return &nfsv4.NfsResop4_OP_RENEW{Oprenew: r}, r.Status

	// NFSv4.1 sessions.
	case *nfsv4.NfsArgop4_OP_SEQUENCE:
		// A SEQUENCE that is not the first operation (RFC 8881 §18.46.3).
		st := nfsv4.NFS4ERR_SEQUENCE_POS
		return errorResult(nfsv4.OP_SEQUENCE, st), st
	case *nfsv4.NfsArgop4_OP_EXCHANGE_ID:
		r := c.opExchangeID(&a.OpexchangeId)
		return &nfsv4.NfsResop4_OP_EXCHANGE_ID{OpexchangeId: r}, r.GetEirStatus()
	case *nfsv4.NfsArgop4_OP_CREATE_SESSION:
		r := c.opCreateSession(&a.OpcreateSession)
		return &nfsv4.NfsResop4_OP_CREATE_SESSION{OpcreateSession: r}, r.GetCsrStatus()
	case *nfsv4.NfsArgop4_OP_DESTROY_SESSION:
		r := nfsv4.DestroySession4res{DsrStatus: c.opDestroySession(a.OpdestroySession.DsaSessionid)}
		return &nfsv4.NfsResop4_OP_DESTROY_SESSION{OpdestroySession: r}, r.DsrStatus
	case *nfsv4.NfsArgop4_OP_DESTROY_CLIENTID:
		r := nfsv4.DestroyClientid4res{DcrStatus: c.opDestroyClientID(a.OpdestroyClientid.DcaClientid)}
		return &nfsv4.NfsResop4_OP_DESTROY_CLIENTID{OpdestroyClientid: r}, r.DcrStatus
	case *nfsv4.NfsArgop4_OP_BIND_CONN_TO_SESSION:
		r := c.opBindConnToSession(&a.OpbindConnToSession)
		return &nfsv4.NfsResop4_OP_BIND_CONN_TO_SESSION{OpbindConnToSession: r}, r.GetBctsrStatus()
	case *nfsv4.NfsArgop4_OP_BACKCHANNEL_CTL:
		// shelf sends no callbacks, so any back channel setting will do.
		r := nfsv4.BackchannelCtl4res{BcrStatus: nfsv4.NFS4_OK}
		return &nfsv4.NfsResop4_OP_BACKCHANNEL_CTL{OpbackchannelCtl: r}, r.BcrStatus
	case *nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE:
		r := nfsv4.ReclaimComplete4res{RcrStatus: c.opReclaimComplete(a.OpreclaimComplete.RcaOneFs)}
		return &nfsv4.NfsResop4_OP_RECLAIM_COMPLETE{OpreclaimComplete: r}, r.RcrStatus
	case *nfsv4.NfsArgop4_OP_TEST_STATEID:
		r := c.opTestStateid(&a.OptestStateid)
		return &nfsv4.NfsResop4_OP_TEST_STATEID{OptestStateid: r}, r.GetTsrStatus()
	case *nfsv4.NfsArgop4_OP_FREE_STATEID:
		r := nfsv4.FreeStateid4res{FsrStatus: c.opFreeStateid(a.OpfreeStateid.FsaStateid)}
		return &nfsv4.NfsResop4_OP_FREE_STATEID{OpfreeStateid: r}, r.FsrStatus

	// NFSv4.2 (RFC 7862).
	case *nfsv4.NfsArgop4_OP_SEEK:
		r := c.opSeek(&a.Opseek)
		return &nfsv4.NfsResop4_OP_SEEK{Opseek: r}, r.GetSaStatus()
	case *nfsv4.NfsArgop4_OP_ALLOCATE:
		r := nfsv4.Allocate4res{ArStatus: c.opAllocate(a.Opallocate.AaStateid, a.Opallocate.AaOffset, a.Opallocate.AaLength, false)}
		return &nfsv4.NfsResop4_OP_ALLOCATE{Opallocate: r}, r.ArStatus
	case *nfsv4.NfsArgop4_OP_DEALLOCATE:
		r := nfsv4.Deallocate4res{DrStatus: c.opAllocate(a.Opdeallocate.DaStateid, a.Opdeallocate.DaOffset, a.Opdeallocate.DaLength, true)}
		return &nfsv4.NfsResop4_OP_DEALLOCATE{Opdeallocate: r}, r.DrStatus
	case *nfsv4.NfsArgop4_OP_COPY, *nfsv4.NfsArgop4_OP_COPY_NOTIFY, *nfsv4.NfsArgop4_OP_OFFLOAD_CANCEL,
		*nfsv4.NfsArgop4_OP_OFFLOAD_STATUS, *nfsv4.NfsArgop4_OP_READ_PLUS, *nfsv4.NfsArgop4_OP_WRITE_SAME,
		*nfsv4.NfsArgop4_OP_CLONE, *nfsv4.NfsArgop4_OP_IO_ADVISE, *nfsv4.NfsArgop4_OP_LAYOUTERROR,
		*nfsv4.NfsArgop4_OP_LAYOUTSTATS:
		// Optional in 4.2: the client copies, reads and writes itself.
		return errorResult(arg.GetArgop(), nfsv4.NFS4ERR_NOTSUPP), nfsv4.NFS4ERR_NOTSUPP

	// Delegations and pNFS: EFS supports neither (efs-reference.md §2).
	case *nfsv4.NfsArgop4_OP_DELEGPURGE, *nfsv4.NfsArgop4_OP_DELEGRETURN, *nfsv4.NfsArgop4_OP_GET_DIR_DELEGATION,
		*nfsv4.NfsArgop4_OP_GETDEVICEINFO, *nfsv4.NfsArgop4_OP_GETDEVICELIST, *nfsv4.NfsArgop4_OP_LAYOUTCOMMIT,
		*nfsv4.NfsArgop4_OP_LAYOUTGET, *nfsv4.NfsArgop4_OP_LAYOUTRETURN, *nfsv4.NfsArgop4_OP_WANT_DELEGATION,
		*nfsv4.NfsArgop4_OP_SET_SSV:
		return errorResult(arg.GetArgop(), nfsv4.NFS4ERR_NOTSUPP), nfsv4.NFS4ERR_NOTSUPP
	}
	return errorResult(nfsv4.OP_ILLEGAL, nfsv4.NFS4ERR_OP_ILLEGAL), nfsv4.NFS4ERR_OP_ILLEGAL
}
