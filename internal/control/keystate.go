package control

import (
	"context"
	"errors"

	"github.com/shelf-efs/shelf/internal/kms"
)

// withKeyState reports an encrypted file system whose KMS key cannot be
// used (disabled, pending deletion, or deleted) in state "error". The stored state is not changed: the file system
// is "available" again as soon as its key is enabled, and every operation
// that needs "available" (mount targets, updates, deletion) still works, so
// that a user can clean up a file system whose key is gone.
//
// AWS documents only that such a file system "stops working after a period
// of time" (Amazon EFS User Guide, "Managing KMS keys for EFS file
// systems"); shelf makes the reason visible in DescribeFileSystems, with the
// LifeCycleState value EFS has for a file system that cannot serve.
func (s *Service) withKeyState(ctx context.Context, d *FileSystem) {
	if !d.Encrypted || d.KMSKeyID == "" || d.LifeCycleState != StateAvailable && d.LifeCycleState != StateUpdating {
		return
	}
	md, err := s.keys.DescribeKey(ctx, d.KMSKeyID)
	switch {
	case errors.Is(err, kms.ErrNotFound):
		// The key's deletion has completed: the data is unrecoverable.
	case err != nil:
		// The key's state is unknown (storage failure): report what is
		// stored rather than guess.
		s.log.Debug("describe kms key of file system", "fs_id", d.ID, "err", err)
		return
	case md.KeyState == kms.KeyStateEnabled:
		return
	}
	d.LifeCycleState = StateError
}
