package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// maxExecuteWait caps waitForSeconds of a synchronous execution.
const maxExecuteWait = 5 * time.Minute

// executeWorkflow is POST /api/workflow/execute/{name}/{version}
// (Conductor's executeWorkflow): start the run the StartWorkflowRequest
// body asks for (its name and version are the path's; version 0 is the
// latest), then wait — up to waitForSeconds, default 10 — until it ended,
// or is blocked on a WAIT task (in it or a running sub-workflow), or one
// of the tasks named in waitUntilTaskRef (comma-separated) ended, and
// answer a SignalResponse in returnStrategy's shape (as
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

// awaitExecution waits until run id ended or blocks (a WAIT task, or a
// task of refs that ended), then renders the answer; at the deadline, the
// run as it is, with signalTimeout.
func (s *Server) awaitExecution(ctx context.Context, id string, refs []string, strategy string, wait time.Duration) (map[string]any, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	for {
		// What blocks is looked for first, the run read after: the run
		// read holds the blocking task (it may have moved on since).
		blocked, err := s.conductor.eng.BlockedTask(ctx, id, false)
		if err != nil {
			return nil, err
		}
		target, err := s.execution(ctx, id)
		if err != nil {
			return nil, err
		}
		if terminalStatus(target["status"]) {
			return s.signalResponse(ctx, target, nil, engine.Signalled{}, strategy, false)
		}
		if t := endedRef(target, refs); t != nil {
			taskID, _ := t["taskId"].(string)
			return s.signalResponse(ctx, target, target, engine.Signalled{RunID: id, TaskID: taskID}, strategy, false)
		}
		if blocked.TaskID != "" {
			return s.blockedResponse(ctx, id, target, blocked, strategy)
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

// endedRef is the first task of run whose reference is one of refs and
// that ended.
func endedRef(run map[string]any, refs []string) map[string]any {
	if len(refs) == 0 {
		return nil
	}
	list, _ := run["tasks"].([]any)
	for _, it := range list {
		t, _ := it.(map[string]any)
		ref, _ := t["referenceTaskName"].(string)
		st, _ := t["status"].(string)
		if st == "" || st == engine.TaskScheduled || st == engine.TaskInProgress {
			continue
		}
		for _, want := range refs {
			if ref == want {
				return t
			}
		}
	}
	return nil
}
