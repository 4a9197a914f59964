package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// An answer to a task by its id — a worker's update that reaches a serve
// process other than the one executing the run, `wfrun task complete
// --task-id`, a poll of a task another process offered — names a run and
// an attempt, not the attempt's record. Reading the run whole to find the
// record costs what the run holds: a run of n tasks answered that way
// costs O(n²). So a task id carries the seq of its record (taskIDAt): the
// one record is read (runstore.TaskReader) and believed only when it is
// the attempt's, its taskId and seq those asked for. Anything else — an id
// made by an earlier wfrun, or before its record had a seq (a case checked
// before it is mapped), an id a rerun kept for a record of another seq, a
// store that reads runs whole only — reads the run whole, as before.
//
// The seq is not hidden (it is in the record, which the API shows) and
// not trusted (the record read must carry the id); the id keeps 60 random
// bits besides it and its run's tag (newTaskID).

// taskIDAt returns a new random UUID-shaped id (version 4) for the record
// at seq of run runID: its first 32 bits are seq XOR its last 32, and it
// carries the run's tag (newTaskID).
func taskIDAt(seq int, runID string) string {
	return taskIDAtTag(seq, runstore.RunTagBytes(runID))
}

// taskIDAtTag is taskIDAt for a run whose tag is known (runState.tag):
// the run's id is not hashed again for each of its records.
func taskIDAtTag(seq int, tag [4]byte) string {
	b := newTaskIDBytes(tag)
	binary.BigEndian.PutUint32(b[0:4], uint32(seq)^binary.BigEndian.Uint32(b[12:16]))
	return uuidString(b)
}

// A task asked for by its id alone names no run. So a task id carries
// its run's tag: bytes 8 to 11 (after the variant bits, 30 bits) are the
// first bits of the SHA-256 of the run id, which the run store keeps with
// the run (runstore.Change.RunTag, runstore.TaskRunReader): the runs with
// that tag — one, but for a collision — are where the task is looked for,
// not every run of the store. The tag hides nothing (the run id is shown
// beside the task) and is not trusted: the task must be found in the run.

// newTaskID returns a new random UUID-shaped id (version 4) carrying run
// runID's tag, with no seq (taskIDAt's).
func newTaskID(runID string) string {
	return uuidString(newTaskIDBytes(runstore.RunTagBytes(runID)))
}

// newTaskIDBytes is a new random version 4 UUID carrying tag, a run's tag
// (runstore.RunTagBytes).
func newTaskIDBytes(tag [4]byte) [16]byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	copy(b[8:12], tag[:])
	return b
}

// taskIDTag is the run tag task id id carries (false: id is not
// UUID-shaped).
func taskIDTag(id string) (string, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return "", false
	}
	tag := strings.ToLower(id[19:23] + id[24:28])
	if _, err := hex.DecodeString(tag); err != nil {
		return "", false
	}
	return tag, true
}

// carriesTag reports whether id, a UUID's 36 bytes, carries run tag tag
// as newTaskIDBytes writes it (bytes 8 to 11).
func carriesTag(id []byte, tag [4]byte) bool {
	if len(id) != 36 || id[23] != '-' {
		return false
	}
	var b [4]byte
	if _, err := hex.Decode(b[:2], id[19:23]); err != nil {
		return false
	}
	if _, err := hex.Decode(b[2:], id[24:28]); err != nil {
		return false
	}
	return b == tag
}

// seqHint is the seq taskIDAt put in id (false: id is not UUID-shaped, or
// carries no seq above 0).
func seqHint(id string) (int, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return 0, false
	}
	var hi, lo [4]byte
	if _, err := hex.Decode(hi[:], []byte(id[0:8])); err != nil {
		return 0, false
	}
	if _, err := hex.Decode(lo[:], []byte(id[28:36])); err != nil {
		return 0, false
	}
	seq := binary.BigEndian.Uint32(hi[:]) ^ binary.BigEndian.Uint32(lo[:])
	if seq == 0 || seq > 1<<31-1 {
		return 0, false
	}
	return int(seq), true
}

