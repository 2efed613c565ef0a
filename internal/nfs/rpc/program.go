package rpc

import (
	"context"
	"io"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
)

// Program serves one RPC program: go-xdr's rpcserver.Service signature, so
// that the Nfs4Program adapters go-xdr generates (nfsv4.NewNfs4ProgramService)
// plug in unchanged.
//
// The server calls a Program once per call, concurrently for the calls of
// one connection (up to Options.MaxInFlight) and of all connections. ctx
// carries the caller's Credentials and Conn (CredentialsFromContext,
// ConnFromContext) and is cancelled when the connection ends.
//
// args holds the procedure's arguments; the Program should Close it when
// done reading. The server's args also have Take() []byte, which hands the
// remaining bytes to the Program to keep. To return results, the Program
// calls newReturnValue once with their encoded size and writes them to the
// writer it gets, then returns SUCCESS. The server's writer also has
// Adopt(...[]byte), which takes the whole encoded results, in parts, without
// copying them (the Program must not modify the parts afterwards).
//
// A non-nil error means the arguments could not be decoded, unless
// newReturnValue was called first: the server then answers GARBAGE_ARGS
// (SYSTEM_ERR if newReturnValue was called, i.e. the results failed to
// encode) and keeps the connection. A Program reports every other failure
// in its results. A panic is recovered and answered SYSTEM_ERR.
type Program = func(ctx context.Context, vers, proc uint32, args io.ReadCloser, newReturnValue func(sizeBytes int) io.Writer) (rpcv2.AcceptedReplyData, error)

// Program numbers.
const (
	// ProgramNFS is the NFS program (RFC 7530 §16.1, RFC 8881 §16.1).
	ProgramNFS = 100003
	// NFSVersion is the one version of ProgramNFS shelf serves; the minor
	// versions 0 and 1 travel inside COMPOUND.
	NFSVersion = 4
)

// procNull is procedure 0, the NULL procedure every program has
// (RFC 5531 §12.1 convention).
const procNull = 0

// Versions serves versions low to high of p: a call for another version is
// answered PROG_MISMATCH with low and high, and NULL (procedure 0) of a
// served version is answered here with an empty result. p sees only the
// other procedures of the served versions. A nil p serves only NULL and
// answers PROC_UNAVAIL to the rest.
func Versions(low, high uint32, p Program) Program {
	return func(ctx context.Context, vers, proc uint32, args io.ReadCloser, newReturnValue func(int) io.Writer) (rpcv2.AcceptedReplyData, error) {
		if vers < low || vers > high {
			args.Close()
			m := &rpcv2.AcceptedReplyData_PROG_MISMATCH{}
			m.MismatchInfo.Low, m.MismatchInfo.High = low, high
			return m, nil
		}
		if proc == procNull {
			args.Close()
			return &rpcv2.AcceptedReplyData_SUCCESS{}, nil
		}
		if p == nil {
			args.Close()
			return &rpcv2.AcceptedReplyData_default{Stat: rpcv2.PROC_UNAVAIL}, nil
		}
		return p(ctx, vers, proc, args, newReturnValue)
	}
}
