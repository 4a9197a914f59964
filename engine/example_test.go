package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

func ExampleParseDefinition() {
	_, err := engine.ParseDefinition([]byte(`{"name":"w","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"FOO"},
	  {"name":"b","taskReferenceName":"a","type":"INLINE","inputParameters":{"x":"${nope.output.y}"}}]}`))
	fmt.Println(err)
	// Output:
	// invalid workflow definition (3 problems)
	//   /tasks/0/type: unknown task type "FOO"
	//   /tasks/1/inputParameters: reference to unknown task "nope" (no task has this taskReferenceName)
	//   /tasks/1/taskReferenceName: duplicate taskReferenceName "a" (first used at /tasks/0)
}

func ExampleEngine_Start() {
	e, err := engine.New(
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"s3cr3t-token"`)}
		}),
		engine.WithWorker("greet", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Name, Auth string }
			_ = json.Unmarshal(in, &v)
			// The worker sees the real token; whatever it returns is masked.
			return json.Marshal(map[string]string{"greeting": "hello " + v.Name, "echo": v.Auth})
		}),
	)
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"hello","tasks":[
	  {"name":"greet","taskReferenceName":"greet","type":"SIMPLE",
	   "inputParameters":{"name":"${workflow.input.name}","auth":"Bearer ${workflow.secrets.api_token}"}}],
	  "outputParameters":{"greeting":"${greet.output.greeting}","echo":"${greet.output.echo}","stored":"${greet.input.auth}"}}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, json.RawMessage(`{"name":"ann"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	// Output:
	// COMPLETED {"greeting":"hello ann","echo":"Bearer ***","stored":"Bearer ${workflow.secrets.api_token}"}
}
