package control

import (
	"bytes"
	"context"
	"sync"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Resource types as AWS Config names them.
const (
	ResourceTypeFileSystem  = "AWS::EFS::FileSystem"
	ResourceTypeAccessPoint = "AWS::EFS::AccessPoint"
	ResourceTypeMountTarget = "AWS::EFS::MountTarget"
)

// ResourceChange says that a file system, access point or mount target
// (its record, its tags, or for a file system its policies) was created,
// changed or deleted by a committed transaction. It carries no state: a
// listener reads the resource to learn what it is now (or that it is
// gone).
type ResourceChange struct {
	// ResourceType is one of the ResourceType constants.
	ResourceType string
	ResourceID   string
}

// changeHub holds the resource-change subscribers.
type changeHub struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(ResourceChange)
}

// SubscribeResources registers fn to be called after every committed
// change of a file system, access point or mount target, once per resource
// per transaction, from the goroutine that made the change and with no
// lock held; fn must not block. Changes are derived from the writes of the
// control plane's metadata transactions (every change is one transaction),
// so no change path can forget to announce itself. Events of concurrent
// changes may arrive in any order; changes made before the subscription
// (or while the process was down) are not replayed, so a listener that
// must not miss any also reconciles against the current resources. The
// returned function unsubscribes.
func (s *Service) SubscribeResources(fn func(ResourceChange)) (cancel func()) {
	h := &s.changes
	h.mu.Lock()
	if h.fns == nil {
		h.fns = map[int]func(ResourceChange){}
	}
	id := h.next
	h.next++
	h.fns[id] = fn
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.fns, id)
		h.mu.Unlock()
	}
}

func (h *changeHub) publish(changes []ResourceChange) {
	h.mu.Lock()
	fns := make([]func(ResourceChange), 0, len(h.fns))
	for _, fn := range h.fns {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}

// changeStore is the meta.Store the control plane writes through: it
// notes which resource records a transaction wrote and publishes them to
// the hub once the transaction committed.
type changeStore struct {
	meta.Store
	hub *changeHub
}

// watchChanges wraps store so that committed changes reach hub.
func watchChanges(store meta.Store, hub *changeHub) meta.Store {
	return &changeStore{Store: store, hub: hub}
}

func (c *changeStore) Update(ctx context.Context, fn func(meta.Txn) error) error {
	var t *changeTxn
	err := c.Store.Update(ctx, func(txn meta.Txn) error {
		t = &changeTxn{Txn: txn} // a retry starts afresh
		return fn(t)
	})
	if err == nil && t != nil && len(t.changes) > 0 {
		c.hub.publish(t.changes)
	}
	return err
}

type changeTxn struct {
	meta.Txn
	changes []ResourceChange
}

// resourcePrefixes map record keys to the resource they belong to; the
// file-system policy is part of the file system's configuration.
var resourcePrefixes = []struct {
	prefix []byte
	typ    string
}{
	{fsKey(""), ResourceTypeFileSystem},
	{policyKey(""), ResourceTypeFileSystem},
	{apKey(""), ResourceTypeAccessPoint},
	{mtKey(""), ResourceTypeMountTarget},
}

func (t *changeTxn) note(key []byte) {
	for _, p := range resourcePrefixes {
		if id, ok := bytes.CutPrefix(key, p.prefix); ok && len(id) > 0 {
			c := ResourceChange{ResourceType: p.typ, ResourceID: string(id)}
			for _, have := range t.changes {
				if have == c {
					return
				}
			}
			t.changes = append(t.changes, c)
			return
		}
	}
}

func (t *changeTxn) Set(key, value []byte) error {
	if err := t.Txn.Set(key, value); err != nil {
		return err
	}
	t.note(key)
	return nil
}

func (t *changeTxn) Delete(key []byte) error {
	if err := t.Txn.Delete(key); err != nil {
		return err
	}
	t.note(key)
	return nil
}
