package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// Executes tells whether this engine executes a run now: while its task
// runs, and no longer once it has ended.
func ExampleEngine_Executes() {
	running, release := make(chan struct{}), make(chan struct{})
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("work", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(running)
			<-release
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"one","tasks":[{"name":"work","taskReferenceName":"work"}]}`))
	if err != nil {
		panic(err)
	}
	done := make(chan *engine.Result)
	go func() {
		res, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-1"))
		if err != nil {
			panic(err)
		}
		done <- res
	}()
	<-running
	fmt.Println("while its task runs:", e.Executes("run-1"))
	close(release)
	fmt.Println((<-done).Status)
	fmt.Println("once it has ended:", e.Executes("run-1"))
	// Output:
	// while its task runs: true
	// COMPLETED
	// once it has ended: false
}
