package server

import (
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
)

// Bounds of the data cache and of the write-back buffers sized from memory
// (storage.data_cache_bytes and storage.write_back_bytes 0).
const (
	minAutoDataCache = 64 << 20
	maxAutoDataCache = 2 << 30
	minAutoWriteBack = fs.DefaultWriteBackBytes
	maxAutoWriteBack = 1 << 30
)

// dataCacheBytes returns the size of the cache of decrypted blocks: the
// configured one, or a sixteenth of the machine's memory within
// [minAutoDataCache, maxAutoDataCache].
func dataCacheBytes(configured int64) int {
	return sixteenth(configured, data.DefaultCacheBytes, minAutoDataCache, maxAutoDataCache)
}

// writeBackBytes returns the bound of the buffered unstable writes: the
// configured one, or a sixteenth of the machine's memory within
// [minAutoWriteBack, maxAutoWriteBack].
func writeBackBytes(configured int64) int {
	return sixteenth(configured, fs.DefaultWriteBackBytes, minAutoWriteBack, maxAutoWriteBack)
}

// sixteenth returns configured if set, else a sixteenth of the machine's
// memory within [lo, hi], or def when the memory is unknown.
func sixteenth(configured int64, def int, lo, hi int64) int {
	if configured > 0 {
		return int(configured)
	}
	total := physicalMemory()
	if total <= 0 {
		return def
	}
	return int(min(max(total/16, lo), hi))
}
