package interpolate_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/interpolate"
)

// A task that waits for a remote worker keeps its stored form with the
// places of its secret references; the references resolve when a worker
// takes the task, with the values current then.
func ExampleTemplate_ExecuteDeferred() {
	env, _ := interpolate.NewDocEnv([]byte(exampleContext))
	tpl := interpolate.MustCompile([]byte(`{"order":"${workflow.input.orderId}","auth":"Bearer ${workflow.secrets.api_token}"}`))
	d, err := tpl.ExecuteDeferred(context.Background(), env, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(d.Doc), len(d.Holes))
	// Later, at the worker's poll: the token was rotated meanwhile.
	out, used, err := d.Resolve(context.Background(), interpolate.MapSecrets{"api_token": json.RawMessage(`"tok_456"`)})
	fmt.Println(string(out), len(used), err)
	// Output:
	// {"order":1001,"auth":"Bearer ${workflow.secrets.api_token}"} 1
	// {"order":1001,"auth":"Bearer tok_456"} 1 <nil>
}
