package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDataCacheBytes(t *testing.T) {
	require.Equal(t, 5<<20, dataCacheBytes(5<<20), "a configured size is used as is")
	auto := dataCacheBytes(0)
	require.GreaterOrEqual(t, auto, minAutoDataCache)
	require.LessOrEqual(t, auto, maxAutoDataCache)
	if mem := physicalMemory(); mem > 0 {
		require.Equal(t, int(min(max(mem/16, minAutoDataCache), maxAutoDataCache)), auto)
	}
}

func TestWriteBackBytes(t *testing.T) {
	require.Equal(t, 3<<20, writeBackBytes(3<<20), "a configured size is used as is")
	auto := writeBackBytes(0)
	require.GreaterOrEqual(t, auto, int(minAutoWriteBack))
	require.LessOrEqual(t, auto, int(maxAutoWriteBack))
	if mem := physicalMemory(); mem > 0 {
		require.Equal(t, int(min(max(mem/16, minAutoWriteBack), maxAutoWriteBack)), auto)
	}
}
