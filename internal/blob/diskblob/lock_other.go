//go:build !unix

package diskblob

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK: there is no advisory locking here.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("diskblob: open lock file: %w", err)
	}
	return f, nil
}
