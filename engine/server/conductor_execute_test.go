package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// TestExecuteWorkflow: POST /api/workflow/execute/{name}/{version}
// (Conductor's synchronous execution) through the Go SDK's
// ExecuteWorkflow and raw HTTP: the run is started and answered once it
// ended, is blocked on a WAIT task or a task named in waitUntilTaskRef
// ended, in the returnStrategy's shape, with the requestId given; at
// waitForSeconds, as it is, with signalTimeout. The secret the run
// resolved is "***" in every answer.
func TestExecuteWorkflow(t *testing.T) {
	const value = "execute-SECRET-value-0b7d"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	for _, def := range []string{corrFlowDef,
		`{"name":"quick_flow","version":1,"schemaVersion":2,"tasks":[{"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}],"outputParameters":{"t":"${workflow.variables.token}"}}`,
		`{"name":"slow_flow","version":1,"schemaVersion":2,"tasks":[{"name":"nobody_polls","taskReferenceName":"w","type":"SIMPLE"}]}`,
	} {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	wc := client.NewWorkflowClient(client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api")))
	ctx := context.Background()
	var answers []string

	run, _, err := wc.ExecuteWorkflow(ctx, model.StartWorkflowRequest{CorrelationId: "ex", Input: map[string]any{"a": 1}}, "req-1", "corr_flow", 1, "")
	if err != nil || run.WorkflowId == "" || run.Status != "RUNNING" || run.RequestId != "req-1" || run.CorrelationId != "ex" || run.Variables["token"] != "***" || len(run.Tasks) != 2 {
		t.Fatalf("ExecuteWorkflow (blocks on hold) = %+v, %v", run, err)
	}
	raw, _ := json.Marshal(run)
	answers = append(answers, string(raw))
	run, _, err = wc.ExecuteWorkflow(ctx, model.StartWorkflowRequest{}, "", "quick_flow", 0, "")
	if err != nil || run.Status != "COMPLETED" || run.Output["t"] != "***" || run.RequestId == "" {
		t.Fatalf("ExecuteWorkflow (completes, latest version) = %+v, %v", run, err)
	}
	raw, _ = json.Marshal(run)
	answers = append(answers, string(raw))

	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/api/workflow/execute/corr_flow/1?returnStrategy=BLOCKING_TASK", `"referenceTaskName":"hold"`, 200},
		{"/api/workflow/execute/corr_flow/1?returnStrategy=BLOCKING_TASK&waitUntilTaskRef=nothing,setv", `"referenceTaskName":"setv"`, 200},
		{"/api/workflow/execute/corr_flow/1?returnStrategy=BLOCKING_WORKFLOW", `"responseType":"BLOCKING_WORKFLOW"`, 200},
		{"/api/workflow/execute/slow_flow/1?waitForSeconds=1", `"signalTimeout":true`, 200},
		{"/api/workflow/execute/no_such_flow/1", "no_such_flow", 404},
		{"/api/workflow/execute/corr_flow/1?returnStrategy=SOMETHING", "returnStrategy", 400},
		{"/api/workflow/execute/corr_flow/x", "version", 400},
	} {
		st, ct, body := ts.do(t, "POST", c.path, `{"input":{}}`)
		if st != c.status || !strings.HasPrefix(ct, "application/json") || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s %s", c.path, st, ct, body)
		}
		answers = append(answers, body)
	}
	answers = append(answers, ts.logs.String())
	for i, text := range answers {
		if strings.Contains(text, value) {
			t.Errorf("answer %d contains the secret value", i)
		}
	}
}

// TestOrkesJSSDKExecuteLogsSearch drives executeWorkflow, addTaskLog,
// getTaskLogs and the task search through the Orkes JavaScript SDK 4.0.0,
// token auth on: the run blocks on its WAIT task, a log line carrying the
// secret comes back masked, the search finds the task. The value is in no
// answer, log line or stored run.
func TestOrkesJSSDKExecuteLogsSearch(t *testing.T) {
	sdk := jsSDKDir(t)
	const value = "js-exec-VALUE-8e21c4"
	ts := newConductorServer(t, nil, serverWithAuth(t))
	putSecret(t, ts.store, "js_token", value)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/tasks.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all",
		"KEY_SECRET=app-all-secret-0123456789", "SECRET_VALUE="+value)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error      string   `json:"error"`
		Leaks      []string `json:"leaks"`
		Run        string   `json:"run"`
		HoldStatus string   `json:"holdStatus"`
		Logs       []string `json:"logs"`
		SearchHits int      `json:"searchHits"`
		SearchTask bool     `json:"searchTask"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if len(got.Leaks) != 0 {
		t.Errorf("the secret value reached the SDK in: %v", got.Leaks)
	}
	if got.Run != "RUNNING:js-req-1:***" || got.HoldStatus != "IN_PROGRESS" {
		t.Errorf("executeWorkflow: %+v", got)
	}
	if strings.Join(got.Logs, "|") != "js line ***" {
		t.Errorf("task logs: %q", got.Logs)
	}
	if got.SearchHits != 1 || !got.SearchTask {
		t.Errorf("task search: %+v", got)
	}
	for what, text := range map[string]string{"log": ts.logs.String(), "node output": stdout.String() + stderr.String()} {
		if strings.Contains(text, value) {
			t.Errorf("%s contains the secret value", what)
		}
	}
}
