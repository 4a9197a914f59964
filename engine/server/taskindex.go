package server

import "sync"

// taskIndexSize bounds the task ids a taskIndex keeps in each of its two
// generations.
const taskIndexSize = 1 << 15

// taskIndex remembers which run a task id is a task of: the tasks of the
// runs this process executes (their task events) and the tasks it found
// by reading runs. A task id belongs to one run for good, so a remembered
// run is never wrong, only possibly gone (the run removed): findTask reads
// it, and reads every run as before when the task is not there. It holds
// ids only — who may read a task is decided on the run read, as for a task
// found by reading every run. Memory is bounded: when the current
// generation is full it becomes the old one and the oldest is dropped.
type taskIndex struct {
	mu       sync.Mutex
	cur, old map[string]string // task id → run id
}

func (x *taskIndex) put(taskID, runID string) {
	if taskID == "" || runID == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur[taskID] == runID {
		return
	}
	if x.cur == nil || len(x.cur) >= taskIndexSize {
		x.old, x.cur = x.cur, make(map[string]string, 64)
	}
	x.cur[taskID] = runID
}

// runOf is the run task taskID was seen in ("": not known).
func (x *taskIndex) runOf(taskID string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if id, ok := x.cur[taskID]; ok {
		return id
	}
	return x.old[taskID]
}
