package metatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/shelf-efs/shelf/internal/meta"
)

// model is the reference: a map from key to value.
type model map[string]string

// scan returns the pairs of m in [start, end), ascending, at most limit of
// them (limit <= 0: all).
func (m model) scan(start, end []byte, limit int) []kv {
	var out []kv
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k < string(start) || (end != nil && k >= string(end)) {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, kv{k, m[k]})
	}
	return out
}

// op is one step inside a transaction.
type op struct {
	kind       string // set, delete, get, scan
	key, value []byte
	start, end []byte // scan bounds
	limit      int    // scan: stop after limit pairs (0: never)
}

func (o op) String() string {
	switch o.kind {
	case "set":
		return fmt.Sprintf("set %q=%q", o.key, o.value)
	case "scan":
		return fmt.Sprintf("scan [%q, %q) limit %d", o.start, o.end, o.limit)
	}
	return fmt.Sprintf("%s %q", o.kind, o.key)
}

// errMismatch marks a difference between the store and the model found
// inside a transaction; fn returns it so that the engine rolls back.
var errMismatch = errors.New("metatest: store differs from model")

// modelKey draws keys from a small alphabet so that they collide, share
// prefixes and contain 0x00 and 0xff.
func modelKey() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		suffix := rapid.SliceOfN(rapid.SampledFrom([]byte{0x00, 'a', 'b', 0xff}), 0, 3).Draw(t, "suffix")
		return append(append([]byte(nil), prefix...), suffix...)
	})
}

// modelBound is a scan bound: a model key, the prefix itself, or nil.
func modelBound() *rapid.Generator[[]byte] {
	return rapid.OneOf(modelKey(), rapid.Just([]byte(nil)), rapid.Just(append([]byte(nil), prefix...)))
}

func opGen(readOnly bool) *rapid.Generator[op] {
	return rapid.Custom(func(t *rapid.T) op {
		kinds := []string{"get", "scan"}
		if !readOnly {
			kinds = append(kinds, "set", "set", "delete")
		}
		o := op{kind: rapid.SampledFrom(kinds).Draw(t, "kind")}
		switch o.kind {
		case "set":
			o.key = modelKey().Draw(t, "key")
			o.value = rapid.SliceOfN(rapid.Byte(), 0, 6).Draw(t, "value")
		case "delete", "get":
			o.key = modelKey().Draw(t, "key")
		case "scan":
			o.start = modelBound().Draw(t, "start")
			o.end = modelBound().Draw(t, "end")
			o.limit = rapid.IntRange(0, 4).Draw(t, "limit")
		}
		return o
	})
}

// apply runs o against r (and tx, for writes) and checks reads against m,
// which it updates for writes.
func (m model) apply(r meta.Reader, tx meta.Txn, o op) error {
	switch o.kind {
	case "set":
		if err := tx.Set(o.key, o.value); err != nil {
			return err
		}
		m[string(o.key)] = string(o.value)
	case "delete":
		if err := tx.Delete(o.key); err != nil {
			return err
		}
		delete(m, string(o.key))
	case "get":
		v, err := r.Get(o.key)
		want, ok := m[string(o.key)]
		switch {
		case !ok && errors.Is(err, meta.ErrNotFound):
		case !ok:
			return fmt.Errorf("%w: %v: got %q, %v; want not found", errMismatch, o, v, err)
		case err != nil || !bytes.Equal(v, []byte(want)):
			return fmt.Errorf("%w: %v: got %q, %v; want %q", errMismatch, o, v, err, want)
		}
	case "scan":
		var got []kv
		err := r.Scan(o.start, o.end, func(k, v []byte) (bool, error) {
			got = append(got, kv{string(k), string(v)})
			return o.limit == 0 || len(got) < o.limit, nil
		})
		if err != nil {
			return err
		}
		if want := m.scan(o.start, o.end, o.limit); !slices.Equal(got, want) {
			return fmt.Errorf("%w: %v: got %q, want %q", errMismatch, o, got, want)
		}
	}
	return nil
}

// testModel drives a store and a map with the same random transactions:
// committed and failed Updates, and Views, all checking every read.
func testModel(t *testing.T, open opener) {
	rapid.Check(t, func(rt *rapid.T) {
		s := open(t)
		defer func() {
			if err := s.Close(); err != nil && !errors.Is(err, meta.ErrClosed) {
				rt.Fatalf("Close: %v", err)
			}
		}()
		ctx := context.Background()
		m := model{}
		for _, p := range viewScan(rt, s, nil, nil) {
			m[p.k] = p.v
		}
		rt.Repeat(map[string]func(*rapid.T){
			"update": func(rt *rapid.T) {
				ops := rapid.SliceOfN(opGen(false), 1, 8).Draw(rt, "ops")
				abort := rapid.Bool().Draw(rt, "abort")
				var next model
				rollback := errors.New("metatest: rollback")
				err := s.Update(ctx, func(tx meta.Txn) error {
					next = maps.Clone(m) // fn may run again on conflict
					for _, o := range ops {
						if err := next.apply(tx, tx, o); err != nil {
							return err
						}
					}
					if abort {
						return rollback
					}
					return nil
				})
				switch {
				case abort && errors.Is(err, rollback):
				case err != nil:
					rt.Fatalf("update: %v", err)
				default:
					m = next
				}
			},
			"view": func(rt *rapid.T) {
				ops := rapid.SliceOfN(opGen(true), 1, 6).Draw(rt, "ops")
				if err := s.View(ctx, func(r meta.Reader) error {
					for _, o := range ops {
						if err := m.apply(r, nil, o); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					rt.Fatalf("view: %v", err)
				}
			},
			"": func(rt *rapid.T) {
				// Invariant after every action: the whole key space matches.
				got := viewScan(rt, s, nil, nil)
				if want := m.scan(nil, nil, 0); !slices.Equal(got, want) {
					rt.Fatalf("store %q, model %q", got, want)
				}
			},
		})
	})
}
