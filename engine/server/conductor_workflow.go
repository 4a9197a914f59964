package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// startRequest is Conductor's StartWorkflowRequest.
type startRequest struct {
	Name          string          `json:"name"`
	Version       int             `json:"version"`
	CorrelationID string          `json:"correlationId"`
	Input         json.RawMessage `json:"input"`
	WorkflowDef   json.RawMessage `json:"workflowDef"`
	// A workflow test's run option; the answer of a start that answers
	// the run itself (workflowtest.go, conductor_execute.go), which its
	// caller must then be able to read (checked before the start).
	extra        []engine.RunOption
	answer       func(w http.ResponseWriter, r *http.Request, id string)
	test         bool // a workflow test: its inline definition may shadow a registered one
	byName       bool // POST /api/workflow/{name}: Conductor's words for a missing definition differ
	startOptions      // conductor_start.go
}

func (s *Server) startWorkflowRequest(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var req startRequest
	if !s.decodeRequest(w, r, "StartWorkflowRequest", &req) {
		return
	}
	// Conductor validates the request's constraints as the service is
	// called, before it looks for the definition.
	if v := priorityViolation(req.Priority, false); v != nil {
		constraintsFailed(w, r, v)
		return
	}
	if string(bytes.TrimSpace(req.Input)) == "null" {
		// Conductor's startWorkflow refuses an input given as null
		// (validateWorkflow's IllegalArgumentException, a 400); one left
		// out is the request's empty map.
		conductorError(w, r, http.StatusBadRequest, "NULL input passed when starting workflow")
		return
	}
	s.start(w, r, p, req)
}

// readInput reads a request body that is a run's input: empty is {}, and
// anything but JSON is a 400 naming where it stops being JSON. false: the
// answer was written.
func (s *Server) readInput(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return nil, false
	}
	return s.checkInput(w, r, body)
}

// checkInput is readInput on a body already read.
func (s *Server) checkInput(w http.ResponseWriter, r *http.Request, body []byte) ([]byte, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return []byte("{}"), true
	}
	if !json.Valid(body) {
		var v any
		conductorError(w, r, http.StatusBadRequest, "workflow input: "+jsonErr(json.Unmarshal(body, &v)))
		return nil, false
	}
	return body, true
}

// missingStartInput is the message Conductor's POST /api/workflow/{name}
// answers when the body is empty or JSON null: its input is a required
// @RequestBody, and Spring's "Required request body is missing" is no
// exception ApplicationExceptionMapper maps to a status, so a 500 that is
// not retryable.
const missingStartInput = "Required request body is missing: public java.lang.String " +
	"com.netflix.conductor.rest.controllers.WorkflowResource.startWorkflow(java.lang.String," +
	"java.lang.Integer,java.lang.String,int,java.util.Map<java.lang.String, java.lang.Object>)"

func (s *Server) startWorkflowByName(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || string(t) == "null" {
		// An input left out is no empty input to Conductor: a client
		// that means {} says so (the Go SDK's nil input is null).
		conductorErrorRetryable(w, r, http.StatusInternalServerError, missingStartInput, false)
		return
	}
	body, ok := s.checkInput(w, r, body)
	if !ok {
		return
	}
	q := r.URL.Query()
	req := startRequest{Name: r.PathValue("name"), CorrelationID: q.Get("correlationId"), Input: body, byName: true}
	if !req.fromQuery(w, r) {
		return
	}
	if v := priorityViolation(req.Priority, true); v != nil {
		constraintsFailed(w, r, v)
		return
	}
	if v := q.Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			conductorError(w, r, http.StatusBadRequest, "version must be an integer")
			return
		}
		req.Version = n
	}
	s.start(w, r, p, req)
}

