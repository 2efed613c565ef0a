package kms

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// RootKeyBytes is the size of the root key.
const RootKeyBytes = 32

// Root key file format, version 1: two lines of ASCII,
//
//	shelf-root-key v1
//	<the 32 key bytes in standard base64, padded>
//
// each ending in "\n" (the final newline may be missing). The file must be a
// regular file with no group or other permission bits (mode 0600 or 0400).
// A later format gets a new header line; readers refuse headers they do not
// know.
const (
	rootKeyHeader       = "shelf-root-key v1"
	maxRootKeyFileBytes = 1024
)

// LoadRootKey reads the root key from the file at path. When the file does
// not exist and create is true, it generates a key with crypto/rand and
// writes it atomically and durably (temporary file in the same directory,
// fsync, link into place, fsync of the directory) with mode 0600; if another
// process creates the file first, its key is read and returned instead.
//
// The caller decides create: true for a fresh data directory, false for an
// existing one, where a missing key file must be an error and never a new
// key (all data would become unreadable). A missing file with create false
// yields an error wrapping fs.ErrNotExist.
//
// A file that is not a regular file, is readable or writable by group or
// others, or does not hold exactly one well-formed key is refused with an
// error that says why; the error never contains key bytes. The returned
// slice belongs to the caller.
func LoadRootKey(path string, create bool) ([]byte, error) {
	key, err := readRootKey(path)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	return createRootKey(path)
}

func readRootKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("kms: root key file %s does not exist: %w", path, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("kms: open root key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kms: stat root key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("kms: root key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("kms: root key file %s has mode %04o: it must not be accessible by group or others (chmod 600 it)", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRootKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("kms: read root key file: %w", err)
	}
	key, err := parseRootKey(data)
	if err != nil {
		return nil, fmt.Errorf("kms: root key file %s: %w", path, err)
	}
	return key, nil
}

// parseRootKey decodes the file format. Its errors never quote the content.
func parseRootKey(data []byte) ([]byte, error) {
	if len(data) > maxRootKeyFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", maxRootKeyFileBytes)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	header, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok || string(header) != rootKeyHeader {
		return nil, fmt.Errorf("not a shelf root key file (first line must be %q)", rootKeyHeader)
	}
	if bytes.IndexByte(body, '\n') >= 0 {
		return nil, fmt.Errorf("unexpected extra lines after the key")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(string(body))
	if err != nil {
		return nil, fmt.Errorf("key line is not valid base64")
	}
	if len(key) != RootKeyBytes {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), RootKeyBytes)
	}
	return key, nil
}

func encodeRootKey(key []byte) []byte {
	return []byte(rootKeyHeader + "\n" + base64.StdEncoding.EncodeToString(key) + "\n")
}

func createRootKey(path string) ([]byte, error) {
	key := make([]byte, RootKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".root-key-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("kms: create root key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // gone already on success; on failure no copy of the key stays behind
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(encodeRootKey(key))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("kms: write root key file: %w", err)
	}
	// link(2) never replaces an existing file, so two processes racing to
	// create the key cannot end up with different keys. Where hard links
	// are not supported, fall back to rename.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readRootKey(path)
		}
		if _, serr := os.Lstat(path); serr == nil {
			return readRootKey(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("kms: install root key file: %w", err)
		}
	}
	if err := os.Remove(tmpName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("kms: remove temporary root key file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("kms: sync root key directory: %w", err)
	}
	return key, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// InstallRootKey writes key to the root key file at path, replacing it
// atomically and durably: the key goes to a temporary file in the same
// directory (mode 0600, fsync), which is renamed over path, and the
// directory is synced. Used by root-key rotation once the store accepts
// the new key.
func InstallRootKey(path string, key []byte) error {
	if len(key) != RootKeyBytes {
		return errf(ErrInvalidArgument, "root key is %d bytes, want %d", len(key), RootKeyBytes)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".root-key-*.tmp")
	if err != nil {
		return fmt.Errorf("kms: install root key: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	enc := encodeRootKey(key)
	defer clear(enc)
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(enc)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpName, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("kms: install root key: %w", err)
	}
	return nil
}

// NewRootKey returns 32 random bytes from crypto/rand.
func NewRootKey() ([]byte, error) {
	key := make([]byte, RootKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	return key, nil
}
