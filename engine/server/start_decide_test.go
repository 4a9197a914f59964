package server_test

import (
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestStartAnswersAfterFirstDecision: as Conductor's start
// (WorkflowExecutor.startWorkflow decides before it returns), `wfrun
// serve` answers a start once the run's first tasks are scheduled and its
// worker tasks offered to pollers, so ONE poll sent right after the start,
// with no wait (timeout 0), hands out the task — every time, while other
// goroutines keep the machine busy. A run whose first task is a WAIT
// answers at once (the start does not wait for the WAIT).
func TestStartAnswersAfterFirstDecision(t *testing.T) {
	ts := newConductorServer(t, nil)
	defs := []string{
		`{"name":"sd_worker","version":1,"schemaVersion":2,"tasks":[
			{"name":"sd_task_1","taskReferenceName":"w","type":"SIMPLE"}]}`,
		`{"name":"sd_inline","version":1,"schemaVersion":2,"tasks":[
			{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1+1"}},
			{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"x":"${i.output.result}"}},
			{"name":"sd_task_2","taskReferenceName":"w","type":"SIMPLE"}]}`,
		`{"name":"sd_fork","version":1,"schemaVersion":2,"tasks":[
			{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
				[{"name":"sd_task_3","taskReferenceName":"a","type":"SIMPLE"}],
				[{"name":"sd_task_3","taskReferenceName":"b","type":"SIMPLE"}],
				[{"name":"sd_task_3","taskReferenceName":"c","type":"SIMPLE"}]]},
			{"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["a","b","c"]}]}`,
		`{"name":"sd_wait","version":1,"schemaVersion":2,"tasks":[
			{"name":"wait","taskReferenceName":"wait","type":"WAIT"},
			{"name":"sd_task_4","taskReferenceName":"w","type":"SIMPLE"}]}`,
	}
	for _, d := range defs {
		if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", d); code != 200 {
			t.Fatalf("register: %d %s", code, body)
		}
	}

	busyCPUs(t)
	start := func(t *testing.T, name string) string { return startRun(t, ts, name) }
	pollOnce := func(t *testing.T, taskType string) []map[string]any { return pollOnce(t, ts, taskType) }
	terminate := func(t *testing.T, id string) {
		t.Helper()
		if code, _, body := ts.do(t, "DELETE", "/api/workflow/"+id+"?reason=done", ""); code != 200 {
			t.Fatalf("terminate %s: %d %s", id, code, body)
		}
	}

	cases := []struct {
		name   string
		def    string
		rounds int
		task   string
		tasks  int // worker tasks the first decision offers
	}{
		{"first task a worker task", "sd_worker", 200, "sd_task_1", 1},
		{"synchronous tasks before the worker task", "sd_inline", 50, "sd_task_2", 1},
		{"fork of worker tasks", "sd_fork", 50, "sd_task_3", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.rounds {
				id := start(t, tc.def)
				got := pollOnce(t, tc.task)
				if len(got) != tc.tasks {
					t.Fatalf("round %d: one poll at once after the start got %d tasks, want %d: %v", i, len(got), tc.tasks, got)
				}
				for _, tk := range got {
					if tk["workflowInstanceId"] != id {
						t.Fatalf("round %d: polled a task of run %v, want %s", i, tk["workflowInstanceId"], id)
					}
				}
				terminate(t, id)
			}
		})
	}

	t.Run("first task a WAIT", func(t *testing.T) {
		began := time.Now()
		id := start(t, "sd_wait")
		if took := time.Since(began); took > 2*time.Second {
			t.Fatalf("the start waited %s for a WAIT", took)
		}
		code, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		var wf struct {
			Status string `json:"status"`
			Tasks  []struct {
				Type   string `json:"taskType"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &wf) != nil {
			t.Fatalf("get run: %d %s", code, body)
		}
		if wf.Status != "RUNNING" || len(wf.Tasks) != 1 || wf.Tasks[0].Type != "WAIT" || wf.Tasks[0].Status != "IN_PROGRESS" {
			t.Fatalf("run after the start: %s", body)
		}
		if got := pollOnce(t, "sd_task_4"); len(got) != 0 {
			t.Fatalf("a worker task was handed out while the WAIT waits: %v", got)
		}
		terminate(t, id)
	})
}

// busyCPUs keeps one busy goroutine per CPU until the test ends: a run's
// goroutine competes for the machine with them, as on a loaded host.
func busyCPUs(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// startRun starts a run of the registered workflow name.
func startRun(t *testing.T, ts *conductorServer, name string) string {
	t.Helper()
	code, _, id := ts.do(t, "POST", "/api/workflow/"+name, `{}`)
	if code != 200 || id == "" {
		t.Fatalf("start %s: %d %s", name, code, id)
	}
	return id
}

// pollOnce is one batch poll of taskType that does not wait (timeout 0).
func pollOnce(t *testing.T, ts *conductorServer, taskType string) []map[string]any {
	t.Helper()
	code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+taskType+"?workerid=w1&count=10&timeout=0", "")
	if code != 200 {
		t.Fatalf("poll: %d %s", code, body)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("poll answer %q: %v", body, err)
	}
	return got
}

// TestRestartRetryRerunResumeAnswerAfterDecision: Conductor decides within
// restart, retry, rerun and resume (WorkflowExecutor's restart, retry,
// rerun and resumeWorkflow decide before they return), so ONE poll sent
// right after the call, with no wait, hands out the run's next worker task
// — every time, while other goroutines keep the machine busy.
func TestRestartRetryRerunResumeAnswerAfterDecision(t *testing.T) {
	const slowJS = "(function(){var s=0;for(var i=0;i<20000;i++){s+=i};return s})()"
	ts := newConductorServer(t, nil)
	// One workflow a case (its own task names): synchronous tasks before
	// each worker task, a script that loops a while among them, so the
	// decision that offers the worker task takes a while.
	for _, c := range []string{"restart", "retry", "rerun", "resume"} {
		def := `{"name":"sd_` + c + `","version":1,"schemaVersion":2,"tasks":[
		{"name":"i1","taskReferenceName":"i1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"` + slowJS + `"}},
		{"name":"v1","taskReferenceName":"v1","type":"SET_VARIABLE","inputParameters":{"x":"${i1.output.result}"}},
		{"name":"sd_` + c + `_a","taskReferenceName":"a","type":"SIMPLE"},
		{"name":"i2","taskReferenceName":"i2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"` + slowJS + `"}},
		{"name":"v2","taskReferenceName":"v2","type":"SET_VARIABLE","inputParameters":{"y":"${i2.output.result}"}},
		{"name":"sd_` + c + `_b","taskReferenceName":"b","type":"SIMPLE"}]}`
		if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); code != 200 {
			t.Fatalf("register: %d %s", code, body)
		}
	}
	busyCPUs(t)

	// work polls taskType (waiting for it) and answers status.
	work := func(t *testing.T, taskType, status string) {
		t.Helper()
		code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+taskType+"?workerid=w1&count=1&timeout=5000", "")
		var got []map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || len(got) != 1 {
			t.Fatalf("poll %s: %d %s", taskType, code, body)
		}
		res, _ := json.Marshal(map[string]any{"workflowInstanceId": got[0]["workflowInstanceId"], "taskId": got[0]["taskId"],
			"status": status, "outputData": map[string]any{}})
		if code, _, body := ts.do(t, "POST", "/api/tasks", string(res)); code != 200 {
			t.Fatalf("update %s: %d %s", taskType, code, body)
		}
	}
	call := func(t *testing.T, method, path, body string) {
		t.Helper()
		if code, _, out := ts.do(t, method, path, body); code/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, code, out)
		}
	}
	ended := func(t *testing.T, id, status string) runDoc {
		t.Helper()
		return ts.waitRun(t, id, status, func(d runDoc) bool { return d.Status == status })
	}
	completed := func(t *testing.T, id, wf string) runDoc {
		t.Helper()
		work(t, wf+"_a", "COMPLETED")
		work(t, wf+"_b", "COMPLETED")
		return ended(t, id, "COMPLETED")
	}
	cases := []struct {
		name string
		// call brings run id of workflow wf to where the call is made, makes
		// it and returns the worker task the call's decision offers.
		call func(t *testing.T, id, wf string) string
	}{
		{"restart", func(t *testing.T, id, wf string) string {
			completed(t, id, wf)
			call(t, "POST", "/api/workflow/"+id+"/restart", "")
			return wf + "_a"
		}},
		{"retry", func(t *testing.T, id, wf string) string {
			work(t, wf+"_a", "FAILED_WITH_TERMINAL_ERROR")
			ended(t, id, "FAILED")
			call(t, "POST", "/api/workflow/"+id+"/retry", "")
			return wf + "_a"
		}},
		{"rerun", func(t *testing.T, id, wf string) string {
			d := completed(t, id, wf)
			call(t, "POST", "/api/workflow/"+id+"/rerun", `{"reRunFromTaskId":"`+d.Tasks[3].TaskID+`"}`)
			return wf + "_b"
		}},
		{"resume", func(t *testing.T, id, wf string) string {
			call(t, "PUT", "/api/workflow/"+id+"/pause", "")
			work(t, wf+"_a", "COMPLETED")
			ts.waitRun(t, id, "task a COMPLETED", func(d runDoc) bool { return len(d.Tasks) == 3 && d.Tasks[2].Status == "COMPLETED" })
			call(t, "PUT", "/api/workflow/"+id+"/resume", "")
			return wf + "_b"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 5 {
				wf := "sd_" + tc.name
				id := startRun(t, ts, wf)
				task := tc.call(t, id, wf)
				if got := pollOnce(t, ts, task); len(got) != 1 || got[0]["workflowInstanceId"] != id {
					t.Fatalf("round %d: one poll at once after the %s got %v, want %s's task of run %s", i, tc.name, got, task, id)
				}
				call(t, "DELETE", "/api/workflow/"+id+"?reason=done", "")
			}
		})
	}
}
