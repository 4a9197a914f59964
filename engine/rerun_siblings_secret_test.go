package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// TestRerunSiblingWithSecretGetsItsValue: a record a rerun resets in place
// runs with its stored input (Conductor's), but the stored input of a task
// whose template reads a secret holds the reference or "***", never the
// value: such a task's input is resolved again, and its worker gets the
// secret's value (and with it the rerun's new workflow input). So is a
// control task's (a DO_WHILE whose input reads the secret: its input is
// the rerun's new one, never "***" kept as a value). The stored run never
// holds the value.
func TestRerunSiblingWithSecretGetsItsValue(t *testing.T) {
	const token = "tok-93127-value"
	var fail atomic.Bool
	var mu sync.Mutex
	got := map[string][]string{}
	started := map[string]chan struct{}{"a": make(chan struct{}), "l": make(chan struct{})}
	var once sync.Map
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_side", RetryCount: &zero},
		&engine.TaskDef{Name: "w_ok", RetryCount: &zero}, &engine.TaskDef{Name: "w_issue", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	rs := runstore.NewMemory()
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 8)),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
		}),
		engine.WithWorker("w_side", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Who string }
			_ = json.Unmarshal(in, &v)
			mu.Lock()
			got[v.Who] = append(got[v.Who], string(in))
			mu.Unlock()
			if fail.Load() {
				if _, dup := once.LoadOrStore(v.Who, true); !dup {
					close(started[v.Who])
				}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_ok", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				for _, c := range started {
					select {
					case <-c:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"rerun_sibling_secret","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"w_side","taskReferenceName":"a","inputParameters":{"who":"a","tok":"${workflow.secrets.api_token}","k":"${workflow.input.k}"}}],
	  [{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{"tok":"${workflow.secrets.api_token}","k":"${workflow.input.k}"},
	    "loopCondition":"if ($.loop['iteration'] < 1) { true; } else { false; }","loopOver":[{"name":"w_side","taskReferenceName":"l","inputParameters":{"who":"l"}}]}],
	  [{"name":"w_ok","taskReferenceName":"pre"},{"name":"w_flaky","taskReferenceName":"b"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","loop","b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	res := startRun(t, e, d, `{"k":"v1"}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, e, res.RunID)
	from, _ := lastRecord(before, "b")["taskId"].(string)
	fail.Store(false)
	mu.Lock()
	got = map[string][]string{}
	mu.Unlock()
	r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from, WorkflowInput: json.RawMessage(`{"k":"v2"}`)})
	if err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, r)
	}
	_, after := rawTasks(t, e, res.RunID)
	for _, tk := range after {
		if tk["referenceTaskName"] != "loop" {
			continue
		}
		if in, _ := tk["inputData"].(map[string]any); in["k"] != "v2" || tk["status"] != engine.TaskCompleted {
			t.Errorf("the loop after the rerun: %v, input %v, want COMPLETED with its input resolved again (k v2)", tk["status"], in)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for who, want := range map[string]string{"a": `{"k":"v2","tok":"` + token + `","who":"a"}`} {
		var norm []string
		for _, in := range got[who] {
			var m map[string]any
			_ = json.Unmarshal([]byte(in), &m)
			b, _ := json.Marshal(m)
			norm = append(norm, string(b))
		}
		if len(norm) != 1 || norm[0] != want {
			t.Errorf("%s ran on the rerun with %v, want %s", who, norm, want)
		}
	}
	raw, _, err := rs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{token} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("the stored run holds %q", leak)
		}
	}
}
