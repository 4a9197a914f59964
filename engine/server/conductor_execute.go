package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// maxExecuteWait caps waitForSeconds of a synchronous execution.
const maxExecuteWait = 5 * time.Minute

// executeWorkflow is POST /api/workflow/execute/{name}/{version}
// (Conductor's executeWorkflow): start the run the StartWorkflowRequest
// body asks for (its name and version are the path's; version 0 is the
// latest), then wait — up to waitForSeconds, default 10 — until it ended
// or a task blocks (blockingTask: a WAIT task, or a task named in
// waitUntilTaskRef, comma-separated, that ended; in it or a running
// sub-workflow, the first in task-list order), and answer a SignalResponse in returnStrategy's shape (as
// POST /api/tasks/{workflowId}/{status}/signal/sync answers), with
// signalTimeout when the wait ran out. requestId is echoed (a new one
// when absent); consistency is accepted (wfrun stores every start
// durably).
func (s *Server) executeWorkflow(w http.ResponseWriter, r *http.Request, p store.Principal) {
	q := r.URL.Query()
	version, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "version must be an integer")
		return
	}
	strategy, ok := returnStrategy(w, r, q)
	if !ok {
		return
	}
	wait := 10 * time.Second
	if v := q.Get("waitForSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			conductorError(w, r, http.StatusBadRequest, "waitForSeconds must be a non-negative integer")
			return
		}
		if n > 0 {
			wait = min(time.Duration(n)*time.Second, maxExecuteWait)
		}
	}
	var refs []string
	for _, ref := range strings.Split(q.Get("waitUntilTaskRef"), ",") {
		if ref = strings.TrimSpace(ref); ref != "" {
			refs = append(refs, ref)
		}
	}
	requestID := q.Get("requestId")
	var req startRequest
	if !s.decodeRequest(w, r, "StartWorkflowRequest", &req) {
		return
	}
	req.Name, req.Version = r.PathValue("name"), version
	req.answer = func(w http.ResponseWriter, r *http.Request, id string) {
		resp, err := s.awaitExecution(r.Context(), id, refs, strategy, wait)
		if err != nil {
			s.runError(w, r, err)
			return
		}
		if resp == nil {
			writeEmpty(w, http.StatusOK) // a task strategy with nothing blocked: Conductor answers null
			return
		}
		if requestID != "" {
			resp["requestId"] = requestID
		}
		writeJSON(w, http.StatusOK, resp)
	}
	s.start(w, r, p, req)
}

// awaitExecution waits until run id ended or blocks (blockingTask), then
// renders the answer; at the deadline, the run as it is, with
// signalTimeout.
func (s *Server) awaitExecution(ctx context.Context, id string, refs []string, strategy string, wait time.Duration) (map[string]any, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	for {
		target, err := s.execution(ctx, id)
		if err != nil {
			return nil, err
		}
		holder, task, err := s.blockingTask(ctx, target, refs, 0)
		if err != nil {
			return nil, err
		}
		if task != nil || terminalStatus(target["status"]) {
			return s.signalResponse(ctx, target, holder, blockedBy(holder, task), strategy, false)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return s.signalResponse(ctx, target, nil, engine.Signalled{}, strategy, true)
		case <-tick.C:
		}
	}
}

// maxBlockingDepth bounds how deep blockingTask descends into
// sub-workflows.
const maxBlockingDepth = 64

// blockingTask is Conductor's findBlockingTasks (WorkflowSignalResponder),
// which both the synchronous execution and the synchronous signal answer
// with: the first task, in the order of run's task list, that blocks — a
// WAIT task not ended that waits for no time (no duration or until), or a
// task whose reference is one of refs and that ended — where a
// SUB_WORKFLOW task not ended stands, at its place in the list, for the
// blocking tasks of its child run. holder is the view of the run holding
// it (run or a descendant); both are nil when nothing blocks. run is a
// view as execution reads it; a child removed meanwhile is passed over.
func (s *Server) blockingTask(ctx context.Context, run map[string]any, refs []string, depth int) (holder, task map[string]any, err error) {
	if depth > maxBlockingDepth {
		return nil, nil, fmt.Errorf("run %v: sub-workflows nested deeper than %d", run["workflowId"], maxBlockingDepth)
	}
	list, _ := run["tasks"].([]any)
	for _, it := range list {
		t, _ := it.(map[string]any)
		if t == nil {
			continue
		}
		typ, _ := t["taskType"].(string)
		st, _ := t["status"].(string)
		ended := st != "" && st != engine.TaskScheduled && st != engine.TaskInProgress
		if typ == engine.TypeWait && !ended && !timedWait(t) {
			return run, t, nil
		}
		if ended {
			ref, _ := t["referenceTaskName"].(string)
			if slices.Contains(refs, ref) {
				return run, t, nil
			}
		}
		child, _ := t["subWorkflowId"].(string)
		if typ != engine.TypeSubWorkflow || ended || child == "" {
			continue
		}
		doc, err := s.execution(ctx, child)
		if errors.Is(err, runstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if holder, task, err = s.blockingTask(ctx, doc, refs, depth+1); err != nil || task != nil {
			return holder, task, err
		}
	}
	return nil, nil, nil
}

// timedWait: WAIT task t waits until a time (Conductor's waitTimeout is
// set), so it is not waiting for a signal.
func timedWait(t map[string]any) bool {
	switch v := t["waitUntil"].(type) {
	case nil:
		return false
	case json.Number:
		return v != "0"
	}
	return true
}

// blockedBy names the blocking task of holder (none when task is nil).
func blockedBy(holder, task map[string]any) engine.Signalled {
	if task == nil {
		return engine.Signalled{}
	}
	runID, _ := holder["workflowId"].(string)
	taskID, _ := task["taskId"].(string)
	ref, _ := task["referenceTaskName"].(string)
	return engine.Signalled{RunID: runID, TaskID: taskID, Ref: ref}
}
