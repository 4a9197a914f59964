package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine/server"
)

// verboseOf reads /queue/all/verbose through the Go SDK's AllVerbose.
func verboseOf(t *testing.T, c sdkClients) map[string]map[string]map[string]int64 {
	t.Helper()
	got, resp, err := c.tasks.AllVerbose(context.Background())
	if err != nil {
		t.Fatalf("AllVerbose: %v (status %d)", err, status(resp))
	}
	return got
}

// waitVerbose waits until queue qn shows size and uacked in the verbose
// details (absent counts as 0 and 0).
func waitVerbose(t *testing.T, c sdkClients, qn string, size, uacked int64) {
	t.Helper()
	var got map[string]map[string]map[string]int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = verboseOf(t, c)
		shard := got[qn]["a"]
		if shard["size"] == size && shard["uacked"] == uacked && (len(got[qn]) > 0 || size+uacked == 0) {
			return
		}
	}
	t.Fatalf("queue/all/verbose = %v; want %s: {a: {size: %d, uacked: %d}}", got, qn, size, uacked)
}

func pollAs(t *testing.T, c sdkClients, taskType, worker string, wait time.Duration) []model.Task {
	t.Helper()
	got, resp, err := c.tasks.BatchPoll(context.Background(), taskType, &client.TaskResourceApiBatchPollOpts{
		Workerid: optional.NewString(worker), Count: optional.NewInt32(1), Timeout: optional.NewInt32(int32(wait / time.Millisecond))})
	if err != nil {
		t.Fatalf("BatchPoll %s as %s: %v (status %d)", taskType, worker, err, status(resp))
	}
	return got
}

// TestQueueAllVerbose: GET /api/tasks/queue/all/verbose answers, through
// the Go SDK's AllVerbose, Conductor's {queue: {shard: {size, uacked}}}:
// size as /queue/all counts it (waiting for a poll, or for a callback),
// uacked the tasks a worker holds without an answer; an emptied queue
// leaves the list.
func TestQueueAllVerbose(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("verbose_flow", "verbose_task"))
	for i := range 3 {
		c.start(t, model.StartWorkflowRequest{Name: "verbose_flow", Version: 1, Input: map[string]any{"n": i}})
	}
	c.start(t, model.StartWorkflowRequest{Name: "verbose_flow", Version: 1, TaskToDomain: map[string]string{"verbose_task": "d1"}})
	waitVerbose(t, c, "verbose_task", 3, 0)
	waitVerbose(t, c, "d1:verbose_task", 1, 0)
	polled := c.poll(t, "verbose_task", "", 1, time.Second)
	if len(polled) != 1 {
		t.Fatalf("poll got %d tasks", len(polled))
	}
	waitVerbose(t, c, "verbose_task", 2, 1)
	inProgress(t, c, polled[0], 3600) // postponed: in the queue again
	waitVerbose(t, c, "verbose_task", 3, 0)
	c.complete(t, polled[0])
	waitVerbose(t, c, "verbose_task", 2, 0)
	for _, task := range c.poll(t, "verbose_task", "", 10, time.Second) {
		c.complete(t, task)
	}
	waitVerbose(t, c, "verbose_task", 0, 0)
	if got := verboseOf(t, c); len(got) != 1 {
		t.Errorf("verbose after the default queue emptied = %v, want d1:verbose_task only", got)
	}
	st, ct, body := ts.do(t, "GET", "/api/tasks/queue/all/verbose", "")
	if st != 200 || !strings.HasPrefix(ct, "application/json") || body != `{"d1:verbose_task":{"a":{"size":1,"uacked":0}}}` {
		t.Errorf("raw verbose = %d %s %s", st, ct, body)
	}
}

