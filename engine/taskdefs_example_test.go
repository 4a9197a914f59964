package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine"
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
