package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
	"github.com/conductor-sdk/conductor-go/sdk/worker"
)

func newRunner(t *testing.T, url string) *worker.TaskRunner {
	t.Helper()
	return worker.NewTaskRunnerWithApiClient(client.NewAPIClient(nil, settings.NewHttpSettings(url+"/api")))
}

// taskFlow is a one-task workflow: a SIMPLE task of type taskType.
func taskFlow(name, taskType string) model.WorkflowDef {
	return model.WorkflowDef{Name: name, Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{
		{Name: taskType, TaskReferenceName: "t", Type_: "SIMPLE", InputParameters: map[string]any{"n": "${workflow.input.n}"}},
	}}
}

// sdkClients are the Conductor Go SDK's clients of a server.
type sdkClients struct {
	meta  client.MetadataClient
	wf    client.WorkflowClient
	tasks client.TaskClient
}

func newSDK(t *testing.T, url string, defs ...model.WorkflowDef) sdkClients {
	t.Helper()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(url+"/api"))
	c := sdkClients{meta: client.NewMetadataClient(api), wf: client.NewWorkflowClient(api), tasks: client.NewTaskClient(api)}
	for _, d := range defs {
		if resp, err := c.meta.RegisterWorkflowDef(context.Background(), true, d); err != nil {
			t.Fatalf("RegisterWorkflowDef %s: %v (status %d)", d.Name, err, status(resp))
		}
	}
	return c
}

func (c sdkClients) start(t *testing.T, req model.StartWorkflowRequest) string {
	t.Helper()
	id, resp, err := c.wf.StartWorkflowWithRequest(context.Background(), req)
	if err != nil || id == "" {
		t.Fatalf("start %s: %q %v (status %d)", req.Name, id, err, status(resp))
	}
	return id
}

// poll batch-polls taskType in domain ("" none) for up to wait.
func (c sdkClients) poll(t *testing.T, taskType, domain string, count int, wait time.Duration) []model.Task {
	t.Helper()
	opts := &client.TaskResourceApiBatchPollOpts{Workerid: optional.NewString("w1"), Count: optional.NewInt32(int32(count)),
		Timeout: optional.NewInt32(int32(wait / time.Millisecond))}
	if domain != "" {
		opts.Domain = optional.NewString(domain)
	}
	got, resp, err := c.tasks.BatchPoll(context.Background(), taskType, opts)
	if err != nil {
		t.Fatalf("BatchPoll %s domain %q: %v (status %d)", taskType, domain, err, status(resp))
	}
	return got
}

func (c sdkClients) size(t *testing.T, queue string) int {
	t.Helper()
	got, resp, err := c.tasks.Size(context.Background(), &client.TaskResourceApiSizeOpts{TaskType: optional.NewInterface([]string{queue})})
	if err != nil {
		t.Fatalf("Size %s: %v (status %d)", queue, err, status(resp))
	}
	return int(got[queue])
}

