package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
)

const token = "tok-9f8e7d6c5b4a"

type harness struct {
	t      *testing.T
	e      *engine.Engine
	runs   runstore.Store
	mu     sync.Mutex
	events []engine.Event
	calls  map[string]*atomic.Int64
}

func newHarness(t *testing.T, runs runstore.Store, opts ...engine.Option) *harness {
	t.Helper()
	h := &harness{t: t, runs: runs, calls: map[string]*atomic.Int64{}}
	if h.runs == nil {
		h.runs = runstore.NewMemory()
	}
	for _, n := range []string{"echo", "fail", "flaky"} {
		h.calls[n] = &atomic.Int64{}
	}
	var flaky atomic.Int64
	base := []engine.Option{
		engine.WithRunStore(h.runs),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`),
				"creds": json.RawMessage(`{"user":"alice","password":"pw-123456789"}`)}
		}),
		engine.WithEvents(func(ev engine.Event) {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		}),
		engine.WithPollInterval(20 * time.Millisecond),
		engine.WithWorker("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			h.calls["echo"].Add(1)
			return json.RawMessage(`{"echo":` + string(in) + `}`), nil
		}),
		engine.WithWorker("fail", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			h.calls["fail"].Add(1)
			return nil, errors.New("worker says no to " + string(in))
		}),
		engine.WithWorker("flaky", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			h.calls["flaky"].Add(1)
			if flaky.Add(1) < 3 {
				return nil, errors.New("try again")
			}
			return json.RawMessage(`{"ok":true}`), nil
		}),
	}
	e, err := engine.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

func (h *harness) run(def, input string, opts ...engine.RunOption) *engine.Result {
	h.t.Helper()
	d, err := h.e.Parse([]byte(def))
	if err != nil {
		h.t.Fatalf("parse: %v", err)
	}
	res, err := h.e.Start(context.Background(), d, json.RawMessage(input), opts...)
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return res
}

func jsonEq(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if !bytes.Equal(ga, gb) {
		t.Fatalf("got  %s\nwant %s", ga, gb)
	}
}

func TestSimpleWorkerAndOutputParameters(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","version":1,"schemaVersion":2,
	  "tasks":[{"name":"echo","taskReferenceName":"e1","type":"SIMPLE","inputParameters":{"n":"${workflow.input.n}","s":"x-${workflow.input.n}"}},
	           {"name":"echo","taskReferenceName":"e2","inputParameters":{"prev":"${e1.output.echo.n}","id":"${e1.taskId}"}}],
	  "outputParameters":{"a":"${e1.output.echo.s}","b":"${e2.output.echo.prev}","missing":"${e2.output.nothing}"}}`, `{"n":5}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"a":"x-5","b":5,"missing":null}`)
}

func TestDefaultOutputIsLastTask(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"echo","taskReferenceName":"e1","type":"SIMPLE","inputParameters":{"v":1}}]}`, `{}`)
	jsonEq(t, res.Output, `{"echo":{"v":1}}`)
}

func TestSecretMaskedEverywhere(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"echo","taskReferenceName":"e1","type":"SIMPLE","inputParameters":{"auth":"Bearer ${workflow.secrets.api_token}","pw":"${workflow.secrets.creds.password}"}},
	  {"name":"sv","taskReferenceName":"sv","type":"SET_VARIABLE","inputParameters":{"copy":"${e1.output.echo.auth}"}}],
	  "outputParameters":{"out":"${e1.output.echo}","vars":"${workflow.variables.copy}","lit":"${e1.input.auth}"}}`, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"out":{"auth":"Bearer ***","pw":"***"},"vars":"Bearer ***","lit":"Bearer ${workflow.secrets.api_token}"}`)
	doc, _, err := h.runs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(doc, []byte(token)) || bytes.Contains(doc, []byte("pw-123456789")) {
		t.Fatalf("archived run holds a secret: %s", doc)
	}
	if !bytes.Contains(doc, []byte(`${workflow.secrets.api_token}`)) {
		t.Fatalf("stored input should keep the secret reference: %s", doc)
	}
	for _, ev := range h.events {
		if strings.Contains(ev.Reason, token) {
			t.Fatalf("event leaks: %+v", ev)
		}
	}
}

func TestMissingSecretFailsTerminal(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"echo","taskReferenceName":"e1","type":"SIMPLE","inputParameters":{"a":"${workflow.secrets.nope}"}}]}`, `{}`)
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, `"nope"`) || res.FailedTaskRef != "e1" {
		t.Fatalf("got %s %q", res.Status, res.Reason)
	}
	if h.calls["echo"].Load() != 0 {
		t.Fatal("worker ran without its secret")
	}
	view, _ := h.e.Show(context.Background(), res.RunID)
	if !bytes.Contains(view, []byte(`"FAILED_WITH_TERMINAL_ERROR"`)) {
		t.Fatalf("task status: %s", view)
	}
}

