package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
)

// Conductor's secret specs (test-harness …/integration/*SecretSpec.groovy)
// build their definitions in Groovy; testdata/conductor/transcribed holds
// them as JSON (SOURCES.md). Each spec sets CONDUCTOR_SECRET_<NAME> and
// reads it through Conductor's env-backed secrets: here the same variables
// come from wfrun's env backend with Conductor's prefix, over a fixed
// environment (the specs set system properties, not the process's).
//
// One difference is on purpose (SPEC §9, "Resolved secret values are masked
// in outputs and variables"): where a spec asserts an output or a variable
// equal to the secret's value, wfrun shows "***" there and never stores the
// value; what the task executed against is checked where it can be seen
// (the HTTP request a server received).

const specSecret = "s3cr3t"

// secretSpecEngine runs the transcribed definitions with the CONDUCTOR_SECRET_
// variables of environ as the secret store.
func secretSpecEngine(t *testing.T, runs runstore.Store, environ ...string) *engine.Engine {
	t.Helper()
	st := env.New(env.WithPrefix("CONDUCTOR_SECRET_"), env.WithEnviron(environ))
	return harnessEngine(t, runs,
		engine.WithDefinitionsDir(conductorDir+"/transcribed"),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}))
}

// assertNotStored fails when the secret value is anywhere in the stored
// documents of the runs.
func assertNotStored(t *testing.T, runs runstore.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		b, _, err := runs.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), specSecret) {
			t.Errorf("stored run %s holds the secret value", id)
		}
	}
}

func taskByRef(t *testing.T, wf runView, ref string) taskView {
	t.Helper()
	for _, tk := range wf.Tasks {
		if tk.Ref == ref {
			return tk
		}
	}
	t.Fatalf("no task %s in %+v", ref, wf.Tasks)
	return taskView{}
}