// waitSize waits until queue holds n tasks.
func (c sdkClients) waitSize(t *testing.T, queue string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.size(t, queue) != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue %s holds %d tasks, want %d", queue, c.size(t, queue), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c sdkClients) workflow(t *testing.T, id string) model.Workflow {
	t.Helper()
	wf, resp, err := c.wf.GetExecutionStatus(context.Background(), id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
	if err != nil {
		t.Fatalf("GetWorkflow %s: %v (status %d)", id, err, status(resp))
	}
	return wf
}

func (c sdkClients) complete(t *testing.T, task model.Task) {
	t.Helper()
	_, resp, err := c.tasks.UpdateTask(context.Background(), &model.TaskResult{WorkflowInstanceId: task.WorkflowInstanceId,
		TaskId: task.TaskId, Status: "COMPLETED", OutputData: map[string]any{"done": true}})
	if err != nil {
		t.Fatalf("UpdateTask: %v (status %d)", err, status(resp))
	}
}

// TestTaskQueueSizes: GET /api/tasks/queue/sizes answers, through the Go
// SDK's TaskClient.Size, how many tasks wait for a poll in each queue named
// (a domain's queue as "domain:type"), /queue/size one queue's, /queue/all
// every non-empty queue's; a request naming no queue is a 400.
func TestTaskQueueSizes(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("sized_flow", "sized_task"))
	for i := range 3 {
		c.start(t, model.StartWorkflowRequest{Name: "sized_flow", Version: 1, Input: map[string]any{"n": i}})
	}
	c.start(t, model.StartWorkflowRequest{Name: "sized_flow", Version: 1, TaskToDomain: map[string]string{"sized_task": "d1"}})
	c.waitSize(t, "sized_task", 3)
	c.waitSize(t, "d1:sized_task", 1)
	polled := c.poll(t, "sized_task", "", 1, time.Second)
	if len(polled) != 1 {
		t.Fatalf("poll got %d tasks", len(polled))
	}
	if n := c.size(t, "sized_task"); n != 2 {
		t.Errorf("size after a poll = %d, want 2", n)
	}
	// Put back IN_PROGRESS for an hour: in the queue again (postponed),
	// as Conductor counts it; completed: gone.
	inProgress(t, c, polled[0], 3600)
	if n := c.size(t, "sized_task"); n != 3 {
		t.Errorf("size with a task waiting for its callback = %d, want 3", n)
	}
	c.complete(t, polled[0])
	c.waitSize(t, "sized_task", 2)
	if n := c.size(t, "no_such_task"); n != 0 {
		t.Errorf("size of an unknown queue = %d, want 0", n)
	}
	all, _, err := c.tasks.All(context.Background())
	if err != nil || all["sized_task"] != 2 || all["d1:sized_task"] != 1 || len(all) != 2 {
		t.Errorf("queue/all = %v, %v", all, err)
	}
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/tasks/queue/sizes?taskType=sized_task&taskType=d1:sized_task", 200, `{"d1:sized_task":1,"sized_task":2}`},
		{"/api/tasks/queue/sizes?taskType=sized_task,other", 200, `{"other":0,"sized_task":2}`},
		{"/api/tasks/queue/size?taskType=sized_task", 200, `2`},
		{"/api/tasks/queue/size?taskType=sized_task&domain=d1", 200, `1`},
		{"/api/tasks/queue/size?taskType=sized_task&domain=d1&isolationGroupId=g", 200, `0`},
		{"/api/tasks/queue/sizes", 400, "taskType is required"},
		{"/api/tasks/queue/size", 400, "taskType is required"},
	} {
		st, ct, body := ts.do(t, "GET", tc.path, "")
		if st != tc.status || !strings.Contains(body, tc.body) || !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s = %d %s %s; want %d %s", tc.path, st, ct, body, tc.status, tc.body)
		}
	}
}

