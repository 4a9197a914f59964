package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// An outputFilter keeps only what it selects from a task's output: here a
// SIMPLE worker returns a session token and a user name; the token goes
// under _secrets (sealed in the stored run, masked in views and logs), the
// rest of the raw output is never stored.
func ExampleEngine_Start_outputFilter() {
	e, err := engine.New(
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("login", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"session":{"token":"sess-4c1d9e0b77","user":"bob"},"debug":"raw dump"}`), nil
		}),
	)
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"login","tasks":[
	  {"name":"login","taskReferenceName":"login","inputParameters":{
	    "outputFilter":{"_secrets":{"token":"$${login.output.session.token}"},"user":"$${login.output.session.user}"}}},
	  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{
	    "evaluatorType":"javascript","t":"${login.output._secrets.token}","expression":"$.t.length"}}],
	 "outputParameters":{"login":"${login.output}","tokenLength":"${use.output.result}"}}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	// Output:
	// COMPLETED {"login":{"_secrets":"***","user":"bob"},"tokenLength":15}
}
