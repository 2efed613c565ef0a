package kms

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadRootKeyCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")

	key, err := LoadRootKey(path, true)
	require.NoError(t, err)
	require.Len(t, key, RootKeyBytes)

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "shelf-root-key v1\n"+base64.StdEncoding.EncodeToString(key)+"\n", string(data))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")

	for _, create := range []bool{false, true} {
		again, err := LoadRootKey(path, create)
		require.NoError(t, err)
		require.Equal(t, key, again, "an existing key is never replaced (create=%v)", create)
	}

	other, err := LoadRootKey(filepath.Join(dir, "other.key"), true)
	require.NoError(t, err)
	require.NotEqual(t, key, other)
}

func TestLoadRootKeyMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	_, err := LoadRootKey(path, false)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
	_, statErr := os.Stat(path)
	require.ErrorIs(t, statErr, fs.ErrNotExist, "nothing is created")

	_, err = LoadRootKey(filepath.Join(dir, "no-such-dir", "root.key"), true)
	require.Error(t, err)
}

func TestLoadRootKeyRefusesBadFiles(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		want    string
	}{
		{"group readable", "shelf-root-key v1\n" + good + "\n", 0o640, "mode 0640"},
		{"other readable", "shelf-root-key v1\n" + good + "\n", 0o604, "mode 0604"},
		{"group writable", "shelf-root-key v1\n" + good + "\n", 0o620, "group or others"},
		{"short key", "shelf-root-key v1\n" + base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n", 0o600, "16 bytes"},
		{"long key", "shelf-root-key v1\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n", 0o600, "33 bytes"},
		{"empty", "", 0o600, "not a shelf root key file"},
		{"raw bytes", strings.Repeat("k", 32), 0o600, "not a shelf root key file"},
		{"other version", "shelf-root-key v2\n" + good + "\n", 0o600, "not a shelf root key file"},
		{"bad base64", "shelf-root-key v1\n" + good[:len(good)-2] + "!!\n", 0o600, "base64"},
		{"unpadded base64", "shelf-root-key v1\n" + strings.TrimRight(good, "=") + "\n", 0o600, "base64"},
		{"extra line", "shelf-root-key v1\n" + good + "\n" + good + "\n", 0o600, "extra lines"},
		{"too large", "shelf-root-key v1\n" + strings.Repeat("A", 2000) + "\n", 0o600, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "root.key")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			require.NoError(t, os.Chmod(path, tt.mode))
			for _, create := range []bool{false, true} {
				_, err := LoadRootKey(path, create)
				require.ErrorContains(t, err, tt.want)
				require.NotContains(t, err.Error(), good, "errors never quote key material")
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tt.content, string(data), "a bad file is never overwritten")
		})
	}

	t.Run("read-only and no final newline are fine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "root.key")
		require.NoError(t, os.WriteFile(path, []byte("shelf-root-key v1\n"+good), 0o400))
		key, err := LoadRootKey(path, false)
		require.NoError(t, err)
		require.Equal(t, strings.Repeat("k", 32), string(key))
	})
	t.Run("directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "root.key")
		require.NoError(t, os.Mkdir(path, 0o700))
		_, err := LoadRootKey(path, true)
		require.ErrorContains(t, err, "not a regular file")
	})
}
