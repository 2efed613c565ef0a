package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// mapTxn is a Txn over a map, enough to test the helpers of this package.
// Engines are tested with metatest.
type mapTxn map[string][]byte

func (m mapTxn) Get(key []byte) ([]byte, error) {
	v, ok := m[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(v), nil
}

func (m mapTxn) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if bytes.Compare([]byte(k), start) < 0 || (end != nil && bytes.Compare([]byte(k), end) >= 0) {
			continue
		}
		more, err := fn([]byte(k), m[k])
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (m mapTxn) Set(key, value []byte) error {
	m[string(key)] = slices.Clone(value)
	return nil
}

func (m mapTxn) Delete(key []byte) error {
	delete(m, string(key))
	return nil
}

func version(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestCheckFormat(t *testing.T) {
	tests := []struct {
		name    string
		store   mapTxn
		wantErr error
		want    mapTxn // store afterwards, when no error
	}{
		{"empty store is initialised", mapTxn{}, nil, mapTxn{string(KeyFormat): version(FormatVersion)}},
		{"current version", mapTxn{string(KeyFormat): version(FormatVersion), "Sx": nil}, nil,
			mapTxn{string(KeyFormat): version(FormatVersion), "Sx": nil}},
		{"version 1 is upgraded", mapTxn{string(KeyFormat): version(1), "Sx": nil}, nil,
			mapTxn{string(KeyFormat): version(FormatVersion), "Sx": nil}},
		{"newer version", mapTxn{string(KeyFormat): version(FormatVersion + 1)}, ErrUnsupportedFormat, nil},
		{"version zero", mapTxn{string(KeyFormat): version(0)}, ErrUnsupportedFormat, nil},
		{"malformed version", mapTxn{string(KeyFormat): {1, 2}}, ErrUnsupportedFormat, nil},
		{"keys without version", mapTxn{"Ifoo": nil}, ErrUnsupportedFormat, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFormat(tc.store)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, tc.store)
		})
	}
}

func TestCheckFormatPropagatesErrors(t *testing.T) {
	boom := errors.New("boom")
	require.Same(t, boom, CheckFormat(failingTxn{boom}))
}

type failingTxn struct{ err error }

func (f failingTxn) Get([]byte) ([]byte, error) { return nil, f.err }
func (f failingTxn) Scan([]byte, []byte, func(key, value []byte) (bool, error)) error {
	return f.err
}
func (f failingTxn) Set([]byte, []byte) error { return f.err }
func (f failingTxn) Delete([]byte) error      { return f.err }

func TestScanPrefix(t *testing.T) {
	m := mapTxn{}
	for _, k := range []string{"a", "b", "b\x00", "b\xff", "b\xff\xff", "c", "\xff", "\xff\xff"} {
		require.NoError(t, m.Set([]byte(k), nil))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"b", []string{"b", "b\x00", "b\xff", "b\xff\xff"}},
		{"b\xff", []string{"b\xff", "b\xff\xff"}},
		{"\xff", []string{"\xff", "\xff\xff"}}, // PrefixEnd is nil: to the end
		{"", []string{"a", "b", "b\x00", "b\xff", "b\xff\xff", "c", "\xff", "\xff\xff"}},
		{"d", nil},
	}
	for _, tc := range tests {
		var got []string
		require.NoError(t, ScanPrefix(m, []byte(tc.prefix), func(k, _ []byte) (bool, error) {
			got = append(got, string(k))
			return true, nil
		}))
		require.Equal(t, tc.want, got, "prefix %q", tc.prefix)
	}
}
