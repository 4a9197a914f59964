package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// More of Conductor's WorkflowResource: runs by correlation id, the ids of
// running runs, a run's task list in pages, remove and terminate-remove,
// decide, and the search that answers whole workflows. Every run is shown
// through execution (the masked view GET /api/workflow/{id} answers), and a
// run the caller may not read is left out of lists and answered as a
// missing one where it is named.

// firstSegmentRoute sends a request whose path is /api/workflow/<lit>/<x>
// to alt, with path value param set to x, and any other to next. Patterns
// like "GET /api/workflow/running/{name}" and "GET /api/workflow/{id}/status"
// would overlap (…/running/status) with neither more specific, which
// net/http refuses; so the literal first segment is dispatched here, on
// the routes it overlaps and on a catch-all "{first}/{second}" route.
// No run id equals such a literal (ids are UUIDs).
func firstSegmentRoute(lit, param string, alt, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rest, _ := strings.CutPrefix(r.URL.Path, "/api/workflow/")
		if first, second, ok := strings.Cut(rest, "/"); ok && first == lit && second != "" && !strings.Contains(second, "/") {
			r.SetPathValue(param, second)
			alt(w, r)
			return
		}
		next(w, r)
	}
}

// notFoundRoute answers what no route serves as Conductor's 404.
func notFoundRoute(w http.ResponseWriter, r *http.Request) {
	conductorError(w, r, http.StatusNotFound, "no API at "+r.Method+" "+r.URL.Path) // as server.go answers
}

// boolParam reads a boolean query parameter ("true"/"false", any case);
// def when absent.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return def, errors.New(name + " must be true or false")
	}
	return b, nil
}

// correlatedRuns are the runs of any workflow of names with a correlation
// id of corrs that p may read, by correlation id, newest first, as
// execution shows them: RUNNING ones only unless includeClosed (the store
// is asked for RUNNING runs only then), with their tasks only when
// includeTasks (Conductor's ExecutionService.getWorkflowInstances). One
// pass over the runs, however many names and ids are asked.
func (s *Server) correlatedRuns(ctx context.Context, p store.Principal, names, corrs []string, includeClosed, includeTasks bool) (map[string][]map[string]any, error) {
	opts := runstore.ListOptions{}
	if !includeClosed {
		opts.Status = engine.StatusRunning
	}
	all, err := s.conductor.eng.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	nameSet := make(map[string]bool, len(names))
	for _, n := range names {
		nameSet[n] = true
	}
	out := make(map[string][]map[string]any, len(corrs))
	for _, c := range corrs {
		out[c] = []map[string]any{}
	}
	for _, sum := range all {
		if !nameSet[sum.WorkflowType] || (!includeClosed && sum.Status != engine.StatusRunning) {
			continue
		}
		corr := s.summaryCorrelation(ctx, sum)
		if _, asked := out[corr]; !asked || !s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(ctx, sum) }) {
			continue
		}
		doc, err := s.execution(ctx, sum.ID)
		if errors.Is(err, runstore.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if !includeTasks {
			doc["tasks"] = []any{}
		}
		out[corr] = append(out[corr], doc)
	}
	return out, nil
}

// correlationParams reads includeClosed and includeTasks (both default false).
func correlationParams(w http.ResponseWriter, r *http.Request) (includeClosed, includeTasks, ok bool) {
	includeClosed, err := boolParam(r, "includeClosed", false)
	if err == nil {
		includeTasks, err = boolParam(r, "includeTasks", false)
	}
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return false, false, false
	}
	return includeClosed, includeTasks, true
}

// getCorrelated is GET /api/workflow/{name}/correlated/{correlationId}: a
// JSON array of Workflows.
func (s *Server) getCorrelated(w http.ResponseWriter, r *http.Request, p store.Principal) {
	closed, withTasks, ok := correlationParams(w, r)
	if !ok {
		return
	}
	corr := r.PathValue("correlationId")
	found, err := s.correlatedRuns(r.Context(), p, []string{r.PathValue("name")}, []string{corr}, closed, withTasks)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, found[corr])
}

