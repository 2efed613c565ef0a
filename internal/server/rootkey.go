package server

import (
	"context"
	"fmt"

	"github.com/shelf-efs/shelf/internal/kms"
)

// RotateRootKey replaces the root key while the server runs: a new random
// key is made, the store is told to accept it (one transaction: the store
// key is wrapped under it; the old key stays accepted), the key file is
// replaced atomically, and the old key is forgotten. If the process dies
// in between, the store opens with whichever key the file holds, and a
// second rotation completes the job. Nothing stops serving; no file-system
// key or data is touched.
func (s *Server) RotateRootKey(ctx context.Context) error {
	s.rootKeyMu.Lock()
	defer s.rootKeyMu.Unlock()
	key, err := kms.NewRootKey()
	if err != nil {
		return err
	}
	defer clear(key)
	if err := s.kms.BeginRootKeyRotation(ctx, key); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	path := s.cfg.RootKeyPath()
	if err := kms.InstallRootKey(path, key); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	if err := s.kms.FinishRootKeyRotation(ctx); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	s.log.Warn("root key rotated: back up the new root key file; the old one opens nothing any more", "root_key_file", path)
	return nil
}
