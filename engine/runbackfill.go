package engine

import (
	"context"

	"github.com/wfrun/wfrun/engine/runstore"
)

// BackfillUpdateTime records updateTime, derived from run id's document,
// in its index entry when that entry has none (one written before entries
// kept it), so later listings read it there (runstore.UpdateTimeBackfiller).
// It reports false when the store cannot.
func (e *Engine) BackfillUpdateTime(ctx context.Context, id string, updateTime int64) (bool, error) {
	bf, ok := e.runs.(runstore.UpdateTimeBackfiller)
	if !ok {
		return false, nil
	}
	return true, bf.BackfillUpdateTime(ctx, id, updateTime)
}
