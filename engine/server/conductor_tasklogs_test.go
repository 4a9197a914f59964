package server_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

const logFlowDef = `{"name":"log_flow","version":1,"schemaVersion":2,"tasks":[
  {"name":"log_worker","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}]}`

// TestTaskLogs: a worker handed a secret posts execution log lines that
// carry it (through the Go SDK's Log, which sends a JSON string, and as a
// raw body); GET /api/tasks/{taskId}/log answers them masked, oldest
// first, 204 before there is any; the logs of a worker's TaskResult join
// them. They are kept in the run store: another
// serve process on the same store (a restart) reads them; a run that ended
// takes no more (409); removing the run deletes them. The value is in no
// answer, stored entry or log line.
func TestTaskLogs(t *testing.T) {
	const value = "tasklog-SECRET-value-3e8f"
	runs := runstore.NewMemory()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ts := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	putSecret(t, ts.store, "api_key", value)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", logFlowDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/log_flow", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	var polled []model.Task
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0 && time.Now().Before(deadline); {
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/log_worker?workerid=w1&count=1&timeout=500", "")
		_ = json.Unmarshal([]byte(body), &polled)
	}
	if len(polled) != 1 || polled[0].InputData["token"] != value {
		t.Fatalf("poll: %+v", polled)
	}
	taskID := polled[0].TaskId
	var answers []string

	if st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID+"/log", ""); st != 204 || body != "" {
		t.Errorf("logs before any: %d %q", st, body)
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	tc := client.NewTaskClient(api)
	ctx := context.Background()
	if resp, err := tc.Log(ctx, "using "+value+" now", taskID); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Log: %v %v", resp, err)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+taskID+"/log", "plain line "+value); st != 200 {
		t.Fatalf("raw log line: %d %s", st, body)
	}
	long := strings.Repeat("x", 3*engine.MaxTaskLogLine) + value
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+taskID+"/log", long); st != 200 {
		t.Fatalf("long log line: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/no-such-task/log", "x"); st != 404 || !strings.Contains(body, "Task not found for taskId: no-such-task") {
		t.Errorf("log of a missing task: %d %s", st, body)
	}
	logs, _, err := tc.GetTaskLogs(ctx, taskID)
	if err != nil || len(logs) != 3 || logs[0].Log != "using *** now" || logs[1].Log != "plain line ***" ||
		logs[0].TaskId != taskID || logs[0].CreatedTime == 0 || len(logs[2].Log) > engine.MaxTaskLogLine+8 || !strings.HasPrefix(logs[2].Log, "xxx") {
		t.Fatalf("GetTaskLogs = %+v, %v", logs, err)
	}
	raw, _ := json.Marshal(logs)
	answers = append(answers, string(raw))

	// Another serve process on the same run store reads them.
	other := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	st, ct, body := other.do(t, "GET", "/api/tasks/"+taskID+"/log", "")
	if st != 200 || !strings.HasPrefix(ct, "application/json") || !strings.Contains(body, `"log":"using *** now"`) {
		t.Errorf("logs read by another process: %d %s %s", st, ct, body)
	}
	answers = append(answers, body)
	stored, err := runs.TaskLogs(ctx, id)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored entries: %d %v", len(stored), err)
	}
	for _, e := range stored {
		// Sealed: ciphertext, not the entry's JSON, with none of its text.
		// (Ciphertext is random bytes: "***" may occur in it by chance.)
		if json.Valid(e.Data) || strings.Contains(string(e.Data), `"log"`) || strings.Contains(string(e.Data), "using") ||
			strings.Contains(string(e.Data), "plain line") || strings.Contains(string(e.Data), value) {
			t.Errorf("a stored entry is not sealed: %.60q", e.Data)
		}
	}

	// The run ends: no more lines; the ones there stay readable.
	if st, _, body := ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"COMPLETED","outputData":{},"logs":[{"log":"done with `+value+`","taskId":"`+taskID+`","createdTime":1}]}`); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, _, body := ts.do(t, "GET", "/api/workflow/"+id+"/status", ""); strings.Contains(body, `"COMPLETED"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("run never completed")
		}
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+taskID+"/log", "late "+value); st != 409 || !strings.Contains(body, "task logs are closed") {
		t.Errorf("log after the end: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID+"/log", ""); st != 200 || strings.Count(body, `"taskId"`) != 4 || !strings.Contains(body, `"log":"done with ***"`) {
		t.Errorf("logs after the end: %d %s", st, body)
	}
	// Removed with the run.
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+id+"/remove", ""); st != 200 {
		t.Fatalf("remove: %d %s", st, body)
	}
	if got, err := runs.TaskLogs(ctx, id); err != nil || len(got) != 0 {
		t.Errorf("task logs after the run was removed: %d %v", len(got), err)
	}
	if st, _, _ := ts.do(t, "GET", "/api/tasks/"+taskID+"/log", ""); st != 204 {
		t.Errorf("logs of a removed run's task: %d", st)
	}
	answers = append(answers, ts.logs.String(), other.logs.String())
	for i, text := range answers {
		if strings.Contains(text, value) {
			t.Errorf("answer %d contains the secret value", i)
		}
	}
}

