package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// testAnswer is what the tests read of POST /api/workflow/test's answer
// (Conductor's Workflow).
type testAnswer struct {
	WorkflowID string         `json:"workflowId"`
	Status     string         `json:"status"`
	Output     map[string]any `json:"output"`
	Tasks      []struct {
		TaskType string         `json:"taskType"`
		Ref      string         `json:"referenceTaskName"`
		Status   string         `json:"status"`
		Output   map[string]any `json:"outputData"`
	} `json:"tasks"`
}

func (a testAnswer) list() string {
	var parts []string
	for _, tk := range a.Tasks {
		parts = append(parts, tk.Ref+":"+tk.TaskType+":"+tk.Status)
	}
	return strings.Join(parts, " ")
}

func decodeAnswer(t *testing.T, body string) testAnswer {
	t.Helper()
	var a testAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return a
}

// TestWorkflowTestAPISpec sends TestWorkflowSpec's two WorkflowTestRequests
// (transcribed) to POST /api/workflow/test and checks what the spec checks
// of the run it answers and of GET /api/workflow/{id}: RUNNING, task1
// completed from its mock, the next task SCHEDULED. That task is never
// offered to a worker polling for it; completing it by reference goes on.
func TestWorkflowTestAPISpec(t *testing.T) {
	cases := []struct {
		file, want, waiting, wantAfter string
	}{
		{"test_workflow_simple_tasks_request.json", "task1:task1:COMPLETED task2:task2:SCHEDULED", "task2",
			"task1:task1:COMPLETED task2:task2:COMPLETED"},
		{"test_workflow_decision_request.json", "task1:task1:COMPLETED switch:SWITCH:COMPLETED d2:task2:SCHEDULED", "d2",
			"task1:task1:COMPLETED switch:SWITCH:COMPLETED d2:task2:COMPLETED"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ts := newConductorServer(t, nil)
			body, err := os.ReadFile("../../testdata/conductor/transcribed/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			code, ctype, resp := ts.do(t, "POST", "/api/workflow/test", string(body))
			if code != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
				t.Fatalf("POST /api/workflow/test: %d %s %s", code, ctype, resp)
			}
			got := decodeAnswer(t, resp)
			if got.Status != "RUNNING" || got.list() != tc.want || got.Tasks[0].Output["key"] != "value" {
				t.Fatalf("answer: %s %s %v", got.Status, got.list(), got.Tasks[0].Output)
			}
			_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
			if again := decodeAnswer(t, view); again.Status != "RUNNING" || again.list() != tc.want {
				t.Fatalf("GET: %s %s", again.Status, again.list())
			}
			if _, _, polled := ts.do(t, "GET", "/api/tasks/poll/batch/task2?count=1&timeout=200", ""); polled != "[]" {
				t.Fatalf("a worker polled the test run's task: %s", polled)
			}
			if code, _, b := ts.do(t, "POST", "/api/tasks/"+got.WorkflowID+"/"+tc.waiting+"/COMPLETED", `{"by":"hand"}`); code != http.StatusOK {
				t.Fatalf("completing %s: %d %s", tc.waiting, code, b)
			}
			var end testAnswer
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
				if end = decodeAnswer(t, view); end.Status != "RUNNING" {
					break
				}
			}
			if end.Status != "COMPLETED" || end.list() != tc.wantAfter {
				t.Fatalf("after the completion: %s %s", end.Status, end.list())
			}
		})
	}
}

