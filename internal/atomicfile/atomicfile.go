// Package atomicfile writes small files whole or not at all: the key
// files, certificates and credentials that shelfd keeps beside its stores.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path through a temporary file in path's directory:
// the file gets mode, is synced, is renamed over path, and the directory
// is synced, so that after a crash path holds either its old content (or
// nothing) or all of data. A reader never sees a partial file.
func Write(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
