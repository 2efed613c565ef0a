//go:build !linux

package diskblob

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