// TestWorkflowTestAPIMaskedSecrets: a mocked output enters the run as a
// worker's does: its `_secrets` are shown as "***" and sealed in the
// store, a secret value it repeats (one the run resolved) is masked, in
// the answer, GET, the stored run and the log.
func TestWorkflowTestAPIMaskedSecrets(t *testing.T) {
	const (
		resolved = "resolved-SECRET-0c7a31e9"
		mocked   = "mocked-SECRET-5e2b88d4"
	)
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", resolved)
	req := `{"name":"masked_test","workflowDef":{"name":"masked_test","version":1,"schemaVersion":2,"tasks":[
	    {"name":"auth","taskReferenceName":"auth","type":"SIMPLE","inputParameters":{"key":"${workflow.secrets.api_key}"}},
	    {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{"evaluatorType":"graaljs","expression":"'token ' + $.tok","tok":"${auth.output._secrets.token}"}}],
	  "outputParameters":{"used":"${use.output.result}","echo":"${auth.output.echo}"}},
	  "taskRefToMockOutput":{"auth":[{"output":{"_secrets":{"token":"` + mocked + `"},"echo":"key ` + resolved + ` token ` + mocked + `"}}]}}`
	code, _, resp := ts.do(t, "POST", "/api/workflow/test", req)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, resp)
	}
	got := decodeAnswer(t, resp)
	if got.Status != "COMPLETED" || got.Output["used"] != "token ***" || got.Output["echo"] != "key *** token ***" {
		t.Fatalf("answer: %s %v", got.Status, got.Output)
	}
	if s := got.Tasks[0].Output["_secrets"]; s != "***" {
		t.Errorf("auth's _secrets shown as %v", s)
	}
	_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
	stored, _, err := ts.runs.Load(context.Background(), got.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"answer": resp, "GET": view, "stored run": string(stored)} {
		for _, v := range []string{resolved, mocked} {
			if strings.Contains(text, v) {
				t.Errorf("the %s holds %q", what, v)
			}
		}
	}
	ts.assertNoLeak(t, resolved, mocked)
}

// TestWorkflowTestAPIBadRequests: what POST /api/workflow/test refuses,
// with one clear line each, starting no run; mocks for a reference the
// definition does not have are taken (Conductor ignores them).
func TestWorkflowTestAPIBadRequests(t *testing.T) {
	const def = `"workflowDef":{"name":"bad_test","version":1,"schemaVersion":2,"tasks":[{"name":"a","taskReferenceName":"a","type":"SIMPLE"}]}`
	cases := []struct {
		name, body string
		code       int
		want       string // in the answer's message (200: in the answer)
	}{
		{"malformed", `{"name":"x",`, 400, "malformed JSON at byte"},
		{"mocks not a list", `{` + def + `,"taskRefToMockOutput":{"a":{"status":"COMPLETED"}}}`, 400, "WorkflowTestRequest: wrong JSON type"},
		{"bad status", `{` + def + `,"taskRefToMockOutput":{"a":[{"status":"DONE"}]}}`, 400, `taskRefToMockOutput["a"][0].status "DONE"`},
		{"output not an object", `{` + def + `,"taskRefToMockOutput":{"a":[{"output":"text"}]}}`, 400, `taskRefToMockOutput["a"][0].output must be a JSON object`},
		{"bad sub-workflow mock", `{` + def + `,"subWorkflowTestRequest":{"s":{"taskRefToMockOutput":{"x":[{"status":"SKIPPED"}]}}}}`, 400, `subWorkflowTestRequest["s"].taskRefToMockOutput["x"][0].status`},
		{"input not an object", `{` + def + `,"input":[1]}`, 400, "workflow input must be a JSON object"},
		{"unknown workflow", `{"name":"no_such_workflow","version":1}`, 404, "no_such_workflow"},
		{"unknown reference", `{` + def + `,"taskRefToMockOutput":{"a":[{}],"nowhere":[{"output":{"x":1}}]}}`, 200, `"status":"COMPLETED"`},
	}
	ts := newConductorServer(t, nil)
	runs := func() int {
		_, _, b := ts.do(t, "GET", "/api/workflow/search?size=1000", "")
		var res struct {
			TotalHits int `json:"totalHits"`
		}
		_ = json.Unmarshal([]byte(b), &res)
		return res.TotalHits
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runs()
			code, _, body := ts.do(t, "POST", "/api/workflow/test", tc.body)
			var msg struct {
				Message string `json:"message"`
			}
			if code != http.StatusOK {
				_ = json.Unmarshal([]byte(body), &msg)
				body = msg.Message
			}
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d with %s", code, body, tc.code, tc.want)
			}
			if code != http.StatusOK {
				if strings.Contains(body, "\n") {
					t.Errorf("a multi-line error: %q", body)
				}
				if after := runs(); after != before {
					t.Errorf("a refused request started a run (%d runs, %d before)", after, before)
				}
			}
		})
	}
}