// HttpTaskSecretSpec: the HTTP task's outbound request carries the
// resolved secret; the task's stored input keeps the literal reference
// while the task runs and after it completed.
func TestConductorHttpTaskSecretSpec(t *testing.T) {
	const literal = "${workflow.secrets.HTTP_TOKEN}"
	runs := runstore.NewMemory()
	var e *engine.Engine
	var mu sync.Mutex
	var received, inputWhileRunning string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the run store shows of the task while its request is out:
		// the spec's "scheduled ... keeps the literal secret reference"
		// (SCHEDULED: Conductor's HTTP task is an async system task, which
		// stays SCHEDULED while its start() makes the call). A task still
		// running is written within tens of milliseconds.
		var seen string
		for deadline := time.Now().Add(10 * time.Second); seen == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			sums, err := e.List(r.Context(), runstore.ListOptions{Status: engine.StatusRunning})
			if err != nil || len(sums) != 1 {
				continue
			}
			if b, err := e.Show(r.Context(), sums[0].ID); err == nil {
				var v runView
				_ = json.Unmarshal(b, &v)
				if len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskScheduled {
					h, _ := v.Tasks[0].Input["http_request"].(map[string]any)
					hdr, _ := h["headers"].(map[string]any)
					seen = fmt.Sprint(hdr["X-Secret"])
				}
			}
		}
		mu.Lock()
		received, inputWhileRunning = r.Header.Get("X-Secret"), seen
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	e = secretSpecEngine(t, runs, "CONDUCTOR_SECRET_HTTP_TOKEN="+specSecret)
	b, err := os.ReadFile(conductorDir + "/transcribed/http_task_secret_wf.json")
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "http://localhost:PORT", srv.URL, 1))
	d, err := e.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`, engine.WithCorrelationID("http-task-secret-test"))
	wf := viewRun(t, e, res.RunID)
	mu.Lock()
	defer mu.Unlock()
	if received != specSecret {
		t.Errorf("the outbound request's X-Secret is %q, want the resolved secret", received)
	}
	if inputWhileRunning != literal {
		t.Errorf("stored X-Secret while the request was out = %q, want %q", inputWhileRunning, literal)
	}
	checkTasks(t, wf.Tasks, "HTTP:COMPLETED")
	h, _ := wf.Tasks[0].Input["http_request"].(map[string]any)
	if hdr, _ := h["headers"].(map[string]any); hdr["X-Secret"] != literal {
		t.Errorf("stored input after completion %v, want the literal reference", h)
	}
	assertNotStored(t, runs, res.RunID)
}

// InlineSecretSpec: the INLINE task evaluates against the resolved secret
// (its result is the value, shown "***": SPEC §9; Conductor's spec asserts
// result == 's3cr3t'), and its stored input keeps the literal reference.
func TestConductorInlineSecretSpec(t *testing.T) {
	runs := runstore.NewMemory()
	e := secretSpecEngine(t, runs, "CONDUCTOR_SECRET_SECRET="+specSecret)
	res := startRun(t, e, harnessDef(t, e, "transcribed/inline_secret_wf.json"), `{}`, engine.WithCorrelationID("inline-secret-test"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("status %s %q", wf.Status, wf.Reason)
	}
	tk := taskByRef(t, wf, "inline_task_ref")
	// SPEC §9: masked, where Conductor's spec expects 's3cr3t'.
	if tk.Output["result"] != "***" {
		t.Errorf("result %v, want the secret's value (shown ***)", tk.Output["result"])
	}
	if tk.Input["value1"] != "${workflow.secrets.SECRET}" {
		t.Errorf("stored value1 %v, want the literal reference", tk.Input["value1"])
	}
	assertNotStored(t, runs, res.RunID)
}

// The masked result above is the evaluation of the resolved value, not a
// masked reference: a JSON secret evaluates to its object (its string
// masked), and a missing secret fails the task naming it (SPEC §9, where
// Conductor substitutes "").
func TestConductorInlineSecretSpecEvaluatesTheValue(t *testing.T) {
	e := secretSpecEngine(t, nil, `CONDUCTOR_SECRET_SECRET={"k":"a-json-secret-value"}`)
	res := startRun(t, e, harnessDef(t, e, "transcribed/inline_secret_wf.json"), `{}`)
	wf := viewRun(t, e, res.RunID)
	got, _ := json.Marshal(taskByRef(t, wf, "inline_task_ref").Output["result"])
	if string(got) != `{"k":"***"}` {
		t.Fatalf("result %s, want the JSON secret evaluated (its string masked)", got)
	}
	e = secretSpecEngine(t, nil)
	res = startRun(t, e, harnessDef(t, e, "transcribed/inline_secret_wf.json"), `{}`)
	if wf := viewRun(t, e, res.RunID); wf.Status != engine.StatusFailed || !strings.Contains(wf.Reason, "SECRET") {
		t.Fatalf("missing secret: %s %q, want FAILED naming it (SPEC §9)", wf.Status, wf.Reason)
	}
}

// SubWorkflowSecretSpec: the child's INLINE task resolves the secret in the
// child's own run; the child's stored input keeps the literal reference;
// child and parent complete.
func TestConductorSubWorkflowSecretSpec(t *testing.T) {
	runs := runstore.NewMemory()
	e := secretSpecEngine(t, runs, "CONDUCTOR_SECRET_SECRET="+specSecret)
	res := startRun(t, e, harnessDef(t, e, "transcribed/parent_secret_wf.json"), `{}`, engine.WithCorrelationID("subwf-secret-test"))
	parent := viewRun(t, e, res.RunID)
	if parent.Status != engine.StatusCompleted {
		t.Fatalf("parent %s %q", parent.Status, parent.Reason)
	}
	checkTasks(t, parent.Tasks, "SUB_WORKFLOW:COMPLETED")
	childID := parent.Tasks[0].SubWorkflowID
	if childID == "" {
		t.Fatal("the SUB_WORKFLOW task has no subWorkflowId")
	}
	child := viewRun(t, e, childID)
	if child.Status != engine.StatusCompleted {
		t.Fatalf("child %s %q", child.Status, child.Reason)
	}
	tk := taskByRef(t, child, "child_inline_ref")
	// SPEC §9: masked, where Conductor's spec expects 's3cr3t'.
	if tk.Output["result"] != "***" {
		t.Errorf("child result %v, want the secret's value (shown ***)", tk.Output["result"])
	}
	if tk.Input["value1"] != "${workflow.secrets.SECRET}" {
		t.Errorf("child stored value1 %v, want the literal reference", tk.Input["value1"])
	}
	assertNotStored(t, runs, res.RunID, childID)
}

// SyncSystemTaskSecretSpec: SET_VARIABLE writes the resolved secret into
// the variables and JSON_JQ_TRANSFORM transforms it; both stored inputs
// keep the literal reference.
func TestConductorSyncSystemTaskSecretSpec(t *testing.T) {
	t.Run("SET_VARIABLE", func(t *testing.T) {
		runs := runstore.NewMemory()
		e := secretSpecEngine(t, runs, "CONDUCTOR_SECRET_SECRET="+specSecret)
		res := startRun(t, e, harnessDef(t, e, "transcribed/set_variable_secret_wf.json"), `{}`, engine.WithCorrelationID("set-variable-secret-test"))
		b, err := e.Show(context.Background(), res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			runView
			Variables map[string]any `json:"variables"`
		}
		if err := json.Unmarshal(b, &wf); err != nil {
			t.Fatal(err)
		}
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("status %s %q", wf.Status, wf.Reason)
		}
		// SPEC §9: masked, where Conductor's spec expects 's3cr3t'.
		if wf.Variables["secretVar"] != "***" {
			t.Errorf("variables.secretVar %v, want the secret's value (shown ***)", wf.Variables["secretVar"])
		}
		if tk := taskByRef(t, wf.runView, "set_variable_task_ref"); tk.Input["secretVar"] != "${workflow.secrets.SECRET}" {
			t.Errorf("stored secretVar %v, want the literal reference", tk.Input["secretVar"])
		}
		assertNotStored(t, runs, res.RunID)
	})
	t.Run("JSON_JQ_TRANSFORM", func(t *testing.T) {
		runs := runstore.NewMemory()
		e := secretSpecEngine(t, runs, "CONDUCTOR_SECRET_SECRET="+specSecret)
		res := startRun(t, e, harnessDef(t, e, "transcribed/json_jq_transform_secret_wf.json"), `{}`, engine.WithCorrelationID("json-jq-transform-secret-test"))
		wf := viewRun(t, e, res.RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("status %s %q", wf.Status, wf.Reason)
		}
		tk := taskByRef(t, wf, "json_jq_transform_task_ref")
		result, _ := tk.Output["result"].(map[string]any)
		// SPEC §9: masked, where Conductor's spec expects result.out == 's3cr3t'.
		if result["out"] != "***" {
			t.Errorf("result %v, want {out: the secret's value (shown ***)}", tk.Output["result"])
		}
		if tk.Input["secret"] != "${workflow.secrets.SECRET}" {
			t.Errorf("stored secret %v, want the literal reference", tk.Input["secret"])
		}
		assertNotStored(t, runs, res.RunID)
	})
}
