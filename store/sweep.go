package store

import (
	"context"
	"time"
)

// RunSweeper calls s.Sweep every interval until ctx ends, and reports each
// removed secret (and each failed sweep) to report, so the caller can record
// it in its log or audit trail. It sweeps once at start.
func RunSweeper(ctx context.Context, s Sweeper, every time.Duration, report func(removed []Key, err error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		removed, err := s.Sweep(ctx)
		if (len(removed) > 0 || err != nil) && report != nil && ctx.Err() == nil {
			report(removed, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
