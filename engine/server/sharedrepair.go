package server

import "context"

// reoffer offers again those of the tasks ids (this process's, which the
// shared queue has no entry for) that no poll took yet: an entry lost in
// Redis (a failover that dropped the latest writes, a key removed by hand)
// would otherwise leave the task SCHEDULED for ever, as Conductor's
// sweeper repairs a SCHEDULED task without a queue message by pushing it
// again. A task a worker holds (or that waits for its callback) is left
// alone: offering it would hand it out twice.
func (q *queue) reoffer(ctx context.Context, ids []string) {
	for _, id := range ids {
		q.mu.Lock()
		d := q.byID[id]
		lost := d != nil && d.polled.IsZero() && !d.callback
		q.mu.Unlock()
		if !lost {
			continue
		}
		if _, _, err := q.shared.put(ctx, d); err != nil {
			q.warnf("shared task queue: offering a lost task again failed", "taskId", id, "error", err.Error())
		}
	}
}

// repairRun offers again the tasks of run runID whose shared queue entry
// was lost (reoffer): a decide of the run (PUT /api/workflow/decide/{id})
// repairs it at once, as Conductor's sweep does.
func (q *queue) repairRun(ctx context.Context, runID string) {
	if q.shared == nil {
		return
	}
	q.mu.Lock()
	var ids []string
	for id, d := range q.byID {
		if d.t.RunID == runID {
			ids = append(ids, id)
		}
	}
	q.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if _, missing, err := q.shared.claims(ctx, ids); err == nil {
		q.reoffer(ctx, missing)
	}
}
