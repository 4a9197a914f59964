package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// idPinSecrets makes certain the chance a short value has of occurring
// inside a run's random id: "pin" is, for the run reading it, the first 8
// characters of its own id; "startedPin" the first 8 of the id of the run
// its START_WORKFLOW task "start" started; "childPin" the first 8 of its
// SUB_WORKFLOW task "call"'s child's; "taskPin" the first 8 of the task
// id of its task "call".
type idPinSecrets struct{ rs runstore.Store }

func (s idPinSecrets) Secret(ctx context.Context, name string) ([]byte, error) {
	run, _ := store.RunOf(ctx)
	switch name {
	case "pin":
		if len(run) >= 8 {
			return json.Marshal(run[:8])
		}
	case "startedPin", "childPin", "taskPin":
		doc, _, err := s.rs.Load(ctx, run)
		if err != nil {
			return nil, err
		}
		path := `tasks.#(referenceTaskName=="start").outputData.workflowId`
		switch name {
		case "childPin":
			path = `tasks.#(referenceTaskName=="call").subWorkflowId`
		case "taskPin":
			path = `tasks.#(referenceTaskName=="call").taskId`
		}
		if id := gjson.GetBytes(doc, path).Str; len(id) >= 8 {
			return json.Marshal(id[:8])
		}
	}
	return nil, interpolate.ErrSecretNotFound
}

const (
	idKid = `{"name":"kid","version":1,"schemaVersion":2,"tasks":[
	  {"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"pin":"${workflow.secrets.pin}"}}],
	  "outputParameters":{"me":"${workflow.workflowId}","parent":"${workflow.parentWorkflowId}"}}`
	idParent = `{"name":"ids_parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"call","taskReferenceName":"call","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","version":1}},
	  {"name":"start","taskReferenceName":"start","type":"START_WORKFLOW","inputParameters":{"startWorkflow":{"name":"kid","version":1,"input":{}}}},
	  {"name":"look","taskReferenceName":"look","type":"SET_VARIABLE","inputParameters":{"pin":"${workflow.secrets.pin}","startedPin":"${workflow.secrets.startedPin}","taskPin":"${workflow.secrets.taskPin}"}}],
	  "outputParameters":{"sub":"${call.output.subWorkflowId}","started":"${start.output.workflowId}","me":"${workflow.workflowId}","callTask":"${call.taskId}",
	    "kidSaw":"${call.output.me}","kidParent":"${call.output.parent}"}}`
)

// TestIDsHoldingAValueAreShownWhole: a value the runs registered that
// occurs inside an id the engine wrote — the run's own, its SUB_WORKFLOW
// child's, the run its START_WORKFLOW started, the parent a child names,
// a task's id (${call.taskId}) —
// is not masked there: the outputs name the runs as their records do (a
// masked copy beside the record's own would name no run and mark which
// characters of the id are the value). The values themselves stay masked
// where they are written alone (the variables), and the stored inputs
// keep their references. On memory, bolt and a real redis-server, and
// again as Show reads each run back.
func TestIDsHoldingAValueAreShownWhole(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			rs := b.open(t)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "kid.json"), []byte(idKid), 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := engine.New(engine.WithRunStore(rs), engine.WithDefinitionsDir(dir),
				engine.WithKeyring(keyring(t, 22)), engine.WithPollInterval(5*time.Millisecond),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return idPinSecrets{rs} }))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(idParent))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, d, json.RawMessage(`{}`))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("start: %v %+v", err, res)
			}
			if err := e.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
			view, err := e.Show(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			child := gjson.GetBytes(view, `tasks.#(referenceTaskName=="call").subWorkflowId`).Str
			started := gjson.GetBytes(view, `tasks.#(referenceTaskName=="start").outputData.workflowId`).Str
			callTask := gjson.GetBytes(view, `tasks.#(referenceTaskName=="call").taskId`).Str
			if len(child) != 36 || len(started) != 36 || len(callTask) != 36 {
				t.Fatalf("child %q, started %q: %s", child, started, view)
			}
			want := map[string]string{"sub": child, "started": started, "me": res.RunID, "kidSaw": child, "kidParent": res.RunID, "callTask": callTask}
			outputs := map[string]json.RawMessage{"result": res.Output}
			outputs["shown"] = json.RawMessage(gjson.GetBytes(view, "output").Raw)
			if raw, _, err := rs.Load(ctx, res.RunID); err != nil {
				t.Fatal(err)
			} else {
				outputs["stored"] = json.RawMessage(gjson.GetBytes(raw, "output").Raw)
				if got := gjson.GetBytes(raw, `tasks.#(referenceTaskName=="call").outputData.subWorkflowId`).Str; got != child {
					t.Errorf("stored SUB_WORKFLOW outputData.subWorkflowId %q, want %s", got, child)
				}
				if got := gjson.GetBytes(raw, `tasks.#(referenceTaskName=="start").outputData.workflowId`).Str; got != started {
					t.Errorf("stored START_WORKFLOW outputData.workflowId %q, want %s", got, started)
				}
				for _, k := range []string{"pin", "startedPin", "taskPin"} {
					if got := gjson.GetBytes(raw, "variables."+k).Str; got != "***" {
						t.Errorf("stored variable %s %q, want ***", k, got)
					}
					if got := gjson.GetBytes(raw, `tasks.#(referenceTaskName=="look").inputData.`+k).Str; got != "${workflow.secrets."+k+"}" {
						t.Errorf("stored input %s %q", k, got)
					}
				}
			}
			for form, out := range outputs {
				var got map[string]string
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("%s output %s: %v", form, out, err)
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s output %s = %q, want %s", form, k, got[k], v)
					}
				}
			}
			// The child run: its own id and its parent's, whole.
			cview, err := e.Show(ctx, child)
			if err != nil {
				t.Fatal(err)
			}
			if me, parent := gjson.GetBytes(cview, "output.me").Str, gjson.GetBytes(cview, "output.parent").Str; me != child || parent != res.RunID {
				t.Errorf("child output me %q parent %q, want %s %s", me, parent, child, res.RunID)
			}
			if got := gjson.GetBytes(cview, "variables.pin").Str; got != "***" {
				t.Errorf("child variable pin %q, want ***", got)
			}
			// The values are registered: each id holds one, masked where it
			// is not inside an id.
			for _, id := range []string{res.RunID, child, started} {
				if !strings.Contains(string(view)+string(cview), id) {
					t.Errorf("id %s shown nowhere", id)
				}
			}
		})
	}
}

