package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A sub-workflow fails and fails its parent; retrying the child re-opens
// the parent, whose SUB_WORKFLOW task completes with the child and whose
// next task runs.
func ExampleEngine_Retry() {
	calls := 0
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if calls++; calls == 1 {
				return nil, errors.New("not yet")
			}
			return json.RawMessage(`{"ok":true}`), nil
		}))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"parent","tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"child",
	   "workflowDefinition":{"name":"child","tasks":[{"name":"flaky","taskReferenceName":"flaky","retryCount":0}]}}},
	  {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'done'"}}],
	  "outputParameters":{"child":"${sub.output.ok}","after":"${after.output.result}"}}`))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("parent:", res.Status)
	view, _ := e.Show(ctx, res.RunID)
	var run struct {
		Tasks []struct {
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(view, &run)
	child, err := e.Retry(ctx, run.Tasks[0].SubWorkflowID, false)
	if err != nil {
		panic(err)
	}
	fmt.Println("child:", child.Status)
	view, _ = e.Show(ctx, res.RunID)
	var parent struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
	}
	_ = json.Unmarshal(view, &parent)
	fmt.Println("parent:", parent.Status, string(parent.Output))
	// Output:
	// parent: FAILED
	// child: COMPLETED
	// parent: COMPLETED {"child":true,"after":"done"}
}
