package runstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// TaskRunReader says which run a task id is a task of: the store keeps
// the id of each record written with Task.ID, keyed to its run, until the
// run is deleted. A look at a task by its id alone (Conductor's GET
// /api/tasks/{taskId}) then reads that run, not every run of the store.
//
// What it answers is untrusted, as the rest of the store: the caller
// reads the run it names and finds the task there, or not.
type TaskRunReader interface {
	// TaskRun returns the run taskID was written in ("": the index has
	// no such id). complete says the index holds every task the store
	// holds: the store was empty when it began keeping the index, so no
	// earlier wfrun wrote a run the index never saw; a task id it does
	// not know is then no task of the store.
	TaskRun(ctx context.Context, taskID string) (runID string, complete bool, err error)
}

var (
	_ TaskRunReader = (*Memory)(nil)
	_ TaskRunReader = (*Bolt)(nil)
	_ TaskRunReader = (*Redis)(nil)
)

// indexTaskLocked keys task id taskID to run id. Callers hold m.mu.
func (m *Memory) indexTaskLocked(id, taskID string) {
	if m.taskRuns == nil {
		m.taskRuns, m.runTasks = map[string]string{}, map[string]map[string]struct{}{}
	}
	m.taskRuns[taskID] = id
	if m.runTasks[id] == nil {
		m.runTasks[id] = map[string]struct{}{}
	}
	m.runTasks[id][taskID] = struct{}{}
}

// TaskRun implements TaskRunReader: a memory store starts empty, so its
// index is complete.
func (m *Memory) TaskRun(_ context.Context, taskID string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.taskRuns[taskID], true, nil
}

// TaskRun implements TaskRunReader: a bolt store keeps no task index.
// Its keys would be task ids, random: each new record would dirty a page
// of its own in every commit (measured: a run's bytes written doubled, a
// lone run 33% slower, 16 concurrent runs under 5x one run's runs/s). A
// bolt file is one process's at a time, which knows the tasks it ran
// (serve's in-memory index) until it restarts.
func (b *Bolt) TaskRun(context.Context, string) (string, bool, error) { return "", false, nil }

// The redis store's task index: hash "taskruns" keys each task id to its
// run; set "taskids:<run>" holds a run's task ids, for Delete. Key
// "taskruns-complete" says the store held no run when a commit first found
// the index (commitGuard sets it when the runs' index is empty).
func (r *Redis) taskRunsKey() string         { return r.prefix + "taskruns" }
func (r *Redis) taskIDsKey(id string) string { return r.key("taskids", id) }
func (r *Redis) taskDoneKey() string         { return r.prefix + "taskruns-complete" }

// taskIndexArgs are the HSET and SADD arguments of the ids ch writes
// (nil: it writes none).
func (r *Redis) taskIndexArgs(id string, ch *Change) (hset, sadd []any) {
	for _, t := range ch.Tasks {
		if t.ID == "" {
			continue
		}
		if hset == nil {
			hset = []any{"hset", r.taskRunsKey()}
			sadd = []any{"sadd", r.taskIDsKey(id)}
		}
		hset = append(hset, t.ID, id)
		sadd = append(sadd, t.ID)
	}
	return hset, sadd
}

// TaskRun implements TaskRunReader.
func (r *Redis) TaskRun(ctx context.Context, taskID string) (string, bool, error) {
	var run *redis.StringCmd
	var done, runs *redis.IntCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		run = p.HGet(ctx, r.taskRunsKey(), taskID)
		done = p.Exists(ctx, r.taskDoneKey())
		runs = p.HLen(ctx, r.indexKey())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", false, unavailable(err)
	}
	id, _ := run.Result()
	// A store holding no run yet is complete too (its first commit
	// marks it so).
	return id, done.Val() > 0 || runs.Val() == 0, nil
}

// deleteTaskIndex removes the entries of run id (after the run: an entry
// left by a failure between the two names a run that is gone, which the
// caller finds).
func (r *Redis) deleteTaskIndex(ctx context.Context, id string) error {
	return unavailable(deleteTaskIndexScript.Run(ctx, r.c, []string{r.taskIDsKey(id), r.taskRunsKey()}).Err())
}

var deleteTaskIndexScript = redis.NewScript(`
local ids = redis.call('SMEMBERS', KEYS[1])
for i = 1, #ids, 500 do
  redis.call('HDEL', KEYS[2], unpack(ids, i, math.min(i + 499, #ids)))
end
redis.call('DEL', KEYS[1])
return 0`)
