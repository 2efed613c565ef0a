//go:build !linux

package server

// physicalMemory returns 0 (unknown) where it is not implemented.
func physicalMemory() int64 { return 0 }
