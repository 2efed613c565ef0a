package audit

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Storage layout, in the metadata store's system table (internal/meta,
// keys.go: 'S' name):
//
//	'S' "audit/" seq(uint64 big-endian)   one record: recordVersion, then the Event's JSON
//	'S' "audit-next"                      the next sequence number (uint64 big-endian)
//
// Sequence numbers start at 1 and have no gaps: a record and the counter
// are written in one transaction, so a committed record n means records
// 1…n-1 are committed too.
var (
	recordPrefix = meta.SystemKey("audit/")
	nextSeqKey   = meta.SystemKey("audit-next")
)

// recordVersion is the first byte of every stored record; the rest is the
// Event as JSON. A later format gets a new version and an upgrade path.
const recordVersion byte = 1

// scanBatch is how many records Scan reads per metadata transaction, so a
// long scan never pins one snapshot.
const scanBatch = 256

// ErrStop may be returned by a Scan callback to end the scan early; Scan
// then returns nil.
var ErrStop = errors.New("audit: stop scan")

// Log is the durable, ordered, gap-free audit log in a metadata store. It is
// safe for concurrent use.
type Log struct {
	m meta.Store
}

// NewLog returns the audit log kept in m.
func NewLog(m meta.Store) *Log { return &Log{m: m} }

// RecordKey is the metadata key of record seq (exported for tests and for
// fsck-style tools).
func RecordKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), recordPrefix...), seq)
}

// Append validates e and stores it as the next record. When Append returns
// nil the record is durable (synced with the metadata store's commit). Append
// does not keep e. On error nothing was stored.
func (l *Log) Append(ctx context.Context, e *Event) error {
	_, err := l.AppendSeq(ctx, e)
	return err
}

// AppendSeq is Append, also returning the record's sequence number.
func (l *Log) AppendSeq(ctx context.Context, e *Event) (uint64, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("audit: encode event: %w", err)
	}
	val := append([]byte{recordVersion}, b...)
	var seq uint64
	err = l.m.Update(ctx, func(t meta.Txn) error {
		next, err := readNext(t)
		if err != nil {
			return err
		}
		seq = next
		if err := t.Set(RecordKey(seq), val); err != nil {
			return err
		}
		return t.Set(nextSeqKey, binary.BigEndian.AppendUint64(nil, seq+1))
	})
	if err != nil {
		return 0, fmt.Errorf("audit: append %s: %w", e.EventName, err)
	}
	return seq, nil
}

// NextSeq returns the sequence number the next record will get (1 for an
// empty log).
func (l *Log) NextSeq(ctx context.Context) (uint64, error) {
	var next uint64
	err := l.m.View(ctx, func(r meta.Reader) error {
		var err error
		next, err = readNext(r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: read sequence: %w", err)
	}
	return next, nil
}

func readNext(r meta.Reader) (uint64, error) {
	v, err := r.Get(nextSeqKey)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return 1, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("audit: sequence record of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Scan calls fn for every record with a sequence number >= fromSeq, in
// order, until fn returns an error or the records committed when the scan
// reached the end are exhausted. fn returning ErrStop ends the scan with
// nil; any other error is returned unchanged. fn runs outside any metadata
// transaction and may call Append (records appended meanwhile may or may
// not be seen). A record that cannot be decoded is an error: the log is
// product data and is never skipped over silently.
func (l *Log) Scan(ctx context.Context, fromSeq uint64, fn func(seq uint64, e *Event) error) error {
	if fromSeq == 0 {
		fromSeq = 1
	}
	type rec struct {
		seq uint64
		e   *Event
	}
	for {
		batch := make([]rec, 0, scanBatch)
		err := l.m.View(ctx, func(r meta.Reader) error {
			batch = batch[:0]
			return r.Scan(RecordKey(fromSeq), meta.PrefixEnd(recordPrefix), func(k, v []byte) (bool, error) {
				if len(k) != len(recordPrefix)+8 {
					return false, fmt.Errorf("audit: malformed record key of %d bytes", len(k))
				}
				seq := binary.BigEndian.Uint64(k[len(recordPrefix):])
				e, err := decodeRecord(v)
				if err != nil {
					return false, fmt.Errorf("audit: record %d: %w", seq, err)
				}
				batch = append(batch, rec{seq, e})
				return len(batch) < scanBatch, nil
			})
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := fn(r.seq, r.e); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		fromSeq = batch[len(batch)-1].seq + 1
	}
}

func decodeRecord(v []byte) (*Event, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, fmt.Errorf("unknown record version")
	}
	e := new(Event)
	if err := json.Unmarshal(v[1:], e); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return e, nil
}