// TestWorkflowTestAPIAuth: with --auth, POST /api/workflow/test needs what
// starting the workflow needs (workflows:start:<workflow>); the caller who
// started it reads the answer.
func TestWorkflowTestAPIAuth(t *testing.T) {
	ts := newScopedServer(t)
	req := `{"name":"guarded","workflowDef":` + guardedDef + `,"taskRefToMockOutput":{"hold":[{"output":{"a":1}}],"later":[{"output":{"b":2}}]}}`
	for _, who := range []string{"anonymous", "carol", "rita"} {
		code, _, body := ts.do(t, "POST", "/api/workflow/test", req, "X-Authorization", ts.tokens[who])
		if code != http.StatusForbidden || !strings.Contains(body, "workflows:start:guarded") {
			t.Errorf("%s: %d %s, want 403 naming workflows:start:guarded", who, code, body)
		}
	}
	code, _, body := ts.do(t, "POST", "/api/workflow/test", req, "X-Authorization", ts.tokens["alice"])
	if got := decodeAnswer(t, body); code != http.StatusOK || got.Status != "COMPLETED" || got.list() != "hold:WAIT:COMPLETED later:WAIT:COMPLETED" {
		t.Fatalf("alice: %d %s", code, body)
	}
}

// TestOrkesJSSDKTestWorkflow sends TestWorkflowSpec's requests with the
// Orkes JavaScript SDK 4.0.0 (WorkflowExecutor.testWorkflow), token auth
// on, and checks the runs it gets back and reads again.
func TestOrkesJSSDKTestWorkflow(t *testing.T) {
	sdk := jsSDKDir(t)
	ts := newConductorServer(t, nil, serverWithAuth(t))
	dir, _ := filepath.Abs("../../testdata/conductor/transcribed")
	files := []string{filepath.Join(dir, "test_workflow_simple_tasks_request.json"), filepath.Join(dir, "test_workflow_decision_request.json")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/testworkflow.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all",
		"KEY_SECRET=app-all-secret-0123456789", "REQUEST_FILES="+strings.Join(files, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error    string `json:"error"`
		Findings []struct {
			Status, Tasks, AgainStatus, AgainTasks string
			FirstOutput                            map[string]any
		} `json:"findings"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	want := []string{"task1:task1:COMPLETED task2:task2:SCHEDULED", "task1:task1:COMPLETED switch:SWITCH:COMPLETED d2:task2:SCHEDULED"}
	if len(got.Findings) != len(want) {
		t.Fatalf("findings: %+v", got.Findings)
	}
	for i, f := range got.Findings {
		if f.Status != "RUNNING" || f.Tasks != want[i] || f.FirstOutput["key"] != "value" || f.AgainStatus != "RUNNING" || f.AgainTasks != want[i] {
			t.Errorf("%s: %+v", filepath.Base(files[i]), f)
		}
	}
}

// TestWorkflowTestAPIIsolatedAfterResume: a test run's worker tasks are in
// a domain of the test's own (Conductor's random taskToDomain "*"), and the
// run keeps its mocks: when another serve process resumes it, the task the
// test left waiting (no mock left) goes on waiting as it did, offered to no
// worker, in that domain or any other.
func TestWorkflowTestAPIIsolatedAfterResume(t *testing.T) {
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	runs := runstore.NewMemory()
	a := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	body, err := os.ReadFile("../../testdata/conductor/transcribed/test_workflow_simple_tasks_request.json")
	if err != nil {
		t.Fatal(err)
	}
	code, _, resp := a.do(t, "POST", "/api/workflow/test", string(body))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, resp)
	}
	var got struct {
		WorkflowID   string            `json:"workflowId"`
		TaskToDomain map[string]string `json:"taskToDomain"`
		Tasks        []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
			Domain string `json:"domain"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(resp), &got); err != nil {
		t.Fatal(err)
	}
	domain := got.TaskToDomain["*"]
	if domain == "" || len(got.Tasks) != 2 || got.Tasks[1].Domain != domain || got.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("answer: %s", resp)
	}
	a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	if code, _, body := b.do(t, "PUT", "/api/workflow/decide/"+got.WorkflowID, ""); code != http.StatusOK {
		t.Fatalf("decide on another server: %d %s", code, body)
	}
	if _, _, polled := b.do(t, "GET", "/api/tasks/poll/batch/task2?count=1&timeout=500", ""); polled != "[]" {
		t.Fatalf("a worker without the test's domain polled its task: %s", polled)
	}
	if _, _, polled := b.do(t, "GET", "/api/tasks/poll/batch/task2?count=1&timeout=500&domain="+domain, ""); polled != "[]" {
		t.Fatalf("the resumed test run offered its waiting task to a worker of its domain: %s", polled)
	}
	code, _, resp = b.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
	if err := json.Unmarshal([]byte(resp), &got); code != http.StatusOK || err != nil {
		t.Fatalf("%d %s", code, resp)
	}
	if len(got.Tasks) != 2 || got.Tasks[1].Domain != domain || got.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("resumed run: %s", resp)
	}
}