// start runs a workflow for principal p and answers its id as text/plain
// once the run is stored and its first decision done (startdecide.go).
func (s *Server) start(w http.ResponseWriter, r *http.Request, p store.Principal, req startRequest) {
	raw := []byte(req.WorkflowDef)
	inline := !(len(raw) == 0 || string(raw) == "null")
	if !inline {
		b, err := s.conductor.defs.workflow(req.Name, req.Version)
		if errors.Is(err, ErrNoDefinition) {
			conductorError(w, r, http.StatusNotFound, noWorkflowDefinition(req.Name, req.Version, req.byName))
			return
		}
		if err != nil {
			s.metaError(w, r, err)
			return
		}
		raw = b
	}
	prepared, err := s.conductor.defs.prepareDefinition(raw)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "workflow definition: "+jsonErr(err))
		return
	}
	def, err := s.conductor.eng.Parse(prepared)
	if err == nil && inline {
		// Conductor validates a start request's definition as its
		// metadata API does.
		err = engine.CheckRegistrable(def)
	}
	if err != nil {
		s.metaError(w, r, s.maskDefinitionError(r.Context(), p, raw, err))
		return
	}
	if !s.mayStart(w, r, p, def.Name) {
		return
	}
	if inline && !req.test && !s.mayShadow(w, r, p, def.Name) {
		return
	}
	if req.answer != nil && !s.mayReadStarted(w, r, p, def.Name) {
		return
	}
	input := req.Input
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	if bytes.TrimSpace(input)[0] != '{' {
		conductorError(w, r, http.StatusBadRequest, "workflow input must be a JSON object")
		return
	}
	id := newRunID()
	opts := []engine.RunOption{engine.WithRunID(id), engine.AsPrincipal(enginePrincipal(p))}
	if req.CorrelationID != "" {
		opts = append(opts, engine.WithCorrelationID(req.CorrelationID))
	}
	opts = append(opts, req.extra...)
	more, existing, ok := s.startWith(w, r, p, &req.startOptions, def.Name, id)
	if !ok {
		return
	}
	if existing != "" { // RETURN_EXISTING
		if req.answer != nil {
			req.answer(w, r, existing)
			return
		}
		writeText(w, http.StatusOK, existing)
		return
	}
	opts = append(opts, more...)
	wake, decided := s.conductor.deciding(id)
	defer decided()
	err = s.conductor.launch(id, func(ctx context.Context) error {
		_, err := s.conductor.eng.Start(ctx, def, input, opts...)
		if err != nil && !errors.Is(err, engine.ErrInterrupted) {
			s.log.Warn("workflow stopped", "workflowId", id, "error", s.masker.MaskString(err.Error()))
		}
		return err
	})
	if err != nil {
		s.releaseStart(r, &req.startOptions, def.Name, id)
		status, retryable := http.StatusBadRequest, false
		switch {
		case errors.Is(err, runstore.ErrUnavailable):
			// The store is away, the request is fine: a 500, retryable, as
			// Conductor answers a TransientException.
			status, retryable = http.StatusInternalServerError, true
		case errors.Is(err, engine.ErrDefinitionNotFound):
			// A SUB_WORKFLOW task names, without a version, a workflow
			// with no definition: Conductor's MetadataMapperService
			// throws a TerminateWorkflowException, which its REST layer
			// maps to no status: a 500, not retryable.
			status = http.StatusInternalServerError
		}
		conductorErrorRetryable(w, r, status, s.masker.MaskString(err.Error()), retryable)
		return
	}
	// Answered once the run's first tasks are scheduled and its worker
	// tasks offered to pollers, as Conductor's start (startdecide.go).
	s.awaitDecision(r.Context(), id, wake)
	if req.answer != nil {
		req.answer(w, r, id)
		return
	}
	writeText(w, http.StatusOK, id)
}

// noWorkflowDefinition is Conductor's NotFoundException message for the
// start of a workflow name without a definition (version 0: the latest,
// Java's null): MetadataServiceImpl's for POST /api/workflow/{name}
// (byName), MetadataMapperService's for a StartWorkflowRequest.
func noWorkflowDefinition(name string, version int, byName bool) string {
	v := "null"
	if version != 0 {
		v = strconv.Itoa(version)
	}
	if byName {
		return fmt.Sprintf("No such workflow found by name: %s, version: %s", name, v)
	}
	return fmt.Sprintf("No such workflow defined. name=%s, version=%s", name, v)
}

// runPathID is the run id the request's path names: {id}, or
// {workflowId} on the task routes.
func runPathID(r *http.Request) string {
	if id := r.PathValue("id"); id != "" {
		return id
	}
	return r.PathValue("workflowId")
}

// runError maps engine and run store errors.
func (s *Server) runError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, runstore.ErrNotFound):
		conductorError(w, r, http.StatusNotFound, "workflow not found: "+runPathID(r))
	case errors.Is(err, engine.ErrStillRunning), errors.Is(err, engine.ErrNotRunning), errors.Is(err, engine.ErrArchivedSecrets), errors.Is(err, engine.ErrNotPaused):
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error()))
	default:
		s.log.Error("run store", "path", r.URL.Path, "error", s.masker.MaskString(err.Error()))
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
	}
}

