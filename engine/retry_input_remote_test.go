package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// TestRetryInputOfARemoteTaskReadingASecret: the retry of a task handed
// to remote workers whose inputParameters read a secret (its references
// resolve when a worker takes it) starts, as any retry does (Conductor's
// DeciderService.retry), from the retried attempt's input with the
// template evaluated again over it: a rerun's taskInput's extra member is
// kept in the retry's stored input and reaches the worker with the
// secret's value, which the stored run never holds. A kept member whose
// value was masked is not handed on: the retry's input is the template's.
func TestRetryInputOfARemoteTaskReadingASecret(t *testing.T) {
	const token = "tok-77031-value"
	for _, tc := range []struct {
		name       string
		taskInput  string
		want       []string // the inputs the worker gets on the rerun
		wantStored string   // the retry's stored input
	}{
		{"kept members", `{"a":"given","extra":"x"}`,
			[]string{`{"a":"given","extra":"x"}`, `{"a":"v2","extra":"x","s":"` + token + `"}`},
			`{"a":"v2","extra":"x","s":"${workflow.secrets.api_token}"}`},
		{"masked member", `{"a":"given","extra":"` + token + `"}`,
			[]string{`{"a":"given","extra":"` + token + `"}`, `{"a":"v2","s":"` + token + `"}`},
			`{"a":"v2","s":"${workflow.secrets.api_token}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			failing := true
			one, zero := 1, 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_remote", RetryCount: &one, RetryDelaySeconds: &zero}); err != nil {
				t.Fatal(err)
			}
			e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 9)),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
				}),
				engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
					in, _, err := rt.Resolve(ctx)
					if err != nil {
						return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
					}
					mu.Lock()
					defer mu.Unlock()
					var m map[string]any
					_ = json.Unmarshal(in, &m)
					b, _ := json.Marshal(m)
					got = append(got, string(b))
					if failing || len(got)%2 == 1 {
						return tasks.Result{Status: tasks.Failed, Reason: "boom"}
					}
					return tasks.Result{Status: tasks.Completed, Output: json.RawMessage(`{}`)}
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"retry_input_remote","version":1,"schemaVersion":2,"tasks":[
			 {"name":"w_remote","taskReferenceName":"x","inputParameters":{"a":"${workflow.input.a}","s":"${workflow.secrets.api_token}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			id, before := failedRun(t, e, d, `{"a":"v1"}`, nil)
			first := before[0]
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
			_, after := rawTasks(t, e, id)
			retry := lastRecord(after, "x")
			if retry == nil || retry["retriedTaskId"] == nil {
				t.Fatalf("no retry of x: %v", after)
			}
			stored, _ := json.Marshal(retry["inputData"])
			if string(stored) != tc.wantStored {
				t.Errorf("the retry's stored input is %s, want %s", stored, tc.wantStored)
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