// lookTask reads run runID's head and the record of attempt taskID
// through the seq its id carries. ok false: the store cannot say by one
// record (the caller reads the run whole); archived: the run is archived
// (head and task nil). A run the store does not hold is
// runstore.ErrNotFound.
func (e *Engine) lookTask(ctx context.Context, runID, taskID string) (head, task []byte, archived, ok bool, err error) {
	tr, isReader := e.runs.(runstore.TaskReader)
	seq, hinted := seqHint(taskID)
	if !isReader || !hinted {
		return nil, nil, false, false, nil
	}
	head, task, archived, err = tr.LoadTask(ctx, runID, seq)
	if err != nil || archived {
		return nil, nil, archived, err == nil, err
	}
	if id := gjson.GetBytes(task, "taskId"); id.Type != gjson.String || id.Str != taskID {
		return nil, nil, false, false, nil
	}
	if n := gjson.GetBytes(task, "seq"); n.Type != gjson.Number || n.Raw != itoa(seq) {
		return nil, nil, false, false, nil
	}
	// Authenticated, not believed (recordseal.go).
	if err := e.checkStoredTask(runID, head, task); err != nil {
		return nil, nil, false, false, err
	}
	return head, task, false, true, nil
}

// TaskAttemptWaiting reports whether the attempt with task id taskID of
// run runID still waits for a worker, as the run store holds it: the run
// is RUNNING or PAUSED and the attempt SCHEDULED or IN_PROGRESS. A run
// that is not stored (or no longer holds the attempt) is not waiting. A
// server sharing its task queue with other processes asks before handing
// out a task of a run another process executes: a run terminated, timed
// out or failed elsewhere leaves no task for a worker. It reads the
// attempt's record, not the run (lookTask).
func (e *Engine) TaskAttemptWaiting(ctx context.Context, runID, taskID string) (bool, error) {
	st, err := e.StoredAttempt(ctx, runID, taskID)
	if errors.Is(err, runstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return (st.RunStatus == StatusRunning || st.RunStatus == StatusPaused) && st.Found && st.Task.Open(), nil
}

// AttemptState is what the run store holds of an attempt and its run.
type AttemptState struct {
	// RunStatus is the run's status; ParentID and ParentTaskID its
	// parent's id and the parent's SUB_WORKFLOW task id, for a child.
	RunStatus, ParentID, ParentTaskID string
	// Task is the attempt's record, when Found.
	Task  TaskState
	Found bool
}

// StoredAttempt is run runID's AttemptState for attempt taskID, as
// StoredState reads it, from the attempt's record alone where its id
// says where it is (lookTask): a look that costs the same in a run of
// ten tasks or of thousands. What it reads is authenticated: the head's
// seal and the record's (lookTask), or the run read whole as a resume
// checks it, an archived run as a restart does (checkArchivedDoc). A
// record or head edited in the store is an error naming the run.
func (e *Engine) StoredAttempt(ctx context.Context, runID, taskID string) (AttemptState, error) {
	e.visibleNow(runID)
	head, task, archived, ok, err := e.lookTask(ctx, runID, taskID)
	if err != nil {
		return AttemptState{}, err
	}
	if ok && !archived {
		st := AttemptState{RunStatus: docStatus(head), Task: taskStateOf(gjson.ParseBytes(task)), Found: true}
		st.ParentID, st.ParentTaskID = gjson.GetBytes(head, "parentWorkflowId").Str, gjson.GetBytes(head, "parentWorkflowTaskId").Str
		return st, nil
	}
	doc, archived, err := e.runs.Load(ctx, runID)
	if err != nil {
		return AttemptState{}, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return AttemptState{}, fmt.Errorf("run %s: damaged document: %w", runID, err)
	}
	// Authenticated, not believed, archived too: an archived run's
	// record edited open and its status RUNNING would be a task a worker
	// is handed or answers (checkStoredDoc).
	if err := e.checkStoredDoc(runID, doc, &d, archived); err != nil {
		return AttemptState{}, err
	}
	// Read from the document decoded for its check, not parsed again.
	st := AttemptState{RunStatus: d.Status, ParentID: d.ParentWorkflowID, ParentTaskID: d.ParentWorkflowTaskID}
	for i := range d.Tasks {
		if t := &d.Tasks[i]; t.TaskID == taskID {
			st.Task = TaskState{TaskID: t.TaskID, Ref: t.ReferenceTaskName, Type: t.TaskType, DefName: t.TaskDefName,
				Status: t.Status, Domain: t.Domain, Awaiting: t.Awaiting}
			st.Found = true
		}
	}
	return st, nil
}
