package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// Conductor's task searches: GET /api/tasks/search (TaskSummary) and
// /search-v2 (Task), and the workflow searches by task,
// GET /api/workflow/search-by-tasks (WorkflowSummary) and
// /search-by-tasks-v2 (Workflow). wfrun serve indexes runs (their
// summaries), not tasks: a task search reads the runs the caller may read
// whose summary fits the query's run fields (workflowId, workflowType,
// correlationId, when the query ANDs them at its top), and matches the
// query against each of their tasks, as their run's masked view shows it.
// The query takes search.go's syntax over taskSearchFields; any other
// field is a 400 naming the fields there are.

// taskSearchFields are the names a task query may use (true: numeric;
// times are epoch ms or RFC 3339). status is the task's status.
var taskSearchFields = map[string]bool{
	"workflowId": false, "workflowType": false, "correlationId": false, "status": false,
	"taskId": false, "taskType": false, "taskDefName": false, "referenceTaskName": false,
	"domain": false, "workerId": false, "reasonForIncompletion": false,
	"scheduledTime": true, "startTime": true, "updateTime": true, "endTime": true,
}

// runFields are the task query's fields a run summary answers.
var runFields = map[string]bool{"workflowId": true, "workflowType": true, "correlationId": true}

// foundTask is a task a search matched and its run's view.
type foundTask struct {
	run, task map[string]any
	sum       runstore.Summary
}

// taskMatch is a task a search matched: its run, its index in the run's
// tasks and its id, its sort key. A search keeps every match until it
// pages them, but the run's view only for a match it knows is on the page
// (run); taskPage decodes the others' again, the page's only.
type taskMatch struct {
	sum    runstore.Summary
	index  int
	taskID string
	key    int64
	run    map[string]any
}

// onPage reports whether the i-th item of a list is on the page of size
// from start.
func onPage(i, start, size int) bool {
	return i >= start && i-start < size
}

