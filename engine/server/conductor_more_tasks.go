package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// More of Conductor's TaskResource: a task by id and the synchronous
// update by reference. A task is shown as it is in its run's masked view
// (execution).

// errNoTask: no run the caller may read holds the task.
var errNoTask = errors.New("Task not found for taskId")

// findTask finds the task with id taskID for p and its run's view. A task
// this process's queue holds or its task index (taskindex.go) knows names
// its run; else the run tag the id carries names the runs to read
// (runstore.TaskRunReader). Only a store holding runs without a tag (an
// earlier wfrun wrote them) is looked through for
// any other: the stored runs, those that have not ended first, newest
// first (a run whose stored text does not hold the id is not decoded), a
// cost that grows with the runs stored. A run p may not read is not loaded
// at all unless p holds a task scope (tasks:read, tasks:poll: its worker
// tasks may be readable, mayReadTask). The caller must then check it may
// see the task.
func (s *Server) findTask(ctx context.Context, p store.Principal, taskID string) (run, task map[string]any, err error) {
	if taskID == "" {
		return nil, nil, errNoTask
	}
	lookIn := func(runID string) (map[string]any, map[string]any, error) {
		doc, err := s.execution(ctx, runID)
		if err != nil {
			return nil, nil, err
		}
		list, _ := doc["tasks"].([]any)
		for _, it := range list {
			if t, _ := it.(map[string]any); t != nil && t["taskId"] == taskID {
				return doc, t, nil
			}
		}
		return nil, nil, errNoTask
	}
	taskScoped := s.auth == nil || holdsTaskScope(p)
	for _, runOf := range []func(string) string{s.conductor.queue.runOf, s.conductor.tasks.runOf} {
		if runID := runOf(taskID); runID != "" {
			// A run p may not read is not loaded, as the scan below
			// passes it over: an id of such a run costs what an unknown
			// id costs.
			if !taskScoped && !s.mayReadRunSummary(ctx, p, runID) {
				continue
			}
			if run, task, err := lookIn(runID); err == nil {
				return run, task, nil
			}
		}
	}
	// The run store keeps each run's tag, which the task id carries
	// (runstore.TaskRunReader): the runs with that tag are read, not every
	// run. In a store whose every run has its tag, a task none of them
	// holds is no task.
	if runs, complete, err := s.conductor.eng.TaskRuns(ctx, taskID); err == nil && (len(runs) > 0 || complete) {
		for _, runID := range runs {
			if !taskScoped && !s.mayReadRunSummary(ctx, p, runID) {
				continue
			}
			run, task, err := lookIn(runID)
			switch {
			case err == nil:
				s.conductor.tasks.put(taskID, runID)
				return run, task, nil
			case !errors.Is(err, errNoTask) && !errors.Is(err, runstore.ErrNotFound):
				return nil, nil, err
			}
		}
		if complete {
			return nil, nil, errNoTask
		}
	}
	all, err := s.conductor.eng.List(ctx, runstore.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	// Runs that have not ended first: their tasks are the ones asked for
	// most (a worker's, a waiting one).
	sort.SliceStable(all, func(i, j int) bool { return !terminalStatus(all[i].Status) && terminalStatus(all[j].Status) })
	needle := []byte(`"` + taskID + `"`)
	for _, sum := range all {
		if !taskScoped && !s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(ctx, sum) }) {
			continue
		}
		view, err := s.conductor.eng.Show(ctx, sum.ID)
		if err != nil || !bytes.Contains(view, needle) {
			continue
		}
		if run, task, err := lookIn(sum.ID); err == nil {
			s.conductor.tasks.put(taskID, sum.ID)
			return run, task, nil
		}
	}
	return nil, nil, errNoTask
}

// mayReadRunSummary: p may read run id, judged from its stored summary
// when the store keeps one (no document loaded), else from the run.
func (s *Server) mayReadRunSummary(ctx context.Context, p store.Principal, id string) bool {
	sum, err := s.conductor.eng.RunSummary(ctx, id)
	if err != nil {
		return s.mayDoRun(ctx, p, id, needRead)
	}
	return s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(ctx, sum) })
}

