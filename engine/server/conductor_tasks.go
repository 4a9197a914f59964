package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks"
)

// MaxPollWait caps a long poll's timeout parameter.
const MaxPollWait = 60 * time.Second

// ScopePollPrefix + a task name is the scope a principal needs (when auth
// is on) to poll and update tasks of that name: polled input holds
// resolved `${workflow.secrets.*}` values.
const ScopePollPrefix = "tasks:poll:"

// task is a polled task in Conductor's Task shape; mask masks what it
// shows of the task's definitions (Server.maskValue).
func (h handed) task(mask func(any) any) map[string]any {
	d := h.delivery
	input := h.input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	// The task definition the run applies to the task, in the task and
	// its WorkflowTask, as Conductor populates the WorkflowTask when the
	// run starts (records.go shows the same); both masked, as records are.
	var taskDef any
	if td := d.t.TaskDef; td.AdHoc() {
		// The one the run made for a task without any (records.go): a
		// SIMPLE task's, or the DYNAMIC task's a resolved task takes.
		m := adHocTaskDef(td.Name, false)
		if td.RetryCount != nil {
			m["retryCount"] = *td.RetryCount
		}
		if td.ResponseTimeoutSeconds != nil {
			m["responseTimeoutSeconds"] = *td.ResponseTimeoutSeconds
		}
		taskDef = m
	} else if d.t.TaskDef != nil {
		if b, err := json.Marshal(d.t.TaskDef); err == nil {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				taskDef = mask(m)
			}
		}
	}
	var wt any = json.RawMessage("null")
	if m := map[string]any(nil); json.Unmarshal(d.t.Def, &m) == nil && m != nil {
		if taskDef != nil && m["taskDefinition"] == nil {
			m["taskDefinition"] = taskDef
		}
		if m["type"] == engine.TypeDynamic {
			// Named after the task it resolved, as DynamicTaskMapper
			// names the WorkflowTask (records.go).
			m["name"] = d.t.Name
		}
		wt = mask(m)
	}
	task := map[string]any{
		"taskType": d.t.Name, "taskDefName": d.t.Name, "status": "IN_PROGRESS",
		"inputData": input, "referenceTaskName": d.t.Ref, "retryCount": d.t.RetryCount,
		"pollCount": d.pollCount, "iteration": d.t.Iteration,
		"scheduledTime": d.scheduled.UnixMilli(), "startTime": d.polled.UnixMilli(), "updateTime": d.polled.UnixMilli(),
		"responseTimeoutSeconds": int64(d.t.ResponseTimeout / time.Second),
		"workflowInstanceId":     d.t.RunID, "workflowType": d.t.WorkflowType, "correlationId": d.t.CorrelationID,
		"taskId": d.id, "workerId": d.workerID, "workflowTask": wt, "workflowPriority": d.t.Priority,
		"rateLimitPerFrequency": d.t.RateLimitPerFrequency, "rateLimitFrequencyInSeconds": d.t.RateLimitFrequencyInSeconds,
	}
	// The members of Conductor's Task its poll answer has as well
	// (records.go explains them); an attempt just polled has not ended,
	// been retried or called back.
	for k, v := range map[string]any{
		"seq": d.t.Seq, "endTime": 0, "callbackAfterSeconds": 0, "startDelayInSeconds": startDelayOf(d.t),
		"retried": false, "executed": false, "callbackFromWorker": true, "loopOverTask": d.t.Iteration > 0,
		"queueWaitTime": max(0, d.polled.UnixMilli()-d.scheduled.UnixMilli()), "firstStartTime": 0,
		"subworkflowChanged": false, "outputData": map[string]any{},
		"executionMetadata": map[string]any{"additionalContext": map[string]any{}, "additionalContextMap": map[string]any{}},
	} {
		task[k] = v
	}
	if taskDef != nil {
		task["taskDefinition"] = taskDef
	}
	if d.t.Domain != "" {
		task["domain"] = d.t.Domain
	}
	if d.t.RetriedTaskID != "" {
		task["retriedTaskId"] = d.t.RetriedTaskID
	}
	if len(h.meta) > 0 {
		// The task definition's declared secrets and env values, resolved
		// for this worker only at its poll (engine.RemoteTask.Resolve);
		// absent when empty, as Conductor leaves it out.
		task["runtimeMetadata"] = h.meta
	}
	return task
}

