package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTrailConfig(t *testing.T) {
	c, err := Decode(strings.NewReader("data_dir: /d\ntrail: {delivery_interval: 30s, digest_interval: 10m}\n"))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, 30*time.Second, c.Trail.DeliveryInterval)
	require.Equal(t, 10*time.Minute, c.Trail.DigestInterval)
	require.Equal(t, filepath.Join("/d", "trail"), c.TrailDir())
	c.Trail.Dir = "/elsewhere"
	require.Equal(t, "/elsewhere", c.TrailDir())

	c, err = Decode(strings.NewReader("trail: {delivery_interval: 10ms, digest_interval: -1s}\n"))
	require.NoError(t, err)
	err = c.Validate()
	require.ErrorContains(t, err, "trail.delivery_interval")
	require.ErrorContains(t, err, "trail.digest_interval")

	_, err = Decode(strings.NewReader("trail: {delivery: 1s}\n"))
	require.Error(t, err, "unknown keys are errors")
}