// TestWorkflowTestAPIFailureWorkflow: a mocked FAILED fails the test run as
// a worker's failure would; its failureWorkflow starts with the failed
// run's taskToDomain (Conductor's handleWorkflowFailure), so its worker
// tasks are in the test's domain too, out of workers' reach.
func TestWorkflowTestAPIFailureWorkflow(t *testing.T) {
	ts := newConductorServer(t, nil)
	const onFail = `{"name":"on_test_fail","version":1,"schemaVersion":2,"tasks":[{"name":"compensate","taskReferenceName":"compensate","type":"SIMPLE"}]}`
	if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", onFail); code != http.StatusOK {
		t.Fatalf("register: %d %s", code, body)
	}
	req := `{"name":"fails","workflowDef":{"name":"fails","version":1,"schemaVersion":2,"failureWorkflow":"on_test_fail",
	  "tasks":[{"name":"a","taskReferenceName":"a","type":"SIMPLE","retryCount":0}]},
	  "taskRefToMockOutput":{"a":[{"status":"FAILED","output":{"why":"mocked"}}]}}`
	code, _, resp := ts.do(t, "POST", "/api/workflow/test", req)
	var got struct {
		Status       string            `json:"status"`
		Output       map[string]any    `json:"output"`
		TaskToDomain map[string]string `json:"taskToDomain"`
	}
	if err := json.Unmarshal([]byte(resp), &got); err != nil || code != http.StatusOK || got.Status != "FAILED" {
		t.Fatalf("%d %s", code, resp)
	}
	failID, _ := got.Output["conductor.failure_workflow"].(string)
	var fail struct {
		TaskToDomain map[string]string `json:"taskToDomain"`
		Tasks        []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
			Domain string `json:"domain"`
		} `json:"tasks"`
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, view := ts.do(t, "GET", "/api/workflow/"+failID, "")
		fail.Tasks = nil
		if json.Unmarshal([]byte(view), &fail) == nil && len(fail.Tasks) == 1 {
			break
		}
	}
	if len(fail.Tasks) != 1 || fail.TaskToDomain["*"] != got.TaskToDomain["*"] || fail.Tasks[0].Domain != got.TaskToDomain["*"] {
		t.Fatalf("failure run %s: %+v (the test's domain %q)", failID, fail, got.TaskToDomain["*"])
	}
	if _, _, polled := ts.do(t, "GET", "/api/tasks/poll/batch/compensate?count=1&timeout=300", ""); polled != "[]" {
		t.Fatalf("a worker polled the failure run's task: %s", polled)
	}
}