// startDelayOf is a polled task's startDelayInSeconds (RemoteTask's
// StartDelay: its poll resets only callbackAfterSeconds).
func startDelayOf(t engine.RemoteTask) int64 { return t.StartDelay }

func (s *Server) mayPoll(w http.ResponseWriter, r *http.Request, p store.Principal, name string) bool {
	// Queues are named "domain:type": a ':' in either would name another
	// type's or domain's queue (the engine queues no such task).
	if strings.Contains(name, ":") || strings.Contains(r.URL.Query().Get("domain"), ":") {
		conductorError(w, r, http.StatusBadRequest, "task type and domain must not contain ':'")
		return false
	}
	if s.auth == nil || p.Satisfies(ScopePollPrefix+name) {
		return true
	}
	conductorError(w, r, http.StatusForbidden, "principal "+p.Name+" lacks scope "+ScopePollPrefix+name)
	return false
}

func (s *Server) pollParams(r *http.Request) (count int, wait time.Duration) {
	q := r.URL.Query()
	count, _ = strconv.Atoi(q.Get("count"))
	count = max(1, min(count, 1000))
	ms, _ := strconv.Atoi(q.Get("timeout"))
	wait = min(time.Duration(max(ms, 0))*time.Millisecond, MaxPollWait)
	return count, wait
}

// pollBatch answers 200 with a JSON array, [] when no task came within
// the timeout (never 204 or an empty body: the JS SDK counts the array).
func (s *Server) pollBatch(w http.ResponseWriter, r *http.Request, p store.Principal) {
	name := r.PathValue("type")
	if !s.mayPoll(w, r, p, name) {
		return
	}
	count, wait := s.pollParams(r)
	q := r.URL.Query()
	got := s.conductor.queue.poll(r.Context(), s.conductor.polls, name, q.Get("domain"), s.pollWorkerID(r), count, wait)
	out := make([]map[string]any, len(got))
	for i, d := range got {
		out[i] = d.task(s.maskValue)
	}
	writeJSON(w, http.StatusOK, out)
}

// maxPollWorkerID bounds the worker id a poll records (the engine's
// records keep as much).
const maxPollWorkerID = 256

// pollWorkerID is the workerid a poll gives, as the queue keeps it (its
// poll data, the record of the task it hands): the worker's own text,
// which may quote anything, masked whole with the values the server knows
// (its credentials, the secrets it was given; with auth off, the values
// its runs registered too: pollMasker) and then cut.
func (s *Server) pollWorkerID(r *http.Request) string {
	return s.pollMasker().ExcerptString(r.URL.Query().Get("workerid"), maxPollWorkerID)
}

// pollMasker masks the worker ids the server keeps and shows again (poll
// data, a task's workerId). With auth on, it is the server's masker, as
// for any answer (New says why: masked with the values of every run, the
// poll data would tell a worker which id it sent is another principal's
// value). With auth off every caller is the one local principal, who may
// read every run and every secret: no one is asked a question they could
// not answer anyway, so the ids are masked with everything the process
// learned (the log masker), as a value a run read must not be kept and
// shown as a worker's name.
func (s *Server) pollMasker() *masking.Masker {
	if s.auth == nil {
		return s.logMasker
	}
	return s.masker
}

// pollOne is the single poll: a Task, or 204 when none.
func (s *Server) pollOne(w http.ResponseWriter, r *http.Request, p store.Principal) {
	name := r.PathValue("type")
	if !s.mayPoll(w, r, p, name) {
		return
	}
	_, wait := s.pollParams(r)
	q := r.URL.Query()
	got := s.conductor.queue.poll(r.Context(), s.conductor.polls, name, q.Get("domain"), s.pollWorkerID(r), 1, wait)
	if len(got) == 0 {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, got[0].task(s.maskValue))
}

// taskResult is Conductor's TaskResult.
type taskResult struct {
	WorkflowInstanceID string `json:"workflowInstanceId"`
	TaskID             string `json:"taskId"`
	WorkerID           string `json:"workerId"`
	// SubWorkflowID is what the update sets on a SUB_WORKFLOW task
	// (engine.Completion).
	SubWorkflowID string `json:"subWorkflowId"`
	// Logs are TaskExecLogs the worker sends with its result
	// (conductor_more_tasks.go keeps them as the task's log).
	Logs []struct {
		Log string `json:"log"`
	} `json:"logs"`
	workerResult
}