// taskField reads field of task t (in run) as a search compares it.
func taskField(run, t map[string]any, field string) string {
	v := t[field]
	switch field {
	case "workflowId":
		v = run["workflowId"]
	case "workflowType":
		v = run["workflowType"]
	case "correlationId":
		v = run["correlationId"]
	case "updateTime":
		if v == nil {
			v = t["endTime"]
			if n, _ := v.(json.Number); n == "0" || v == nil {
				v = t["startTime"]
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		if x == "0" && strings.HasSuffix(field, "Time") {
			return ""
		}
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// runPrefilter is the part of expr a run summary decides: the conditions
// on runFields ANDed at its top (nil: every run).
func runPrefilter(expr searchExpr) []*condition {
	switch e := expr.(type) {
	case *condition:
		if runFields[e.field] {
			return []*condition{e}
		}
	case *boolExpr:
		if e.and {
			return append(runPrefilter(e.left), runPrefilter(e.right)...)
		}
	}
	return nil
}

// knownTaskRuns is a condition on the runs holding the tasks expr names
// by id at its top (taskId = x or taskId IN (...), ANDed): their runs, when
// the task index knows the run of each of those ids (nil: it does not, or
// expr names no task id). A task is in one run, so no other can match.
func (s *Server) knownTaskRuns(expr searchExpr) *condition {
	var ids []string
	var walk func(searchExpr)
	walk = func(e searchExpr) {
		switch e := e.(type) {
		case *condition:
			if e.field == "taskId" && (e.op == "=" || e.op == "IN") {
				ids = append(ids, e.values...)
			}
		case *boolExpr:
			if e.and {
				walk(e.left)
				walk(e.right)
			}
		}
	}
	walk(expr)
	if len(ids) == 0 {
		return nil
	}
	runs := make([]string, 0, len(ids))
	for _, id := range ids {
		run := s.conductor.tasks.runOf(id)
		if run == "" {
			return nil
		}
		runs = append(runs, run)
	}
	return &condition{field: "workflowId", op: "IN", values: runs}
}

// findTasks runs the task search for p: every matching task, in order
// (sort, else newest run first and each run's tasks in order). Without a
// sort the order is the scan's, and a match for which keep(its index among
// the matches) holds keeps its run's view (nil keep: none does). It answers a bad request itself.
func (s *Server) findTasks(w http.ResponseWriter, r *http.Request, p store.Principal, keep func(match int) bool) ([]taskMatch, bool) {
	q := r.URL.Query()
	expr, err := parseSearchOver(q.Get("query"), taskSearchFields, s.masker.MaskString)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "task search: "+err.Error())
		return nil, false
	}
	sortField, desc := "", false
	if v := q.Get("sort"); v != "" {
		f, dir, _ := strings.Cut(v, ":")
		if !taskSearchFields[f] {
			conductorError(w, r, http.StatusBadRequest, "task search: sort by "+strconv.Quote(f)+": want scheduledTime, startTime, updateTime or endTime[:ASC|DESC]")
			return nil, false
		}
		sortField, desc = f, strings.EqualFold(dir, "DESC")
	}
	free := strings.TrimSpace(q.Get("freeText"))
	if free == "*" {
		free = ""
	}
	all, err := s.conductor.eng.List(r.Context(), runstore.ListOptions{})
	if err != nil {
		s.runError(w, r, err)
		return nil, false
	}
	pre := runPrefilter(expr)
	if c := s.knownTaskRuns(expr); c != nil {
		pre = append(pre, c)
	}
	var found []taskMatch
	for _, sum := range all {
		get := func(field string) string {
			switch field {
			case "workflowId":
				return sum.ID
			case "workflowType":
				return sum.WorkflowType
			case "correlationId":
				return s.summaryCorrelation(r.Context(), sum)
			}
			return ""
		}
		fits := true
		for _, c := range pre {
			fits = fits && c.match(get)
		}
		if !fits || !s.mayReadSummary(p, sum, func() string { return s.summaryPrincipal(r.Context(), sum) }) {
			continue
		}
		run, err := s.execution(r.Context(), sum.ID)
		if errors.Is(err, runstore.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			s.runError(w, r, err)
			return nil, false
		}
		list, _ := run["tasks"].([]any)
		for i, it := range list {
			t, _ := it.(map[string]any)
			if t == nil {
				continue
			}
			get := func(field string) string { return taskField(run, t, field) }
			if expr != nil && !expr.match(get) {
				continue
			}
			if free != "" && !matchesFree(free, get) {
				continue
			}
			m := taskMatch{sum: sum, index: i, taskID: get("taskId")}
			s.conductor.tasks.put(m.taskID, sum.ID)
			if sortField != "" {
				m.key, _ = strconv.ParseInt(get(sortField), 10, 64)
			} else if keep != nil && keep(len(found)) {
				m.run = run
			}
			found = append(found, m)
		}
	}
	if sortField != "" {
		// Ties keep the default order, reversed with it under DESC: the
		// later of two tasks scheduled in the same millisecond comes first.
		if desc {
			slices.Reverse(found)
		}
		sort.SliceStable(found, func(i, j int) bool {
			if desc {
				return found[i].key > found[j].key
			}
			return found[i].key < found[j].key
		})
	}
	return found, true
}

// taskPage decodes the runs of a page of matches (each once) and finds
// each match's task in its run; a task its run no longer holds (the run
// removed, or rerun, meanwhile) is left out.
func (s *Server) taskPage(ctx context.Context, page []taskMatch) ([]foundTask, error) {
	runs := map[string]map[string]any{}
	out := make([]foundTask, 0, len(page))
	for _, m := range page {
		run, ok := runs[m.sum.ID]
		if m.run != nil {
			run, ok = m.run, true
		}
		if !ok {
			var err error
			run, err = s.execution(ctx, m.sum.ID)
			if errors.Is(err, runstore.ErrNotFound) {
				run = nil // removed meanwhile
			} else if err != nil {
				return nil, err
			}
			runs[m.sum.ID] = run
		}
		list, _ := run["tasks"].([]any)
		var task map[string]any
		if m.index < len(list) {
			if t, _ := list[m.index].(map[string]any); t != nil && t["taskId"] == m.taskID {
				task = t
			}
		}
		for _, it := range list {
			if t, _ := it.(map[string]any); task == nil && t != nil && t["taskId"] == m.taskID {
				task = t
			}
		}
		if task != nil {
			out = append(out, foundTask{run: run, task: task, sum: m.sum})
		}
	}
	return out, nil
}

func matchesFree(free string, get func(string) string) bool {
	for _, f := range []string{"taskId", "taskType", "taskDefName", "referenceTaskName", "status", "workflowId", "workflowType", "correlationId"} {
		if strings.Contains(get(f), free) {
			return true
		}
	}
	return false
}

// pageParams reads a search's start and size (default 0 and 100, at most
// maxSearchSize); it answers a bad value itself (400).
func pageParams(w http.ResponseWriter, r *http.Request, what string) (start, size int, ok bool) {
	start, size, err := pageQuery(r, "start", "size", 100, maxSearchSize, what)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return 0, 0, false
	}
	return start, size, true
}

// conductorTime formats epoch ms as Conductor's TaskSummary does
// (yyyy-MM-dd'T'HH:mm:ss.SSS'Z', UTC); "" for none.
func conductorTime(ms string) string {
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n == 0 {
		return ""
	}
	return time.UnixMilli(n).UTC().Format("2006-01-02T15:04:05.000Z")
}

// taskSummary is Conductor's TaskSummary of a found task.
func taskSummary(f foundTask) map[string]any {
	get := func(field string) string { return taskField(f.run, f.task, field) }
	sum := map[string]any{
		"workflowId": get("workflowId"), "workflowType": get("workflowType"), "correlationId": get("correlationId"),
		"scheduledTime": conductorTime(get("scheduledTime")), "startTime": conductorTime(get("startTime")),
		"updateTime": conductorTime(get("updateTime")), "endTime": conductorTime(get("endTime")),
		"status": get("status"), "reasonForIncompletion": get("reasonForIncompletion"),
		"taskDefName": get("taskDefName"), "taskType": get("taskType"), "taskId": get("taskId"),
		"input": get("inputData"), "output": get("outputData"), "workflowPriority": f.run["priority"],
	}
	sched, _ := strconv.ParseInt(get("scheduledTime"), 10, 64)
	start, _ := strconv.ParseInt(get("startTime"), 10, 64)
	end, _ := strconv.ParseInt(get("endTime"), 10, 64)
	if start > 0 && end >= start {
		sum["executionTime"] = end - start
	}
	if sched > 0 && start >= sched {
		sum["queueWaitTime"] = start - sched
	}
	if d := get("domain"); d != "" {
		sum["domain"] = d
	}
	return sum
}

// searchTasks is GET /api/tasks/search (TaskSummary) and, v2,
// /api/tasks/search-v2 (Task).
func (s *Server) searchTasks(v2 bool) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		start, size, ok := pageParams(w, r, "tasks")
		if !ok {
			return
		}
		found, ok := s.findTasks(w, r, p, func(match int) bool { return onPage(match, start, size) })
		if !ok {
			return
		}
		from, to := pageBounds(start, size, len(found))
		page, err := s.taskPage(r.Context(), found[from:to])
		if err != nil {
			s.runError(w, r, err)
			return
		}
		results := make([]any, 0, len(page))
		for _, f := range page {
			if v2 {
				results = append(results, f.task)
			} else {
				results = append(results, taskSummary(f))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"totalHits": len(found), "results": results})
	}
}

