package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A rerun from the second task with a replacement input for it and for the
// run: the first task is kept, the second reads taskInput instead of its
// inputParameters, and a secret reference in replacement input is text.
func ExampleEngine_RerunWith() {
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"twice","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"first":"${workflow.input.v}"}},
	  {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"$.v + '!'","v":"${workflow.input.v}"}}],
	  "outputParameters":{"first":"${workflow.variables.first}","second":"${b.output.result}","input":"${workflow.input.v}"}}`))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, def, json.RawMessage(`{"v":"one"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	view, _ := e.Show(ctx, res.RunID)
	var run struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(view, &run)
	res, err = e.RerunWith(ctx, res.RunID, engine.RerunOptions{
		FromTaskID:    run.Tasks[1].TaskID,
		TaskInput:     json.RawMessage(`{"evaluatorType":"javascript","expression":"$.v + '?'","v":"${workflow.secrets.token}"}`),
		WorkflowInput: json.RawMessage(`{"v":"two"}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	// Output:
	// COMPLETED {"first":"one","second":"one!","input":"one"}
	// COMPLETED {"first":"one","second":"${workflow.secrets.token}?","input":"two"}
}
