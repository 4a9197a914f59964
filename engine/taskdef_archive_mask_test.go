package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// pastedDef is a task definition of name with a value pasted into its
// description and its inputTemplate.
func pastedDef(name, v string) *engine.TaskDef {
	zero := 0
	return &engine.TaskDef{Name: name, Description: "pasted " + v, RetryCount: &zero, RetryDelaySeconds: &zero,
		InputTemplate: json.RawMessage(`{"token":"` + v + `"}`)}
}

// TestArchivedTaskDefinitionsAreMasked: a run that registers a value a
// user pasted into a registered task definition (its description, its
// inputTemplate) shows that definition masked once it has ended and is
// archived (its taskDefinitions), as the archive masks its workflow
// definition: the snapshot is archived masked, and a restart that would
// run the masked definitions is refused with ErrArchivedSecrets, naming
// the run and never the value. A run whose definitions hold no value of
// it keeps them as they are and restarts.
func TestArchivedTaskDefinitionsAreMasked(t *testing.T) {
	for _, backend := range []string{"memory", "bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			v := "tok-tdarch-" + randHex(12)
			zero := 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(pastedDef("pasted", v)); err != nil {
				t.Fatal(err)
			}
			if err := defs.Put(&engine.TaskDef{Name: "clean", Description: "nothing here", RetryCount: &zero}); err != nil {
				t.Fatal(err)
			}
			var rs runstore.Store = runstore.NewMemory()
			if backend != "memory" {
				rs = newRig(t, backend, 0).runs
			}
			dir := t.TempDir()
			ok := func(_ context.Context, _ json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
			e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
				engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithWorker("pasted", ok), engine.WithWorker("clean", ok),
				engine.WithDefinitionsDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			run := func(task string) string {
				src := []byte(`{"name":"td_archive_` + task + `","version":1,"schemaVersion":2,"tasks":[
				 {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
				 {"name":"` + task + `","taskReferenceName":"t","type":"SIMPLE"}]}`)
				if err := os.WriteFile(filepath.Join(dir, task+".json"), src, 0o600); err != nil {
					t.Fatal(err)
				}
				d, err := e.Parse(src)
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.Start(ctx, d, json.RawMessage(`{"v":"`+v+`"}`))
				if err != nil || res.Status != engine.StatusCompleted {
					t.Fatalf("run: %v %+v", err, res)
				}
				return res.RunID
			}

			id := run("pasted")
			view, err := e.Show(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			td := gjson.GetBytes(view, "taskDefinitions.pasted")
			if !td.Exists() || !strings.Contains(td.Raw, "pasted ***") {
				t.Fatalf("the view shows no masked task definition: %s", strings.ReplaceAll(td.Raw, v, "<value>"))
			}
			noValueIn(t, "the archived run's view", view, v)
			stored, _, err := rs.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			noValueIn(t, "the archived run", stored, v)

			_, err = e.Restart(ctx, id, true)
			if !errors.Is(err, engine.ErrArchivedSecrets) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "task definitions") {
				t.Fatalf("want ErrArchivedSecrets naming the run and its task definitions, got %v", err)
			}
			noValueIn(t, "the refusal", []byte(err.Error()), v)
			// The mark is attested, not believed: with it removed from the
			// store, the restart would run "***" where the template held
			// the value; the snapshot does not open without it.
			unmarked := forgedArchive{Store: rs, edit: func(doc []byte) []byte {
				out, err := sjson.DeleteBytes(doc, "taskDefsMasked")
				if err != nil || string(out) == string(doc) {
					t.Fatalf("no mark to remove: %v", err)
				}
				return out
			}}
			forged, err := engine.New(engine.WithRunStore(unmarked), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
				engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithWorker("pasted", ok), engine.WithWorker("clean", ok),
				engine.WithDefinitionsDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			res, err := forged.Restart(ctx, id, true)
			if err == nil || errors.Is(err, engine.ErrArchivedSecrets) {
				t.Fatalf("restart of the run whose mark was removed: %v %+v", err, res)
			}
			noValueIn(t, "the refusal of the unmarked run", []byte(err.Error()), v)
			if _, archived, err := rs.Load(ctx, id); err != nil || !archived {
				t.Fatalf("the run is not left archived: %v %v", archived, err)
			}
			// With the task definitions registered now, it restarts.
			if err := defs.Put(&engine.TaskDef{Name: "pasted", Description: "fixed", RetryCount: &zero}); err != nil {
				t.Fatal(err)
			}
			if res, err := e.RestartWith(ctx, id, engine.RestartOptions{UseLatestDefinitions: true}); err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("restart with the latest definitions: %v %+v", err, res)
			}
			if view, err = e.Show(ctx, id); err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(view, "taskDefinitions.pasted.description").String(); got != "fixed" {
				t.Fatalf("the restarted run applies %q", got)
			}
			noValueIn(t, "the restarted run's view", view, v)

			// No value in the definitions: as they were, and the run restarts.
			clean := run("clean")
			view, err = e.Show(ctx, clean)
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(view, "taskDefinitions.clean.description").String(); got != "nothing here" {
				t.Fatalf("clean definition shown as %q", got)
			}
			if gjson.GetBytes(view, "taskDefsMasked").Exists() {
				t.Fatal("a clean run's archive marks its task definitions masked")
			}
			if res, err := e.Restart(ctx, clean, true); err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("restart of the clean run: %v %+v", err, res)
			}
		})
	}
}

