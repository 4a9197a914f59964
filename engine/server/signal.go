package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// Conductor's signal return strategies (WorkflowSignalReturnStrategy).
const (
	returnTargetWorkflow   = "TARGET_WORKFLOW"
	returnBlockingWorkflow = "BLOCKING_WORKFLOW"
	returnBlockingTask     = "BLOCKING_TASK"
	returnBlockingInput    = "BLOCKING_TASK_INPUT"
)

// returnStrategy reads the returnStrategy parameter of a synchronous
// signal or execution (TARGET_WORKFLOW when absent); an unknown one is
// answered 400 and ok is false.
func returnStrategy(w http.ResponseWriter, r *http.Request, q url.Values) (strategy string, ok bool) {
	switch strategy = q.Get("returnStrategy"); strategy {
	case "":
		return returnTargetWorkflow, true
	case returnTargetWorkflow, returnBlockingWorkflow, returnBlockingTask, returnBlockingInput:
		return strategy, true
	}
	conductorError(w, r, http.StatusBadRequest, fmt.Sprintf("returnStrategy %q: want TARGET_WORKFLOW, BLOCKING_WORKFLOW, BLOCKING_TASK or BLOCKING_TASK_INPUT", strategy))
	return "", false
}

// signalTick is how often a synchronous signal looks at the run again.
const signalTick = 50 * time.Millisecond

// maxSignalWait bounds timeoutMillis: a client cannot hold a handler for
// longer than this.
const maxSignalWait = 5 * time.Minute

// signal delivers the body as the output of the task the run is blocked on
// (engine.Signal). It answers the signalled task, or an error.
func (s *Server) signal(w http.ResponseWriter, r *http.Request) (engine.Signalled, bool) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return engine.Signalled{}, false
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	runID, status := r.PathValue("workflowId"), r.PathValue("status")
	switch status {
	case engine.TaskCompleted, engine.TaskFailed, engine.TaskFailedTerminal:
	default:
		// Not quoted: it is the caller's text (queue.go's deliverLocked).
		conductorError(w, r, http.StatusBadRequest, "status: a signal delivers COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR")
		return engine.Signalled{}, false
	}
	got, err := s.conductor.eng.Signal(r.Context(), runID, status, body)
	switch {
	case err == nil:
		return got, true
	case errors.Is(err, runstore.ErrNotFound):
		conductorError(w, r, http.StatusNotFound, "workflow not found: "+runID)
	case errors.Is(err, engine.ErrNoBlockedTask):
		conductorError(w, r, http.StatusNotFound, fmt.Sprintf("Found no blocked task in workflow %s to signal", runID))
	case errors.Is(err, engine.ErrNotWaiting), errors.Is(err, engine.ErrNotRunning):
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error()))
	case errors.Is(err, engine.ErrBadCompletion):
		conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
	default:
		s.log.Error("signal", "workflowId", runID, "error", s.masker.MaskString(err.Error()))
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
	}
	return engine.Signalled{}, false
}

// signalAsync is POST /api/tasks/{workflowId}/{status}/signal: 200 with no
// body once the signal is stored; a run with nothing blocked is 404 here
// too (Conductor's asynchronous form answers 200 and drops it, which hides
// a mistyped id; wfrun tells).
func (s *Server) signalAsync(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	if _, ok := s.signal(w, r); ok {
		writeEmpty(w, http.StatusOK)
	}
}