// execution loads a run's display form (masked; `_secrets`, `_masked` and
// maskedFields values as "***") in Conductor's Workflow shape.
func (s *Server) execution(ctx context.Context, id string) (map[string]any, error) {
	view, err := s.conductor.eng.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.executionDoc(view)
}

// taskPrimitives are members of Conductor's Task that are primitives (its
// JSON always has them): a record that leaves one out has it 0.
var taskPrimitives = []string{"updateTime", "callbackAfterSeconds", "rateLimitPerFrequency", "rateLimitFrequencyInSeconds", "responseTimeoutSeconds", "pollCount"}

// taskDefaults completes task record t of run doc with the members
// Conductor's Task derives from its run and its own members:
// workflowPriority and correlationId (the run's), loopOverTask (iteration
// above 0), queueWaitTime (from scheduling to the start, 0 before; for a
// task a worker put back with callbackAfterSeconds, how long it has been
// due since then, as Task.getQueueWaitTime counts) and the primitives a
// record leaves out when 0.
func taskDefaults(t, doc map[string]any) {
	// The engine's own: when a WAIT an update put back in its queue is
	// looked at again (Conductor's queue holds that, not its Task).
	delete(t, "postponedUntil")
	if numberOf(t["updateTime"]) == 0 {
		// A run stored before records kept updateTime (or a record never
		// changed since): the latest time the record does keep, so a
		// client sorting by it sees the record's last change.
		t["updateTime"] = json.Number(strconv.FormatInt(latestOf(t, "scheduledTime", "startTime", "endTime"), 10))
	}
	for _, k := range taskPrimitives {
		if t[k] == nil {
			t[k] = 0
		}
	}
	t["workflowPriority"] = doc["priority"]
	if c, ok := doc["correlationId"]; ok && t["correlationId"] == nil {
		t["correlationId"] = c
	}
	t["loopOverTask"] = numberOf(t["iteration"]) > 0
	sched, start := numberOf(t["scheduledTime"]), numberOf(t["startTime"])
	wait := int64(0)
	if sched > 0 && start > 0 {
		wait = start - sched
		if upd, cb := numberOf(t["updateTime"]), numberOf(t["callbackAfterSeconds"]); upd > 0 && cb > 0 {
			wait = max(0, time.Now().UnixMilli()-(upd+cb*1000))
		}
	}
	t["queueWaitTime"] = wait
}

// latestOf is the largest of m's members keys as numberOf reads them (0:
// none is set).
func latestOf(m map[string]any, keys ...string) int64 {
	var n int64
	for _, k := range keys {
		n = max(n, numberOf(m[k]))
	}
	return n
}

// numberOf is v as an integer (0 unless a json.Number holding one).
func numberOf(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}

// getWorkflow answers GET /api/workflow/{id}: the run is loaded once, for
// the caller's scope check (loadRun) and the answer.
func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request, p store.Principal) {
	view, ok := s.loadRun(w, r, p, r.PathValue("id"), needRead)
	if !ok {
		return
	}
	doc, err := s.executionDoc(view)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	if r.URL.Query().Get("includeTasks") == "false" {
		delete(doc, "tasks")
	}
	writeJSON(w, http.StatusOK, doc)
}

// getWorkflowStatus answers GET /api/workflow/{id}/status, loading the run
// once as getWorkflow does.
func (s *Server) getWorkflowStatus(w http.ResponseWriter, r *http.Request, p store.Principal) {
	view, ok := s.loadRun(w, r, p, r.PathValue("id"), needRead)
	if !ok {
		return
	}
	doc, err := s.executionDoc(view)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	q := r.URL.Query()
	out := map[string]any{"workflowId": doc["workflowId"], "correlationId": doc["correlationId"], "status": doc["status"]}
	if q.Get("includeOutput") == "true" {
		out["output"] = doc["output"]
	}
	if q.Get("includeVariables") == "true" {
		out["variables"] = doc["variables"]
	}
	writeJSON(w, http.StatusOK, out)
}