// holdsTaskScope: some scope of p covers tasks:read:<x> or tasks:poll:<x>
// for some task name x.
func holdsTaskScope(p store.Principal) bool {
	for _, sc := range p.Scopes {
		for _, want := range []string{ScopeTaskRead, ScopePollPrefix} {
			if pre, wild := strings.CutSuffix(sc, "*"); wild && (strings.HasPrefix(want, pre) || strings.HasPrefix(pre, want)) {
				return true
			}
			if strings.HasPrefix(sc, want) {
				return true
			}
		}
	}
	return false
}

// mayReadTask: p may read the run holding task (workflows:read of its
// workflow, or having started it), or, for a worker task (SIMPLE), its
// type (tasks:read or tasks:poll: its workers are handed its input
// anyway). An operator or a task wfrun executes itself (SWITCH, JOIN, a
// WAIT or an HTTP task, whatever its name) is read by the run's rule only.
func (s *Server) mayReadTask(ctx context.Context, p store.Principal, run, task map[string]any) bool {
	if s.auth == nil {
		return true
	}
	if name := s.workerTaskName(task); name != "" && (p.Satisfies(ScopeTaskRead+name) || p.Satisfies(ScopePollPrefix+name)) {
		return true
	}
	id, _ := run["workflowId"].(string)
	return s.mayDoRun(ctx, p, id, needRead)
}

// workerTaskName is the name of task (a run view's task) when it is a
// worker task (engine.IsWorkerTask), else "".
func (s *Server) workerTaskName(task map[string]any) string {
	name, _ := task["taskDefName"].(string)
	typ, _ := task["taskType"].(string)
	if !s.conductor.eng.IsWorkerTask(typ, name) {
		return ""
	}
	return name
}

// visibleTask finds taskId for p; it answers 404 itself (a task p may not
// read is answered as a missing one).
func (s *Server) visibleTask(w http.ResponseWriter, r *http.Request, p store.Principal, taskID string) (run, task map[string]any, ok bool) {
	run, task, err := s.findTask(r.Context(), p, taskID)
	if err == nil && !s.mayReadTask(r.Context(), p, run, task) {
		s.log.Warn("forbidden", "path", r.URL.Path, "principal", p.Name, "scope", "the task's run or type")
		err = errNoTask
	}
	switch {
	case err == nil:
		return run, task, true
	case errors.Is(err, errNoTask):
		conductorError(w, r, http.StatusNotFound, "Task not found for taskId: "+taskID)
	default:
		s.runError(w, r, err)
	}
	return nil, nil, false
}

// getTask is GET /api/tasks/{taskId}: the Task, 404 when there is none.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request, p store.Principal) {
	_, task, ok := s.visibleTask(w, r, p, r.PathValue("taskId"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, task)
}

// pendingTask is the latest record of ref (or of ref's DO_WHILE
// iterations, ref__N, ref__N__M in nested loops) that waits: SCHEDULED or
// IN_PROGRESS. Another task whose reference merely starts with ref__
// (ref__b) is not one of them.
func pendingTask(run map[string]any, ref string) map[string]any {
	list, _ := run["tasks"].([]any)
	for i := len(list) - 1; i >= 0; i-- {
		t, _ := list[i].(map[string]any)
		got, _ := t["referenceTaskName"].(string)
		if !isIterationOf(got, ref) {
			continue
		}
		if st, _ := t["status"].(string); st == engine.TaskScheduled || st == engine.TaskInProgress {
			return t
		}
	}
	return nil
}

// pendingState is pendingTask over a run's engine.State.
func pendingState(st engine.RunState, ref string) (engine.TaskState, bool) {
	for i := len(st.Tasks) - 1; i >= 0; i-- {
		if t := st.Tasks[i]; isIterationOf(t.Ref, ref) && t.Open() {
			return t, true
		}
	}
	return engine.TaskState{}, false
}

// isIterationOf: got is ref, or ref followed by loop iteration suffixes
// (__<digits>, one per enclosing DO_WHILE), as the engine names a loop's
// tasks.
func isIterationOf(got, ref string) bool {
	rest, ok := strings.CutPrefix(got, ref)
	if !ok {
		return false
	}
	for rest != "" {
		digits, ok := strings.CutPrefix(rest, "__")
		if !ok {
			return false
		}
		n := 0
		for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		rest = digits[n:]
	}
	return true
}

// syncUpdateWait bounds how long the synchronous update waits for the
// run to take the update before it answers the run as it is.
const syncUpdateWait = 5 * time.Second

