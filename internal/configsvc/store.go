package configsvc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Key layout, version 1. Every key is meta.SystemKey("config/" + name);
// values are JSON records carrying "v" (recordVersion).
//
//	cur/<type>/<id>                   storedItem: the latest item of a resource
//	hist/<type>/<id>/<seq 16 hex>     storedItem: every item, oldest first
//	rule/<name>                       ruleRecord
//	ev/<ruleID>/<type>/<id>           evalRecord: the latest result of a rule for a resource
//	evr/<type>/<id>/<ruleID>          "" (the results of a resource, by rule)
//	alert/<hookID>/<seq 16 hex>       alertRecord: a notification not yet delivered to a webhook
//	alert-next                        next alert sequence number (uint64)
//
// Resource types (AWS::EFS::…) and IDs contain no "/"; rule IDs are
// "config-rule-" and hex digits. Rule names may hold anything, so they are
// only ever the last component of a key.
const keyPrefix = "config/"

const recordVersion = 1

func ckey(parts ...string) []byte { return meta.SystemKey(keyPrefix + strings.Join(parts, "")) }

func curKey(k resourceKey) []byte     { return ckey("cur/", k.Type, "/", k.ID) }
func curPrefix(typ string) []byte     { return ckey("cur/", typ, "/") }
func histPrefix(k resourceKey) []byte { return ckey("hist/", k.Type, "/", k.ID, "/") }
func histKey(k resourceKey, seq uint64) []byte {
	return ckey("hist/", k.Type, "/", k.ID, "/", fmt.Sprintf("%016x", seq))
}
func ruleKey(name string) []byte { return ckey("rule/", name) }
func rulePrefix() []byte         { return ckey("rule/") }
func evalKey(ruleID string, k resourceKey) []byte {
	return ckey("ev/", ruleID, "/", k.Type, "/", k.ID)
}
func evalRulePrefix(ruleID string) []byte { return ckey("ev/", ruleID, "/") }
func evalByResKey(k resourceKey, ruleID string) []byte {
	return ckey("evr/", k.Type, "/", k.ID, "/", ruleID)
}
func evalByResPrefix(k resourceKey) []byte { return ckey("evr/", k.Type, "/", k.ID, "/") }
func evalByResAll() []byte                 { return ckey("evr/") }
func alertPrefix(hookID string) []byte     { return ckey("alert/", hookID, "/") }
func alertKey(hookID string, seq uint64) []byte {
	return ckey("alert/", hookID, "/", fmt.Sprintf("%016x", seq))
}
func alertNextKey() []byte { return ckey("alert-next") }

// storedItem is a configuration item with its history position.
type storedItem struct {
	V    int    `json:"v"`
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Item Item   `json:"item"`
}

// Compliance types.
const (
	Compliant        = "COMPLIANT"
	NonCompliant     = "NON_COMPLIANT"
	NotApplicable    = "NOT_APPLICABLE"
	InsufficientData = "INSUFFICIENT_DATA"
)

// evalRecord is the latest result of one rule for one resource.
type evalRecord struct {
	V            int       `json:"v"`
	RuleName     string    `json:"rule"`
	RuleID       string    `json:"rule_id"`
	ResourceType string    `json:"type"`
	ResourceID   string    `json:"id"`
	Compliance   string    `json:"compliance"`
	Annotation   string    `json:"annotation,omitempty"`
	Ordering     time.Time `json:"ordering"`
	Recorded     time.Time `json:"recorded"`
	Invoked      time.Time `json:"invoked"`
}

var errCorrupt = errors.New("configsvc: corrupt record")

func getJSON(r meta.Reader, key []byte, v any) error {
	b, err := r.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w %q: %v", errCorrupt, key, err)
	}
	return nil
}

func putJSON(t meta.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.Set(key, b)
}

func nextSeq(t meta.Txn, key []byte) (uint64, error) {
	b, err := t.Get(key)
	var n uint64 = 1
	switch {
	case errors.Is(err, meta.ErrNotFound):
	case err != nil:
		return 0, err
	case len(b) != 8:
		return 0, fmt.Errorf("%w %q", errCorrupt, key)
	default:
		n = binary.BigEndian.Uint64(b)
	}
	return n, t.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
}

// scanJSON decodes every value under prefix, from start (inclusive; nil
// means the prefix), until fn returns false.
func scanJSON[T any](r meta.Reader, prefix, start []byte, fn func(key []byte, v *T) (bool, error)) error {
	if start == nil {
		start = prefix
	}
	return r.Scan(start, meta.PrefixEnd(prefix), func(k, b []byte) (bool, error) {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return false, fmt.Errorf("%w %q: %v", errCorrupt, k, err)
		}
		return fn(k, &v)
	})
}
