package nfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Client records (RFC 8881 §8.4.3, RFC 7530 §9.6.3.4): a confirmed client
// is recorded in meta before it can hold state, and forgotten when it is
// destroyed or its lease expires. After a restart the recorded owners of
// each file system may reclaim their opens and locks during a grace
// period; everyone else waits (NFS4ERR_GRACE) until it ends.
//
// Key: meta.SystemKey("nfs-client/" + fsID + "/" + hex(SHA-256(owner))[:32]);
// value: a versioned JSON record holding the owner itself.

const recordPrefix = "nfs-client/"

type clientRecord struct {
	Version int    `json:"v"`
	FSID    string `json:"fs_id"`
	Owner   []byte `json:"owner"`
}

const clientRecordVersion = 1

func recordKey(k ownerKey) []byte {
	sum := sha256.Sum256([]byte(k.owner))
	return meta.SystemKey(recordPrefix + k.fsID + "/" + hex.EncodeToString(sum[:16]))
}

// recordStore reads and writes client records. It has its own lock so
// that no I/O happens under Program.mu.
type recordStore struct {
	store meta.Store

	mu     sync.Mutex
	loaded atomic.Bool
}

// load reads the records of the previous instance once and starts a grace
// period for every file system that had clients.
func (r *recordStore) load(ctx context.Context, p *Program) nfsv4.Nfsstat4 {
	if r.store == nil || r.loaded.Load() {
		return nfsv4.NFS4_OK
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded.Load() {
		return nfsv4.NFS4_OK
	}
	pending := map[string]map[string]bool{}
	err := r.store.View(ctx, func(rd meta.Reader) error {
		clear(pending)
		return meta.ScanPrefix(rd, meta.SystemKey(recordPrefix), func(k, v []byte) (bool, error) {
			var rec clientRecord
			if err := json.Unmarshal(v, &rec); err != nil || rec.Version != clientRecordVersion {
				p.log.Warn("nfs: skipping malformed client record", "key", fmt.Sprintf("%q", k))
				return true, nil
			}
			if pending[rec.FSID] == nil {
				pending[rec.FSID] = map[string]bool{}
			}
			pending[rec.FSID][string(rec.Owner)] = false
			return true, nil
		})
	})
	if err != nil {
		p.log.Warn("nfs: load client records", "err", err)
		return nfsv4.NFS4ERR_DELAY
	}
	p.mu.Lock()
	for fsID, owners := range pending {
		p.mu.grace[fsID] = &graceState{until: p.boot.Add(p.opts.GraceTime), pending: owners}
		p.log.Info("nfs grace period started", "fs_id", fsID, "clients", len(owners))
	}
	p.mu.Unlock()
	r.loaded.Store(true)
	return nfsv4.NFS4_OK
}

// put records that owner k has a confirmed client.
func (r *recordStore) put(ctx context.Context, k ownerKey) error {
	v, err := json.Marshal(clientRecord{Version: clientRecordVersion, FSID: k.fsID, Owner: []byte(k.owner)})
	if err != nil {
		return err
	}
	return r.store.Update(ctx, func(t meta.Txn) error { return t.Set(recordKey(k), v) })
}

// forget deletes the records of owners ks.
func (r *recordStore) forget(ctx context.Context, ks []ownerKey) error {
	return r.store.Update(ctx, func(t meta.Txn) error {
		for _, k := range ks {
			if err := t.Delete(recordKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// flushForgotten deletes the records queued by expiries and destroys,
// outside Program.mu. A failure is logged and retried on a later request.
func (p *Program) flushForgotten(ctx context.Context) {
	p.mu.Lock()
	ks := p.mu.forget
	p.mu.forget = nil
	// Owners that came back since keep their record.
	kept := ks[:0]
	for _, k := range ks {
		if p.confirmedLocked(k) == nil {
			kept = append(kept, k)
		}
	}
	p.mu.Unlock()
	if len(kept) == 0 || p.records.store == nil {
		return
	}
	if err := p.records.forget(context.WithoutCancel(ctx), kept); err != nil {
		if !errors.Is(err, meta.ErrClosed) {
			p.log.Warn("nfs: forget client records", "err", err)
		}
		p.mu.Lock()
		p.mu.forget = append(p.mu.forget, kept...)
		p.mu.Unlock()
	}
}
