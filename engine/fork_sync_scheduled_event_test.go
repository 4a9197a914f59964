package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// taskEventOrder is the position of each task event (ref:STATUS, first
// seen) of h's runs, and the events in order.
func taskEventOrder(h *harness) (map[string]int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at := map[string]int{}
	var seen []string
	for _, ev := range h.events {
		if ev.Kind != engine.EventTask {
			continue
		}
		key := ev.TaskRef + ":" + ev.Status
		if _, ok := at[key]; !ok {
			at[key] = len(seen)
		}
		seen = append(seen, key)
	}
	return at, seen
}

// scheduledBeforeRun checks that every ref of pass is SCHEDULED, in the
// pass's order, before any of them has an event of another status.
func scheduledBeforeRun(t *testing.T, run int, pass []string, at map[string]int, seen []string) {
	t.Helper()
	last := -1
	for _, ref := range pass {
		k, ok := at[ref+":SCHEDULED"]
		if !ok || k < last {
			t.Fatalf("run %d: %s not SCHEDULED in the pass's order %v; events %s", run, ref, pass, strings.Join(seen, " "))
		}
		last = k
	}
	for k, key := range seen {
		ref, status, _ := strings.Cut(key, ":")
		if status != "SCHEDULED" && contains(pass, ref) && k < last {
			t.Fatalf("run %d: %s before every task of the pass %v was SCHEDULED; events %s", run, key, pass, strings.Join(seen, " "))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A fork's first pass holds synchronous system tasks (SET_VARIABLE,
// INLINE, JSON_JQ_TRANSFORM) and a worker's task. Conductor's decide maps
// the pass, scheduleTask stores all of its tasks SCHEDULED and queues the
// worker's, and only then does the decide execute the synchronous ones:
// every task of the pass is SCHEDULED, in the order they were mapped,
// before any of them runs. wfrun sent a synchronous task's SCHEDULED as it
// ran, after the tasks of the pass before it had run. The INLINE fails
// with the secret it read in its message: no event holds the value.
func TestForkPassSynchronousTasksScheduledBeforeAnyRuns(t *testing.T) {
	def := `{"name":"w","tasks":[{"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"v":1}}],
	  [{"name":"i","taskReferenceName":"i","type":"INLINE","optional":true,"inputParameters":{"evaluatorType":"javascript","k":"${workflow.secrets.api_token}",
	    "expression":"(function(){ throw new Error('bad ' + $.k); })()"}}],
	  [{"name":"echo","taskReferenceName":"w","inputParameters":{"x":1}}],
	  [{"name":"j","taskReferenceName":"j","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":".a","a":1}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["v","i","w","j"]}]}`
	for run := range 20 { // the branches' goroutines in any order
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
		res := h.run(def, `{}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", run, res.Status, res.Reason)
		}
		at, seen := taskEventOrder(h)
		scheduledBeforeRun(t, run, []string{"v", "i", "w", "j"}, at, seen)
		h.mu.Lock()
		failed := false
		for _, ev := range h.events {
			failed = failed || ev.TaskRef == "i" && strings.Contains(ev.Reason, "bad ***")
			if b, _ := json.Marshal(ev); strings.Contains(string(b), token) {
				h.mu.Unlock()
				t.Fatalf("run %d: an event holds the secret's value: %s", run, strings.ReplaceAll(string(b), token, "<value>"))
			}
		}
		h.mu.Unlock()
		if !failed {
			t.Fatalf("run %d: no event of the INLINE's failure naming the secret masked; events %s", run, strings.Join(seen, " "))
		}
	}
}

// keep_last_n_example_3 (testdata/conductor/do_while_keep_last_n_fix.json):
// its fork's first pass schedules an INLINE and a SET_VARIABLE, its second
// the two DO_WHILEs after them. Each pass's tasks are SCHEDULED before any
// of them runs.
func TestConductorForkPassesScheduledBeforeTheyRun(t *testing.T) {
	b, err := os.ReadFile("../testdata/conductor/do_while_keep_last_n_fix.json")
	if err != nil {
		t.Fatal(err)
	}
	var defs []json.RawMessage
	if err := json.Unmarshal(b, &defs); err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	for _, d := range defs {
		var head struct{ Name string }
		if json.Unmarshal(d, &head) == nil && head.Name == "keep_last_n_example_3" {
			raw = d
		}
	}
	if raw == nil {
		t.Fatal("keep_last_n_example_3 not found")
	}
	worker := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
	for run := range 10 {
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()),
			engine.WithWorker("simple", worker), engine.WithWorker("simple_1", worker), engine.WithWorker("simple_2", worker))
		d, err := h.e.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		res := startRun(t, h.e, d, `{}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", run, res.Status, res.Reason)
		}
		at, seen := taskEventOrder(h)
		scheduledBeforeRun(t, run, []string{"inline_ref", "set_variable_ref"}, at, seen)
		scheduledBeforeRun(t, run, []string{"do_while_ref_1", "do_while_ref"}, at, seen)
	}
}
