package server

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/control"
)

// mountTargetFollower keeps one NFS listener per available mount target of
// the control plane, on the mount target's own address and cfg.NFS.Port, as
// EFS serves each mount target on its network interface. Creating a mount
// target starts its listener; deleting it stops the listener and closes its
// connections.
//
// Control delivers change events without ordering guarantees, so every event
// just triggers a reconciliation against the stored mount targets; one
// reconciliation runs at a time.
type mountTargetFollower struct {
	s    *Server
	port int

	mu struct {
		sync.Mutex
		serving map[string]string // mount target ID → file-system ID
	}
}

// followMountTargets starts listeners for the existing mount targets and
// subscribes to their changes.
func (s *Server) followMountTargets(ctx context.Context) error {
	f := &mountTargetFollower{s: s, port: s.cfg.NFS.Port}
	f.mu.serving = map[string]string{}
	if err := f.reconcile(ctx); err != nil {
		return err
	}
	cancel := s.control.SubscribeMountTargets(func(control.MountTargetEvent) {
		// The event comes from the goroutine of the API call that made the
		// change; binding or closing a listener is quick.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.reconcile(ctx); err != nil {
			s.log.Error("follow mount targets", "err", err)
		}
	})
	s.closers = append(s.closers, func() error { cancel(); return nil })
	return nil
}

// reconcile makes the listeners match the available mount targets. A
// listener that cannot be bound is logged and retried on the next change.
func (f *mountTargetFollower) reconcile(ctx context.Context) error {
	mts, err := f.s.control.MountTargets(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]control.MountTarget{}
	for _, mt := range mts {
		if mt.LifeCycleState == control.StateAvailable && mt.IPAddress.IsValid() {
			want[mt.ID] = mt
		}
	}
	for id := range f.mu.serving {
		if _, ok := want[id]; !ok {
			f.s.nfs.RemoveListener(id)
			delete(f.mu.serving, id)
		}
	}
	for id, mt := range want {
		if _, ok := f.mu.serving[id]; ok {
			continue
		}
		addr := net.JoinHostPort(mt.IPAddress.String(), strconv.Itoa(f.port))
		bound, err := f.s.nfs.AddListener(ctx, addr, mt.FileSystemID, id)
		if err != nil {
			f.s.log.Error("mount target listener", "mt_id", id, "fs_id", mt.FileSystemID, "addr", addr, "err", err)
			continue
		}
		f.mu.serving[id] = mt.FileSystemID
		f.s.log.Info("mount target served", "mt_id", id, "fs_id", mt.FileSystemID, "addr", bound.String())
	}
	return nil
}
