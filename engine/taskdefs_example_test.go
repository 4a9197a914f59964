package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
)

// A registered task definition gives every task of its name Conductor's
// retry settings; the task-level retryCount would override it.
func ExampleTaskDefs() {
	defs := engine.NewTaskDefs()
	list, err := engine.ParseTaskDefs([]byte(`[{"name":"charge","retryCount":2,"retryDelaySeconds":0,"timeoutSeconds":30}]`))
	if err != nil {
		panic(err)
	}
	if err := defs.Put(list...); err != nil {
		panic(err)
	}
	calls := 0
	e, err := engine.New(engine.WithTaskDefs(defs),
		engine.WithWorker("charge", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if calls++; calls < 3 {
				return nil, errors.New("card network busy")
			}
			return json.RawMessage(`{"charged":true}`), nil
		}))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"pay","tasks":[{"name":"charge","taskReferenceName":"charge"}]}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output), calls)
	// Output:
	// COMPLETED {"charged":true} 3
}

// A local worker reads the values its task definition declares in
// runtimeMetadata from its context; names found nowhere are left out, and a
// value echoed back is masked in the run.
func ExampleRuntimeMetadata() {
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "deploy", RuntimeMetadata: []string{"REGION", "UNSET_NAME"}}); err != nil {
		panic(err)
	}
	e, err := engine.New(engine.WithTaskDefs(defs),
		engine.WithEnvValues(interpolate.MapValues{"REGION": json.RawMessage(`"eu-west-1"`)}),
		engine.WithWorker("deploy", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			md := engine.RuntimeMetadata(ctx)
			return json.Marshal(map[string]any{"names": len(md), "region": md["REGION"]})
		}))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"release","tasks":[{"name":"deploy","taskReferenceName":"deploy"}],
	  "outputParameters":{"out":"${deploy.output}"}}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	// Output:
	// COMPLETED {"out":{"names":1,"region":"eu-west-1"}}
}
