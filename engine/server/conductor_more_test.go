package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// corrFlowDef resolves a secret into a variable (the run's masker then
// knows the value), holds each run at "hold" (a WAIT task), then at "later".
const corrFlowDef = `{"name":"corr_flow","version":1,"schemaVersion":2,"tasks":[
  {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}},
  {"name":"hold","taskReferenceName":"hold","type":"WAIT","inputParameters":{"token":"${workflow.variables.token}"}},
  {"name":"later","taskReferenceName":"later","type":"WAIT"}]}`

// heldAt waits until run id's task ref is IN_PROGRESS and returns its task id.
func heldAt(t *testing.T, ts *conductorServer, id, ref string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		var wf model.Workflow
		_ = json.Unmarshal([]byte(body), &wf)
		for _, tk := range wf.Tasks {
			if tk.ReferenceTaskName == ref && tk.Status == "IN_PROGRESS" {
				return tk.TaskId
			}
		}
	}
	t.Fatalf("run %s never held at %s", id, ref)
	return ""
}

func workflowIDs(list []model.Workflow) string {
	ids := make([]string, 0, len(list))
	for _, wf := range list {
		ids = append(ids, wf.WorkflowId)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func sortedIDs(ids ...string) string {
	ids = append([]string(nil), ids...)
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// TestMoreWorkflowEndpointsGoSDK drives the WorkflowResource and
// TaskResource endpoints beyond start/status/search through the Conductor
// Go SDK (runs by correlation id, alone and in batches; running ids; a
// task by id; decide; remove) and raw HTTP where the SDK has no call (a
// run's task pages, search-v2, terminate-remove, the synchronous update),
// with Conductor's shapes and statuses. The secret a task's input holds
// and the one a completion sends are "***" in every answer.
func TestMoreWorkflowEndpointsGoSDK(t *testing.T) {
	const value = "corr-SECRET-value-9d41"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", corrFlowDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc := client.NewWorkflowClient(api)
	tc := client.NewTaskClient(api)
	ctx := context.Background()
	before := time.Now().UnixMilli()
	start := func(corr string) string {
		id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "corr_flow", Version: 1, CorrelationId: corr, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b, c := start("c1"), start("c1"), start("c2")
	holdA := heldAt(t, ts, a, "hold")
	heldAt(t, ts, b, "hold")
	heldAt(t, ts, c, "hold")
	var answers []string
	keep := func(v any) {
		raw, _ := json.Marshal(v)
		answers = append(answers, string(raw))
	}

	// By correlation id: RUNNING runs only unless includeClosed; tasks
	// only with includeTasks.
	got, _, err := wc.GetWorkflowsByCorrelationId(ctx, "corr_flow", "c1", &client.WorkflowResourceApiGetWorkflowsOpts{IncludeTasks: optional.NewBool(true)})
	if err != nil || workflowIDs(got) != sortedIDs(a, b) || len(got[0].Tasks) != 2 || got[0].Variables["token"] != "***" {
		t.Fatalf("GetWorkflowsByCorrelationId(c1) = %+v, %v", got, err)
	}
	keep(got)
	if _, err := wc.Terminate(ctx, b, &client.WorkflowResourceApiTerminateOpts{}); err != nil {
		t.Fatal(err)
	}
	got, _, err = wc.GetWorkflowsByCorrelationId(ctx, "corr_flow", "c1", nil)
	if err != nil || workflowIDs(got) != a || len(got[0].Tasks) != 0 || got[0].CorrelationId != "c1" || got[0].Status != "RUNNING" {
		t.Fatalf("GetWorkflowsByCorrelationId(c1), b terminated = %+v, %v", got, err)
	}
	got, _, err = wc.GetWorkflowsByCorrelationId(ctx, "corr_flow", "c1", &client.WorkflowResourceApiGetWorkflowsOpts{IncludeClosed: optional.NewBool(true)})
	if err != nil || workflowIDs(got) != sortedIDs(a, b) {
		t.Fatalf("GetWorkflowsByCorrelationId(c1, includeClosed) = %+v, %v", got, err)
	}
	if got, _, err := wc.GetWorkflowsByCorrelationId(ctx, "other_flow", "c1", nil); err != nil || len(got) != 0 {
		t.Errorf("another workflow's name: %+v, %v", got, err)
	}
	batch, _, err := wc.GetWorkflows(ctx, []string{"c1", "c2", "none"}, "corr_flow", &client.WorkflowResourceApiGetWorkflowsOpts{IncludeTasks: optional.NewBool(true)})
	if err != nil || len(batch) != 3 || workflowIDs(batch["c1"]) != a || workflowIDs(batch["c2"]) != c || len(batch["none"]) != 0 {
		t.Fatalf("GetWorkflows(POST {name}/correlated) = %+v, %v", batch, err)
	}
	keep(batch)
	batch, _, err = wc.GetWorkflowsBatch(ctx, map[string][]string{"workflowNames": {"corr_flow"}, "correlationIds": {"c2"}}, &client.WorkflowResourceApiGetWorkflowsOpts{})
	if err != nil || len(batch) != 1 || workflowIDs(batch["c2"]) != c {
		t.Fatalf("GetWorkflowsBatch = %+v, %v", batch, err)
	}

	// Running ids: of version 1 (the default); of a time window, any status.
	ids, _, err := wc.GetRunningWorkflow(ctx, "corr_flow", nil)
	if err != nil || sortedIDs(ids...) != sortedIDs(a, c) {
		t.Fatalf("GetRunningWorkflow = %v, %v", ids, err)
	}
	if ids, _, err := wc.GetRunningWorkflow(ctx, "corr_flow", &client.WorkflowResourceApiGetRunningWorkflowOpts{Version: optional.NewInt32(2)}); err != nil || len(ids) != 0 {
		t.Errorf("GetRunningWorkflow(version 2) = %v, %v", ids, err)
	}
	window := &client.WorkflowResourceApiGetRunningWorkflowOpts{StartTime: optional.NewInt64(before), EndTime: optional.NewInt64(time.Now().UnixMilli() + 1000)}
	if ids, _, err := wc.GetRunningWorkflow(ctx, "corr_flow", window); err != nil || sortedIDs(ids...) != sortedIDs(a, b, c) {
		t.Errorf("GetRunningWorkflow(window) = %v, %v", ids, err)
	}
	if st, ct, body := ts.do(t, "GET", "/api/workflow/running/corr_flow?version=x", ""); st != 400 || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("running, bad version: %d %s %s", st, ct, body)
	}

	// A task by id, as its run's view shows it.
	task, _, err := tc.GetTask(ctx, holdA)
	if err != nil || task.TaskId != holdA || task.ReferenceTaskName != "hold" || task.WorkflowInstanceId != a || task.Status != "IN_PROGRESS" {
		t.Fatalf("GetTask = %+v, %v", task, err)
	}
	keep(task)
	if st, _, body := ts.do(t, "GET", "/api/tasks/no-such-task", ""); st != 404 || !strings.Contains(body, "Task not found for taskId: no-such-task") {
		t.Errorf("missing task: %d %s", st, body)
	}

	// The synchronous update answers the run once it took the update.
	st, ct, body := ts.do(t, "POST", "/api/tasks/"+a+"/hold/COMPLETED/sync", `{"echo":"`+value+`"}`)
	var wf model.Workflow
	if err := json.Unmarshal([]byte(body), &wf); st != 200 || !strings.HasPrefix(ct, "application/json") || err != nil ||
		wf.WorkflowId != a || len(wf.Tasks) < 2 || wf.Tasks[1].Status != "COMPLETED" || wf.Tasks[1].OutputData["echo"] != "***" {
		t.Fatalf("update sync: %d %s %s", st, ct, body)
	}
	answers = append(answers, body)
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+a+"/hold/COMPLETED/sync", `{}`); st != 404 || !strings.Contains(body, "Found no running task hold of workflow "+a) {
		t.Errorf("update sync of a task that no longer waits: %d %s", st, body)
	}
	heldAt(t, ts, a, "later")

	// A run's tasks in pages, filtered by status.
	for _, tc := range []struct {
		query      string
		total      int
		refs       string
		wantStatus int
	}{
		{"", 3, "setv,hold,later", 200},
		{"?start=0&count=2", 3, "setv,hold", 200},
		{"?start=2&count=5", 3, "later", 200},
		{"?start=9", 3, "", 200},
		{"?status=in_progress", 1, "later", 200},
		{"?status=COMPLETED&status=IN_PROGRESS", 3, "setv,hold,later", 200},
		{"?status=IN_PROGRESS,completed", 3, "setv,hold,later", 200},
		{"?status=FAILED", 0, "", 200},
		{"?count=x", 0, "", 400},
	} {
		st, _, body := ts.do(t, "GET", "/api/workflow/"+a+"/tasks"+tc.query, "")
		if st != tc.wantStatus {
			t.Errorf("tasks%s: %d %s", tc.query, st, body)
			continue
		}
		if st != 200 {
			continue
		}
		var page struct {
			TotalHits int          `json:"totalHits"`
			Results   []model.Task `json:"results"`
		}
		_ = json.Unmarshal([]byte(body), &page)
		refs := []string{}
		for _, tk := range page.Results {
			refs = append(refs, tk.ReferenceTaskName)
		}
		if page.TotalHits != tc.total || strings.Join(refs, ",") != tc.refs {
			t.Errorf("tasks%s = %d %v, want %d %s", tc.query, page.TotalHits, refs, tc.total, tc.refs)
		}
		answers = append(answers, body)
	}
	if st, _, _ := ts.do(t, "GET", "/api/workflow/no-such-run/tasks", ""); st != 404 {
		t.Errorf("tasks of a missing run: %d", st)
	}

	// Decide: 200 on a run, 404 on none.
	if resp, err := wc.Decide(ctx, a); err != nil || resp.StatusCode != 200 {
		t.Errorf("Decide: %v %v", resp, err)
	}
	if st, _, _ := ts.do(t, "PUT", "/api/workflow/decide/no-such-run", ""); st != 404 {
		t.Errorf("decide a missing run: %d", st)
	}

	// search-v2: whole Workflows (without tasks), paged like search.
	st, _, body = ts.do(t, "GET", "/api/workflow/search-v2?query=workflowType%3Dcorr_flow&size=2&sort=startTime:ASC", "")
	var sr struct {
		TotalHits int              `json:"totalHits"`
		Results   []model.Workflow `json:"results"`
	}
	// The first started: by startTime, then (runs started in the same
	// millisecond) by workflowId.
	firstRun, firstCorr := a, "c1"
	for _, o := range []struct{ id, corr string }{{b, "c1"}, {c, "c2"}} {
		if ot, ft := startTimeOf(t, ts, o.id), startTimeOf(t, ts, firstRun); ot < ft || (ot == ft && o.id < firstRun) {
			firstRun, firstCorr = o.id, o.corr
		}
	}
	if err := json.Unmarshal([]byte(body), &sr); st != 200 || err != nil || sr.TotalHits != 3 || len(sr.Results) != 2 ||
		sr.Results[0].WorkflowId != firstRun || sr.Results[0].Input == nil || len(sr.Results[0].Tasks) != 0 || sr.Results[0].CorrelationId != firstCorr {
		t.Fatalf("search-v2: %d %s (want %s first)", st, body, firstRun)
	}
	answers = append(answers, body)
	if st, _, _ := ts.do(t, "GET", "/api/workflow/search-v2?query=nosuchfield%3D1", ""); st != 400 {
		t.Errorf("search-v2, bad query: %d", st)
	}

	// Finish a: COMPLETED runs cannot be terminated (terminate-remove is
	// 409 and keeps it); remove deletes it.
	laterA := heldAt(t, ts, a, "later")
	if got, _, err := tc.UpdateTaskByRefName(ctx, map[string]any{}, a, "later", "COMPLETED"); err != nil || got != laterA {
		t.Fatalf("UpdateTaskByRefName = %q, %v; want the task's id %s", got, err, laterA)
	}
	if s := waitStatus(t, wc, a, 10*time.Second); s.Status != "COMPLETED" {
		t.Fatalf("a: %s", s.Status)
	}
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+a+"/terminate-remove", ""); st != 409 || !strings.Contains(body, "Cannot terminate a COMPLETED workflow.") {
		t.Errorf("terminate-remove COMPLETED: %d %s", st, body)
	}
	if st, _, _ := ts.do(t, "GET", "/api/workflow/"+a, ""); st != 200 {
		t.Errorf("the COMPLETED run is gone after a refused terminate-remove: %d", st)
	}
	if resp, err := wc.Delete(ctx, a, &client.WorkflowResourceApiDeleteOpts{ArchiveWorkflow: optional.NewBool(true)}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Delete(a): %v %v", resp, err)
	}
	// A RUNNING run removed is stopped and gone; terminate-remove too.
	if resp, err := wc.Delete(ctx, c, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Delete(c, running): %v %v", resp, err)
	}
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+b+"/terminate-remove?reason=done", ""); st != 200 {
		t.Fatalf("terminate-remove TERMINATED: %d %s", st, body)
	}
	for _, id := range []string{a, b, c} {
		if st, _, _ := ts.do(t, "GET", "/api/workflow/"+id, ""); st != 404 {
			t.Errorf("removed run %s: GET %d", id, st)
		}
		if st, _, _ := ts.do(t, "DELETE", "/api/workflow/"+id+"/remove", ""); st != 404 {
			t.Errorf("removed run %s: remove again %d", id, st)
		}
	}
	if got, _, err := wc.GetWorkflowsByCorrelationId(ctx, "corr_flow", "c1", &client.WorkflowResourceApiGetWorkflowsOpts{IncludeClosed: optional.NewBool(true)}); err != nil || len(got) != 0 {
		t.Errorf("correlated after removal: %+v %v", got, err)
	}
	if ids, _, err := wc.GetRunningWorkflow(ctx, "corr_flow", window); err != nil || len(ids) != 0 {
		t.Errorf("running after removal: %v %v", ids, err)
	}

	answers = append(answers, ts.logs.String())
	for i, text := range answers {
		if strings.Contains(text, value) {
			t.Errorf("answer %d contains the secret value: %s", i, text)
		}
	}
	if n := strings.Count(strings.Join(answers, ""), `"***"`); n < 5 {
		t.Errorf("only %d masked values in the answers", n)
	}
}

