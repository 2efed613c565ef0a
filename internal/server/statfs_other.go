//go:build !(linux || darwin || freebsd)

package server

import "errors"

// statfsFree is not implemented here; the reserve is then not enforced.
func statfsFree(string) (int64, error) {
	return 0, errors.New("free space measurement not supported on this platform")
}