// TestResumedRunKeepsTheIDsItNames: a run read back from its store (its
// process stopped while it waited) keeps whole the ids its records name:
// a value it registers after the resume that occurs inside its child's id
// is not masked in the output naming the child, nor in the stored task
// output when that is masked again. Before the resumed run named them
// (keepNamedIDs), only its own id was kept.
func TestResumedRunKeepsTheIDsItNames(t *testing.T) {
	const kid0 = `{"name":"kid0","version":1,"schemaVersion":2,"tasks":[
	  {"name":"x","taskReferenceName":"x","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`
	const parent = `{"name":"ids_resumed","version":1,"schemaVersion":2,"tasks":[
	  {"name":"call","taskReferenceName":"call","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid0","version":1}},
	  {"name":"w","taskReferenceName":"w","type":"WAIT"},
	  {"name":"look","taskReferenceName":"look","type":"SET_VARIABLE","inputParameters":{"childPin":"${workflow.secrets.childPin}"}}],
	  "outputParameters":{"sub":"${call.output.subWorkflowId}"}}`
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			rs := b.open(t)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "kid0.json"), []byte(kid0), 0o600); err != nil {
				t.Fatal(err)
			}
			k := keyring(t, 23)
			open := func() *engine.Engine {
				e, err := engine.New(engine.WithRunStore(rs), engine.WithDefinitionsDir(dir),
					engine.WithKeyring(k), engine.WithPollInterval(5*time.Millisecond),
					engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return idPinSecrets{rs} }))
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			e1 := open()
			d, err := e1.Parse([]byte(parent))
			if err != nil {
				t.Fatal(err)
			}
			const id = "7c0ffee0-1d5a-4b7e-9c3d-2a1b0c9d8e7f"
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := e1.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
				done <- err
			}()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if raw, _, err := rs.Load(context.Background(), id); err == nil &&
					gjson.GetBytes(raw, `tasks.#(referenceTaskName=="w").status`).Str == engine.TaskInProgress {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the run never waited")
				}
			}
			cancel()
			<-done

			e2 := open()
			bg := context.Background()
			if _, err := e2.CompleteTask(bg, id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			res, err := e2.Resume(bg, id)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			raw, _, err := rs.Load(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			child := gjson.GetBytes(raw, `tasks.#(referenceTaskName=="call").subWorkflowId`).Str
			if len(child) != 36 || gjson.GetBytes(raw, "variables.childPin").Str != "***" {
				t.Fatalf("child %q, variables %s", child, gjson.GetBytes(raw, "variables").Raw)
			}
			for form, got := range map[string]string{
				"result":        gjson.GetBytes(res.Output, "sub").Str,
				"stored output": gjson.GetBytes(raw, "output.sub").Str,
				"stored task":   gjson.GetBytes(raw, `tasks.#(referenceTaskName=="call").outputData.subWorkflowId`).Str,
			} {
				if got != child {
					t.Errorf("%s names the child %q, want %s", form, got, child)
				}
			}
		})
	}
}
