package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// A RemoteWorkerFunc hands a SIMPLE task to a worker: the task holds no
// secret value; Resolve, called when the worker takes it, reads the
// secrets then and registers them, so what the worker echoes is masked.
func ExampleRemoteTask_Resolve() {
	secrets := interpolate.MapSecrets{"api_token": json.RawMessage(`"tok-queued-1a2b3c"`)}
	var rotated bool
	e, err := engine.New(
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return secrets }),
		engine.WithRemoteWorker(func(ctx context.Context, t engine.RemoteTask) tasks.Result {
			// The token is rotated while the task waits for a worker.
			secrets["api_token"] = json.RawMessage(`"tok-rotated-4d5e6f"`)
			input, _, err := t.Resolve(ctx) // the worker's poll takes the task
			if err != nil {
				return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
			}
			var in struct{ Auth string }
			_ = json.Unmarshal(input, &in)
			rotated = in.Auth == "Bearer tok-rotated-4d5e6f"
			out, _ := json.Marshal(map[string]string{"echo": in.Auth})
			return tasks.Result{Status: tasks.Completed, Output: out}
		}),
	)
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"remote","tasks":[
	  {"name":"call_api","taskReferenceName":"call","type":"SIMPLE","inputParameters":{"auth":"Bearer ${workflow.secrets.api_token}"}}],
	  "outputParameters":{"echo":"${call.output.echo}"}}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output), "worker got the rotated token:", rotated)
	// Output:
	// COMPLETED {"echo":"Bearer ***"} worker got the rotated token: true
}