func (s *Server) taskUpdateError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnknownTask) {
		conductorError(w, r, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, engine.ErrNotStored) {
		// Conductor's answer to a store that failed (a TransientException):
		// 500, retryable, and the worker sends the update again.
		s.log.Error("task update not stored", "path", r.URL.Path, "error", s.masker.MaskString(err.Error()))
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
		return
	}
	conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
}

// updateTask is POST /api/tasks (text/plain task id) and
// /api/tasks/update-v2, which answers, as Conductor's TaskResource does,
// the next task of the same type and domain for the same worker when the
// update ended the task (a poll that does not wait), else 204.
func (s *Server) updateTask(v2 bool) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		var res taskResult
		if !s.decodeRequest(w, r, "TaskResult", &res) {
			return
		}
		if res.TaskID == "" {
			conductorError(w, r, http.StatusBadRequest, "TaskResult: taskId is required")
			return
		}
		name, domain, ok := s.conductor.queue.kindOf(res.TaskID)
		if ok && !s.mayPoll(w, r, p, name) {
			return
		}
		if ok {
			s.resultLogs(r, res)
		}
		err := s.conductor.queue.complete(r.Context(), res.TaskID, res.workerResult)
		if errors.Is(err, ErrUnknownTask) {
			name, domain, err = s.forwardUpdate(r, res, p)
		}
		ended := err == nil
		if ns := (*missingScopeError)(nil); errors.As(err, &ns) {
			s.forbid(w, r, p, ns.scope)
			return
		}
		if errors.Is(err, errTaskEnded) {
			// Conductor's answer to an update of a task that already ended
			// (a worker answering after its response timeout, a second
			// answer): success, and the update is not applied.
			s.log.Info("task update ignored: the task already ended", "taskId", res.TaskID,
				"workflowId", res.WorkflowInstanceID, "status", loggedStatus(res.Status))
			err = nil
		}
		if err != nil {
			s.taskUpdateError(w, r, err)
			return
		}
		if v2 {
			s.nextTask(w, r, p, res, name, domain, ended)
			return
		}
		writeText(w, http.StatusOK, res.TaskID)
	}
}