func TestSecretsSubtreeSealedAndReadable(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"echo","taskReferenceName":"e1","type":"SIMPLE","inputParameters":{"_secrets":{"k":"${workflow.input.key}"}}},
	  {"name":"echo","taskReferenceName":"e2","type":"SIMPLE","inputParameters":{"got":"${e1.output.echo._secrets.k}","again":"${workflow.input.key}"}}],
	  "outputParameters":{"len":"${e2.output.echo.got}"}}`, `{"key":"very-secret-key-42"}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	// The value read back through _secrets is the real one (the worker saw it);
	// everything persisted is masked or sealed.
	jsonEq(t, res.Output, `{"len":"***"}`)
	doc, _, _ := h.runs.Load(context.Background(), res.RunID)
	if bytes.Contains(doc, []byte("very-secret-key-42")) {
		t.Fatalf("stored: %s", doc)
	}
}

func TestSwitchDoWhileForkJoin(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"c","inputParameters":{"c":"${workflow.input.kind}"},
	   "decisionCases":{"a":[{"name":"echo","taskReferenceName":"ca","inputParameters":{"x":"A"}}]},
	   "defaultCase":[{"name":"echo","taskReferenceName":"cd","inputParameters":{"x":"D"}}]},
	  {"name":"sw2","taskReferenceName":"sw2","type":"SWITCH","evaluatorType":"javascript","expression":"$.n > 2 ? 'big' : 'small'","inputParameters":{"n":"${workflow.input.n}"},
	   "decisionCases":{"big":[{"name":"echo","taskReferenceName":"big","inputParameters":{}}]}},
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"if ($.loop['iteration'] < 3) { true; } else { false; }",
	   "loopOver":[{"name":"echo","taskReferenceName":"li","inputParameters":{"i":"${loop.output.iteration}"}}]},
	  {"name":"each","taskReferenceName":"each","type":"DO_WHILE","loopCondition":"","items":"${workflow.input.list}",
	   "loopOver":[{"name":"echo","taskReferenceName":"it","inputParameters":{"item":"${each.output.loopItem}","idx":"${each.output.loopIndex}"}}]},
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	     [{"name":"echo","taskReferenceName":"b1","inputParameters":{"b":1}}],
	     [{"name":"echo","taskReferenceName":"b2","inputParameters":{"b":2}},{"name":"echo","taskReferenceName":"b3","inputParameters":{"b":3}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b1","b3"]}],
	 "outputParameters":{"case":"${sw.output.selectedCase}","caseTask":"${ca.output.echo.x}","def":"${cd.output}","big":"${big.status}",
	   "iters":"${loop.output.iteration}","last":"${li.output.echo.i}","li2":"${li__2.output.echo.i}","items":"${it.output.echo}",
	   "join":"${join.output}"}}`, `{"kind":"a","n":3,"list":["p","q"]}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"case":"a","caseTask":"A","def":null,"big":"COMPLETED","iters":3,"last":3,"li2":2,
	  "items":{"item":"q","idx":1},"join":{"b1":{"echo":{"b":1}},"b3":{"echo":{"b":3}}}}`)
}

func TestTerminate(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"stop here","workflowOutput":{"r":"${workflow.input.x}"}}},
	  {"name":"echo","taskReferenceName":"never"}]}`, `{"x":7}`)
	if res.Status != engine.StatusFailed || res.Reason != "stop here" {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"r":7}`)
	if h.calls["echo"].Load() != 0 {
		t.Fatal("task after TERMINATE ran")
	}
}

func TestRetriesAndOptional(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"flaky","taskReferenceName":"f","retryCount":3,"taskDefinition":{"retryLogic":"FIXED","retryDelaySeconds":0}},
	  {"name":"fail","taskReferenceName":"o","optional":true,"retryCount":0},
	  {"name":"echo","taskReferenceName":"after","inputParameters":{"st":"${o.status}","rc":"${f.retryCount}"}}]}`, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"echo":{"st":"COMPLETED_WITH_ERRORS","rc":2}}`)
	if h.calls["flaky"].Load() != 3 {
		t.Fatalf("flaky ran %d times", h.calls["flaky"].Load())
	}
	// Without a task definition (inline or registered) a task's own
	// retryCount 0 overrides the ad-hoc definition's 3 retries.
	res = h.run(`{"name":"w","tasks":[{"name":"fail","taskReferenceName":"f","retryCount":0}]}`, `{}`)
	if res.Status != engine.StatusFailed || h.calls["fail"].Load() != 2 || !strings.Contains(res.Reason, "worker says no") {
		t.Fatalf("%s %q calls=%d", res.Status, res.Reason, h.calls["fail"].Load())
	}
	// With one, the task-level retryCount overrides the definition's.
	res = h.run(`{"name":"w","tasks":[{"name":"fail","taskReferenceName":"f","retryCount":1,"taskDefinition":{"retryCount":5,"retryDelaySeconds":0}}]}`, `{}`)
	if res.Status != engine.StatusFailed || h.calls["fail"].Load() != 4 {
		t.Fatalf("%s %q calls=%d", res.Status, res.Reason, h.calls["fail"].Load())
	}
}

func TestUnregisteredSimpleTask(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"who","taskReferenceName":"x"}]}`, `{}`)
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, `no worker registered for SIMPLE task "who"`) {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
}

