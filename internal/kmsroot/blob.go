package kmsroot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Blob file format, version 1: one JSON object,
//
//	{"format": "shelf-root-key-kms v1",
//	 "key_id": "<ARN of the KMS key that sealed it>",
//	 "encryption_context": {"shelf:purpose": "root-key", "shelf:data-dir": "…"},
//	 "ciphertext_blob": "<base64>"}
//
// Unknown fields are refused; a later format gets a new "format" value.
// The file holds no secret (only the external KMS can open the blob), but
// it is written with mode 0600 like the other key files, and losing it
// loses the root key.
const (
	blobFormat          = "shelf-root-key-kms v1"
	maxBlobFileBytes    = 64 << 10
	maxCiphertextBytes  = 6144 // AWS KMS's CiphertextBlob limit
	maxContextPairs     = 16
	maxContextItemBytes = 4096
)

// Blob is the kept form of a root key held by an external KMS.
type Blob struct {
	KeyID             string            `json:"key_id"`
	EncryptionContext map[string]string `json:"encryption_context"`
	CiphertextBlob    []byte            `json:"ciphertext_blob"`
}

type blobFile struct {
	Format string `json:"format"`
	Blob
}

func (b *Blob) validate() error {
	switch {
	case b.KeyID == "" || len(b.KeyID) > 2048 || !utf8.ValidString(b.KeyID):
		return errors.New("key_id is missing or malformed")
	case len(b.CiphertextBlob) == 0 || len(b.CiphertextBlob) > maxCiphertextBytes:
		return fmt.Errorf("ciphertext_blob must be 1 to %d bytes", maxCiphertextBytes)
	case len(b.EncryptionContext) > maxContextPairs:
		return fmt.Errorf("encryption_context has more than %d pairs", maxContextPairs)
	}
	for k, v := range b.EncryptionContext {
		if k == "" || len(k) > maxContextItemBytes || len(v) > maxContextItemBytes {
			return errors.New("encryption_context has an empty or oversized entry")
		}
	}
	return nil
}

// ParseBlob decodes a blob file. Its errors never quote the content.
func ParseBlob(data []byte) (*Blob, error) {
	if len(data) > maxBlobFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", maxBlobFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f blobFile
	if err := dec.Decode(&f); err != nil {
		return nil, errors.New("not a JSON blob file")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON object")
	}
	if f.Format != blobFormat {
		return nil, fmt.Errorf("format must be %q", blobFormat)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f.Blob, nil
}

// Encode returns the file form of b.
func (b *Blob) Encode() []byte {
	out, err := json.MarshalIndent(blobFile{Format: blobFormat, Blob: *b}, "", "  ")
	if err != nil {
		panic(err) // strings, a string map and bytes always marshal
	}
	return append(out, '\n')
}

// ReadBlob reads the blob file at path. A missing file yields an error
// wrapping fs.ErrNotExist.
func ReadBlob(path string) (*Blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kmsroot: root key blob file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBlobFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("kmsroot: read root key blob file: %w", err)
	}
	b, err := ParseBlob(data)
	if err != nil {
		return nil, fmt.Errorf("kmsroot: root key blob file %s: %w", path, err)
	}
	return b, nil
}

// WriteBlob writes b to path atomically and durably (temporary file in the
// same directory, fsync, then link or rename into place, fsync of the
// directory), mode 0600. With replace false an existing file is kept and
// fs.ErrExist returned, so that two processes cannot install different
// blobs for a new store; with replace true it is replaced (rotation).
func WriteBlob(path string, b *Blob, replace bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".root-key-kms-*.tmp")
	if err != nil {
		return fmt.Errorf("kmsroot: write root key blob file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b.Encode())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if replace {
			err = os.Rename(tmpName, path)
		} else if err = os.Link(tmpName, path); errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("kmsroot: root key blob file %s: %w", path, fs.ErrExist)
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("kmsroot: write root key blob file: %w", err)
	}
	return nil
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
