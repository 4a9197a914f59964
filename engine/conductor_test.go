package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The definitions under testdata/conductor are conductor-oss files, unmodified
// (see SOURCES.md); only the API tester host is pointed at a local server.
const testerHost = "https://orkes-api-tester.orkesconductor.com"

type tester struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newTester(t *testing.T) *tester {
	ts := &tester{}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		ts.bodies = append(ts.bodies, string(b))
		n := len(ts.bodies)
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"hostName": "tester-1", "apiRandomDelay": "0 ms", "randomInt": 40 + n, "path": r.URL.Path, "method": r.Method})
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func loadConductor(t *testing.T, e *engine.Engine, name, host string) *engine.Definition {
	t.Helper()
	b, err := os.ReadFile("../testdata/conductor/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		b = bytes.ReplaceAll(b, []byte(testerHost), []byte(host))
	}
	d, err := e.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func conductorEngine(t *testing.T, opts ...engine.Option) *engine.Engine {
	t.Helper()
	e, err := engine.New(append([]engine.Option{
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithRunStore(runstore.NewMemory()),
		engine.WithPollInterval(10 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func start(t *testing.T, e *engine.Engine, d *engine.Definition, input string, opts ...engine.RunOption) *engine.Result {
	t.Helper()
	res, err := e.Start(context.Background(), d, json.RawMessage(input), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	return res
}

func TestConductorQuickstart(t *testing.T) {
	ts := newTester(t)
	e := conductorEngine(t)
	res := start(t, e, loadConductor(t, e, "quickstart_workflow.json", ts.srv.URL), `{}`)
	jsonEq(t, res.Output, `{"summary":"Host tester-1 responded in 0 ms with random value 41",
	  "apiResponse":{"hostName":"tester-1","apiRandomDelay":"0 ms","randomInt":41,"path":"/api","method":"GET"}}`)
}

// The definition gives items but no loopCondition, which Conductor's
// registration refuses (isDoWhileTaskValid), and so does wfrun; with a
// blank one, which it accepts, DoWhile iterates over the items alone.
func TestConductorDoWhileListIterationHTTP(t *testing.T) {
	ts := newTester(t)
	e := conductorEngine(t)
	b, err := os.ReadFile("../testdata/conductor/do_while_list_iteration_http_test.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(testerHost), []byte(ts.srv.URL))
	if _, err := e.Parse(b); err == nil || !strings.Contains(err.Error(), `/tasks/0/loopCondition: DO_WHILE "do_while_ref" needs a loopCondition`) {
		t.Fatalf("as given: %v, want the loopCondition refused", err)
	}
	d, err := e.Parse(bytes.Replace(b, []byte(`"items":`), []byte(`"loopCondition": "", "items":`), 1))
	if err != nil {
		t.Fatal(err)
	}
	res := start(t, e, d, `{"items":["alpha",{"k":2},3]}`)
	want := []string{`{"item":"alpha"}`, `{"item":{"k":2}}`, `{"item":3}`}
	if len(ts.bodies) != len(want) {
		t.Fatalf("server saw %d calls: %q", len(ts.bodies), ts.bodies)
	}
	for i, w := range want {
		var a, b any
		_ = json.Unmarshal([]byte(ts.bodies[i]), &a)
		_ = json.Unmarshal([]byte(w), &b)
		ga, _ := json.Marshal(a)
		gb, _ := json.Marshal(b)
		if !bytes.Equal(ga, gb) {
			t.Errorf("call %d body %s, want %s", i, ts.bodies[i], w)
		}
	}
	// No outputParameters: the output is the last task's output (the third call).
	var out struct {
		Response struct {
			StatusCode int            `json:"statusCode"`
			Body       map[string]any `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || out.Response.StatusCode != 200 || out.Response.Body["randomInt"] != 43.0 {
		t.Fatalf("output %s", res.Output)
	}
	view, _ := e.Show(context.Background(), res.RunID)
	var doc struct {
		Tasks []struct {
			Ref    string          `json:"referenceTaskName"`
			Iter   int             `json:"iteration"`
			Output json.RawMessage `json:"outputData"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(view, &doc)
	refs := map[string]int{}
	var loopOut json.RawMessage
	for _, tk := range doc.Tasks {
		refs[tk.Ref] = tk.Iter
		if tk.Ref == "do_while_ref" {
			loopOut = tk.Output
		}
	}
	if refs["http_ref__1"] != 1 || refs["http_ref__3"] != 3 {
		t.Fatalf("iteration refs: %v", refs)
	}
	var lo map[string]any
	_ = json.Unmarshal(loopOut, &lo)
	if lo["iteration"] != 3.0 || lo["loopIndex"] != 2.0 || lo["loopItem"] != 3.0 || lo["2"] == nil {
		t.Fatalf("DO_WHILE output %s", loopOut)
	}
}

func TestConductorSequentialJQ(t *testing.T) {
	e := conductorEngine(t)
	res := start(t, e, loadConductor(t, e, "sequential_json_jq_transform_integration_test.json", ""), `{"body":{"name":"x","n":[1,2]}}`)
	jsonEq(t, res.Output, `{"result":{"name":"x","n":[1,2]},"resultList":[{"name":"x","n":[1,2]}]}`)
}

func TestConductorSetVariableAndWait(t *testing.T) {
	e := conductorEngine(t, engine.WithWorker("simple", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"done":true}`), nil
	}))
	d := loadConductor(t, e, "set_variable_workflow_integration_test.json", "")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"var":"var_test_value"}`), engine.WithRunID("setvar"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	completeWhenWaiting(t, e, "setvar", "wait0", `{}`)
	res := <-done
	jsonEq(t, res.Output, `{"variables":{"var":"var_test_value"}}`)
}

func completeWhenWaiting(t *testing.T, e *engine.Engine, run, ref, output string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.CompleteTask(context.Background(), run, ref, "", json.RawMessage(output))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConductorWaitForApproval(t *testing.T) {
	e := conductorEngine(t)
	d := loadConductor(t, e, "wait_for_approval_workflow.json", "")
	done := make(chan *engine.Result, 1)
	go func() {
		res, _ := e.Start(context.Background(), d, json.RawMessage(`{"orderId":"o-1"}`), engine.WithRunID("approval"))
		done <- res
	}()
	completeWhenWaiting(t, e, "approval", "approval", `{"approved":true,"approver":"ops"}`)
	res := <-done
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	jsonEq(t, res.Output, `{"approval":{"approved":true,"approver":"ops"}}`)
}

func TestConductorSwitchAfterWait(t *testing.T) {
	e := conductorEngine(t)
	startT := time.Now()
	res := start(t, e, loadConductor(t, e, "switch_rerun_issue.json", ""), `{"case":"yes"}`)
	if time.Since(startT) < 2*time.Second {
		t.Fatalf("the 2 seconds WAIT did not wait (%s)", time.Since(startT))
	}
	var out struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339, out.Result)
	if err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("inline_ref_2 should return inline_ref_1's ISO time: %s (%v)", res.Output, err)
	}
	view, _ := e.Show(context.Background(), res.RunID)
	if !bytes.Contains(view, []byte(`"selectedCase":"yes"`)) {
		t.Fatalf("switch output: %s", view)
	}
}

func TestConductorHTTPFlatForm(t *testing.T) {
	ts := newTester(t)
	e := conductorEngine(t)
	res := start(t, e, loadConductor(t, e, "concurrency_check_http.json", ts.srv.URL), `{}`)
	var out struct {
		Response struct {
			StatusCode int            `json:"statusCode"`
			Body       map[string]any `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || out.Response.StatusCode != 200 || out.Response.Body["path"] != "/api" {
		t.Fatalf("output %s", res.Output)
	}
}

func TestParseDefinitionUsesTaskValidators(t *testing.T) {
	_, err := engine.ParseDefinition([]byte(`{"name":"w","tasks":[{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{}}]}`),
		engine.WithTaskRegistry(tasks.NewDefaultRegistry()))
	if err == nil || !strings.Contains(err.Error(), "/tasks/0") {
		t.Fatalf("HTTP without uri should be reported at /tasks/0: %v", err)
	}
}

func TestConductorDoWhileSystemTasks(t *testing.T) {
	var simple atomic.Int64
	e := conductorEngine(t, engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		simple.Add(1)
		return json.RawMessage(`{"done":true}`), nil
	}))
	res := start(t, e, loadConductor(t, e, "do_while_system_tasks.json", ""), `{"loop":3}`)
	jsonEq(t, res.Output, `{"done":true}`)
	view, _ := e.Show(context.Background(), res.RunID)
	var doc struct {
		Tasks []struct {
			Ref    string          `json:"referenceTaskName"`
			Status string          `json:"status"`
			Output json.RawMessage `json:"outputData"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(view, &doc)
	outs := map[string]string{}
	for _, tk := range doc.Tasks {
		outs[tk.Ref] = string(tk.Output)
		if tk.Status != "COMPLETED" {
			t.Errorf("%s %s", tk.Ref, tk.Status)
		}
	}
	if outs["lambda_locs__3"] != `{"result":{"locationRanId":"some location id"}}` || !strings.Contains(outs["jq_create_hydrus_input__3"], `{"out":{"locationId":"some location id"}}`) {
		t.Fatalf("loop task outputs: %v", outs)
	}
	if _, ok := outs["lambda_locs__4"]; ok || simple.Load() != 1 {
		t.Fatalf("iterations: %v (simple ran %d)", outs, simple.Load())
	}
	if !strings.Contains(outs["loopTask"], `"iteration":3`) {
		t.Fatalf("loop output %s", outs["loopTask"])
	}
}
