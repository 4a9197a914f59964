package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
)

// Task execution logs (Conductor's TaskExecLog): lines a worker posts for a
// task while it works on it. A line may carry a secret value the worker was
// handed, so it is masked with its run's masker — the values the run
// registered, and its parents' — whole, then cut, before it is stored, as
// a worker's output is; the stored lines are masked again when the run
// registers values later. Lines are kept in the run store beside the run
// (runstore.TaskLogger), each sealed and bound to the run and to its
// position, and deleted with it.

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

// taskLogBinding binds a sealed line to its run and its position in the
// run's log: an entry moved, repeated or taken out does not open where it
// lies.
func taskLogBinding(runID string, seq uint64) string {
	return runID + "#" + strconv.FormatUint(seq, 10)
}

// AppendTaskLog is AppendTaskLogs for one line.
func (e *Engine) AppendTaskLog(ctx context.Context, runID, taskID, line string) error {
	return e.AppendTaskLogs(ctx, runID, taskID, []string{line})
}

// TaskLogOption changes what AppendTaskLogs masks with.
type TaskLogOption func(*taskLogConfig)

type taskLogConfig struct{ output []byte }

// WithTaskOutput masks the lines with the `_secrets` leaves of output too:
// the output of the task result that carries them, not yet applied to the
// run (a worker's TaskResult holds both).
func WithTaskOutput(output []byte) TaskLogOption {
	return func(c *taskLogConfig) { c.output = output }
}

// AppendTaskLogs masks lines with run runID's masker, cuts each to
// MaxTaskLogLine and stores them as lines of task taskID's log, in one
// write; of a batch longer than MaxTaskLogLines only the last are kept.
// The run must be RUNNING or PAUSED (ErrNotRunning: an ended run's values
// are no longer known, so nothing could mask the lines).
func (e *Engine) AppendTaskLogs(ctx context.Context, runID, taskID string, lines []string, opts ...TaskLogOption) error {
	tl, ok := e.runs.(runstore.TaskLogger)
	if !ok {
		return ErrNoTaskLogs
	}
	if len(lines) == 0 {
		return nil
	}
	var c taskLogConfig
	for _, o := range opts {
		o(&c)
	}
	if len(lines) > MaxTaskLogLines {
		lines = lines[len(lines)-MaxTaskLogLines:]
	}
	sec, err := e.runMasker(ctx, runID)
	if err != nil {
		return err
	}
	// The run executed here, if sec is its masker: kept, as it may end
	// (and leave the active runs) before the lines are stored.
	live := e.activeRun(runID)
	if live != nil && live.sec != sec {
		live = nil
	}
	if len(c.output) > 0 {
		// Protect registers the output's `_secrets` leaves (the output
		// itself is applied by the run, not here).
		if _, _, err := sec.Protect(c.output, "/tasks/"+taskID+"/outputData"); err != nil {
			return fmt.Errorf("run %s: task %s: outputData: %w", runID, taskID, err)
		}
	}
	gen := sec.Generation() // what the lines are masked with at least
	now := e.clock.Now().UnixMilli()
	entries := make([][]byte, len(lines))
	for i, line := range lines {
		// Masked whole, then cut.
		if entries[i], err = json.Marshal(TaskLog{Log: sec.Excerpt(line, MaxTaskLogLine), TaskID: taskID, CreatedTime: now}); err != nil {
			return err
		}
	}
	next := 0
	err = tl.AppendTaskLogs(ctx, runID, len(entries), func(seq uint64) ([]byte, error) {
		entry := entries[next]
		next++
		return e.Transit().Seal(entry, taskLogKind, taskLogBinding(runID, seq))
	}, MaxTaskLogLines)
	if err != nil {
		return err
	}
	if live != nil && sec.Generation() != gen {
		// The run registered values while the lines were masked and
		// stored, and may have masked its lines again without them —
		// or made its last pass, archived: a pass now masks them (they
		// are new to it) with every value.
		live.saveMu.Lock()
		live.remaskTaskLogsPass(ctx, true)
		live.saveMu.Unlock()
	}
	return nil
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
	for i, en := range entries {
		if i > 0 && en.Seq != entries[i-1].Seq+1 {
			return nil, fmt.Errorf("run %s: task log entry %d: %w: numbered %d after %d", runID, i, ErrTaskLogOrder, en.Seq, entries[i-1].Seq)
		}
		l, err := e.openTaskLog(runID, en)
		if err != nil {
			return nil, fmt.Errorf("run %s: task log entry %d: %w", runID, i, err)
		}
		if l.TaskID == taskID {
			out = append(out, l)
		}
	}
	return out, nil
}

