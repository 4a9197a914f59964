package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
)

// storedStart is a run of a SUB_WORKFLOW task sub naming its child
// stored_child without a version (the latest: 1 when sub is first
// mapped), with the input {"tid": its own task id}. Version 1's task
// fails the first time, and registers version 2 then: a start of sub
// after that which works the version out again gets version 2.
type storedStart struct {
	t    *testing.T
	e    *engine.Engine
	dir  string
	fail atomic.Bool
}

func newStoredStart(t *testing.T, subFlags string) (*storedStart, *engine.Definition) {
	t.Helper()
	s := &storedStart{t: t, dir: t.TempDir()}
	s.write("v1.json", `{"name":"stored_child","version":1,"schemaVersion":2,"tasks":[{"name":"w_v1","taskReferenceName":"v1","retryCount":0,"inputParameters":{}}]}`)
	s.fail.Store(true)
	s.e = harnessEngine(t, nil, engine.WithDefinitionsDir(s.dir),
		engine.WithWorker("w_v1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if s.fail.Swap(false) {
				s.write("v2.json", `{"name":"stored_child","version":2,"schemaVersion":2,"tasks":[{"name":"w_v2","taskReferenceName":"v2","retryCount":0,"inputParameters":{}}]}`)
				return nil, errors.New("w_v1 failed")
			}
			return json.RawMessage(`{"ran":"v1"}`), nil
		}),
		engine.WithWorker("w_v2", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"ran":"v2"}`), nil
		}))
	d, err := s.e.Parse([]byte(`{"name":"stored_start","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",` + subFlags + `"inputParameters":{"tid":"${CPEWF_TASK_ID}"},
	  "subWorkflowParam":{"name":"stored_child"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func (s *storedStart) write(file, def string) {
	if err := os.WriteFile(filepath.Join(s.dir, file), []byte(def), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// children checks sub's records of run id: each started a child of
// version 1 with the input the first attempt stored ({"tid": the first
// record's id}), and shows version 1 in its inputData, with tid its own
// id on top, as Conductor's retry adds the task's input evaluated again
// (the first record: its own id, under workflowInput too); each shows
// pollCount polls (1: taken from the system task queue to start; 0: a
// rerun's direct start).
func (s *storedStart) children(id string, want, polls int) {
	s.t.Helper()
	_, recs := rawTasks(s.t, s.e, id)
	if len(recs) != want {
		s.t.Fatalf("%d records of sub, want %d: %v", len(recs), want, recs)
	}
	first := recs[0]["taskId"]
	for i, tk := range recs {
		in, _ := tk["inputData"].(map[string]any)
		wi, _ := in["workflowInput"].(map[string]any)
		if in["subWorkflowName"] != "stored_child" || in["subWorkflowVersion"] != 1.0 || in["tid"] != tk["taskId"] && i > 0 || wi["tid"] != first {
			s.t.Errorf("record %d's inputData: %v; want stored_child version 1, workflowInput.tid %v (and tid its own id on a retry)", i, in, first)
		}
		if n, _ := tk["pollCount"].(float64); int(n) != polls {
			s.t.Errorf("record %d's pollCount: %v, want %d", i, tk["pollCount"], polls)
		}
		child, _ := tk["subWorkflowId"].(string)
		b, err := s.e.Show(context.Background(), child)
		if err != nil {
			s.t.Fatalf("record %d's child %q: %v", i, child, err)
		}
		var v struct {
			Version int            `json:"version"`
			Input   map[string]any `json:"input"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			s.t.Fatal(err)
		}
		if v.Version != 1 || v.Input["tid"] != first {
			s.t.Errorf("record %d's child: version %d input %v; want version 1 with tid %v", i, v.Version, v.Input, first)
		}
	}
}

// TestSubWorkflowRetryStartsFromStoredInput: Conductor's
// DeciderService.retry copies the failed SUB_WORKFLOW task's inputData
// (task.copy()) and adds to it the task's inputParameters evaluated again
// at its top level; SubWorkflow.start then reads the child's name,
// version and input (workflowInput) from that inputData. So a retry
// starts the version the first attempt was mapped with, with the input
// it was given, although a later version was registered meanwhile; a
// retry worked the version out again (version 2) and resolved the input
// again.
func TestSubWorkflowRetryStartsFromStoredInput(t *testing.T) {
	s, d := newStoredStart(t, `"retryCount":1,"taskDefinition":{"retryDelaySeconds":0},`)
	res := startRun(t, s.e, d, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	s.children(res.RunID, 2, 1)
}

// TestSubWorkflowRunRetryStartsFromStoredInput: a retry of the run
// (WorkflowExecutor.retry's taskToBeRescheduled) copies the failed task
// too, and adds its input evaluated again: the new attempt's child is
// version 1, with the first attempt's input.
func TestSubWorkflowRunRetryStartsFromStoredInput(t *testing.T) {
	s, d := newStoredStart(t, "")
	res := startRun(t, s.e, d, `{}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("run: %+v", res)
	}
	rr, err := s.e.Retry(context.Background(), res.RunID, false)
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, rr)
	}
	s.children(res.RunID, 2, 1)
}

// TestSubWorkflowRerunStartsFromStoredInput: Conductor's rerunWF, from the
// SUB_WORKFLOW task itself, resets the task in place and starts its new
// child with SubWorkflow.start, which reads the name, version and input
// from the task's inputData as stored: version 1, not the version
// registered since, which a rerun worked out again. The task is not
// polled from a queue then: pollCount 0.
func TestSubWorkflowRerunStartsFromStoredInput(t *testing.T) {
	s, d := newStoredStart(t, "")
	res := startRun(t, s.e, d, `{}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("run: %+v", res)
	}
	_, recs := rawTasks(t, s.e, res.RunID)
	rr, err := s.e.Rerun(context.Background(), res.RunID, recs[0]["taskId"].(string))
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	s.children(res.RunID, 1, 0)
}

// TestSubWorkflowRetryWithSecretResolvesAgain: a retry whose input
// template reads a secret never starts its child from the stored input
// (it holds the reference, which the child would take as text): the
// input is resolved again, through the secret boundary, and the retry's
// child gets what the first attempt's got.
func TestSubWorkflowRetryWithSecretResolvesAgain(t *testing.T) {
	var calls atomic.Int32
	var first, got atomic.Value
	e := harnessEngine(t, nil, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"api_token": json.RawMessage(`"tok-123"`)}
	}),
		engine.WithWorker("w_a", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if calls.Add(1) == 1 {
				first.Store(string(in))
				return nil, errors.New("w_a failed")
			}
			got.Store(string(in))
			return json.RawMessage(`{}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"stored_secret","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":1,"taskDefinition":{"retryDelaySeconds":0},"inputParameters":{"tok":"${workflow.secrets.api_token}"},
	  "subWorkflowParam":{"name":"c","workflowDefinition":{"name":"c","version":1,"schemaVersion":2,"tasks":[
	   {"name":"w_a","taskReferenceName":"w","retryCount":0,"inputParameters":{"tok":"${workflow.input.tok}"}}]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	if res.Status != engine.StatusCompleted || calls.Load() != 2 {
		t.Fatalf("run: %+v, w_a called %d times", res, calls.Load())
	}
	if got.Load() != first.Load() {
		t.Fatalf("the retry's child's worker got %v, the first's %v; want the same", got.Load(), first.Load())
	}
}
