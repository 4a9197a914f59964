package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestTaskSearchGoSDK: the task searches (TaskSummary and Task) and the
// workflow searches by task through the Conductor Go SDK: Conductor's
// query syntax over task fields (status is the task's), paging, sort and
// free text; a query naming a run field at its top reads only the runs
// that fit; an unknown field is a 400 naming the fields there are. A
// secret a completion sent is "***" in every answer.
func TestTaskSearchGoSDK(t *testing.T) {
	const value = "search-SECRET-value-77c2"
	runs := &loadCounter{Store: runstore.NewMemory()}
	ts := newConductorServer(t, runs)
	putSecret(t, ts.store, "api_key", value)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", corrFlowDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc := client.NewWorkflowClient(api)
	tc := client.NewTaskClient(api)
	ctx := context.Background()
	start := func(corr string) string {
		id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "corr_flow", Version: 1, CorrelationId: corr, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b := start("s1"), start("s2")
	heldAt(t, ts, a, "hold")
	heldAt(t, ts, b, "hold")
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+a+"/hold/COMPLETED/sync", `{"echo":"`+value+`"}`); st != 200 {
		t.Fatalf("complete a's hold: %d %s", st, body)
	}
	heldAt(t, ts, a, "later")
	var answers []string
	keep := func(v any) {
		raw, _ := json.Marshal(v)
		answers = append(answers, string(raw))
	}
	refs := func(list []model.TaskSummary) string {
		out := []string{}
		for _, s := range list {
			who := "a"
			if s.WorkflowId == b {
				who = "b"
			}
			out = append(out, who+"."+s.TaskDefName+":"+s.Status)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		opts  client.TaskResourceApiSearch1Opts
		total int64
		want  string
	}{
		{client.TaskResourceApiSearch1Opts{Query: optional.NewString("taskType = WAIT AND status = IN_PROGRESS")}, 2, "a.later:IN_PROGRESS,b.hold:IN_PROGRESS"},
		{client.TaskResourceApiSearch1Opts{Query: optional.NewString("status IN (COMPLETED)")}, 3, "a.hold:COMPLETED,a.setv:COMPLETED,b.setv:COMPLETED"},
		{client.TaskResourceApiSearch1Opts{Query: optional.NewString("status = COMPLETED"), Start: optional.NewInt32(1), Size: optional.NewInt32(1)}, 3, ""},
		{client.TaskResourceApiSearch1Opts{FreeText: optional.NewString("later")}, 1, "a.later:IN_PROGRESS"},
		{client.TaskResourceApiSearch1Opts{Query: optional.NewString("correlationId = 's2' AND taskDefName STARTS_WITH se")}, 1, "b.setv:COMPLETED"},
	} {
		got, _, err := tc.Search(ctx, &c.opts)
		if err != nil || got.TotalHits != c.total || (c.want != "" && refs(got.Results) != c.want) || (c.want == "" && len(got.Results) != 1) {
			t.Errorf("Search(%+v) = %d %s, %v; want %d %s", c.opts, got.TotalHits, refs(got.Results), err, c.total, c.want)
		}
		keep(got)
	}
	// A run field ANDed at the top: only the run that fits is read.
	before := runs.loads.Load()
	got, _, err := tc.Search(ctx, &client.TaskResourceApiSearch1Opts{Query: optional.NewString("correlationId = 's1' AND referenceTaskName = hold")})
	if n := runs.loads.Load() - before; err != nil || got.TotalHits != 1 || n != 1 {
		t.Errorf("search by correlation id and ref: %+v %v, %d runs read", got, err, n)
	} else if s := got.Results[0]; s.TaskId == "" || s.WorkflowType != "corr_flow" || s.CorrelationId != "s1" || !strings.Contains(s.Output, `"echo":"***"`) ||
		!strings.HasSuffix(s.ScheduledTime, "Z") || s.EndTime == "" {
		t.Errorf("TaskSummary = %+v", s)
	}
	keep(got)
	v2, _, err := tc.SearchV2(ctx, &client.TaskResourceApiSearchV21Opts{Query: optional.NewString("workflowId = '" + a + "' AND status = COMPLETED"), Sort: optional.NewString("scheduledTime:DESC")})
	if err != nil || v2.TotalHits != 2 || len(v2.Results) != 2 || v2.Results[0].ReferenceTaskName != "hold" || v2.Results[0].OutputData["echo"] != "***" {
		t.Errorf("SearchV2 = %+v, %v", v2, err)
	}
	keep(v2)

	// Workflows by their tasks.
	ws, _, err := wc.SearchWorkflowsByTasks(ctx, &client.WorkflowResourceApiSearchWorkflowsByTasksOpts{Query: optional.NewString("taskType = WAIT")})
	ids := []string{}
	for _, s := range ws.Results {
		ids = append(ids, s.WorkflowId)
	}
	if err != nil || ws.TotalHits != 2 || sortedIDs(ids...) != sortedIDs(a, b) {
		t.Errorf("SearchWorkflowsByTasks = %+v, %v", ws, err)
	}
	wv2, _, err := wc.SearchWorkflowsByTasksV2(ctx, &client.WorkflowResourceApiSearchWorkflowsByTasksV2Opts{Query: optional.NewString("referenceTaskName = hold AND status = COMPLETED")})
	if err != nil || wv2.TotalHits != 1 || len(wv2.Results) != 1 || wv2.Results[0].WorkflowId != a || wv2.Results[0].CorrelationId != "s1" || len(wv2.Results[0].Tasks) != 0 {
		t.Errorf("SearchWorkflowsByTasksV2 = %+v, %v", wv2, err)
	}
	keep(wv2)

	for _, path := range []string{"/api/tasks/search", "/api/tasks/search-v2", "/api/workflow/search-by-tasks", "/api/workflow/search-by-tasks-v2"} {
		st, ct, body := ts.do(t, "GET", path+"?query="+url.QueryEscape("parentWorkflowId = x"), "")
		if st != 400 || !strings.HasPrefix(ct, "application/json") || !strings.Contains(body, `unknown field \"parentWorkflowId\"`) || !strings.Contains(body, "referenceTaskName") {
			t.Errorf("%s, unknown field: %d %s", path, st, body)
		}
		if st, _, body := ts.do(t, "GET", path+"?sort=taskId:ASC", ""); st != 400 {
			t.Errorf("%s, sort by taskId: %d %s", path, st, body)
		}
	}
	answers = append(answers, ts.logs.String())
	for i, text := range answers {
		if strings.Contains(text, value) {
			t.Errorf("answer %d contains the secret value: %s", i, text)
		}
	}
}

// TestSearchByTasksPagesTasks: GET /api/workflow/search-by-tasks[-v2]
// answers as Conductor's ExecutionService.searchWorkflowByTasks does,
// through the Go SDK: start and size page the matching tasks (in the
// task search's order), the page's tasks give their runs, each once, and
// totalHits is the number of matching tasks less the page's tasks that
// gave no run of their own.
func TestSearchByTasksPagesTasks(t *testing.T) {
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", "by-tasks-value-3f9d")
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", corrFlowDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc := client.NewWorkflowClient(api)
	tc := client.NewTaskClient(api)
	ctx := context.Background()
	var ids []string
	for _, corr := range []string{"p1", "p2"} {
		id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "corr_flow", Version: 1, CorrelationId: corr, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		heldAt(t, ts, id, "hold")
		ids = append(ids, id)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+ids[0]+"/hold/COMPLETED/sync", `{}`); st != 200 {
		t.Fatalf("complete hold: %d %s", st, body)
	}
	heldAt(t, ts, ids[0], "later")
	const query = "status = COMPLETED"
	all, _, err := tc.SearchV2(ctx, &client.TaskResourceApiSearchV21Opts{Query: optional.NewString(query)})
	if err != nil || all.TotalHits != 3 || len(all.Results) != 3 {
		t.Fatalf("task search = %+v, %v; want 3 tasks (2 of one run)", all, err)
	}
	for _, pg := range []struct{ start, size int }{{0, 100}, {0, 1}, {1, 1}, {2, 1}, {1, 2}, {0, 2}, {3, 5}} {
		page := all.Results[min(pg.start, 3):min(pg.start+pg.size, 3)]
		var want []string
		for _, task := range page {
			if !strings.Contains(strings.Join(want, ","), task.WorkflowInstanceId) {
				want = append(want, task.WorkflowInstanceId)
			}
		}
		wantTotal := int64(3 - (len(page) - len(want)))
		v1, _, err := wc.SearchWorkflowsByTasks(ctx, &client.WorkflowResourceApiSearchWorkflowsByTasksOpts{Query: optional.NewString(query), Start: optional.NewInt32(int32(pg.start)), Size: optional.NewInt32(int32(pg.size))})
		var got []string
		for _, s := range v1.Results {
			got = append(got, s.WorkflowId)
		}
		if err != nil || v1.TotalHits != wantTotal || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("search-by-tasks start %d size %d = %d %v, %v; want %d %v", pg.start, pg.size, v1.TotalHits, got, err, wantTotal, want)
		}
		v2, _, err := wc.SearchWorkflowsByTasksV2(ctx, &client.WorkflowResourceApiSearchWorkflowsByTasksV2Opts{Query: optional.NewString(query), Start: optional.NewInt32(int32(pg.start)), Size: optional.NewInt32(int32(pg.size))})
		got = got[:0]
		for _, w := range v2.Results {
			got = append(got, w.WorkflowId)
		}
		if err != nil || v2.TotalHits != wantTotal || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("search-by-tasks-v2 start %d size %d = %d %v, %v; want %d %v", pg.start, pg.size, v2.TotalHits, got, err, wantTotal, want)
		}
	}
}
