package control

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Resource ID types (account preference).
const (
	ResourceIDLong  = "LONG_ID"
	ResourceIDShort = "SHORT_ID"
)

// newID returns prefix + n lower-case hex digits from the injected
// randomness.
func (s *Service) newID(prefix string, n int) (string, error) {
	b := make([]byte, (n+1)/2)
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b)
	s.randMu.Unlock()
	if err != nil {
		return "", internal("generate id", err)
	}
	return prefix + hex.EncodeToString(b)[:n], nil
}

func idDigits(idType string) int {
	if idType == ResourceIDShort {
		return 8
	}
	return 17
}

// FileSystemARN is the ARN of file system id.
func (s *Service) FileSystemARN(id string) string {
	return fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:file-system/%s", s.cfg.Region, s.cfg.Account, id)
}

// AccessPointARN is the ARN of access point id.
func (s *Service) AccessPointARN(id string) string {
	return fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:access-point/%s", s.cfg.Region, s.cfg.Account, id)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validID reports whether id is prefix followed by 8 to 40 hex digits.
func validID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	return ok && len(rest) >= 8 && len(rest) <= 40 && isHex(rest)
}

// resolveRef turns a resource ID or an ARN of this account and region into
// the ID. kind is "file-system" or "access-point", prefix "fs-" or
// "fsap-". ok is false when ref names nothing this service could hold
// (malformed, or another account's or region's ARN).
func (s *Service) resolveRef(ref, kind, prefix string) (id string, ok bool) {
	if rest, isARN := strings.CutPrefix(ref, "arn:"); isARN {
		// arn:aws:elasticfilesystem:<region>:<account>:<kind>/<id>
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || !strings.HasPrefix(parts[0], "aws") || parts[1] != "elasticfilesystem" ||
			parts[2] != s.cfg.Region || parts[3] != s.cfg.Account {
			return "", false
		}
		id, ok = strings.CutPrefix(parts[4], kind+"/")
		if !ok {
			return "", false
		}
		ref = id
	}
	if !validID(ref, prefix) {
		return "", false
	}
	return ref, true
}

func (s *Service) fsID(ref string) (string, error) {
	id, ok := s.resolveRef(ref, "file-system", "fs-")
	if !ok {
		return "", errorf(FileSystemNotFound, "File system '%s' does not exist.", ref)
	}
	return id, nil
}

func (s *Service) apID(ref string) (string, error) {
	id, ok := s.resolveRef(ref, "access-point", "fsap-")
	if !ok {
		return "", errorf(AccessPointNotFound, "Access point '%s' does not exist.", ref)
	}
	return id, nil
}

func mtID(ref string) (string, error) {
	if !validID(ref, "fsmt-") {
		return "", errorf(MountTargetNotFound, "Mount target '%s' does not exist.", ref)
	}
	return ref, nil
}

// Pagination markers are opaque to clients: base64url of "<kind>:<last
// key>". The last key only grows from page to page, so a marker is never
// repeated within one listing.
func encodeMarker(kind, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + last))
}

func decodeMarker(kind, marker string) (string, error) {
	if marker == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(marker)
	if err != nil {
		return "", errorf(BadRequest, "Invalid pagination token.")
	}
	last, ok := strings.CutPrefix(string(b), kind+":")
	if !ok || last == "" {
		return "", errorf(BadRequest, "Invalid pagination token.")
	}
	return last, nil
}

func pageSize(n int) int {
	if n <= 0 || n > DefaultPageSize {
		return DefaultPageSize
	}
	return n
}

// validateTags checks the EFS tag rules: keys 1–128 characters of letters,
// spaces, digits and _.:/=+-@, not starting with aws:, values up to 256 of
// the same characters, keys unique.
func validateTags(tags []Tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if err := validateTagKey(t.Key); err != nil {
			return err
		}
		if utf8.RuneCountInString(t.Value) > 256 || !tagChars(t.Value) {
			return errorf(BadRequest, "Invalid value for tag '%s'.", t.Key)
		}
		if seen[t.Key] {
			return errorf(BadRequest, "Duplicate tag key '%s'.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > MaxTags {
		return errorf(BadRequest, "A resource can have at most %d tags.", MaxTags)
	}
	return nil
}

func validateTagKey(k string) error {
	n := utf8.RuneCountInString(k)
	if n < 1 || n > 128 || !tagChars(k) {
		return errorf(BadRequest, "Invalid tag key '%s'.", k)
	}
	if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
		return errorf(BadRequest, "Tag keys starting with 'aws:' are reserved.")
	}
	return nil
}

// tagChars checks [\p{L}\p{Z}\p{N}_.:/=+\-@]*.
func tagChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.In(r, unicode.Z), unicode.IsNumber(r):
		case strings.ContainsRune("_.:/=+-@", r):
		default:
			return false
		}
	}
	return true
}

// nameOf is the value of the Name tag.
func nameOf(tags []Tag) string {
	for _, t := range tags {
		if t.Key == "Name" {
			return t.Value
		}
	}
	return ""
}

// mergeTags sets the tags in add, overwriting values of existing keys.
func mergeTags(have, add []Tag) []Tag {
	out := append([]Tag(nil), have...)
	for _, t := range add {
		found := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value = t.Value
				found = true
				break
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	return out
}

func removeTags(have []Tag, keys []string) []Tag {
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[k] = true
	}
	out := have[:0:0]
	for _, t := range have {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out
}
