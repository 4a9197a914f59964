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

	// Busy goroutines, one per CPU: the run's goroutine competes for the
	// machine with them, as on a loaded host.
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
	defer func() { close(stop); wg.Wait() }()

	start := func(t *testing.T, name string) string {
		t.Helper()
		code, _, id := ts.do(t, "POST", "/api/workflow/"+name, `{}`)
		if code != 200 || id == "" {
			t.Fatalf("start %s: %d %s", name, code, id)
		}
		return id
	}
	pollOnce := func(t *testing.T, taskType string) []map[string]any {
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
