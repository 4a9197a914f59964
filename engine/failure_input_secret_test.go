package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// failSecretRun fails (a TERMINATE) holding values through two doors of
// its secret boundary: a leaf of its sealed `_secrets` input and a
// maskedFields value; its failureWorkflow is failSecretHandler.
const failSecretRun = `{"name":"fail_secret_run","version":1,"schemaVersion":2,"maskedFields":["pw"],
  "failureWorkflow":"fail_secret_handler","tasks":[
  {"name":"stop","taskReferenceName":"stop","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"stop"}}]}`

// failSecretHandler, the failure run, waits for an approval, then hands
// its worker "use" what the failed run held, read from failedWorkflow.input
// and from its own input's copy of the failed run's input.
const failSecretHandler = `{"name":"fail_secret_handler","version":1,"schemaVersion":2,"tasks":[
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"use","taskReferenceName":"use","inputParameters":{
    "k":"${workflow.input.failedWorkflow.input._secrets.k}","pw":"${workflow.input.failedWorkflow.input.pw}",
    "topK":"${workflow.input._secrets.k}","topPw":"${workflow.input.pw}",
    "tok":"${workflow.input.failedWorkflow.input.tok}","status":"${workflow.input.failureStatus}"}}],
  "outputParameters":{"pw":"${workflow.input.failedWorkflow.input.pw}"}}`

// failSecretEngine is b's engine with worker "use" recording its input;
// waiting receives each run that waits.
func failSecretEngine(t *testing.T, b *subSecretBackend, got *[]string, mu *sync.Mutex, waiting chan<- string) *engine.Engine {
	return b.engine(t, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting && waiting != nil {
			select {
			case waiting <- ev.RunID:
			default:
			}
		}
	}, engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		*got = append(*got, string(in))
		mu.Unlock()
		return json.RawMessage(`{}`), nil
	}))
}

// failureRunOf is the id of the failure run res's output names.
func failureRunOf(t *testing.T, res *engine.Result) string {
	t.Helper()
	var out map[string]any
	_ = json.Unmarshal(res.Output, &out)
	id, _ := out["conductor.failure_workflow"].(string)
	if id == "" {
		t.Fatalf("no failure run: output %s", res.Output)
	}
	return id
}

// TestFailureRunGetsTheValuesTheFailedRunHeld: a failed run's
// failureWorkflow is handed the failed run's input as Conductor hands the
// failed workflow (values in clear): its worker gets the `_secrets` leaf
// and the maskedFields value the failed run held, read from
// failedWorkflow.input and from its own input (they reached it as
// "***"). The failure run's stored input and every view stay masked; no
// stored byte (memory, bolt, a real redis-server) holds a value while the
// failure run waits nor after; the values survive the process's end (the
// failure run, interrupted while it waits, resumed by another process
// from its sealed input) and the failure run's output masks them.
func TestFailureRunGetsTheValuesTheFailedRunHeld(t *testing.T) {
	for _, backend := range []string{"memory", "bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			b := newSubSecretBackend(t, backend, subSecretDefs(t, failSecretHandler))
			var mu sync.Mutex
			var got []string
			waiting := make(chan string, 4)
			a := failSecretEngine(t, b, &got, &mu, waiting)
			d, err := a.Parse([]byte(failSecretRun))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Start(context.Background(), d, json.RawMessage(subSecretInput))
			if err != nil || res.Status != engine.StatusFailed {
				t.Fatalf("want a failed run, got %v %+v", err, res)
			}
			fid := failureRunOf(t, res)
			if id := <-waiting; id != fid {
				t.Fatalf("run %s waits, want the failure run %s", id, fid)
			}
			stopped, cancel := context.WithCancel(context.Background())
			cancel() // the process ends while the failure run waits
			if err := a.WaitStarted(stopped); !errors.Is(err, engine.ErrInterrupted) {
				t.Fatalf("WaitStarted: %v", err)
			}
			b.noValueStored(t, "while the failure run waits", a)
			raw, _, err := b.runs.Load(context.Background(), fid)
			if err != nil {
				t.Fatal(err)
			}
			var stored struct {
				Input struct {
					PW     any `json:"pw"`
					Failed struct {
						Input map[string]any `json:"input"`
					} `json:"failedWorkflow"`
				} `json:"input"`
				SealedInput string `json:"sealedInput"`
			}
			if err := json.Unmarshal(raw, &stored); err != nil {
				t.Fatal(err)
			}
			if stored.Input.PW != "***" || stored.Input.Failed.Input["pw"] != "***" || stored.SealedInput == "" {
				t.Fatalf("the failure run's stored input %s", raw)
			}

			e := failSecretEngine(t, b, &got, &mu, nil)
			if _, err := e.CompleteTask(context.Background(), fid, "approve", "", nil); err != nil {
				t.Fatal(err)
			}
			fres, err := e.Resume(context.Background(), fid)
			if err != nil || fres.Status != engine.StatusCompleted {
				t.Fatalf("resume of the failure run: %v %+v", err, fres)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("use ran %d times", len(got))
			}
			jsonEq(t, json.RawMessage(got[0]), `{"k":"`+subSecretSealed+`","pw":"`+subSecretMasked+`","topK":"`+subSecretSealed+
				`","topPw":"`+subSecretMasked+`","tok":null,"status":"FAILED"}`)
			jsonEq(t, fres.Output, `{"pw":"***"}`)
			b.noValueStored(t, "after the failure run", e)
		})
	}
}

// TestFailureRunOfAChildGetsTheValuesItsParentHanded: a SUB_WORKFLOW
// child that fails hands its failure run the values its parent's task
// resolved for it (a secret, a leaf of the parent's sealed input, a
// maskedFields value), not "***"; none is stored.
func TestFailureRunOfAChildGetsTheValuesItsParentHanded(t *testing.T) {
	child := `{"name":"sub_secret_child","version":1,"schemaVersion":2,"failureWorkflow":"fail_secret_handler2","tasks":[
	  {"name":"stop","taskReferenceName":"stop","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"stop"}}]}`
	handler := `{"name":"fail_secret_handler2","version":1,"schemaVersion":2,"tasks":[
	  {"name":"use","taskReferenceName":"use","inputParameters":{"tok":"${workflow.input.failedWorkflow.input.tok}",
	    "hdr":"${workflow.input.hdr}","fromSealed":"${workflow.input.failedWorkflow.input.fromSealed}",
	    "fromMasked":"${workflow.input.failedWorkflow.input.fromMasked}","s":"${workflow.input.failedWorkflow.input._secrets.s}"}}]}`
	b := newSubSecretBackend(t, "bolt", subSecretDefs(t, child, handler))
	var mu sync.Mutex
	var got []string
	e := failSecretEngine(t, b, &got, &mu, nil)
	d, err := e.Parse([]byte(subSecretParent))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(subSecretInput))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("want a failed parent, got %v %+v", err, res)
	}
	childID := childOf(t, b.runs, res.RunID, "sub")
	cv := waitRun(t, e, childID)
	fv := waitRun(t, e, cv.Output["conductor.failure_workflow"].(string))
	if fv.Status != engine.StatusCompleted {
		t.Fatalf("the child's failure run %s %q", fv.Status, fv.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("use ran %d times", len(got))
	}
	jsonEq(t, json.RawMessage(got[0]), `{"tok":"`+subSecretAPI+`","hdr":"Bearer `+subSecretAPI+`","fromSealed":"`+subSecretSealed+
		`","fromMasked":"`+subSecretMasked+`","s":"`+subSecretAPI+`"}`)
	b.noValueStored(t, "after the runs", e)
}
