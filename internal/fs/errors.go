package fs

import (
	"context"
	"errors"
	"fmt"
)

// Code is the closed vocabulary of file-system errors. Front ends map it to
// their wire codes exactly once (NFS4ERR_*, errno).
type Code int

// Error codes. Unknown causes are IO.
const (
	IO             Code = iota + 1 // an internal or storage failure (EIO)
	NotExist                       // ENOENT
	Exist                          // EEXIST
	Access                         // EACCES: permission bits deny
	Perm                           // EPERM: only the owner or root may
	NotDir                         // ENOTDIR
	IsDir                          // EISDIR
	NotEmpty                       // ENOTEMPTY
	Invalid                        // EINVAL
	NameTooLong                    // ENAMETOOLONG
	NoSpace                        // ENOSPC
	FileTooBig                     // EFBIG
	TooManyLinks                   // EMLINK
	Stale                          // ESTALE: the inode or file system is gone
	KeyUnavailable                 // the file system's KMS key is disabled or deleted (EIO class)
	TooDeep                        // directory depth limit reached
	Busy                           // EBUSY
	NoSuchOffset                   // ENXIO: no data or hole at or past the offset
)

var codeNames = map[Code]string{
	IO: "i/o error", NotExist: "no such file or directory", Exist: "file exists",
	Access: "permission denied", Perm: "operation not permitted", NotDir: "not a directory",
	IsDir: "is a directory", NotEmpty: "directory not empty", Invalid: "invalid argument",
	NameTooLong: "file name too long", NoSpace: "no space left on device",
	FileTooBig: "file too large", TooManyLinks: "too many links", Stale: "stale file handle",
	KeyUnavailable: "encryption key unavailable", TooDeep: "directory tree too deep", Busy: "resource busy",
	NoSuchOffset: "no such offset",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is the only error type fs returns (besides context errors).
type Error struct {
	Op   string
	Ino  uint64
	Code Code
	Err  error // cause, for logs; may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("fs: %s inode %d: %s: %v", e.Op, e.Ino, e.Code, e.Err)
	}
	return fmt.Sprintf("fs: %s inode %d: %s", e.Op, e.Ino, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the Code of err: its *Error code, IO for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return IO
}

// IsCode reports whether err is an *Error with code c.
func IsCode(err error, c Code) bool { return err != nil && CodeOf(err) == c }

func errorf(op string, ino uint64, c Code, cause error) error {
	return &Error{Op: op, Ino: ino, Code: c, Err: cause}
}

// wrap turns any error into an *Error with op and ino, keeping an existing
// code and context errors.
func wrap(op string, ino uint64, err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		if fe.Op == "" {
			fe.Op = op
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Op: op, Ino: ino, Code: classify(err), Err: err}
}
