package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/config"
)

func TestComplianceConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shelfd.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
network:
  vpcs:
    - id: vpc-0a1b2c3d
      cidr: 127.9.0.0/16
      subnets:
        - {id: subnet-0a1b2c3d, cidr: 127.9.1.0/24, availability_zone: us-east-1a, public: true}
compliance:
  evaluation_interval: 30m
  webhooks:
    - url: https://alerts.example.com/hook?token=abc
      secret: 0123456789abcdef0123
`), 0o600))
	c, err := config.Load(path)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, 30*time.Minute, c.Compliance.EvaluationInterval)
	require.True(t, c.Network.VPCs[0].Subnets[0].Public)
	require.Equal(t, "0123456789abcdef0123", c.Compliance.Webhooks[0].Secret)

	bad := config.Default()
	bad.Compliance = config.Compliance{EvaluationInterval: time.Millisecond, Webhooks: []config.Webhook{
		{URL: "ftp://x/?token=SECRETTOKEN", Secret: "short"},
		{URL: "ftp://x/?token=SECRETTOKEN", Secret: "0123456789abcdef"},
	}}
	err = bad.Validate()
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "evaluation_interval")
	require.Contains(t, msg, "webhooks[0].url is not an http or https URL")
	require.Contains(t, msg, "webhooks[0].secret must be at least 16")
	require.Contains(t, msg, "webhooks[1].url is also compliance.webhooks[0].url")
	require.NotContains(t, msg, "SECRETTOKEN")
}
