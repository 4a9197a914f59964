package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// A worker's update is acknowledged once it is durable, as Conductor's
// updateTask answers once its execution DAO holds the task: a worker told
// "taken" never has its answer lost with the process that took it.
//
//   - An IN_PROGRESS update (RemoteTask.ProgressOutput) is written before
//     it returns; a failed write leaves the attempt as it was (IN_PROGRESS,
//     its clocks, its output) and the error wraps ErrNotStored.
//   - A final answer (COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR) is the
//     RemoteWorkerFunc's result: the engine records it and writes the run;
//     RemoteTask.Stored waits for that write. When it fails the run stops,
//     resumable, with the attempt still waiting: the worker is told to send
//     the answer again (ErrNotStored), and the resumed attempt takes it.

// ErrNotStored: a worker's update was not written to the run store (the
// store failed, or the process stopped executing the run before the write).
// Nothing of it is kept: the worker sends it again, as Conductor's clients
// retry an update answered with a transient error.
var ErrNotStored = errors.New("the task update was not stored")

// storedWait bounds RemoteTask.Stored beyond its context: the engine's write
// of the outcome is bounded by persistDeadline.
const storedWait = persistDeadline + 10*time.Second

// attemptOutcome is the write of a remote attempt's outcome, awaited by
// whoever handed the engine the worker's answer (RemoteTask.Stored).
type attemptOutcome struct {
	once sync.Once
	done chan struct{}
	err  error
}

func newAttemptOutcome() *attemptOutcome { return &attemptOutcome{done: make(chan struct{})} }

// settle reports the write (nil: stored, or nothing left to store); only
// the first report counts.
func (o *attemptOutcome) settle(err error) {
	o.once.Do(func() {
		o.err = err
		close(o.done)
	})
}

// Stored waits until the engine has written the outcome the
// RemoteWorkerFunc's result brought to this attempt (call it after handing
// that result over): nil once it is stored, or when the attempt or its run
// had already ended (the answer changes nothing, as Conductor ignores an
// update of a task that ended). An error wrapping ErrNotStored means the
// answer is not kept: the worker must send it again. ctx bounds the wait.
func (t RemoteTask) Stored(ctx context.Context) error {
	a := t.att
	if a == nil {
		return nil
	}
	timer := time.NewTimer(storedWait)
	defer timer.Stop()
	select {
	case <-a.outcome.done:
		return a.outcome.err
	case <-ctx.Done():
		return fmt.Errorf("%w: task %s: %v", ErrNotStored, t.TaskID, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%w: task %s: its write was not confirmed within %v", ErrNotStored, t.TaskID, storedWait)
	}
}

// answerStored settles the outcome of rec's remote attempt, if one is
// awaited, with the result of the write that recorded it.
func (r *runState) answerStored(rec *taskRecord, err error) {
	r.mu.Lock()
	o := rec.answered
	rec.answered = nil
	r.mu.Unlock()
	if o == nil {
		return
	}
	if err != nil {
		err = fmt.Errorf("%w: task %s of run %s: %w", ErrNotStored, rec.TaskID, r.id, err)
	}
	o.settle(err)
}

// answerDropped settles rec's awaited outcome when execLeaf leaves without
// recording it: the run ended (terminated, timed out, failed elsewhere),
// and the answer changes nothing; or this process stopped executing the
// run (interrupted, its lease lost), and the answer is not kept.
func (r *runState) answerDropped(ctx context.Context, rec *taskRecord) {
	var err error
	if ctx.Err() != nil {
		r.mu.Lock()
		root := r.rootCtx
		r.mu.Unlock()
		if (root != nil && root.Err() != nil) || errors.Is(context.Cause(ctx), ErrLeaseLost) {
			err = fmt.Errorf("this process stopped executing the run: %w", context.Cause(ctx))
		}
	}
	r.answerStored(rec, err)
}
