package interpolate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/interpolate"
)

const exampleContext = `{
  "workflow": {"input": {"orderId": 1001, "tier": "gold", "names": {"gold": "Ada"},
               "items": [{"sku": "A", "open": true}, {"sku": "B", "open": false}]}},
  "tasks": {"lookup": {"status": "COMPLETED", "output": {"score": 0.9}}},
  "taskId": "task-42",
  "secrets": {"api_token": "tok_123"}
}`

func Example() {
	env, _ := interpolate.NewDocEnv([]byte(exampleContext))
	tpl, err := interpolate.Compile([]byte(`{
  "id": "${workflow.input.orderId}",
  "who": "${workflow.input.names.${workflow.input.tier}}",
  "open": "${workflow.input.items[?(@.open == true)].sku}",
  "note": "score ${lookup.output.score} for order ${workflow.input.orderId}",
  "auth": "Bearer ${workflow.secrets.api_token}"
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	stored, _, _ := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
	fmt.Println(string(stored))
	// Output:
	// {
	//   "id": 1001,
	//   "who": "Ada",
	//   "open": ["A"],
	//   "note": "score 0.9 for order 1001",
	//   "auth": "Bearer ${workflow.secrets.api_token}"
	// }
}

func ExampleTemplate_Execute_resolveSecrets() {
	env, _ := interpolate.NewDocEnv([]byte(exampleContext))
	tpl := interpolate.MustCompile([]byte(`{"Authorization":"Bearer ${workflow.secrets.api_token}"}`))
	out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	fmt.Println(string(out), err)
	for _, s := range used {
		fmt.Printf("register %s for masking (%d bytes)\n", s.Name, len(s.Value))
	}
	// Output:
	// {"Authorization":"Bearer tok_123"} <nil>
	// register api_token for masking (7 bytes)
}

func ExampleCompile_error() {
	_, err := interpolate.Compile([]byte(`{"headers":{"Authorization":"Bearer ${workflow.secrets.api_token"}}`),
		interpolate.WithLocation("/tasks/2/inputParameters"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, interpolate.ErrSyntax))
	// Output:
	// /tasks/2/inputParameters/headers/Authorization: unterminated "${" at offset 7
	// true
}

func ExampleTemplate_Execute_missingSecret() {
	env, _ := interpolate.NewDocEnv([]byte(exampleContext))
	tpl := interpolate.MustCompile([]byte(`{"key":"${workflow.secrets.stripe_key}"}`))
	_, _, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	fmt.Println(errors.Is(err, interpolate.ErrSecretNotFound))
	var e *interpolate.Error
	if errors.As(err, &e) {
		fmt.Println(e.Location, e.Secret)
	}
	// Output:
	// true
	// /key stripe_key
}

func ExampleTemplate_Execute_typesAndEscapes() {
	env, _ := interpolate.NewDocEnv([]byte(exampleContext))
	tpl := interpolate.MustCompile([]byte(`["${workflow.input.missing}", "x${workflow.input.missing}y", "$${workflow.input.orderId}", "${CPEWF_TASK_ID}", "${}"]`))
	out, _, _ := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
	fmt.Println(string(out))
	// Output:
	// [null, "xy", "${workflow.input.orderId}", "task-42", ""]
}
