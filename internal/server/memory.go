package server

import "github.com/shelf-efs/shelf/internal/data"

// Bounds of the data cache sized from memory (storage.data_cache_bytes 0).
const (
	minAutoDataCache = 64 << 20
	maxAutoDataCache = 2 << 30
)

// dataCacheBytes returns the size of the cache of decrypted blocks: the
// configured one, or a sixteenth of the machine's memory within
// [minAutoDataCache, maxAutoDataCache].
func dataCacheBytes(configured int64) int {
	if configured > 0 {
		return int(configured)
	}
	total := physicalMemory()
	if total <= 0 {
		return data.DefaultCacheBytes
	}
	return int(min(max(total/16, minAutoDataCache), maxAutoDataCache))
}