// TestRequeuePendingTasks: POST /api/tasks/queue/requeue/{taskType}
// (the Go SDK's RequeuePendingTask) offers every pending task of the type
// again, in every domain, and answers how many (text/plain): a task a
// worker holds without an answer goes back to its queue, and another
// worker's poll takes it (same task id, pollCount 2); the first worker's
// answer still completes it while it is pending; a task waiting for its
// callback keeps waiting; an unknown type answers 0.
func TestRequeuePendingTasks(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("requeue_flow", "requeue_task"))
	first := c.start(t, model.StartWorkflowRequest{Name: "requeue_flow", Version: 1})
	c.waitSize(t, "requeue_task", 1)
	second := c.start(t, model.StartWorkflowRequest{Name: "requeue_flow", Version: 1})
	c.start(t, model.StartWorkflowRequest{Name: "requeue_flow", Version: 1, TaskToDomain: map[string]string{"requeue_task": "d1"}})
	c.waitSize(t, "requeue_task", 2)
	c.waitSize(t, "d1:requeue_task", 1)

	held := pollAs(t, c, "requeue_task", "w1", time.Second)
	if len(held) != 1 || held[0].WorkflowInstanceId != first {
		t.Fatalf("w1 polled %+v", held)
	}
	waiting := pollAs(t, c, "requeue_task", "w1", time.Second)
	if len(waiting) != 1 || waiting[0].WorkflowInstanceId != second {
		t.Fatalf("w1's second poll %+v", waiting)
	}
	inProgress(t, c, waiting[0], 3600)
	waitVerbose(t, c, "requeue_task", 1, 1)

	n, resp, err := c.tasks.RequeuePendingTask(context.Background(), "requeue_task")
	if err != nil || n != "3" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("RequeuePendingTask = %q, %v (status %d)", n, err, status(resp))
	}
	waitVerbose(t, c, "requeue_task", 2, 0)
	again := pollAs(t, c, "requeue_task", "w2", time.Second)
	if len(again) != 1 || again[0].TaskId != held[0].TaskId || again[0].WorkerId != "w2" || again[0].PollCount != 2 {
		t.Fatalf("w2 polled %+v after the requeue, want task %s again", again, held[0].TaskId)
	}
	if more := pollAs(t, c, "requeue_task", "w2", 200*time.Millisecond); len(more) != 0 {
		t.Fatalf("the task waiting for its callback was handed out: %+v", more)
	}
	c.complete(t, held[0]) // w1 answers after all
	if st := waitStatus(t, c.wf, first, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s after w1's answer", st.Status)
	}
	if n, _, err := c.tasks.RequeuePendingTask(context.Background(), "no_such_task"); err != nil || n != "0" {
		t.Errorf("requeue of an unknown type = %q, %v", n, err)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/queue/requeue/a:b", ""); st != http.StatusBadRequest {
		t.Errorf("requeue of a:b = %d %s", st, body)
	}
	// The type "signal" (its path is also one of the signal endpoint's).
	if st, ct, body := ts.do(t, "POST", "/api/tasks/queue/requeue/signal", ""); st != 200 || body != "0" || !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("requeue of signal = %d %s %s", st, ct, body)
	}
}

// TestQueueSizeIsolationGroups: Conductor names a queue
// domain:type@namespace-isolationGroup, but a worker task waits in
// domain:type whatever its task definition's isolationGroupId and
// executionNameSpace (its SimpleTaskMapper sets neither): a poll of the
// type takes it, a poll of the isolated name does not. /queue/size with an
// isolation group or a namespace is 0 — never the queue of the type whose
// name the parts spell ("iso_task-g", "iso_task@ns"); a ':' in any part is
// a 400.
func TestQueueSizeIsolationGroups(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("iso_flow", "iso_task"), taskFlow("iso_g_flow", "iso_task-g"),
		taskFlow("iso_ns_flow", "iso_task@ns"), taskFlow("iso_both_flow", "iso_task@ns-g"))
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs",
		`[{"name":"iso_task","isolationGroupId":"g","executionNameSpace":"ns","responseTimeoutSeconds":60}]`); st != 200 {
		t.Fatalf("register task def: %d %s", st, body)
	}
	id := c.start(t, model.StartWorkflowRequest{Name: "iso_flow", Version: 1})
	for _, f := range []string{"iso_g_flow", "iso_ns_flow", "iso_both_flow"} {
		c.start(t, model.StartWorkflowRequest{Name: f, Version: 1})
	}
	for _, qn := range []string{"iso_task", "iso_task-g", "iso_task@ns", "iso_task@ns-g"} {
		c.waitSize(t, qn, 1)
	}
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"taskType=iso_task", 200, "1"},
		{"taskType=iso_task&isolationGroupId=g", 200, "0"},
		{"taskType=iso_task&executionNamespace=ns", 200, "0"},
		{"taskType=iso_task&executionNamespace=ns&isolationGroupId=g", 200, "0"},
		{"taskType=iso_task-g", 200, "1"},
		{"taskType=iso_task&isolationGroupId=a:b", 400, "must not contain ':'"},
		{"taskType=iso_task&executionNamespace=a:b", 400, "must not contain ':'"},
		{"taskType=x:iso_task", 400, "must not contain ':'"},
	} {
		st, _, body := ts.do(t, "GET", "/api/tasks/queue/size?"+tc.query, "")
		if st != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("size?%s = %d %s, want %d %s", tc.query, st, body, tc.status, tc.body)
		}
	}
	if got := c.poll(t, "iso_task-g", "", 1, time.Second); len(got) != 1 || got[0].WorkflowInstanceId == id {
		t.Fatalf("poll of iso_task-g = %+v: want the iso_task-g run's task only", got)
	}
	got := c.poll(t, "iso_task", "", 1, time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != id || got[0].TaskDefName != "iso_task" {
		t.Fatalf("poll of iso_task = %+v", got)
	}
	c.complete(t, got[0])
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s", st.Status)
	}
}