// nextTask answers update-v2: the next task of name in domain for the
// worker when the update ended its task, else 204. The poll waits up to
// nextTaskWait, as Conductor's single poll does (100 ms). It is a poll,
// made for p only when p may poll name: an update of a task no worker
// polls (a WAIT completed by id) needs no poll scope, and a worker task
// of that name, in any run, holds resolved secrets.
func (s *Server) nextTask(w http.ResponseWriter, r *http.Request, p store.Principal, res taskResult, name, domain string, ended bool) {
	switch res.Status {
	case engine.TaskCompleted, engine.TaskFailed, engine.TaskFailedTerminal:
	default:
		ended = false
	}
	if !ended || name == "" || strings.Contains(name, ":") || strings.Contains(domain, ":") || !s.allowed(p, ScopePollPrefix+name) {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	// The update's workerId is the worker's text, kept as a poll's
	// workerid is (pollWorkerID).
	worker := s.pollMasker().ExcerptString(res.WorkerID, maxPollWorkerID)
	got := s.conductor.queue.poll(r.Context(), s.conductor.polls, name, domain, worker, 1, nextTaskWait)
	if len(got) == 0 {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, got[0].task(s.maskValue))
}

// nextTaskWait is how long update-v2 waits for a next task.
const nextTaskWait = 100 * time.Millisecond

// updateTaskByRef is POST /api/tasks/{workflowId}/{ref}/{status}: the body
// is the output. It completes a SIMPLE task waiting for a worker, or a WAIT
// or HUMAN task waiting for an external completion, or updates a
// SUB_WORKFLOW task; IN_PROGRESS, a WAIT, a HUMAN or a SUB_WORKFLOW task
// stays IN_PROGRESS with its output merged, as Conductor's updateTask by
// reference keeps it (engine.CompleteTaskStored).
func (s *Server) updateTaskByRef(w http.ResponseWriter, r *http.Request, p store.Principal) {
	if id, ok := s.completeByRef(w, r, p); ok {
		writeText(w, http.StatusOK, id)
	}
}

// completeByRef applies POST /api/tasks/{workflowId}/{ref}/{status}[/sync]
// and returns the id of the task it completed; it answers errors itself.
func (s *Server) completeByRef(w http.ResponseWriter, r *http.Request, p store.Principal) (string, bool) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return "", false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
		conductorError(w, r, http.StatusBadRequest, "the request body (the task output) must be a JSON object")
		return "", false
	}
	runID, ref, status := r.PathValue("workflowId"), r.PathValue("ref"), r.PathValue("status")
	queued := ref
	if _, ok := s.conductor.queue.nameOfRef(runID, ref); !ok {
		// A loop's task named without its iteration suffix, as Conductor's
		// getPendingTaskForWorkflow finds it: the worker task of that
		// iteration, answered through the queue like any worker task.
		// A run executed elsewhere is looked at through its reference
		// index first, not read whole.
		found := false
		if !s.conductor.eng.Executes(runID) {
			if st, err := s.conductor.eng.StoredPending(r.Context(), runID, ref); err == nil && st.Found && st.Task.Open() {
				queued, found = st.Task.Ref, true
			}
		}
		if !found {
			if st, err := s.conductor.eng.State(r.Context(), runID); err == nil {
				if t, ok := pendingState(st, ref); ok {
					queued = t.Ref
				}
			}
		}
	}
	if name, ok := s.awaitQueuedRef(r, runID, queued); ok {
		if !s.mayPoll(w, r, p, name) {
			return "", false
		}
		id, err := s.conductor.queue.completeRef(r.Context(), runID, queued, workerResult{Status: status, Output: body, pending: true})
		if err != nil {
			s.taskUpdateError(w, r, err)
			return "", false
		}
		return id, true
	}
	if status == engine.TaskInProgress {
		// A task waiting for its completion from outside (a WAIT, a
		// HUMAN) or a SUB_WORKFLOW task: Conductor's updateTask by
		// reference keeps it IN_PROGRESS, its output the pending task's
		// with the body's members over it, and answers once it stored it.
		id, err := s.progressStored(r, runID, engine.Completion{Ref: ref, Status: status, Output: body})
		if err != nil {
			s.completionError(w, r, err)
			return "", false
		}
		return id, true
	}
	// Conductor answers the task's id: the record waiting now (read
	// before the completion applies).
	waiting := ""
	if st, err := s.conductor.eng.StoredPending(r.Context(), runID, ref); err == nil && st.Found && st.Task.Open() {
		// Through the run's reference index: the run is not read whole.
		waiting = st.Task.TaskID
	} else if st, err := s.conductor.eng.StoredState(r.Context(), runID); err == nil {
		if t, ok := pendingState(st, ref); ok {
			waiting = t.TaskID
		}
	}
	exact, err := s.conductor.eng.CompleteTask(r.Context(), runID, ref, status, body)
	if err == nil && waiting != "" {
		// Answered once the task's end is stored, as Conductor's
		// updateTask stores the task before it answers.
		err = s.awaitTaskEnded(r, runID, waiting)
	}
	switch {
	case err == nil && waiting != "":
		return waiting, true
	case err == nil:
		return exact, true
	default:
		s.completionError(w, r, err)
	}
	return "", false
}

// completionError answers a task completion the engine refused: 409 when
// the task or run no longer waits for one, 400 for a completion it cannot
// take, else as runError.
func (s *Server) completionError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, engine.ErrNotWaiting), errors.Is(err, engine.ErrNotRunning):
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error()))
	case errors.Is(err, engine.ErrBadCompletion):
		conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
	default:
		s.runError(w, r, err)
	}
}

// awaitQueuedRef is the queue's nameOfRef for a completion by ref: when
// the queue does not hold the task yet, but the run this process executes
// records it as a worker's task SCHEDULED and not yet awaiting its answer
// (its record is made before the task is handed to the queue), it waits
// for the task to reach the queue (queue.awaitArrival), as an update by id
// does (completeWhenQueued).
func (s *Server) awaitQueuedRef(r *http.Request, runID, ref string) (string, bool) {
	c := s.conductor
	if name, ok := c.queue.nameOfRef(runID, ref); ok {
		return name, true
	}
	c.mu.Lock()
	local := c.active[runID] != nil
	c.mu.Unlock()
	local = local || c.eng.Executes(runID) // a child run within its parent's execution here
	if !local || !c.eng.Executes(runID) {
		return "", false
	}
	st, err := c.eng.State(r.Context(), runID)
	if err != nil || st.Status != engine.StatusRunning {
		return "", false
	}
	t, ok := pendingState(st, ref)
	if !ok || t.Awaiting || t.Ref != ref || t.Status != engine.TaskScheduled || c.eng.TaskKind(t.Type, t.DefName) != engine.KindWorker {
		return "", false
	}
	var name string
	ok = c.queue.awaitArrival(r.Context(), func() bool {
		var queued bool
		name, queued = c.queue.nameOfRef(runID, ref)
		return queued
	})
	return name, ok
}

