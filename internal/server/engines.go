package server

import (
	"fmt"
	"log/slog"

	"github.com/shelf-efs/shelf/internal/blob"
	"github.com/shelf-efs/shelf/internal/blob/diskblob"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

// Engine construction lives in this file only. The scale-out engines
// (meta/sqlmeta on PostgreSQL-compatible SQL, blob/s3blob on S3) will be
// chosen here from their config sections.

// openMeta opens the embedded metadata engine in dir.
func openMeta(dir string, cfg config.Storage, log *slog.Logger) (meta.Store, error) {
	m, err := pebblemeta.Open(dir, pebblemeta.Options{
		Logger:     log.With("component", "meta"),
		CacheBytes: int64(cfg.MetaCacheBytes),
	})
	if err != nil {
		return nil, fmt.Errorf("server: open metadata store: %w", err)
	}
	return m, nil
}

// openBlobs opens the embedded blob engine in dir.
func openBlobs(dir string, log *slog.Logger) (blob.Store, error) {
	b, err := diskblob.New(log.With("component", "blobs"), diskblob.Config{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("server: open blob store: %w", err)
	}
	return b, nil
}