// updateTaskSync is POST /api/tasks/{workflowId}/{ref}/{status}/sync:
// POST /api/tasks/{workflowId}/{ref}/{status}, answering the Workflow
// (with its tasks) once the run has applied the update, as Conductor's
// updateTaskSync does; 404 when the run has no waiting task of ref.
func (s *Server) updateTaskSync(w http.ResponseWriter, r *http.Request, p store.Principal) {
	runID, ref := r.PathValue("workflowId"), r.PathValue("ref")
	run, err := s.execution(r.Context(), runID)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	pending := pendingTask(run, ref)
	if pending == nil || terminalStatus(run["status"]) {
		conductorError(w, r, http.StatusNotFound, s.masker.MaskString("Found no running task "+ref+" of workflow "+runID+" to update"))
		return
	}
	taskID, _ := pending["taskId"].(string)
	if _, ok := s.completeByRef(w, r, p); !ok {
		return
	}
	final := false
	switch r.PathValue("status") {
	case engine.TaskCompleted, engine.TaskFailed, engine.TaskFailedTerminal:
		final = true
	}
	deadline := time.NewTimer(syncUpdateWait)
	defer deadline.Stop()
	tick := time.NewTicker(signalTick)
	defer tick.Stop()
	settled := ""
	for {
		doc, err := s.execution(r.Context(), runID)
		if err != nil {
			s.runError(w, r, err)
			return
		}
		applied := !final
		if final {
			if applied, err = s.taskEnded(r.Context(), runID, doc, engine.Signalled{RunID: runID, TaskID: taskID}); err != nil {
				s.runError(w, r, err)
				return
			}
		}
		// Conductor answers after the decide that follows the update: the
		// next tasks scheduled, a loop whose iteration ended evaluated.
		// The run has settled when two reads a tick apart show the same
		// tasks in the same states, one of them waiting for the outside.
		now := runShape(doc)
		if applied && (terminalStatus(doc["status"]) || (now == settled && s.waitsOutside(doc))) {
			writeJSON(w, http.StatusOK, doc)
			return
		}
		if applied {
			settled = now
		}
		select {
		case <-r.Context().Done():
			return
		case <-deadline.C:
			writeJSON(w, http.StatusOK, doc)
			return
		case <-tick.C:
		}
	}
}

// runShape is a run's status and its tasks' ids and states, to tell when
// it stopped moving.
func runShape(doc map[string]any) string {
	var b strings.Builder
	fmt.Fprint(&b, doc["status"])
	list, _ := doc["tasks"].([]any)
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			fmt.Fprint(&b, " ", t["taskId"], ":", t["status"])
		}
	}
	return b.String()
}

// waitsOutside: a task of the run waits for a worker, an external
// completion or a child run (the run is PAUSED, or one of its unended
// tasks is engine.KindWorker or engine.KindOutside: not one the engine
// runs through by itself).
func (s *Server) waitsOutside(doc map[string]any) bool {
	if doc["status"] == engine.StatusPaused {
		return true
	}
	list, _ := doc["tasks"].([]any)
	for _, it := range list {
		t, _ := it.(map[string]any)
		st, _ := t["status"].(string)
		if st != engine.TaskScheduled && st != engine.TaskInProgress {
			continue
		}
		typ, _ := t["taskType"].(string)
		name, _ := t["taskDefName"].(string)
		if k := s.conductor.eng.TaskKind(typ, name); k == engine.KindWorker || k == engine.KindOutside {
			return true
		}
	}
	return false
}

// tasksSubRoute is GET /api/tasks/{taskId}/{sub}: only …/log is served
// (GET /api/tasks/poll/{type} is more specific and keeps its route).
func (s *Server) tasksSubRoute(log http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("sub") == "log" {
			log(w, r)
			return
		}
		notFoundRoute(w, r)
	}
}

// taskLogLine reads POST /api/tasks/{taskId}/log's body, Conductor's raw
// String: the Go and JS SDKs send the line as a JSON string literal
// (Content-Type application/json), which is decoded; any other body is
// the line itself.
func taskLogLine(body []byte) string {
	var s string
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '"' && json.Unmarshal(t, &s) == nil {
		return s
	}
	return string(body)
}

