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
)

// signalRun is the part of a WorkflowRun signal answer these tests read.
type signalRun struct {
	ResponseType         string `json:"responseType"`
	TargetWorkflowID     string `json:"targetWorkflowId"`
	TargetWorkflowStatus string `json:"targetWorkflowStatus"`
	WorkflowID           string `json:"workflowId"`
	Status               string `json:"status"`
	SignalTimeout        bool   `json:"signalTimeout"`
	RequestID            string `json:"requestId"`
	Tasks                []struct {
		TaskType string         `json:"taskType"`
		Status   string         `json:"status"`
		Output   map[string]any `json:"outputData"`
	} `json:"tasks"`
}

// registerConductorDef registers a definition file of testdata/conductor
// through the metadata API.
func registerConductorDef(t *testing.T, ts *conductorServer, file string) {
	t.Helper()
	b, err := os.ReadFile("../../testdata/conductor/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", string(b)); st != 200 {
		t.Fatalf("register %s: %d %s", file, st, body)
	}
}

func startByName(t *testing.T, ts *conductorServer, name string) string {
	t.Helper()
	st, _, id := ts.do(t, "POST", "/api/workflow/"+name, `{}`)
	if st != 200 {
		t.Fatalf("start %s: %d %s", name, st, id)
	}
	return id
}

