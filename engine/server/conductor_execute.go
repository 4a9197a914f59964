package server

import (
	"context"
	"encoding/json"
	"errors"
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
// sub-workflow, the first in task-list order), and answer a
// SignalResponse in returnStrategy's shape (as
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
	wait, ok := executeWait(w, r, q.Get("waitForSeconds"))
	if !ok {
		return
	}
	refs := taskRefs(q.Get("waitUntilTaskRef"))
	requestID := q.Get("requestId")
	var req startRequest
	if !s.decodeRequest(w, r, "StartWorkflowRequest", &req) {
		return
	}
	req.Name, req.Version = r.PathValue("name"), version
	req.answer = func(w http.ResponseWriter, r *http.Request, id string) {
		resp, err := s.awaitExecution(r.Context(), p, id, refs, strategy, wait)
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

// executeWait reads waitForSeconds (10 s when absent or 0, at most
// maxExecuteWait); a bad value is answered 400 and ok is false.
func executeWait(w http.ResponseWriter, r *http.Request, v string) (wait time.Duration, ok bool) {
	wait = 10 * time.Second
	if v = strings.TrimSpace(v); v == "" {
		return wait, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		conductorError(w, r, http.StatusBadRequest, "waitForSeconds must be a non-negative integer")
		return 0, false
	}
	if n > 0 {
		wait = min(time.Duration(n)*time.Second, maxExecuteWait)
	}
	return wait, true
}

// taskRefs splits waitUntilTaskRef (comma-separated references).
func taskRefs(v string) []string {
	var refs []string
	for _, ref := range strings.Split(v, ",") {
		if ref = strings.TrimSpace(ref); ref != "" {
			refs = append(refs, ref)
		}
	}
	return refs
}

// executeWorkflowAsAPI is Orkes' POST /api/workflow/execute/{name}
// ("execute a workflow synchronously with input and outputs", deprecated
// in its SDKs, which still call it: executeWorkflowAsApi in the
// JavaScript SDK, execute_workflow_as_api in the Python one): the body is
// the run's input, the query's version picks the definition (the latest
// when absent), and the headers carry the rest — waitUntilTaskRef and
// waitForSeconds as executeWorkflow takes them, X-Idempotency-key and
// X-on-conflict as a StartWorkflowRequest's idempotencyKey and
// idempotencyStrategy (requestId is accepted). It answers the run's output
// (masked, as GET /api/workflow/{id} shows it): 200 once the run ended,
// 206 when it had not ended at the answer (a task blocked it, or the wait
// ran out).
func (s *Server) executeWorkflowAsAPI(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, ok := s.readInput(w, r)
	if !ok {
		return
	}
	req := startRequest{Name: r.PathValue("name"), Input: body}
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			conductorError(w, r, http.StatusBadRequest, "version must be an integer")
			return
		}
		req.Version = n
	}
	wait, ok := executeWait(w, r, r.Header.Get("waitForSeconds"))
	if !ok {
		return
	}
	refs := taskRefs(r.Header.Get("waitUntilTaskRef"))
	req.IdempotencyKey = r.Header.Get("X-Idempotency-key")
	req.IdempotencyStrategy = r.Header.Get("X-on-conflict")
	req.answer = func(w http.ResponseWriter, r *http.Request, id string) {
		b, err := s.awaitBlocking(r.Context(), id, refs, wait)
		if err != nil {
			s.runError(w, r, err)
			return
		}
		status := http.StatusOK
		if !terminalStatus(b.target["status"]) {
			status = http.StatusPartialContent
		}
		writeJSON(w, status, orEmptyMap(b.target["output"]))
	}
	s.start(w, r, p, req)
}

// awaitExecution waits until run id ended or blocks (awaitBlocking),
// then renders the answer; at the deadline, the run as it is, with
// signalTimeout.
func (s *Server) awaitExecution(ctx context.Context, p store.Principal, id string, refs []string, strategy string, wait time.Duration) (map[string]any, error) {
	b, err := s.awaitBlocking(ctx, id, refs, wait)
	if err != nil {
		return nil, err
	}
	return s.signalResponse(ctx, p, b.target, b.holder, blockedBy(b.holder, b.task), strategy, b.timedOut)
}

// blocked is what awaitBlocking saw last: the run (target), the task
// blocking it and the run holding that task (nil when none blocks), and
// whether the wait ran out.
type blocked struct {
	target, holder, task map[string]any
	timedOut             bool
}

// awaitBlocking reads run id (its view, as execution reads it) until it
// ended or a task blocks it (blockingTask), at most for wait.
func (s *Server) awaitBlocking(ctx context.Context, id string, refs []string, wait time.Duration) (blocked, error) {
	// waitForSeconds is a timeout like the engine's: on the engine's clock.
	deadline, stop := s.conductor.eng.Clock().After(wait)
	defer stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	for {
		target, err := s.execution(ctx, id)
		if err != nil {
			return blocked{}, err
		}
		holder, task, err := s.blockingTask(ctx, target, refs, 0)
		if err != nil {
			return blocked{}, err
		}
		if task != nil || terminalStatus(target["status"]) {
			return blocked{target: target, holder: holder, task: task}, nil
		}
		select {
		case <-ctx.Done():
			return blocked{}, ctx.Err()
		case <-deadline:
			return blocked{target: target, timedOut: true}, nil
		case <-tick.C:
		}
	}
}

// maxBlockingDepth bounds how deep blockingTask descends into
// sub-workflows: a task held deeper does not count as blocking (the run
// is answered as not blocked, not as an error).
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
		return nil, nil, nil
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