// signalSync is POST /api/tasks/{workflowId}/{status}/signal/sync: after
// the signal it waits (up to timeoutMillis, 5 s by default) until the run
// has ended or is blocked on another WAIT task — its own or a
// sub-workflow's, the first in task-list order (blockingTask) — and
// answers per returnStrategy: the signalled run
// (TARGET_WORKFLOW), the run now blocked (BLOCKING_WORKFLOW) or the task it
// is blocked on (BLOCKING_TASK, BLOCKING_TASK_INPUT); on timeout the
// current state with signalTimeout true. All of it masked, as GET
// /api/workflow/{id} shows it.
func (s *Server) signalSync(w http.ResponseWriter, r *http.Request, p store.Principal) {
	q := r.URL.Query()
	strategy, ok := returnStrategy(w, r, q)
	if !ok {
		return
	}
	wait := 5 * time.Second
	if v := q.Get("timeoutMillis"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			conductorError(w, r, http.StatusBadRequest, fmt.Sprintf("timeoutMillis %q: want a number of milliseconds", v))
			return
		}
		// Compared in milliseconds: a huge value would overflow a Duration
		// into a negative wait (an answer at once, not the longest wait).
		wait = time.Duration(min(ms, maxSignalWait.Milliseconds())) * time.Millisecond
	}
	got, ok := s.signal(w, r)
	if !ok {
		return
	}
	runID := r.PathValue("workflowId")
	resp, err := s.awaitSignalled(r.Context(), p, runID, got, strategy, wait)
	if err != nil {
		if errors.Is(err, runstore.ErrNotFound) {
			conductorError(w, r, http.StatusNotFound, "workflow not found: "+runID)
			return
		}
		s.log.Error("signal", "workflowId", runID, "error", s.masker.MaskString(err.Error()))
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
		return
	}
	if resp == nil {
		writeEmpty(w, http.StatusOK) // a task strategy with nothing blocked: Conductor answers null
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// awaitSignalled waits until the signalled task has been applied and the
// run ended or blocked again, then renders the answer.
func (s *Server) awaitSignalled(ctx context.Context, p store.Principal, runID string, got engine.Signalled, strategy string, wait time.Duration) (map[string]any, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	for {
		target, err := s.execution(ctx, runID)
		if err != nil {
			return nil, err
		}
		applied, err := s.taskEnded(ctx, runID, target, got)
		if err != nil {
			return nil, err
		}
		if applied {
			holder, task, err := s.blockingTask(ctx, target, nil, 0)
			if err != nil {
				return nil, err
			}
			if task != nil || terminalStatus(target["status"]) {
				return s.signalResponse(ctx, p, target, holder, blockedBy(holder, task), strategy, false)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return s.signalResponse(ctx, p, target, nil, engine.Signalled{}, strategy, true)
		case <-tick.C:
		}
	}
}

// taskEnded: the signalled task is no longer waiting (its run took the
// signal, or the run ended).
func (s *Server) taskEnded(ctx context.Context, runID string, target map[string]any, got engine.Signalled) (bool, error) {
	doc := target
	if got.RunID != runID {
		var err error
		if doc, err = s.execution(ctx, got.RunID); err != nil {
			return false, err
		}
	}
	if terminalStatus(doc["status"]) {
		return true, nil
	}
	list, _ := doc["tasks"].([]any)
	for _, it := range list {
		if t, _ := it.(map[string]any); t != nil && t["taskId"] == got.TaskID {
			st, _ := t["status"].(string)
			return st != engine.TaskScheduled && st != engine.TaskInProgress, nil
		}
	}
	return true, nil
}

func terminalStatus(v any) bool {
	s, _ := v.(string)
	return s != engine.StatusRunning && s != engine.StatusPaused
}

// signalResponse renders Conductor's SignalResponse: a WorkflowRun or a
// TaskRun (NotificationResult's shapes). holder is the run holding the
// blocking task (nil when nothing is blocked); a sub-workflow p may not
// read (another workflow's run) is not shown: the answer is then the
// target run's view, whatever the strategy.
func (s *Server) signalResponse(ctx context.Context, p store.Principal, target, holder map[string]any, blocked engine.Signalled, strategy string, timedOut bool) (map[string]any, error) {
	requestID := newRequestID()
	common := func(m map[string]any) map[string]any {
		m["responseType"] = strategy
		m["targetWorkflowId"] = target["workflowId"]
		m["targetWorkflowStatus"] = target["status"]
		m["requestId"] = requestID
		m["signalTimeout"] = timedOut
		return m
	}
	if holder != nil && holder["workflowId"] != target["workflowId"] {
		if id, _ := holder["workflowId"].(string); !s.mayDoRun(ctx, p, id, needRead) {
			return common(workflowRun(target)), nil
		}
	}
	if holder == nil {
		if strategy == returnBlockingTask || strategy == returnBlockingInput {
			return nil, nil
		}
		return common(workflowRun(target)), nil
	}
	switch strategy {
	case returnTargetWorkflow:
		return common(workflowRun(target)), nil
	case returnBlockingWorkflow:
		return common(workflowRun(holder)), nil
	}
	list, _ := holder["tasks"].([]any)
	for _, it := range list {
		if t, _ := it.(map[string]any); t != nil && t["taskId"] == blocked.TaskID {
			return common(taskRun(holder, t)), nil
		}
	}
	return nil, fmt.Errorf("run %s: blocking task %s not in its view", blocked.RunID, blocked.TaskID)
}

// workflowRun is Conductor's WorkflowRun of a workflow view.
func workflowRun(wf map[string]any) map[string]any {
	tasks := wf["tasks"]
	if tasks == nil {
		tasks = []any{}
	}
	return map[string]any{
		"workflowId": wf["workflowId"], "correlationId": wf["correlationId"],
		"input": orEmptyMap(wf["input"]), "output": orEmptyMap(wf["output"]), "variables": orEmptyMap(wf["variables"]),
		"tasks": tasks, "status": wf["status"], "createTime": wf["createTime"], "updateTime": orZero(wf["updateTime"]),
		"priority": orZero(wf["priority"]), "createdBy": wf["createdBy"],
	}
}

// taskRun is Conductor's TaskRun of a task of a workflow view.
func taskRun(wf, t map[string]any) map[string]any {
	return map[string]any{
		"taskType": t["taskType"], "taskId": t["taskId"], "referenceTaskName": t["referenceTaskName"],
		"retryCount": orZero(t["retryCount"]), "taskDefName": t["taskDefName"], "retriedTaskId": t["retriedTaskId"],
		"workflowType": wf["workflowType"], "reasonForIncompletion": t["reasonForIncompletion"],
		"priority": orZero(wf["priority"]), "workflowId": wf["workflowId"], "correlationId": wf["correlationId"],
		"status": t["status"], "input": orEmptyMap(t["inputData"]), "output": orEmptyMap(t["outputData"]),
		"createdBy": t["workerId"], "createTime": orZero(t["startTime"]), "updateTime": orZero(t["updateTime"]),
	}
}

func orEmptyMap(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func orZero(v any) any {
	if v == nil {
		return 0
	}
	return v
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