// TestSignalEndpoints runs SignalTaskSpec's cases through
// POST /api/tasks/{workflowId}/{status}/signal[/sync], with the spec's
// definitions: the signal completes the blocked WAIT task (the sync answer
// comes when the run is blocked again or, here, when its wait for the
// next task times out: integration_task_1 is SCHEDULED for a worker); a run
// with nothing blocked is 404; the signal descends into a sub-workflow.
// A `_secrets` leaf of a signal's output is stored sealed and shown "***".
func TestSignalEndpoints(t *testing.T) {
	ts := newConductorServer(t, nil)
	for _, f := range []string{"wait_workflow_integration_test.json", "signal_sub_wf_child_integration_test.json", "signal_sub_wf_parent_integration_test.json"} {
		registerConductorDef(t, ts, f)
	}
	const value = "signal-VALUE-4f1c2a"

	id := startByName(t, ts, "test_wait_workflow")
	ts.waitRun(t, id, "WAIT in progress", func(d runDoc) bool {
		return len(d.Tasks) == 1 && d.Tasks[0].TaskType == "WAIT" && d.Tasks[0].Status == "IN_PROGRESS"
	})
	st, ctype, body := ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal/sync?timeoutMillis=2000",
		`{"result":"done","_secrets":{"token":"`+value+`"}}`)
	if st != 200 || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("signal/sync: %d %s %s", st, ctype, body)
	}
	var run signalRun
	if err := json.Unmarshal([]byte(body), &run); err != nil {
		t.Fatal(err)
	}
	if run.ResponseType != "TARGET_WORKFLOW" || run.TargetWorkflowID != id || run.WorkflowID != id || run.Status != "RUNNING" ||
		!run.SignalTimeout || run.RequestID == "" || len(run.Tasks) != 2 {
		t.Fatalf("signal/sync answer: %s", body)
	}
	if run.Tasks[0].TaskType != "WAIT" || run.Tasks[0].Status != "COMPLETED" || run.Tasks[0].Output["result"] != "done" ||
		run.Tasks[1].TaskType != "integration_task_1" || run.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("tasks after the signal: %s", body)
	}
	stored, _, err := ts.runs.Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"answer": body, "stored run": string(stored), "log": ts.logs.String()} {
		if strings.Contains(text, value) {
			t.Errorf("%s contains the signal's _secrets value", what)
		}
	}
	if !strings.Contains(body, `"_secrets":"***"`) && !strings.Contains(body, `"token":"***"`) {
		t.Errorf("the _secrets leaf is not shown masked: %s", body)
	}

	// "Signal on a workflow with no blocking task": nothing to signal.
	for _, path := range []string{"/signal", "/signal/sync"} {
		if st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED"+path, `{}`); st != 404 || !strings.Contains(body, "Found no blocked task in workflow "+id) {
			t.Errorf("%s with nothing blocked: %d %s", path, st, body)
		}
	}
	// "Signal on a non-existent workflow".
	if st, _, body := ts.do(t, "POST", "/api/tasks/non-existent-wf-id/COMPLETED/signal", `{}`); st != 404 || !strings.Contains(body, "workflow not found") {
		t.Errorf("unknown run: %d %s", st, body)
	}

	// "Signal descends into a sub-workflow to complete its blocked WAIT task".
	parent := startByName(t, ts, "signal_sub_wf_parent")
	ts.waitRun(t, parent, "SUB_WORKFLOW in progress", func(d runDoc) bool {
		return len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS"
	})
	// A bad output is 400 whether or not something is blocked: the input
	// is checked first (id has nothing blocked).
	for _, bad := range []struct{ path, body, want string }{
		{"/COMPLETED/signal", `[1]`, "JSON object"},
		{"/COMPLETED/signal/sync", `{"a":`, "JSON object"},
	} {
		if st, _, body := ts.do(t, "POST", "/api/tasks/"+id+bad.path, bad.body); st != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("%s %s on a run with nothing blocked: %d %s", bad.path, bad.body, st, body)
		}
	}
	// The parent's SUB_WORKFLOW is IN_PROGRESS before its child reaches
	// its WAIT task (on a loaded machine, a while before).
	var started struct {
		Tasks []struct {
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+parent, "")
		if json.Unmarshal([]byte(body), &started) == nil && len(started.Tasks) == 1 && started.Tasks[0].SubWorkflowID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no child run: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.waitRun(t, started.Tasks[0].SubWorkflowID, "child's WAIT in progress", func(d runDoc) bool {
		return len(d.Tasks) == 1 && d.Tasks[0].TaskType == "WAIT" && d.Tasks[0].Status == "IN_PROGRESS"
	})
	for _, bad := range []struct{ path, want string }{
		{"/SKIPPED/signal", "a signal delivers COMPLETED"},
		{"/COMPLETED/signal/sync?returnStrategy=EVERYTHING", "returnStrategy"},
		{"/COMPLETED/signal/sync?timeoutMillis=soon", "timeoutMillis"},
	} {
		if st, _, body := ts.do(t, "POST", "/api/tasks/"+parent+bad.path, `{}`); st != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("%s: %d %s", bad.path, st, body)
		}
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+parent+"/COMPLETED/signal", `[1]`); st != 400 || !strings.Contains(body, "JSON object") {
		t.Errorf("array output: %d %s", st, body)
	}
	// The largest timeoutMillis waits (up to maxSignalWait) for the run to
	// end: it does not overflow into no wait at all.
	st, _, body = ts.do(t, "POST", "/api/tasks/"+parent+"/COMPLETED/signal/sync?returnStrategy=TARGET_WORKFLOW&timeoutMillis=9223372036854775807", `{"result":"sub-done"}`)
	run = signalRun{}
	if err := json.Unmarshal([]byte(body), &run); st != 200 || err != nil {
		t.Fatalf("signal parent: %d %s", st, body)
	}
	if run.WorkflowID != parent || run.Status != "COMPLETED" || run.SignalTimeout || len(run.Tasks) != 1 || run.Tasks[0].Status != "COMPLETED" {
		t.Fatalf("parent after the signal: %s", body)
	}
	var sub struct {
		Tasks []struct {
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	_, _, body = ts.do(t, "GET", "/api/workflow/"+parent, "")
	if err := json.Unmarshal([]byte(body), &sub); err != nil || len(sub.Tasks) != 1 {
		t.Fatalf("parent: %s", body)
	}
	child := ts.waitRun(t, sub.Tasks[0].SubWorkflowID, "child completed", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if child.Tasks[0].TaskType != "WAIT" || child.Tasks[0].Output["result"] != "sub-done" {
		t.Fatalf("child's WAIT task: %+v", child.Tasks)
	}
}

// TestOrkesJSSDKSignal drives the signal endpoints with the Orkes
// JavaScript SDK 4.0.0, unmodified: WorkflowExecutor.signal with the
// BLOCKING_TASK and BLOCKING_WORKFLOW strategies, then signalAsync, over a
// run of three WAIT tasks. (The SDK sends its output as {"taskOutput": …},
// which the server stores as given, as Conductor does.)
func TestOrkesJSSDKSignal(t *testing.T) {
	sdk := jsSDKDir(t)
	ts := newConductorServer(t, nil, serverWithAuth(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/signal.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all", "KEY_SECRET=app-all-secret-0123456789")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error        string `json:"error"`
		BlockingTask struct {
			IsTask  bool           `json:"isTask"`
			Ref     string         `json:"ref"`
			Status  string         `json:"status"`
			Input   map[string]any `json:"input"`
			Target  bool           `json:"target"`
			Type    string         `json:"type"`
			Timeout bool           `json:"timeout"`
		} `json:"blockingTask"`
		BlockingWorkflow struct {
			IsWorkflow bool     `json:"isWorkflow"`
			ID         bool     `json:"id"`
			Tasks      []string `json:"tasks"`
		} `json:"blockingWorkflow"`
		Status string         `json:"status"`
		Output map[string]any `json:"output"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	bt := got.BlockingTask
	first, _ := json.Marshal(bt.Input["got"])
	if !bt.IsTask || bt.Ref != "second" || bt.Status != "IN_PROGRESS" || !bt.Target || bt.Type != "BLOCKING_TASK" || bt.Timeout ||
		string(first) != `{"taskOutput":{"step":1}}` {
		t.Errorf("BLOCKING_TASK answer: %+v (input.got %s)", bt, first)
	}
	bw := got.BlockingWorkflow
	if !bw.IsWorkflow || !bw.ID || strings.Join(bw.Tasks, ",") != "first:COMPLETED,second:COMPLETED,third:IN_PROGRESS" {
		t.Errorf("BLOCKING_WORKFLOW answer: %+v", bw)
	}
	out, _ := json.Marshal(got.Output)
	if got.Status != "COMPLETED" || string(out) != `{"second":{"taskOutput":{"step":2}},"third":{"taskOutput":{"step":3}}}` {
		t.Errorf("run after signalAsync: %s %s", got.Status, out)
	}
}
