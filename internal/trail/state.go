package trail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// stateRecord holds the delivery progress, in the metadata store's system
// table: 'S' "trail/state", a state in JSON with its version.
var stateRecord = meta.SystemKey("trail/state")

const stateVersion = 1

// state is the delivery progress. Every change is committed before the
// step that depends on it: a pending file is recorded before it is written,
// and the progress it makes is committed after it is synced.
type state struct {
	Version      int       `json:"version"`
	StartLogging time.Time `json:"startLogging"`
	// DeliveredSeq is the last audit sequence number in a log file.
	DeliveredSeq   uint64    `json:"deliveredSeq"`
	LatestDelivery time.Time `json:"latestDelivery"`
	// Pending are the log files delivered since the last digest.
	Pending []LogFile `json:"pending"`
	// PendingLog is a log file being written.
	PendingLog *pendingLog `json:"pendingLog,omitempty"`
	// LastDigest is the newest digest (nil before the first).
	LastDigest *digestRef `json:"lastDigest,omitempty"`
	// PendingDigest is a digest being written.
	PendingDigest *pendingDigest `json:"pendingDigest,omitempty"`
}

type pendingLog struct {
	Key   string    `json:"key"`
	First uint64    `json:"first"`
	Last  uint64    `json:"last"`
	Time  time.Time `json:"time"`
}

type digestRef struct {
	Key       string    `json:"key"`
	End       time.Time `json:"end"`
	Hash      string    `json:"hash"`
	Signature string    `json:"signature"`
}

type pendingDigest struct {
	Key       string    `json:"key"`
	End       time.Time `json:"end"`
	Body      []byte    `json:"body"`
	Signature string    `json:"signature"`
}

func (t *Trail) loadState(ctx context.Context) (*state, error) {
	return readState(ctx, t.deps.Meta)
}

func readState(ctx context.Context, m meta.Store) (*state, error) {
	st := &state{Version: stateVersion}
	err := m.View(ctx, func(r meta.Reader) error {
		v, err := r.Get(stateRecord)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(v, st)
	})
	if err != nil {
		return nil, fmt.Errorf("trail: read state: %w", err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("trail: state version %d unknown", st.Version)
	}
	return st, nil
}

func (t *Trail) saveState(ctx context.Context, st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := t.deps.Meta.Update(ctx, func(tx meta.Txn) error { return tx.Set(stateRecord, b) }); err != nil {
		return fmt.Errorf("trail: save state: %w", err)
	}
	return nil
}

// OfflineStatus reads the delivery status recorded in m, for tools that
// open a stopped shelfd's store.
func OfflineStatus(ctx context.Context, m meta.Store) (Status, error) {
	st, err := readState(ctx, m)
	if err != nil {
		return Status{}, err
	}
	s := Status{StartLoggingTime: st.StartLogging, LatestDeliveryTime: st.LatestDelivery, DeliveredSeq: st.DeliveredSeq}
	if st.LastDigest != nil {
		s.LatestDigestDeliveryTime = st.LastDigest.End
		s.LatestDigestKey = st.LastDigest.Key
	}
	return s, nil
}
