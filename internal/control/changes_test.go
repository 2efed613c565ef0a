package control_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/control"
)

func TestSubscribeResources(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []control.ResourceChange
	take := func() []control.ResourceChange {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	cancel := e.ctl.SubscribeResources(func(c control.ResourceChange) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	})
	d := e.create(t, control.CreateFileSystemInput{})
	fsChange := control.ResourceChange{ResourceType: control.ResourceTypeFileSystem, ResourceID: d.ID}
	require.Contains(t, take(), fsChange)

	_, err := e.ctl.PutBackupPolicy(ctx, d.ID, "ENABLED")
	require.NoError(t, err)
	require.Equal(t, []control.ResourceChange{fsChange}, take(), "one event per resource per transaction")

	ap, err := e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "c", FileSystemID: d.ID})
	require.NoError(t, err)
	require.Contains(t, take(), control.ResourceChange{ResourceType: control.ResourceTypeAccessPoint, ResourceID: ap.ID})

	mt, err := e.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: e.subnet(t, "us-east-1a")})
	require.NoError(t, err)
	require.ElementsMatch(t, []control.ResourceChange{fsChange, {ResourceType: control.ResourceTypeMountTarget, ResourceID: mt.ID}}, take())

	// A failed change announces nothing.
	_, err = e.ctl.PutBackupPolicy(ctx, "fs-00000000000000000", "ENABLED")
	require.Error(t, err)
	require.Empty(t, take())

	cancel()
	require.NoError(t, e.ctl.DeleteAccessPoint(ctx, ap.ID))
	require.Empty(t, take())
}
