package diskblob

import (
	"io"
	"os"
)

// file is the subset of *os.File the store uses. It exists so that tests can
// inject write and sync failures (a full disk cannot be produced on demand).
type file interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes the file's data, and the metadata needed to read it back,
	// durable (fdatasync on Linux).
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
	// Preallocate reserves disk space for the first n bytes without
	// changing the file's size, so that appends within it need no block
	// allocation; best effort (a no-op where unsupported).
	Preallocate(n int64) error
	// DropPreallocated gives back the space reserved past size, the
	// file's size.
	DropPreallocated(size int64) error
}

// vfs is the subset of the os package the store uses to manage segment files.
type vfs interface {
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
	Remove(name string) error
	// SyncDir makes the directory's entries durable.
	SyncDir(name string) error
}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return fdatasync(f.File) }
