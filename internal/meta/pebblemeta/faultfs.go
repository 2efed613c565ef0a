package pebblemeta

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walFault records the first error returned by any write-side operation on a
// write-ahead log file. It exists because pebble reacts to a failed WAL write
// in two steps (see the package doc): the batches waiting for the failed sync
// get the error, and the *next* commit that reaches the WAL writer panics
// while holding pebble's commit-pipeline mutex. Store checks the latch under
// its writer lock before handing a batch to pebble, so that once a WAL write
// has failed no further batch is applied and the panic is never reached.
//
// The latch is set synchronously, in the goroutine doing the I/O, before the
// error is returned to pebble, so it is set before pebble can propagate the
// error to any later commit.
type walFault struct {
	err atomic.Pointer[error]
}

// set records err unless an error is already recorded.
func (f *walFault) set(err error) {
	f.err.CompareAndSwap(nil, &err)
}

// Err returns the first recorded error, or nil.
func (f *walFault) Err() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// faultFS wraps the store's vfs.FS for two jobs:
//
//   - write and sync failures on WAL files (pebble names them NNNNNN.log)
//     are recorded in a walFault;
//   - while the disk is known to be full, creating an sstable or blob file
//     first waits noSpaceBackoff. Pebble retries a failed flush at once and
//     forever (a TODO in pebble's DB.flush), which on a full disk burns a
//     core creating and deleting files; the wait turns that into a slow
//     poll.
//
// Everything else passes through; embedding forwards the other methods.
type faultFS struct {
	vfs.FS
	fault          *walFault
	space          *spaceState
	noSpaceBackoff time.Duration
}

var _ vfs.FS = (*faultFS)(nil)

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func isTable(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

func (fs *faultFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if !isWAL(name) {
		return f, err
	}
	if err != nil {
		fs.fault.set(err)
		return f, err
	}
	return &walFaultFile{File: f, fault: fs.fault}, nil
}

// Create implements vfs.FS.
func (fs *faultFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.noSpaceBackoff > 0 && isTable(name) && fs.space.full.Load() {
		time.Sleep(fs.noSpaceBackoff)
	}
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

// ReuseForWrite implements vfs.FS; pebble recycles old WAL files with it.
func (fs *faultFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

// OpenReadWrite implements vfs.FS.
func (fs *faultFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(name, f, err)
}

// Unwrap implements vfs.FS.
func (fs *faultFS) Unwrap() vfs.FS { return fs.FS }

// walFaultFile records write and sync errors of one WAL file. Preallocate and
// Close are not latched: the first may fail harmlessly (unsupported by the
// file system) and pebble only closes a WAL after its final sync.
type walFaultFile struct {
	vfs.File
	fault *walFault
}

func (f *walFaultFile) check(err error) error {
	if err != nil {
		f.fault.set(err)
	}
	return err
}

func (f *walFaultFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.check(err)
}

func (f *walFaultFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.check(err)
}

func (f *walFaultFile) Sync() error { return f.check(f.File.Sync()) }

func (f *walFaultFile) SyncData() error { return f.check(f.File.SyncData()) }

func (f *walFaultFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.check(err)
}
