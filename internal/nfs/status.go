package nfs

import (
	"context"
	"errors"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// statusOfCode maps an fs.Code to its NFSv4 status. It is the only place
// where fs codes become wire codes, and the switch is exhaustive: a new
// fs.Code fails TestStatusOfCode until it is mapped here.
func statusOfCode(c fs.Code) nfsv4.Nfsstat4 {
	switch c {
	case fs.IO:
		return nfsv4.NFS4ERR_IO
	case fs.NotExist:
		return nfsv4.NFS4ERR_NOENT
	case fs.Exist:
		return nfsv4.NFS4ERR_EXIST
	case fs.Access:
		return nfsv4.NFS4ERR_ACCESS
	case fs.Perm:
		return nfsv4.NFS4ERR_PERM
	case fs.NotDir:
		return nfsv4.NFS4ERR_NOTDIR
	case fs.IsDir:
		return nfsv4.NFS4ERR_ISDIR
	case fs.NotEmpty:
		return nfsv4.NFS4ERR_NOTEMPTY
	case fs.Invalid:
		return nfsv4.NFS4ERR_INVAL
	case fs.NameTooLong:
		return nfsv4.NFS4ERR_NAMETOOLONG
	case fs.NoSpace:
		return nfsv4.NFS4ERR_NOSPC
	case fs.FileTooBig:
		return nfsv4.NFS4ERR_FBIG
	case fs.TooManyLinks:
		return nfsv4.NFS4ERR_MLINK
	case fs.Stale:
		return nfsv4.NFS4ERR_STALE
	case fs.KeyUnavailable:
		// A disabled KMS key makes the file system unreadable, as in EFS:
		// clients see EIO until the key is enabled again.
		return nfsv4.NFS4ERR_IO
	case fs.TooDeep:
		// The directory depth limit is a resource limit; NFSv4 has no
		// closer code (Linux reports ENOSPC).
		return nfsv4.NFS4ERR_NOSPC
	case fs.Busy:
		// EBUSY is transient in fs; the client retries after DELAY.
		return nfsv4.NFS4ERR_DELAY
	case fs.NoSuchOffset:
		return nfsv4.NFS4ERR_NXIO
	}
	return nfsv4.NFS4ERR_SERVERFAULT
}

// statusOf maps an error from fs (or a context error) to an NFSv4 status.
func statusOf(err error) nfsv4.Nfsstat4 {
	switch {
	case err == nil:
		return nfsv4.NFS4_OK
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The COMPOUND ran out of time: the client retries.
		return nfsv4.NFS4ERR_DELAY
	}
	return statusOfCode(fs.CodeOf(err))
}

// errorResult returns the result of operation op failing with status st.
// st must not be NFS4_OK, nor a status that has its own arm in the result
// union (NFS4ERR_DENIED for LOCK, NFS4ERR_CLID_INUSE for SETCLIENTID, …).
func errorResult(op nfsv4.NfsOpnum4, st nfsv4.Nfsstat4) nfsv4.NfsResop4 {
	switch op {
	case nfsv4.OP_ACCESS:
		return &nfsv4.NfsResop4_OP_ACCESS{Opaccess: &nfsv4.Access4res_default{Status: st}}
	case nfsv4.OP_CLOSE:
		return &nfsv4.NfsResop4_OP_CLOSE{Opclose: &nfsv4.Close4res_default{Status: st}}
	case nfsv4.OP_COMMIT:
		return &nfsv4.NfsResop4_OP_COMMIT{Opcommit: &nfsv4.Commit4res_default{Status: st}}
	case nfsv4.OP_CREATE:
		return &nfsv4.NfsResop4_OP_CREATE{Opcreate: &nfsv4.Create4res_default{Status: st}}
	case nfsv4.OP_DELEGPURGE:
		return &nfsv4.NfsResop4_OP_DELEGPURGE{Opdelegpurge: nfsv4.Delegpurge4res{Status: st}}
	case nfsv4.OP_DELEGRETURN:
		return &nfsv4.NfsResop4_OP_DELEGRETURN{Opdelegreturn: nfsv4.Delegreturn4res{Status: st}}
	case nfsv4.OP_GETATTR:
		return &nfsv4.NfsResop4_OP_GETATTR{Opgetattr: &nfsv4.Getattr4res_default{Status: st}}
	case nfsv4.OP_GETFH:
		return &nfsv4.NfsResop4_OP_GETFH{Opgetfh: &nfsv4.Getfh4res_default{Status: st}}
	case nfsv4.OP_LINK:
		return &nfsv4.NfsResop4_OP_LINK{Oplink: &nfsv4.Link4res_default{Status: st}}
	case nfsv4.OP_LOCK:
		return &nfsv4.NfsResop4_OP_LOCK{Oplock: &nfsv4.Lock4res_default{Status: st}}
	case nfsv4.OP_LOCKT:
		return &nfsv4.NfsResop4_OP_LOCKT{Oplockt: &nfsv4.Lockt4res_default{Status: st}}
	case nfsv4.OP_LOCKU:
		return &nfsv4.NfsResop4_OP_LOCKU{Oplocku: &nfsv4.Locku4res_default{Status: st}}
	case nfsv4.OP_LOOKUP:
		return &nfsv4.NfsResop4_OP_LOOKUP{Oplookup: nfsv4.Lookup4res{Status: st}}
	case nfsv4.OP_LOOKUPP:
		return &nfsv4.NfsResop4_OP_LOOKUPP{Oplookupp: nfsv4.Lookupp4res{Status: st}}
	case nfsv4.OP_NVERIFY:
		return &nfsv4.NfsResop4_OP_NVERIFY{Opnverify: nfsv4.Nverify4res{Status: st}}
	case nfsv4.OP_OPEN:
		return &nfsv4.NfsResop4_OP_OPEN{Opopen: &nfsv4.Open4res_default{Status: st}}
	case nfsv4.OP_OPENATTR:
		return &nfsv4.NfsResop4_OP_OPENATTR{Opopenattr: nfsv4.Openattr4res{Status: st}}
	case nfsv4.OP_OPEN_CONFIRM:
		return &nfsv4.NfsResop4_OP_OPEN_CONFIRM{OpopenConfirm: &nfsv4.OpenConfirm4res_default{Status: st}}
	case nfsv4.OP_OPEN_DOWNGRADE:
		return &nfsv4.NfsResop4_OP_OPEN_DOWNGRADE{OpopenDowngrade: &nfsv4.OpenDowngrade4res_default{Status: st}}
	case nfsv4.OP_PUTFH:
		return &nfsv4.NfsResop4_OP_PUTFH{Opputfh: nfsv4.Putfh4res{Status: st}}
	case nfsv4.OP_PUTPUBFH:
		return &nfsv4.NfsResop4_OP_PUTPUBFH{Opputpubfh: nfsv4.Putpubfh4res{Status: st}}
	case nfsv4.OP_PUTROOTFH:
		return &nfsv4.NfsResop4_OP_PUTROOTFH{Opputrootfh: nfsv4.Putrootfh4res{Status: st}}
	case nfsv4.OP_READ:
		return &nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_default{Status: st}}
	case nfsv4.OP_READDIR:
		return &nfsv4.NfsResop4_OP_READDIR{Opreaddir: &nfsv4.Readdir4res_default{Status: st}}
	case nfsv4.OP_READLINK:
		return &nfsv4.NfsResop4_OP_READLINK{Opreadlink: &nfsv4.Readlink4res_default{Status: st}}
	case nfsv4.OP_REMOVE:
		return &nfsv4.NfsResop4_OP_REMOVE{Opremove: &nfsv4.Remove4res_default{Status: st}}
	case nfsv4.OP_RENAME:
		return &nfsv4.NfsResop4_OP_RENAME{Oprename: &nfsv4.Rename4res_default{Status: st}}
	case nfsv4.OP_RENEW:
		return &nfsv4.NfsResop4_OP_RENEW{Oprenew: nfsv4.Renew4res{Status: st}}
	case nfsv4.OP_RESTOREFH:
		return &nfsv4.NfsResop4_OP_RESTOREFH{Oprestorefh: nfsv4.Restorefh4res{Status: st}}
	case nfsv4.OP_SAVEFH:
		return &nfsv4.NfsResop4_OP_SAVEFH{Opsavefh: nfsv4.Savefh4res{Status: st}}
	case nfsv4.OP_SECINFO:
		return &nfsv4.NfsResop4_OP_SECINFO{Opsecinfo: &nfsv4.Secinfo4res_default{Status: st}}
	case nfsv4.OP_SETATTR:
		return &nfsv4.NfsResop4_OP_SETATTR{Opsetattr: nfsv4.Setattr4res{Status: st, Attrsset: nfsv4.Bitmap4{}}}
	case nfsv4.OP_SETCLIENTID:
		return &nfsv4.NfsResop4_OP_SETCLIENTID{Opsetclientid: &nfsv4.Setclientid4res_default{Status: st}}
	case nfsv4.OP_SETCLIENTID_CONFIRM:
		return &nfsv4.NfsResop4_OP_SETCLIENTID_CONFIRM{OpsetclientidConfirm: nfsv4.SetclientidConfirm4res{Status: st}}
	case nfsv4.OP_VERIFY:
		return &nfsv4.NfsResop4_OP_VERIFY{Opverify: nfsv4.Verify4res{Status: st}}
	case nfsv4.OP_WRITE:
		return &nfsv4.NfsResop4_OP_WRITE{Opwrite: &nfsv4.Write4res_default{Status: st}}
	case nfsv4.OP_RELEASE_LOCKOWNER:
		return &nfsv4.NfsResop4_OP_RELEASE_LOCKOWNER{OpreleaseLockowner: nfsv4.ReleaseLockowner4res{Status: st}}
	case nfsv4.OP_BACKCHANNEL_CTL:
		return &nfsv4.NfsResop4_OP_BACKCHANNEL_CTL{OpbackchannelCtl: nfsv4.BackchannelCtl4res{BcrStatus: st}}
	case nfsv4.OP_BIND_CONN_TO_SESSION:
		return &nfsv4.NfsResop4_OP_BIND_CONN_TO_SESSION{OpbindConnToSession: &nfsv4.BindConnToSession4res_default{BctsrStatus: st}}
	case nfsv4.OP_EXCHANGE_ID:
		return &nfsv4.NfsResop4_OP_EXCHANGE_ID{OpexchangeId: &nfsv4.ExchangeId4res_default{EirStatus: st}}
	case nfsv4.OP_CREATE_SESSION:
		return &nfsv4.NfsResop4_OP_CREATE_SESSION{OpcreateSession: &nfsv4.CreateSession4res_default{CsrStatus: st}}
	case nfsv4.OP_DESTROY_SESSION:
		return &nfsv4.NfsResop4_OP_DESTROY_SESSION{OpdestroySession: nfsv4.DestroySession4res{DsrStatus: st}}
	case nfsv4.OP_FREE_STATEID:
		return &nfsv4.NfsResop4_OP_FREE_STATEID{OpfreeStateid: nfsv4.FreeStateid4res{FsrStatus: st}}
	case nfsv4.OP_GET_DIR_DELEGATION:
		return &nfsv4.NfsResop4_OP_GET_DIR_DELEGATION{OpgetDirDelegation: &nfsv4.GetDirDelegation4res_default{GddrStatus: st}}
	case nfsv4.OP_GETDEVICEINFO:
		return &nfsv4.NfsResop4_OP_GETDEVICEINFO{Opgetdeviceinfo: &nfsv4.Getdeviceinfo4res_default{GdirStatus: st}}
	case nfsv4.OP_GETDEVICELIST:
		return &nfsv4.NfsResop4_OP_GETDEVICELIST{Opgetdevicelist: &nfsv4.Getdevicelist4res_default{GdlrStatus: st}}
	case nfsv4.OP_LAYOUTCOMMIT:
		return &nfsv4.NfsResop4_OP_LAYOUTCOMMIT{Oplayoutcommit: &nfsv4.Layoutcommit4res_default{LocrStatus: st}}
	case nfsv4.OP_LAYOUTGET:
		return &nfsv4.NfsResop4_OP_LAYOUTGET{Oplayoutget: &nfsv4.Layoutget4res_default{LogrStatus: st}}
	case nfsv4.OP_LAYOUTRETURN:
		return &nfsv4.NfsResop4_OP_LAYOUTRETURN{Oplayoutreturn: &nfsv4.Layoutreturn4res_default{LorrStatus: st}}
	case nfsv4.OP_SECINFO_NO_NAME:
		return &nfsv4.NfsResop4_OP_SECINFO_NO_NAME{OpsecinfoNoName: &nfsv4.Secinfo4res_default{Status: st}}
	case nfsv4.OP_SEQUENCE:
		return &nfsv4.NfsResop4_OP_SEQUENCE{Opsequence: &nfsv4.Sequence4res_default{SrStatus: st}}
	case nfsv4.OP_SET_SSV:
		return &nfsv4.NfsResop4_OP_SET_SSV{OpsetSsv: &nfsv4.SetSsv4res_default{SsrStatus: st}}
	case nfsv4.OP_TEST_STATEID:
		return &nfsv4.NfsResop4_OP_TEST_STATEID{OptestStateid: &nfsv4.TestStateid4res_default{TsrStatus: st}}
	case nfsv4.OP_WANT_DELEGATION:
		return &nfsv4.NfsResop4_OP_WANT_DELEGATION{OpwantDelegation: &nfsv4.WantDelegation4res_default{WdrStatus: st}}
	case nfsv4.OP_DESTROY_CLIENTID:
		return &nfsv4.NfsResop4_OP_DESTROY_CLIENTID{OpdestroyClientid: nfsv4.DestroyClientid4res{DcrStatus: st}}
	case nfsv4.OP_RECLAIM_COMPLETE:
		return &nfsv4.NfsResop4_OP_RECLAIM_COMPLETE{OpreclaimComplete: nfsv4.ReclaimComplete4res{RcrStatus: st}}
	case nfsv4.OP_ALLOCATE:
		return &nfsv4.NfsResop4_OP_ALLOCATE{Opallocate: nfsv4.Allocate4res{ArStatus: st}}
	case nfsv4.OP_COPY:
		return &nfsv4.NfsResop4_OP_COPY{Opcopy: &nfsv4.Copy4res_default{CrStatus: st}}
	case nfsv4.OP_COPY_NOTIFY:
		return &nfsv4.NfsResop4_OP_COPY_NOTIFY{OpcopyNotify: &nfsv4.CopyNotify4res_default{CnrStatus: st}}
	case nfsv4.OP_DEALLOCATE:
		return &nfsv4.NfsResop4_OP_DEALLOCATE{Opdeallocate: nfsv4.Deallocate4res{DrStatus: st}}
	case nfsv4.OP_IO_ADVISE:
		return &nfsv4.NfsResop4_OP_IO_ADVISE{OpioAdvise: &nfsv4.IoAdvise4res_default{IorStatus: st}}
	case nfsv4.OP_LAYOUTERROR:
		return &nfsv4.NfsResop4_OP_LAYOUTERROR{Oplayouterror: nfsv4.Layouterror4res{LerStatus: st}}
	case nfsv4.OP_LAYOUTSTATS:
		return &nfsv4.NfsResop4_OP_LAYOUTSTATS{Oplayoutstats: nfsv4.Layoutstats4res{LsrStatus: st}}
	case nfsv4.OP_OFFLOAD_CANCEL:
		return &nfsv4.NfsResop4_OP_OFFLOAD_CANCEL{OpoffloadCancel: nfsv4.OffloadCancel4res{OcrStatus: st}}
	case nfsv4.OP_OFFLOAD_STATUS:
		return &nfsv4.NfsResop4_OP_OFFLOAD_STATUS{OpoffloadStatus: &nfsv4.OffloadStatus4res_default{OsrStatus: st}}
	case nfsv4.OP_READ_PLUS:
		return &nfsv4.NfsResop4_OP_READ_PLUS{OpreadPlus: &nfsv4.ReadPlus4res_default{RpStatus: st}}
	case nfsv4.OP_SEEK:
		return &nfsv4.NfsResop4_OP_SEEK{Opseek: &nfsv4.Seek4res_default{SaStatus: st}}
	case nfsv4.OP_WRITE_SAME:
		return &nfsv4.NfsResop4_OP_WRITE_SAME{OpwriteSame: &nfsv4.WriteSame4res_default{WsrStatus: st}}
	case nfsv4.OP_CLONE:
		return &nfsv4.NfsResop4_OP_CLONE{Opclone: nfsv4.Clone4res{ClStatus: st}}
	}
	return &nfsv4.NfsResop4_OP_ILLEGAL{Opillegal: nfsv4.Illegal4res{Status: nfsv4.NFS4ERR_OP_ILLEGAL}}
}