// TestTaskLogsOfAChild: a parent resolves a secret and hands it to its
// SUB_WORKFLOW child (whose input shows the reference; its worker polls
// the value, as Conductor hands it); a line the child's worker logs with
// the value is masked: a child's lines are masked with what its parents
// registered.
func TestTaskLogsOfAChild(t *testing.T) {
	const value = "child-log-SECRET-value-1a2b"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	for _, def := range []string{
		`{"name":"log_child","version":1,"schemaVersion":2,"tasks":[{"name":"child_worker","taskReferenceName":"cw","type":"SIMPLE","inputParameters":{"token":"${workflow.input.token}"}}]}`,
		`{"name":"log_parent","version":1,"schemaVersion":2,"tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"log_child","version":1},"inputParameters":{"token":"${workflow.secrets.api_key}"}}]}`,
	} {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	if st, _, body := ts.do(t, "POST", "/api/workflow/log_parent", `{}`); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	var polled []model.Task
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0 && time.Now().Before(deadline); {
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/child_worker?workerid=w1&count=1&timeout=500", "")
		_ = json.Unmarshal([]byte(body), &polled)
	}
	if len(polled) != 1 || polled[0].InputData["token"] != value {
		t.Fatalf("poll: %+v", polled)
	}
	taskID := polled[0].TaskId
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+taskID+"/log", `"child says `+value+`"`); st != 200 {
		t.Fatalf("log: %d %s", st, body)
	}
	st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID+"/log", "")
	if st != 200 || !strings.Contains(body, `"log":"child says ***"`) || strings.Contains(body, value) {
		t.Errorf("child's task log: %d %s", st, body)
	}
	if strings.Contains(ts.logs.String(), value) {
		t.Error("the server log contains the secret value")
	}
}

// TestTaskLogsMaskedWithLaterValues: a value a worker mints and returns as
// a `_secrets` leaf of its TaskResult masks the logs of the same result,
// and the lines posted before it, in the answers and in the stored
// entries (opened with the keyring).
func TestTaskLogsMaskedWithLaterValues(t *testing.T) {
	const minted = "minted-SECRET-value-9c4d"
	runs := runstore.NewMemory()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ts := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	def := `{"name":"mint_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"minter","taskReferenceName":"mint","type":"SIMPLE"},
	  {"name":"hold","taskReferenceName":"hold","type":"WAIT"}]}`
	id := ts.registerStart(t, def, "mint_flow")
	var polled []model.Task
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0 && time.Now().Before(deadline); {
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/minter?workerid=w1&count=1&timeout=500", "")
		_ = json.Unmarshal([]byte(body), &polled)
	}
	if len(polled) != 1 {
		t.Fatalf("poll: %+v", polled)
	}
	taskID := polled[0].TaskId
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+taskID+"/log", "about to mint "+minted); st != 200 {
		t.Fatalf("log: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"COMPLETED",
	  "outputData":{"_secrets":{"tok":"`+minted+`"}},"logs":[{"log":"minted `+minted+`"}]}`); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	// The run goes on to its WAIT: it has registered the value by then.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		if strings.Count(body, `"referenceTaskName"`) >= 2 && strings.Contains(body, `"IN_PROGRESS"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run never reached its WAIT: %s", body)
		}
	}
	st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID+"/log", "")
	if st != 200 || !strings.Contains(body, `"log":"about to mint ***"`) || !strings.Contains(body, `"log":"minted ***"`) || strings.Contains(body, minted) {
		t.Errorf("task log: %d %s", st, body)
	}
	tr, err := runsecrets.NewTransit(ring)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := runs.TaskLogs(context.Background(), id)
	if err != nil || len(stored) != 2 {
		t.Fatalf("stored entries: %d %v", len(stored), err)
	}
	for _, e := range stored {
		plain, err := tr.Open(e.Data, "task log", id+"#"+strconv.FormatUint(e.Seq, 10))
		if err != nil || strings.Contains(string(plain), minted) || !strings.Contains(string(plain), "***") {
			t.Errorf("stored entry %d: %s %v", e.Seq, plain, err)
		}
	}
	if strings.Contains(ts.logs.String(), minted) {
		t.Error("the server log contains the value")
	}
}
