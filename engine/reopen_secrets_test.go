package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

const reopenSecret = "tok-9f2c61d0e5a7"

// A child that reads a secret (its own template, and a `_secrets` member
// of its input that the parent resolved) fails, is archived, and is retried: the retry re-opens the
// parent, which runs the child again. The worker gets the value both
// times; every stored record (parent and child, while running and
// archived) holds the reference and "***" only, never the value.
func TestRetriedChildReadingASecretStoresOnlyReferences(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keepCopy   bool
		wantStatus string
	}{{"definition in the definitions directory", true, engine.StatusCompleted}, {"no copy of the definition", false, ""}} {
		t.Run(tc.name, func(t *testing.T) { retriedChildSecrets(t, tc.keepCopy) })
	}
}

// reopenParentDef passes a secret to its inline child under `_secrets`:
// archiving replaces that template in the stored definition by "***".
const reopenParentDef = `{"name":"reopen_parent","version":1,"schemaVersion":2,"tasks":[
 {"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW","retryCount":0,
  "inputParameters":{"_secrets":{"passed":"${workflow.secrets.api_token}"}},
  "subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","version":1,"schemaVersion":2,"tasks":[
   {"name":"reader","taskReferenceName":"read","type":"SIMPLE","retryCount":0,
    "inputParameters":{"own":"${workflow.secrets.api_token}","fromParent":"${workflow.input._secrets.passed}"}}]}}}],
 "outputParameters":{"echo":"${child.output.echo}"}}`

// retriedChildSecrets: with keepCopy the parent's definition is in the
// definitions directory, so the archived parent and child get their
// definitions back; without it the retry is refused (ErrArchivedSecrets)
// rather than run with "***" for the templates.
func retriedChildSecrets(t *testing.T, keepCopy bool) {
	rs := runstore.NewMemory()
	dir := t.TempDir()
	if keepCopy {
		if err := os.WriteFile(filepath.Join(dir, "reopen_parent.json"), []byte(reopenParentDef), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	calls := 0
	var leaked []string
	check := func(when string) {
		for _, id := range mustList(t, rs) {
			doc, _, err := rs.Load(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(doc), reopenSecret) {
				leaked = append(leaked, when+": run "+id)
			}
		}
	}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + reopenSecret + `"`)}
		}),
		engine.WithWorker("reader", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Own, FromParent string }
			_ = json.Unmarshal(in, &v)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, v.Own+"|"+v.FromParent)
			calls++
			if calls == 1 {
				return nil, errors.New("refused " + v.Own)
			}
			return json.RawMessage(`{"echo":"` + v.Own + `"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(reopenParentDef))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	parent := viewRun(t, e, res.RunID)
	if parent.Status != engine.StatusFailed {
		t.Fatalf("parent %s", parent.Status)
	}
	childID := parent.Tasks[0].SubWorkflowID
	check("after the failure")
	if r := viewRun(t, e, childID); !strings.Contains(r.Reason, "***") || strings.Contains(r.Reason, reopenSecret) {
		t.Fatalf("child reason %q", r.Reason)
	}
	after, err := e.Retry(context.Background(), childID, false)
	if !keepCopy {
		if !errors.Is(err, engine.ErrArchivedSecrets) || !strings.Contains(err.Error(), "no copy of the definition") {
			t.Fatalf("retry without a copy of the definition: %v", err)
		}
		if viewRun(t, e, childID).Status != engine.StatusFailed || viewRun(t, e, res.RunID).Status != engine.StatusFailed || len(got) != 1 {
			t.Fatal("a refused retry changed the runs")
		}
		return
	}
	if err != nil || after.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, after)
	}
	check("after the retry")
	want := reopenSecret + "|" + reopenSecret
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("the worker got %q, want the value twice", got)
	}
	parent = viewRun(t, e, res.RunID)
	child := viewRun(t, e, childID)
	if parent.Status != engine.StatusCompleted || child.Status != engine.StatusCompleted {
		t.Fatalf("parent %s, child %s", parent.Status, child.Status)
	}
	read := child.Tasks[len(child.Tasks)-1]
	if read.Input["own"] != "${workflow.secrets.api_token}" || read.Output["echo"] != "***" {
		t.Fatalf("stored input %v, output %v", read.Input, read.Output)
	}
	if child.Input["_secrets"] != "***" || parent.Output["echo"] != "***" {
		t.Fatalf("child input %v, parent output %v", child.Input, parent.Output)
	}
	if len(leaked) > 0 {
		t.Fatalf("the secret value is stored in clear: %v", leaked)
	}
}

func mustList(t *testing.T, rs runstore.Store) []string {
	t.Helper()
	sums, err := rs.List(context.Background(), runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range sums {
		ids = append(ids, s.ID)
	}
	return ids
}

// A re-opened parent masks as the uninterrupted run did: a secret its
// definition reads (by an earlier, completed task) is registered again when
// the parent is re-opened, so a later task that echoes the value without
// reading it stores "***".
func TestReopenedParentMasksItsSecrets(t *testing.T) {
	rs := runstore.NewMemory()
	fail := true
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + reopenSecret + `"`)}
		}),
		engine.WithWorker("reader", func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }),
		engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if fail {
				fail = false
				return nil, errors.New("failed")
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("leaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"out":"token is ` + reopenSecret + `"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"masking_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"reader","taskReferenceName":"read","inputParameters":{"tok":"${workflow.secrets.api_token}"}},
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"c",
	  "workflowDefinition":{"name":"c","version":1,"schemaVersion":2,"tasks":[{"name":"flaky","taskReferenceName":"f","retryCount":0}]}}},
	 {"name":"leaky","taskReferenceName":"leak"}],
	 "outputParameters":{"leaked":"${leak.output.out}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	parent := viewRun(t, e, res.RunID)
	if parent.Status != engine.StatusFailed {
		t.Fatalf("parent %s", parent.Status)
	}
	after, err := e.Retry(context.Background(), parent.Tasks[1].SubWorkflowID, false)
	if err != nil || after.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, after)
	}
	parent = viewRun(t, e, res.RunID)
	if parent.Status != engine.StatusCompleted || parent.Tasks[2].Output["out"] != "token is ***" || parent.Output["leaked"] != "token is ***" {
		t.Fatalf("parent %s, leak output %v, output %v", parent.Status, parent.Tasks[2].Output, parent.Output)
	}
	for _, id := range mustList(t, rs) {
		doc, _, err := rs.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(doc), reopenSecret) {
			t.Fatalf("run %s stores the secret in clear", id)
		}
	}
}
