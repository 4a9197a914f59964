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
	checkRetryInput(t, false, token, []retryInputCase{
		{"kept members", `{"a":"given","extra":"x"}`,
			[]string{`{"a":"given","extra":"x"}`, `{"a":"v2","extra":"x","s":"` + token + `"}`}, ""},
		{"masked member", `{"a":"given","extra":"` + token + `"}`,
			[]string{`{"a":"given","extra":"` + token + `"}`, `{"a":"v2","s":"` + token + `"}`}, ""},
	})
}

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
	checkRetryInput(t, true, token, []retryInputCase{
		{"kept members", `{"a":"given","extra":"x"}`,
			[]string{`{"a":"given","extra":"x"}`, `{"a":"v2","extra":"x","s":"` + token + `"}`},
			`{"a":"v2","extra":"x","s":"${workflow.secrets.api_token}"}`},
		{"masked member", `{"a":"given","extra":"` + token + `"}`,
			[]string{`{"a":"given","extra":"` + token + `"}`, `{"a":"v2","s":"` + token + `"}`},
			`{"a":"v2","s":"${workflow.secrets.api_token}"}`},
	})
}

type retryInputCase struct {
	name       string
	taskInput  string
	want       []string // the inputs the worker gets on the rerun
	wantStored string   // the retry's stored input ("": not checked)
}

// checkRetryInput runs a one-task workflow whose task (retryCount 1, no
// delay; a local worker, or one handed out to remote workers) reads
// workflow.input.a and the secret api_token (value token), fails it, and
// reruns it from its first attempt with a new workflowInput and each
// case's taskInput: the rerun's attempt fails, its retry succeeds. The
// worker's inputs, the retry's stored input and the absence of the
// secret's value from the stored run are checked.
func checkRetryInput(t *testing.T, remote bool, token string, cases []retryInputCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			failing := true
			// seen records the worker's input and tells whether this
			// attempt fails: every attempt before the rerun, then the
			// rerun's first (its retry succeeds).
			seen := func(in json.RawMessage) bool {
				mu.Lock()
				defer mu.Unlock()
				var m map[string]any
				_ = json.Unmarshal(in, &m)
				b, _ := json.Marshal(m)
				got = append(got, string(b))
				return failing || len(got)%2 == 1
			}
			one, zero := 1, 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_retried", RetryCount: &one, RetryDelaySeconds: &zero}); err != nil {
				t.Fatal(err)
			}
			opts := []engine.Option{engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 9)),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
				})}
			if remote {
				opts = append(opts, engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
					in, _, err := rt.Resolve(ctx)
					if err != nil {
						return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
					}
					if seen(in) {
						return tasks.Result{Status: tasks.Failed, Reason: "boom"}
					}
					return tasks.Result{Status: tasks.Completed, Output: json.RawMessage(`{}`)}
				}))
			} else {
				opts = append(opts, engine.WithWorker("w_retried", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					if seen(in) {
						return nil, errors.New("boom")
					}
					return json.RawMessage(`{}`), nil
				}))
			}
			e, err := engine.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"retry_input","version":1,"schemaVersion":2,"tasks":[
			 {"name":"w_retried","taskReferenceName":"x","inputParameters":{"a":"${workflow.input.a}","s":"${workflow.secrets.api_token}"}}]}`))
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
			if tc.wantStored != "" {
				_, after := rawTasks(t, e, id)
				retry := lastRecord(after, "x")
				if retry == nil || retry["retriedTaskId"] == nil {
					t.Fatalf("no retry of x: %v", after)
				}
				stored, _ := json.Marshal(retry["inputData"])
				if string(stored) != tc.wantStored {
					t.Errorf("the retry's stored input is %s, want %s", stored, tc.wantStored)
				}
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