// ErrTaskLogOrder: a run's stored task log entries are not in the order
// they were written, or one is repeated or missing.
var ErrTaskLogOrder = errors.New("task log entries out of order, repeated or missing")

// openTaskLog opens one stored entry at its position.
func (e *Engine) openTaskLog(runID string, en runstore.TaskLogEntry) (TaskLog, error) {
	var l TaskLog
	plain, err := e.Transit().Open(en.Data, taskLogKind, taskLogBinding(runID, en.Seq))
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(plain, &l); err != nil {
		return l, errors.New("damaged")
	}
	return l, nil
}

// taskLogIndex follows a run's stored task log lines so that a value
// registered later opens and masks again only the lines it may be in
// (masking.Index), not every line the run keeps with each new value.
type taskLogIndex struct {
	idx       *masking.Index[uint64] // by sequence number: the lines as stored
	low, next uint64                 // seqs in [low, next) are indexed; from next on, not yet
	opened    int                    // lines opened to be masked again (tests, SPEC §8)
}

// remaskTaskLogs masks run r's stored task log lines again with the values
// it registered since they were masked (since: the masker's size then), in
// one write, when any changes. Lines not seen before — appended since the
// last pass, here or by another process whose masker may have been older
// — are masked with every value; the others only when the index lists
// them. Called after a write of the run when its masker grew, with saveMu
// held.
func (r *runState) remaskTaskLogs(ctx context.Context, since int) error {
	tl, ok := r.e.runs.(runstore.TaskLogger)
	if !ok {
		return nil
	}
	// Read first: a rewrite is a commit, and most runs have no line the
	// new values change (or no line at all).
	entries, err := tl.TaskLogs(ctx, r.id)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil // the index, if any, is kept for lines to come
	}
	li := &r.logIdx
	if li.idx == nil {
		li.idx = runsecrets.NewRemaskIndex[uint64](r.sec)
	}
	// Lines the store dropped (the oldest beyond MaxTaskLogLines).
	for first := entries[0].Seq; li.low < first && li.low < li.next; li.low++ {
		li.idx.Delete(li.low)
	}
	listed := map[uint64]bool{}
	for _, seq := range li.idx.Candidates(since, nil) {
		listed[seq] = true
	}
	// A line cut (MaxTaskLogLine) before a value was registered may end
	// with the value's head: masked at the cut with the heads of the
	// values registered since it was masked — every value for a line
	// not seen before, whose masker may have been older.
	sinceOf := func(seq uint64) int {
		if seq >= li.next {
			return 0
		}
		return since
	}
	masked := map[uint64]string{} // lines the new values change
	for _, en := range entries {
		fresh := en.Seq >= li.next
		if !fresh && !listed[en.Seq] {
			continue
		}
		li.opened++
		l, err := r.e.openTaskLog(r.id, en)
		if err != nil {
			return fmt.Errorf("run %s: task log entry %d: %w", r.id, en.Seq, err)
		}
		if m := r.sec.RemaskText(l.Log, sinceOf(en.Seq)); m != l.Log {
			masked[en.Seq] = m
		} else if fresh {
			li.idx.SetText(en.Seq, []byte(l.Log))
		}
	}
	if len(masked) > 0 {
		err := tl.RewriteTaskLogs(ctx, r.id, func(en runstore.TaskLogEntry) ([]byte, error) {
			if _, ok := masked[en.Seq]; !ok {
				return nil, nil
			}
			// Opened again: the entry as it stands now.
			l, err := r.e.openTaskLog(r.id, en)
			if err != nil {
				return nil, fmt.Errorf("run %s: task log entry %d: %w", r.id, en.Seq, err)
			}
			m := r.sec.RemaskText(l.Log, sinceOf(en.Seq))
			masked[en.Seq] = m
			if m == l.Log {
				return nil, nil
			}
			l.Log = m
			plain, err := json.Marshal(l)
			if err != nil {
				return nil, err
			}
			return r.e.Transit().Seal(plain, taskLogKind, taskLogBinding(r.id, en.Seq))
		})
		if err != nil {
			return err // tried again at the next write; fresh lines stay fresh
		}
		for seq, m := range masked {
			li.idx.SetText(seq, []byte(m))
		}
	}
	if li.next == 0 && li.low == 0 {
		li.low = entries[0].Seq
	}
	li.next = max(li.next, entries[len(entries)-1].Seq+1)
	return nil
}