// postCorrelated is POST /api/workflow/{name}/correlated: the body is a
// JSON array of correlation ids; the answer maps each to its Workflows.
func (s *Server) postCorrelated(w http.ResponseWriter, r *http.Request, p store.Principal) {
	closed, withTasks, ok := correlationParams(w, r)
	if !ok {
		return
	}
	var ids []string
	if !s.decodeRequest(w, r, "correlation ids (a JSON array of strings)", &ids) {
		return
	}
	s.correlatedBatch(w, r, p, []string{r.PathValue("name")}, ids, closed, withTasks)
}

// correlatedBatchRequest is Orkes' CorrelationIdsSearchRequest.
type correlatedBatchRequest struct {
	CorrelationIDs []string `json:"correlationIds"`
	WorkflowNames  []string `json:"workflowNames"`
}

// postCorrelatedBatch is POST /api/workflow/correlated/batch (Orkes; the
// JS SDK's getByCorrelationIds, the Go SDK's GetWorkflowsBatch): the runs
// of any of workflowNames with each of correlationIds.
func (s *Server) postCorrelatedBatch(w http.ResponseWriter, r *http.Request, p store.Principal) {
	closed, withTasks, ok := correlationParams(w, r)
	if !ok {
		return
	}
	var req correlatedBatchRequest
	if !s.decodeRequest(w, r, "CorrelationIdsSearchRequest", &req) {
		return
	}
	s.correlatedBatch(w, r, p, req.WorkflowNames, req.CorrelationIDs, closed, withTasks)
}

func (s *Server) correlatedBatch(w http.ResponseWriter, r *http.Request, p store.Principal, names, ids []string, closed, withTasks bool) {
	out, err := s.correlatedRuns(r.Context(), p, names, ids, closed, withTasks)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// runningWorkflows is GET /api/workflow/running/{name}: the ids of the
// RUNNING runs of version (default 1) of the workflow; with both startTime
// and endTime (epoch ms, non-zero) the runs of that version, in any
// status, created within them (Conductor's getRunningWorkflows). Runs the
// caller may not read are left out.
func (s *Server) runningWorkflows(w http.ResponseWriter, r *http.Request, p store.Principal) {
	q := r.URL.Query()
	version := 1
	if v := q.Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			conductorError(w, r, http.StatusBadRequest, "version must be an integer")
			return
		}
		version = n
	}
	var from, to int64
	for name, dst := range map[string]*int64{"startTime": &from, "endTime": &to} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				conductorError(w, r, http.StatusBadRequest, name+" must be epoch milliseconds")
				return
			}
			*dst = n
		}
	}
	window := from != 0 && to != 0
	opts := runstore.ListOptions{}
	if !window {
		opts.Status = engine.StatusRunning
	}
	all, err := s.conductor.eng.List(r.Context(), opts)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	name := r.PathValue("name")
	ids := []string{}
	for _, sum := range all {
		if sum.WorkflowType != name || sum.Version != version || (window && (sum.CreateTime < from || sum.CreateTime > to)) {
			continue
		}
		if s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(r.Context(), sum) }) {
			ids = append(ids, sum.ID)
		}
	}
	writeJSON(w, http.StatusOK, ids)
}

// workflowTasks is GET /api/workflow/{id}/tasks: the run's tasks (status:
// any of a comma-separated or repeated list, any case) in a page of count
// (default 15) from start, as Conductor's SearchResult<Task>.
func (s *Server) workflowTasks(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	q := r.URL.Query()
	start, count, err := pageQuery(r, "start", "count", 15, 0, "tasks")
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if q.Get("count") == "0" {
		count = 0 // an empty page, as asked
	}
	want := map[string]bool{}
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			if st = strings.TrimSpace(st); st != "" {
				want[strings.ToUpper(st)] = true
			}
		}
	}
	doc, err := s.execution(r.Context(), r.PathValue("id"))
	if err != nil {
		s.runError(w, r, err)
		return
	}
	list, _ := doc["tasks"].([]any)
	kept := []any{}
	for _, it := range list {
		t, _ := it.(map[string]any)
		if st, _ := t["status"].(string); len(want) == 0 || want[st] {
			kept = append(kept, it)
		}
	}
	from, to := pageBounds(start, count, len(kept))
	writeJSON(w, http.StatusOK, map[string]any{"totalHits": len(kept), "results": kept[from:to]})
}

// removeReason is the reason a run removed while it runs ends with.
const removeReason = "removed through the API"