// awaitsUpdate: task record t is a system task waiting for its completion
// from outside (a WAIT, a HUMAN, an asyncComplete HTTP or EVENT), which
// Conductor's updateTask takes by task id as it takes a worker's answer.
// A WAIT or HUMAN always is, from the moment it shows: its record is
// IN_PROGRESS before its execution marks the attempt as awaiting
// (Awaiting), and an update that comes in between is kept until it waits.
// An HTTP or EVENT task is only once it is marked so (asyncComplete).
func awaitsUpdate(t engine.TaskState) bool {
	switch t.Type {
	case engine.TypeWait, engine.TypeHuman:
		return true
	case tasks.TypeHTTP, engine.TypeEvent:
		return t.Awaiting
	}
	return false
}

// missingScopeError: the caller may not update the task; scope is the
// scope it lacks (the task's poll scope, or the run's workflows:manage).
type missingScopeError struct{ scope string }

func (e *missingScopeError) Error() string { return "missing scope " + e.scope }

// mayUpdate checks that p may update task record t of run runID by id: a
// worker's task needs its poll scope; a task no worker polls (a WAIT, a
// HUMAN, an asyncComplete HTTP or EVENT) needs what completing it by ref
// needs (POST /api/tasks/{workflowId}/{ref}/{status}): workflows:manage of
// the run's workflow, or having started the run. A caller who may not
// read the run is told the task is unknown.
func (s *Server) mayUpdate(ctx context.Context, p store.Principal, runID string, t engine.TaskState) error {
	if s.auth == nil {
		return nil
	}
	if name := t.DefName; s.conductor.eng.TaskKind(t.Type, name) == engine.KindWorker {
		if !p.Satisfies(ScopePollPrefix + name) {
			// The answer does not name the task of a run the caller
			// may not read.
			return &missingScopeError{scope: ScopePollPrefix + "<the task's name>"}
		}
		return nil
	}
	wfType, owner, err := s.runOwner(ctx, runID)
	if err != nil {
		return fmt.Errorf("%w: run %s: %v", ErrUnknownTask, runID, s.masker.MaskString(err.Error()))
	}
	switch ok, readable, missing := mayRunAs(p, needManage, wfType, owner); {
	case !readable:
		return fmt.Errorf("%w: %v", ErrUnknownTask, t.TaskID)
	case !ok:
		return &missingScopeError{scope: missing}
	}
	return nil
}

// loggedStatus is an update's status as a log line shows it: one of the
// task statuses, else a placeholder. The status is the worker's text, and
// a worker that mixes up its fields may put there the secret value it was
// handed, which only its run's masker knows.
func loggedStatus(status string) string {
	switch status {
	case engine.TaskCompleted, engine.TaskFailed, engine.TaskFailedTerminal, engine.TaskInProgress, engine.TaskScheduled:
		return status
	}
	return "(not a task status)"
}

// errTaskEnded: an update for a task whose attempt already ended.
var errTaskEnded = errors.New("the task already ended")

