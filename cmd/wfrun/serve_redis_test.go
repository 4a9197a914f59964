package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/internal/testkit"
)

// TestServeTwoProcessesTakeOver: two `wfrun serve` processes share one
// Redis (secrets and runs) and one definitions directory. Runs started on
// the first are killed with it (SIGKILL) in the middle of a WAIT; the second
// takes them over once their leases are dead and finishes them, with the
// secret the first resolved still masked.
func TestServeTwoProcessesTakeOver(t *testing.T) {
	cliEnv(t)
	url := "redis://" + redistest.Start(t) + "/0"
	t.Setenv("WFRUN_STORE", url)
	const value = "shared-redis-secret-8080"
	if _, errOut, code := wfrun(t, "", "secret", "set", "shared_key", "--value", value); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	defs := filepath.Join(t.TempDir(), "defs")
	start := func(name string) (string, func()) { return startTakeoverServe(t, name, defs) }
	a, killA := start("A")
	b, _ := start("B")

	def := `{"name":"long_run","version":1,"schemaVersion":2,"tasks":[
	  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'token ' + $.k","k":"${workflow.secrets.shared_key}"}},
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"2 seconds"}},
	  {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"$.n * 2","n":"${workflow.input.n}"}}],
	  "outputParameters":{"doubled":"${after.output.result}","used":"${use.output.result}"}}`
	if st, body := testkit.HTTPCall(t, "POST", a+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var ids []string
	for i := range 3 {
		st, id := testkit.HTTPCall(t, "POST", a+"/api/workflow/long_run", `{"n":`+string(rune('1'+i))+`}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		ids = append(ids, id)
	}
	// Wait until every run is in its WAIT, then kill A.
	for _, id := range ids {
		for deadline := time.Now().Add(10 * time.Second); ; {
			_, body := testkit.HTTPCall(t, "GET", a+"/api/workflow/"+id, "")
			if strings.Contains(body, `"referenceTaskName":"pause"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never reached its WAIT: %s", id, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	killA()
	for i, id := range ids {
		var body string
		for deadline := time.Now().Add(30 * time.Second); ; {
			_, body = testkit.HTTPCall(t, "GET", b+"/api/workflow/"+id, "")
			if !strings.Contains(body, `"status":"RUNNING"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var wf struct {
			Status string         `json:"status"`
			Output map[string]any `json:"output"`
			Tasks  []struct {
				Ref    string `json:"referenceTaskName"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(body), &wf); err != nil || wf.Status != "COMPLETED" || wf.Output["doubled"] != float64(2*(i+1)) {
			t.Fatalf("run %s after A died: %s", id, body)
		}
		if wf.Output["used"] != "token ***" {
			t.Errorf("run %s: used = %v, want the secret masked", id, wf.Output["used"])
		}
		// "use" ran once, on A: the takeover did not run it again.
		n := 0
		for _, tk := range wf.Tasks {
			if tk.Ref == "use" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("run %s: task use has %d records, want 1", id, n)
		}
		if strings.Contains(body, value) {
			t.Errorf("run %s shows the secret value", id)
		}
	}
}

// TestServeSharedQueueSurvivesKill: two `wfrun serve` processes on one
// Redis share the tasks waiting for workers. Two runs started on A wait
// for a worker; A is killed (SIGKILL). Only the process executing a run
// resolves its task's values for a worker (at the poll), so a worker
// polling B gets the tasks once B has taken the runs over: each task
// exactly once. Both answers, given to B, complete their runs with one
// record of the task each.
func TestServeSharedQueueSurvivesKill(t *testing.T) {
	cliEnv(t)
	url := "redis://" + redistest.Start(t) + "/0"
	t.Setenv("WFRUN_STORE", url)
	defs := filepath.Join(t.TempDir(), "defs")
	start := func(name string) (string, func()) { return startTakeoverServe(t, name, defs) }
	a, killA := start("A")
	b, _ := start("B")
	def := `{"name":"worker_run","version":1,"schemaVersion":2,"tasks":[
	  {"name":"shared_task","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"n":"${workflow.input.n}"}}],
	  "outputParameters":{"r":"${work.output.r}"}}`
	if st, body := testkit.HTTPCall(t, "POST", a+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var ids []string
	for i := range 2 {
		st, id := testkit.HTTPCall(t, "POST", a+"/api/workflow/worker_run", `{"n":`+string(rune('1'+i))+`}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, body := testkit.HTTPCall(t, "GET", a+"/api/workflow/"+id, ""); strings.Contains(body, `"status":"SCHEDULED"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never offered its task", id)
			}
		}
	}
	killA()
	type polled struct {
		TaskID string `json:"taskId"`
		RunID  string `json:"workflowInstanceId"`
	}
	poll := func(count int) []polled {
		t.Helper()
		_, body := testkit.HTTPCall(t, "GET", b+"/api/tasks/poll/batch/shared_task?workerid=w&timeout=300&count="+string(rune('0'+count)), "")
		var got []polled
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
		return got
	}
	// Until well after the takeover (lease 2s), each task is handed out once.
	var got []polled
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); {
		got = append(got, poll(5)...)
	}
	if len(got) != 2 || got[0].RunID == got[1].RunID {
		t.Fatalf("B handed out %v; want each run's task once", got)
	}
	for _, p := range got {
		upd, _ := json.Marshal(map[string]any{"taskId": p.TaskID, "workflowInstanceId": p.RunID, "status": "COMPLETED",
			"outputData": map[string]any{"r": "done " + p.RunID}})
		if st, body := testkit.HTTPCall(t, "POST", b+"/api/tasks", string(upd)); st != 200 {
			t.Fatalf("answer to B: %d %s", st, body)
		}
	}
	for _, id := range ids {
		var body string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, body = testkit.HTTPCall(t, "GET", b+"/api/workflow/"+id, "")
			if !strings.Contains(body, `"status":"RUNNING"`) || time.Now().After(deadline) {
				break
			}
		}
		var wf struct {
			Status string         `json:"status"`
			Output map[string]any `json:"output"`
			Tasks  []struct {
				Ref string `json:"referenceTaskName"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(body), &wf); err != nil || wf.Status != "COMPLETED" || wf.Output["r"] != "done "+id || len(wf.Tasks) != 1 {
			t.Fatalf("run %s after A died: %s", id, body)
		}
	}
}

// startTakeoverServe starts a `wfrun serve` process (named name in
// failures) on the configured store that takes over orphaned runs within
// 200ms of a 2s lease running out; it returns its base URL and a kill -9.
func startTakeoverServe(t *testing.T, name, defs string) (string, func()) {
	t.Helper()
	cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--definitions", defs,
		"--takeover", "200ms", "--lease-ttl", "2s")
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
	if m == nil {
		t.Fatalf("%s did not start:\n%s", name, log.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return "http://" + m[1], func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

// TestServeHandOffSurvivesOwnerKill: two `wfrun serve` processes on one
// Redis. A run started on A offers a SIMPLE task that reads a secret; a
// worker polls B, and A resolves the secret for that poll (registering it
// with the run's masker) and stores the task IN_PROGRESS. The secret is
// rotated again and A is killed; B takes the run over and takes the
// worker's answer, which echoes the value handed off: the run B completes
// has it masked (the run's stored masker journal holds it).
func TestServeHandOffSurvivesOwnerKill(t *testing.T) {
	cliEnv(t)
	url := "redis://" + redistest.Start(t) + "/0"
	t.Setenv("WFRUN_STORE", url)
	const value = "handoff-secret-Rb6Tn2Wq"
	if _, errOut, code := wfrun(t, "", "secret", "set", "poll_tok", "--value", value); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	defs := filepath.Join(t.TempDir(), "defs")
	a, killA := startTakeoverServe(t, "A", defs)
	b, _ := startTakeoverServe(t, "B", defs)
	def := `{"name":"handoff_run","version":1,"schemaVersion":2,"tasks":[
	  {"name":"handoff_task","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"auth":"Bearer ${workflow.secrets.poll_tok}"}}],
	  "outputParameters":{"echo":"${work.output.echo}"}}`
	if st, body := testkit.HTTPCall(t, "POST", a+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, id := testkit.HTTPCall(t, "POST", a+"/api/workflow/handoff_run", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	var got []struct {
		TaskID string         `json:"taskId"`
		RunID  string         `json:"workflowInstanceId"`
		Input  map[string]any `json:"inputData"`
	}
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		_, body := testkit.HTTPCall(t, "GET", b+"/api/tasks/poll/batch/handoff_task?workerid=w&timeout=300&count=1", "")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
	}
	if len(got) != 1 || got[0].RunID != id || got[0].Input["auth"] != "Bearer "+value {
		t.Fatalf("poll on B: %+v", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// B reads the run from the store: A stored the poll.
		if _, body := testkit.HTTPCall(t, "GET", b+"/api/workflow/"+id, ""); strings.Contains(body, `"status":"IN_PROGRESS"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A never stored the task IN_PROGRESS")
		}
	}
	// Rotated again after the hand-off: the process that takes the run over
	// reads the newer value, and masks the one handed off from what A
	// stored with the run.
	const newer = "handoff-secret-Yc8Km3Ph"
	if _, errOut, code := wfrun(t, "", "secret", "set", "poll_tok", "--value", newer); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	killA()
	upd, _ := json.Marshal(map[string]any{"taskId": got[0].TaskID, "workflowInstanceId": id, "status": "COMPLETED",
		"outputData": map[string]any{"echo": "used " + value}})
	if st, body := testkit.HTTPCall(t, "POST", b+"/api/tasks", string(upd)); st != 200 {
		t.Fatalf("answer to B: %d %s", st, body)
	}
	var body string
	completed := func() bool {
		var wf struct{ Status string }
		return json.Unmarshal([]byte(body), &wf) == nil && wf.Status == "COMPLETED"
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body = testkit.HTTPCall(t, "GET", b+"/api/workflow/"+id, "")
		if completed() || time.Now().After(deadline) {
			break
		}
	}
	if !completed() || !strings.Contains(body, `"echo":"used ***"`) || strings.Contains(body, value) {
		t.Fatalf("run after A died: want COMPLETED with the echo masked:\n%s", body)
	}
}
