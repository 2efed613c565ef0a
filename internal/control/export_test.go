package control

import (
	"context"

	"github.com/shelf-efs/shelf/internal/meta"
)

// ForceState forces the state of a file-system record, to simulate a
// crash in the middle of a creation or deletion.
func ForceState(ctx context.Context, m meta.Store, id string, st LifeCycleState) error {
	return m.Update(ctx, func(t meta.Txn) error {
		rec, err := getFS(t, id)
		if err != nil {
			return err
		}
		rec.State = st
		return putJSON(t, fsKey(id), rec)
	})
}
