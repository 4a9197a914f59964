package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A SET_VARIABLE that would leave the run's variables over the cap fails the
// run and changes nothing.
func ExampleWithMaxVariablesPayloadKB() {
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithMaxVariablesPayloadKB(1))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"vars","tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"blob":"${workflow.input.blob}"}}]}`))
	if err != nil {
		panic(err)
	}
	small, _ := json.Marshal(map[string]string{"blob": "fits"})
	res, _ := e.Start(context.Background(), def, small)
	fmt.Println(res.Status)
	big, _ := json.Marshal(map[string]string{"blob": string(make([]byte, 2048))})
	res, _ = e.Start(context.Background(), def, big)
	fmt.Println(res.Status, res.FailedTaskRef)
	// Output:
	// COMPLETED
	// FAILED set
}
