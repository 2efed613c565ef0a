package diskblob

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data and the metadata needed to read it (its size),
// skipping timestamps: appends stay durable at a lower cost than fsync.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// Preallocate implements file with fallocate(FALLOC_FL_KEEP_SIZE). On ext4,
// appending into a file's unreserved tail costs several times more than
// writing into reserved blocks (the allocation is made write by write).
func (f osFile) Preallocate(n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, 0, n)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// DropPreallocated implements file: truncating a file to its own size frees
// the blocks reserved past it.
func (f osFile) DropPreallocated(size int64) error { return f.Truncate(size) }
