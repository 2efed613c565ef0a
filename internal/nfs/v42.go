package nfs

import "github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

// The operations of NFSv4.2 (RFC 7862) that shelf implements: SEEK for
// lseek(SEEK_DATA/SEEK_HOLE), ALLOCATE and DEALLOCATE for fallocate.

func (c *compound) opSeek(a *nfsv4.Seek4args) nfsv4.Seek4res {
	fail := func(st nfsv4.Nfsstat4) nfsv4.Seek4res { return &nfsv4.Seek4res_default{SaStatus: st} }
	fh, f, st := c.ioTarget(a.SaStateid, false)
	if st != nfsv4.NFS4_OK {
		return fail(st)
	}
	if a.SaWhat != nfsv4.NFS4_CONTENT_DATA && a.SaWhat != nfsv4.NFS4_CONTENT_HOLE {
		return fail(nfsv4.NFS4ERR_UNION_NOTSUPP)
	}
	pos, eof, err := f.Seek(c.ctx, &c.caller, fh.ino, a.SaOffset, a.SaWhat == nfsv4.NFS4_CONTENT_DATA)
	if err != nil {
		return fail(statusOf(err))
	}
	return &nfsv4.Seek4res_NFS4_OK{Resok4: nfsv4.SeekRes4{SrEof: eof, SrOffset: pos}}
}

// opAllocate runs ALLOCATE, or DEALLOCATE with punch. Both change the file
// as a write does, and are durable when answered.
func (c *compound) opAllocate(sid nfsv4.Stateid4, off, length uint64, punch bool) nfsv4.Nfsstat4 {
	fh, f, st := c.ioTarget(sid, true)
	if st != nfsv4.NFS4_OK {
		return st
	}
	if length == 0 {
		return nfsv4.NFS4ERR_INVAL // RFC 7862 §15.1.3, §15.4.3
	}
	var err error
	if punch {
		_, err = f.Deallocate(c.ctx, &c.caller, fh.ino, off, length)
	} else {
		_, err = f.Allocate(c.ctx, &c.caller, fh.ino, off, length)
	}
	return statusOf(err)
}