// queueScopesYAML: watch may read the queues of q_task, work polls them,
// stranger polls another type; callers without credentials are admitted
// with a secrets scope only.
const queueScopesYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: watch
    keySecret: watch-secret-0123456789
    scopes: ["tasks:read:q_task"]
  - keyId: work
    keySecret: work-secret-0123456789
    scopes: ["tasks:poll:q_*"]
  - keyId: stranger
    keySecret: stranger-secret-0123456789
    scopes: ["tasks:poll:other_task", "workflows:read:*"]
anonymousScopes: ["secrets:get:public/*"]
`

// TestQueueScopes: with --auth the queue endpoints need tasks:read:<type>
// or tasks:poll:<type> (sizes, poll data), tasks:poll:<type> to requeue;
// a refused call is 403 naming tasks:read:<type> (or tasks:poll:<type>)
// and changes nothing; the lists of every queue and every type's poll
// data leave out the types the caller may not read.
func TestQueueScopes(t *testing.T) {
	cfg := mustAuth(t, queueScopesYAML)
	ts := &scopedServer{conductorServer: newConductorServer(t, nil, cfg), tokens: map[string]string{"anonymous": ""}}
	for _, k := range []string{"admin", "watch", "work", "stranger"} {
		ts.tokens[k] = tokenOf(t, ts.conductorServer, k)
	}
	flows := `{"name":"q_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"q_task","taskReferenceName":"a","type":"SIMPLE"},{"name":"other_task","taskReferenceName":"b","type":"SIMPLE"}]}`
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", flows); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	if st, _, body := ts.as(t, "admin", "POST", "/api/workflow/q_flow", `{}`); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	// work polls q_task (and holds it), stranger polls other_task: both
	// leave poll data; the run then waits on q_task.
	var held []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(held) == 0 && time.Now().Before(deadline); {
		st, _, body := ts.as(t, "work", "GET", "/api/tasks/poll/batch/q_task?workerid=w1&timeout=500", "")
		if st != 200 || json.Unmarshal([]byte(body), &held) != nil {
			t.Fatalf("work's poll: %d %s", st, body)
		}
	}
	if len(held) != 1 {
		t.Fatal("work never got the q_task task")
	}
	if st, _, body := ts.as(t, "stranger", "GET", "/api/tasks/poll/batch/other_task?workerid=w2&timeout=0", ""); st != 200 {
		t.Fatalf("stranger's poll: %d %s", st, body)
	}
	readers := []string{"admin", "watch", "work"}
	for _, tc := range []struct {
		method, path string
		allowed      []string // the others get 403 naming scope
		scope        string
		want         string // in an allowed caller's answer
	}{
		{"GET", "/api/tasks/queue/size?taskType=q_task", readers, "tasks:read:q_task", "0"},
		{"GET", "/api/tasks/queue/sizes?taskType=q_task", readers, "tasks:read:q_task", `{"q_task":0}`},
		{"GET", "/api/tasks/queue/sizes?taskType=q_task,d1:q_task", readers, "tasks:read:q_task", `"d1:q_task":0`},
		{"GET", "/api/tasks/queue/polldata?taskType=q_task", readers, "tasks:read:q_task", `"workerId":"w1"`},
		{"GET", "/api/tasks/queue/polldata?taskType=other_task", []string{"admin", "stranger"}, "tasks:read:other_task", `"workerId":"w2"`},
		{"GET", "/api/tasks/queue/sizes?taskType=q_task,other_task", []string{"admin"}, "tasks:read:", `"other_task":0`},
	} {
		for _, who := range []string{"admin", "watch", "work", "stranger", "anonymous"} {
			st, _, body := ts.as(t, who, tc.method, tc.path, "")
			if indexOf(tc.allowed, who) >= 0 {
				if st != 200 || !strings.Contains(body, tc.want) {
					t.Errorf("%s %s as %s = %d %s, want 200 with %s", tc.method, tc.path, who, st, body, tc.want)
				}
				continue
			}
			if st != http.StatusForbidden || !strings.Contains(body, "lacks scope "+tc.scope) {
				t.Errorf("%s %s as %s = %d %s, want 403 naming %s", tc.method, tc.path, who, st, body, tc.scope)
			}
		}
	}
	// The lists: each caller sees the types it may read.
	for _, tc := range []struct {
		who, path string
		has, not  []string
	}{
		{"admin", "/api/tasks/queue/polldata/all", []string{`"queueName":"q_task"`, `"queueName":"other_task"`}, nil},
		{"watch", "/api/tasks/queue/polldata/all", []string{`"queueName":"q_task"`}, []string{"other_task"}},
		{"stranger", "/api/tasks/queue/polldata/all", []string{`"queueName":"other_task"`}, []string{"q_task"}},
		{"anonymous", "/api/tasks/queue/polldata/all", []string{"[]"}, []string{"q_task", "other_task"}},
		{"watch", "/api/tasks/queue/all/verbose", []string{`"q_task":{"a":{"size":0,"uacked":1}}`}, nil},
		{"stranger", "/api/tasks/queue/all/verbose", []string{"{}"}, []string{"q_task"}},
		{"anonymous", "/api/tasks/queue/all", []string{"{}"}, nil},
	} {
		st, _, body := ts.as(t, tc.who, "GET", tc.path, "")
		if st != 200 {
			t.Errorf("GET %s as %s = %d %s", tc.path, tc.who, st, body)
			continue
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s as %s = %s, want %s in it", tc.path, tc.who, body, s)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(body, s) {
				t.Errorf("GET %s as %s = %s: shows %s", tc.path, tc.who, body, s)
			}
		}
	}
	// Requeue: tasks:poll:<type> only; a refused one leaves the task with
	// its worker.
	for _, who := range []string{"watch", "stranger", "anonymous"} {
		if st, _, body := ts.as(t, who, "POST", "/api/tasks/queue/requeue/q_task", ""); st != http.StatusForbidden || !strings.Contains(body, "lacks scope tasks:poll:q_task") {
			t.Errorf("requeue as %s = %d %s, want 403", who, st, body)
		}
	}
	if st, _, body := ts.as(t, "admin", "GET", "/api/tasks/queue/all/verbose", ""); !strings.Contains(body, `"uacked":1`) {
		t.Fatalf("a refused requeue changed the queue: %d %s", st, body)
	}
	if st, ct, body := ts.as(t, "work", "POST", "/api/tasks/queue/requeue/q_task", ""); st != 200 || body != "1" || !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("requeue as work = %d %s %s, want 200 1", st, ct, body)
	}
	if st, _, body := ts.as(t, "watch", "GET", "/api/tasks/queue/size?taskType=q_task", ""); st != 200 || body != "1" {
		t.Errorf("size after the requeue = %d %s", st, body)
	}
}

