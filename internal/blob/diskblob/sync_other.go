//go:build !linux

package diskblob

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// Preallocate implements file: nothing to do here.
func (f osFile) Preallocate(int64) error { return nil }

// DropPreallocated implements file: nothing was reserved.
func (f osFile) DropPreallocated(int64) error { return nil }