// searchWorkflows answers GET /api/workflow/search (start, size, sort,
// query in Conductor's syntax — search.go —, freeText "*" or a text that
// the run's id, type, correlation id or status contains) from the run
// summaries (searchPage), as Conductor's WorkflowSummary.
func (s *Server) searchWorkflows(w http.ResponseWriter, r *http.Request, p store.Principal) {
	total, page, ok := s.searchPage(w, r, p)
	if !ok {
		return
	}
	results := make([]workflowSummary, 0, len(page))
	for _, sum := range page {
		results = append(results, s.workflowSummaryOf(r.Context(), sum))
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalHits": total, "results": results})
}

// workflowSummary is Conductor's WorkflowSummary, as search answers it.
type workflowSummary struct {
	WorkflowType  string `json:"workflowType"`
	Version       int    `json:"version"`
	WorkflowID    string `json:"workflowId"`
	CorrelationID string `json:"correlationId,omitempty"`
	Status        string `json:"status"`
	StartTime     string `json:"startTime"`
	UpdateTime    string `json:"updateTime"`
}

func (s *Server) workflowSummaryOf(ctx context.Context, sum runstore.Summary) workflowSummary {
	return workflowSummary{sum.WorkflowType, sum.Version, sum.ID, s.summaryCorrelation(ctx, sum), sum.Status,
		strconv.FormatInt(sum.CreateTime, 10), strconv.FormatInt(s.summaryUpdateTime(ctx, sum), 10)}
}

// summaryUpdateTime is run sum's updateTime: its summary's, or, for a
// summary written before summaries kept it (0), the one the run's
// Conductor record derives from the times the run keeps
// (deriveUpdateTime), read from the run: a search sorts, filters and
// shows such a run by the updateTime GET /api/workflow/{id} shows.
func (s *Server) summaryUpdateTime(ctx context.Context, sum runstore.Summary) int64 {
	if sum.UpdateTime != 0 {
		return sum.UpdateTime
	}
	view, err := s.conductor.eng.Show(ctx, sum.ID)
	if err != nil {
		return 0
	}
	dec := json.NewDecoder(bytes.NewReader(view))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return 0
	}
	list, _ := doc["tasks"].([]any)
	deriveUpdateTime(doc, list)
	n := numberOf(doc["updateTime"])
	if n != 0 {
		// Kept in the run's index entry (while it still has none), so
		// later searches, in this process or another, read it there. A
		// failure leaves the entry as it was: the next search derives
		// it again.
		_, _ = s.conductor.eng.BackfillUpdateTime(ctx, sum.ID, n)
	}
	return n
}

