package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks"
)

// resumeDef is a test run whose SIMPLE gate fails once by its mock and has
// no mock for its retry (it waits there), then an HTTP call to a real
// server and a rotation of a real secret, both mocked.
func resumeDef(url string) string {
	return `{"name":"mockresume","version":1,"schemaVersion":2,"tasks":[
	  {"name":"gate","taskReferenceName":"gate","type":"SIMPLE","taskDefinition":{"name":"gate","retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":0}},
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"POST","body":{"x":1}}}},
	  {"name":"rotate","taskReferenceName":"rotate","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"api_token","secretValue":"rotated-VALUE-9c1e"}}}],
	  "outputParameters":{"gate":"${gate.output.by}","call":"${call.output.response.body}","rotate":"${rotate.output.done}"}}`
}

const resumeMockSecret = "MOCKED-secret-77ab3f"

func resumeMocks() *engine.Mocks {
	return &engine.Mocks{Tasks: map[string][]engine.TaskMock{
		"gate":   {{Status: engine.TaskFailed, Output: json.RawMessage(`{"try":1}`)}},
		"call":   {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"mocked":true}},"_secrets":{"k":"` + resumeMockSecret + `"}}`)}},
		"rotate": {{Output: json.RawMessage(`{"done":"mocked"}`)}},
	}}
}

// resumeEngine is one process of wfrun serve over the shared run and
// secret stores (the same master key), its SIMPLE tasks for remote workers.
func resumeEngine(t *testing.T, g *rig, offered *atomic.Int32) *engine.Engine {
	t.Helper()
	e, err := engine.New(
		engine.WithRegistry(rotationRegistry(false)),
		engine.WithRunStore(g.runs),
		engine.WithKeyring(keyring(t, 5)),
		engine.WithPollInterval(5*time.Millisecond),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(g.secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
			offered.Add(1)
			<-ctx.Done()
			return tasks.Result{Status: tasks.Failed, Reason: "interrupted"}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startInterrupted starts a test run of resumeDef on e and interrupts it
// once its gate waits (the process running it goes away).
func startInterrupted(t *testing.T, e *engine.Engine, id, url string) {
	t.Helper()
	d, err := e.Parse([]byte(resumeDef(url)))
	if err != nil {
		t.Fatal(err)
	}
	test, err := engine.NewTest(resumeMocks())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id), engine.AsTest(test))
		done <- err
	}()
	select {
	case <-test.Waiting():
	case <-time.After(20 * time.Second):
		t.Fatal("the test did not reach its gate")
	}
	if at := test.WaitingAt(); at != "gate" {
		t.Fatalf("waits at %q", at)
	}
	cancel()
	if err := <-done; !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
}

// A test run resumed by another process after its test stopped (at the
// retried gate, which has no mock left) gives no mock, as the process that
// ran it gives none once the test answered (Conductor's test loop has
// ended): the gate takes its external completion; the mocked HTTP task
// does not call the real server and UPDATE_SECRET does not rotate the real
// secret, they wait as the gate did, for completions from outside. The
// stored mocks are sealed: the mocked secret is nowhere in the stored run.
func TestTestRunResumedByAnotherProcessAfterItsTestStopped(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	defer srv.Close()
	g := newRig(t, "bolt", 5)
	g.put(t, "api_token", "original-VALUE-31d0")
	ctx := context.Background()
	var offered atomic.Int32
	const id = "test-resume-1"
	startInterrupted(t, resumeEngine(t, g, &offered), id, srv.URL)

	stored, _, err := g.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// How far each mock got is in the run's sealed log, not in the head
	// (runlog.go).
	var head struct {
		Test      bool              `json:"test"`
		MocksUsed map[string]int    `json:"mocksUsed"`
		TestMocks string            `json:"testMocks"`
		RunLog    []json.RawMessage `json:"runLog"`
	}
	if err := json.Unmarshal(stored, &head); err != nil {
		t.Fatal(err)
	}
	if !head.Test || head.MocksUsed != nil || len(head.RunLog) == 0 || head.TestMocks == "" {
		t.Fatalf("stored test state: test=%v mocksUsed in the head=%v log entries=%d mocks stored=%v", head.Test, head.MocksUsed, len(head.RunLog), head.TestMocks != "")
	}
	if strings.Contains(string(stored), resumeMockSecret) || strings.Contains(string(stored), "mocked\":true") {
		t.Fatalf("the stored run holds the mocks in clear: %s", stored)
	}

	e2 := resumeEngine(t, g, &offered)
	if _, err := e2.CompleteTask(ctx, id, "gate", engine.TaskCompleted, json.RawMessage(`{"by":"ext"}`)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e2.Resume(rctx, id)
		done <- outcome{res, err}
	}()
	for _, step := range []struct{ ref, tasks, output string }{
		{"call", "gate:gate:FAILED gate:gate:COMPLETED call:HTTP:SCHEDULED", `{"response":{"statusCode":200,"body":{"by":"hand"}}}`},
		{"rotate", "gate:gate:FAILED gate:gate:COMPLETED call:HTTP:COMPLETED rotate:UPDATE_SECRET:SCHEDULED", `{"done":"by hand"}`},
	} {
		var now runView
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if now = viewRun(t, e2, id); taskList(now) == step.tasks {
				break
			}
		}
		if taskList(now) != step.tasks {
			t.Fatalf("resumed: %s, want %s waiting", taskList(now), step.ref)
		}
		if n := hits.Load(); n != 0 {
			t.Fatalf("the resumed test run called the real server %d times", n)
		}
		if _, err := e2.CompleteTask(ctx, id, step.ref, engine.TaskCompleted, json.RawMessage(step.output)); err != nil {
			t.Fatal(err)
		}
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	sec, err := g.secrets.Get(ctx, "api_token")
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Value) != `"original-VALUE-31d0"` || sec.Version != 1 {
		t.Fatalf("the resumed test run rotated the real secret: version %d", sec.Version)
	}
	if o.res.Status != engine.StatusCompleted || string(o.res.Output) != `{"gate":"ext","call":{"by":"hand"},"rotate":"by hand"}` || hits.Load() != 0 {
		t.Fatalf("resumed: %s %s (%s) after %d calls", o.res.Status, o.res.Output, o.res.Reason, hits.Load())
	}
	if n := offered.Load(); n != 0 {
		t.Fatalf("the test's SIMPLE task was offered to %d workers", n)
	}
}

// A stored run's mocks are bound to it: a part edited, or another run's
// copied in, fails to open and the run is not resumed.
func TestTestRunMocksPartIsBoundToItsRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	g := newRig(t, "bolt", 5)
	ctx := context.Background()
	var offered atomic.Int32
	e := resumeEngine(t, g, &offered)
	startInterrupted(t, e, "test-bound-a", srv.URL)
	startInterrupted(t, e, "test-bound-b", srv.URL)
	mocksOf := func(id string) string {
		doc, _, err := g.runs.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			TestMocks string `json:"testMocks"`
		}
		if err := json.Unmarshal(doc, &d); err != nil || d.TestMocks == "" {
			t.Fatalf("run %s: no mocks stored (%v)", id, err)
		}
		return d.TestMocks
	}
	b := mocksOf("test-bound-b")
	a := mocksOf("test-bound-a")
	edited := []byte(a)
	edited[len(edited)-3] ^= 1
	for _, c := range []struct {
		name, part string
	}{{"copied from another run", b}, {"edited", string(edited)}} {
		t.Run(c.name, func(t *testing.T) {
			part, _ := json.Marshal(c.part)
			if err := g.runs.Commit(ctx, "test-bound-a", &runstore.Change{
				Summary: runstore.Summary{WorkflowType: "mockresume", Version: 1, Status: engine.StatusRunning}, Mocks: part}); err != nil {
				t.Fatal(err)
			}
			_, err := resumeEngine(t, g, &offered).Resume(ctx, "test-bound-a")
			if err == nil || !strings.Contains(err.Error(), "testMocks") {
				t.Fatalf("resumed with %s mocks: %v", c.name, err)
			}
		})
	}
}

// A run marked as a test run whose mocks are not stored never runs its
// mockable system tasks for real: they fail, naming why.
func TestTestRunWithoutStoredMocksDoesNotCallOut(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	defer srv.Close()
	g := newRig(t, "bolt", 5)
	ctx := context.Background()
	var offered atomic.Int32
	const id = "test-nomocks"
	startInterrupted(t, resumeEngine(t, g, &offered), id, srv.URL)
	// The run as a store that lost the part gives it back: rewritten
	// without "testMocks".
	doc, _, err := g.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var tasksDocs []json.RawMessage
	_ = json.Unmarshal(d["tasks"], &tasksDocs)
	def := d["workflowDefinition"]
	for _, k := range []string{"testMocks", "tasks", "workflowDefinition", "input", "output", "variables", "taskDefs"} {
		delete(d, k)
	}
	head, _ := json.Marshal(d)
	ch := &runstore.Change{Summary: runstore.Summary{WorkflowType: "mockresume", Version: 1, Status: engine.StatusRunning},
		Head: head, Input: []byte(`{}`), Output: []byte(`{}`), Variables: []byte(`{}`), DefinitionHash: string(d["definitionHash"][1 : len(d["definitionHash"])-1]), Definition: def}
	for i, td := range tasksDocs {
		var seq struct {
			Seq int `json:"seq"`
		}
		_ = json.Unmarshal(td, &seq)
		if seq.Seq == 0 {
			seq.Seq = i + 1
		}
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: seq.Seq, Doc: td})
	}
	if err := g.runs.Restore(ctx, id, ch); err != nil {
		t.Fatal(err)
	}
	if doc, _, _ := g.runs.Load(ctx, id); strings.Contains(string(doc), "testMocks") {
		t.Fatalf("the part is still there: %s", doc)
	}
	e2 := resumeEngine(t, g, &offered)
	if _, err := e2.CompleteTask(ctx, id, "gate", engine.TaskCompleted, json.RawMessage(`{"by":"ext"}`)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := e2.Resume(rctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Fatal("the test run without its mocks called the real server")
	}
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "not run for real") || res.FailedTaskRef != "call" {
		t.Fatalf("resumed: %s %q at %q", res.Status, res.Reason, res.FailedTaskRef)
	}
}