// TestMoreEndpointsScopes: with --auth, the new endpoints keep the run
// rules: a run (or a task of a run) the caller may not read is left out of
// lists and answered exactly as a missing one; one it may read but not
// manage is 403 naming the scope.
func TestMoreEndpointsScopes(t *testing.T) {
	ts := newScopedServer(t)
	id := ts.startGuarded(t, false)
	_, _, body := ts.as(t, "admin", "GET", "/api/workflow/"+id, "")
	var wf model.Workflow
	if err := json.Unmarshal([]byte(body), &wf); err != nil || len(wf.Tasks) == 0 {
		t.Fatalf("run: %s", body)
	}
	taskID := wf.Tasks[0].TaskId
	if st, _, got := ts.as(t, "alice", "POST", "/api/workflow/guarded?correlationId=k1", `{}`); st != 200 {
		t.Fatalf("start with a correlation id: %d %s", st, got)
	}
	missing := func(who, method, path, want string) {
		t.Helper()
		st, _, got := ts.as(t, who, method, path, "")
		st2, _, got2 := ts.as(t, who, method, strings.ReplaceAll(path, id, "00000000-0000-0000-0000-000000000000"), "")
		got2 = strings.ReplaceAll(got2, "00000000-0000-0000-0000-000000000000", id)
		if st != 404 || st2 != 404 || got != got2 || !strings.Contains(got, want) {
			t.Errorf("%s %s %s: %d %s; missing run: %d %s", who, method, path, st, got, st2, got2)
		}
	}
	for _, who := range []string{"carol", "anonymous", "sam"} {
		missing(who, "GET", "/api/workflow/"+id+"/tasks", "workflow not found")
		missing(who, "DELETE", "/api/workflow/"+id+"/remove", "workflow not found")
		missing(who, "DELETE", "/api/workflow/"+id+"/terminate-remove", "workflow not found")
		missing(who, "PUT", "/api/workflow/decide/"+id, "workflow not found")
		missing(who, "POST", "/api/tasks/"+id+"/hold/COMPLETED/sync", "workflow not found")
		if st, _, got := ts.as(t, who, "GET", "/api/tasks/"+taskID, ""); st != 404 || !strings.Contains(got, "Task not found for taskId: "+taskID) {
			t.Errorf("%s GET task: %d %s", who, st, got)
		}
		for _, path := range []string{"/api/workflow/running/guarded", "/api/workflow/guarded/correlated/k1?includeClosed=true", "/api/workflow/search-v2?query=workflowType%3Dguarded"} {
			if st, _, got := ts.as(t, who, "GET", path, ""); st != 200 || strings.Contains(got, id) {
				t.Errorf("%s GET %s: %d %s", who, path, st, got)
			}
		}
	}
	// rita reads, may not manage.
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/api/workflow/" + id + "/remove"},
		{"DELETE", "/api/workflow/" + id + "/terminate-remove"},
		{"PUT", "/api/workflow/decide/" + id},
		{"POST", "/api/tasks/" + id + "/hold/COMPLETED/sync"},
	} {
		if st, _, got := ts.as(t, "rita", c.method, c.path, ""); st != 403 || !strings.Contains(got, "workflows:manage:guarded") {
			t.Errorf("rita %s %s: %d %s", c.method, c.path, st, got)
		}
	}
	for _, path := range []string{"/api/workflow/" + id + "/tasks", "/api/tasks/" + taskID, "/api/workflow/running/guarded", "/api/workflow/search-v2?query=workflowType%3Dguarded",
		"/api/workflow/guarded/correlated/k1?includeClosed=true"} {
		if st, _, got := ts.as(t, "rita", "GET", path, ""); st != 200 || (!strings.Contains(got, id) && !strings.Contains(got, `"correlationId":"k1"`)) {
			t.Errorf("rita GET %s: %d %s", path, st, got)
		}
	}
	// Task logs: reading them is reading the task; writing needs managing
	// its run (hold is a WAIT: no poll scope grants it).
	for _, c := range []struct {
		who, method string
		want        int
	}{
		{"carol", "POST", 404}, {"carol", "GET", 204}, {"anonymous", "GET", 204},
		{"rita", "POST", 403}, {"rita", "GET", 204},
		{"bob", "POST", 200}, {"alice", "POST", 200}, {"rita", "GET", 200},
	} {
		st, _, got := ts.as(t, c.who, c.method, "/api/tasks/"+taskID+"/log", "line from "+c.who)
		if st != c.want || (st == 403 && !strings.Contains(got, "workflows:manage:guarded")) || (st == 404 && !strings.Contains(got, "Task not found")) {
			t.Errorf("%s %s task log: %d %s, want %d", c.who, c.method, st, got, c.want)
		}
	}
	// alice owns the run: she may remove it; then it is gone for everyone.
	if st, _, got := ts.as(t, "alice", "DELETE", "/api/workflow/"+id+"/remove", ""); st != 200 {
		t.Fatalf("alice remove: %d %s", st, got)
	}
	if st, _, _ := ts.as(t, "admin", "GET", "/api/workflow/"+id, ""); st != 404 {
		t.Errorf("removed run: %d", st)
	}
}

