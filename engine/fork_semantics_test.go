package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// dynamicTasksOutput is what DynamicForkJoinSpec's first worker returns.
const dynamicTasksOutput = `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},{"name":"integration_task_3","taskReferenceName":"xdt2"}],
  "dynamicTasksInput":{"xdt1":{"k1":"v1"},"xdt2":{"k2":"v2"}}}`

func echoWorker(out string) engine.WorkerFunc {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(out), nil }
}

// DynamicForkJoinSpec "Test dynamic fork join success flow".
func TestConductorDynamicForkJoin(t *testing.T) {
	inputs := make(chan string, 2)
	seen := func(name string) engine.WorkerFunc {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			inputs <- name + string(in)
			return json.RawMessage(`{"ok1":"ov1"}`), nil
		}
	}
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", echoWorker(dynamicTasksOutput)),
		engine.WithWorker("integration_task_2", seen("2")),
		engine.WithWorker("integration_task_3", seen("3")),
		engine.WithWorker("integration_task_4", echoWorker(`{}`)))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`, engine.WithCorrelationID("dynamic_fork_join_workflow"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:COMPLETED",
		"integration_task_3:COMPLETED", "JOIN:COMPLETED", "integration_task_4:COMPLETED")
	join := wf.Tasks[4]
	if join.Ref != "dynamicfanouttask_join" || !reflect.DeepEqual(join.Input["joinOn"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("join %+v", join)
	}
	for _, ref := range []string{"xdt1", "xdt2"} {
		if o, _ := join.Output[ref].(map[string]any); o["ok1"] != "ov1" {
			t.Fatalf("join output %v", join.Output)
		}
	}
	got := map[string]map[string]any{}
	for range 2 {
		s := <-inputs
		m := map[string]any{}
		_ = json.Unmarshal([]byte(s[1:]), &m)
		got[s[:1]] = m
	}
	if got["2"]["k1"] != "v1" || got["3"]["k2"] != "v2" {
		t.Fatalf("forked task inputs %v", got)
	}
	if fork := wf.Tasks[1]; !reflect.DeepEqual(fork.Input["forkedTasks"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("fork input %v", fork.Input)
	}
}

// DynamicForkJoinSpec "Test dynamic fork join failure of dynamic forked task
// flow": integration_task_2 without retries fails; the other forked task and
// the JOIN are cancelled, the JOIN still recording its joinOn.
func TestConductorDynamicForkJoinFailure(t *testing.T) {
	defs := harnessTaskDefs(t)
	zero := 0
	rt := int64(120)
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_2", Description: "integration_task_2", OwnerEmail: "test@harness.com",
		RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", echoWorker(dynamicTasksOutput)),
		engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			<-started
			return nil, errors.New("it is a failure..")
		}),
		engine.WithWorker("integration_task_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:FAILED",
		"integration_task_3:CANCELED", "JOIN:CANCELED")
	if join := wf.Tasks[4]; join.Ref != "dynamicfanouttask_join" || !reflect.DeepEqual(join.Input["joinOn"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("join %+v", join)
	}
}
