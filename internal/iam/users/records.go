package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Records of this package, schema version 1. All are system keys
// (meta.SystemKey) under "iam/<account>/"; values are JSON with a format
// number, and a record of an unknown format is refused:
//
//	iam/<account>/account                    accountRecord (creation date of the root)
//	iam/<account>/user/<lower name>          userRecord
//	iam/<account>/key/<access key ID>        keyRecord, secret sealed by the Sealer
//	iam/<account>/ukey/<owner>/<key ID>      index of a principal's keys (empty value)
//	iam/<account>/policy/<lower name>/<name> policyRecord (inline user policy)
//
// <lower name> is the user name in lower case, since IAM user names are
// unique regardless of case; <owner> is the lower name, or ":root" for the
// account root (':' cannot occur in a user name). A user name cannot hold
// '/', so the prefixes never overlap.
const recordFormat = 1

const rootOwner = ":root"

type accountRecord struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
}

type userRecord struct {
	Format  int       `json:"format"`
	Name    string    `json:"name"` // as created
	Path    string    `json:"path"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

type keyRecord struct {
	Format  int       `json:"format"`
	ID      string    `json:"id"`
	Owner   string    `json:"owner"` // lower user name, or rootOwner
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
	// Sealed is the secret access key, sealed by the Sealer with the
	// purpose secretPurpose(ID).
	Sealed []byte `json:"sealed"`
}

type policyRecord struct {
	Format   int    `json:"format"`
	Name     string `json:"name"`
	Document string `json:"document"`
}

type schema struct{ prefix string }

func newSchema(account string) schema { return schema{prefix: "iam/" + account + "/"} }

func (s schema) account() []byte           { return meta.SystemKey(s.prefix + "account") }
func (s schema) userPrefix() []byte        { return meta.SystemKey(s.prefix + "user/") }
func (s schema) user(lower string) []byte  { return meta.SystemKey(s.prefix + "user/" + lower) }
func (s schema) key(id string) []byte      { return meta.SystemKey(s.prefix + "key/" + id) }
func (s schema) ownerKeys(o string) []byte { return meta.SystemKey(s.prefix + "ukey/" + o + "/") }
func (s schema) ownerKey(o, id string) []byte {
	return meta.SystemKey(s.prefix + "ukey/" + o + "/" + id)
}
func (s schema) policies(lower string) []byte {
	return meta.SystemKey(s.prefix + "policy/" + lower + "/")
}
func (s schema) policy(lower, name string) []byte {
	return meta.SystemKey(s.prefix + "policy/" + lower + "/" + name)
}

// errMissing is returned by get when the key does not exist.
var errMissing = errors.New("users: record missing")

// get reads and decodes the JSON record under k into v (a pointer to a
// record with a Format field), or returns errMissing.
func get(r meta.Reader, k []byte, v interface{ format() int }) error {
	b, err := r.Get(k)
	if errors.Is(err, meta.ErrNotFound) {
		return errMissing
	}
	if err != nil {
		return fmt.Errorf("users: read %s: %w", recordName(k), err)
	}
	return decode(k, b, v)
}

func decode(k, b []byte, v interface{ format() int }) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("users: record %s is corrupt: %v", recordName(k), err)
	}
	if f := v.format(); f != recordFormat {
		return fmt.Errorf("users: record %s has unsupported format %d", recordName(k), f)
	}
	return nil
}

func put(t meta.Txn, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("users: encode %s: %w", recordName(k), err)
	}
	if err := t.Set(k, b); err != nil {
		return fmt.Errorf("users: write %s: %w", recordName(k), err)
	}
	return nil
}

// recordName names a key in errors: the table byte is dropped, and the
// access key ID of a key record is kept (it is not secret).
func recordName(k []byte) string { return strings.TrimPrefix(string(k), string(meta.SystemKey(""))) }

func (r *accountRecord) format() int { return r.Format }
func (r *userRecord) format() int    { return r.Format }
func (r *keyRecord) format() int     { return r.Format }
func (r *policyRecord) format() int  { return r.Format }