// searchPage runs the search of GET /api/workflow/search and its v2 over
// the run summaries: the number of runs that match and the page asked
// for. A run's correlation id is read from the run itself only when the
// query needs it and its summary does not say. It answers a bad query
// itself (400).
//
// Runs the caller may not read (workflows:read of their workflow, or
// having started them) are left out before counting: totalHits and the
// pages are those of the runs the caller may see.
func (s *Server) searchPage(w http.ResponseWriter, r *http.Request, p store.Principal) (int, []runstore.Summary, bool) {
	q := r.URL.Query()
	start, size, ok := pageParams(w, r, "workflows")
	if !ok {
		return 0, nil, false
	}
	expr, err := parseSearch(q.Get("query"), s.masker.MaskString)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return 0, nil, false
	}
	free := strings.TrimSpace(q.Get("freeText"))
	if free == "*" {
		free = ""
	}
	opts := runstore.ListOptions{}
	if c, ok := expr.(*condition); ok && c.field == "status" && c.op == "=" {
		opts.Status = c.values[0]
	}
	all, err := s.conductor.eng.List(r.Context(), opts)
	if err != nil {
		s.runError(w, r, err)
		return 0, nil, false
	}
	if strings.Contains(strings.ToLower(q.Get("sort")+" "+q.Get("query")), "updatetime") {
		for i := range all {
			// A summary written before summaries kept updateTime: the
			// run's derived one, for the sort and the query (the answer
			// derives it for the runs of the page only, when neither
			// uses it).
			all[i].UpdateTime = s.summaryUpdateTime(r.Context(), all[i])
		}
	}
	if field, desc, ok := strings.Cut(q.Get("sort"), ":"); ok || field != "" {
		less := summaryOrder(field)
		asc := !strings.EqualFold(desc, "DESC")
		// Ties (runs started in the same millisecond, the same status…)
		// are ordered by start time, then by workflowId, in the direction
		// asked: the order is total and the same at every request, so a
		// client paging through a search sees each run once, and DESC is
		// ASC reversed. Start time is the finest creation order a run
		// summary records.
		tie := func(a, b runstore.Summary) bool {
			if a.CreateTime != b.CreateTime {
				return a.CreateTime < b.CreateTime
			}
			return a.ID < b.ID
		}
		sort.Slice(all, func(i, j int) bool {
			a, b := all[i], all[j]
			if !asc {
				a, b = b, a
			}
			if less(a, b) {
				return true
			}
			return !less(b, a) && tie(a, b)
		})
	}
	page := []runstore.Summary{}
	total := 0
	for _, sum := range all {
		corr, haveCorr := "", false
		get := func(field string) string {
			switch field {
			case "workflowId":
				return sum.ID
			case "workflowType":
				return sum.WorkflowType
			case "version":
				return strconv.Itoa(sum.Version)
			case "status":
				return sum.Status
			case "startTime":
				return strconv.FormatInt(sum.CreateTime, 10)
			case "updateTime":
				return strconv.FormatInt(sum.UpdateTime, 10)
			case "parentWorkflowId":
				return sum.ParentID
			case "correlationId":
				if !haveCorr {
					corr, haveCorr = s.summaryCorrelation(r.Context(), sum), true
				}
				return corr
			}
			return ""
		}
		if expr != nil && !expr.match(get) {
			continue
		}
		if free != "" && !strings.Contains(sum.ID, free) && !strings.Contains(sum.WorkflowType, free) &&
			!strings.Contains(sum.Status, free) && !strings.Contains(get("correlationId"), free) {
			continue
		}
		if !s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(r.Context(), sum) }) {
			continue
		}
		total++
		if total <= start || len(page) >= size {
			continue
		}
		if haveCorr {
			sum.CorrelationID, sum.Correlated = corr, true
		}
		page = append(page, sum)
	}
	return total, page, true
}

// restartWorkflow: restart runs an ended workflow again from the start,
// retry from its failed tasks (engine.Restart), with
// resumeSubworkflowTasks=true from the failed sub-workflow it ended with
// (engine.Retry).
func (s *Server) restartWorkflow(fromStart bool) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, _ store.Principal) {
		id := r.PathValue("id")
		resume := !fromStart && r.URL.Query().Get("resumeSubworkflowTasks") == "true"
		latest := fromStart && r.URL.Query().Get("useLatestDefinitions") == "true"
		wake, decided := s.conductor.deciding(id)
		defer decided()
		err := s.conductor.launch(id, func(ctx context.Context) error {
			if fromStart {
				_, err := s.conductor.eng.RestartWith(ctx, id, engine.RestartOptions{UseLatestDefinitions: latest})
				return err
			}
			_, err := s.conductor.eng.Retry(ctx, id, resume)
			return err
		})
		if errors.Is(err, engine.ErrDefinitionNotFound) {
			conductorError(w, r, http.StatusNotFound, s.masker.MaskString(err.Error()))
			return
		}
		if err != nil {
			s.runError(w, r, err)
			return
		}
		// Answered after the run's next decision, as a start (startdecide.go).
		s.awaitDecision(r.Context(), id, wake)
		writeEmpty(w, http.StatusNoContent)
	}
}

// rerunRequest is Conductor's RerunWorkflowRequest: rerun from one of the
// run's tasks (from the start when none is named), optionally with a new
// run input, a new input for that task and a new correlation id.
type rerunRequest struct {
	ReRunFromTaskID string          `json:"reRunFromTaskId"`
	WorkflowInput   json.RawMessage `json:"workflowInput"`
	TaskInput       json.RawMessage `json:"taskInput"`
	CorrelationID   string          `json:"correlationId"`
}