func TestWorkflowTimeout(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","timeoutSeconds":1,"timeoutPolicy":"TIME_OUT_WF","tasks":[{"name":"h","taskReferenceName":"h","type":"HUMAN"}]}`, `{}`)
	if res.Status != engine.StatusTimedOut {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
	view, _ := h.e.Show(context.Background(), res.RunID)
	if !bytes.Contains(view, []byte(`"CANCELED"`)) {
		t.Fatalf("waiting task not cancelled: %s", view)
	}
}

func TestWaitDurationAndExternalCompletion(t *testing.T) {
	h := newHarness(t, nil)
	d, err := h.e.Parse([]byte(`{"name":"w","tasks":[
	  {"name":"w","taskReferenceName":"short","type":"WAIT","inputParameters":{"duration":"1s"}},
	  {"name":"h","taskReferenceName":"human","type":"HUMAN"},
	  {"name":"echo","taskReferenceName":"after","inputParameters":{"approved":"${human.output.approved}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	start := time.Now()
	go func() {
		res, err := h.e.Start(context.Background(), d, nil, engine.WithRunID("run-wait"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.e.CompleteTask(context.Background(), "run-wait", "human", "", json.RawMessage(`{"approved":true}`))
		if err == nil {
			break
		}
		if !errors.Is(err, engine.ErrNotWaiting) && !errors.Is(err, runstore.ErrNotFound) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := <-done
	if res.Status != engine.StatusCompleted || time.Since(start) < time.Second {
		t.Fatalf("%s %s after %s", res.Status, res.Reason, time.Since(start))
	}
	jsonEq(t, res.Output, `{"echo":{"approved":true}}`)
	if _, err := h.e.CompleteTask(context.Background(), "run-wait", "human", "", nil); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("complete after end: %v", err)
	}
}