// searchWorkflowsByTasks is GET /api/workflow/search-by-tasks
// (WorkflowSummary) and, v2, /search-by-tasks-v2 (Workflow, without its
// tasks), as Conductor's ExecutionService.searchWorkflowByTasks answers
// them: start and size page the matching tasks, the page's tasks give
// their runs, each once, in order, and totalHits is the number of matching
// tasks less those of the page that gave no run of their own (a second
// task of a run, or a run removed meanwhile).
func (s *Server) searchWorkflowsByTasks(v2 bool) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		start, size, ok := pageParams(w, r, "workflows")
		if !ok {
			return
		}
		var keep func(match int) bool
		if v2 {
			keep = func(match int) bool { return onPage(match, start, size) }
		}
		found, ok := s.findTasks(w, r, p, keep)
		if !ok {
			return
		}
		from, to := pageBounds(start, size, len(found))
		page := found[from:to]
		results := make([]any, 0, len(page))
		seen := map[string]bool{}
		for _, m := range page {
			if seen[m.sum.ID] {
				continue
			}
			seen[m.sum.ID] = true
			if !v2 {
				results = append(results, s.workflowSummaryOf(r.Context(), m.sum))
				continue
			}
			run := m.run
			if run == nil {
				var err error
				run, err = s.execution(r.Context(), m.sum.ID)
				if errors.Is(err, runstore.ErrNotFound) {
					continue // removed meanwhile
				}
				if err != nil {
					s.runError(w, r, err)
					return
				}
			}
			doc := make(map[string]any, len(run))
			for k, v := range run {
				doc[k] = v
			}
			doc["tasks"] = []any{}
			results = append(results, doc)
		}
		total := len(found) - (len(page) - len(results))
		writeJSON(w, http.StatusOK, map[string]any{"totalHits": total, "results": results})
	}
}
