package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// TestRetryInputIsTheRetriedInputWithItsTemplateOver: Conductor's
// DeciderService.retry builds a retry's inputData as a copy of the
// attempt it retries, with the task's inputParameters evaluated again put
// over it (getTaskInputV2, addInput). So the retry of a task a rerun gave
// a taskInput keeps the taskInput's members the template does not name,
// and takes the template's own from the run as it is now (here the
// rerun's new workflowInput), not the taskInput's. A template reading a
// secret still hands the worker its value (resolved again, never "***"),
// and a kept member whose stored value was masked is not handed on as
// "***": the retry's input is then the template's alone.
func TestRetryInputIsTheRetriedInputWithItsTemplateOver(t *testing.T) {
	const token = "tok-55210-value"
	for _, tc := range []struct {
		name      string
		taskInput string
		want      []string // the inputs the worker gets on the rerun
	}{
		{"kept members", `{"a":"given","extra":"x"}`,
			[]string{`{"a":"given","extra":"x"}`, `{"a":"v2","extra":"x","s":"` + token + `"}`}},
		{"masked member", `{"a":"given","extra":"` + token + `"}`,
			[]string{`{"a":"given","extra":"` + token + `"}`, `{"a":"v2","s":"` + token + `"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			failing := true
			one, zero := 1, 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &one, RetryDelaySeconds: &zero}); err != nil {
				t.Fatal(err)
			}
			e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 9)),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
				}),
				engine.WithWorker("w_flaky", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					mu.Lock()
					defer mu.Unlock()
					var m map[string]any
					_ = json.Unmarshal(in, &m)
					b, _ := json.Marshal(m)
					got = append(got, string(b))
					if failing || len(got)%2 == 1 {
						return nil, errors.New("boom")
					}
					return json.RawMessage(`{}`), nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"retry_input","version":1,"schemaVersion":2,"tasks":[
			 {"name":"w_flaky","taskReferenceName":"x","inputParameters":{"a":"${workflow.input.a}","s":"${workflow.secrets.api_token}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			id, before := failedRun(t, e, d, `{"a":"v1"}`, nil)
			// Its first attempt (retryCount 0): rerun from it, it is
			// retried once more, as the rerun keeps its retryCount.
			var first map[string]any
			for _, tk := range before {
				if tk["referenceTaskName"] == "x" && first == nil {
					first = tk
				}
			}
			mu.Lock()
			got, failing = nil, false
			mu.Unlock()
			r, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: first["taskId"].(string),
				WorkflowInput: json.RawMessage(`{"a":"v2"}`), TaskInput: json.RawMessage(tc.taskInput)})
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, r)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("the worker got\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(tc.want, "\n "))
			}
			show, err := e.Show(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(show), token) {
				t.Errorf("the stored run shows the secret's value: %s", show)
			}
		})
	}
}
