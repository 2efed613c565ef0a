// Package projectrules holds the rules of the shelf source tree as Go tests
// (rules_test.go), so that `go test ./...` enforces them with nothing but
// go/parser. It has no code; the rules are:
//
//   - every package under internal/ and cmd/ has a package doc comment
//     ("Package x …", or "Command x …" for a command);
//   - only internal/server imports storage engines (internal/meta/*meta,
//     internal/blob/*blob), besides the engine itself and _test.go files;
//   - only cmd/ and test/ import internal/server (besides _test.go files);
//   - block ciphers (crypto/aes, crypto/cipher, …) are imported only by
//     internal/kms and internal/data, which do not use math/rand;
//   - only package main sets the default slog logger, and only cmd/ reads
//     the environment.
//
// The rules apply to non-test files unless stated otherwise. This package
// must not be imported.
package projectrules
