package engine

import (
	"context"
	"crypto/md5" // a name-based UUID (version 3), as Conductor derives child ids: no security use
	"encoding/json"
	"fmt"
	"strconv"
)

// A SUB_WORKFLOW record names its child run only once that run is stored,
// as Conductor's SubWorkflow.start does: a client that reads the parent and
// then the child it names never gets "not found". The record itself is
// stored first (SCHEDULED, with its input), so a process that dies between
// the child's write and the record's finds, on resume, the same record and
// from it the same child id (subWorkflowRunID): it takes that child over
// instead of starting another, and no record names a run that is not
// stored.

// subWorkflowRunID is the id of the child a SUB_WORKFLOW task's attempt
// starts, derived from its parent run, task id and retry count as
// Conductor's IDGenerator.generateSubWorkflowId derives it: the name-based
// UUID (version 3, Java's UUID.nameUUIDFromBytes) of
// "subworkflow:<parent>:<task>:<retryCount>".
func subWorkflowRunID(parent, taskID string, retry int) string {
	return nameUUID("subworkflow:" + parent + ":" + taskID + ":" + strconv.Itoa(retry))
}

// nameUUID is Java's UUID.nameUUIDFromBytes of src.
func nameUUID(src string) string {
	b := md5.Sum([]byte(src))
	b[6] = b[6]&0x0f | 0x30
	b[8] = b[8]&0x3f | 0x80
	return uuidString(b)
}

// A run that is the record's own child and ended unsuccessfully, found
// under the id of a record that names no child yet (stored by a process
// that died before the record named it, then resumed or terminated on
// its own), is not taken over: Conductor's SubWorkflow.start, finding a
// child that ended unsuccessfully under the derived id, starts a fresh
// child under a new id (a COMPLETED one it takes, as wfrun does). The
// fresh child's id is derived too, from the first and a count, so that a
// process that dies before the record names it finds it again in the
// same way (childToStart).

// maxFreshChildren bounds the fresh ids tried: past it the last child
// found is taken over, ended or not.
const maxFreshChildren = 16

// childToStart returns the id under which record rec, naming no child
// yet, takes over or starts its child (id, or a fresh id past children of
// rec that ended unsuccessfully), with the run stored under it as the run
// store's Load gives it.
func (r *runState) childToStart(ctx context.Context, rec *taskRecord, id string) (string, []byte, bool, error) {
	first := id
	for n := 1; ; n++ {
		doc, archived, err := r.e.runs.Load(ctx, id)
		if err != nil || n > maxFreshChildren {
			return id, doc, archived, err
		}
		var cd runDoc
		if json.Unmarshal(doc, &cd) != nil || r.checkOwnChild(rec, id, &cd) != nil || !terminalWorkflow(cd.Status) || cd.Status == StatusCompleted {
			return id, doc, archived, nil // taken over, or refused, by the caller
		}
		id = nameUUID("subworkflow:" + first + ":" + strconv.Itoa(n))
	}
}

// unnamedChild returns the id of the child rec (a record that names none
// yet) starts, once rec is stored: the id a rerun chose for the task it
// reruns in place (its previous child holds the derived one), else the
// derived id. The write is made now even while a fork's decision is open,
// since the child is stored right after it.
func (r *runState) unnamedChild(ctx context.Context, rec *taskRecord) (string, error) {
	r.mu.Lock()
	id := r.keptChild[rec.TaskID]
	if id == "" {
		id = subWorkflowRunID(r.id, rec.TaskID, rec.RetryCount)
	}
	r.mu.Unlock()
	return id, r.write(withReportedWrite(ctx), persistDeadline, nil)
}

// nameChild stores rec IN_PROGRESS naming its child id, a stored run:
// in its subWorkflowId and in its outputData, as Conductor's
// SubWorkflow.start attaches a child (addOutput("subWorkflowId", id)).
func (r *runState) nameChild(ctx context.Context, rec *taskRecord, id string) error {
	out, _ := childIDOutput(nil, id, childIDPut)
	gen := r.sec.Generation()
	mem, stored, err := r.sec.Protect(out, "/tasks/"+rec.TaskID+"/outputData")
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rx.producedLocked(gen)
	rec.outMem, rec.outStored = mem, stored
	rec.SubWorkflowID = id
	r.touchLocked(rec)
	r.takeRerunChildLocked(rec) // rerun.go
	r.mu.Unlock()
	return r.inProgressWith(ctx, rec)
}

// checkOwnChild verifies that the stored run d, found under the child id
// rec derived, is rec's child (storage is untrusted: a run of another
// parent is not taken over).
func (r *runState) checkOwnChild(rec *taskRecord, id string, d *runDoc) error {
	if d.ParentWorkflowID != r.id || d.ParentWorkflowTaskID != rec.TaskID {
		return fmt.Errorf("sub-workflow %s: the run stored under this task's child id is not its child (parent %q, task %q)",
			id, d.ParentWorkflowID, d.ParentWorkflowTaskID)
	}
	return nil
}