func mustAuth(t *testing.T, yaml string) server.Option {
	t.Helper()
	cfg, err := server.ParseAuthConfig([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	return server.WithAuth(cfg)
}

// TestSharedQueueVerboseAndRequeue: two serve processes on one Redis. A
// task of a run A executes, polled through B, shows as unacked in both
// processes' verbose details; a requeue through A offers it again (the
// count covers the tasks of every process), a poll through A takes it
// again from the shared queue, and the first worker's answer through B
// still completes the run.
func TestSharedQueueVerboseAndRequeue(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	ca := newSDK(t, a.URL, taskFlow("shared_requeue", "shared_rq_task"))
	cb := newSDK(t, b.URL)
	id := ca.start(t, model.StartWorkflowRequest{Name: "shared_requeue", Version: 1})
	ca.start(t, model.StartWorkflowRequest{Name: "shared_requeue", Version: 1, TaskToDomain: map[string]string{"shared_rq_task": "d1"}})
	waitVerbose(t, cb, "shared_rq_task", 1, 0)
	waitVerbose(t, cb, "d1:shared_rq_task", 1, 0)
	held := pollAs(t, cb, "shared_rq_task", "w1", 5*time.Second)
	if len(held) != 1 || held[0].WorkflowInstanceId != id {
		t.Fatalf("poll through B = %+v", held)
	}
	waitVerbose(t, ca, "shared_rq_task", 0, 1)
	waitVerbose(t, cb, "shared_rq_task", 0, 1)
	n, resp, err := ca.tasks.RequeuePendingTask(context.Background(), "shared_rq_task")
	if err != nil || n != "2" {
		t.Fatalf("requeue through A = %q, %v (status %d)", n, err, status(resp))
	}
	waitVerbose(t, cb, "shared_rq_task", 1, 0)
	again := pollAs(t, ca, "shared_rq_task", "w2", 5*time.Second)
	if len(again) != 1 || again[0].TaskId != held[0].TaskId || again[0].WorkerId != "w2" {
		t.Fatalf("poll through A after the requeue = %+v, want task %s", again, held[0].TaskId)
	}
	cb.complete(t, held[0])
	if st := waitStatus(t, ca.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s after w1's answer", st.Status)
	}
	waitVerbose(t, cb, "shared_rq_task", 0, 0)
}

// TestOrkesJSSDKQueues: the Orkes JavaScript SDK 4.0.0, as a key that
// polls q_task only, reads q_task's queue size and poll data (TaskClient),
// the verbose details (other_task's queue left out) and requeues q_task's
// pending task (taskResource); reading or requeuing other_task is refused
// with the server's message naming the scope.
func TestOrkesJSSDKQueues(t *testing.T) {
	sdk := jsSDKDir(t)
	cfg := mustAuth(t, queueScopesYAML)
	ts := &scopedServer{conductorServer: newConductorServer(t, nil, cfg), tokens: map[string]string{"anonymous": ""}}
	ts.tokens["admin"] = tokenOf(t, ts.conductorServer, "admin")
	flows := `{"name":"q_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"q_task","taskReferenceName":"a","type":"SIMPLE"}],
	    [{"name":"other_task","taskReferenceName":"b","type":"SIMPLE"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}`
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", flows); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	if st, _, body := ts.as(t, "admin", "POST", "/api/workflow/q_flow", `{}`); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, _, body := ts.as(t, "admin", "GET", "/api/tasks/queue/sizes?taskType=q_task,other_task", "")
		if body == `{"other_task":1,"q_task":1}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues never held both tasks: %s", body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/queues.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=work",
		"KEY_SECRET=work-secret-0123456789", "QUEUE=q_task", "OTHER=other_task")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	type refusal struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	var got struct {
		Error        string                                 `json:"error"`
		Sizes        map[string]int                         `json:"sizes"`
		PollData     []map[string]any                       `json:"pollData"`
		Verbose      map[string]map[string]map[string]int64 `json:"verbose"`
		Requeued     any                                    `json:"requeued"`
		OtherSize    refusal                                `json:"otherSize"`
		OtherRequeue refusal                                `json:"otherRequeue"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if len(got.Sizes) != 1 || got.Sizes["q_task"] != 1 {
		t.Errorf("getQueueSizeForTask = %v", got.Sizes)
	}
	if got.PollData == nil {
		t.Errorf("getTaskPollData = %v, want a list", got.PollData)
	}
	if len(got.Verbose) != 1 || got.Verbose["q_task"]["a"]["size"] != 1 {
		t.Errorf("allVerbose = %v, want q_task's only", got.Verbose)
	}
	if fmt.Sprint(got.Requeued) != "1" {
		t.Errorf("requeuePendingTask = %#v, want 1", got.Requeued)
	}
	for what, r := range map[string]struct {
		got   refusal
		scope string
	}{"size": {got.OtherSize, "tasks:read:other_task"}, "requeue": {got.OtherRequeue, "tasks:poll:other_task"}} {
		if r.got.OK || !strings.Contains(r.got.Message, "principal work lacks scope "+r.scope) {
			t.Errorf("%s of other_task: %+v, want a refusal naming %s", what, r.got, r.scope)
		}
	}
}
