package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/masking"
)

// Task execution logs (Conductor's TaskExecLog): lines a worker posts for a
// task while it works on it. A line may carry a secret value the worker was
// handed, so it is masked with its run's masker — the values the run
// registered, and its parents' — whole, then cut, before it is stored, as
// a worker's output is. Lines are kept in the run store beside the run
// (runstore.TaskLogger), sealed and bound to the run, and deleted with it.

// ErrNoTaskLogs: the run store keeps no task logs.
var ErrNoTaskLogs = errors.New("the run store keeps no task logs")

// MaxTaskLogLine is the longest line kept (longer lines are cut, after
// masking); MaxTaskLogLines the most lines a run keeps (the oldest go).
const (
	MaxTaskLogLine  = 8 << 10
	MaxTaskLogLines = 1000
)

// TaskLog is one line of a task's execution log, as Conductor's
// TaskExecLog shows it.
type TaskLog struct {
	Log         string `json:"log"`
	TaskID      string `json:"taskId"`
	CreatedTime int64  `json:"createdTime"`
}

// taskLogKind binds a sealed line to what it is.
const taskLogKind = "task log"

// AppendTaskLog masks line with run runID's masker, cuts it to
// MaxTaskLogLine and stores it as a line of task taskID's log. The run
// must be RUNNING or PAUSED (ErrNotRunning: an ended run's values are no
// longer known, so nothing could mask the line).
func (e *Engine) AppendTaskLog(ctx context.Context, runID, taskID, line string) error {
	tl, ok := e.runs.(runstore.TaskLogger)
	if !ok {
		return ErrNoTaskLogs
	}
	maskers, err := e.runMaskers(ctx, runID)
	if err != nil {
		return err
	}
	for _, m := range maskers[1:] {
		line = m.MaskString(line)
	}
	// Masked whole by each, then cut.
	entry, err := json.Marshal(TaskLog{Log: maskers[0].ExcerptString(line, MaxTaskLogLine), TaskID: taskID, CreatedTime: e.clock.Now().UnixMilli()})
	if err != nil {
		return err
	}
	sealed, err := e.Transit().Seal(entry, taskLogKind, runID)
	if err != nil {
		return err
	}
	return tl.AppendTaskLog(ctx, runID, sealed, MaxTaskLogLines)
}

// TaskLogs returns the lines of task taskID's log in run runID, oldest
// first. A line that does not open (damaged, or not sealed for this run)
// is an error naming the run, never its content.
func (e *Engine) TaskLogs(ctx context.Context, runID, taskID string) ([]TaskLog, error) {
	tl, ok := e.runs.(runstore.TaskLogger)
	if !ok {
		return nil, ErrNoTaskLogs
	}
	entries, err := tl.TaskLogs(ctx, runID)
	if err != nil {
		return nil, err
	}
	var out []TaskLog
	for i, sealed := range entries {
		plain, err := e.Transit().Open(sealed, taskLogKind, runID)
		if err != nil {
			return nil, fmt.Errorf("run %s: task log entry %d: %w", runID, i, err)
		}
		var l TaskLog
		if err := json.Unmarshal(plain, &l); err != nil {
			return nil, fmt.Errorf("run %s: task log entry %d: damaged", runID, i)
		}
		if l.TaskID == taskID {
			out = append(out, l)
		}
	}
	return out, nil
}

// maxMaskerDepth bounds the parents whose values mask a child's lines.
const maxMaskerDepth = 16

// runMaskers are the maskers of run id and of its parents (the values
// each registered, from their stored logs), id's first.
func (e *Engine) runMaskers(ctx context.Context, id string) ([]*masking.Masker, error) {
	var out []*masking.Masker
	for depth := 0; id != "" && depth < maxMaskerDepth; depth++ {
		doc, archived, err := e.runs.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		var d runDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
		}
		if depth == 0 && (archived || terminalWorkflow(d.Status)) {
			return nil, fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
		}
		if !archived {
			def, err := e.Parse(d.WorkflowDefinition)
			if err != nil {
				return nil, fmt.Errorf("run %s: stored definition: %w", id, err)
			}
			r := e.newState(def, id)
			r.doc = d
			r.doc.Tasks = nil
			if err := r.newSecrets(nil); err != nil {
				return nil, fmt.Errorf("run %s: %w", id, err)
			}
			if err := r.openLog(ctx, &d); err != nil {
				return nil, fmt.Errorf("run %s: %w", id, err)
			}
			out = append(out, r.sec.Masker())
		}
		id = d.ParentWorkflowID
	}
	return out, nil
}
