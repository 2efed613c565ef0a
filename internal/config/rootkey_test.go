package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRootKeyKMS(t *testing.T) {
	const base = "data_dir: /data\n"
	for _, tc := range []struct {
		name, yaml string
		errs       []string // substrings of the Validate error; none means valid
	}{
		{name: "absent", yaml: base},
		{name: "key only", yaml: base + "root_key: {kms: {key_id: alias/shelf-root}}"},
		{name: "everything", yaml: base + `root_key:
  kms:
    key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    endpoint: https://kms.eu-west-1.amazonaws.com
    region: eu-west-1
    profile: shelf
    credentials_file: /etc/shelf/aws-credentials
    ca_file: /etc/shelf/ca.pem
`},
		{name: "fields without key", yaml: base + "root_key: {kms: {endpoint: http://127.0.0.1:8049}}", errs: []string{"root_key.kms needs key_id"}},
		{name: "with root_key_file", yaml: base + "root_key_file: /k\nroot_key: {kms: {key_id: alias/r}}", errs: []string{"root_key.kms excludes root_key_file"}},
		{name: "every problem", yaml: base + "root_key: {kms: {key_id: 'a b', endpoint: 'ftp://x', region: Mars, profile: \"p[1]\"}}",
			errs: []string{"root_key.kms.key_id", "root_key.kms.endpoint", "root_key.kms.region", "root_key.kms.profile"}},
		{name: "endpoint without host", yaml: base + "root_key: {kms: {key_id: k, endpoint: 'http://'}}", errs: []string{"root_key.kms.endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Decode(strings.NewReader(tc.yaml))
			require.NoError(t, err)
			err = cfg.Validate()
			if len(tc.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tc.errs {
				require.Contains(t, err.Error(), e)
			}
		})
	}

	t.Run("unknown key is refused", func(t *testing.T) {
		_, err := Decode(strings.NewReader(base + "root_key: {kms: {key_id: k, secret: x}}"))
		require.Error(t, err)
	})
	t.Run("the environment's key file conflicts too", func(t *testing.T) {
		cfg, err := Decode(strings.NewReader(base + "root_key: {kms: {key_id: k}}"))
		require.NoError(t, err)
		cfg.ApplyEnv(func(k string) (string, bool) { return "/run/k", k == EnvRootKeyFile })
		require.ErrorContains(t, cfg.Validate(), EnvRootKeyFile)
	})
	t.Run("blob path", func(t *testing.T) {
		cfg := Default()
		cfg.DataDir = "/data"
		require.Equal(t, "/data/root-key.kms.json", cfg.RootKeyKMSBlobPath())
	})
}
