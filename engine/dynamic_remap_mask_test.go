package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRemappedDefinitionsAreMaskedInTheView: a definition a later mapping
// took (held in the run's mappedDefs) into which a value the run
// registered was pasted shows masked in the view of the run while it
// waits, wherever the view shows it (its mappedTaskDefinitions, the fork
// record's forkedTaskDefs), as the run's other definitions are.
func TestRemappedDefinitionsAreMaskedInTheView(t *testing.T) {
	const v = "tok-remap-9c0ffee-41"
	defs := engine.NewTaskDefs()
	if err := defs.Put(retryDef(0, "")); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	live := make(chan []byte, 1)
	var e *engine.Engine
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithEvents(func(ev engine.Event) {
			if ev.Kind == engine.EventWaiting {
				go func() {
					view, _ := e.Show(context.Background(), ev.RunID)
					live <- view
					stop()
				}()
			}
		}),
		engine.WithWorker("redef", func(_ context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if err := defs.Put(retryDef(0, "pasted "+v)); err != nil {
				return nil, err
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"remap_mask","version":1,"schemaVersion":2,"tasks":[
	 {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"redef","taskReferenceName":"x"}],"inputs":{"x":{}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]},
	 {"name":"approve","taskReferenceName":"approve","type":"HUMAN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(runCtx, d, json.RawMessage(`{"v":"`+v+`"}`)); !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v %+v", err, res)
	}
	raw := <-live
	if !strings.Contains(string(raw), `"mappedTaskDefinitions"`) || !strings.Contains(string(raw), "pasted ***") {
		t.Fatalf("the view names no masked remapped definition: %s", strings.ReplaceAll(string(raw), v, "<value>"))
	}
	if strings.Contains(string(raw), v) {
		t.Fatalf("the view holds the value: %s", strings.ReplaceAll(string(raw), v, "<value>"))
	}
}
