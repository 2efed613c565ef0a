package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/kmsroot"
)

// RotateRootKey replaces the root key while the server runs: a new random
// key is made, the store is told to accept it (one transaction: the store
// key is wrapped under it; the old key stays accepted), the key file is
// replaced atomically, and the old key is forgotten. If the process dies
// in between, the store opens with whichever key the file holds, and a
// second rotation completes the job. Nothing stops serving; no file-system
// key or data is touched.
//
// When an external KMS holds the root key, the new key is a new data key
// of the configured KMS key (GenerateDataKey) and the blob file is
// replaced instead; the KMS key that sealed the old blob is not asked.
func (s *Server) RotateRootKey(ctx context.Context) error {
	s.rootKeyMu.Lock()
	defer s.rootKeyMu.Unlock()
	if s.rootKMS != nil {
		return s.rotateKMSRootKey(ctx)
	}
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

func (s *Server) rotateKMSRootKey(ctx context.Context) error {
	key, blob, err := s.rootKMS.Generate(ctx, s.dataDir)
	if err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	defer clear(key)
	if err := s.kms.BeginRootKeyRotation(ctx, key); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	path := filepath.Join(s.dataDir, config.RootKeyKMSBlobFileName)
	if err := kmsroot.WriteBlob(path, blob, true); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	if err := s.kms.FinishRootKeyRotation(ctx); err != nil {
		return fmt.Errorf("server: rotate root key: %w", err)
	}
	s.log.Warn("root key rotated: back up the new root key blob file; the old one opens nothing any more",
		"root_key_blob_file", path, "kms_key_id", blob.KeyID)
	return nil
}

// loadKMSRootKey gets the root key from the external KMS of
// cfg.RootKey.KMS: Decrypt of the kept blob, or, for a fresh data
// directory without one, GenerateDataKey and a new blob file. The
// plaintext is never written.
func (s *Server) loadKMSRootKey(ctx context.Context, dataDir string, fresh bool) ([]byte, error) {
	src, err := kmsroot.New(ctx, s.cfg.RootKey.KMS, s.cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("server: root key: %w", err)
	}
	s.rootKMS = src
	path := filepath.Join(dataDir, config.RootKeyKMSBlobFileName)
	blob, err := kmsroot.ReadBlob(path)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) && fresh:
		key, blob, err := src.Generate(ctx, dataDir)
		if err != nil {
			return nil, fmt.Errorf("server: root key: %w", err)
		}
		err = kmsroot.WriteBlob(path, blob, false)
		if err == nil {
			s.log.Warn("root key made by the external KMS: back up the blob file; without it, or without the KMS key, all data is lost",
				"root_key_blob_file", path, "kms_key_id", blob.KeyID)
			return key, nil
		}
		clear(key)
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("server: root key: %w", err)
		}
		// Another process made the blob first: use its key.
		if blob, err = kmsroot.ReadBlob(path); err != nil {
			return nil, fmt.Errorf("server: root key: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %s holds a store but the root key blob file %s does not exist; restore it from your backup (shelfd never makes a new key for an existing store: the data could not be read with it); nothing was changed",
			ErrNoRootKey, dataDir, path)
	default:
		return nil, fmt.Errorf("server: root key: %w", err)
	}
	key, err := src.Decrypt(ctx, blob)
	if err != nil {
		return nil, fmt.Errorf("server: root key: %w; nothing was changed", err)
	}
	if blob.KeyID != src.KeyID() {
		s.log.Info("the root key is sealed by another KMS key than root_key.kms.key_id names; shelf rotate-root-key moves it to the configured key",
			"kms_key_id", blob.KeyID, "configured_key_id", src.KeyID())
	}
	return key, nil
}
