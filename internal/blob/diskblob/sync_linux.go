package diskblob

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data and the metadata needed to read it (its size),
// skipping timestamps: appends stay durable at a lower cost than fsync.
func fdatasync(f *os.File) error {
	return onFD(f, "fdatasync", unix.Fdatasync)
}

// Preallocate implements file with fallocate(FALLOC_FL_KEEP_SIZE). On ext4,
// appending into a file's unreserved tail costs several times more than
// writing into reserved blocks (the allocation is made write by write).
func (f osFile) Preallocate(n int64) error {
	return onFD(f.File, "fallocate", func(fd int) error {
		return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, n)
	})
}

// DropPreallocated implements file: truncating a file to its own size frees
// the blocks reserved past it.
func (f osFile) DropPreallocated(size int64) error { return f.Truncate(size) }

// onFD runs the system call call on f's descriptor, again while it is
// interrupted (EINTR), and names op and f in its error.
func onFD(f *os.File, op string, call func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = call(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: serr}
	}
	return nil
}