// TestWorkflowTestAPIAnswersItsLastPass: the answer is the run as the pass
// that stopped the test found it: the HTTP task without a mock SCHEDULED,
// not yet called. After the answer it runs for real (Conductor's system
// task worker runs it: system tasks are not in the test's domain) and the
// run goes on to its end.
func TestWorkflowTestAPIAnswersItsLastPass(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	defer real.Close()
	defer close(release)
	ts := newConductorServer(t, nil)
	body := `{"name":"passes","workflowDef":{"name":"passes","version":1,"schemaVersion":2,"tasks":[
	  {"name":"first","taskReferenceName":"first","type":"SIMPLE"},
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + real.URL + `","method":"GET"}}}]},
	  "taskRefToMockOutput":{"first":[{"output":{"n":1}}]}}`
	code, _, resp := ts.do(t, "POST", "/api/workflow/test", body)
	if code != http.StatusOK {
		t.Fatalf("POST /api/workflow/test: %d %s", code, resp)
	}
	got := decodeAnswer(t, resp)
	if got.Status != "RUNNING" || got.list() != "first:first:COMPLETED call:HTTP:SCHEDULED" {
		t.Fatalf("answer: %s %s", got.Status, got.list())
	}
	var now testAnswer
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && hits.Load() == 0; time.Sleep(10 * time.Millisecond) {
	}
	_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
	if now = decodeAnswer(t, view); hits.Load() != 1 || now.list() != "first:first:COMPLETED call:HTTP:IN_PROGRESS" {
		t.Fatalf("after the answer: %d calls, %s", hits.Load(), now.list())
	}
	release <- struct{}{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
		if now = decodeAnswer(t, view); now.Status != "RUNNING" {
			break
		}
	}
	if now.Status != "COMPLETED" || now.list() != "first:first:COMPLETED call:HTTP:COMPLETED" {
		t.Fatalf("at the end: %s %s", now.Status, now.list())
	}
}

// TestWorkflowTestAPIMaskedWhenItStops: the answer of a test that stops in
// a pass (taken from the run as that pass found it) is masked as GET's is;
// the mocks part stored again when the test stops holds no value in clear.
func TestWorkflowTestAPIMaskedWhenItStops(t *testing.T) {
	const (
		resolved = "resolved-SECRET-7d1e02aa"
		mocked   = "mocked-SECRET-b93f6c10"
	)
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", resolved)
	req := `{"name":"masked_stop","workflowDef":{"name":"masked_stop","version":1,"schemaVersion":2,"tasks":[
	    {"name":"auth","taskReferenceName":"auth","type":"SIMPLE","inputParameters":{"key":"${workflow.secrets.api_key}"}},
	    {"name":"after","taskReferenceName":"after","type":"SIMPLE","inputParameters":{"tok":"${auth.output._secrets.token}","echo":"${auth.output.echo}"}}]},
	  "taskRefToMockOutput":{"auth":[{"output":{"_secrets":{"token":"` + mocked + `"},"echo":"key ` + resolved + ` token ` + mocked + `"}}]}}`
	code, _, resp := ts.do(t, "POST", "/api/workflow/test", req)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, resp)
	}
	got := decodeAnswer(t, resp)
	if got.Status != "RUNNING" || got.list() != "auth:auth:COMPLETED after:after:SCHEDULED" {
		t.Fatalf("answer: %s %s", got.Status, got.list())
	}
	if got.Tasks[0].Output["_secrets"] != "***" || got.Tasks[0].Output["echo"] != "key *** token ***" {
		t.Errorf("auth's output in the answer: %v", got.Tasks[0].Output)
	}
	_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
	stored, _, err := ts.runs.Load(context.Background(), got.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"answer": resp, "GET": view, "stored run": string(stored)} {
		for _, v := range []string{resolved, mocked, mocked[7:17]} {
			if strings.Contains(text, v) {
				t.Errorf("the %s holds %q", what, v)
			}
		}
	}
	ts.assertNoLeak(t, resolved, mocked)
}