// postTaskLog is POST /api/tasks/{taskId}/log: a line of the task's
// execution log, masked with its run's masker (engine.AppendTaskLog)
// before it is stored. The caller polls the worker task's type (its
// worker) or manages its run; 409 once the run ended.
func (s *Server) postTaskLog(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	taskID := r.PathValue("taskId")
	run, task, ok := s.visibleTask(w, r, p, taskID)
	if !ok {
		return
	}
	runID, _ := run["workflowId"].(string)
	if name := s.workerTaskName(task); (name == "" || !s.allowed(p, ScopePollPrefix+name)) && !s.mayDoRun(r.Context(), p, runID, needManage) {
		missing := ScopePollPrefix + name
		if name == "" {
			missing = ScopeWorkflowManage + fmt.Sprint(run["workflowType"])
		}
		s.forbid(w, r, p, missing)
		return
	}
	s.appendTaskLog(w, r, runID, taskID, taskLogLine(body))
}

func (s *Server) appendTaskLog(w http.ResponseWriter, r *http.Request, runID, taskID, line string) {
	err := s.conductor.eng.AppendTaskLog(r.Context(), runID, taskID, line)
	switch {
	case err == nil:
		writeEmpty(w, http.StatusOK)
	case errors.Is(err, engine.ErrNotRunning):
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error())+": its task logs are closed")
	case errors.Is(err, engine.ErrNoTaskLogs):
		conductorError(w, r, http.StatusNotImplemented, err.Error())
	default:
		s.runError(w, r, err)
	}
}

// getTaskLogs is GET /api/tasks/{taskId}/log: the task's TaskExecLogs,
// oldest first; 204 when it has none, as Conductor answers (its
// getTaskLogs reads the logs of any id: an empty list, 204) — so also for
// a task that does not exist or that the caller may not read.
func (s *Server) getTaskLogs(w http.ResponseWriter, r *http.Request, p store.Principal) {
	taskID := r.PathValue("taskId")
	run, task, err := s.findTask(r.Context(), p, taskID)
	if err == nil && !s.mayReadTask(r.Context(), p, run, task) {
		s.log.Warn("forbidden", "path", r.URL.Path, "principal", p.Name, "scope", "the task's run or type")
		err = errNoTask
	}
	switch {
	case errors.Is(err, errNoTask), errors.Is(err, runstore.ErrNotFound):
		writeEmpty(w, http.StatusNoContent)
		return
	case err != nil:
		s.runError(w, r, err)
		return
	}
	runID, _ := run["workflowId"].(string)
	logs, err := s.conductor.eng.TaskLogs(r.Context(), runID, taskID)
	switch {
	case errors.Is(err, engine.ErrNoTaskLogs):
		writeEmpty(w, http.StatusNoContent)
	case err != nil:
		s.runError(w, r, err)
	case len(logs) == 0:
		writeEmpty(w, http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, logs)
	}
}

// resultLogs keeps the log lines a worker's TaskResult carries as the
// task's log (Conductor's updateTask adds them), before the result is
// applied: the run is still RUNNING. Here for a task this process's queue
// holds, of the run it names (forwardUpdate keeps those of a task another
// process executes); a line that cannot be kept is logged (masked) and the
// result goes on.
func (s *Server) resultLogs(r *http.Request, res taskResult) {
	if len(res.Logs) == 0 {
		return
	}
	runID := s.conductor.queue.runOf(res.TaskID)
	if runID == "" || runID != res.WorkflowInstanceID {
		return
	}
	s.keepResultLogs(r, runID, res)
}

// keepResultLogs keeps the log lines of update res of a task of run
// runID (resultLogs).
func (s *Server) keepResultLogs(r *http.Request, runID string, res taskResult) {
	if len(res.Logs) == 0 {
		return
	}
	lines := make([]string, len(res.Logs))
	for i, l := range res.Logs {
		lines[i] = l.Log
	}
	// The result's `_secrets` leaves mask its lines too: the output is
	// applied after the lines are kept.
	if err := s.conductor.eng.AppendTaskLogs(r.Context(), runID, res.TaskID, lines, engine.WithTaskOutput(res.Output)); err != nil {
		s.log.Warn("task log lines not kept", "taskId", res.TaskID, "workflowId", runID, "error", s.masker.MaskString(err.Error()))
	}
}
