package nfs

import (
	"context"
	"slices"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/fs"
)

// Access is what the connection of a request may do: the outcome of the
// server's checks of the client's identity, the file-system policy and the
// access point (DESIGN.md; EFS User Guide, "Using IAM to control NFS
// access"). The zero value may do nothing.
type Access struct {
	// Mount is elasticfilesystem:ClientMount: without it every operation
	// that sets a filehandle (PUTROOTFH, PUTPUBFH, PUTFH) fails with
	// NFS4ERR_ACCESS, so the client can neither mount nor use a handle it
	// already has.
	Mount bool
	// Write is elasticfilesystem:ClientWrite: without it every operation
	// that changes the file system fails with NFS4ERR_ACCESS and ACCESS
	// grants no write bits.
	Write bool
	// Root is elasticfilesystem:ClientRootAccess: without it a caller with
	// uid 0 runs as 65534:65534, and group 0 becomes 65534 too.
	Root bool
	// AccessPoint, when set, scopes the connection to an access point.
	AccessPoint *AccessPoint
}

// FullAccess is the access of a connection without a Gate: EFS's default
// with no file-system policy, anyone who reaches the mount target may do
// everything.
var FullAccess = Access{Mount: true, Write: true, Root: true}

// AccessPoint is the scope of a connection made through an access point.
type AccessPoint struct {
	// ID is the access point ID (fsap-…); file handles carry it.
	ID string
	// Root is the inode of the access point's root directory, which the
	// client sees as "/".
	Root uint64
	// User, when set, replaces the caller's uid, gid and groups in every
	// operation (the access point's PosixUser).
	User *fs.Caller
}

// Gate supplies the Access of a connection. The server puts one into the
// context of each connection (WithGate); Access is called at the start of
// every COMPOUND, so implementations cache their decision and refresh it
// within a bounded window. An error is a transient failure: the COMPOUND
// fails with NFS4ERR_DELAY and the client retries.
type Gate interface {
	Access(ctx context.Context) (Access, error)
}

type gateKey struct{}

// WithGate returns ctx carrying the Gate of its connection.
func WithGate(ctx context.Context, g Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// applyAccess decides the caller and scope of a COMPOUND from its
// connection's Gate.
func (c *compound) applyAccess() nfsv4.Nfsstat4 {
	c.access = FullAccess
	if g, ok := c.ctx.Value(gateKey{}).(Gate); ok {
		a, err := g.Access(c.ctx)
		if err != nil {
			c.p.log.Warn("nfs: access of the connection could not be decided", "fs_id", c.fsID, "err", err)
			return nfsv4.NFS4ERR_DELAY
		}
		c.access = a
	}
	if ap := c.access.AccessPoint; ap != nil && ap.User != nil {
		c.caller = fs.Caller{UID: ap.User.UID, GID: ap.User.GID, Groups: slices.Clone(ap.User.Groups)}
	}
	if !c.access.Root && c.caller.UID == 0 {
		c.caller.UID, c.caller.GID = squashedID, squashedID
		for i, g := range c.caller.Groups {
			if g == 0 {
				c.caller.Groups[i] = squashedID
			}
		}
	}
	return nfsv4.NFS4_OK
}

// squashedID is the uid and gid that root is squashed to (nfsnobody, as
// EFS does).
const squashedID = 65534

// rootIno is the inode the client sees as "/".
func (c *compound) rootIno() uint64 {
	if ap := c.access.AccessPoint; ap != nil {
		return ap.Root
	}
	return fs.RootIno
}

// apID is the access point scope of the connection's handles.
func (c *compound) apID() string {
	if ap := c.access.AccessPoint; ap != nil {
		return ap.ID
	}
	return ""
}

// handle returns a fresh file handle for a, in the connection's scope.
func (c *compound) handle(a *fs.Attr) fileHandle {
	return c.p.handles.make(c.fsID, c.apID(), a)
}

// mayWrite is the check of every operation that changes the file system.
func (c *compound) mayWrite() nfsv4.Nfsstat4 {
	if !c.access.Write {
		return nfsv4.NFS4ERR_ACCESS
	}
	return nfsv4.NFS4_OK
}

// checkScope re-checks that a directory handle of an access-point
// connection still lies under the access point's root: a directory moved
// out of it since the handle was issued is refused (NFS4ERR_STALE), so a
// kept handle cannot follow it outside. Other files have no single parent
// to check; their handles stay valid wherever their links go, as with
// EFS's no_subtree_check semantics.
func (c *compound) checkScope(fh fileHandle) nfsv4.Nfsstat4 {
	ap := c.access.AccessPoint
	if ap == nil || fh.typ != fs.TypeDirectory || fh.ino == ap.Root {
		return nfsv4.NFS4_OK
	}
	f, st := c.fileSystem()
	if st != nfsv4.NFS4_OK {
		return st
	}
	ino := fh.ino
	for range fs.MaxDepth + 1 {
		if ino == ap.Root {
			return nfsv4.NFS4_OK
		}
		if ino == fs.RootIno {
			return nfsv4.NFS4ERR_STALE
		}
		parent, err := f.Lookup(c.ctx, &fs.Root, ino, "..")
		if err != nil {
			return statusOf(err)
		}
		ino = parent.Ino
	}
	return nfsv4.NFS4ERR_STALE
}