// runMasker is the secret boundary whose masker masks run id's lines: the
// live one when this process executes the run, else one rebuilt from the
// stored run and its ancestors (each restores the values it registered
// into one shared masker, root first, as a resumed run's chain does).
func (e *Engine) runMasker(ctx context.Context, id string) (*runsecrets.Run, error) {
	return e.chainMasker(ctx, id, false)
}

// chainMasker is runMasker; ended allows a run that ended and is not
// archived yet (an archived run's values are gone).
func (e *Engine) chainMasker(ctx context.Context, id string, ended bool) (*runsecrets.Run, error) {
	return e.chainMaskerFrom(ctx, id, nil, ended)
}

// chainMaskerFrom is chainMasker with run id's document already read (an
// unarchived primary record: Show's), so it is not read again; nil reads
// it.
func (e *Engine) chainMaskerFrom(ctx context.Context, id string, first []byte, ended bool) (*runsecrets.Run, error) {
	if r := e.activeRun(id); r != nil {
		r.mu.Lock()
		status := r.doc.Status
		r.mu.Unlock()
		if !ended && terminalWorkflow(status) {
			return nil, fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, status)
		}
		return r.sec, nil
	}
	var chain []*runDoc
	seen := map[string]bool{}
	for cur := id; cur != ""; {
		if seen[cur] || len(chain) > maxSubWorkflowDepth {
			return nil, fmt.Errorf("run %s: parent chain loops or is deeper than %d at %s", id, maxSubWorkflowDepth, cur)
		}
		seen[cur] = true
		doc, archived := first, false
		if cur != id || first == nil {
			var err error
			if doc, archived, err = e.runs.Load(ctx, cur); err != nil {
				return nil, err
			}
		}
		var d runDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("run %s: damaged document: %w", cur, err)
		}
		if len(chain) == 0 && (archived || (!ended && terminalWorkflow(d.Status))) {
			return nil, fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
		}
		chain = append(chain, &d)
		cur = d.ParentWorkflowID
	}
	var sec *runsecrets.Run
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		def, err := e.Parse(d.WorkflowDefinition)
		if err != nil {
			return nil, fmt.Errorf("run %s: stored definition: %w", d.WorkflowID, err)
		}
		r := e.newState(def, d.WorkflowID)
		r.doc = *d
		r.doc.Tasks = nil
		if err := r.newSecrets(sec); err != nil {
			return nil, fmt.Errorf("run %s: %w", d.WorkflowID, err)
		}
		r.keepNamedIDs(d) // secrets.go
		// An archived ancestor keeps no run log (its values are gone with
		// it); what its head still holds is restored.
		if err := r.openLog(ctx, &r.doc); err != nil {
			return nil, fmt.Errorf("run %s: %w", d.WorkflowID, err)
		}
		sec = r.sec
	}
	return sec, nil
}