// removeWorkflow is DELETE /api/workflow/{id}/remove (archiveWorkflow is
// accepted; an ended run lives only in wfrun's masked archive, so removing
// it deletes it either way). A run that has not ended is terminated first
// (its sub-workflows too): nothing can execute a run whose record is gone,
// as Conductor's removal takes its tasks off the queues.
func (s *Server) removeWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	if _, err := boolParam(r, "archiveWorkflow", true); err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	s.terminateAndRemove(w, r, removeReason, false)
}

// terminateRemove is DELETE /api/workflow/{id}/terminate-remove: terminate
// (reason), then remove. As in Conductor, a COMPLETED run cannot be
// terminated: 409, and it stays.
func (s *Server) terminateRemove(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	if _, err := boolParam(r, "archiveWorkflow", true); err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		reason = "terminated through the API"
	}
	s.terminateAndRemove(w, r, reason, true)
}

func (s *Server) terminateAndRemove(w http.ResponseWriter, r *http.Request, reason string, refuseCompleted bool) {
	id := r.PathValue("id")
	st, err := s.conductor.eng.StoredState(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	if refuseCompleted && st.Status == engine.StatusCompleted {
		conductorError(w, r, http.StatusConflict, "Cannot terminate a COMPLETED workflow.")
		return
	}
	release := s.conductor.stopLocal(id)
	defer release()
	if !terminalStatus(st.Status) {
		if err := s.conductor.eng.Terminate(r.Context(), id, reason); err != nil && !errors.Is(err, engine.ErrNotRunning) {
			s.runError(w, r, err)
			return
		}
	}
	if err := s.deleteEnded(r.Context(), id); err != nil {
		s.runError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// deleteEnded deletes ended run id, waiting briefly for an end another
// process is storing.
func (s *Server) deleteEnded(ctx context.Context, id string) error {
	deadline := time.Now().Add(settleWait)
	for {
		err := s.conductor.eng.DeleteRun(ctx, id)
		if !errors.Is(err, runstore.ErrNotEnded) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settleTick):
		}
	}
}

// decideWorkflow is PUT /api/workflow/decide/{id}: Conductor evaluates the
// run now. wfrun's executor evaluates a run it executes continuously; a
// RUNNING run no process executes (its serve stopped) is resumed, as
// PUT …/resume does. An ended or paused run is left as it is; 200 either way.
func (s *Server) decideWorkflow(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	id := r.PathValue("id")
	st, err := s.conductor.eng.StoredState(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	if st.Status == engine.StatusRunning {
		s.conductor.queue.repairRun(r.Context(), id)
		s.resumeHere(id, "decide: resume stopped")
	}
	writeEmpty(w, http.StatusOK)
}

// searchWorkflowsV2 is GET /api/workflow/search-v2: the search of
// GET /api/workflow/search, answering whole Workflows (without their
// tasks, as Conductor's searchWorkflowsV2 reads them).
func (s *Server) searchWorkflowsV2(w http.ResponseWriter, r *http.Request, p store.Principal) {
	total, page, ok := s.searchPage(w, r, p)
	if !ok {
		return
	}
	results := []map[string]any{}
	for _, sum := range page {
		doc, err := s.execution(r.Context(), sum.ID)
		if errors.Is(err, runstore.ErrNotFound) {
			total-- // removed meanwhile, as Conductor counts a missing one
			continue
		}
		if err != nil {
			s.runError(w, r, err)
			return
		}
		doc["tasks"] = []any{}
		results = append(results, doc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalHits": total, "results": results})
}

// summaryCorrelation is a run's correlation id as a client is shown it:
// from its summary, or (a summary written before summaries said) the run.
func (s *Server) summaryCorrelation(ctx context.Context, sum runstore.Summary) string {
	if sum.Correlated {
		return sum.CorrelationID
	}
	view, err := s.conductor.eng.Show(ctx, sum.ID)
	if err != nil {
		return ""
	}
	var d struct {
		CorrelationID string `json:"correlationId"`
	}
	_ = json.Unmarshal(view, &d)
	return d.CorrelationID
}

// summaryPrincipal is the name of the principal run sum executes as: from
// its summary, or (a summary written before summaries said) the run.
func (s *Server) summaryPrincipal(ctx context.Context, sum runstore.Summary) string {
	if sum.Principal != "" {
		return sum.Principal
	}
	_, owner, err := s.runOwner(ctx, sum.ID)
	if err != nil {
		return ""
	}
	return owner
}