// rerunWorkflow reruns an ended workflow (engine.RerunWith): from the task
// named by reRunFromTaskId, its earlier tasks kept, or from the start, with
// the replacement workflowInput, taskInput and correlationId it gives.
func (s *Server) rerunWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	var req rerunRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			conductorError(w, r, http.StatusBadRequest, "RerunWorkflowRequest: "+jsonErr(err))
			return
		}
	}
	opts := engine.RerunOptions{FromTaskID: req.ReRunFromTaskID, WorkflowInput: req.WorkflowInput, TaskInput: req.TaskInput, CorrelationID: req.CorrelationID}
	if err := opts.Validate(); err != nil {
		conductorError(w, r, http.StatusBadRequest, "RerunWorkflowRequest: "+err.Error())
		return
	}
	id := r.PathValue("id")
	wake, decided := s.conductor.deciding(id)
	defer decided()
	err = s.conductor.launch(id, func(ctx context.Context) error {
		_, err := s.conductor.eng.RerunWith(ctx, id, opts)
		return err
	})
	if err != nil {
		s.runError(w, r, err)
		return
	}
	s.awaitDecision(r.Context(), id, wake) // as a start (startdecide.go)
	s.awaitRerunChild(r.Context(), id, req.ReRunFromTaskID, wake)
	writeText(w, http.StatusOK, id)
}

// awaitRerunChild waits, up to startDecideWait, while the task a rerun
// starts from is a SUB_WORKFLOW of run id still SCHEDULED: Conductor's
// rerunWF starts a SUB_WORKFLOW task's new child within the call, so the
// answer finds the task IN_PROGRESS naming it. The run's executor starts
// the child right after the rerun's write; each change wakes the wait
// (startdecide.go).
func (s *Server) awaitRerunChild(ctx context.Context, id, taskID string, wake <-chan struct{}) {
	if taskID == "" {
		return
	}
	s.awaitRun(ctx, id, wake, func() (bool, bool) {
		st, err := s.conductor.eng.State(ctx, id)
		if err != nil || st.Status != engine.StatusRunning {
			return true, false
		}
		// Not executed here yet (the executor takes the rerun run over
		// right after the rerun's write) is not executed elsewhere: the
		// wait goes on, as for a decision (decided).
		if !st.Here && s.conductor.eng.ExecutedElsewhere(ctx, id) {
			return true, false
		}
		scheduled := rerunChildPending(st.Tasks, taskID)
		// The executor's memory may hold the task IN_PROGRESS before its
		// write: the answer waits for what a read of the run shows, and
		// once memory has moved on no change may come to wake the wait, so
		// it looks again on a tick (here false).
		here := st.Here
		if st.Here {
			if stored, err := s.conductor.eng.StoredState(ctx, id); err == nil {
				here = scheduled
				scheduled = rerunChildPending(stored.Tasks, taskID)
			}
		}
		if scheduled {
			if f := s.conductor.rerunChildWait.Load(); f != nil {
				(*f)()
			}
			return false, here
		}
		return true, here
	})
}

// rerunChildPending reports whether tasks hold taskID as a SUB_WORKFLOW
// still SCHEDULED (its new child not named yet).
func rerunChildPending(tasks []engine.TaskState, taskID string) bool {
	for _, t := range tasks {
		if t.TaskID == taskID && t.Type == engine.TypeSubWorkflow && t.Status == engine.TaskScheduled {
			return true
		}
	}
	return false
}

// skipTask is PUT /api/workflow/{id}/skiptask/{ref} (engine.SkipTask):
// the task the RUNNING run has not reached yet is recorded SKIPPED with
// the optional SkipTaskRequest's taskInput and taskOutput.
func (s *Server) skipTask(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	var req engine.SkipRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			conductorError(w, r, http.StatusBadRequest, "SkipTaskRequest: "+jsonErr(err))
			return
		}
	}
	err = s.conductor.eng.SkipTask(r.Context(), r.PathValue("id"), r.PathValue("ref"), req)
	switch {
	case err == nil:
		writeEmpty(w, http.StatusOK)
	case errors.Is(err, engine.ErrBadCompletion):
		conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
	case errors.Is(err, engine.ErrNotSkippable):
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error()))
	default:
		s.runError(w, r, err)
	}
}

