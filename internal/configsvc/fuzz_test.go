package configsvc

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzParseParams: any InputParameters text for any managed rule either
// parses or fails with an InvalidError; never a panic.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"KmsKeyId":"k"}`, `{"approvedUids":"1,2,3"}`, `{"approvedGids":"x"}`,
		`{"resourceTags":"{\"a\":\"b\"}"}`, `{"minRetentionDays":5}`, `{"backupVaultLockCheck":true}`, `[`, `null`, `{"a":null}`} {
		f.Add(s)
	}
	ids := ManagedRuleIdentifiers()
	f.Fuzz(func(t *testing.T, text string) {
		for _, id := range ids {
			_, _, err := parseParams(text, managedRules[id])
			var inv *InvalidError
			if err != nil && !errors.As(err, &inv) {
				t.Fatalf("%s: %v is not an InvalidError", id, err)
			}
		}
		if _, _, err := parseParams(text, nil); err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("custom: %v", err)
			}
		}
	})
}

// FuzzCEL: any policy text compiles or fails with an InvalidError, and a
// compiled policy evaluates within its bounds to a verdict.
func FuzzCEL(f *testing.F) {
	for _, s := range []string{`true`, `item.configuration.Encrypted`, `item.tags["a"] == params.b`, `1+`,
		`[1,2,3].all(x, [1,2,3].all(y, x*y > 0))`, `size(item.relationships) > 0`, `"a".matches("(a+)+$")`} {
		f.Add(s)
	}
	it := &Item{ResourceType: "AWS::EFS::FileSystem", ResourceID: "fs-1", Tags: map[string]string{"a": "b"},
		Configuration: []byte(`{"Encrypted":true}`)}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := compileCEL(text)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("%v is not an InvalidError", err)
			}
			return
		}
		start := time.Now()
		v := p.eval(context.Background(), it, map[string]string{"b": "b"})
		if v.Compliance != Compliant && v.Compliance != NonCompliant {
			t.Fatalf("verdict %q", v.Compliance)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("evaluation took %s", d)
		}
	})
}