// TestTaskToDomain: a run's taskToDomain puts its worker tasks in their
// domain's queue, as Conductor's WorkflowExecutor does: a poll with that
// domain gets them (the task shows its domain), a poll without one or with
// another gets nothing; "*" maps every worker task; in a list
// "d1,d2,NO_DOMAIN" the first domain where a worker polled within the
// last 10 s wins, else the last of the list (NO_DOMAIN: none); a task
// type's own entry overrides "*". The run shows its taskToDomain, and each
// task record its domain.
func TestTaskToDomain(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("dom_flow", "dom_task"), taskFlow("other_flow", "other_task"))
	for _, tc := range []struct {
		name       string
		m          map[string]string
		warm       string // a domain a worker polled just before the start
		flow, task string
		want       string // the domain the task is queued in
	}{
		{"own entry", map[string]string{"dom_task": "blue"}, "", "dom_flow", "dom_task", "blue"},
		{"star", map[string]string{"*": "green"}, "", "dom_flow", "dom_task", "green"},
		{"own entry overrides star", map[string]string{"*": "green", "dom_task": "blue"}, "", "dom_flow", "dom_task", "blue"},
		{"other types keep star", map[string]string{"*": "green", "dom_task": "blue"}, "", "other_flow", "other_task", "green"},
		{"no active worker: the last", map[string]string{"dom_task": "alpha,beta"}, "", "dom_flow", "dom_task", "beta"},
		{"no active worker: NO_DOMAIN", map[string]string{"dom_task": "alpha,beta,NO_DOMAIN"}, "", "dom_flow", "dom_task", ""},
		{"active worker", map[string]string{"dom_task": "alpha,beta,NO_DOMAIN"}, "beta", "dom_flow", "dom_task", "beta"},
		{"first active worker", map[string]string{"dom_task": "alpha,beta,NO_DOMAIN"}, "alpha", "dom_flow", "dom_task", "alpha"},
		{"unmapped type", map[string]string{"dom_task": "blue"}, "", "other_flow", "other_task", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Domains of their own: a poll in an earlier case made its
			// domains active for 10 s.
			n := strings.NewReplacer(" ", "_", ":", "").Replace(tc.name)
			sfx := strings.NewReplacer("alpha", "alpha-"+n, "beta", "beta-"+n, "blue", "blue-"+n, "green", "green-"+n)
			m := map[string]string{}
			for k, v := range tc.m {
				m[k] = sfx.Replace(v)
			}
			tc.m, tc.warm, tc.want = m, sfx.Replace(tc.warm), sfx.Replace(tc.want)
			if tc.warm != "" {
				c.poll(t, tc.task, tc.warm, 1, 0) // finds nothing: the domain has a worker now
			}
			id := c.start(t, model.StartWorkflowRequest{Name: tc.flow, Version: 1, TaskToDomain: tc.m})
			c.waitSize(t, queueOf(tc.task, tc.want), 1)
			for _, other := range []string{"", "elsewhere"} {
				if other == tc.want {
					continue
				}
				if got := c.poll(t, tc.task, other, 1, 0); len(got) != 0 {
					t.Fatalf("a poll in domain %q got %+v", other, got)
				}
			}
			got := c.poll(t, tc.task, tc.want, 1, time.Second)
			if len(got) != 1 || got[0].WorkflowInstanceId != id || got[0].Domain != tc.want {
				t.Fatalf("poll in domain %q = %+v", tc.want, got)
			}
			wf := c.workflow(t, id)
			if len(wf.Tasks) != 1 || wf.Tasks[0].Domain != tc.want || fmt.Sprint(wf.TaskToDomain) != fmt.Sprint(tc.m) {
				t.Errorf("run: taskToDomain %v, tasks %+v", wf.TaskToDomain, wf.Tasks)
			}
			c.complete(t, got[0])
			if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
				t.Errorf("run %s", st.Status)
			}
		})
	}
	// A SDK worker polling its domain runs the domain's tasks.
	runner := newRunner(t, ts.URL)
	if err := runner.StartWorkerWithDomain("dom_task", func(task *model.Task) (any, error) {
		return map[string]any{"domain": task.Domain}, nil
	}, 1, 10*time.Millisecond, "purple"); err != nil {
		t.Fatal(err)
	}
	defer runner.Shutdown("dom_task")
	id := c.start(t, model.StartWorkflowRequest{Name: "dom_flow", Version: 1, TaskToDomain: map[string]string{"dom_task": "purple"}})
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run with a domain worker: %s", st.Status)
	}
	if out := c.workflow(t, id).Tasks[0].OutputData; out["domain"] != "purple" {
		t.Errorf("worker output %v", out)
	}
}

func queueOf(taskType, domain string) string {
	if domain == "" {
		return taskType
	}
	return domain + ":" + taskType
}