// TestOrkesJSSDKMoreEndpoints drives runs by correlation id
// (getByCorrelationIds: POST /api/workflow/correlated/batch), a task by id
// (getTask), the synchronous update by reference (updateTaskSync, which
// sends its output as {"taskOutput": …}) and removing a run
// (deleteWorkflow) through the Orkes JavaScript SDK 4.0.0, token auth on.
// The secret the run resolved and the one the update sends are "***" in
// every answer the SDK got, in the log and in the stored run.
func TestOrkesJSSDKMoreEndpoints(t *testing.T) {
	sdk := jsSDKDir(t)
	const value = "js-more-VALUE-51c0aa"
	ts := newConductorServer(t, nil, serverWithAuth(t))
	putSecret(t, ts.store, "js_token", value)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/more.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all",
		"KEY_SECRET=app-all-secret-0123456789", "SECRET_VALUE="+value)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error              string   `json:"error"`
		Leaks              []string `json:"leaks"`
		Correlated         []string `json:"correlated"`
		CorrelatedNone     *int     `json:"correlatedNone"`
		CorrelatedVariable string   `json:"correlatedVariable"`
		IDs                []string `json:"ids"`
		A                  string   `json:"a"`
		Task               string   `json:"task"`
		Sync               string   `json:"sync"`
		Removed            string   `json:"removed"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if len(got.Leaks) != 0 {
		t.Errorf("the secret value reached the SDK in: %v", got.Leaks)
	}
	if strings.Join(got.Correlated, ",") != strings.Join(got.IDs, ",") || got.CorrelatedNone == nil || *got.CorrelatedNone != 0 || got.CorrelatedVariable != "***" {
		t.Errorf("getByCorrelationIds: %+v", got)
	}
	if got.Task != "hold:IN_PROGRESS:"+got.A {
		t.Errorf("getTask: %q", got.Task)
	}
	if got.Sync != got.A+`:COMPLETED:{"taskOutput":{"echo":"***"}}` {
		t.Errorf("updateTaskSync: %q", got.Sync)
	}
	if got.Removed != "gone" {
		t.Errorf("deleteWorkflow: the run is %s", got.Removed)
	}
	stored, _, err := ts.runs.Load(ctx, got.A)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"stored run": string(stored), "log": ts.logs.String(), "node output": stdout.String() + stderr.String()} {
		if strings.Contains(text, value) {
			t.Errorf("%s contains the secret value", what)
		}
	}
}

// TestDecideResumesAnOrphanedRun: a RUNNING run whose serve process
// stopped is executed by nobody: a completion sent to another process on
// the same run store waits; PUT /api/workflow/decide/{id} there resumes
// the run, which takes the completion and moves on.
func TestDecideResumesAnOrphanedRun(t *testing.T) {
	runs := runstore.NewMemory()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := a.do(t, "POST", "/api/workflow/guarded", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	heldAt(t, a, id, "hold")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	if st, _, body := b.do(t, "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register on b: %d %s", st, body)
	}
	if st, _, body := b.do(t, "POST", "/api/tasks/"+id+"/hold/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete hold through b: %d %s", st, body)
	}
	time.Sleep(300 * time.Millisecond)
	if _, _, body := b.do(t, "GET", "/api/workflow/"+id, ""); strings.Contains(body, `"referenceTaskName":"later"`) {
		t.Fatalf("the run moved on with nobody executing it: %s", body)
	}
	if st, _, body := b.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 || body != "" {
		t.Fatalf("decide: %d %q", st, body)
	}
	heldAt(t, b, id, "later")
}

// startTimeOf reads run id's startTime.
func startTimeOf(t *testing.T, ts *conductorServer, id string) int64 {
	t.Helper()
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=false", "")
	var d struct {
		StartTime int64 `json:"startTime"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || d.StartTime == 0 {
		t.Fatalf("run %s: %s", id, body)
	}
	return d.StartTime
}