// resetCallbacks is POST /api/workflow/{id}/resetcallbacks: the run's
// worker tasks waiting for the callbackAfterSeconds of an IN_PROGRESS
// update are offered to workers at once, by the process that executes the
// run: this one, or (serve processes sharing a queue) the one that owns
// the run's waiting tasks, told over Redis.
func (s *Server) resetCallbacks(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	id := r.PathValue("id")
	st, err := s.conductor.eng.StoredState(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	s.conductor.queue.resetCallbacks(id)
	if sq := s.conductor.queue.shared; sq != nil {
		told := map[string]bool{sq.self: true}
		for _, t := range st.Tasks {
			taskID := t.TaskID
			if taskID == "" || !t.Open() {
				continue
			}
			if owner, err := sq.ownerOf(r.Context(), taskID); err == nil && !told[owner] {
				told[owner] = true
				sq.tell(r.Context(), owner, "resetcallbacks", id, "-")
			}
		}
	}
	writeEmpty(w, http.StatusOK)
}

// pauseWorkflow pauses a run (engine.Pause): its running tasks may finish,
// nothing new is scheduled until it is resumed.
func (s *Server) pauseWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	if err := s.conductor.eng.Pause(r.Context(), r.PathValue("id")); err != nil {
		s.runError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// resumeWorkflow resumes a PAUSED run, wherever it executes; one no process
// executes (its serve stopped) is taken up here. Any other run is refused as
// Conductor refuses it.
func (s *Server) resumeWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	id := r.PathValue("id")
	wake, decided := s.conductor.deciding(id)
	defer decided()
	st, err := s.conductor.eng.StoredState(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	if st.Status != engine.StatusPaused {
		// Conductor's resumeWorkflow throws IllegalStateException, which
		// its ApplicationExceptionMapper maps to no status: a 500, not
		// retryable. A RUNNING run no process executes (its serve stopped)
		// is taken over by PUT /api/workflow/decide/{id}, as in Conductor.
		conductorErrorRetryable(w, r, http.StatusInternalServerError,
			"The workflow "+id+" is not PAUSED so cannot resume. Current status is "+st.Status, false)
		return
	}
	if err := s.conductor.eng.ResumePaused(r.Context(), id); err != nil {
		s.runError(w, r, err)
		return
	}
	s.conductor.mu.Lock()
	here := s.conductor.active[id] != nil
	s.conductor.mu.Unlock()
	if !here {
		// Nobody here executes it; if another live process does, Resume is
		// refused with runstore.ErrLeased and that process goes on, taking
		// the resume from the store, as a PAUSED run executing here does.
		s.resumeHere(id, "resume stopped")
	}
	// Answered after the run's next decision, as a start (startdecide.go).
	s.awaitDecision(r.Context(), id, wake)
	writeEmpty(w, http.StatusNoContent)
}

// resumeHere executes run id here from what is stored (engine.Resume), in
// the background, unless this process executes it already; a live process
// executing it elsewhere keeps it (runstore.ErrLeased). Another failure is
// logged under msg, masked.
func (s *Server) resumeHere(id, msg string) {
	_ = s.conductor.launchWait(id, false, func(ctx context.Context) error {
		_, err := s.conductor.eng.Resume(ctx, id)
		if err != nil && !errors.Is(err, engine.ErrInterrupted) && !errors.Is(err, runstore.ErrLeased) && !errors.Is(err, engine.ErrNotRunning) {
			s.log.Warn(msg, "workflowId", id, "error", s.masker.MaskString(err.Error()))
		}
		return err
	})
}

// terminateWorkflow ends a RUNNING run as TERMINATED, whichever serve
// process executes it (engine.Terminate); its sub-workflows too.
func (s *Server) terminateWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		reason = "terminated through the API"
	}
	id := r.PathValue("id")
	// A run this process executes is stopped first: the engine ends it
	// here, as it ends a run whose process died.
	release := s.conductor.stopLocal(id)
	defer release()
	if err := s.conductor.eng.Terminate(r.Context(), id, reason); err != nil {
		s.runError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// summaryOrder is the order of a search's sort field: workflowId,
// workflowType, status and version as themselves, updateTime, and the
// start time for any other field.
func summaryOrder(field string) func(a, b runstore.Summary) bool {
	switch field {
	case "workflowId":
		return func(a, b runstore.Summary) bool { return a.ID < b.ID }
	case "workflowType":
		return func(a, b runstore.Summary) bool { return a.WorkflowType < b.WorkflowType }
	case "status":
		return func(a, b runstore.Summary) bool { return a.Status < b.Status }
	case "version":
		return func(a, b runstore.Summary) bool { return a.Version < b.Version }
	case "updateTime":
		return func(a, b runstore.Summary) bool { return a.UpdateTime < b.UpdateTime }
	}
	return func(a, b runstore.Summary) bool { return a.CreateTime < b.CreateTime }
}