// TestPriorityOrdersTheQueue: tasks of runs with a priority are handed out
// first, as Conductor's Redis queue orders them — priority 1 before 5
// before 99, runs without a priority (0) last, first come first out within
// a priority —, and the run shows its priority. A priority outside 0-99
// is a 400.
func TestPriorityOrdersTheQueue(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("prio_flow", "prio_task"))
	prios := []int32{0, 5, 1, 99, 5, 0}
	ids := make([]string, len(prios))
	for i, p := range prios {
		ids[i] = c.start(t, model.StartWorkflowRequest{Name: "prio_flow", Version: 1, Priority: p, Input: map[string]any{"n": i}})
		c.waitSize(t, "prio_task", i+1) // queued in start order
	}
	got := c.poll(t, "prio_task", "", 10, time.Second)
	want := []string{ids[2], ids[1], ids[4], ids[3], ids[0], ids[5]}
	var order []string
	for _, task := range got {
		order = append(order, task.WorkflowInstanceId)
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("hand-out order %v, want %v", order, want)
	}
	for i, task := range got {
		if want := prios[indexOf(ids, task.WorkflowInstanceId)]; task.WorkflowPriority != want {
			t.Errorf("task %d workflowPriority %d, want %d", i, task.WorkflowPriority, want)
		}
	}
	if wf := c.workflow(t, ids[3]); wf.Priority != 99 {
		t.Errorf("run priority %d, want 99", wf.Priority)
	}
	if _, _, body := ts.do(t, "GET", "/api/workflow/"+ids[0], ""); !strings.Contains(body, `"priority":0`) {
		t.Errorf("a run without a priority shows none: %s", body)
	}
	for _, body := range []string{`{"name":"prio_flow","priority":100}`, `{"name":"prio_flow","priority":-1}`} {
		if st, _, resp := ts.do(t, "POST", "/api/workflow", body); st != 400 || !strings.Contains(resp, "priority") {
			t.Errorf("start %s = %d %s", body, st, resp)
		}
	}
	if st, _, resp := ts.do(t, "POST", "/api/workflow/prio_flow?priority=7", "{}"); st != 200 {
		t.Fatalf("start by name with priority: %d %s", st, resp)
	} else if wf := c.workflow(t, resp); wf.Priority != 7 {
		t.Errorf("priority from the query: %d", wf.Priority)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// TestIdempotentStart: a start with an idempotencyKey another run of the
// same workflow holds is refused with 409 (FAIL, the default, whatever
// that run's status; FAIL_ON_RUNNING while it is RUNNING), or answers that
// run's id (RETURN_EXISTING); FAIL_ON_RUNNING starts anew once the holder
// ended; the key is scoped to the workflow name; of concurrent starts with
// one key exactly one run starts.
func TestIdempotentStart(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("idem_flow", "idem_task"), taskFlow("idem_other", "idem_task"))
	req := func(key, strategy string) model.StartWorkflowRequest {
		return model.StartWorkflowRequest{Name: "idem_flow", Version: 1, IdempotencyKey: key, IdempotencyStrategy: model.IdempotencyStrategy(strategy)}
	}
	startRaw := func(r model.StartWorkflowRequest) (int, string) {
		b, _ := json.Marshal(r)
		st, _, body := ts.do(t, "POST", "/api/workflow", string(b))
		return st, body
	}
	first := c.start(t, req("order-1", "FAIL"))
	for _, strategy := range []string{"", "FAIL", "FAIL_ON_RUNNING"} {
		if st, body := startRaw(req("order-1", strategy)); st != http.StatusConflict || !strings.Contains(body, first) {
			t.Errorf("strategy %q with a running holder: %d %s", strategy, st, body)
		}
	}
	if st, body := startRaw(req("order-1", "RETURN_EXISTING")); st != 200 || body != first {
		t.Errorf("RETURN_EXISTING = %d %q, want %s", st, body, first)
	}
	if other := c.start(t, model.StartWorkflowRequest{Name: "idem_other", Version: 1, IdempotencyKey: "order-1"}); other == first {
		t.Error("a key is scoped to its workflow name")
	}
	if wf := c.workflow(t, first); !strings.Contains(mustJSON(t, ts, first), `"idempotencyKey":"order-1"`) || wf.WorkflowId != first {
		t.Errorf("the run does not show its idempotencyKey")
	}
	if st, body := startRaw(req("order-1", "SOMETIMES")); st != 400 || !strings.Contains(body, "idempotencyStrategy") {
		t.Errorf("unknown strategy: %d %s", st, body)
	}
	// The holder ends: FAIL still refuses, FAIL_ON_RUNNING starts anew. A
	// batch poll answers the tasks queued when its first one is: idem_other's
	// may come without the holder's, so poll (completing what comes) until
	// the holder's task came.
	for deadline, holder := time.Now().Add(10*time.Second), false; !holder; {
		if time.Now().After(deadline) {
			t.Fatalf("the holder's task was not handed out in 10s")
		}
		for _, task := range c.poll(t, "idem_task", "", 10, time.Second) {
			c.complete(t, task)
			holder = holder || task.WorkflowInstanceId == first
		}
	}
	waitStatus(t, c.wf, first, 10*time.Second)
	if st, _ := startRaw(req("order-1", "FAIL")); st != http.StatusConflict {
		t.Errorf("FAIL after the holder completed: %d", st)
	}
	second := c.start(t, req("order-1", "FAIL_ON_RUNNING"))
	if second == first {
		t.Fatal("FAIL_ON_RUNNING after the holder ended returned it")
	}
	if st, body := startRaw(req("order-1", "RETURN_EXISTING")); body != second {
		t.Errorf("RETURN_EXISTING after a takeover = %d %s, want %s", st, body, second)
	}
	// Concurrent starts with one key: one run.
	assertOneRunPerKey(t, []string{ts.URL}, "idem_flow", "race-1")
}

