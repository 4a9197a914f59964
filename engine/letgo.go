package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// ExecutingHereError: run RunID is executed by this engine (this
// process), so an operation that needs it idle is refused. Ending is true
// when its execution was ending (its terminal status stored) and did not
// let go within the wait (letGoWait). errors.Is(err, runstore.ErrLeased)
// holds, as for a run another process executes: callers that leave a run
// to its executor leave it here too.
type ExecutingHereError struct {
	RunID  string
	Ending bool
}

func (e *ExecutingHereError) Error() string {
	if e.Ending {
		return fmt.Sprintf("run %s is still ending in this process (pid %d): its execution did not let go within %s; try again", e.RunID, os.Getpid(), letGoWait)
	}
	return fmt.Sprintf("run %s is being executed by this process (pid %d)", e.RunID, os.Getpid())
}

// Is makes errors.Is(err, runstore.ErrLeased) true.
func (e *ExecutingHereError) Is(target error) bool { return target == runstore.ErrLeased }

// letGoWait bounds how long an operation on a run waits for this engine's
// execution of it to let go once that execution has ended the run: its
// terminal status is stored (and shown) while the goroutine still ends
// its children, archives and starts its failure workflow. A client that
// reruns or retries as soon as it sees the status (as Conductor allows)
// waits that long rather than being refused.
const letGoWait = 10 * time.Second

// awaitLetGo waits, up to letGoWait or ctx's end, while this engine
// executes run id and that execution has ended the run (terminal status).
// It returns nil once the run is not executed here, an
// *ExecutingHereError at once when its execution is still running it, or
// one with Ending when the ending execution did not let go in time.
func (e *Engine) awaitLetGo(ctx context.Context, id string) error {
	deadline := time.Now().Add(letGoWait)
	step := time.Millisecond
	for {
		r := e.activeRun(id)
		if r == nil {
			return nil
		}
		r.mu.Lock()
		ending := terminalWorkflow(r.doc.Status)
		r.mu.Unlock()
		if !ending {
			return &ExecutingHereError{RunID: id}
		}
		if !time.Now().Before(deadline) {
			return &ExecutingHereError{RunID: id, Ending: true}
		}
		// Real time, not the engine's clock: the wait is for a goroutine.
		if err := sleepCtx(ctx, step); err != nil {
			return err
		}
		step = min(2*step, 20*time.Millisecond)
	}
}