// TestArchivedRemappedDefinitionsAreMasked: a FORK_JOIN_DYNAMIC whose
// forked task's definition changed during the run (a later mapping took
// it: mappedTaskDefinitions) into which a value the run registered was
// pasted shows it masked once the run has ended and is archived, in the
// view's mappedTaskDefinitions and in the fork records' forkedTaskDefs.
func TestArchivedRemappedDefinitionsAreMasked(t *testing.T) {
	v := "tok-tdremap-" + randHex(12)
	defs := engine.NewTaskDefs()
	if err := defs.Put(retryDef(0, "")); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("redef", func(_ context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if err := defs.Put(retryDef(0, "pasted "+v)); err != nil {
				return nil, err
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"remap_mask_archived","version":1,"schemaVersion":2,"tasks":[
	 {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"redef","taskReferenceName":"x"}],"inputs":{"x":{}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, d, json.RawMessage(`{"v":"`+v+`"}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	view, err := e.Show(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	mapped := gjson.GetBytes(view, "mappedTaskDefinitions")
	if !mapped.Exists() || !strings.Contains(mapped.Raw, "pasted ***") {
		t.Fatalf("the view names no masked remapped definition: %s", strings.ReplaceAll(string(view), v, "<value>"))
	}
	forked := 0
	gjson.GetBytes(view, "tasks.#.inputData.forkedTaskDefs|@flatten.#.taskDefinition").ForEach(func(_, td gjson.Result) bool {
		if strings.Contains(td.Raw, "pasted ***") {
			forked++
		}
		return true
	})
	if forked == 0 {
		t.Fatalf("no fork record shows the masked remapped definition: %s", strings.ReplaceAll(string(view), v, "<value>"))
	}
	noValueIn(t, "the archived run's view", view, v)
}

// showOnArchive is a run store that shows each run through show as soon as
// its archive is stored, before the execution that archived it lets go of
// the run.
type showOnArchive struct {
	runstore.Store
	show func(id string)
}

func (s showOnArchive) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	err := s.Store.Archive(ctx, id, archived, sum)
	if err == nil {
		s.show(id)
	}
	return err
}

// TestArchivedTaskDefinitionsMaskedAsTheRunLetsGo: a view of a run read
// between its archive and the moment its execution lets go of it (its
// end, as a client polling for it sees it first) shows the archive's
// masked task definitions, not the execution's own, unmasked, snapshot.
func TestArchivedTaskDefinitionsMaskedAsTheRunLetsGo(t *testing.T) {
	v := "tok-tdletgo-" + randHex(12)
	defs := engine.NewTaskDefs()
	if err := defs.Put(pastedDef("pasted", v)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var e *engine.Engine
	views := make(chan []byte, 1)
	rs := showOnArchive{Store: runstore.NewMemory(), show: func(id string) {
		got := make(chan []byte, 1)
		go func() {
			view, err := e.Show(ctx, id)
			if err != nil {
				view = []byte("show: " + err.Error())
			}
			got <- view
		}()
		select {
		case view := <-got:
			views <- view
		case <-time.After(10 * time.Second):
			views <- []byte("the view waited for the execution")
		}
	}}
	ok := func(_ context.Context, _ json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
	var err error
	e, err = engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
		engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithWorker("pasted", ok))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"td_letgo","version":1,"schemaVersion":2,"tasks":[
	 {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	 {"name":"pasted","taskReferenceName":"t","type":"SIMPLE"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(`{"v":"`+v+`"}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	view := <-views
	if got := gjson.GetBytes(view, "taskDefinitions.pasted.description").String(); got != "pasted ***" {
		t.Fatalf("the view as the run lets go shows its definition as %q (%s)", strings.ReplaceAll(got, v, "<value>"),
			strings.ReplaceAll(string(view), v, "<value>"))
	}
	noValueIn(t, "the view as the run lets go", view, v)
}