func mustJSON(t *testing.T, ts *conductorServer, id string) string {
	t.Helper()
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	return body
}

// assertOneRunPerKey starts 16 runs of workflow with key at once, spread
// over the servers at urls (RETURN_EXISTING and FAIL alternately): every
// start that succeeds answers the same run, the FAIL ones that lose get
// 409: one run holds the key.
func assertOneRunPerKey(t *testing.T, urls []string, workflow, key string) {
	t.Helper()
	var wg sync.WaitGroup
	results := make([]string, 16)
	statuses := make([]int, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			strategy := "RETURN_EXISTING"
			if i%2 == 1 {
				strategy = "FAIL"
			}
			body := fmt.Sprintf(`{"name":%q,"idempotencyKey":%q,"idempotencyStrategy":%q}`, workflow, key, strategy)
			resp, err := http.Post(urls[i%len(urls)]+"/api/workflow", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results[i], statuses[i] = string(b), resp.StatusCode
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, id := range results {
		switch statuses[i] {
		case 200:
			ids[id] = true
		case http.StatusConflict:
			if i%2 == 0 {
				t.Errorf("RETURN_EXISTING start got 409: %s", id)
			}
		default:
			t.Errorf("start %d: %d %s", i, statuses[i], id)
		}
	}
	if len(ids) != 1 {
		t.Errorf("concurrent starts with one key started %d runs: %v", len(ids), ids)
	}
}

// TestDoWhileTasksKeepTheirDomain: the DO_WHILE of Conductor's
// WorkflowRerunTests.testDoWhileRerun (transcribed), started with
// taskToDomain {simple_do_while_task: test-domain}: each iteration's task
// is queued in test-domain and records it, and after a rerun from the
// DO_WHILE task the new first iteration's task (a new id) is too.
func TestDoWhileTasksKeepTheirDomain(t *testing.T) {
	ts := newConductorServer(t, nil)
	def, err := os.ReadFile("../../testdata/conductor/transcribed/rerun_do_while_workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", string(def)); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	c := newSDK(t, ts.URL)
	id := c.start(t, model.StartWorkflowRequest{Name: "rerun-do-while-workflow", Version: 1, Input: map[string]any{"maxIterations": 3},
		TaskToDomain: map[string]string{"simple_do_while_task": "test-domain"}})
	if wf := c.workflow(t, id); wf.TaskToDomain["simple_do_while_task"] != "test-domain" {
		t.Errorf("run taskToDomain %v", wf.TaskToDomain)
	}
	var ids []string
	for iteration := int32(1); iteration <= 2; iteration++ {
		if got := c.poll(t, "simple_do_while_task", "", 1, 0); len(got) != 0 {
			t.Fatalf("a poll without a domain got %+v", got)
		}
		got := c.poll(t, "simple_do_while_task", "test-domain", 1, 5*time.Second)
		if len(got) != 1 || got[0].Domain != "test-domain" || got[0].Iteration != iteration {
			t.Fatalf("iteration %d: poll in test-domain = %+v", iteration, got)
		}
		ids = append(ids, got[0].TaskId)
		answer := "COMPLETED"
		if iteration == 2 {
			answer = "FAILED_WITH_TERMINAL_ERROR"
		}
		if _, resp, err := c.tasks.UpdateTask(context.Background(), &model.TaskResult{WorkflowInstanceId: id, TaskId: got[0].TaskId, Status: model.TaskResultStatus(answer)}); err != nil {
			t.Fatalf("UpdateTask: %v (status %d)", err, status(resp))
		}
	}
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "FAILED" {
		t.Fatalf("run %s, want FAILED", st.Status)
	}
	wf := c.workflow(t, id)
	var loopID string
	for _, task := range wf.Tasks {
		switch task.TaskType {
		case "DO_WHILE":
			loopID = task.TaskId
		case "simple_do_while_task":
			if task.Domain != "test-domain" {
				t.Errorf("iteration %d record domain %q", task.Iteration, task.Domain)
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"reRunFromWorkflowId": id, "reRunFromTaskId": loopID})
	if st, _, resp := ts.do(t, "POST", "/api/workflow/"+id+"/rerun", string(body)); st != 200 {
		t.Fatalf("rerun: %d %s", st, resp)
	}
	got := c.poll(t, "simple_do_while_task", "test-domain", 1, 5*time.Second)
	if len(got) != 1 || got[0].Domain != "test-domain" || got[0].Iteration != 1 || got[0].TaskId == ids[0] {
		t.Fatalf("after the rerun: poll in test-domain = %+v (earlier ids %v)", got, ids)
	}
}

// TestPollData: GET /api/tasks/queue/polldata answers, through the Go
// SDK's GetPollData, the last poll of a task type in each domain (no
// domain shown for polls without one), by whom and when — what the
// active-worker rule reads; /queue/polldata/all every type's.
func TestPollData(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL)
	before := time.Now().UnixMilli()
	c.poll(t, "pd_task", "", 1, 0)
	c.poll(t, "pd_task", "east", 1, 0)
	c.poll(t, "pd_other", "west", 1, 0)
	got, resp, err := c.tasks.GetPollData(context.Background(), "pd_task")
	if err != nil {
		t.Fatalf("GetPollData: %v (status %d)", err, status(resp))
	}
	if len(got) != 2 || got[0].QueueName != "pd_task" || got[0].Domain != "" || got[1].Domain != "east" ||
		got[1].WorkerId != "w1" || got[1].LastPollTime < before {
		t.Errorf("poll data %+v", got)
	}
	all, _, err := c.tasks.GetAllPollData(context.Background())
	if err != nil || len(all) != 3 || all[0].QueueName != "pd_other" || all[0].Domain != "west" || all[2].Domain != "east" {
		t.Errorf("all poll data %+v %v", all, err)
	}
	if st, _, body := ts.do(t, "GET", "/api/tasks/queue/polldata", ""); st != 400 {
		t.Errorf("polldata without taskType: %d %s", st, body)
	}
}

// inProgress reports task IN_PROGRESS with callbackAfterSeconds.
func inProgress(t *testing.T, c sdkClients, task model.Task, callback int64) {
	t.Helper()
	_, resp, err := c.tasks.UpdateTask(context.Background(), &model.TaskResult{WorkflowInstanceId: task.WorkflowInstanceId,
		TaskId: task.TaskId, Status: "IN_PROGRESS", CallbackAfterSeconds: callback})
	if err != nil {
		t.Fatalf("UpdateTask IN_PROGRESS: %v (status %d)", err, status(resp))
	}
}

// Queues are named "domain:type", so a ':' in a domain or a task type
// would let a poll of one type or domain take another's tasks (domain
// "a:b" of type "t" and domain "a" of type "b:t" are one queue name): a
// poll naming one is refused, and a worker task that would be queued under
// one fails instead of waiting where another type's poll could take it.
func TestColonInDomainOrTaskType(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("colon_flow", "colon_task"), taskFlow("colon_type_flow", "b:colon_task"))
	for _, path := range []string{
		"/api/tasks/poll/batch/colon_task?domain=a:b&timeout=0",
		"/api/tasks/poll/b:colon_task?domain=a",
		"/api/tasks/poll/batch/b:colon_task?timeout=0",
	} {
		if code, _, body := ts.do(t, "GET", path, ""); code != http.StatusBadRequest || !strings.Contains(body, "must not contain ':'") {
			t.Fatalf("GET %s: %d %s, want 400", path, code, body)
		}
	}
	for _, tc := range []struct {
		flow string
		m    map[string]string
	}{
		{"colon_flow", map[string]string{"colon_task": "a:b"}},
		{"colon_type_flow", nil},
	} {
		id := c.start(t, model.StartWorkflowRequest{Name: tc.flow, Version: 1, TaskToDomain: tc.m})
		st := waitStatus(t, c.wf, id, 10*time.Second)
		if st.Status != "FAILED" {
			t.Fatalf("%s: run %s, want FAILED", tc.flow, st.Status)
		}
		if wf := c.workflow(t, id); !strings.Contains(wf.ReasonForIncompletion, "cannot be queued for workers") {
			t.Fatalf("%s: reason %q", tc.flow, wf.ReasonForIncompletion)
		}
	}
}