// forwardUpdate handles an answer this process's queue does not hold. The
// task is looked for in the run the update names, then (as Conductor finds
// a task by its id) in that run's parent when it is the run's
// SUB_WORKFLOW task, or in the run this process knows it of. For
// a run another serve process executes (sharing the run store) a final
// answer goes through engine.CompleteTaskWith (that attempt only, with the
// update's reason), which seals it into the run store, where that
// process's runner picks it up, and is answered once the task's end is
// stored; an IN_PROGRESS one goes whole to that process over the shared
// queue (sharedprogress.go), answered once it stored it. An answer for an attempt that already ended
// (timed out and retried under a new id, answered before, or its run
// ended) is errTaskEnded: never applied, to this attempt or its retry.
func (s *Server) forwardUpdate(r *http.Request, res taskResult, p store.Principal) (name, domain string, err error) {
	c := s.conductor
	runID := res.WorkflowInstanceID
	if runID == "" {
		return "", "", fmt.Errorf("%w: %s", ErrUnknownTask, res.TaskID)
	}
	// The attempt's record, not the run (engine.StoredAttempt): an
	// answer costs the same in a run of ten tasks or of thousands.
	st, err := c.eng.StoredAttempt(r.Context(), runID, res.TaskID)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s (run %s: %v)", ErrUnknownTask, res.TaskID, runID, s.masker.MaskString(err.Error()))
	}
	if !st.Found && st.ParentID != "" && st.ParentTaskID == res.TaskID {
		// The SUB_WORKFLOW task of the run's parent, named with its
		// child's id: Conductor's updateTask finds a task by its id,
		// whatever run the update names.
		if pst, err := c.eng.StoredAttempt(r.Context(), st.ParentID, res.TaskID); err == nil && pst.Found {
			runID, st = st.ParentID, pst
			res.WorkflowInstanceID = runID
		}
	}
	if other := c.tasks.runOf(res.TaskID); !st.Found && other != "" && other != runID {
		// A task of another run this process knows (a child's task named
		// with its parent's id): found by its id, as Conductor finds it.
		if ost, err := c.eng.StoredAttempt(r.Context(), other, res.TaskID); err == nil && ost.Found {
			runID, st = other, ost
			res.WorkflowInstanceID = other
		}
	}
	if !st.Found {
		return "", "", fmt.Errorf("%w: %s", ErrUnknownTask, res.TaskID)
	}
	task := st.Task
	name, domain = task.DefName, task.Domain
	if err := s.mayUpdate(r.Context(), p, runID, task); err != nil {
		return "", "", err
	}
	if !task.Open() || (st.RunStatus != engine.StatusRunning && st.RunStatus != engine.StatusPaused) {
		return "", "", fmt.Errorf("%w: task %s is %s", errTaskEnded, res.TaskID, task.Status)
	}
	c.mu.Lock()
	local := c.active[runID] != nil
	c.mu.Unlock()
	local = local || c.eng.Executes(runID) // a child run within its parent's execution here
	// A restart here that handed its run to the process executing the
	// run's parent (engine.Executes is false) is not local.
	if local && c.eng.Executes(runID) {
		if awaitsUpdate(task) || task.Type == engine.TypeSubWorkflow {
			// A task waiting for an external completion, or a SUB_WORKFLOW
			// task (its child runs on), answered by its id as Conductor's
			// updateTask takes it.
			return name, domain, s.completeWaitingByID(r, runID, res)
		}
		// Executed here and not in the queue: its attempt is ending, or
		// is starting — its record is visible SCHEDULED (the run was
		// written) before its worker call reaches the queue. Conductor
		// takes an update of a SCHEDULED task at once: wait for the call.
		err := s.conductor.queue.completeWhenQueued(r.Context(), res.TaskID, res.workerResult)
		if errors.Is(err, ErrUnknownTask) {
			// Ending (its end being written, or a write that failed
			// stopping the run, which a resume offers again). Once that
			// settles the update is taken or answered as one of a task
			// that ended: the worker sends it again.
			return "", "", fmt.Errorf("%w: task %s: its attempt is ending on this server, send the update again", engine.ErrNotStored, res.TaskID)
		}
		if err != nil {
			return "", "", err
		}
		return name, domain, nil
	}
	if task.Type == engine.TypeSubWorkflow {
		// Stored in the run store, where the executing process takes it.
		return name, domain, s.completeWaitingByID(r, runID, res)
	}
	switch res.Status {
	case "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR":
	case "IN_PROGRESS", "SCHEDULED":
		if sq := c.queue.shared; sq != nil {
			// Only the executing process keeps the task's clocks: the
			// whole update goes to it, applied there as it is here
			// (sharedprogress.go).
			if owner, err := sq.ownerOf(r.Context(), res.TaskID); err == nil {
				s.keepResultLogs(r, runID, res)
				if told, err := sq.progress(r.Context(), owner, res.TaskID, res.workerResult); told {
					return name, domain, err
				}
			}
		}
		fallthrough
	default:
		return "", "", fmt.Errorf("%w: %s is executed by another serve process, which takes final answers only (COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR)", ErrUnknownTask, res.TaskID)
	}
	out := res.Output
	if len(out) == 0 || string(out) == "null" {
		out = json.RawMessage("{}")
	}
	s.keepResultLogs(r, runID, res)
	// The attempt the update names only (never a retry that replaced
	// it), with the update's reasonForIncompletion, as the executing
	// process takes an answer made there.
	if _, err := c.eng.CompleteTaskWith(r.Context(), runID, completionOf(res.TaskID, res.Status, out, res.workerResult)); err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrUnknownTask, res.TaskID, s.masker.MaskString(err.Error()))
	}
	if sq := c.queue.shared; sq != nil {
		// The executing process takes the answer now, not at its next look.
		if owner, err := sq.ownerOf(r.Context(), res.TaskID); err == nil {
			sq.tell(r.Context(), owner, "answered", res.TaskID, "-")
		}
	}
	// Answered once the executing process stored the task's end, as an
	// answer made there is.
	return name, domain, s.awaitTaskEnded(r, runID, res.TaskID)
}

// completionOf is the engine's completion of attempt taskID with status
// and output, with res's reasonForIncompletion (none, "" or a text).
func completionOf(taskID, status string, output json.RawMessage, res workerResult) engine.Completion {
	c := engine.Completion{TaskID: taskID, Status: status, Output: output}
	c.Reason, c.EmptyReason = res.reasonText()
	return c
}

// completeWaitingByID completes (or fails) a WAIT or HUMAN task this
// process executes, the attempt res names: POST /api/tasks for a task no
// worker polls. An update IN_PROGRESS leaves it waiting with the update's
// outputData, reasonForIncompletion and callbackAfterSeconds, as
// Conductor's updateTask stores a system task it does not end (a
// SUB_WORKFLOW task too: engine.Completion), answered once the process
// executing the run (this one or another) stored it (progressStored).
func (s *Server) completeWaitingByID(r *http.Request, runID string, res taskResult) error {
	out := res.Output
	if len(out) == 0 || string(out) == "null" {
		out = json.RawMessage("{}")
	}
	c := completionOf(res.TaskID, res.Status, out, res.workerResult)
	c.SubWorkflowID, c.CallbackAfterSeconds = res.SubWorkflowID, res.CallbackSecs
	var err error
	if res.Status == engine.TaskInProgress {
		_, err = s.progressStored(r, runID, c)
	} else {
		_, err = s.conductor.eng.CompleteTaskWith(r.Context(), runID, c)
	}
	if errors.Is(err, engine.ErrNotWaiting) || errors.Is(err, engine.ErrNotRunning) {
		return fmt.Errorf("%w: %s", errTaskEnded, res.TaskID)
	}
	if err != nil || res.Status == engine.TaskInProgress {
		return err // the task does not end
	}
	return s.awaitTaskEnded(r, runID, res.TaskID)
}

// progressStored stores update IN_PROGRESS c of a task of run runID that
// waits for its completion from outside, or of a SUB_WORKFLOW task (by
// reference when c names no attempt), and returns the id of the attempt
// updated once the process executing the run, this one or another
// sharing the run store, stored it (engine.CompleteTaskStored), as
// Conductor's updateTask stores the task before it answers; after
// syncUpdateWait it answers anyway, the update resting in the run store
// until the runner takes it.
func (s *Server) progressStored(r *http.Request, runID string, c engine.Completion) (string, error) {
	ctx, cancel := context.WithTimeout(r.Context(), syncUpdateWait)
	defer cancel()
	_, id, err := s.conductor.eng.CompleteTaskStored(ctx, runID, c)
	return id, err
}

// awaitTaskEnded returns once the stored run runID shows task taskID
// ended (or the run ended), up to syncUpdateWait: Conductor has the task
// ended when updateTask returns, so a client that reads the run next sees
// its next task, not this one still waiting.
func (s *Server) awaitTaskEnded(r *http.Request, runID, taskID string) error {
	deadline := time.NewTimer(syncUpdateWait)
	defer deadline.Stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	for {
		// The attempt's record, not the run (engine.StoredAttempt).
		st, err := s.conductor.eng.StoredAttempt(r.Context(), runID, taskID)
		if err != nil {
			return err
		}
		if terminalStatus(st.RunStatus) || !st.Found || !st.Task.Open() {
			return nil
		}
		if f := s.conductor.endWait.Load(); f != nil {
			(*f)()
		}
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
}
